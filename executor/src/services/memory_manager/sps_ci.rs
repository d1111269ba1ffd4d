//! The memory manager's SPS controller interface: its wrapper functions
//! under LLVM 22's bootstrap names (protocol 5.2) and under LLVM main's
//! `orc_rt_ci_sps_SimpleNativeMemoryMap_*` names (protocol 5.8), whose
//! signatures are byte for byte LLVM 22's. The instance argument must be
//! this manager's address (published under both instance names).

use std::sync::Arc;

use orc_rt::addr::ExecutorAddr;
use orc_rt::error::Error;
use orc_rt::sps;
use orc_rt::wrapper::{WrapperEntry, WrapperFunction, WrapperTable};

use super::MemoryManager;
use crate::os::Os;
use crate::services::check_instance;
use crate::services::types::FinalizeRequest;
use crate::services::{ci_names, names};

/// The memory manager's wrapper functions under LLVM 22's names.
///
/// Reserve never blocks: it runs on the delivering thread. Initialize,
/// deinitialize and release run allocation actions, which may be JIT'd
/// code: their quick paths answer the requests that have none and decline
/// the others, which then get a task of their own.
pub fn wrapper_functions<O: Os>(mm: &Arc<MemoryManager<O>>) -> WrapperTable {
    table(
        mm,
        [
            names::MEMORY_MANAGER_RESERVE,
            names::MEMORY_MANAGER_INITIALIZE,
            names::MEMORY_MANAGER_DEINITIALIZE,
            names::MEMORY_MANAGER_RELEASE,
        ],
    )
}

/// The same wrapper functions under LLVM main's controller-interface names
/// (`SimpleNativeMemoryMap`: reserve, initialize, deinitializeMultiple,
/// releaseMultiple).
pub fn ci_wrapper_functions<O: Os>(mm: &Arc<MemoryManager<O>>) -> WrapperTable {
    table(
        mm,
        [
            ci_names::MEMORY_MAP_RESERVE,
            ci_names::MEMORY_MAP_INITIALIZE,
            ci_names::MEMORY_MAP_DEINITIALIZE,
            ci_names::MEMORY_MAP_RELEASE,
        ],
    )
}

/// Reserve, initialize, deinitialize and release under these names.
fn table<O: Os>(
    mm: &Arc<MemoryManager<O>>,
    [reserve, init, deinit, release]: [&str; 4],
) -> WrapperTable {
    let mut table = WrapperTable::new();
    let m = mm.clone();
    table.add(
        reserve,
        WrapperEntry::from_fn(move |args| {
            // `Expected<Addr>(Addr instance, u64 size)`.
            WrapperFunction::handle_sps(args, |(instance, size): (ExecutorAddr, u64)| {
                check_instance(instance, m.instance(), "memory manager")?;
                m.reserve(size)
            })
        })
        .inline(),
    );
    let (m, q) = (mm.clone(), mm.clone());
    table.add(
        init,
        WrapperEntry::from_fn(move |args| initialize(&m, args)).with_quick_path(move |args| {
            // Allocation actions may be JIT'd code: decline them.
            match sps::from_prefix::<(ExecutorAddr, FinalizeRequest<'_>)>(args) {
                Ok(((_, req), _)) if !req.actions.is_empty() => None,
                _ => Some(initialize(&q, args)),
            }
        }),
    );
    let (m, q) = (mm.clone(), mm.clone());
    table.add(
        deinit,
        WrapperEntry::from_fn(move |args| {
            // `Error(Addr instance, sequence<Addr> keys)`.
            WrapperFunction::handle_sps(
                args,
                |(instance, keys): (ExecutorAddr, Vec<ExecutorAddr>)| -> Result<(), Error> {
                    check_instance(instance, m.instance(), "memory manager")?;
                    m.deinitialize(&keys)
                },
            )
        })
        .with_quick_path(move |args| {
            WrapperFunction::quick_sps(
                args,
                |(instance, keys): (ExecutorAddr, Vec<ExecutorAddr>)| match check_instance(
                    instance,
                    q.instance(),
                    "memory manager",
                ) {
                    Err(e) => Some(Err(e)),
                    Ok(()) => q.deinitialize_without_actions(&keys),
                },
            )
        }),
    );
    let (m, q) = (mm.clone(), mm.clone());
    table.add(
        release,
        WrapperEntry::from_fn(move |args| {
            // `Error(Addr instance, sequence<Addr> bases)`.
            WrapperFunction::handle_sps(
                args,
                |(instance, bases): (ExecutorAddr, Vec<ExecutorAddr>)| -> Result<(), Error> {
                    check_instance(instance, m.instance(), "memory manager")?;
                    m.release(&bases)
                },
            )
        })
        .with_quick_path(move |args| {
            WrapperFunction::quick_sps(
                args,
                |(instance, bases): (ExecutorAddr, Vec<ExecutorAddr>)| match check_instance(
                    instance,
                    q.instance(),
                    "memory manager",
                ) {
                    Err(e) => Some(Err(e)),
                    Ok(()) => q.release_without_actions(&bases),
                },
            )
        }),
    );
    table
}

/// `Expected<Addr>(Addr instance, FinalizeRequest)`.
fn initialize<O: Os>(mm: &MemoryManager<O>, args: &[u8]) -> orc_rt::WrapperFunctionBuffer {
    WrapperFunction::handle_sps(
        args,
        |(instance, req): (ExecutorAddr, FinalizeRequest<'_>)| {
            check_instance(instance, mm.instance(), "memory manager")?;
            mm.initialize(&req)
        },
    )
}
