//! Task dispatchers: where a session runs its work (upstream `DispatchFn`,
//! `ThreadPoolRunner`, `QueueingRunner`; seed `TaskDispatcher.h`).
//!
//! A session dispatches two kinds of task: incoming wrapper-function calls
//! and continuations of executor-to-controller calls. Each task already owns
//! its execution-scope guard, so a dispatcher needs none; a dispatcher that
//! holds one guard for all its work (the seed's pattern) also works, because
//! the session shuts its dispatcher down and drops it before it waits for the
//! scope to drain.
//!
//! Three implementations: [`ThreadPoolDispatcher`] (the default),
//! [`InlineDispatcher`] (runs on the caller) and [`QueueingDispatcher`] (a
//! caller-owned queue that a deterministic scheduler drains).

use std::collections::VecDeque;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::Error;
use crate::sync::{Arc, Condvar, Mutex, lock, thread, wait};

/// A unit of work.
pub type Task = Box<dyn FnOnce() + Send + 'static>;

/// Runs the session's tasks.
///
/// Contract: once [`shutdown`](Self::shutdown) has begun, a dispatcher
/// refuses new tasks: [`try_dispatch`](Self::try_dispatch) hands them back
/// (the session then runs such a task inline, under the guard it owns, so a
/// task accepted by the session is never lost to the race between a guard
/// taken before shutdown and the dispatcher's shutdown), and
/// [`dispatch`](Self::dispatch) drops them (which drops their guards and
/// buffers). When `shutdown` returns, every task accepted before it has run
/// or been dropped, except tasks still running on the calling thread itself
/// (shutdown requested from inside a task must not wait for that task).
pub trait TaskDispatcher: Send + Sync {
    /// Runs `task` now, later, or on another thread; drops it if refused.
    fn dispatch(&self, task: Task);

    /// Like [`dispatch`](Self::dispatch), but gives a refused task back.
    /// The session calls this one. The default accepts everything through
    /// `dispatch`; a dispatcher that can refuse should override it.
    fn try_dispatch(&self, task: Task) -> Result<(), Task> {
        self.dispatch(task);
        Ok(())
    }

    /// Stops accepting tasks and waits until the accepted ones are done.
    /// Called once by the session, during shutdown.
    fn shutdown(&self);
}

/// Runs every task on the caller's thread, inside `dispatch`.
#[derive(Debug, Default, Clone, Copy)]
pub struct InlineDispatcher;

impl TaskDispatcher for InlineDispatcher {
    fn dispatch(&self, task: Task) {
        task();
    }

    fn shutdown(&self) {}
}

struct PoolState {
    queue: VecDeque<Task>,
    shutting_down: bool,
    /// Workers waiting for work: a dispatch wakes one only if there is one
    /// (a condvar notification is a system call even when nobody waits).
    idle: usize,
}

struct PoolShared {
    state: Mutex<PoolState>,
    work: Condvar,
}

/// A fixed pool of worker threads fed from one FIFO queue.
///
/// Shutdown drains the queue (queued tasks still run), then joins the
/// workers; called from one of its own workers it joins the others only
/// after they exit and leaves the caller's thread to finish its task. A
/// panicking task is contained; the worker keeps serving.
pub struct ThreadPoolDispatcher {
    shared: Arc<PoolShared>,
    workers: Mutex<Vec<thread::JoinHandle<()>>>,
    worker_ids: Vec<thread::ThreadId>,
}

impl ThreadPoolDispatcher {
    /// A pool of `workers` threads (at least one).
    pub fn new(workers: usize) -> Result<Self, Error> {
        let shared = Arc::new(PoolShared {
            state: Mutex::new(PoolState {
                queue: VecDeque::new(),
                shutting_down: false,
                idle: 0,
            }),
            work: Condvar::new(),
        });
        let mut handles = Vec::new();
        for i in 0..workers.max(1) {
            let s = shared.clone();
            let handle = thread::Builder::new()
                .name(format!("orc-rt-worker-{i}"))
                .spawn(move || {
                    crate::sys::signals::unblock_inherited_sigpipe();
                    worker(&s)
                })
                .map_err(|e| Error::io("spawning a dispatcher worker thread", e));
            match handle {
                Ok(h) => handles.push(h),
                Err(e) => {
                    // Stop the workers already started before failing.
                    lock(&shared.state).shutting_down = true;
                    shared.work.notify_all();
                    for h in handles {
                        let _ = h.join();
                    }
                    return Err(e);
                }
            }
        }
        let worker_ids = handles.iter().map(|h| h.thread().id()).collect();
        Ok(ThreadPoolDispatcher {
            shared,
            workers: Mutex::new(handles),
            worker_ids,
        })
    }

    /// A pool with one worker per available CPU (the thread-count seam is
    /// [`new`](Self::new); this only picks the number).
    pub fn with_available_parallelism() -> Result<Self, Error> {
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        ThreadPoolDispatcher::new(n)
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.worker_ids.len()
    }

    fn on_worker_thread(&self) -> bool {
        let me = thread::current().id();
        self.worker_ids.contains(&me)
    }
}

