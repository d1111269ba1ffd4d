//! The store: values by key, and the waiters parked on keys nobody has put
//! yet, under one lock. The only part of the service with concurrency of
//! its own, so its lock comes from `orc_rt::sync`: under
//! `--cfg orc_rt_loom` the model in `tests/loom_waiters.rs` runs this code.
//!
//! **Invariant:** every waiter handed to [`Store::wait`] is answered
//! exactly once: at once (the value is there, or the wait is refused), by
//! the first [`put`](Store::put) of its key, or with [`KvError::ShutDown`]
//! by [`shutdown`](Store::shutdown). "At most once" is the type's doing
//! (a [`Waiter`] is consumed by answering it); "at least once, and before
//! `shutdown` returns" is this module's: the look-up and the park happen
//! in one critical section, so no put and no shutdown can slip between
//! them. Answers are sent after the lock is let go: an answer goes to the
//! session and may wait for the transport (a controller that reads slowly),
//! which must not hold up every other call of the service.

use std::collections::BTreeMap;

use orc_rt::sync::{Mutex, lock};
use orc_rt::wrapper::SpsReturn;

use crate::error::{KvError, check_key, check_value};
use crate::event::{Answer, Event, Observer};

/// A parked `kv_wait`: where its value (or its error) goes.
pub type Waiter = SpsReturn<Vec<u8>>;

/// Where the store is in its life; only moves forward.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Everything is accepted.
    #[default]
    Open,
    /// The controller is gone: waits are refused (nobody could be told),
    /// puts and gets still work (JIT'd code may use the service).
    Detached,
    /// Values dropped, waiters failed; everything is refused.
    ShutDown,
}

/// What [`Store::wait`] did with its waiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    /// Answered at once with a value of `len` bytes.
    Answered {
        /// The value's length.
        len: usize,
    },
    /// Parked until its key is put; `waiting` waiters (it included) now
    /// wait on that key.
    Parked {
        /// Waiters on the key.
        waiting: usize,
    },
}

/// What [`Store::shutdown`] released.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Released {
    /// Values dropped.
    pub values: usize,
    /// The key of each waiter failed, in key order.
    pub failed: Vec<String>,
}

/// Values and waiters; see the module docs.
pub struct Store {
    state: Mutex<State>,
    observer: Option<Observer>,
}

#[derive(Default)]
struct State {
    phase: Phase,
    values: BTreeMap<String, Vec<u8>>,
    waiters: BTreeMap<String, Vec<Waiter>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = lock(&self.state);
        f.debug_struct("Store")
            .field("phase", &st.phase)
            .field("values", &st.values.len())
            .field("waiting", &st.waiters.values().map(Vec::len).sum::<usize>())
            .field("observed", &self.observer.is_some())
            .finish()
    }
}

impl Default for Store {
    fn default() -> Store {
        Store::new()
    }
}

impl Store {
    /// An empty, open store.
    pub fn new() -> Store {
        Store {
            state: Mutex::new(State::default()),
            observer: None,
        }
    }

    /// An empty, open store that tells `observer` every [`Event`].
    pub fn with_observer(observer: Observer) -> Store {
        Store {
            observer: Some(observer),
            ..Store::new()
        }
    }

    fn note(&self, event: Event) {
        if let Some(observer) = &self.observer {
            observer(&event);
        }
    }

    /// Notes `key`'s waiter's answer, then sends it.
    fn answer(&self, key: &str, waiter: Waiter, result: Result<Vec<u8>, KvError>, at_once: bool) {
        let answer = match &result {
            Ok(value) => Answer::Value {
                len: value.len(),
                at_once,
            },
            Err(e) => Answer::Error(e.clone()),
        };
        self.note(Event::Answered {
            key: key.to_owned(),
            answer,
        });
        match result {
            Ok(value) => waiter.send(value),
            Err(e) => waiter.send_error(&e.into()),
        }
    }

    fn refused<T>(&self, op: &'static str, key: &str, error: KvError) -> Result<T, KvError> {
        self.note(Event::Refused {
            op,
            key: key.to_owned(),
            error: error.clone(),
        });
        Err(error)
    }

    /// Stores `value` under `key` (replacing any) and answers every waiter
    /// parked on `key` with it; returns how many it answered.
    pub fn put(&self, key: String, value: Vec<u8>) -> Result<usize, KvError> {
        if let Err(e) = check_key(&key).and_then(|()| check_value(&value)) {
            return self.refused("put", &key, e);
        }
        let woken = {
            let mut st = lock(&self.state);
            if st.phase == Phase::ShutDown {
                drop(st);
                return self.refused("put", &key, KvError::ShutDown);
            }
            let woken = st.waiters.remove(&key).unwrap_or_default();
            st.values.insert(key.clone(), value.clone());
            woken
        };
        self.note(Event::Put {
            key: key.clone(),
            len: value.len(),
        });
        let n = woken.len();
        for waiter in woken {
            self.answer(&key, waiter, Ok(value.clone()), false);
        }
        Ok(n)
    }

