//! SimpleRemoteEPC framing (upstream `SimpleRemoteEPCUtils.h`): a 32-byte
//! little-endian header (size, opcode, seqno, tag) followed by the payload.

use std::fmt;
use std::io::{self, IoSlice, Read, Write};

use orc_rt::addr::ExecutorAddr;
use orc_rt::error::{Error, ErrorKind};
use orc_rt::wrapper::WrapperFunctionBuffer;

/// Bytes in a message header; the header's size field counts them too.
pub const HEADER_SIZE: usize = 32;

/// Payloads up to this size are allocated in full as soon as the header
/// arrives; larger claims grow their buffer only as the bytes arrive, so a
/// header claiming 2^63 bytes costs at most this much before the peer has
/// to back the claim with data.
pub const EAGER_PAYLOAD_LIMIT: usize = 1 << 20;

/// The message kinds (upstream `SimpleRemoteEPCOpcode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Opcode {
    /// Executor → controller, once, first: the executor's description.
    Setup = 0,
    /// Either side: the session ends.
    Hangup = 1,
    /// The answer to a `CallWrapper` with the same seqno.
    Result = 2,
    /// A wrapper-function call: tag = function address or dispatch tag.
    CallWrapper = 3,
}

impl Opcode {
    /// The opcode for a raw header value, if it names one.
    pub fn from_raw(raw: u64) -> Option<Opcode> {
        match raw {
            0 => Some(Opcode::Setup),
            1 => Some(Opcode::Hangup),
            2 => Some(Opcode::Result),
            3 => Some(Opcode::CallWrapper),
            _ => None,
        }
    }

    /// The name LLVM's debug output uses.
    pub fn name(self) -> &'static str {
        match self {
            Opcode::Setup => "Setup",
            Opcode::Hangup => "Hangup",
            Opcode::Result => "Result",
            Opcode::CallWrapper => "CallWrapper",
        }
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a frame could not be read. The `Display` texts start with the words
/// LLVM 22's executor uses for the same failure, so logs can be compared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The stream ended inside a header or a payload.
    #[error("Unexpected end-of-file: {read} of {expected} bytes of a message {part}")]
    UnexpectedEof {
        /// `"header"` or `"payload"`.
        part: &'static str,
        /// Bytes of that part that did arrive.
        read: u64,
        /// Bytes the part should have had.
        expected: u64,
    },
    /// The size field is smaller than the header itself.
    #[error("Message size too small: {0} (a header alone is 32 bytes)")]
    SizeTooSmall(u64),
    /// The opcode field names no known message kind.
    #[error("Unexpected opcode {0}")]
    UnknownOpcode(u64),
    /// The size field exceeds the reader's configured limit.
    #[error("Message too large: {size} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// The size the header claimed.
        size: u64,
        /// The configured limit.
        limit: u64,
    },
    /// The transport failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

impl From<WireError> for Error {
    fn from(err: WireError) -> Self {
        let kind = match err {
            WireError::Io(_) => ErrorKind::Io,
            _ => ErrorKind::Protocol,
        };
        Error::with_source(kind, err)
    }
}

/// A validated message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The message kind.
    pub opcode: Opcode,
    /// Call identifier (see the protocol description).
    pub seqno: u64,
    /// Function address or dispatch tag; zero for other opcodes.
    pub tag: ExecutorAddr,
    /// Bytes after the header.
    pub payload_len: u64,
}

impl Header {
    /// The 32 header bytes.
    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut out = [0u8; HEADER_SIZE];
        let size = self.payload_len.saturating_add(HEADER_SIZE as u64);
        out[0..8].copy_from_slice(&size.to_le_bytes());
        out[8..16].copy_from_slice(&(self.opcode as u64).to_le_bytes());
        out[16..24].copy_from_slice(&self.seqno.to_le_bytes());
        out[24..32].copy_from_slice(&self.tag.value().to_le_bytes());
        out
    }

    /// Parses and validates 32 header bytes.
    pub fn decode(bytes: &[u8; HEADER_SIZE]) -> Result<Header, WireError> {
        let field = |i: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
            u64::from_le_bytes(word)
        };
        let (size, opcode, seqno, tag) = (field(0), field(1), field(2), field(3));
        if size < HEADER_SIZE as u64 {
            return Err(WireError::SizeTooSmall(size));
        }
        let opcode = Opcode::from_raw(opcode).ok_or(WireError::UnknownOpcode(opcode))?;
        Ok(Header {
            opcode,
            seqno,
            tag: ExecutorAddr::new(tag),
            payload_len: size - HEADER_SIZE as u64,
        })
    }
}

