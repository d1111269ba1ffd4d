//! What the controller learnt from the Setup message: the executor's
//! published wrapper functions and entry points ([`Target`]), their tags and
//! the service instances ([`Known`]).

use std::collections::HashMap;

use orc_executor::services::shared_memory::SharedSegment;
use orc_executor::services::types::AllocActionPair;
use orc_executor::services::{ExecutorServices, names};
use orc_executor::wire::SetupInfo;
use orc_rt::addr::ExecutorAddr;

use crate::harmless;

/// The executor's published wrapper functions and entry points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Target {
    Reserve,
    Initialize,
    Deinitialize,
    Release,
    DylibOpen,
    DylibResolve,
    Write(u8),
    WriteBuffers,
    Read(u8),
    ReadBuffers,
    ReadStrings,
    RunAsMain,
    RunAsVoid,
    RunAsInt,
    EhRegister,
    EhDeregister,
    Gdb,
    Echo,
    SmReserve,
    SmInitialize,
    SmDeinitialize,
    SmRelease,
}

pub(super) const TARGETS: [(Target, &str); 29] = [
    (Target::Reserve, names::MEMORY_MANAGER_RESERVE),
    (Target::Initialize, names::MEMORY_MANAGER_INITIALIZE),
    (Target::Deinitialize, names::MEMORY_MANAGER_DEINITIALIZE),
    (Target::Release, names::MEMORY_MANAGER_RELEASE),
    (Target::DylibOpen, names::DYLIB_MANAGER_OPEN),
    (Target::DylibResolve, names::DYLIB_MANAGER_RESOLVE),
    (Target::Write(0), names::WRITE_UINT8S),
    (Target::Write(1), names::WRITE_UINT16S),
    (Target::Write(2), names::WRITE_UINT32S),
    (Target::Write(3), names::WRITE_UINT64S),
    (Target::Write(4), names::WRITE_POINTERS),
    (Target::WriteBuffers, names::WRITE_BUFFERS),
    (Target::Read(0), names::READ_UINT8S),
    (Target::Read(1), names::READ_UINT16S),
    (Target::Read(2), names::READ_UINT32S),
    (Target::Read(3), names::READ_UINT64S),
    (Target::Read(4), names::READ_POINTERS),
    (Target::ReadBuffers, names::READ_BUFFERS),
    (Target::ReadStrings, names::READ_STRINGS),
    (Target::RunAsMain, names::RUN_AS_MAIN),
    (Target::RunAsVoid, names::RUN_AS_VOID),
    (Target::RunAsInt, names::RUN_AS_INT),
    (Target::EhRegister, names::REGISTER_EH_FRAME),
    (Target::EhDeregister, names::DEREGISTER_EH_FRAME),
    (Target::Gdb, names::REGISTER_JIT_LOADER_GDB),
    (Target::SmReserve, names::SHARED_MEMORY_RESERVE),
    (Target::SmInitialize, names::SHARED_MEMORY_INITIALIZE),
    (Target::SmDeinitialize, names::SHARED_MEMORY_DEINITIALIZE),
    (Target::SmRelease, names::SHARED_MEMORY_RELEASE),
];

/// The arguments after the instance and the reservation of the
/// shared-memory mapper's initialize: segments (their contents already in
/// place) and alloc-action pairs.
pub(super) type SharedRequest = (Vec<SharedSegment>, Vec<AllocActionPair>);

/// Byte width of `Write(w)`/`Read(w)`.
pub(super) fn width_bytes(w: u8) -> usize {
    match w {
        0 => 1,
        1 => 2,
        2 => 4,
        _ => 8,
    }
}

#[derive(Debug)]
pub(super) struct Known {
    tags: HashMap<Target, ExecutorAddr>,
    pub(super) by_tag: HashMap<ExecutorAddr, Target>,
    pub(super) mm_instance: ExecutorAddr,
    pub(super) dm_instance: ExecutorAddr,
    pub(super) sm_instance: ExecutorAddr,
    pub(super) process_handle: ExecutorAddr,
    pub(super) legacy_fallback: bool,
    /// Tags the session calls as its own (registered) wrappers.
    registered: Vec<ExecutorAddr>,
}

impl Known {
    pub(super) fn from_setup(
        setup: &SetupInfo,
        services: &ExecutorServices,
        legacy_fallback: bool,
    ) -> Known {
        let sym = |name: &str| -> ExecutorAddr {
            match setup.bootstrap_symbols.get(name) {
                Some(a) if !a.is_null() => *a,
                _ => panic!("Setup does not announce {name}: {setup:?}"),
            }
        };
        let mut tags = HashMap::new();
        let mut by_tag = HashMap::new();
        let mut registered = Vec::new();
        for (target, name) in TARGETS {
            let addr = sym(name);
            tags.insert(target, addr);
            assert!(
                by_tag.insert(addr, target).is_none(),
                "two bootstrap symbols share {addr}"
            );
            if !matches!(
                target,
                Target::EhRegister | Target::EhDeregister | Target::Gdb
            ) {
                registered.push(addr);
            }
        }
        tags.insert(Target::Echo, harmless::echo_addr());
        by_tag.insert(harmless::echo_addr(), Target::Echo);
        let ctx = sym(names::DISPATCH_CTX);
        let dispatch_fn = sym(names::DISPATCH_FN);
        harmless::set_dispatch(Some((ctx, dispatch_fn)));
        assert_eq!(
            setup.page_size,
            orc_executor::sys::page_size(),
            "Setup announces the page size"
        );
        assert_eq!(
            setup.target_triple,
            orc_executor::sys::process_triple(),
            "Setup announces the process triple"
        );
        Known {
            tags,
            by_tag,
            mm_instance: sym(names::MEMORY_MANAGER_INSTANCE),
            dm_instance: sym(names::DYLIB_MANAGER_INSTANCE),
            sm_instance: sym(names::SHARED_MEMORY_INSTANCE),
            process_handle: services.dylib_manager.process_handle(),
            legacy_fallback,
            registered,
        }
    }

    pub(super) fn tag(&self, t: Target) -> ExecutorAddr {
        self.tags[&t]
    }

    /// What a call to `tag` runs, if it is one of the published functions
    /// and the session would call it (entry points and the echo function are
    /// only called with the legacy fallback on).
    pub(super) fn classify(&self, tag: ExecutorAddr) -> Option<Target> {
        let t = *self.by_tag.get(&tag)?;
        let registered = self.registered.contains(&tag);
        (registered || self.legacy_fallback).then_some(t)
    }
}
