//! Calls whose payload the reader hands over as it arrives instead of
//! buffering it first: a bulk memory write then goes from the transport
//! straight into its reservation, one copy of each byte instead of two
//! (and no megabyte buffer to allocate, fault in and free per call).

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::RawFd;

use crate::addr::ExecutorAddr;
use crate::sys::memory::{self, FdRead, Region};
use crate::wrapper::WrapperFunctionBuffer;

use super::frame::{WireError, read_full, read_payload_after};

/// Payloads from this size on are streamed; smaller ones cost less to
/// buffer than to set up a stream for.
pub const STREAM_THRESHOLD: u64 = 64 * 1024;

/// A wrapper function whose large payloads are consumed from the transport
/// by [`stream`](Self::stream) before the call is delivered (see
/// `WireOptions::streamed_calls`).
pub trait StreamedCall: Send + Sync + fmt::Debug {
    /// Consumes the whole payload from `payload`, doing the part of the
    /// call's work that reading allows, and returns the payload the wrapper
    /// function is then called with for the rest of it: the bytes as sent
    /// when it did nothing, so that the call gives exactly the result it
    /// would have given unstreamed. An error ends the connection, as a
    /// transport error does.
    fn stream(&self, payload: &mut PayloadSource<'_>) -> Result<WrapperFunctionBuffer, WireError>;
}

/// The payload of one message, as the transport delivers it.
pub struct PayloadSource<'a> {
    reader: &'a mut BufReader<Box<dyn Read + Send>>,
    /// The descriptor `reader` reads from, for reads that bypass it.
    fd: RawFd,
    len: u64,
    consumed: u64,
}

/// How [`PayloadSource::read_into`] ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Landed {
    /// Every byte is in place.
    All,
    /// A page refused the bytes after the first `n`, which are in place;
    /// the rest of the payload is still unread.
    RefusedAfter(usize),
}

impl<'a> PayloadSource<'a> {
    pub(super) fn new(
        reader: &'a mut BufReader<Box<dyn Read + Send>>,
        fd: RawFd,
        len: u64,
    ) -> Self {
        PayloadSource {
            reader,
            fd,
            len,
            consumed: 0,
        }
    }

    /// Bytes of the payload not read yet.
    pub fn remaining(&self) -> u64 {
        self.len - self.consumed
    }

    fn ended_early(&self, got: usize) -> WireError {
        WireError::UnexpectedEof {
            part: "payload",
            read: self.consumed + got as u64,
            expected: self.len,
        }
    }

    /// Fills `buf` with the next payload bytes; there must be that many.
    pub fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), WireError> {
        assert!(
            buf.len() as u64 <= self.remaining(),
            "reading past the payload"
        );
        let got = read_full(self.reader, buf)?;
        if got < buf.len() {
            return Err(self.ended_early(got));
        }
        self.consumed += got as u64;
        Ok(())
    }

    /// The whole payload in one buffer: `read`, the bytes consumed so far
    /// (as read), then the rest from the transport.
    pub fn read_rest(&mut self, read: &[u8]) -> Result<WrapperFunctionBuffer, WireError> {
        assert_eq!(
            read.len() as u64,
            self.consumed,
            "`read` is what was consumed"
        );
        let payload = read_payload_after(self.reader, read, self.len)?;
        self.consumed = self.len;
        Ok(payload)
    }

    /// Copies the next `len` payload bytes into our memory at `addr`,
    /// inside `region`, without buffering them: what the reader already
    /// holds is copied from there, the rest is read into place.
    pub(crate) fn read_into(
        &mut self,
        region: &Region,
        addr: ExecutorAddr,
        len: usize,
    ) -> Result<Landed, WireError> {
        assert!(len as u64 <= self.remaining(), "reading past the payload");
        let buffered = self.reader.buffer();
        let from_buffer = buffered.len().min(len);
        if from_buffer > 0 {
            if memory::write_checked(&[region], &[(addr, &buffered[..from_buffer])]).is_err() {
                // Nothing consumed: the caller re-reads it all.
                return Ok(Landed::RefusedAfter(0));
            }
            self.reader.consume(from_buffer);
            self.consumed += from_buffer as u64;
        }
        if from_buffer == len {
            return Ok(Landed::All);
        }
        // The reader's buffer is empty now, so the descriptor is next.
        match memory::read_fd_into(
            region,
            addr + from_buffer as u64,
            len - from_buffer,
            self.fd,
        )? {
            FdRead::Done => {
                self.consumed += (len - from_buffer) as u64;
                Ok(Landed::All)
            }
            FdRead::Refused(n) => {
                self.consumed += n as u64;
                Ok(Landed::RefusedAfter(from_buffer + n))
            }
            FdRead::Ended(n) => Err(self.ended_early(n)),
        }
    }
}
