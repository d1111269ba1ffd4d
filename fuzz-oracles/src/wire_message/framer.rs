//! The stream to the executor: every byte passes the [`Framer`], which
//! parses it with the executor's own header check, sanitizes each complete
//! call and records what was delivered and how the executor's input ended.

use std::collections::HashMap;
use std::io::Write;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use orc_executor::wire::{HEADER_SIZE, Header, Opcode, WireError, write_message};
use orc_rt::addr::ExecutorAddr;

use super::model::{Ending, hangup_ending, protocol, result_ending};
use super::targets::{Known, Target};

/// A call the executor received.
#[derive(Debug, Clone)]
pub(super) struct Delivered {
    pub(super) seqno: u64,
    pub(super) target: Option<Target>,
    pub(super) payload: Vec<u8>,
    /// Sent alone and waited for: the model may predict its answer.
    pub(super) quiescent: bool,
}

/// How many of `calls` carry each seqno.
pub(super) fn calls_per_seqno(calls: &[Delivered]) -> HashMap<u64, usize> {
    let mut count = HashMap::new();
    for d in calls {
        *count.entry(d.seqno).or_default() += 1;
    }
    count
}

/// Where the framer is in the stream.
#[derive(Debug)]
enum FState {
    /// Collecting a header (bytes in `pending`).
    Header,
    /// Streaming the payload of a non-call frame (header already sent);
    /// a Hangup's payload is also kept (`hangup`), for its meaning.
    Stream { header: Header, remaining: u64 },
    /// Buffering a CallWrapper (header and payload in `pending`).
    Call { header: Header, remaining: u64 },
    /// The executor stopped reading at a terminal frame.
    Dead,
}

/// Everything bound for the executor passes through here (module docs).
pub(super) struct Framer {
    out: Option<UnixStream>,
    known: Arc<Known>,
    pending: Vec<u8>,
    /// The payload of the Hangup being streamed, so far.
    hangup: Vec<u8>,
    state: FState,
    /// The calls sent, in stream order.
    pub(super) delivered: Vec<Delivered>,
    /// How the executor's input ended, once it did.
    pub(super) ending: Option<Ending>,
    /// The next complete call is sent alone and waited for.
    pub(super) quiescent_next: bool,
}

impl Framer {
    /// A framer writing to `out`, sanitizing calls with what `known` says.
    pub(super) fn new(out: UnixStream, known: Arc<Known>) -> Framer {
        Framer {
            out: Some(out),
            known,
            pending: Vec::new(),
            hangup: Vec::new(),
            state: FState::Header,
            delivered: Vec::new(),
            ending: None,
            quiescent_next: false,
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        if let Some(out) = self.out.as_mut() {
            // EPIPE/ECONNRESET once the executor closed its end: its loss.
            let _ = out.write_all(bytes);
        }
    }

    fn end(&mut self, ending: Ending) {
        if self.ending.is_none() {
            self.ending = Some(ending);
        }
        self.state = FState::Dead;
        self.pending.clear();
    }

    /// Feeds bytes in stream order. `reply`: these bytes are one complete
    /// Result frame answering a call the executor has in flight. Returns
    /// whether the bytes start at a frame boundary (so that one complete
    /// frame is read as that frame, not merged with others).
    pub(super) fn feed(&mut self, mut bytes: &[u8], reply: bool) -> bool {
        let at_boundary = matches!(self.state, FState::Header) && self.pending.is_empty();
        let mut valid_reply = reply && at_boundary;
        while !bytes.is_empty() {
            match self.state {
                FState::Dead => return at_boundary,
                FState::Header => {
                    let n = (HEADER_SIZE - self.pending.len()).min(bytes.len());
                    self.pending.extend_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                    let Ok(raw) = <&[u8; HEADER_SIZE]>::try_from(&self.pending[..]) else {
                        continue;
                    };
                    // The executor's own header check.
                    match Header::decode(raw) {
                        Err(e) => {
                            let header = std::mem::take(&mut self.pending);
                            self.send(&header);
                            self.end(protocol(match e {
                                WireError::SizeTooSmall(_) => "size too small",
                                WireError::UnknownOpcode(_) => "unknown opcode",
                                _ => "malformed header",
                            }));
                            return at_boundary;
                        }
                        Ok(header) if header.opcode == Opcode::CallWrapper => {
                            let remaining = header.payload_len;
                            self.state = FState::Call { header, remaining };
                        }
                        Ok(header) => {
                            let raw = std::mem::take(&mut self.pending);
                            self.send(&raw);
                            self.state = FState::Stream {
                                header,
                                remaining: header.payload_len,
                            };
                        }
                    }
                }
                FState::Stream { header, remaining } => {
                    let n = remaining.min(bytes.len() as u64) as usize;
                    self.send(&bytes[..n]);
                    if header.opcode == Opcode::Hangup {
                        // Only what was sent: a claimed size is no budget.
                        self.hangup.extend_from_slice(&bytes[..n]);
                    }
                    bytes = &bytes[n..];
                    self.state = FState::Stream {
                        header,
                        remaining: remaining - n as u64,
                    };
                }
                FState::Call { header, remaining } => {
                    let n = remaining.min(bytes.len() as u64) as usize;
                    self.pending.extend_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                    self.state = FState::Call {
                        header,
                        remaining: remaining - n as u64,
                    };
                }
            }
            // A frame may be complete now (also an empty payload).
            match self.state {
                FState::Stream {
                    header,
                    remaining: 0,
                } => {
                    self.state = FState::Header;
                    match header.opcode {
                        Opcode::Setup => self.end(Ending::Protocol(
                            "Setup from the controller",
                            Some("Unexpected Setup opcode".into()),
                        )),
                        Opcode::Hangup => {
                            let payload = std::mem::take(&mut self.hangup);
                            self.end(hangup_ending(&payload));
                        }
                        Opcode::Result => {
                            let ending =
                                result_ending(header.tag.value(), header.seqno, valid_reply);
                            if let Some(ending) = ending {
                                self.end(ending);
                            }
                        }
                        Opcode::CallWrapper => unreachable!("calls are buffered whole"),
                    }
                    valid_reply = false;
                }
                FState::Call {
                    header,
                    remaining: 0,
                } => {
                    let frame = std::mem::take(&mut self.pending);
                    let (tag, payload, target) =
                        self.known.sanitize(header.tag, &frame[HEADER_SIZE..]);
                    self.send(&message(Opcode::CallWrapper, header.seqno, tag, &payload));
                    let quiescent = std::mem::take(&mut self.quiescent_next);
                    self.delivered.push(Delivered {
                        seqno: header.seqno,
                        target,
                        payload,
                        quiescent,
                    });
                    self.state = FState::Header;
                    valid_reply = false;
                }
                _ => {}
            }
        }
        at_boundary
    }

    /// The controller closes its writing end: a partial frame goes out as
    /// it is (the executor cannot complete it), then end of stream.
    pub(super) fn close(&mut self) {
        let partial = match self.state {
            FState::Header => !self.pending.is_empty(),
            FState::Stream { .. } | FState::Call { .. } => true,
            FState::Dead => false,
        };
        let pending = std::mem::take(&mut self.pending);
        self.send(&pending);
        if partial {
            self.end(protocol("truncated frame"));
        } else {
            self.end(Ending::Orderly("end of stream"));
        }
        if let Some(out) = self.out.take() {
            let _ = out.shutdown(Shutdown::Write);
        }
    }
}

/// One well-formed message, framed by the executor's own writer.
pub(super) fn message(opcode: Opcode, seqno: u64, tag: ExecutorAddr, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_SIZE + payload.len());
    write_message(&mut out, opcode, seqno, tag, payload).expect("a Vec takes every byte");
    out
}

