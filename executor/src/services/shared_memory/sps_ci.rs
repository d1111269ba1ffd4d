//! The shared-memory mapper's SPS controller interface: its wrapper
//! functions under LLVM 22's bootstrap names and signatures (protocol 5.7).

use std::sync::Arc;

use orc_rt::addr::ExecutorAddr;
use orc_rt::error::Error;
use orc_rt::wrapper::{WrapperEntry, WrapperFunction, WrapperTable};

use super::{SharedMemoryMapper, SharedSegment};
use crate::os::Os;
use crate::services::types::AllocActionPair;
use crate::services::{check_instance, names};

/// The mapper's wrapper functions. They run on dispatched tasks: reserve
/// creates a shared-memory object, and initialize and deinitialize run
/// allocation actions.
pub fn wrapper_functions<O: Os>(sm: &Arc<SharedMemoryMapper<O>>) -> WrapperTable {
    let mut table = WrapperTable::new();
    let s = sm.clone();
    table.add(
        names::SHARED_MEMORY_RESERVE,
        WrapperEntry::from_fn(move |args| {
            // `Expected<tuple<Addr, string>>(Addr instance, u64 size)`.
            WrapperFunction::handle_sps(args, |(instance, size): (ExecutorAddr, u64)| {
                check_instance(instance, s.instance(), "shared memory mapper")?;
                s.reserve(size)
            })
        }),
    );
    let s = sm.clone();
    table.add(
        names::SHARED_MEMORY_INITIALIZE,
        WrapperEntry::from_fn(move |args| {
            // `Expected<Addr>(Addr instance, Addr reservation,
            // tuple<sequence<tuple<AllocGroup, Addr, u64>>, sequence<ActionPair>>)`.
            type Request = (Vec<SharedSegment>, Vec<AllocActionPair>);
            WrapperFunction::handle_sps(
                args,
                |(instance, reservation, (segments, actions)): (
                    ExecutorAddr,
                    ExecutorAddr,
                    Request,
                )| {
                    check_instance(instance, s.instance(), "shared memory mapper")?;
                    s.initialize(reservation, &segments, &actions)
                },
            )
        }),
    );
    let s = sm.clone();
    table.add(
        names::SHARED_MEMORY_DEINITIALIZE,
        WrapperEntry::from_fn(move |args| {
            // `Error(Addr instance, sequence<Addr> keys)`.
            WrapperFunction::handle_sps(
                args,
                |(instance, keys): (ExecutorAddr, Vec<ExecutorAddr>)| -> Result<(), Error> {
                    check_instance(instance, s.instance(), "shared memory mapper")?;
                    s.deinitialize(&keys)
                },
            )
        }),
    );
    let s = sm.clone();
    table.add(
        names::SHARED_MEMORY_RELEASE,
        WrapperEntry::from_fn(move |args| {
            // `Error(Addr instance, sequence<Addr> bases)`.
            WrapperFunction::handle_sps(
                args,
                |(instance, bases): (ExecutorAddr, Vec<ExecutorAddr>)| -> Result<(), Error> {
                    check_instance(instance, s.instance(), "shared memory mapper")?;
                    s.release(&bases)
                },
            )
        }),
    );
    table
}
