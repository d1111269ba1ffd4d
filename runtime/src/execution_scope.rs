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
//! Cost: one atomic read-modify-write to enter and one to leave. A single
//! 64-bit word holds the closed and completed flags, the guard count and the
//! count of scope handles; guards and handles together keep the allocation
//! alive (an `Arc` per guard would double the atomic operations).
//!
//! **Invariant:** no guard can be acquired after [`ExecutionScope::close`]
//! (upstream learnt this: the seed's guards could not fail, so code kept
//! entering a dying session). A guard covers one synchronous span on one
//! stack: deferred work must take its own guard when it runs and give up if
//! that fails.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::ptr::NonNull;

use crate::error::{Error, ErrorKind};
use crate::sync::{
    Arc, Mutex,
    atomic::{AtomicU64, AtomicUsize, Ordering},
    lock,
};

/// The scope was closed: acquisitions fail.
const CLOSED: u64 = 1;
/// Completion was claimed (by the closer or the last releaser): it happens once.
const COMPLETED: u64 = 2;
/// One guard; guards live in bits 2..33.
const GUARD_ONE: u64 = 1 << 2;
const GUARD_MASK: u64 = ((1 << 31) - 1) << 2;
/// One handle (`ExecutionScope`, `ExecutionScopeSource`, or a completer's
/// temporary reference); handles live in bits 33..64.
const HANDLE_ONE: u64 = 1 << 33;
const HANDLE_MASK: u64 = !((1 << 33) - 1);
const COUNTS: u64 = GUARD_MASK | HANDLE_MASK;

type Callback = Box<dyn FnOnce() + Send + 'static>;
/// What owns the scope (a session's handle), reachable from its guards.
type Owner = Box<dyn std::any::Any + Send + Sync>;

struct Inner {
    /// `CLOSED | COMPLETED | guards * GUARD_ONE | handles * HANDLE_ONE`.
    /// Whoever brings both counts to zero frees the allocation.
    state: AtomicU64,
    completion: Mutex<Completion>,
}

struct Completion {
    done: bool,
    callbacks: Vec<Callback>,
    /// Kept until completion: only guards reach it, and none exists after.
    /// (A session's handle here makes a cycle that completion breaks.)
    owner: Option<Owner>,
}

fn guards(word: u64) -> u64 {
    (word & GUARD_MASK) / GUARD_ONE
}

/// A counted reference to the scope's allocation: one handle count.
struct HandleRef {
    ptr: NonNull<Inner>,
}

// SAFETY: `Inner` is Sync (atomics and a mutex), and the reference counting
// is atomic, so the counted pointer may move to and be shared by any thread.
unsafe impl Send for HandleRef {}
// SAFETY: as above.
unsafe impl Sync for HandleRef {}

impl HandleRef {
    fn new() -> Self {
        let inner = Box::new(Inner {
            state: AtomicU64::new(HANDLE_ONE),
            completion: Mutex::new(Completion {
                done: false,
                callbacks: Vec::new(),
                owner: None,
            }),
        });
        HandleRef {
            ptr: NonNull::from(Box::leak(inner)),
        }
    }

    fn inner(&self) -> &Inner {
        // SAFETY: our handle count keeps the allocation alive.
        unsafe { self.ptr.as_ref() }
    }
}

impl Clone for HandleRef {
    fn clone(&self) -> Self {
        // Relaxed, like `Arc::clone`: we already hold a count.
        let prev = self.inner().state.fetch_add(HANDLE_ONE, Ordering::Relaxed);
        if prev & HANDLE_MASK == HANDLE_MASK {
            std::process::abort(); // 2^31 handles: a leak, as Arc aborts
        }
        HandleRef { ptr: self.ptr }
    }
}

impl Drop for HandleRef {
    fn drop(&mut self) {
        // SAFETY: we own one handle count of a live allocation.
        unsafe { release_handle(self.ptr) };
    }
}

