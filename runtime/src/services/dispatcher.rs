//! Task dispatchers for executors (FIXME(unify): they belong next to the
//! session's dispatchers).
//!
//! [`ThreadPerTaskDispatcher`] is what LLVM's executor does and what the
//! executor binary uses: every incoming call runs on a fresh thread, which
//! exits when the call is done. JIT'd code depends on that: thread-local
//! storage starts fresh for every call, and the destructors JIT'd code
//! registers for its thread-local data (the ORC runtime does, through
//! `pthread_key_create`) run when the call's thread exits, while the code
//! is still mapped. A pooled worker would keep those destructors until the
//! controller had released the code they live in, then crash on exit.
//!
//! [`ElasticDispatcher`] is a thread pool that never runs out of threads,
//! for tasks that never run JIT'd code.
//!
//! Tasks of an executor may block for as long as they like: `run_as_main`
//! runs a whole program, and JIT'd code waiting for the controller (lazy
//! linking, the ORC runtime's initializer calls) blocks its thread while the
//! controller may call back into the executor. A fixed pool deadlocks once
//! every worker waits; LLVM's executor starts a thread per call. This pool
//! reuses idle workers and starts a new one whenever none is idle, so it
//! costs a thread start only when the load grows; idle workers beyond a
//! small reserve exit after a while.

use std::collections::VecDeque;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::Duration;

use crate::dispatcher::{Task, TaskDispatcher};

use super::lock;

struct State {
    queue: VecDeque<Task>,
    /// Workers waiting for work.
    idle: usize,
    /// Live workers, by thread id.
    workers: Vec<ThreadId>,
    /// Every worker ever started and not joined yet. Threads are joined, not
    /// detached: a thread's exit runs its TLS destructors (JIT'd code
    /// registers some, e.g. the ORC runtime's), which must finish before the
    /// session releases the memory they live in.
    handles: Vec<JoinHandle<()>>,
    shutting_down: bool,
}

struct Pool {
    state: Mutex<State>,
    work: Condvar,
    exited: Condvar,
    stack_size: usize,
    idle_timeout: Duration,
    reserve: usize,
}

/// A thread pool that grows on demand (see the module docs).
pub struct ElasticDispatcher {
    pool: Arc<Pool>,
}

impl fmt::Debug for ElasticDispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.pool.state);
        f.debug_struct("ElasticDispatcher")
            .field("workers", &st.workers.len())
            .field("idle", &st.idle)
            .field("queued", &st.queue.len())
            .finish()
    }
}

impl Default for ElasticDispatcher {
    fn default() -> Self {
        ElasticDispatcher::new()
    }
}

impl ElasticDispatcher {
    /// A pool whose threads have the stack size a C program's threads get
    /// (`RLIMIT_STACK`, as glibc's default for pthreads), keeping two idle
    /// workers and retiring others after ten idle seconds.
    pub fn new() -> Self {
        ElasticDispatcher::with_options(
            crate::sys::default_thread_stack_size(),
            2,
            Duration::from_secs(10),
        )
    }

    /// A pool with explicit worker stack size, idle reserve and idle timeout.
    pub fn with_options(stack_size: usize, reserve: usize, idle_timeout: Duration) -> Self {
        ElasticDispatcher {
            pool: Arc::new(Pool {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    idle: 0,
                    workers: Vec::new(),
                    handles: Vec::new(),
                    shutting_down: false,
                }),
                work: Condvar::new(),
                exited: Condvar::new(),
                stack_size,
                idle_timeout,
                reserve,
            }),
        }
    }

    /// Live worker threads.
    pub fn workers(&self) -> usize {
        lock(&self.pool.state).workers.len()
    }

    /// Worker threads waiting for work.
    pub fn idle_workers(&self) -> usize {
        lock(&self.pool.state).idle
    }
}

fn worker(pool: Arc<Pool>) {
    let me = thread::current().id();
    let mut st = lock(&pool.state);
    loop {
        if let Some(task) = st.queue.pop_front() {
            drop(st);
            // Session tasks contain their own panics; this keeps the worker.
            let _ = catch_unwind(AssertUnwindSafe(task));
            st = lock(&pool.state);
            continue;
        }
        if st.shutting_down {
            break;
        }
        st.idle += 1;
        let (guard, timeout) = pool
            .work
            .wait_timeout(st, pool.idle_timeout)
            .unwrap_or_else(|p| p.into_inner());
        st = guard;
        st.idle -= 1;
        if timeout.timed_out() && st.queue.is_empty() && st.idle >= pool.reserve {
            break;
        }
    }
    st.workers.retain(|id| *id != me);
    drop(st);
    pool.exited.notify_all();
}

