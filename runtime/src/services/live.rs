//! Resource accounting: how many OS resources the executor services hold
//! right now, process-wide (every session of the process together).

use crate::sys::live;

/// A snapshot of the resources the services hold (see [`live_resources`]).
///
/// After a session shut down, each count is back to what it was before the
/// session started, unless another session of the process holds some.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LiveResources {
    /// Mappings of the memory manager and the shared-memory mapper
    /// (reservations), not unmapped yet.
    pub regions: usize,
    /// POSIX shared-memory objects created for `-use-memmgr=shared`
    /// reservations and not unlinked by us yet (the controller may have
    /// unlinked the name earlier, as LLVM's does; the object stays ours
    /// until its reservation is released).
    pub shm_objects: usize,
    /// Library handles the dylib manager opened (by name or path, and its
    /// compatibility libraries) and has not closed yet.
    pub dylib_handles: usize,
    /// `.eh_frame` sections registered with the unwinder and not
    /// deregistered yet.
    pub eh_frames: usize,
    /// Threads started by the services' dispatchers
    /// ([`ThreadPerTaskDispatcher`](super::dispatcher::ThreadPerTaskDispatcher),
    /// [`ElasticDispatcher`](super::dispatcher::ElasticDispatcher)) and not
    /// joined yet.
    pub dispatch_threads: usize,
}

/// The resources the services hold now (cheap: five relaxed loads).
pub fn live_resources() -> LiveResources {
    LiveResources {
        regions: live::REGIONS.get(),
        shm_objects: live::SHM_OBJECTS.get(),
        dylib_handles: live::DYLIB_HANDLES.get(),
        eh_frames: live::EH_FRAMES.get(),
        dispatch_threads: live::DISPATCH_THREADS.get(),
    }
}
