//! loom model: the blocking take of the `QueueingDispatcher`.
//!
//! A producer thread dispatches tasks and shuts the queue down while one or
//! two threads sleep in `run_next_blocking`. Checked in every interleaving:
//! each task runs exactly once, and every waiter returns once the queue is
//! shut down and empty (a lost wake-up would leave one blocked forever,
//! which loom reports as a deadlock).
//!
//! Run: `RUSTFLAGS="--cfg orc_rt_loom" LOOM_MAX_PREEMPTIONS=3
//! CARGO_TARGET_DIR=target/loom cargo test -p orc-rt --release --test
//! loom_queueing`.
#![cfg(orc_rt_loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use orc_rt::sync::model;

use orc_rt::TaskDispatcher;
use orc_rt::dispatcher::{QueuedAtShutdown, QueueingDispatcher};

fn counting_task(ran: &Arc<AtomicUsize>) -> orc_rt::dispatcher::Task {
    let ran = ran.clone();
    Box::new(move || {
        ran.fetch_add(1, Ordering::SeqCst);
    })
}

#[test]
fn a_sleeping_taker_sees_every_task_and_the_shutdown() {
    model(|| {
        let q = QueueingDispatcher::with_policy(QueuedAtShutdown::Keep);
        let ran = Arc::new(AtomicUsize::new(0));
        let producer = {
            let (q, ran) = (q.clone(), ran.clone());
            thread::spawn(move || {
                q.dispatch(counting_task(&ran));
                q.dispatch(counting_task(&ran));
                q.shutdown();
            })
        };
        let mut taken = 0;
        while q.run_next_blocking() {
            taken += 1;
        }
        producer.join().unwrap();
        assert_eq!(taken, 2);
        assert_eq!(ran.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn two_takers_share_the_tasks_and_both_see_the_end() {
    model(|| {
        // `Run`: the shutting-down thread may run what no taker got yet.
        let q = QueueingDispatcher::with_policy(QueuedAtShutdown::Run);
        let ran = Arc::new(AtomicUsize::new(0));
        let other = {
            let q = q.clone();
            thread::spawn(move || while q.run_next_blocking() {})
        };
        let producer = {
            let (q, ran) = (q.clone(), ran.clone());
            thread::spawn(move || {
                q.dispatch(counting_task(&ran));
                q.shutdown();
            })
        };
        while q.run_next_blocking() {}
        other.join().unwrap();
        producer.join().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 1, "ran exactly once");
        assert!(q.is_empty());
    });
}