impl TaskDispatcher for ElasticDispatcher {
    fn dispatch(&self, task: Task) {
        drop(self.try_dispatch(task));
    }

    /// Refused once shutdown began: the task goes back to the session,
    /// which runs it inline under the guard it already owns.
    fn try_dispatch(&self, task: Task) -> Result<(), Task> {
        let mut st = lock(&self.pool.state);
        if st.shutting_down {
            return Err(task);
        }
        st.queue.push_back(task);
        if st.idle >= st.queue.len() {
            drop(st);
            self.pool.work.notify_one();
            return Ok(());
        }
        // Reap workers that retired since (their exit is complete or nearly).
        let mut i = 0;
        while i < st.handles.len() {
            if st.handles[i].is_finished() {
                let _ = st.handles.swap_remove(i).join();
                crate::sys::live::DISPATCH_THREADS.down();
            } else {
                i += 1;
            }
        }
        let pool = self.pool.clone();
        let spawned = thread::Builder::new()
            .name("orc-rt-worker".into())
            .stack_size(self.pool.stack_size)
            .spawn(move || {
                crate::sys::signals::unblock_inherited_sigpipe();
                worker(pool)
            });
        match spawned {
            Ok(handle) => {
                crate::sys::live::DISPATCH_THREADS.up();
                st.workers.push(handle.thread().id());
                st.handles.push(handle);
            }
            Err(e) => {
                // Out of threads: the task waits for a busy worker, if any.
                tracing::error!("cannot start a worker thread: {e}");
                if st.workers.is_empty()
                    && let Some(task) = st.queue.pop_back()
                {
                    return Err(task);
                }
            }
        }
        Ok(())
    }

    fn shutdown(&self) {
        let me = thread::current().id();
        let mut st = lock(&self.pool.state);
        st.shutting_down = true;
        self.pool.work.notify_all();
        // Every accepted task runs; a worker shutting the pool down from
        // inside a task does not wait for itself.
        while st.workers.iter().any(|id| *id != me)
            || (!st.queue.is_empty() && !st.workers.contains(&me))
        {
            if st.workers.is_empty() {
                // Nobody left to run queued tasks: run them here.
                let task = st.queue.pop_front();
                drop(st);
                if let Some(task) = task {
                    let _ = catch_unwind(AssertUnwindSafe(task));
                }
                st = lock(&self.pool.state);
                continue;
            }
            st = self.pool.exited.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        // Wait for the threads' exits to complete, TLS destructors included.
        let handles = std::mem::take(&mut st.handles);
        drop(st);
        for h in handles {
            if h.thread().id() != me {
                let _ = h.join();
            }
            // Our own thread (shutdown from inside a task) is not joined:
            // it ends as soon as its task returns.
            crate::sys::live::DISPATCH_THREADS.down();
        }
    }
}

impl Drop for ElasticDispatcher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

thread_local! {
    /// Set while [`with_inline_dispatch`] runs on this thread.
    static INLINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Set while a [`ThreadPerTaskDispatcher`] runs a task inline, on the
    /// thread that dispatched it.
    static RUNNING_INLINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is running a task inline because of
/// [`with_inline_dispatch`] (i.e. on the transport's reader thread). A
/// handler that finds out only from its arguments that it must run foreign
/// code (alloc actions) checks this and then moves its work to a thread of
/// its own (`SessionHandle::dispatch`, which starts one from here).
pub fn running_inline() -> bool {
    RUNNING_INLINE.with(|i| i.get())
}

/// Runs `f`; a task that `f` makes this thread dispatch (through a
/// [`ThreadPerTaskDispatcher`]) runs right here, inline, instead of on a new
/// thread. A transport wraps its hand-off of a call it knows to be quick,
/// non-blocking and free of JIT'd code in this (the executor services list
/// theirs in `ExecutorServices::inline_safe`): such a call then costs no
/// thread at all. Dispatchers that know nothing of the hint ignore it.
pub fn with_inline_dispatch<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            INLINE.with(|i| i.set(self.0));
        }
    }
    let _reset = Reset(INLINE.with(|i| i.replace(true)));
    f()
}

/// Runs every task on a new thread (see the module docs), except inside
/// [`with_inline_dispatch`]. Threads are
/// joined, never detached, so shutdown returns only after every task's
/// thread has completely exited, thread-local destructors included.
pub struct ThreadPerTaskDispatcher {
    state: Arc<Mutex<PerTaskState>>,
    stack_size: usize,
}

struct PerTaskState {
    handles: Vec<JoinHandle<()>>,
    shutting_down: bool,
}

