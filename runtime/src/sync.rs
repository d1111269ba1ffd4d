//! The loom facade: every concurrent primitive the runtime uses comes from here,
//! so `--cfg orc_rt_loom` swaps the real code onto loom's model checker.

#[cfg(not(orc_rt_loom))]
#[allow(
    unused_imports,
    reason = "not every primitive is used in every configuration"
)]
pub(crate) use std::{
    sync::{Arc, Condvar, Mutex, MutexGuard, Weak, atomic},
    thread,
};

#[cfg(orc_rt_loom)]
#[allow(
    unused_imports,
    reason = "not every primitive is used in every configuration"
)]
pub(crate) use loom::{
    sync::{Arc, Condvar, Mutex, MutexGuard, atomic},
    thread,
};

/// Locks `mutex`, recovering the data if a panicking thread poisoned it: every
/// critical section in the runtime leaves its state consistent before it can
/// panic, and a poisoned lock must not turn one failure into a cascade.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}
