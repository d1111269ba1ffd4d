//! loom model (c): shutdown ordering on a real `Session`.
//!
//! Two threads ask for detach and shutdown while the managers' callbacks run
//! (one manager completes its `detach` later, from a thread of its own).
//! Checked in every interleaving: every manager is detached before any is
//! shut down, each exactly once, newest first; on-detach callbacks run
//! between; the shutdown completion is reported exactly once.
//!
//! Bug it catches: a shutdown request that arrives while a detach is being
//! driven and is not recorded in the session's target state
//! (`--cfg orc_rt_loom_bug="shutdown_request_lost"`). The detach finishes
//! and nobody shuts down: the completion count is 0, and the assertion fails.
//!
//! A second model covers the seed's dispatcher that holds one guard for all
//! its work (spec 5): shutdown must shut it down and drop it
//! before waiting for the scope, else loom reports a deadlock.
//!
//! Run: `RUSTFLAGS="--cfg orc_rt_loom" LOOM_MAX_PREEMPTIONS=3
//! CARGO_TARGET_DIR=target/loom cargo test -p orc-rt --release
//! --test loom_shutdown`.
#![cfg(orc_rt_loom)]

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;
use orc_rt::sync::model;

use orc_rt::dispatcher::{InlineDispatcher, QueueingDispatcher, Task};
use orc_rt::resource_manager::FnResourceManager;
use orc_rt::{ExecutionScopeGuard, OnComplete, ResourceManager, Session, TaskDispatcher};

type Log = Arc<Mutex<Vec<&'static str>>>;

/// Completes `detach` from a thread of its own (joined by the model).
struct AsyncDetach {
    log: Log,
    completer: Arc<Mutex<Option<thread::JoinHandle<()>>>>,
}

impl ResourceManager for AsyncDetach {
    fn name(&self) -> &str {
        "async"
    }
    fn detach(&mut self, done: OnComplete, _: bool) {
        let log = self.log.clone();
        *self.completer.lock().unwrap() = Some(thread::spawn(move || {
            log.lock().unwrap().push("async.detach");
            done.ok();
        }));
    }
    fn shutdown(&mut self, done: OnComplete) {
        self.log.lock().unwrap().push("async.shutdown");
        done.ok();
    }
}

#[test]
fn racing_detach_and_shutdown_keep_the_order_and_complete_once() {
    model(|| {
        let log: Log = Arc::new(Mutex::new(Vec::new()));
        let session = Session::builder()
            .dispatcher(InlineDispatcher)
            .error_reporter(|e| panic!("unexpected error: {e}"))
            .build()
            .unwrap();
        let (l1, l2) = (log.clone(), log.clone());
        session.add_resource_manager(FnResourceManager::new(
            "sync",
            move |_| {
                l1.lock().unwrap().push("sync.detach");
                Ok(())
            },
            move || {
                l2.lock().unwrap().push("sync.shutdown");
                Ok(())
            },
        ));
        let completer = Arc::new(Mutex::new(None));
        session.add_resource_manager(AsyncDetach {
            log: log.clone(),
            completer: completer.clone(),
        });
        let l = log.clone();
        session.add_on_detach(move || l.lock().unwrap().push("on_detach"));

        let h = session.handle();
        let detacher = thread::spawn(move || h.detach());
        let (h, l) = (session.handle(), log.clone());
        let completions = Arc::new(AtomicUsize::new(0));
        let c = completions.clone();
        let shutter = thread::spawn(move || {
            h.shutdown_then(move |report| {
                assert!(report.is_ok());
                l.lock().unwrap().push("complete");
                c.fetch_add(1, Ordering::SeqCst);
            })
        });
        detacher.join().unwrap();
        shutter.join().unwrap();
        if let Some(t) = completer.lock().unwrap().take() {
            t.join().unwrap();
        }

        assert_eq!(
            completions.load(Ordering::SeqCst),
            1,
            "shutdown completion reported exactly once"
        );
        assert_eq!(
            *log.lock().unwrap(),
            [
                "async.detach",
                "sync.detach",
                "on_detach",
                "async.shutdown",
                "sync.shutdown",
                "complete"
            ]
        );
    });
}

/// The seed's dispatcher: one guard for all its work.
struct GuardedQueue {
    queue: QueueingDispatcher,
    _guard: ExecutionScopeGuard,
}

impl TaskDispatcher for GuardedQueue {
    fn dispatch(&self, task: Task) {
        self.queue.dispatch(task);
    }
    fn try_dispatch(&self, task: Task) -> Result<(), Task> {
        self.queue.try_dispatch(task)
    }
    fn shutdown(&self) {
        self.queue.shutdown();
    }
}

#[test]
fn a_dispatcher_holding_a_guard_is_dropped_before_the_scope_drains() {
    model(|| {
        let ran = Arc::new(AtomicUsize::new(0));
        let session = Session::builder()
            .dispatcher_holding_guard(|guard| GuardedQueue {
                queue: QueueingDispatcher::new(),
                _guard: guard,
            })
            .error_reporter(|e| panic!("unexpected error: {e}"))
            .build()
            .unwrap();
        let (h, r) = (session.handle(), ran.clone());
        let worker = thread::spawn(move || {
            // Either accepted (and run by the dispatcher's shutdown) or
            // refused because shutdown began.
            h.dispatch(move || {
                r.fetch_add(1, Ordering::SeqCst);
            })
            .is_ok()
        });
        session.wait_for_shutdown().unwrap();
        let accepted = worker.join().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), usize::from(accepted));
    });
}
