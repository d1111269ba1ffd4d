//! The memory manager's SPS wrapper functions (LLVM 22 signatures, §5.2 of
//! the protocol description). Each takes the argument bytes and returns the
//! result bytes; the instance argument must be this manager's address.

use crate::addr::ExecutorAddr;
use crate::error::Error;
use crate::wrapper::WrapperFunctionBuffer;

use super::MemoryManager;
use crate::services::types::FinalizeRequest;
use crate::services::{check_instance, handle, handle_quick};
use crate::sps;

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

/// The quick forms: the same calls answered without running any alloc
/// action (so fit for the transport's reader thread), or `None` when the
/// request needs alloc actions run, which may be JIT'd code and get a
/// thread of their own. Malformed requests are answered here.
pub(crate) fn initialize_quick(mm: &MemoryManager, args: &[u8]) -> Option<WrapperFunctionBuffer> {
    if let Ok(((_, req), _)) = sps::from_prefix::<(ExecutorAddr, FinalizeRequest<'_>)>(args)
        && !req.actions.is_empty()
    {
        return None;
    }
    Some(initialize(mm, args))
}

/// See [`initialize_quick`].
pub(crate) fn deinitialize_quick(mm: &MemoryManager, args: &[u8]) -> Option<WrapperFunctionBuffer> {
    handle_quick(
        args,
        |(instance, keys): (ExecutorAddr, Vec<ExecutorAddr>)| -> Option<Result<(), Error>> {
            if let Err(e) = check_instance(instance, mm, "memory manager") {
                return Some(Err(e));
            }
            mm.deinitialize_without_actions(&keys)
        },
    )
}

/// See [`initialize_quick`].
pub(crate) fn release_quick(mm: &MemoryManager, args: &[u8]) -> Option<WrapperFunctionBuffer> {
    handle_quick(
        args,
        |(instance, bases): (ExecutorAddr, Vec<ExecutorAddr>)| -> Option<Result<(), Error>> {
            if let Err(e) = check_instance(instance, mm, "memory manager") {
                return Some(Err(e));
            }
            mm.release_without_actions(&bases)
        },
    )
}
