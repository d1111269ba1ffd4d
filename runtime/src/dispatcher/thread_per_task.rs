//! A fresh thread for every task, joined at shutdown (LLVM's executor runs
//! every incoming call this way).
//!
//! JIT'd code depends on it: thread-local storage starts fresh for every
//! call, and the destructors JIT'd code registers for its thread-local data
//! (the ORC runtime does, through `pthread_key_create`) run when the call's
//! thread exits, while the code is still mapped. A pooled worker would keep
//! those destructors until the controller had released the code they live
//! in, then crash on exit. Threads are joined, never detached, so shutdown
//! returns only after every task's thread has completely exited, TLS
//! destructors included.

use std::fmt;

use super::spawner::join_all_but_current;
use super::{Task, TaskDispatcher, ThreadSpawner};
use crate::sync::{Mutex, lock, thread};

/// Runs every task on a new thread (see the module docs).
pub struct ThreadPerTaskDispatcher {
    state: Mutex<State>,
    spawner: ThreadSpawner,
}

struct State {
    handles: Vec<thread::JoinHandle<()>>,
    shutting_down: bool,
}

impl fmt::Debug for ThreadPerTaskDispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPerTaskDispatcher")
            .field("threads", &self.threads())
            .finish()
    }
}

impl Default for ThreadPerTaskDispatcher {
    fn default() -> Self {
        ThreadPerTaskDispatcher::new(ThreadSpawner::default())
    }
}

impl ThreadPerTaskDispatcher {
    /// Threads started by `spawner`.
    pub fn new(spawner: ThreadSpawner) -> Self {
        ThreadPerTaskDispatcher {
            state: Mutex::new(State {
                handles: Vec::new(),
                shutting_down: false,
            }),
            spawner,
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
        let mut st = lock(&self.state);
        if st.shutting_down {
            return Err(task);
        }
        // Join threads whose task is done, so handles do not pile up.
        let (done, running): (Vec<_>, Vec<_>) = std::mem::take(&mut st.handles)
            .into_iter()
            .partition(|h| h.is_finished());
        st.handles = running;
        // The task goes into a slot the thread takes it from, so that a
        // failed spawn leaves it with us.
        let slot = std::sync::Arc::new(Mutex::new(Some(task)));
        let theirs = slot.clone();
        let spawned = self.spawner.spawn("orc-rt-call", move || {
            if let Some(task) = lock(&theirs).take() {
                task();
            }
        });
        match spawned {
            Ok(handle) => st.handles.push(handle),
            Err(e) => {
                // Out of threads: run it here rather than lose the call (the
                // caller is blocked meanwhile, but every call gets its result).
                drop(st);
                tracing::error!("cannot start a thread for a call ({e}); running it inline");
                if let Some(task) = lock(&slot).take() {
                    self.spawner.run_here(task);
                }
                join_all_but_current(done);
                return Ok(());
            }
        }
        drop(st);
        join_all_but_current(done);
        Ok(())
    }

    fn shutdown(&self) {
        let handles = {
            let mut st = lock(&self.state);
            st.shutting_down = true;
            std::mem::take(&mut st.handles)
        };
        join_all_but_current(handles);
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
        let d = ThreadPerTaskDispatcher::default();
        d.shutdown();
        let (tx, rx) = mpsc::channel();
        let refused = d
            .try_dispatch(Box::new(move || tx.send(()).unwrap()))
            .expect_err("a dispatcher that shut down refuses new tasks");
        refused();
        assert!(rx.try_recv().is_ok(), "the task came back intact");
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
        let d = ThreadPerTaskDispatcher::new(ThreadSpawner::default().stack_size(256 * 1024));
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
    fn the_spawner_runs_around_every_task() {
        let (tx, rx) = mpsc::channel();
        let around_tx = std::sync::Mutex::new(tx.clone());
        let spawner = ThreadSpawner::default().around(move |work| {
            let tx = around_tx.lock().unwrap().clone();
            tx.send("before").unwrap();
            work();
            tx.send("after").unwrap();
        });
        let d = ThreadPerTaskDispatcher::new(spawner);
        d.dispatch(Box::new(move || tx.send("task").unwrap()));
        d.shutdown();
        let events: Vec<&str> = rx.try_iter().collect();
        assert_eq!(events, ["before", "task", "after"]);
    }
}