    /// The value stored under `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        if let Err(e) = check_key(key) {
            return self.refused("get", key, e);
        }
        let value = {
            let st = lock(&self.state);
            if st.phase == Phase::ShutDown {
                drop(st);
                return self.refused("get", key, KvError::ShutDown);
            }
            st.values.get(key).cloned()
        };
        self.note(Event::Got {
            key: key.to_owned(),
            len: value.as_ref().map(Vec::len),
        });
        Ok(value)
    }

    /// Answers `waiter` with `key`'s value if there is one, else parks it
    /// until `key` is put or the store shuts down. A refusal (a bad key, or
    /// a store detached or shut down) is sent to `waiter` and returned.
    pub fn wait(&self, key: String, waiter: Waiter) -> Result<Waited, KvError> {
        if let Err(e) = check_key(&key) {
            self.answer(&key, waiter, Err(e.clone()), true);
            return Err(e);
        }
        let mut st = lock(&self.state);
        let refused = match st.phase {
            Phase::Open => None,
            Phase::Detached => Some(KvError::Detached),
            Phase::ShutDown => Some(KvError::ShutDown),
        };
        if let Some(e) = refused {
            drop(st);
            self.answer(&key, waiter, Err(e.clone()), true);
            return Err(e);
        }
        if let Some(value) = st.values.get(&key).cloned() {
            drop(st);
            let len = value.len();
            self.answer(&key, waiter, Ok(value), true);
            return Ok(Waited::Answered { len });
        }
        if cfg!(orc_rt_loom_bug = "kv_wait_parks_late") {
            // The injected bug the loom model must catch: the lock is let
            // go between the look-up and the park, so a put or a shutdown
            // in between misses this waiter, which then waits forever.
            drop(st);
            st = lock(&self.state);
        }
        let parked = st.waiters.entry(key.clone()).or_default();
        parked.push(waiter);
        let waiting = parked.len();
        drop(st);
        self.note(Event::Parked { key, waiting });
        Ok(Waited::Parked { waiting })
    }

    /// Stops accepting waits; returns how many waiters are parked (they
    /// stay parked: a put from JIT'd code may still answer them, and
    /// shutdown fails the rest).
    pub fn detach(&self) -> usize {
        let waiting = {
            let mut st = lock(&self.state);
            st.phase = st.phase.max(Phase::Detached);
            st.waiters.values().map(Vec::len).sum()
        };
        self.note(Event::Detached { waiting });
        waiting
    }

    /// Drops every value and fails every parked waiter, once each, with
    /// [`KvError::ShutDown`]; from now on everything is refused. Every
    /// waiter has been answered when this returns.
    pub fn shutdown(&self) -> Released {
        let (values, waiters) = {
            let mut st = lock(&self.state);
            st.phase = Phase::ShutDown;
            (
                std::mem::take(&mut st.values),
                std::mem::take(&mut st.waiters),
            )
        };
        let mut failed = Vec::new();
        for (key, parked) in waiters {
            for waiter in parked {
                self.answer(&key, waiter, Err(KvError::ShutDown), false);
                failed.push(key.clone());
            }
        }
        self.note(Event::ShutDown {
            values: values.len(),
            failed: failed.len(),
        });
        Released {
            values: values.len(),
            failed,
        }
    }

    /// Where the store is in its life.
    pub fn phase(&self) -> Phase {
        lock(&self.state).phase
    }

    /// How many waiters are parked.
    pub fn waiting(&self) -> usize {
        lock(&self.state).waiters.values().map(Vec::len).sum()
    }

    /// How many values are stored.
    pub fn len(&self) -> usize {
        lock(&self.state).values.len()
    }

    /// True if no value is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(all(test, not(orc_rt_loom)))]
mod tests {
    use std::sync::mpsc;

    use orc_rt::wrapper::{WrapperFunctionBuffer, WrapperReturn};

    use super::*;
    use crate::wire::KvWait;

    /// A waiter whose answers arrive on the receiver.
    fn waiter() -> (Waiter, mpsc::Receiver<WrapperFunctionBuffer>) {
        let (tx, rx) = mpsc::channel();
        let ret = WrapperReturn::new(move |b| {
            let _ = tx.send(b);
        });
        (SpsReturn::new(ret), rx)
    }

