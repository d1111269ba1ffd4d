//! A caller-owned task queue, for deterministic schedulers.

use std::collections::VecDeque;
use std::fmt;

use super::{Task, TaskDispatcher};
use crate::sync::{Arc, Mutex, lock};

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
}
