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
//! The family: [`InlineDispatcher`] (runs on the caller),
//! [`ThreadPoolDispatcher`] (a fixed pool, the default),
//! [`ThreadPerTaskDispatcher`] (a fresh thread per task, as LLVM's executor
//! runs JIT'd code) and [`QueueingDispatcher`] (a caller-owned queue that a
//! deterministic scheduler drains). The thread-based ones start their
//! threads through a [`ThreadSpawner`], the seam where an executor sets the
//! stack size and what runs around each thread's work.

mod queueing;
mod spawner;
// Not under loom: its shutdown polls `JoinHandle::is_finished`, which
// loom's threads lack (and one thread per task is not worth modelling).
#[cfg(not(orc_rt_loom))]
mod thread_per_task;
mod thread_pool;

pub use queueing::{QueuedAtShutdown, QueueingDispatcher};
pub use spawner::ThreadSpawner;
#[cfg(not(orc_rt_loom))]
pub use thread_per_task::ThreadPerTaskDispatcher;
pub use thread_pool::ThreadPoolDispatcher;

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

#[cfg(all(test, not(orc_rt_loom)))]
mod tests {
    use super::*;

    #[test]
    fn inline_runs_on_the_caller() {
        let me = std::thread::current().id();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
        let s = seen.clone();
        InlineDispatcher.dispatch(Box::new(move || {
            *s.lock().unwrap() = Some(std::thread::current().id());
        }));
        assert_eq!(*seen.lock().unwrap(), Some(me));
    }
}
