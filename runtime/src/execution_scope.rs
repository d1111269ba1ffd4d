//! The execution scope: a keepalive group that keeps a session (and the JIT'd
//! code it manages) from being torn down while a stack frame of that code is
//! live (seed `ExecutionScopeGuard.h`, newest upstream keepalive `TaskGroup`).
//!
//! A scope is a counter with a *closed* flag. [`ExecutionScope::try_enter`]
//! acquires one count and fails once the scope is closed; dropping the
//! [`ExecutionScopeGuard`] releases it. When the scope is closed and the count
//! reaches zero, the completion callbacks run, exactly once, on the thread
//! that caused it (the closer, or the last releaser).
//!
//! **Invariant:** no guard can be acquired after [`ExecutionScope::close`]
//! (upstream learnt this: the seed's guards could not fail, so code kept
//! entering a dying session). A guard covers one synchronous span on one
//! stack: deferred work must take its own guard when it runs and give up if
//! that fails.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use crate::error::{Error, ErrorKind};
use crate::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
    lock,
};

/// Bit 0 of the state word: the scope is closed.
const CLOSED: usize = 1;
/// One guard: the count lives in the bits above [`CLOSED`].
const ONE: usize = 2;

type Callback = Box<dyn FnOnce() + Send + 'static>;

struct Inner {
    /// `CLOSED | count * ONE`. Acquisition is a CAS that refuses a closed
    /// word, so a failed acquisition never touches the count (a fetch_add
    /// that is undone afterwards could complete the scope twice).
    state: AtomicUsize,
    completion: Mutex<Completion>,
}

struct Completion {
    done: bool,
    callbacks: Vec<Callback>,
}

impl Inner {
    fn new() -> Self {
        Inner {
            state: AtomicUsize::new(0),
            completion: Mutex::new(Completion {
                done: false,
                callbacks: Vec::new(),
            }),
        }
    }

    /// Takes one count unless the scope is closed.
    #[inline]
    fn retain(&self) -> bool {
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            if cur & CLOSED != 0 || cur > usize::MAX - ONE {
                return false;
            }
            // Acquire pairs with the release in `close`: a guard that
            // succeeded was ordered before the close that follows it.
            match self.state.compare_exchange_weak(
                cur,
                cur + ONE,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Gives back one count; the last one after `close` completes the scope.
    #[inline]
    fn release(&self) {
        // Injected bug (loom model `loom_scope`): read "closed?" in a
        // separate load before decrementing. A `close` that lands between
        // the two sees a count of one and leaves completion to us, and we
        // think the scope is still open: nobody completes it and shutdown
        // waits forever.
        if cfg!(orc_rt_loom_bug = "scope_release_races_close") {
            let was_closed = self.state.load(Ordering::Acquire) & CLOSED != 0;
            let prev = self.state.fetch_sub(ONE, Ordering::AcqRel);
            if was_closed && prev == CLOSED | ONE {
                self.complete();
            }
            return;
        }
        // AcqRel: everything the guard holder did happens before the
        // completion callbacks that the last release runs.
        let prev = self.state.fetch_sub(ONE, Ordering::AcqRel);
        debug_assert!(
            prev >= ONE,
            "execution scope released more often than retained"
        );
        if prev == CLOSED | ONE {
            self.complete();
        }
    }

    fn close(&self) {
        let prev = self.state.fetch_or(CLOSED, Ordering::AcqRel);
        if prev == 0 {
            // Open with no guard: the closer completes the scope.
            self.complete();
        }
    }

    /// Runs the completion callbacks, in registration order, after dropping
    /// the lock. Called exactly once (by the closer or the last releaser).
    fn complete(&self) {
        let callbacks = {
            let mut c = lock(&self.completion);
            debug_assert!(!c.done, "execution scope completed twice");
            c.done = true;
            std::mem::take(&mut c.callbacks)
        };
        run_all(callbacks);
    }

    fn add_on_complete(&self, callback: Callback) {
        let mut c = lock(&self.completion);
        if c.done {
            drop(c);
            callback();
        } else {
            c.callbacks.push(callback);
        }
    }

    fn count(&self) -> usize {
        self.state.load(Ordering::Acquire) / ONE
    }

    fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }

    fn is_complete(&self) -> bool {
        lock(&self.completion).done
    }
}

/// Runs every callback even if one panics, then re-raises the first panic.
fn run_all(callbacks: Vec<Callback>) {
    let mut first_panic = None;
    for callback in callbacks {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(callback)) {
            first_panic.get_or_insert(payload);
        }
    }
    if let Some(payload) = first_panic {
        resume_unwind(payload);
    }
}

