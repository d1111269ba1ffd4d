//! A session's dispatcher in the simulation: a queue the scheduler drains,
//! one task at a time, in an order the seed picks; it may hold one
//! execution-scope guard for all its work (the seed's pattern). Each
//! session has its own.

use std::sync::{Mutex, Weak};

use orc_rt::ExecutionScopeGuard;
use orc_rt::dispatcher::{QueueingDispatcher, Task, TaskDispatcher};

use super::super::World;
use crate::scenario::QueuePolicy;
use crate::transcript::Shape;

/// See the module docs.
pub(crate) struct SimDispatcher {
    pub(crate) inner: QueueingDispatcher,
    pub(crate) w: Weak<World>,
    pub(crate) guard: Mutex<Option<ExecutionScopeGuard>>,
    /// The session it dispatches for.
    pub(crate) s: usize,
}

/// Logs a task's start and end, or that it was dropped unrun.
struct TaskTracker {
    w: Weak<World>,
    s: usize,
    n: u64,
    started: bool,
}

impl Drop for TaskTracker {
    fn drop(&mut self) {
        if !self.started
            && let Some(w) = self.w.upgrade()
        {
            let dispatcher = w.scoped(self.s, "dispatcher");
            let mut p = w.parts();
            p.book.live[self.s].queued_tasks -= 1;
            p.log.note(
                dispatcher,
                format!("task {} dropped without running", self.n),
            );
        }
    }
}

impl TaskDispatcher for SimDispatcher {
    fn dispatch(&self, task: Task) {
        let Some(w) = self.w.upgrade() else { return };
        let s = self.s;
        let n = {
            let mut p = w.parts();
            let n = p.book.new_task(s);
            p.book.live[s].queued_tasks += 1;
            p.log
                .note(w.scoped(s, "dispatcher"), format!("task {n} queued"));
            n
        };
        let mut tracker = TaskTracker {
            w: self.w.clone(),
            s,
            n,
            started: false,
        };
        self.inner.dispatch(Box::new(move || {
            tracker.started = true;
            let actor = tracker.w.upgrade().map(|w| {
                let actor = w.member(s, "task", n);
                let mut p = w.parts();
                p.book.live[s].queued_tasks -= 1;
                p.log.event(&actor, "start", Shape::Begin);
                actor
            });
            task();
            if let (Some(w), Some(actor)) = (tracker.w.upgrade(), actor) {
                w.parts().log.event(actor, "end", Shape::End);
            }
        }));
    }

    fn shutdown(&self) {
        if let Some(w) = self.w.upgrade() {
            let policy = match w.queue_policy(self.s) {
                QueuePolicy::Run => "run them now",
                QueuePolicy::Keep => "keep them for the scheduler",
                QueuePolicy::Drop => "drop them",
            };
            let queued = self.inner.len();
            w.parts().log.note(
                w.scoped(self.s, "dispatcher"),
                format!("shutdown: {queued} task(s) queued, {policy}"),
            );
        }
        self.inner.shutdown();
    }
}

impl Drop for SimDispatcher {
    fn drop(&mut self) {
        let guard = self
            .guard
            .get_mut()
            .map(Option::take)
            .unwrap_or_else(|e| e.into_inner().take());
        if let Some(g) = guard {
            if let Some(w) = self.w.upgrade() {
                let dispatcher = w.scoped(self.s, "dispatcher");
                let mut p = w.parts();
                p.book.live[self.s].dispatcher_guard = false;
                p.log.note(
                    dispatcher,
                    "dropped by the session: releases its execution-scope guard",
                );
            }
            // Released outside the lock: the last release runs the rest of
            // shutdown on this thread.
            drop(g);
        }
    }
}
