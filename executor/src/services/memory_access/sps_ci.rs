//! Memory access's SPS controller interface: its wrapper functions under
//! LLVM 22's bootstrap names and signatures (protocol 5.4). LLVM 22's
//! results have no error channel: failures are out-of-band errors (which an
//! LLVM 22 controller sees as an empty result).

mod streamed;

use std::sync::Arc;

use orc_rt::addr::{ExecutorAddr, ExecutorAddrRange};
use orc_rt::error::Error;
use orc_rt::sps::{SpsDecode, SpsEncode};
use orc_rt::wrapper::{WrapperEntry, WrapperFunction, WrapperFunctionBuffer, WrapperTable};

use super::MemoryAccess;
use crate::services::names;

/// Memory access's wrapper functions. Reads and writes never block and run
/// no foreign code: all run on the delivering thread, and a bulk write's
/// payload is read from the transport straight into place.
pub fn wrapper_functions(ma: &Arc<MemoryAccess>) -> WrapperTable {
    let mut table = WrapperTable::new();
    let mut add = |name: &str, f: fn(&MemoryAccess, &[u8]) -> WrapperFunctionBuffer| {
        let ma = ma.clone();
        table.add(
            name,
            WrapperEntry::from_fn(move |args| f(&ma, args)).inline(),
        );
    };
    add(names::WRITE_UINT8S, |ma, args| {
        write_values(ma, args, u8::to_le_bytes)
    });
    add(names::WRITE_UINT16S, |ma, args| {
        write_values(ma, args, u16::to_le_bytes)
    });
    add(names::WRITE_UINT32S, |ma, args| {
        write_values(ma, args, u32::to_le_bytes)
    });
    add(names::WRITE_UINT64S, |ma, args| {
        write_values(ma, args, u64::to_le_bytes)
    });
    add(names::WRITE_POINTERS, |ma, args| {
        write_values(ma, args, |a: ExecutorAddr| {
            (a.value() as usize).to_ne_bytes()
        })
    });
    add(names::READ_UINT8S, |ma, args| {
        read_values(ma, args, u8::from_le_bytes)
    });
    add(names::READ_UINT16S, |ma, args| {
        read_values(ma, args, u16::from_le_bytes)
    });
    add(names::READ_UINT32S, |ma, args| {
        read_values(ma, args, u32::from_le_bytes)
    });
    add(names::READ_UINT64S, |ma, args| {
        read_values(ma, args, u64::from_le_bytes)
    });
    add(names::READ_POINTERS, |ma, args| {
        read_values(ma, args, |b: [u8; size_of::<usize>()]| {
            ExecutorAddr::new(usize::from_ne_bytes(b) as u64)
        })
    });
    add(names::READ_BUFFERS, read_buffers);
    add(names::READ_STRINGS, read_strings);
    let m = ma.clone();
    table.add(
        names::WRITE_BUFFERS,
        WrapperEntry::from_fn(move |args| write_buffers(&m, args))
            .inline()
            .with_streamed_args(streamed::StreamedWriteBuffers(ma.clone())),
    );
    table
}

/// `void(sequence<tuple<Addr, T>>)` for a fixed-size `T`.
fn write_values<'a, T, const N: usize>(
    ma: &MemoryAccess,
    args: &'a [u8],
    to_bytes: fn(T) -> [u8; N],
) -> WrapperFunctionBuffer
where
    T: SpsDecode<'a>,
{
    WrapperFunction::handle_sps_oob(args, |entries: Vec<(ExecutorAddr, T)>| {
        let bytes: Vec<(ExecutorAddr, [u8; N])> =
            entries.into_iter().map(|(a, v)| (a, to_bytes(v))).collect();
        let writes: Vec<(ExecutorAddr, &[u8])> = bytes.iter().map(|(a, b)| (*a, &b[..])).collect();
        ma.write(&writes)
    })
}

/// `sequence<T>(sequence<Addr>)` for a fixed-size `T`.
fn read_values<T: SpsEncode, const N: usize>(
    ma: &MemoryAccess,
    args: &[u8],
    from_bytes: fn([u8; N]) -> T,
) -> WrapperFunctionBuffer {
    WrapperFunction::handle_sps_oob(args, |addrs: Vec<ExecutorAddr>| -> Result<Vec<T>, Error> {
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

/// `void(sequence<tuple<Addr, sequence<char>>>)`.
fn write_buffers(ma: &MemoryAccess, args: &[u8]) -> WrapperFunctionBuffer {
    WrapperFunction::handle_sps_oob(args, |writes: Vec<(ExecutorAddr, &[u8])>| ma.write(&writes))
}

/// `sequence<sequence<u8>>(sequence<ExecutorAddrRange>)`.
fn read_buffers(ma: &MemoryAccess, args: &[u8]) -> WrapperFunctionBuffer {
    WrapperFunction::handle_sps_oob(args, |ranges: Vec<ExecutorAddrRange>| {
        ranges
            .into_iter()
            .map(|r| ma.read_range(r))
            .collect::<Result<Vec<Vec<u8>>, Error>>()
    })
}

/// `sequence<string>(sequence<Addr>)`; strings are bytes, not checked UTF-8.
fn read_strings(ma: &MemoryAccess, args: &[u8]) -> WrapperFunctionBuffer {
    WrapperFunction::handle_sps_oob(args, |addrs: Vec<ExecutorAddr>| {
        addrs
            .into_iter()
            .map(|a| ma.read_c_string(a))
            .collect::<Result<Vec<Vec<u8>>, Error>>()
    })
}
