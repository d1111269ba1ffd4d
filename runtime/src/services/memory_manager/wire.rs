//! The memory manager's SPS wrapper functions (LLVM 22 signatures, §5.2 of
//! the protocol description). Each takes the argument bytes and returns the
//! result bytes; the instance argument must be this manager's address.

use crate::addr::ExecutorAddr;
use crate::error::Error;
use crate::wrapper::WrapperFunctionBuffer;

use super::MemoryManager;
use crate::services::types::FinalizeRequest;
use crate::services::{check_instance, handle};

/// `Expected<Addr>(Addr instance, u64 size)`.
pub(crate) fn reserve(mm: &MemoryManager, args: &[u8]) -> WrapperFunctionBuffer {
    handle(args, |(instance, size): (ExecutorAddr, u64)| {
        check_instance(instance, mm, "memory manager")?;
        mm.reserve(size)
    })
}

/// `Expected<Addr>(Addr instance, FinalizeRequest)`.
pub(crate) fn initialize(mm: &MemoryManager, args: &[u8]) -> WrapperFunctionBuffer {
    handle(
        args,
        |(instance, req): (ExecutorAddr, FinalizeRequest<'_>)| {
            check_instance(instance, mm, "memory manager")?;
            mm.initialize(&req)
        },
    )
}

/// `Error(Addr instance, sequence<Addr> keys)`.
pub(crate) fn deinitialize(mm: &MemoryManager, args: &[u8]) -> WrapperFunctionBuffer {
    handle(
        args,
        |(instance, keys): (ExecutorAddr, Vec<ExecutorAddr>)| -> Result<(), Error> {
            check_instance(instance, mm, "memory manager")?;
            mm.deinitialize(&keys)
        },
    )
}

/// `Error(Addr instance, sequence<Addr> bases)`.
pub(crate) fn release(mm: &MemoryManager, args: &[u8]) -> WrapperFunctionBuffer {
    handle(
        args,
        |(instance, bases): (ExecutorAddr, Vec<ExecutorAddr>)| -> Result<(), Error> {
            check_instance(instance, mm, "memory manager")?;
            mm.release(&bases)
        },
    )
}
