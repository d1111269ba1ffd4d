//! The small surface tests and fuzz oracles look through: the census of
//! what the services hold, and the few entry points an oracle needs to
//! plant harmless code where the controller names addresses. Not for
//! production use.

use orc_rt::addr::ExecutorAddrRange;

use crate::sys::live;

pub use crate::call::legacy_entry;

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
    /// Threads started for calls through
    /// [`sys::call_thread_spawner`](crate::sys::call_thread_spawner) whose
    /// work has not finished yet.
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

/// Deregisters an `.eh_frame` section registered through the EH-frame
/// allocation action (an oracle cleaning up after a run that stopped
/// before the dealloc action).
pub fn deregister_eh_frame(section: ExecutorAddrRange) -> Result<(), String> {
    crate::sys::eh_frame::deregister(section)
}
