//! `write_buffers` with its payload streamed: a call that writes one buffer
//! into a reservation has its bytes read from the transport straight into
//! place (one kernel copy, no megabyte buffer to allocate, fault in and free
//! per call), then is delivered with nothing left to write. Any other call
//! (several buffers, a target outside every reservation, malformed bytes)
//! is buffered and handled as usual, and a page that refuses the bytes
//! rebuilds the call as sent, so the result and the memory are exactly
//! what the buffered path gives.

use std::io;
use std::sync::Arc;

use orc_rt::addr::{ExecutorAddr, ExecutorAddrRange};
use orc_rt::error::Error;
use orc_rt::wrapper::{ArgumentSource, StreamedArgs, WrapperFunctionBuffer};

use super::super::MemoryAccess;
use crate::os::{FdRead, Os};

/// See the module docs.
#[derive(Debug)]
pub(crate) struct StreamedWriteBuffers<O: Os>(pub(crate) Arc<MemoryAccess<O>>);

/// `sequence<tuple<Addr, sequence<char>>>` of one element: the element
/// count, the address and the length of the bytes that follow.
const ONE_BUFFER_PREFIX: usize = 24;

impl<O: Os> StreamedArgs for StreamedWriteBuffers<O> {
    fn stream(&self, source: &mut dyn ArgumentSource) -> Result<WrapperFunctionBuffer, Error> {
        let io = |e: io::Error| Error::io("reading a streamed payload", e);
        if source.remaining() < ONE_BUFFER_PREFIX as u64 {
            return source.read_rest(&[]).map_err(io);
        }
        let mut prefix = [0u8; ONE_BUFFER_PREFIX];
        source.read_exact(&mut prefix).map_err(io)?;
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&prefix[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w)
        };
        let (count, addr, len) = (word(0), ExecutorAddr::new(word(1)), word(2));
        let region = (count == 1 && len == source.remaining())
            .then(|| ExecutorAddrRange::from_size(addr, len))
            .flatten()
            .and_then(|range| self.0.region_for(range));
        let (Some(region), Ok(len)) = (region, usize::try_from(len)) else {
            return source.read_rest(&prefix).map_err(io);
        };
        match read_into(self.0.os(), source, &region, addr, len).map_err(io)? {
            // An empty sequence: nothing left to write, and the same
            // (successful) result.
            None => Ok(WrapperFunctionBuffer::copy_from(&0u64.to_le_bytes())),
            // A page is not writable: rebuild the call as sent, so the
            // wrapper fails it with the error it always gives.
            Some(consumed) => {
                let mut sent = Vec::with_capacity(ONE_BUFFER_PREFIX + consumed.len());
                sent.extend_from_slice(&prefix);
                sent.extend_from_slice(&consumed);
                source.read_rest(&sent).map_err(io)
            }
        }
    }
}

/// Copies the next `len` payload bytes into our memory at `addr`, inside
/// `region`, without buffering them: what the transport already holds is
/// copied from there, the rest is read into place from its descriptor when
/// it has one and the backend can (or else through a bounce buffer).
/// `None`: every byte is in place. `Some(consumed)`: a page refused the
/// bytes; `consumed` are the payload bytes taken from the transport so far
/// (those that landed are read back from where they went), and the rest is
/// still unread.
fn read_into<O: Os>(
    os: &O,
    source: &mut dyn ArgumentSource,
    region: &O::Mapping,
    addr: ExecutorAddr,
    len: usize,
) -> io::Result<Option<Vec<u8>>> {
    let landed_bytes = |n: usize| {
        let mut back = vec![0u8; n];
        let _ = os.read(&mut [(addr, &mut back[..])]);
        back
    };
    let mut landed = 0;
    // What the transport already holds.
    let from_buffer = source.buffered().len().min(len);
    if from_buffer > 0 {
        let bytes = &source.buffered()[..from_buffer];
        if os.write(&[region], &[(addr, bytes)]).is_err() {
            // Nothing consumed.
            return Ok(Some(Vec::new()));
        }
        source.consume(from_buffer);
        landed = from_buffer;
    }
    if landed == len {
        return Ok(None);
    }
    let from_fd = source
        .raw_fd()
        .and_then(|fd| os.read_fd_into(region, addr + landed as u64, len - landed, fd));
    let Some(from_fd) = from_fd else {
        // No descriptor, or a backend that cannot read one into its
        // memory: through a bounce buffer, a chunk at a time.
        let mut chunk = vec![0u8; (len - landed).min(64 * 1024)];
        while landed < len {
            let n = chunk.len().min(len - landed);
            source.read_exact(&mut chunk[..n])?;
            let at = addr + landed as u64;
            if os.write(&[region], &[(at, &chunk[..n])]).is_err() {
                let mut consumed = landed_bytes(landed);
                consumed.extend_from_slice(&chunk[..n]);
                return Ok(Some(consumed));
            }
            landed += n;
        }
        return Ok(None);
    };
    match from_fd? {
        FdRead::Done => {
            source.note_read((len - landed) as u64);
            Ok(None)
        }
        FdRead::Refused(n) => {
            source.note_read(n as u64);
            Ok(Some(landed_bytes(landed + n)))
        }
        FdRead::Ended(n) => {
            source.note_read(n as u64);
            Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the transport ended {} bytes into a {}-byte streamed payload",
                    landed + n,
                    len
                ),
            ))
        }
    }
}