fn worker(shared: &PoolShared) {
    let mut state = lock(&shared.state);
    loop {
        if let Some(task) = state.queue.pop_front() {
            drop(state);
            // A panicking task must not take the worker down; the session's
            // own tasks contain and report their panics before this.
            let _ = catch_unwind(AssertUnwindSafe(task));
            state = lock(&shared.state);
        } else if state.shutting_down {
            return;
        } else {
            state.idle += 1;
            state = wait(&shared.work, state);
            state.idle -= 1;
        }
    }
}

impl TaskDispatcher for ThreadPoolDispatcher {
    fn dispatch(&self, task: Task) {
        // Refused: dropped here, outside the lock (its drop may release a
        // guard and run completion callbacks).
        drop(self.try_dispatch(task));
    }

    fn try_dispatch(&self, task: Task) -> Result<(), Task> {
        let mut state = lock(&self.shared.state);
        if state.shutting_down {
            return Err(task);
        }
        state.queue.push_back(task);
        let wake = state.idle > 0;
        drop(state);
        if wake {
            self.shared.work.notify_one();
        }
        Ok(())
    }

    fn shutdown(&self) {
        lock(&self.shared.state).shutting_down = true;
        self.shared.work.notify_all();
        let handles = std::mem::take(&mut *lock(&self.workers));
        let on_worker = self.on_worker_thread();
        let me = thread::current().id();
        for h in handles {
            if on_worker && h.thread().id() == me {
                // Our own thread: it exits after the current task returns.
                continue;
            }
            let _ = h.join();
        }
    }
}

impl Drop for ThreadPoolDispatcher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl fmt::Debug for ThreadPoolDispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPoolDispatcher")
            .field("workers", &self.worker_ids.len())
            .finish()
    }
}

/// What [`QueueingDispatcher::shutdown`] does with tasks still queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueuedAtShutdown {
    /// Run them on the shutting-down thread, FIFO, including tasks they
    /// enqueue (the default: shutdown then needs no one else to drain).
    #[default]
    Run,
    /// Keep them for the owner to drain (a deterministic scheduler that
    /// wants to interleave them with other events).
    Keep,
    /// Drop them (dropping a task drops its guard and buffers).
    Drop,
}

struct QueueState {
    tasks: VecDeque<Task>,
    closed: bool,
    at_shutdown: QueuedAtShutdown,
    dispatched: u64,
}

/// Pushes tasks onto a caller-owned queue; the owner decides when and in
/// which order they run (FIFO or LIFO). Clones share the queue, so the
/// session can own one clone while a deterministic scheduler drains another.
/// Tasks enqueued while draining also run.
#[derive(Clone)]
pub struct QueueingDispatcher {
    state: Arc<Mutex<QueueState>>,
}

impl QueueingDispatcher {
    /// An empty queue whose shutdown runs what is still queued.
    pub fn new() -> Self {
        QueueingDispatcher::with_policy(QueuedAtShutdown::Run)
    }

    /// An empty queue with the given shutdown policy.
    pub fn with_policy(at_shutdown: QueuedAtShutdown) -> Self {
        QueueingDispatcher {
            state: Arc::new(Mutex::new(QueueState {
                tasks: VecDeque::new(),
                closed: false,
                at_shutdown,
                dispatched: 0,
            })),
        }
    }

    /// Tasks waiting to run.
    pub fn len(&self) -> usize {
        lock(&self.state).tasks.len()
    }

    /// True if no task is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tasks accepted so far (a monotonic counter, handy for transcripts).
    pub fn dispatched(&self) -> u64 {
        lock(&self.state).dispatched
    }

    /// True once the session shut the dispatcher down.
    pub fn is_shut_down(&self) -> bool {
        lock(&self.state).closed
    }

    /// Runs the oldest task; false if the queue was empty.
    pub fn run_next(&self) -> bool {
        let task = lock(&self.state).tasks.pop_front();
        task.map(|t| t()).is_some()
    }

    /// Runs the newest task; false if the queue was empty.
    pub fn run_newest(&self) -> bool {
        let task = lock(&self.state).tasks.pop_back();
        task.map(|t| t()).is_some()
    }

    /// Runs tasks oldest first until the queue is empty; returns how many ran.
    pub fn run_all_fifo(&self) -> usize {
        let mut n = 0;
        while self.run_next() {
            n += 1;
        }
        n
    }

    /// Runs tasks newest first until the queue is empty; returns how many ran.
    pub fn run_all_lifo(&self) -> usize {
        let mut n = 0;
        while self.run_newest() {
            n += 1;
        }
        n
    }

    /// Runs the task at `index` (0 = oldest); false if there is none. Lets a
    /// seeded scheduler pick any ready task.
    pub fn run_at(&self, index: usize) -> bool {
        let task = lock(&self.state).tasks.remove(index);
        task.map(|t| t()).is_some()
    }
}

impl Default for QueueingDispatcher {
    fn default() -> Self {
        QueueingDispatcher::new()
    }
}

impl TaskDispatcher for QueueingDispatcher {
    fn dispatch(&self, task: Task) {
        drop(self.try_dispatch(task));
    }