/// Gives back one handle count; frees the allocation if it was the last
/// count of any kind.
///
/// # Safety
/// The caller owns one handle count of the live allocation at `ptr`.
unsafe fn release_handle(ptr: NonNull<Inner>) {
    // SAFETY: (caller) alive until our count is gone.
    let prev = unsafe { ptr.as_ref() }
        .state
        .fetch_sub(HANDLE_ONE, Ordering::AcqRel);
    if (prev - HANDLE_ONE) & COUNTS == 0 {
        // SAFETY: no count is left, so nobody else can reach the allocation;
        // AcqRel ordered every earlier use before this.
        drop(unsafe { Box::from_raw(ptr.as_ptr()) });
    }
}

impl Inner {
    /// Takes one guard count unless the scope is closed.
    #[inline]
    fn retain(&self) -> bool {
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            if cur & CLOSED != 0 || cur & GUARD_MASK == GUARD_MASK {
                return false;
            }
            // Acquire pairs with the release in `close`: a guard that
            // succeeded was ordered before the close that follows it.
            match self.state.compare_exchange_weak(
                cur,
                cur + GUARD_ONE,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Closes the scope (idempotent); completes it if no guard is held.
    /// The caller holds a handle, which keeps the allocation alive.
    fn close(&self) {
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            if cur & CLOSED != 0 {
                return;
            }
            let complete = guards(cur) == 0;
            let new = cur | CLOSED | if complete { COMPLETED } else { 0 };
            match self
                .state
                .compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    if complete {
                        self.complete();
                    }
                    return;
                }
                Err(actual) => cur = actual,
            }
        }
    }

    /// Runs the completion callbacks, in registration order, after dropping
    /// the lock. Called exactly once: by whoever set `COMPLETED`.
    fn complete(&self) {
        let (callbacks, owner) = {
            let mut c = lock(&self.completion);
            debug_assert!(!c.done, "execution scope completed twice");
            c.done = true;
            (std::mem::take(&mut c.callbacks), c.owner.take())
        };
        run_all(callbacks);
        drop(owner);
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
        guards(self.state.load(Ordering::Acquire)) as usize
    }

    fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }

    fn is_complete(&self) -> bool {
        lock(&self.completion).done
    }
}