fn closed_error() -> Error {
    Error::new(
        ErrorKind::ShuttingDown,
        "the execution scope is closed: the session is shutting down",
    )
}

/// A keepalive group: the owner's handle, which can close it.
///
/// A [`Session`](crate::Session) owns one and hands out only
/// [`ExecutionScopeSource`]s and guards; standalone scopes are useful in tests
/// and in services that want the same discipline for their own work.
pub struct ExecutionScope {
    inner: Arc<Inner>,
}

impl ExecutionScope {
    /// An open scope with no guard.
    pub fn new() -> Self {
        ExecutionScope {
            inner: Arc::new(Inner::new()),
        }
    }

    /// Acquires a guard; fails with [`ErrorKind::ShuttingDown`] once closed.
    #[inline]
    pub fn try_enter(&self) -> Result<ExecutionScopeGuard, Error> {
        self.retain().ok_or_else(closed_error)
    }

    /// Acquires a guard, or `None` once closed (no error allocated).
    #[inline]
    pub(crate) fn retain(&self) -> Option<ExecutionScopeGuard> {
        retain_from(&self.inner)
    }

    /// Runs `f` under a fresh guard; `None` (and `f` not called) once closed.
    pub fn call_with_keepalive<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        let _guard = self.retain()?;
        Some(f())
    }

    /// A handle that can acquire guards but not close the scope; it holds
    /// no count, so it never delays completion (upstream `TokenSource`).
    pub fn source(&self) -> ExecutionScopeSource {
        ExecutionScopeSource {
            inner: self.inner.clone(),
        }
    }

    /// Closes the scope (idempotent): from now on every acquisition fails.
    /// If no guard is held the completion callbacks run now, on this thread.
    pub fn close(&self) {
        self.inner.close();
    }

    /// Registers `callback` to run once the scope is closed and drained.
    /// Runs it now, on this thread, if that has already happened.
    pub fn add_on_complete(&self, callback: impl FnOnce() + Send + 'static) {
        self.inner.add_on_complete(Box::new(callback));
    }

    /// True once [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// True once the completion callbacks have started.
    pub fn is_complete(&self) -> bool {
        self.inner.is_complete()
    }

    /// Guards currently held (a snapshot; for diagnostics and tests).
    pub fn active_guards(&self) -> usize {
        self.inner.count()
    }

    /// Takes a count without a guard object (the C API's enter/leave pair).
    pub(crate) fn retain_raw(&self) -> bool {
        self.inner.retain()
    }

    /// Gives back a count taken with [`retain_raw`](Self::retain_raw).
    /// Returns false (and changes nothing) if no count is held, so that an
    /// unbalanced leave from C is reported instead of corrupting the count.
    pub(crate) fn release_raw(&self) -> bool {
        let mut cur = self.inner.state.load(Ordering::Relaxed);
        loop {
            if cur < ONE {
                return false;
            }
            match self.inner.state.compare_exchange_weak(
                cur,
                cur - ONE,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(prev) => {
                    if prev == CLOSED | ONE {
                        self.inner.complete();
                    }
                    return true;
                }
                Err(actual) => cur = actual,
            }
        }
    }
}

impl Default for ExecutionScope {
    fn default() -> Self {
        ExecutionScope::new()
    }
}

impl fmt::Debug for ExecutionScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutionScope")
            .field("closed", &self.is_closed())
            .field("active_guards", &self.active_guards())
            .finish()
    }
}

