//! A fixed pool of worker threads fed from one FIFO queue.

use std::collections::VecDeque;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::spawner::join_all_but_current;
use super::{Task, TaskDispatcher, ThreadSpawner};
use crate::error::Error;
use crate::sync::{Arc, Condvar, Mutex, lock, thread, wait};

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
    size: usize,
}

impl ThreadPoolDispatcher {
    /// A pool of `workers` threads (at least one).
    pub fn new(workers: usize) -> Result<Self, Error> {
        ThreadPoolDispatcher::with_spawner(workers, &ThreadSpawner::default())
    }

    /// A pool of `workers` threads (at least one) started by `spawner`.
    pub fn with_spawner(workers: usize, spawner: &ThreadSpawner) -> Result<Self, Error> {
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
            let handle = spawner
                .spawn(&format!("orc-rt-worker-{i}"), move || worker(&s))
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
        let size = handles.len();
        Ok(ThreadPoolDispatcher {
            shared,
            workers: Mutex::new(handles),
            size,
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
        self.size
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
        join_all_but_current(std::mem::take(&mut *lock(&self.workers)));
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
            .field("workers", &self.size)
            .finish()
    }
}

#[cfg(all(test, not(orc_rt_loom)))]
mod tests {
    use super::*;
    use std::sync::Arc as StdArc;
    use std::sync::atomic::{AtomicUsize, Ordering};

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
}