impl fmt::Debug for ThreadPerTaskDispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPerTaskDispatcher")
            .field("threads", &lock(&self.state).handles.len())
            .finish()
    }
}

impl Default for ThreadPerTaskDispatcher {
    fn default() -> Self {
        ThreadPerTaskDispatcher::new()
    }
}

impl ThreadPerTaskDispatcher {
    /// Threads with the stack size a C program's threads get.
    pub fn new() -> Self {
        ThreadPerTaskDispatcher::with_stack_size(crate::sys::default_thread_stack_size())
    }

    /// Threads with `stack_size` bytes of stack.
    pub fn with_stack_size(stack_size: usize) -> Self {
        ThreadPerTaskDispatcher {
            state: Arc::new(Mutex::new(PerTaskState {
                handles: Vec::new(),
                shutting_down: false,
            })),
            stack_size,
        }
    }

    /// Threads started and not yet joined.
    pub fn threads(&self) -> usize {
        lock(&self.state).handles.len()
    }
}

impl TaskDispatcher for ThreadPerTaskDispatcher {
    fn dispatch(&self, task: Task) {
        drop(self.try_dispatch(task));
    }

    /// Refused once shutdown began: the task goes back to the session,
    /// which runs it inline under the guard it already owns.
    fn try_dispatch(&self, task: Task) -> Result<(), Task> {
        if INLINE.with(|i| i.get()) && !lock(&self.state).shutting_down {
            // Not re-entrant: a task it starts is dispatched normally.
            INLINE.with(|i| i.set(false));
            let outer = RUNNING_INLINE.with(|i| i.replace(true));
            let _ = catch_unwind(AssertUnwindSafe(task));
            RUNNING_INLINE.with(|i| i.set(outer));
            INLINE.with(|i| i.set(true));
            return Ok(());
        }
        let mut st = lock(&self.state);
        if st.shutting_down {
            return Err(task);
        }
        // Join threads whose task is done, so handles do not pile up.
        let mut i = 0;
        while i < st.handles.len() {
            if st.handles[i].is_finished() {
                let _ = st.handles.swap_remove(i).join();
                crate::sys::live::DISPATCH_THREADS.down();
            } else {
                i += 1;
            }
        }
        // The task goes into a slot the thread takes it from, so that a
        // failed spawn leaves it with us.
        let slot = Arc::new(Mutex::new(Some(task)));
        let theirs = slot.clone();
        let spawned = thread::Builder::new()
            .name("orc-rt-call".into())
            .stack_size(self.stack_size)
            .spawn(move || {
                // Started by the wire reader, which keeps SIGPIPE blocked.
                crate::sys::signals::unblock_inherited_sigpipe();
                if let Some(task) = lock(&theirs).take() {
                    let _ = catch_unwind(AssertUnwindSafe(task));
                }
            });
        match spawned {
            Ok(handle) => {
                crate::sys::live::DISPATCH_THREADS.up();
                st.handles.push(handle);
            }
            Err(e) => {
                // Out of threads: run it here rather than lose the call (the
                // caller is blocked meanwhile, but every call gets its result).
                drop(st);
                tracing::error!("cannot start a thread for a call ({e}); running it inline");
                if let Some(task) = lock(&slot).take() {
                    let _ = crate::sys::signals::with_program_sigpipe(|| {
                        catch_unwind(AssertUnwindSafe(task))
                    });
                }
            }
        }
        Ok(())
    }

    fn shutdown(&self) {
        let me = thread::current().id();
        let handles = {
            let mut st = lock(&self.state);
            st.shutting_down = true;
            std::mem::take(&mut st.handles)
        };
        for h in handles {
            if h.thread().id() != me {
                let _ = h.join();
            }
            // Our own thread (shutdown from inside a task) is not joined:
            // it ends as soon as its task returns.
            crate::sys::live::DISPATCH_THREADS.down();
        }
    }
}

