//! A caller-owned task queue, for deterministic schedulers and for a
//! thread of the embedder's that waits for work ([`QueueingDispatcher::take`]).

use std::collections::VecDeque;
use std::fmt;

use super::{Task, TaskDispatcher};
use crate::sync::{Arc, Condvar, Mutex, MutexGuard, lock, wait};

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
///
/// A thread that owns the work loop can block for the next task
/// ([`take`](Self::take), [`run_next_blocking`](Self::run_next_blocking))
/// until the session shuts the dispatcher down:
///
/// ```
/// use orc_rt::dispatcher::{QueuedAtShutdown, QueueingDispatcher};
/// use orc_rt::Session;
/// let queue = QueueingDispatcher::with_policy(QueuedAtShutdown::Keep);
/// let session = Session::builder()
///     .shared_dispatcher(std::sync::Arc::new(queue.clone()))
///     .build()
///     .unwrap();
/// session.dispatch(|| println!("ran on the loop's thread")).unwrap();
/// let handle = session.handle();
/// session.dispatch(move || handle.shutdown()).unwrap();
/// // The embedder's loop: runs tasks until the session shut the queue down.
/// let mut ran = 0;
/// while queue.run_next_blocking() {
///     ran += 1;
/// }
/// assert_eq!(ran, 2);
/// assert!(queue.is_shut_down());
/// ```
#[derive(Clone)]
pub struct QueueingDispatcher {
    queue: Arc<Queue>,
}

struct Queue {
    state: Mutex<QueueState>,
    /// Signalled when a task arrives and when the queue closes.
    ready: Condvar,
}

impl QueueingDispatcher {
    /// An empty queue whose shutdown runs what is still queued.
    pub fn new() -> Self {
        QueueingDispatcher::with_policy(QueuedAtShutdown::Run)
    }