#[inline]
fn retain_from(inner: &Arc<Inner>) -> Option<ExecutionScopeGuard> {
    if inner.retain() {
        Some(ExecutionScopeGuard {
            inner: Some(inner.clone()),
        })
    } else {
        None
    }
}

/// Acquires guards of a scope it cannot close (upstream `TokenSource`).
#[derive(Clone)]
pub struct ExecutionScopeSource {
    inner: Arc<Inner>,
}

impl ExecutionScopeSource {
    /// Acquires a guard; fails with [`ErrorKind::ShuttingDown`] once closed.
    #[inline]
    pub fn try_enter(&self) -> Result<ExecutionScopeGuard, Error> {
        retain_from(&self.inner).ok_or_else(closed_error)
    }

    /// Runs `f` under a fresh guard; `None` (and `f` not called) once closed.
    pub fn call_with_keepalive<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        let _guard = retain_from(&self.inner)?;
        Some(f())
    }

    /// True once the scope was closed (new guards fail).
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

impl fmt::Debug for ExecutionScopeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutionScopeSource")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// One retained count of an execution scope; dropping it releases the count.
///
/// Guards are `Send` (they may be dropped on another thread) and movable.
/// `Clone` acquires an independent count; after the scope closed it yields
/// an *empty* guard (check [`is_held`](Self::is_held), or use
/// [`try_clone`](Self::try_clone)). `clone_from` acquires the new count
/// before releasing the old one, so replacing a guard never lets the count
/// touch zero in between.
///
/// Avoid storing guards in long-lived structures: a live guard postpones
/// shutdown for as long as it lives.
#[must_use = "dropping the guard leaves the execution scope at once"]
pub struct ExecutionScopeGuard {
    inner: Option<Arc<Inner>>,
}

impl ExecutionScopeGuard {
    /// A guard that holds nothing.
    pub fn empty() -> Self {
        ExecutionScopeGuard { inner: None }
    }

    /// True if the guard holds a count.
    pub fn is_held(&self) -> bool {
        self.inner.is_some()
    }

    /// Acquires an independent count of the same scope; fails with
    /// [`ErrorKind::ShuttingDown`] once the scope is closed (or if this
    /// guard is empty).
    pub fn try_clone(&self) -> Result<Self, Error> {
        match &self.inner {
            Some(inner) => retain_from(inner).ok_or_else(closed_error),
            None => Err(closed_error()),
        }
    }

    /// Releases the count now (the same as dropping the guard).
    pub fn release(self) {}
}

impl Clone for ExecutionScopeGuard {
    fn clone(&self) -> Self {
        self.try_clone()
            .unwrap_or_else(|_| ExecutionScopeGuard::empty())
    }
}

impl Drop for ExecutionScopeGuard {
    #[inline]
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.release();
        }
    }
}

impl fmt::Debug for ExecutionScopeGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutionScopeGuard")
            .field("held", &self.is_held())
            .finish()
    }
}

