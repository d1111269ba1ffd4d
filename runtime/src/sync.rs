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

/// Runs `f` under loom's model checker (build with `--cfg orc_rt_loom`) with
/// the preemption bound the project's models use: `LOOM_MAX_PREEMPTIONS`
/// if set, else 3, which keeps each model to seconds and has caught every
/// bug the models were shown to catch. For the models of this repository
/// and of crates that build services on it.
#[cfg(orc_rt_loom)]
pub fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

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

/// Told at each [`schedule_point`] reached on the thread it is installed on.
pub type ScheduleHook = std::sync::Arc<dyn Fn() + Send + Sync>;

std::thread_local! {
    static SCHEDULE_HOOK: std::cell::RefCell<Option<ScheduleHook>> =
        const { std::cell::RefCell::new(None) };
}

/// Installs `hook` on this thread (`None` removes it); returns the one it
/// replaces. A deterministic scheduler (orc-sim) installs one on each of
/// its threads to switch threads at [`schedule_point`]s.
pub fn schedule_on_this_thread(hook: Option<ScheduleHook>) -> Option<ScheduleHook> {
    SCHEDULE_HOOK
        .try_with(|h| std::mem::replace(&mut *h.borrow_mut(), hook))
        .unwrap_or(None)
}

/// A place where another thread's turn makes a difference (a window
/// between two steps that other threads race), offered to a deterministic
/// scheduler: it may run other threads here. Costs one thread-local read
/// without a hook. Only where the calling thread holds no lock: a thread
/// switched out here must not hold up one that the scheduler runs.
#[inline]
pub fn schedule_point() {
    let hook = SCHEDULE_HOOK
        .try_with(|h| h.borrow().clone())
        .unwrap_or(None);
    if let Some(h) = hook {
        h();
    }
}