/// Whether `buf` starts with a whole message (a malformed header counts as
/// whole: reading it fails at once, without waiting for more bytes).
pub(crate) fn complete_message_at_start(buf: &[u8]) -> bool {
    let Some(size) = buf.first_chunk::<8>() else {
        return false;
    };
    if buf.len() < HEADER_SIZE {
        return false;
    }
    let size = u64::from_le_bytes(*size);
    size < HEADER_SIZE as u64 || size <= buf.len() as u64
}

/// One message: header fields plus the owned payload.
#[derive(Debug, PartialEq, Eq)]
pub struct Message {
    /// The message kind.
    pub opcode: Opcode,
    /// Call identifier.
    pub seqno: u64,
    /// Function address or dispatch tag.
    pub tag: ExecutorAddr,
    /// The payload, in a C-allocated buffer ready to be handed to a wrapper.
    pub payload: WrapperFunctionBuffer,
}

impl Message {
    /// The header this message is sent with.
    pub fn header(&self) -> Header {
        Header {
            opcode: self.opcode,
            seqno: self.seqno,
            tag: self.tag,
            payload_len: self.payload.bytes().len() as u64,
        }
    }
}

/// Reads messages from any byte stream, one at a time.
///
/// Allocation is bounded by the bytes actually received (plus
/// [`EAGER_PAYLOAD_LIMIT`]): the size field is a claim, not a budget.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    max_message_size: u64,
}

impl<R: Read> FrameReader<R> {
    /// A reader over `inner` with no size limit beyond the bytes received.
    pub fn new(inner: R) -> Self {
        FrameReader {
            inner,
            max_message_size: u64::MAX,
        }
    }

    /// Rejects any message whose size field exceeds `limit` bytes.
    pub fn with_max_message_size(mut self, limit: u64) -> Self {
        self.max_message_size = limit;
        self
    }

    /// The underlying stream.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Reads the next message. `Ok(None)` is an end of stream exactly at a
    /// message boundary, the orderly end of an LLVM 22 session.
    pub fn read_message(&mut self) -> Result<Option<Message>, WireError> {
        let Some(header) = self.read_header()? else {
            return Ok(None);
        };
        let payload = self.read_payload(header.payload_len)?;
        Ok(Some(Message {
            opcode: header.opcode,
            seqno: header.seqno,
            tag: header.tag,
            payload,
        }))
    }

    /// Reads and checks the next header (`Ok(None)` at an end of stream at
    /// a message boundary); its payload, `payload_len` bytes, comes next.
    pub fn read_header(&mut self) -> Result<Option<Header>, WireError> {
        let mut raw = [0u8; HEADER_SIZE];
        let got = read_full(&mut self.inner, &mut raw)?;
        if got == 0 {
            return Ok(None);
        }
        if got < HEADER_SIZE {
            return Err(WireError::UnexpectedEof {
                part: "header",
                read: got as u64,
                expected: HEADER_SIZE as u64,
            });
        }
        let header = Header::decode(&raw)?;
        let size = header.payload_len + HEADER_SIZE as u64;
        if size > self.max_message_size {
            return Err(WireError::TooLarge {
                size,
                limit: self.max_message_size,
            });
        }
        Ok(Some(header))
    }

    /// Reads a payload of `len` bytes (after [`read_header`](Self::read_header)).
    pub fn read_payload(&mut self, len: u64) -> Result<WrapperFunctionBuffer, WireError> {
        read_payload_after(&mut self.inner, &[], len)
    }
}

