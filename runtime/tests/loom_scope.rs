//! loom model (a): the execution scope of a real `Session`.
//!
//! Guards are retained, cloned, moved and released on another thread (first
//! model), or taken afresh on another thread (second model), while the main
//! thread shuts the session down and waits. Checked in every interleaving: a resource manager's `shutdown` never runs while a guard is
//! held; the wait always ends once every guard is gone (loom reports a
//! deadlock otherwise); no guard is handed out once shutdown began.
//!
//! Bug it catches: a release that decides "was the scope closed?" with a
//! load separate from its decrement (`--cfg orc_rt_loom_bug=
//! "scope_release_races_close"`, see `ExecutionScope`). A `close` landing
//! between the two leaves nobody to complete the scope, and loom reports
//! the main thread blocked forever in `wait_for_shutdown` (first model).
//!
//! Run: `RUSTFLAGS="--cfg orc_rt_loom" LOOM_MAX_PREEMPTIONS=3
//! CARGO_TARGET_DIR=target/loom cargo test -p orc-rt --release
//! --test loom_scope`.
#![cfg(orc_rt_loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use orc_rt::sync::model;

use orc_rt::Session;
use orc_rt::dispatcher::InlineDispatcher;
use orc_rt::resource_manager::FnResourceManager;

fn session_checking_no_guard_at_shutdown(live: &Arc<AtomicUsize>) -> Session {
    let session = Session::builder()
        .dispatcher(InlineDispatcher)
        .error_reporter(|e| panic!("unexpected error: {e}"))
        .build()
        .unwrap();
    let live = live.clone();
    session.add_resource_manager(FnResourceManager::new(
        "checks-guards",
        |_| Ok(()),
        move || {
            assert_eq!(
                live.load(Ordering::SeqCst),
                0,
                "shutdown ran while a guard was held"
            );
            Ok(())
        },
    ));
    session
}

#[test]
fn shutdown_waits_for_a_guard_cloned_and_moved_to_another_thread() {
    model(|| {
        let live = Arc::new(AtomicUsize::new(0));
        let session = session_checking_no_guard_at_shutdown(&live);

        // A guard taken here, cloned and moved to another thread. It comes
        // from the scope source: a guard from `try_enter_scope` would count
        // for this thread and refuse its wait for shutdown (spec 8.7).
        let guard = session
            .scope_source()
            .try_enter()
            .expect("not shutting down yet");
        live.fetch_add(1, Ordering::SeqCst);
        let l = live.clone();
        let mover = thread::spawn(move || {
            let copy = guard.clone(); // empty if shutdown began
            if copy.is_held() {
                l.fetch_add(1, Ordering::SeqCst);
            }
            let moved = guard;
            l.fetch_sub(1, Ordering::SeqCst);
            drop(moved);
            if copy.is_held() {
                l.fetch_sub(1, Ordering::SeqCst);
            }
            drop(copy);
        });

        let report = session.wait_for_shutdown().unwrap();
        assert!(report.is_ok());
        assert!(session.try_enter_scope().is_err());
        mover.join().unwrap();
    });
}

#[test]
fn no_guard_is_handed_out_once_shutdown_began() {
    model(|| {
        let live = Arc::new(AtomicUsize::new(0));
        let session = session_checking_no_guard_at_shutdown(&live);

        // A thread entering on its own, racing the shutdown.
        let source = session.scope_source();
        let l = live.clone();
        let enterer = thread::spawn(move || {
            let closed_before = source.is_closed();
            match source.try_enter() {
                Ok(g) => {
                    assert!(
                        !closed_before,
                        "a guard was handed out after shutdown began"
                    );
                    l.fetch_add(1, Ordering::SeqCst);
                    l.fetch_sub(1, Ordering::SeqCst);
                    drop(g);
                }
                Err(e) => assert_eq!(e.kind(), orc_rt::ErrorKind::ShuttingDown),
            }
        });

        let report = session.wait_for_shutdown().unwrap();
        assert!(report.is_ok());
        assert!(session.try_enter_scope().is_err());
        enterer.join().unwrap();
    });
}
