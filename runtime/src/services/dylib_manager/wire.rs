//! The dylib manager's SPS wrapper functions (LLVM 22 signatures, protocol
//! §5.3).

use crate::addr::ExecutorAddr;
use crate::wrapper::WrapperFunctionBuffer;

use super::DylibManager;
use crate::services::{check_instance, handle};

/// `Expected<Addr>(Addr instance, string path, u64 mode)`.
pub(crate) fn open(dm: &DylibManager, args: &[u8]) -> WrapperFunctionBuffer {
    handle(
        args,
        |(instance, path, mode): (ExecutorAddr, &[u8], u64)| {
            check_instance(instance, dm, "dylib manager")?;
            dm.open(path, mode)
        },
    )
}

/// `Expected<sequence<optional<ExecutorSymbolDef>>>(Addr handle,
/// sequence<tuple<string, bool>>)`.
pub(crate) fn resolve(dm: &DylibManager, args: &[u8]) -> WrapperFunctionBuffer {
    handle(
        args,
        |(handle, symbols): (ExecutorAddr, Vec<(&[u8], bool)>)| dm.resolve(handle, &symbols),
    )
}
