//! Memory access's SPS controller interface: its wrapper functions under
//! LLVM 22's bootstrap names (protocol 5.4) and under LLVM main's
//! `orc_rt_ci_sps_mem_*` names (protocol 5.8), with the same signatures.
//! The results have no error channel: failures are out-of-band errors
//! (which an LLVM 22 controller sees as an empty result).

mod streamed;

use std::sync::Arc;

use orc_rt::addr::{ExecutorAddr, ExecutorAddrRange};
use orc_rt::error::Error;
use orc_rt::sps::{SpsDecode, SpsEncode};
use orc_rt::wrapper::{WrapperEntry, WrapperFunction, WrapperFunctionBuffer, WrapperTable};

use super::MemoryAccess;
use crate::os::Os;
use crate::services::{ci_names, names};

/// The thirteen names of one generation.
struct Names {
    write: [&'static str; 6],
    read: [&'static str; 7],
}

const LLVM_22: Names = Names {
    write: [
        names::WRITE_UINT8S,
        names::WRITE_UINT16S,
        names::WRITE_UINT32S,
        names::WRITE_UINT64S,
        names::WRITE_POINTERS,
        names::WRITE_BUFFERS,
    ],
    read: [
        names::READ_UINT8S,
        names::READ_UINT16S,
        names::READ_UINT32S,
        names::READ_UINT64S,
        names::READ_POINTERS,
        names::READ_BUFFERS,
        names::READ_STRINGS,
    ],
};

const CI: Names = Names {
    write: [
        ci_names::WRITE_UINT8S,
        ci_names::WRITE_UINT16S,
        ci_names::WRITE_UINT32S,
        ci_names::WRITE_UINT64S,
        ci_names::WRITE_POINTERS,
        ci_names::WRITE_BUFFERS,
    ],
    read: [
        ci_names::READ_UINT8S,
        ci_names::READ_UINT16S,
        ci_names::READ_UINT32S,
        ci_names::READ_UINT64S,
        ci_names::READ_POINTERS,
        ci_names::READ_BUFFERS,
        ci_names::READ_STRINGS,
    ],
};

/// Memory access's wrapper functions under LLVM 22's names. Reads and
/// writes never block and run no foreign code: all run on the delivering
/// thread, and a bulk write's payload is read from the transport straight
/// into place.
pub fn wrapper_functions<O: Os>(ma: &Arc<MemoryAccess<O>>) -> WrapperTable {
    table(ma, &LLVM_22)
}

/// The same wrapper functions under LLVM main's controller-interface names
/// (all thirteen are required by its controller).
pub fn ci_wrapper_functions<O: Os>(ma: &Arc<MemoryAccess<O>>) -> WrapperTable {
    table(ma, &CI)
}

fn table<O: Os>(ma: &Arc<MemoryAccess<O>>, n: &Names) -> WrapperTable {
    let [w8, w16, w32, w64, wptr, wbuf] = n.write;
    let [r8, r16, r32, r64, rptr, rbuf, rstr] = n.read;
    let mut table = WrapperTable::new();
    let mut add = |name: &str, f: fn(&MemoryAccess<O>, &[u8]) -> WrapperFunctionBuffer| {
        let ma = ma.clone();
        table.add(
            name,
            WrapperEntry::from_fn(move |args| f(&ma, args)).inline(),
        );
    };
    add(w8, |ma, args| write_values(ma, args, u8::to_le_bytes));
    add(w16, |ma, args| write_values(ma, args, u16::to_le_bytes));
    add(w32, |ma, args| write_values(ma, args, u32::to_le_bytes));
    add(w64, |ma, args| write_values(ma, args, u64::to_le_bytes));
    add(wptr, |ma, args| {
        write_values(ma, args, |a: ExecutorAddr| {
            (a.value() as usize).to_ne_bytes()
        })
    });
    add(r8, |ma, args| read_values(ma, args, u8::from_le_bytes));
    add(r16, |ma, args| read_values(ma, args, u16::from_le_bytes));
    add(r32, |ma, args| read_values(ma, args, u32::from_le_bytes));
    add(r64, |ma, args| read_values(ma, args, u64::from_le_bytes));
    add(rptr, |ma, args| {
        read_values(ma, args, |b: [u8; size_of::<usize>()]| {
            ExecutorAddr::new(usize::from_ne_bytes(b) as u64)
        })
    });
    add(rbuf, read_buffers);
    add(rstr, read_strings);
    let m = ma.clone();
    table.add(
        wbuf,
        WrapperEntry::from_fn(move |args| write_buffers(&m, args))
            .inline()
            .with_streamed_args(streamed::StreamedWriteBuffers(ma.clone())),
    );
    table
}

/// `void(sequence<tuple<Addr, T>>)` for a fixed-size `T`.
fn write_values<'a, O: Os, T, const N: usize>(
    ma: &MemoryAccess<O>,
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
fn read_values<O: Os, T: SpsEncode, const N: usize>(
    ma: &MemoryAccess<O>,
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
fn write_buffers<O: Os>(ma: &MemoryAccess<O>, args: &[u8]) -> WrapperFunctionBuffer {
    WrapperFunction::handle_sps_oob(args, |writes: Vec<(ExecutorAddr, &[u8])>| ma.write(&writes))
}

/// `sequence<sequence<u8>>(sequence<ExecutorAddrRange>)`.
fn read_buffers<O: Os>(ma: &MemoryAccess<O>, args: &[u8]) -> WrapperFunctionBuffer {
    WrapperFunction::handle_sps_oob(args, |ranges: Vec<ExecutorAddrRange>| {
        ranges
            .into_iter()
            .map(|r| ma.read_range(r))
            .collect::<Result<Vec<Vec<u8>>, Error>>()
    })
}

/// `sequence<string>(sequence<Addr>)`; strings are bytes, not checked UTF-8.
fn read_strings<O: Os>(ma: &MemoryAccess<O>, args: &[u8]) -> WrapperFunctionBuffer {
    WrapperFunction::handle_sps_oob(args, |addrs: Vec<ExecutorAddr>| {
        addrs
            .into_iter()
            .map(|a| ma.read_c_string(a))
            .collect::<Result<Vec<Vec<u8>>, Error>>()
    })
}