    /// The one answer `rx` got, decoded; panics if it got none or more.
    fn answer(rx: &mpsc::Receiver<WrapperFunctionBuffer>) -> Result<Vec<u8>, String> {
        let b = rx.try_recv().expect("answered");
        assert!(rx.try_recv().is_err(), "answered twice");
        KvWait::decode_result(b).map_err(|e| e.message().to_owned())
    }

    #[test]
    fn a_put_answers_the_waiters_parked_on_its_key_only() {
        let store = Store::new();
        let (a1, ra1) = waiter();
        let (a2, ra2) = waiter();
        let (b, rb) = waiter();
        assert_eq!(
            store.wait("a".into(), a1),
            Ok(Waited::Parked { waiting: 1 })
        );
        assert_eq!(
            store.wait("a".into(), a2),
            Ok(Waited::Parked { waiting: 2 })
        );
        assert_eq!(store.wait("b".into(), b), Ok(Waited::Parked { waiting: 1 }));
        assert_eq!(store.put("a".into(), b"x".to_vec()), Ok(2));
        assert_eq!(answer(&ra1), Ok(b"x".to_vec()));
        assert_eq!(answer(&ra2), Ok(b"x".to_vec()));
        assert!(rb.try_recv().is_err(), "b is still parked");
        assert_eq!(store.waiting(), 1);
    }

    #[test]
    fn a_wait_for_a_stored_key_is_answered_at_once() {
        let store = Store::new();
        store.put("k".into(), b"v".to_vec()).unwrap();
        let (w, rw) = waiter();
        assert_eq!(store.wait("k".into(), w), Ok(Waited::Answered { len: 1 }));
        assert_eq!(answer(&rw), Ok(b"v".to_vec()));
        assert_eq!(store.get("k"), Ok(Some(b"v".to_vec())));
        assert_eq!(store.get("nope"), Ok(None));
    }

    #[test]
    fn detach_refuses_new_waits_and_keeps_the_parked_ones() {
        let store = Store::new();
        let (early, r_early) = waiter();
        store.wait("k".into(), early).unwrap();
        assert_eq!(store.detach(), 1);
        let (late, r_late) = waiter();
        assert_eq!(store.wait("k".into(), late), Err(KvError::Detached));
        assert_eq!(answer(&r_late), Err("kv: detached, no new waits".into()));
        // JIT'd code may still put: the parked waiter gets its value.
        assert_eq!(store.put("k".into(), b"v".to_vec()), Ok(1));
        assert_eq!(answer(&r_early), Ok(b"v".to_vec()));
        assert_eq!(store.phase(), Phase::Detached);
    }

    #[test]
    fn shutdown_fails_each_waiter_once_and_clears_everything() {
        let store = Store::new();
        let (w1, r1) = waiter();
        let (w2, r2) = waiter();
        store.wait("a".into(), w1).unwrap();
        store.wait("b".into(), w2).unwrap();
        store.put("c".into(), b"x".to_vec()).unwrap();
        assert_eq!(
            store.shutdown(),
            Released {
                values: 1,
                failed: vec!["a".into(), "b".into()]
            }
        );
        assert_eq!(answer(&r1), Err("kv: shut down".into()));
        assert_eq!(answer(&r2), Err("kv: shut down".into()));
        assert!(store.is_empty());
        assert_eq!(store.waiting(), 0);
        // Everything is refused from now on; a second shutdown finds nothing.
        assert_eq!(store.put("a".into(), vec![]), Err(KvError::ShutDown));
        assert_eq!(store.get("a"), Err(KvError::ShutDown));
        let (w3, r3) = waiter();
        assert_eq!(store.wait("a".into(), w3), Err(KvError::ShutDown));
        assert_eq!(answer(&r3), Err("kv: shut down".into()));
        assert_eq!(store.shutdown(), Released::default());
        // Detach after shutdown does not reopen anything.
        store.detach();
        assert_eq!(store.phase(), Phase::ShutDown);
    }

    #[test]
    fn bad_keys_and_values_are_refused_with_their_error() {
        let store = Store::new();
        let long = "k".repeat(crate::error::MAX_KEY_LEN + 1);
        let err = KvError::KeyTooLong { len: long.len() };
        assert_eq!(store.put(long.clone(), vec![]), Err(err.clone()));
        assert_eq!(store.get(&long), Err(err.clone()));
        let (w, rw) = waiter();
        assert_eq!(store.wait(long, w), Err(err.clone()));
        assert_eq!(answer(&rw), Err(err.to_string()));
        let big = vec![0; crate::error::MAX_VALUE_LEN + 1];
        assert_eq!(
            store.put("k".into(), big),
            Err(KvError::ValueTooLarge {
                len: crate::error::MAX_VALUE_LEN + 1
            })
        );
        assert!(store.is_empty());
    }
}
