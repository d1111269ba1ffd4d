//! The stream to the executor: every byte passes the [`Framer`], which
//! parses it as the executor does, sanitizes each complete call and records
//! what was delivered and how the executor's input ended.

use std::io::Write;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use orc_rt::addr::ExecutorAddr;

use super::targets::{Known, Target};

/// How the executor's input ended (the first terminal event in stream order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ending {
    /// End of stream at a frame boundary, or a Hangup: orderly.
    Orderly(&'static str),
    /// A protocol error.
    Protocol(&'static str),
}

/// A call the executor received.
#[derive(Debug, Clone)]
pub(super) struct Delivered {
    pub(super) seqno: u64,
    pub(super) target: Option<Target>,
    pub(super) payload: Vec<u8>,
    /// Sent alone and waited for: the model may predict its answer.
    pub(super) quiescent: bool,
}

#[derive(Debug)]
pub(super) enum FState {
    /// Collecting a header (bytes in `pending`).
    Header,
    /// Streaming the payload of a non-call frame (header already sent).
    Stream { opcode: u64, remaining: u64 },
    /// Buffering a CallWrapper (header and payload in `pending`).
    Call {
        seqno: u64,
        tag: u64,
        remaining: u64,
    },
    /// The executor stopped reading at a terminal frame.
    Dead,
}

/// Everything bound for the executor passes through here (module docs).
pub(super) struct Framer {
    pub(super) out: Option<UnixStream>,
    pub(super) known: Arc<Known>,
    pub(super) pending: Vec<u8>,
    pub(super) state: FState,
    pub(super) delivered: Vec<Delivered>,
    pub(super) ending: Option<Ending>,
    /// The next complete call is sent alone and waited for.
    pub(super) quiescent_next: bool,
}

impl Framer {
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
    /// Result frame answering a call the executor has in flight.
    pub(super) fn feed(&mut self, mut bytes: &[u8], reply: bool) {
        let mut valid_reply =
            reply && matches!(self.state, FState::Header) && self.pending.is_empty();
        while !bytes.is_empty() {
            match self.state {
                FState::Dead => return,
                FState::Header => {
                    let n = (32 - self.pending.len()).min(bytes.len());
                    self.pending.extend_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                    if self.pending.len() < 32 {
                        continue;
                    }
                    let word = |i: usize| {
                        u64::from_le_bytes(self.pending[i * 8..i * 8 + 8].try_into().unwrap())
                    };
                    let (size, opcode, seqno, tag) = (word(0), word(1), word(2), word(3));
                    if size < 32 || opcode > 3 {
                        let header = std::mem::take(&mut self.pending);
                        self.send(&header);
                        self.end(Ending::Protocol(if size < 32 {
                            "size too small"
                        } else {
                            "unknown opcode"
                        }));
                        return;
                    }
                    let remaining = size - 32;
                    if opcode == 3 {
                        self.state = FState::Call {
                            seqno,
                            tag,
                            remaining,
                        };
                    } else {
                        let header = std::mem::take(&mut self.pending);
                        self.send(&header);
                        self.state = FState::Stream { opcode, remaining };
                    }
                }
                FState::Stream { opcode, remaining } => {
                    let n = remaining.min(bytes.len() as u64) as usize;
                    self.send(&bytes[..n]);
                    bytes = &bytes[n..];
                    self.state = FState::Stream {
                        opcode,
                        remaining: remaining - n as u64,
                    };
                }
                FState::Call {
                    seqno,
                    tag,
                    remaining,
                } => {
                    let n = remaining.min(bytes.len() as u64) as usize;
                    self.pending.extend_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                    self.state = FState::Call {
                        seqno,
                        tag,
                        remaining: remaining - n as u64,
                    };
                }
            }
            // A frame may be complete now (also an empty payload).
            match self.state {
                FState::Stream {
                    opcode,
                    remaining: 0,
                } => {
                    self.state = FState::Header;
                    match opcode {
                        0 => self.end(Ending::Protocol("Setup from the controller")),
                        1 => self.end(Ending::Orderly("Hangup")),
                        _ if valid_reply => {}
                        _ => self.end(Ending::Protocol("Result for no call")),
                    }
                    valid_reply = false;
                }
                FState::Call {
                    seqno,
                    tag,
                    remaining: 0,
                } => {
                    let frame = std::mem::take(&mut self.pending);
                    let (tag, payload, target) =
                        self.known.sanitize(ExecutorAddr::new(tag), &frame[32..]);
                    let mut out = Vec::with_capacity(32 + payload.len());
                    for w in [(32 + payload.len()) as u64, 3, seqno, tag.value()] {
                        out.extend_from_slice(&w.to_le_bytes());
                    }
                    out.extend_from_slice(&payload);
                    self.send(&out);
                    let quiescent = std::mem::take(&mut self.quiescent_next);
                    self.delivered.push(Delivered {
                        seqno,
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
            self.end(Ending::Protocol("truncated frame"));
        } else {
            self.end(Ending::Orderly("end of stream"));
        }
        if let Some(out) = self.out.take() {
            let _ = out.shutdown(Shutdown::Write);
        }
    }
}

pub(super) fn frame(opcode: u64, seqno: u64, tag: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + payload.len());
    for w in [(32 + payload.len()) as u64, opcode, seqno, tag] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out.extend_from_slice(payload);
    out
}