    fn try_dispatch(&self, task: Task) -> Result<(), Task> {
        let mut state = lock(&self.state);
        if state.closed {
            return Err(task);
        }
        state.dispatched += 1;
        state.tasks.push_back(task);
        Ok(())
    }

    fn shutdown(&self) {
        let policy = {
            let mut state = lock(&self.state);
            state.closed = true;
            state.at_shutdown
        };
        match policy {
            QueuedAtShutdown::Run => {
                self.run_all_fifo();
            }
            QueuedAtShutdown::Keep => {}
            QueuedAtShutdown::Drop => {
                let tasks = std::mem::take(&mut lock(&self.state).tasks);
                drop(tasks);
            }
        }
    }
}

impl fmt::Debug for QueueingDispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueingDispatcher")
            .field("queued", &self.len())
            .finish()
    }
}

#[cfg(all(test, not(orc_rt_loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc as StdArc, Mutex as StdMutex};

    #[test]
    fn thread_pool_runs_everything_before_shutdown_returns() {
        let pool = ThreadPoolDispatcher::new(2).unwrap();
        assert_eq!(pool.workers(), 2);
        let ran = StdArc::new(AtomicUsize::new(0));
        for _ in 0..100 {
            let ran = ran.clone();
            pool.dispatch(Box::new(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            }));
        }
        pool.shutdown();
        assert_eq!(ran.load(Ordering::SeqCst), 100);
        // After shutdown a task is dropped, not run.
        let ran2 = ran.clone();
        pool.dispatch(Box::new(move || {
            ran2.fetch_add(1, Ordering::SeqCst);
        }));
        assert_eq!(ran.load(Ordering::SeqCst), 100);
        assert!(
            pool.try_dispatch(Box::new(|| {})).is_err(),
            "refused, handed back"
        );
    }

    #[test]
    fn thread_pool_survives_a_panicking_task() {
        let pool = ThreadPoolDispatcher::new(1).unwrap();
        pool.dispatch(Box::new(|| panic!("task panics")));
        let ran = StdArc::new(AtomicUsize::new(0));
        let r = ran.clone();
        pool.dispatch(Box::new(move || {
            r.fetch_add(1, Ordering::SeqCst);
        }));
        pool.shutdown();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn thread_pool_shutdown_from_its_own_worker_does_not_deadlock() {
        let pool = StdArc::new(ThreadPoolDispatcher::new(2).unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        let p = pool.clone();
        pool.dispatch(Box::new(move || {
            p.shutdown();
            tx.send(()).unwrap();
        }));
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("shutdown from a worker returned");
    }

    #[test]
    fn queueing_runs_fifo_lifo_and_nested_tasks() {
        let q = QueueingDispatcher::with_policy(QueuedAtShutdown::Keep);
        let log = StdArc::new(StdMutex::new(Vec::new()));
        for i in 0..3 {
            let log = log.clone();
            q.dispatch(Box::new(move || log.lock().unwrap().push(i)));
        }
        assert_eq!(q.len(), 3);
        assert!(q.run_newest());
        assert_eq!(q.run_all_fifo(), 2);
        assert_eq!(*log.lock().unwrap(), [2, 0, 1]);
        let (q2, log2) = (q.clone(), log.clone());
        q.dispatch(Box::new(move || {
            let log3 = log2.clone();
            q2.dispatch(Box::new(move || log3.lock().unwrap().push(20)));
            log2.lock().unwrap().push(10);
        }));
        assert_eq!(q.run_all_lifo(), 2);
        assert_eq!(*log.lock().unwrap(), [2, 0, 1, 10, 20]);
        assert_eq!(q.dispatched(), 5);
    }

    #[test]
    fn queueing_shutdown_policies() {
        for (policy, expect_ran, expect_left) in [
            (QueuedAtShutdown::Run, 1, 0),
            (QueuedAtShutdown::Keep, 0, 1),
            (QueuedAtShutdown::Drop, 0, 0),
        ] {
            let q = QueueingDispatcher::with_policy(policy);
            let ran = StdArc::new(AtomicUsize::new(0));
            let r = ran.clone();
            q.dispatch(Box::new(move || {
                r.fetch_add(1, Ordering::SeqCst);
            }));
            q.shutdown();
            assert!(q.is_shut_down());
            assert_eq!(ran.load(Ordering::SeqCst), expect_ran, "{policy:?}");
            assert_eq!(q.len(), expect_left, "{policy:?}");
            q.dispatch(Box::new(|| {
                unreachable!("dispatch after shutdown is dropped")
            }));
            assert_eq!(q.len(), expect_left, "{policy:?}");
            assert!(q.try_dispatch(Box::new(|| {})).is_err(), "{policy:?}");
        }
    }

    #[test]
    fn inline_runs_on_the_caller() {
        let me = std::thread::current().id();
        let seen = StdArc::new(StdMutex::new(None));
        let s = seen.clone();
        InlineDispatcher.dispatch(Box::new(move || {
            *s.lock().unwrap() = Some(std::thread::current().id());
        }));
        assert_eq!(*seen.lock().unwrap(), Some(me));
    }
}
