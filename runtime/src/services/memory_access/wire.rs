//! The memory-access SPS wrapper functions (LLVM 22 signatures, protocol
//! §5.4). LLVM 22's results have no error channel: failures are out-of-band
//! errors (which an LLVM 22 controller sees as an empty result).

use std::sync::Arc;

use crate::addr::{ExecutorAddr, ExecutorAddrRange};
use crate::error::Error;
use crate::sps::SpsDecode;
use crate::sys::memory;
use crate::wire::{Landed, PayloadSource, StreamedCall, WireError};
use crate::wrapper::WrapperFunctionBuffer;

use super::MemoryAccess;
use crate::services::handle_oob;

/// `void(sequence<tuple<Addr, T>>)` for a fixed-size `T`.
fn write_values<'a, T, const N: usize>(
    ma: &MemoryAccess,
    args: &'a [u8],
    to_bytes: fn(T) -> [u8; N],
) -> WrapperFunctionBuffer
where
    T: SpsDecode<'a>,
{
    handle_oob(
        args,
        |entries: Vec<(ExecutorAddr, T)>| -> Result<(), Error> {
            let bytes: Vec<(ExecutorAddr, [u8; N])> =
                entries.into_iter().map(|(a, v)| (a, to_bytes(v))).collect();
            let writes: Vec<(ExecutorAddr, &[u8])> =
                bytes.iter().map(|(a, b)| (*a, &b[..])).collect();
            ma.write(&writes)
        },
    )
}

/// `sequence<T>(sequence<Addr>)` for a fixed-size `T`.
fn read_values<T, const N: usize>(
    ma: &MemoryAccess,
    args: &[u8],
    from_bytes: fn([u8; N]) -> T,
) -> WrapperFunctionBuffer
where
    T: crate::sps::SpsEncode,
{
    handle_oob(args, |addrs: Vec<ExecutorAddr>| -> Result<Vec<T>, Error> {
        let mut bufs = vec![[0u8; N]; addrs.len()];
        let mut reads: Vec<(ExecutorAddr, &mut [u8])> = addrs
            .iter()
            .zip(bufs.iter_mut())
            .map(|(a, b)| (*a, &mut b[..]))
            .collect();
        ma.read(&mut reads)?;
        Ok(bufs.into_iter().map(from_bytes).collect())
    })
}

pub(crate) fn write_uint8s(ma: &MemoryAccess, args: &[u8]) -> WrapperFunctionBuffer {
    write_values(ma, args, u8::to_le_bytes)
}
pub(crate) fn write_uint16s(ma: &MemoryAccess, args: &[u8]) -> WrapperFunctionBuffer {
    write_values(ma, args, u16::to_le_bytes)
}
pub(crate) fn write_uint32s(ma: &MemoryAccess, args: &[u8]) -> WrapperFunctionBuffer {
    write_values(ma, args, u32::to_le_bytes)
}
pub(crate) fn write_uint64s(ma: &MemoryAccess, args: &[u8]) -> WrapperFunctionBuffer {
    write_values(ma, args, u64::to_le_bytes)
}
pub(crate) fn write_pointers(ma: &MemoryAccess, args: &[u8]) -> WrapperFunctionBuffer {
    write_values(ma, args, |a: ExecutorAddr| {
        (a.value() as usize).to_ne_bytes()
    })
}

/// `void(sequence<tuple<Addr, sequence<char>>>)`.
pub(crate) fn write_buffers(ma: &MemoryAccess, args: &[u8]) -> WrapperFunctionBuffer {
    handle_oob(args, |writes: Vec<(ExecutorAddr, &[u8])>| ma.write(&writes))
}

/// `write_buffers`, streamed (see [`StreamedCall`]): a call that writes one
/// buffer into a reservation has its bytes read from the transport straight
/// into place, then is delivered with nothing left to write. Any other call
/// (several buffers, a target outside every reservation, malformed bytes)
/// is buffered and handled as usual.
#[derive(Debug)]
pub(crate) struct StreamedWriteBuffers(pub(crate) Arc<MemoryAccess>);

