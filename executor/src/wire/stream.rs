//! A large CallWrapper payload handed over as it arrives instead of
//! buffered first, to a wrapper function that declared it streams its
//! arguments (`orc_rt::wrapper::StreamedArgs`): a bulk memory write then
//! goes from the transport straight into its reservation.

use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::RawFd;
use std::sync::Arc;

use orc_rt::wrapper::{ArgumentSource, WrapperFunctionBuffer};

use super::frame::{WireError, read_full, read_payload_after};
use crate::transport::Transport;

/// The reader's side of the transport, as a byte stream.
pub(crate) struct TransportReader(pub(crate) Arc<dyn Transport>);

impl Read for TransportReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

/// The reader's buffered input.
pub(crate) type Input = BufReader<TransportReader>;

/// Payloads from this size on are streamed; smaller ones cost less to
/// buffer than to set up a stream for.
pub const STREAM_THRESHOLD: u64 = 64 * 1024;

/// The payload of one message, as the transport delivers it.
pub(crate) struct PayloadSource<'a> {
    reader: &'a mut Input,
    /// The descriptor `reader` reads from, for reads that bypass it.
    fd: Option<RawFd>,
    len: u64,
    consumed: u64,
}

impl<'a> PayloadSource<'a> {
    pub(super) fn new(reader: &'a mut Input, fd: Option<RawFd>, len: u64) -> Self {
        PayloadSource {
            reader,
            fd,
            len,
            consumed: 0,
        }
    }
}

fn to_io(e: WireError) -> io::Error {
    match e {
        WireError::Io(e) => e,
        other => io::Error::new(io::ErrorKind::UnexpectedEof, other.to_string()),
    }
}

impl ArgumentSource for PayloadSource<'_> {
    fn remaining(&self) -> u64 {
        self.len - self.consumed
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        assert!(
            buf.len() as u64 <= self.remaining(),
            "reading past the payload"
        );
        let got = read_full(self.reader, buf)?;
        self.consumed += got as u64;
        if got < buf.len() {
            return Err(to_io(WireError::UnexpectedEof {
                part: "payload",
                read: self.consumed,
                expected: self.len,
            }));
        }
        Ok(())
    }

    fn read_rest(&mut self, consumed: &[u8]) -> io::Result<WrapperFunctionBuffer> {
        assert_eq!(
            consumed.len() as u64,
            self.consumed,
            "`consumed` is what was consumed"
        );
        let payload = read_payload_after(self.reader, consumed, self.len).map_err(to_io)?;
        self.consumed = self.len;
        Ok(payload)
    }

    fn buffered(&self) -> &[u8] {
        let held = self.reader.buffer();
        &held[..held.len().min(self.remaining() as usize)]
    }

    fn consume(&mut self, n: usize) {
        assert!(
            n <= self.buffered().len(),
            "consuming more than is buffered"
        );
        self.reader.consume(n);
        self.consumed += n as u64;
    }

    fn raw_fd(&self) -> Option<RawFd> {
        // Only once the reader's buffer is drained: the descriptor is next.
        self.fd.filter(|_| self.reader.buffer().is_empty())
    }

    fn note_read(&mut self, n: u64) {
        self.consumed += n;
    }
}