/// Reads the rest of a payload of `len` bytes whose first bytes, `prefix`,
/// were already read, into one buffer that starts with `prefix`.
pub(crate) fn read_payload_after<R: Read + ?Sized>(
    inner: &mut R,
    prefix: &[u8],
    len: u64,
) -> Result<WrapperFunctionBuffer, WireError> {
    let eof = |read: usize| WireError::UnexpectedEof {
        part: "payload",
        read: read as u64,
        expected: len,
    };
    debug_assert!(
        prefix.len() as u64 <= len,
        "the prefix is part of the payload"
    );
    // Start with what the claim allows up to the eager limit, then double
    // as data arrives: the final exact-size buffer is only allocated once
    // half of it has been received. Growing reallocates (in place or by
    // remapping when the allocator can), not allocate-and-copy.
    let mut capacity = len.min(EAGER_PAYLOAD_LIMIT as u64).max(prefix.len() as u64) as usize;
    let mut buf = WrapperFunctionBuffer::allocate(capacity);
    if let Some(bytes) = buf.as_bytes_mut() {
        bytes[..prefix.len()].copy_from_slice(prefix);
    }
    let mut filled = prefix.len();
    loop {
        let dst = match buf.as_bytes_mut() {
            Some(bytes) => &mut bytes[filled..],
            None => &mut [],
        };
        let got = read_full(inner, dst)?;
        filled += got;
        if filled < capacity {
            return Err(eof(filled));
        }
        if filled as u64 == len {
            return Ok(buf);
        }
        let next = (capacity as u64).saturating_mul(2).min(len);
        let next = usize::try_from(next).map_err(|_| eof(filled))?;
        buf.grow_zeroed(next);
        capacity = next;
    }
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
pub(crate) fn read_full<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Payloads up to this size are copied behind the header and written with
/// one `write`; larger ones go out as a vectored write.
pub(crate) const COALESCE_LIMIT: usize = 4096;

/// Writes one message (header and payload) to `w`. The caller serialises
/// writers: one message must not interleave with another.
pub fn write_message<W: Write + ?Sized>(
    w: &mut W,
    opcode: Opcode,
    seqno: u64,
    tag: ExecutorAddr,
    payload: &[u8],
) -> io::Result<()> {
    let header = Header {
        opcode,
        seqno,
        tag,
        payload_len: payload.len() as u64,
    }
    .encode();
    if payload.len() <= COALESCE_LIMIT {
        let mut frame = [0u8; HEADER_SIZE + COALESCE_LIMIT];
        frame[..HEADER_SIZE].copy_from_slice(&header);
        frame[HEADER_SIZE..HEADER_SIZE + payload.len()].copy_from_slice(payload);
        w.write_all(&frame[..HEADER_SIZE + payload.len()])?;
    } else {
        write_all_vectored(w, &mut [IoSlice::new(&header), IoSlice::new(payload)])?;
    }
    w.flush()
}

fn write_all_vectored<W: Write + ?Sized>(
    w: &mut W,
    mut bufs: &mut [IoSlice<'_>],
) -> io::Result<()> {
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        match w.write_vectored(bufs) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Cursor;

    fn frame(size: u64, opcode: u64, seqno: u64, tag: u64, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for word in [size, opcode, seqno, tag] {
            v.extend_from_slice(&word.to_le_bytes());
        }
        v.extend_from_slice(payload);
        v
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<Message>, WireError> {
        let mut r = FrameReader::new(Cursor::new(bytes));
        let mut out = Vec::new();
        while let Some(m) = r.read_message()? {
            out.push(m);
        }
        Ok(out)
    }

    #[test]
    fn golden_reserve_call_from_the_a_hello_trace() {
        // protocol 2: controller→executor reserve(instance, 0x1000), seqno 1.
        let bytes = [
            0x30, 0, 0, 0, 0, 0, 0, 0, 0x03, 0, 0, 0, 0, 0, 0, 0, //
            0x01, 0, 0, 0, 0, 0, 0, 0, 0xa0, 0xf3, 0x79, 0x7d, 0x87, 0x55, 0, 0, //
            0x10, 0xbc, 0xa0, 0x9e, 0x87, 0x55, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0,
        ];
        let msgs = read_all(&bytes).unwrap();
        assert_eq!(msgs.len(), 1);
        let m = &msgs[0];
        assert_eq!(m.opcode, Opcode::CallWrapper);
        assert_eq!(m.seqno, 1);
        assert_eq!(m.tag, ExecutorAddr::new(0x5587_7d79_f3a0));
        assert_eq!(m.payload.bytes(), &bytes[32..]);

        let mut out = Vec::new();
        write_message(&mut out, m.opcode, m.seqno, m.tag, m.payload.bytes()).unwrap();
        assert_eq!(out, bytes);
    }

    #[test]
    fn golden_result_from_the_a_hello_trace() {
        let payload = [0x01, 0x00, 0x50, 0x66, 0x30, 0xb6, 0x7f, 0x00, 0x00];
        let mut out = Vec::new();
        write_message(&mut out, Opcode::Result, 1, ExecutorAddr::NULL, &payload).unwrap();
        assert_eq!(out, frame(41, 2, 1, 0, &payload));
    }

    #[test]
    fn end_of_stream_at_a_boundary_is_orderly() {
        assert!(read_all(&[]).unwrap().is_empty());
        let two = [frame(32, 1, 0, 0, &[]), frame(33, 2, 5, 0, &[0])].concat();
        let msgs = read_all(&two).unwrap();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].opcode, Opcode::Hangup);
        assert_eq!((msgs[1].seqno, msgs[1].payload.bytes()), (5, &[0u8][..]));
    }

    #[test]
    fn malformed_frames_give_typed_errors() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                vec![1, 2, 3],
                "Unexpected end-of-file: 3 of 32 bytes of a message header",
            ),
            (frame(31, 3, 0, 0, &[]), "Message size too small: 31"),
            (frame(0, 3, 0, 0, &[]), "Message size too small: 0"),
            (frame(32, 4, 0, 0, &[]), "Unexpected opcode 4"),
            (
                frame(32, u64::MAX, 0, 0, &[]),
                "Unexpected opcode 18446744073709551615",
            ),
            (
                frame(40, 3, 0, 0, &[1, 2]),
                "Unexpected end-of-file: 2 of 8 bytes of a message payload",
            ),
        ];
        for (bytes, expected) in cases {
            let err = read_all(&bytes).unwrap_err();
            assert!(err.to_string().starts_with(expected), "{err} vs {expected}");
            assert_eq!(Error::from(err).kind(), ErrorKind::Protocol);
        }
    }

    #[test]
    fn a_huge_size_claim_allocates_only_what_arrives() {
        // 2^63 claimed, 100 bytes sent: an allocation of the claim would
        // abort the test process.
        let bytes = frame(1 << 63, 3, 0, 0, &[7; 100]);
        match read_all(&bytes).unwrap_err() {
            WireError::UnexpectedEof {
                part: "payload",
                read: 100,
                expected,
            } => assert_eq!(expected, (1 << 63) - 32),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn payloads_beyond_the_eager_limit_grow_as_they_arrive() {
        let big: Vec<u8> = (0..EAGER_PAYLOAD_LIMIT * 3 + 17).map(|i| i as u8).collect();
        let mut out = Vec::new();
        write_message(
            &mut out,
            Opcode::CallWrapper,
            9,
            ExecutorAddr::new(0x1000),
            &big,
        )
        .unwrap();
        let msgs = read_all(&out).unwrap();
        assert_eq!(msgs[0].payload.bytes(), &big[..]);
        // Truncated in the middle of a doubled buffer.
        let cut = &out[..out.len() - 5];
        assert!(matches!(
            read_all(cut).unwrap_err(),
            WireError::UnexpectedEof {
                part: "payload",
                ..
            }
        ));
    }

    #[test]
    fn a_size_limit_rejects_before_reading_the_payload() {
        let bytes = frame(1000, 3, 0, 0, &[]);
        let mut r = FrameReader::new(Cursor::new(bytes)).with_max_message_size(999);
        assert!(matches!(
            r.read_message().unwrap_err(),
            WireError::TooLarge {
                size: 1000,
                limit: 999
            }
        ));
    }

    /// A writer that accepts at most `chunk` bytes per call.
    struct Trickle {
        out: Vec<u8>,
        chunk: usize,
    }
    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.chunk);
            self.out.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    proptest! {
        #[test]
        fn messages_round_trip(
            msgs in proptest::collection::vec(
                (0u8..4, any::<u64>(), any::<u64>(), proptest::collection::vec(any::<u8>(), 0..6000)),
                0..5,
            ),
            chunk in 1usize..5000,
        ) {
            let mut w = Trickle { out: Vec::new(), chunk };
            for (op, seq, tag, payload) in &msgs {
                let op = Opcode::from_raw(u64::from(*op)).unwrap();
                write_message(&mut w, op, *seq, ExecutorAddr::new(*tag), payload).unwrap();
            }
            let back = read_all(&w.out).unwrap();
            prop_assert_eq!(back.len(), msgs.len());
            for (m, (op, seq, tag, payload)) in back.iter().zip(&msgs) {
                prop_assert_eq!(m.opcode as u8, *op);
                prop_assert_eq!(m.seqno, *seq);
                prop_assert_eq!(m.tag.value(), *tag);
                prop_assert_eq!(m.payload.bytes(), &payload[..]);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = read_all(&bytes);
        }
    }
}
