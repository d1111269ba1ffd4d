//! Live-resource counters for leak checks: process-wide, always on (one
//! relaxed atomic add next to a system call that costs far more), read
//! through `services::live_resources()`.
//!
//! Each counter goes up when this crate acquires an OS resource and down
//! when it gives it back, so a test can check that a session's shutdown
//! released everything it took (tests/executor_resources.rs).

use std::sync::atomic::{AtomicUsize, Ordering};

/// One counter of live resources.
pub(crate) struct Counter(AtomicUsize);

impl Counter {
    const fn new() -> Counter {
        Counter(AtomicUsize::new(0))
    }

    /// One more resource is live.
    pub(crate) fn up(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// One resource was given back.
    pub(crate) fn down(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }

    /// How many are live now.
    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// Mappings owned by a `memory::Region` (reservations, shared memory).
pub(crate) static REGIONS: Counter = Counter::new();
/// POSIX shared-memory objects this process created and has not unlinked.
pub(crate) static SHM_OBJECTS: Counter = Counter::new();
/// Library handles from `dylib::Library::open` not closed yet.
pub(crate) static DYLIB_HANDLES: Counter = Counter::new();
/// `.eh_frame` sections registered with the unwinder and not deregistered.
pub(crate) static EH_FRAMES: Counter = Counter::new();
/// Threads started by the services' dispatchers and not joined yet.
pub(crate) static DISPATCH_THREADS: Counter = Counter::new();