/// A frame with any opcode value, also one no [`Opcode`] names.
pub(super) fn raw_frame(opcode: u64, seqno: u64, tag: u64, payload: &[u8]) -> Vec<u8> {
    let size = (HEADER_SIZE + payload.len()) as u64;
    let mut out = raw_header(size, opcode, seqno, tag).to_vec();
    out.extend_from_slice(payload);
    out
}

/// A header with any size field (also one below [`HEADER_SIZE`]) and any
/// opcode value, which the typed [`Header`] cannot express: the protocol's
/// four little-endian words, size, opcode, seqno and tag. Where `Header`
/// can express it, it encodes to the same bytes (checked).
pub(super) fn raw_header(size: u64, opcode: u64, seqno: u64, tag: u64) -> [u8; HEADER_SIZE] {
    const WORD: usize = size_of::<u64>();
    const _: () = assert!(HEADER_SIZE == 4 * WORD, "a header is four words");
    let mut out = [0; HEADER_SIZE];
    for (field, word) in out.chunks_exact_mut(WORD).zip([size, opcode, seqno, tag]) {
        field.copy_from_slice(&word.to_le_bytes());
    }
    if let (Some(opcode), Some(payload_len)) = (
        Opcode::from_raw(opcode),
        size.checked_sub(HEADER_SIZE as u64),
    ) {
        let typed = Header {
            opcode,
            seqno,
            tag: ExecutorAddr::new(tag),
            payload_len,
        };
        assert_eq!(
            typed.encode(),
            out,
            "the executor's header has another layout"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_headers_decode_as_the_executor_decodes_them() {
        let len = HEADER_SIZE as u64;
        for opcode in [
            Opcode::Setup,
            Opcode::Hangup,
            Opcode::Result,
            Opcode::CallWrapper,
        ] {
            let raw = raw_header(len + 5, opcode as u64, 7, 9);
            let expected = Header {
                opcode,
                seqno: 7,
                tag: ExecutorAddr::new(9),
                payload_len: 5,
            };
            assert_eq!(Header::decode(&raw).unwrap(), expected);
        }
        assert!(matches!(
            Header::decode(&raw_header(len - 1, Opcode::Setup as u64, 0, 0)),
            Err(WireError::SizeTooSmall(_))
        ));
        assert!(matches!(
            Header::decode(&raw_header(len, u64::MAX, 0, 0)),
            Err(WireError::UnknownOpcode(u64::MAX))
        ));
        let frame = raw_frame(Opcode::Hangup as u64, 0, 0, b"bye");
        assert_eq!(
            frame,
            message(Opcode::Hangup, 0, ExecutorAddr::NULL, b"bye")
        );
    }
}