/// `sequence<tuple<Addr, sequence<char>>>` of one element: the element
/// count, the address and the length of the bytes that follow.
const ONE_BUFFER_PREFIX: usize = 24;

impl StreamedCall for StreamedWriteBuffers {
    fn stream(&self, payload: &mut PayloadSource<'_>) -> Result<WrapperFunctionBuffer, WireError> {
        if payload.remaining() < ONE_BUFFER_PREFIX as u64 {
            return payload.read_rest(&[]);
        }
        let mut prefix = [0u8; ONE_BUFFER_PREFIX];
        payload.read_exact(&mut prefix)?;
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&prefix[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w)
        };
        let (count, addr, len) = (word(0), ExecutorAddr::new(word(1)), word(2));
        let region = (count == 1 && len == payload.remaining())
            .then(|| ExecutorAddrRange::from_size(addr, len))
            .flatten()
            .and_then(|range| self.0.region_for(range));
        let (Some(region), Ok(len)) = (region, usize::try_from(len)) else {
            return payload.read_rest(&prefix);
        };
        match payload.read_into(&region, addr, len)? {
            // An empty sequence: nothing left to write, and the same
            // (successful) result.
            Landed::All => Ok(WrapperFunctionBuffer::copy_from(&0u64.to_le_bytes())),
            Landed::RefusedAfter(landed) => {
                // A page is not writable: rebuild the call as sent, so the
                // wrapper fails it with the error it always gives. The bytes
                // that landed are read back from where they went.
                let mut sent = vec![0u8; ONE_BUFFER_PREFIX + landed];
                sent[..ONE_BUFFER_PREFIX].copy_from_slice(&prefix);
                let _ = memory::read_checked(&mut [(addr, &mut sent[ONE_BUFFER_PREFIX..])]);
                payload.read_rest(&sent)
            }
        }
    }
}

pub(crate) fn read_uint8s(ma: &MemoryAccess, args: &[u8]) -> WrapperFunctionBuffer {
    read_values(ma, args, u8::from_le_bytes)
}
pub(crate) fn read_uint16s(ma: &MemoryAccess, args: &[u8]) -> WrapperFunctionBuffer {
    read_values(ma, args, u16::from_le_bytes)
}
pub(crate) fn read_uint32s(ma: &MemoryAccess, args: &[u8]) -> WrapperFunctionBuffer {
    read_values(ma, args, u32::from_le_bytes)
}
pub(crate) fn read_uint64s(ma: &MemoryAccess, args: &[u8]) -> WrapperFunctionBuffer {
    read_values(ma, args, u64::from_le_bytes)
}
pub(crate) fn read_pointers(ma: &MemoryAccess, args: &[u8]) -> WrapperFunctionBuffer {
    read_values(ma, args, |b: [u8; size_of::<usize>()]| {
        ExecutorAddr::new(usize::from_ne_bytes(b) as u64)
    })
}

/// `sequence<sequence<u8>>(sequence<ExecutorAddrRange>)`.
pub(crate) fn read_buffers(ma: &MemoryAccess, args: &[u8]) -> WrapperFunctionBuffer {
    handle_oob(args, |ranges: Vec<ExecutorAddrRange>| {
        ranges
            .into_iter()
            .map(|r| ma.read_range(r))
            .collect::<Result<Vec<Vec<u8>>, Error>>()
    })
}

/// `sequence<string>(sequence<Addr>)`; strings are bytes, not checked UTF-8.
pub(crate) fn read_strings(ma: &MemoryAccess, args: &[u8]) -> WrapperFunctionBuffer {
    handle_oob(args, |addrs: Vec<ExecutorAddr>| {
        addrs
            .into_iter()
            .map(|a| ma.read_c_string(a))
            .collect::<Result<Vec<Vec<u8>>, Error>>()
    })
}