    /// An empty queue with the given shutdown policy.
    pub fn with_policy(at_shutdown: QueuedAtShutdown) -> Self {
        QueueingDispatcher {
            queue: Arc::new(Queue {
                state: Mutex::new(QueueState {
                    tasks: VecDeque::new(),
                    closed: false,
                    at_shutdown,
                    dispatched: 0,
                }),
                ready: Condvar::new(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, QueueState> {
        lock(&self.queue.state)
    }

    /// Tasks waiting to run.
    pub fn len(&self) -> usize {
        self.state().tasks.len()
    }

    /// True if no task is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tasks accepted so far (a monotonic counter, handy for transcripts).
    pub fn dispatched(&self) -> u64 {
        self.state().dispatched
    }

    /// True once the session shut the dispatcher down.
    pub fn is_shut_down(&self) -> bool {
        self.state().closed
    }

    /// Runs the oldest task; false if the queue was empty.
    pub fn run_next(&self) -> bool {
        let task = self.state().tasks.pop_front();
        task.map(|t| t()).is_some()
    }

    /// Runs the newest task; false if the queue was empty.
    pub fn run_newest(&self) -> bool {
        let task = self.state().tasks.pop_back();
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
        let task = self.state().tasks.remove(index);
        task.map(|t| t()).is_some()
    }

    /// Waits until a task is queued and takes it (oldest first), or returns
    /// `None` once the dispatcher is shut down and nothing is left queued
    /// (tasks kept by [`QueuedAtShutdown::Keep`] are still handed out).
    /// Upstream's drainers poll; this lets an embedder's thread sleep
    /// instead. Several threads may wait at once; each task goes to one.
    ///
    /// Do not wait from a task of this queue when no other thread can
    /// dispatch or shut down: nothing would wake it.
    pub fn take(&self) -> Option<Task> {
        let mut state = self.state();
        loop {
            if let Some(task) = state.tasks.pop_front() {
                return Some(task);
            }
            if state.closed {
                return None;
            }
            state = wait(&self.queue.ready, state);
        }
    }

    /// [`take`](Self::take)s the next task and runs it on this thread;
    /// false once the dispatcher is shut down and drained.
    pub fn run_next_blocking(&self) -> bool {
        self.take().map(|t| t()).is_some()
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
        let mut state = self.state();
        if state.closed {
            return Err(task);
        }
        state.dispatched += 1;
        state.tasks.push_back(task);
        drop(state);
        self.queue.ready.notify_one();
        Ok(())
    }

    fn shutdown(&self) {
        let policy = {
            let mut state = self.state();
            state.closed = true;
            state.at_shutdown
        };
        // Waiters wake to take what is left, or to see the end.
        self.queue.ready.notify_all();
        match policy {
            QueuedAtShutdown::Run => {
                self.run_all_fifo();
            }
            QueuedAtShutdown::Keep => {}
            QueuedAtShutdown::Drop => {
                let tasks = std::mem::take(&mut self.state().tasks);
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

    // Upstream `QueueingRunnerTest.ConcurrentProducerAndDrainer`, with the
    // drainer sleeping in `run_next_blocking` instead of spinning: it sees
    // every task, in order, and stops when the producer shuts the queue.
    #[test]
    fn blocking_drainer_runs_a_concurrent_producers_tasks_in_order() {
        const TASKS: usize = 1024;
        let q = QueueingDispatcher::with_policy(QueuedAtShutdown::Keep);
        let log = StdArc::new(StdMutex::new(Vec::new()));
        let producer = {
            let (q, log) = (q.clone(), log.clone());
            std::thread::spawn(move || {
                for i in 0..TASKS {
                    let log = log.clone();
                    q.dispatch(Box::new(move || log.lock().unwrap().push(i)));
                }
                q.shutdown();
            })
        };
        let mut ran = 0;
        while q.run_next_blocking() {
            ran += 1;
        }
        producer.join().unwrap();
        assert_eq!(ran, TASKS);
        assert_eq!(*log.lock().unwrap(), (0..TASKS).collect::<Vec<_>>());
        assert!(q.take().is_none(), "stays ended");
    }

    #[test]
    fn take_hands_out_kept_tasks_after_shutdown_then_ends() {
        for (policy, expect_taken) in [
            (QueuedAtShutdown::Keep, 2),
            (QueuedAtShutdown::Drop, 0),
            (QueuedAtShutdown::Run, 0),
        ] {
            let q = QueueingDispatcher::with_policy(policy);
            let ran = StdArc::new(AtomicUsize::new(0));
            for _ in 0..2 {
                let r = ran.clone();
                q.dispatch(Box::new(move || {
                    r.fetch_add(1, Ordering::SeqCst);
                }));
            }
            q.shutdown();
            let mut taken = 0;
            while let Some(task) = q.take() {
                task();
                taken += 1;
            }
            assert_eq!(taken, expect_taken, "{policy:?}");
            let expect_ran = if policy == QueuedAtShutdown::Drop {
                0
            } else {
                2
            };
            assert_eq!(ran.load(Ordering::SeqCst), expect_ran, "{policy:?}");
        }
    }

    #[test]
    fn a_waiting_taker_wakes_for_a_task_and_for_shutdown() {
        let q = QueueingDispatcher::with_policy(QueuedAtShutdown::Keep);
        let taker = {
            let q = q.clone();
            std::thread::spawn(move || {
                let first = q.take().map(|t| t());
                (first.is_some(), q.take().is_none())
            })
        };
        let flag = StdArc::new(AtomicUsize::new(0));
        let f = flag.clone();
        q.dispatch(Box::new(move || {
            f.store(7, Ordering::SeqCst);
        }));
        // Whether the taker is already asleep or not, it gets the task,
        // then sleeps until the shutdown wakes it.
        q.shutdown();
        assert_eq!(taker.join().unwrap(), (true, true));
        assert_eq!(flag.load(Ordering::SeqCst), 7);
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
}
