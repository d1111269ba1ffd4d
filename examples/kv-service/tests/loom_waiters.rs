//! loom model: the store's waiter table (`kv::store`) racing a put, the
//! service's detach and its shutdown, on the real code: `--cfg
//! orc_rt_loom` makes `orc_rt::sync` loom's, and the store takes its lock
//! from there.
//!
//! Checked in every interleaving: once the threads that raced it are done,
//! the waiter has been answered exactly once, and with what the order
//! allows (the value if the put came first, `kv: shut down` once shutdown
//! began, `kv: detached, no new waits` once detached); no waiter is left
//! parked after shutdown, and no value kept.
//!
//! Bug it catches: a wait that looks the key up and parks in two critical
//! sections (`--cfg orc_rt_loom_bug="kv_wait_parks_late"`): a put or a
//! shutdown in between misses the waiter, which is then never answered
//! ("answered 0 times").
//!
//! Run: `RUSTFLAGS="--cfg orc_rt_loom" LOOM_MAX_PREEMPTIONS=3
//! CARGO_TARGET_DIR=target/loom cargo test -p orc-rt-example-kv --release
//! --no-default-features --test loom_waiters` (without the default
//! features: the executor and the simulator need the real primitives).
#![cfg(orc_rt_loom)]

use loom::sync::{Arc, Mutex};
use loom::thread;
use orc_rt::sync::model;

use kv::store::{Phase, Store, Waiter};
use kv::wire::KvWait;
use orc_rt::wrapper::{SpsReturn, WrapperReturn};

const VALUE: &[u8] = b"v";
const SHUT_DOWN: &str = "kv: shut down";
const DETACHED: &str = "kv: detached, no new waits";

/// One answer, decoded: the value, or the error's message.
type Answer = Result<Vec<u8>, String>;

/// Every answer one waiter got.
#[derive(Clone)]
struct Answers(Arc<Mutex<Vec<Answer>>>);

impl Answers {
    fn new() -> Answers {
        Answers(Arc::new(Mutex::new(Vec::new())))
    }

    fn waiter(&self) -> Waiter {
        let answers = self.clone();
        SpsReturn::new(WrapperReturn::new(move |b| {
            // A failed model drops the store while unwinding, and with it
            // any waiter still parked: a loom lock taken now would abort
            // the whole test binary instead of reporting the failure.
            if std::thread::panicking() {
                return;
            }
            let answer = KvWait::decode_result(b).map_err(|e| e.message().to_owned());
            answers.0.lock().unwrap().push(answer);
        }))
    }

    /// The one answer; fails the model unless there is exactly one.
    #[track_caller]
    fn one(&self) -> Answer {
        let answers = self.0.lock().unwrap();
        assert_eq!(
            answers.len(),
            1,
            "answered {} times: {:?}",
            answers.len(),
            answers.as_slice()
        );
        answers[0].clone()
    }
}

/// `wait` for "k" on a thread of its own.
fn spawn_wait(store: &Arc<Store>, answers: &Answers) -> thread::JoinHandle<()> {
    let (store, waiter) = (store.clone(), answers.waiter());
    thread::spawn(move || {
        let _ = store.wait("k".into(), waiter);
    })
}

#[test]
fn a_waiter_racing_a_put_gets_the_value_once() {
    model(|| {
        let store = Arc::new(Store::new());
        let answers = Answers::new();
        let waiting = spawn_wait(&store, &answers);
        store.put("k".into(), VALUE.to_vec()).unwrap();
        waiting.join().unwrap();
        assert_eq!(answers.one(), Ok(VALUE.to_vec()));
        assert_eq!(store.waiting(), 0);
    });
}

#[test]
fn a_waiter_racing_shutdown_fails_once() {
    model(|| {
        let store = Arc::new(Store::new());
        let answers = Answers::new();
        let waiting = spawn_wait(&store, &answers);
        store.shutdown();
        waiting.join().unwrap();
        // Parked then failed, or refused: the same error either way.
        assert_eq!(answers.one(), Err(SHUT_DOWN.into()));
        assert_eq!(store.waiting(), 0);
    });
}

#[test]
fn a_waiter_racing_detach_then_shutdown_is_answered_once() {
    model(|| {
        let store = Arc::new(Store::new());
        let answers = Answers::new();
        let waiting = spawn_wait(&store, &answers);
        let s = store.clone();
        let detaching = thread::spawn(move || {
            s.detach();
        });
        detaching.join().unwrap();
        store.shutdown();
        waiting.join().unwrap();
        // Refused if it came after the detach; else parked, and failed by
        // the shutdown (if it came before it) or refused by it (after).
        let answer = answers.one();
        assert!(
            answer == Err(DETACHED.into()) || answer == Err(SHUT_DOWN.into()),
            "{answer:?}"
        );
        assert_eq!(store.waiting(), 0);
        assert_eq!(store.phase(), Phase::ShutDown);
    });
}

#[test]
fn a_waiter_racing_a_put_and_shutdown_is_answered_once() {
    model(|| {
        let store = Arc::new(Store::new());
        let answers = Answers::new();
        let waiting = spawn_wait(&store, &answers);
        let s = store.clone();
        let putting = thread::spawn(move || {
            // Refused once shutdown began.
            let _ = s.put("k".into(), VALUE.to_vec());
        });
        store.shutdown();
        waiting.join().unwrap();
        putting.join().unwrap();
        let answer = answers.one();
        assert!(
            answer == Ok(VALUE.to_vec()) || answer == Err(SHUT_DOWN.into()),
            "{answer:?}"
        );
        assert_eq!(store.waiting(), 0);
        assert!(store.is_empty(), "a put after shutdown keeps nothing");
    });
}
