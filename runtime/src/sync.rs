//! The loom facade: every concurrent primitive the runtime and the executor's
//! protocol layer use comes from here, so `--cfg orc_rt_loom` swaps the real
//! code onto loom's model checker. Also the one set of lock helpers, which
//! recover a poisoned lock.
//!
//! Production code is written against the subset both sides share: no
//! `Weak`, no `OnceLock`, no `const` constructors, no unsized coercion of
//! `Arc` (trait objects that cross the public API use `std::sync::Arc`,
//! which loom need not model: only their reference count is concurrent).

#[cfg(not(orc_rt_loom))]
#[allow(
    unused_imports,
    reason = "not every primitive is used in every configuration"
)]
pub use std::{
    sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, atomic},
    thread, thread_local,
};

#[cfg(orc_rt_loom)]
#[allow(
    unused_imports,
    reason = "not every primitive is used in every configuration"
)]
pub use loom::{
    sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, atomic},
    thread, thread_local,
};

/// Locks `mutex`, recovering the data if a panicking thread poisoned it: every
/// critical section in the runtime leaves its state consistent before it can
/// panic, and a poisoned lock must not turn one failure into a cascade.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Waits on `cv`, recovering from poisoning like [`lock`].
pub fn wait<'a, T>(cv: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    match cv.wait(guard) {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Reads `lock`, recovering from poisoning like [`lock`].
pub fn read<T>(lock: &RwLock<T>) -> impl std::ops::Deref<Target = T> + '_ {
    match lock.read() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Writes `lock`, recovering from poisoning like [`lock`].
pub fn write<T>(lock: &RwLock<T>) -> impl std::ops::DerefMut<Target = T> + '_ {
    match lock.write() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}