/// Gives back one guard count. The last one after `close` completes the
/// scope (holding a temporary handle count meanwhile); the last count of any
/// kind frees the allocation.
///
/// # Safety
/// The caller owns one guard count of the live allocation at `ptr`.
#[inline]
unsafe fn release_guard(ptr: NonNull<Inner>) {
    // SAFETY: (caller) alive until our count is gone.
    let state = &unsafe { ptr.as_ref() }.state;
    // Injected bug (loom model `loom_scope`): decide "was the scope
    // closed?" from a load made before the decrement instead of from the
    // word the decrement replaces. A `close` that lands in between sees a
    // guard still held and leaves completion to us, and we think the scope
    // is still open: nobody completes it and shutdown waits forever.
    let stale_closed = cfg!(orc_rt_loom_bug = "scope_release_races_close")
        .then(|| state.load(Ordering::Acquire) & CLOSED != 0);
    let mut cur = state.load(Ordering::Relaxed);
    loop {
        debug_assert!(
            guards(cur) > 0,
            "execution scope released more often than retained"
        );
        let last = guards(cur) == 1;
        let closed = stale_closed.unwrap_or(cur & CLOSED != 0);
        let complete = last && closed && cur & COMPLETED == 0;
        let new = if complete {
            // Trade the guard for a temporary handle so the allocation
            // outlives the callbacks.
            (cur - GUARD_ONE + HANDLE_ONE) | COMPLETED
        } else {
            cur - GUARD_ONE
        };
        // AcqRel: everything the guard holder did happens before the
        // completion callbacks (or the free) that follow.
        match state.compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => {
                if complete {
                    // SAFETY: our temporary handle keeps it alive.
                    let ran = catch_unwind(AssertUnwindSafe(|| unsafe { ptr.as_ref() }.complete()));
                    // SAFETY: we own the temporary handle count.
                    unsafe { release_handle(ptr) };
                    if let Err(payload) = ran {
                        resume_unwind(payload);
                    }
                } else if new & COUNTS == 0 {
                    // SAFETY: no count is left: nobody else can reach it.
                    drop(unsafe { Box::from_raw(ptr.as_ptr()) });
                }
                return;
            }
            Err(actual) => cur = actual,
        }
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

#[inline]
fn retain_from(handle: &HandleRef) -> Option<ExecutionScopeGuard> {
    if handle.inner().retain() {
        Some(ExecutionScopeGuard {
            ptr: Some(handle.ptr),
            taken_by: None,
        })
    } else {
        None
    }
}

/// A keepalive group: the owner's handle, which can close it.
///
/// A [`Session`](crate::Session) owns one and hands out only
/// [`ExecutionScopeSource`]s and guards; standalone scopes are useful in tests
/// and in services that want the same discipline for their own work.
pub struct ExecutionScope {
    handle: HandleRef,
}

impl ExecutionScope {
    /// An open scope with no guard.
    pub fn new() -> Self {
        ExecutionScope {
            handle: HandleRef::new(),
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
        retain_from(&self.handle)
    }

    /// Runs `f` under a fresh guard; `None` (and `f` not called) once closed.
    pub fn call_with_keepalive<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        let _guard = self.retain()?;
        Some(f())
    }

    /// A handle that can acquire guards but not close the scope; it holds
    /// no guard count, so it never delays completion (upstream `TokenSource`).
    pub fn source(&self) -> ExecutionScopeSource {
        ExecutionScopeSource {
            handle: self.handle.clone(),
        }
    }

    /// Closes the scope (idempotent): from now on every acquisition fails.
    /// If no guard is held the completion callbacks run now, on this thread.
    pub fn close(&self) {
        self.handle.inner().close();
    }

    /// Registers `callback` to run once the scope is closed and drained.
    /// Runs it now, on this thread, if that has already happened.
    pub fn add_on_complete(&self, callback: impl FnOnce() + Send + 'static) {
        self.handle.inner().add_on_complete(Box::new(callback));
    }

    /// True once [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.handle.inner().is_closed()
    }

    /// True once the completion callbacks have started.
    pub fn is_complete(&self) -> bool {
        self.handle.inner().is_complete()
    }

    /// Guards currently held (a snapshot; for diagnostics and tests).
    pub fn active_guards(&self) -> usize {
        self.handle.inner().count()
    }

    /// Links the scope to its owner until completion, for
    /// [`ExecutionScopeGuard::session`]. Ignored once complete.
    pub(crate) fn set_owner(&self, owner: Owner) {
        let mut c = lock(&self.handle.inner().completion);
        if !c.done {
            c.owner = Some(owner);
        }
    }

    /// Takes a count without a guard object (the C API's enter/leave pair).
    pub(crate) fn retain_raw(&self) -> bool {
        self.retain().map(std::mem::forget).is_some()
    }

    /// Gives back a count taken with [`retain_raw`](Self::retain_raw).
    /// Returns false (and changes nothing) if no guard count is held, so
    /// that an unbalanced leave from C is reported instead of corrupting the
    /// count. (A leave racing the last legitimate one can still slip
    /// through: C must pair its calls.)
    pub(crate) fn release_raw(&self) -> bool {
        if self.active_guards() == 0 {
            return false;
        }
        // SAFETY: a count is held (checked above; C promised it is one of
        // its own), and our handle keeps the allocation alive.
        unsafe { release_guard(self.handle.ptr) };
        true
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

/// Acquires guards of a scope it cannot close (upstream `TokenSource`).
#[derive(Clone)]
pub struct ExecutionScopeSource {
    handle: HandleRef,
}

impl ExecutionScopeSource {
    /// Acquires a guard; fails with [`ErrorKind::ShuttingDown`] once closed.
    #[inline]
    pub fn try_enter(&self) -> Result<ExecutionScopeGuard, Error> {
        retain_from(&self.handle).ok_or_else(closed_error)
    }

    /// Runs `f` under a fresh guard; `None` (and `f` not called) once closed.
    pub fn call_with_keepalive<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        let _guard = retain_from(&self.handle)?;
        Some(f())
    }

    /// True once the scope was closed (new guards fail).
    pub fn is_closed(&self) -> bool {
        self.handle.inner().is_closed()
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
    /// The scope, kept alive by this guard's count; `None` when empty.
    ptr: Option<NonNull<Inner>>,
    /// The count of live guards a thread took from a session
    /// (the session's `try_enter_scope`), this one
    /// included: that thread must not wait for the session's shutdown.
    taken_by: Option<Arc<AtomicUsize>>,
}

// SAFETY: the guard owns one count of a Sync allocation; releasing it from
// any thread is what the atomic protocol is for.
unsafe impl Send for ExecutionScopeGuard {}
// SAFETY: `&ExecutionScopeGuard` only allows cloning (an atomic retain).
unsafe impl Sync for ExecutionScopeGuard {}

impl ExecutionScopeGuard {
    /// A guard that holds nothing.
    pub fn empty() -> Self {
        ExecutionScopeGuard {
            ptr: None,
            taken_by: None,
        }
    }

    /// Counts this guard in `count` until it is dropped, wherever that is.
    pub(crate) fn counted_in(mut self, count: Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        self.taken_by = Some(count);
        self
    }

    /// True if the guard holds a count.
    pub fn is_held(&self) -> bool {
        self.ptr.is_some()
    }

    /// Acquires an independent count of the same scope; fails with
    /// [`ErrorKind::ShuttingDown`] once the scope is closed (or if this
    /// guard is empty).
    pub fn try_clone(&self) -> Result<Self, Error> {
        match self.ptr {
            // SAFETY: our count keeps the allocation alive.
            Some(ptr) if unsafe { ptr.as_ref() }.retain() => {
                let clone = ExecutionScopeGuard {
                    ptr: Some(ptr),
                    taken_by: None,
                };
                // A clone counts for the thread its source was taken on.
                Ok(match &self.taken_by {
                    Some(count) => clone.counted_in(count.clone()),
                    None => clone,
                })
            }
            _ => Err(closed_error()),
        }
    }

    /// Releases the count now (the same as dropping the guard).
    pub fn release(self) {}

    /// The scope's owner, if it is a `T` (the session's accessor,
    /// `ExecutionScopeGuard::session`, is defined by the session).
    pub(crate) fn owner<T: Clone + 'static>(&self) -> Option<T> {
        // SAFETY: our count keeps the allocation alive.
        let inner = unsafe { self.ptr?.as_ref() };
        let c = lock(&inner.completion);
        c.owner.as_ref()?.downcast_ref::<T>().cloned()
    }
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
        if let Some(count) = self.taken_by.take() {
            count.fetch_sub(1, Ordering::AcqRel);
        }
        if let Some(ptr) = self.ptr.take() {
            // SAFETY: we own one guard count of the live allocation.
            unsafe { release_guard(ptr) };
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
    fn guards_and_sources_outlive_the_scope_handle() {
        let scope = ExecutionScope::new();
        let fired = counter(&scope);
        let g = scope.try_enter().unwrap();
        let src = scope.source();
        scope.close();
        drop(scope);
        assert!(!g.clone().is_held());
        assert!(src.is_closed());
        drop(src);
        // The guard is now the last reference: dropping it completes the
        // scope and frees it (valgrind/ASan see no leak and no stale read).
        drop(g);
        assert_eq!(fired.load(Ordering::SeqCst), 1);
        // A scope never closed is freed by its last guard too.
        let scope = ExecutionScope::new();
        let g = scope.try_enter().unwrap();
        drop(scope);
        drop(g);
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