#[cfg(all(test, not(orc_rt_loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize as StdAtomic;
    use std::sync::{Arc as StdArc, Mutex as StdMutex};

    fn counter(scope: &ExecutionScope) -> StdArc<StdAtomic> {
        let fired = StdArc::new(StdAtomic::new(0));
        let f = fired.clone();
        scope.add_on_complete(move || {
            f.fetch_add(1, Ordering::SeqCst);
        });
        fired
    }

    #[test]
    fn close_without_guards_completes_at_once() {
        let scope = ExecutionScope::new();
        let fired = counter(&scope);
        scope.close();
        assert_eq!(fired.load(Ordering::SeqCst), 1);
        scope.close();
        assert_eq!(fired.load(Ordering::SeqCst), 1, "close is idempotent");
        assert!(scope.is_complete());
    }

    #[test]
    fn the_last_guard_completes_a_closed_scope() {
        let scope = ExecutionScope::new();
        let fired = counter(&scope);
        let a = scope.try_enter().unwrap();
        let b = a.clone();
        assert!(b.is_held());
        assert_eq!(scope.active_guards(), 2);
        scope.close();
        assert_eq!(fired.load(Ordering::SeqCst), 0);
        drop(a);
        assert_eq!(fired.load(Ordering::SeqCst), 0);
        drop(b);
        assert_eq!(fired.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn no_guard_after_close_not_even_a_clone() {
        let scope = ExecutionScope::new();
        let held = scope.try_enter().unwrap();
        scope.close();
        let err = scope.try_enter().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ShuttingDown);
        assert_eq!(
            held.try_clone().unwrap_err().kind(),
            ErrorKind::ShuttingDown
        );
        assert!(!held.clone().is_held());
        assert_eq!(scope.source().call_with_keepalive(|| 1), None);
        assert_eq!(scope.active_guards(), 1);
    }

    #[test]
    fn callbacks_run_in_registration_order_and_late_ones_run_now() {
        let scope = ExecutionScope::new();
        let log = StdArc::new(StdMutex::new(Vec::new()));
        for i in 0..3 {
            let log = log.clone();
            scope.add_on_complete(move || log.lock().unwrap().push(i));
        }
        let g = scope.try_enter().unwrap();
        scope.close();
        drop(g);
        let log2 = log.clone();
        scope.add_on_complete(move || log2.lock().unwrap().push(9));
        assert_eq!(*log.lock().unwrap(), [0, 1, 2, 9]);
    }

    #[test]
    fn clone_from_acquires_before_releasing() {
        let scope = ExecutionScope::new();
        let fired = counter(&scope);
        let a = scope.try_enter().unwrap();
        let mut b = scope.try_enter().unwrap();
        scope.close();
        // Replacing b with a copy of a: the copy fails (closed), b's old
        // count is released, and a still keeps the scope open.
        b.clone_from(&a);
        assert!(!b.is_held());
        assert_eq!(fired.load(Ordering::SeqCst), 0);
        drop(a);
        assert_eq!(fired.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_guard_dropped_on_another_thread_completes_there() {
        let scope = ExecutionScope::new();
        let where_ = StdArc::new(StdMutex::new(None));
        let w = where_.clone();
        scope.add_on_complete(move || *w.lock().unwrap() = Some(std::thread::current().id()));
        let g = scope.try_enter().unwrap();
        scope.close();
        let t = std::thread::spawn(move || {
            drop(g);
            std::thread::current().id()
        });
        let tid = t.join().unwrap();
        assert_eq!(*where_.lock().unwrap(), Some(tid));
    }

    #[test]
    fn raw_enter_and_leave_balance_and_reject_underflow() {
        let scope = ExecutionScope::new();
        assert!(!scope.release_raw(), "leave without enter is refused");
        assert!(scope.retain_raw());
        let fired = counter(&scope);
        scope.close();
        assert!(!scope.retain_raw());
        assert!(scope.release_raw());
        assert_eq!(fired.load(Ordering::SeqCst), 1);
        assert!(!scope.release_raw());
    }

    #[test]
    fn a_panicking_callback_does_not_stop_the_others() {
        let scope = ExecutionScope::new();
        scope.add_on_complete(|| panic!("first"));
        let fired = counter(&scope);
        let r = catch_unwind(AssertUnwindSafe(|| scope.close()));
        assert!(r.is_err(), "the panic is re-raised after all callbacks ran");
        assert_eq!(fired.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn many_threads_retain_and_release_while_one_closes() {
        for _ in 0..50 {
            let scope = StdArc::new(ExecutionScope::new());
            let fired = counter(&scope);
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let source = scope.source();
                    std::thread::spawn(move || {
                        let mut entered = 0;
                        for _ in 0..200 {
                            if let Ok(g) = source.try_enter() {
                                let g2 = g.clone();
                                drop(g);
                                drop(g2);
                                entered += 1;
                            }
                        }
                        entered
                    })
                })
                .collect();
            scope.close();
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(scope.active_guards(), 0);
            assert_eq!(fired.load(Ordering::SeqCst), 1);
        }
    }
}