impl Drop for ThreadPerTaskDispatcher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn tasks_offered_after_shutdown_are_handed_back() {
        let dispatchers: [Box<dyn TaskDispatcher>; 2] = [
            Box::new(ElasticDispatcher::with_options(
                256 * 1024,
                0,
                Duration::from_secs(1),
            )),
            Box::new(ThreadPerTaskDispatcher::new()),
        ];
        for d in dispatchers {
            d.shutdown();
            let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flag = ran.clone();
            let refused = d
                .try_dispatch(Box::new(move || {
                    flag.store(true, std::sync::atomic::Ordering::SeqCst)
                }))
                .expect_err("a dispatcher that shut down refuses new tasks");
            refused();
            assert!(
                ran.load(std::sync::atomic::Ordering::SeqCst),
                "the task came back intact"
            );
        }
    }

    #[test]
    fn blocked_tasks_never_starve_new_ones() {
        let d = ElasticDispatcher::with_options(256 * 1024, 1, Duration::from_millis(50));
        // Ten tasks that each wait until all ten run: a fixed pool smaller
        // than ten would deadlock here.
        let barrier = Arc::new(std::sync::Barrier::new(10));
        let (tx, rx) = mpsc::channel::<usize>();
        for i in 0..10 {
            let (tx, barrier) = (tx.clone(), barrier.clone());
            d.dispatch(Box::new(move || {
                barrier.wait();
                tx.send(i).unwrap();
            }));
        }
        let mut done: Vec<usize> = (0..10)
            .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        done.sort_unstable();
        assert_eq!(done, (0..10).collect::<Vec<_>>());
        d.shutdown();
        assert_eq!(d.workers(), 0);
    }

    #[test]
    fn each_task_gets_a_fresh_thread_whose_exit_completes_before_shutdown_returns() {
        thread_local! {
            static SEEN: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
        }
        /// Records its drop, like a TLS destructor JIT'd code registers.
        struct OnExit(mpsc::Sender<&'static str>);
        impl Drop for OnExit {
            fn drop(&mut self) {
                let _ = self.0.send("tls destructor");
            }
        }
        thread_local! {
            static GUARD: std::cell::RefCell<Option<OnExit>> = const { std::cell::RefCell::new(None) };
        }
        let d = ThreadPerTaskDispatcher::with_stack_size(256 * 1024);
        let (tx, rx) = mpsc::channel();
        for _ in 0..3 {
            let tx = tx.clone();
            d.dispatch(Box::new(move || {
                let fresh = SEEN.with(|s| {
                    s.set(s.get() + 1);
                    s.get() == 1
                });
                GUARD.with(|g| *g.borrow_mut() = Some(OnExit(tx.clone())));
                tx.send(if fresh { "fresh" } else { "reused" }).unwrap();
            }));
        }
        d.shutdown();
        drop(tx);
        let events: Vec<&str> = rx.iter().collect();
        assert_eq!(
            events.iter().filter(|e| **e == "fresh").count(),
            3,
            "{events:?}"
        );
        assert_eq!(
            events.iter().filter(|e| **e == "tls destructor").count(),
            3,
            "{events:?}"
        );
        assert_eq!(d.threads(), 0);
    }

    #[test]
    fn a_task_dispatched_inside_with_inline_dispatch_runs_on_the_caller() {
        let d = ThreadPerTaskDispatcher::with_stack_size(256 * 1024);
        let here = thread::current().id();
        let (tx, rx) = mpsc::channel();
        let tx2 = tx.clone();
        with_inline_dispatch(|| {
            d.dispatch(Box::new(move || tx.send(thread::current().id()).unwrap()))
        });
        assert_eq!(rx.recv().unwrap(), here);
        d.dispatch(Box::new(move || tx2.send(thread::current().id()).unwrap()));
        assert_ne!(rx.recv().unwrap(), here, "outside the hint: a new thread");
        d.shutdown();
    }

    #[test]
    fn idle_workers_are_reused_and_retired() {
        let d = ElasticDispatcher::with_options(256 * 1024, 0, Duration::from_millis(20));
        for i in 0..5 {
            if i > 0 {
                // The worker signals before it goes idle: wait until it has,
                // or the next task may (correctly) start a second worker.
                let deadline = std::time::Instant::now() + Duration::from_secs(5);
                while d.idle_workers() == 0 && std::time::Instant::now() < deadline {
                    thread::yield_now();
                }
            }
            let (tx, rx) = mpsc::channel();
            d.dispatch(Box::new(move || tx.send(()).unwrap()));
            rx.recv().unwrap();
        }
        assert!(d.workers() <= 2, "sequential tasks reuse the idle worker");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while d.workers() > 0 && std::time::Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(d.workers(), 0, "idle workers beyond the reserve retire");
    }

    #[test]
    fn shutdown_runs_queued_tasks_and_drops_late_ones() {
        let d = ElasticDispatcher::with_options(256 * 1024, 1, Duration::from_secs(1));
        let (tx, rx) = mpsc::channel();
        for i in 0..20 {
            let tx = tx.clone();
            d.dispatch(Box::new(move || tx.send(i).unwrap()));
        }
        d.shutdown();
        assert_eq!(rx.try_iter().count(), 20);
        let (tx2, rx2) = mpsc::channel::<()>();
        d.dispatch(Box::new(move || tx2.send(()).unwrap()));
        assert!(
            rx2.recv().is_err(),
            "a task after shutdown is dropped, not run"
        );
    }
}
