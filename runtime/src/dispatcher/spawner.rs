//! How the thread-based dispatchers start their threads, and the one
//! shutdown join they share.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::Task;
use crate::sync::thread;

/// Code that runs a thread's work: it gets the work and must run it once.
type Around = std::sync::Arc<dyn Fn(Task) + Send + Sync>;

/// Starts a dispatcher's threads: their stack size, and code that runs
/// around each thread's work on that thread (an executor restores the
/// signal mask JIT'd code expects and counts its threads there). The
/// default: the platform's stack size, nothing around.
#[derive(Clone, Default)]
pub struct ThreadSpawner {
    stack_size: Option<usize>,
    around: Option<Around>,
}

impl fmt::Debug for ThreadSpawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadSpawner")
            .field("stack_size", &self.stack_size)
            .field("around", &self.around.is_some())
            .finish()
    }
}

impl ThreadSpawner {
    /// Threads with `bytes` of stack.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Runs `around(work)` on each new thread instead of `work()`; `around`
    /// must run the work exactly once.
    pub fn around(mut self, around: impl Fn(Task) + Send + Sync + 'static) -> Self {
        self.around = Some(std::sync::Arc::new(around));
        self
    }

    /// Starts thread `name` running `work` (inside `around`). A panic in
    /// `work` ends only that work, not the thread's `around` code.
    pub(crate) fn spawn(
        &self,
        name: &str,
        work: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<thread::JoinHandle<()>> {
        let mut builder = thread::Builder::new().name(name.to_owned());
        if let Some(bytes) = self.stack_size {
            builder = builder.stack_size(bytes);
        }
        let around = self.around.clone();
        builder.spawn(move || run_around(around.as_deref(), Box::new(work)))
    }

    /// Runs `work` on the calling thread as a new thread would run it (for
    /// a task that cannot get a thread of its own).
    #[cfg(not(orc_rt_loom))]
    pub(crate) fn run_here(&self, work: Task) {
        run_around(self.around.as_deref(), work);
    }
}

fn run_around(around: Option<&(dyn Fn(Task) + Send + Sync)>, work: Task) {
    // Session tasks contain their own panics; this keeps the thread's
    // `around` code (and a pool's worker) alive if another task does not.
    let work: Task = Box::new(move || {
        let _ = catch_unwind(AssertUnwindSafe(work));
    });
    match around {
        Some(around) => around(work),
        None => work(),
    }
}

/// Joins every thread of `handles` except the calling one: a dispatcher
/// shut down from inside one of its own tasks must not wait for itself (that
/// thread ends as soon as its task returns).
pub(crate) fn join_all_but_current(handles: Vec<thread::JoinHandle<()>>) {
    let me = thread::current().id();
    for h in handles {
        if h.thread().id() != me {
            let _ = h.join();
        }
    }
}
