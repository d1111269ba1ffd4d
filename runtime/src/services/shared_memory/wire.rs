//! The shared-memory mapper's SPS wrapper functions (LLVM 22 signatures,
//! protocol §5.7).

use crate::addr::ExecutorAddr;
use crate::error::Error;
use crate::wrapper::WrapperFunctionBuffer;

use super::{SharedMemoryMapper, SharedSegment};
use crate::services::types::AllocActionPair;
use crate::services::{check_instance, handle};

/// `Expected<tuple<Addr, string>>(Addr instance, u64 size)`.
pub(crate) fn reserve(sm: &SharedMemoryMapper, args: &[u8]) -> WrapperFunctionBuffer {
    handle(args, |(instance, size): (ExecutorAddr, u64)| {
        check_instance(instance, sm, "shared memory mapper")?;
        sm.reserve(size)
    })
}

/// `Expected<Addr>(Addr instance, Addr reservation,
/// tuple<sequence<tuple<AllocGroup, Addr, u64>>, sequence<ActionPair>>)`.
pub(crate) fn initialize(sm: &SharedMemoryMapper, args: &[u8]) -> WrapperFunctionBuffer {
    type Request = (Vec<SharedSegment>, Vec<AllocActionPair>);
    handle(
        args,
        |(instance, reservation, (segments, actions)): (ExecutorAddr, ExecutorAddr, Request)| {
            check_instance(instance, sm, "shared memory mapper")?;
            sm.initialize(reservation, &segments, &actions)
        },
    )
}

/// `Error(Addr instance, sequence<Addr> keys)`.
pub(crate) fn deinitialize(sm: &SharedMemoryMapper, args: &[u8]) -> WrapperFunctionBuffer {
    handle(
        args,
        |(instance, keys): (ExecutorAddr, Vec<ExecutorAddr>)| -> Result<(), Error> {
            check_instance(instance, sm, "shared memory mapper")?;
            sm.deinitialize(&keys)
        },
    )
}

/// `Error(Addr instance, sequence<Addr> bases)`.
pub(crate) fn release(sm: &SharedMemoryMapper, args: &[u8]) -> WrapperFunctionBuffer {
    handle(
        args,
        |(instance, bases): (ExecutorAddr, Vec<ExecutorAddr>)| -> Result<(), Error> {
            check_instance(instance, sm, "shared memory mapper")?;
            sm.release(&bases)
        },
    )
}
