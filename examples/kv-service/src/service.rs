//! The key-value service: the [`Store`] as the session sees it, an
//! `orc_rt::Service` (spec 6.1): detached once when the controller leaves
//! (no new waits), then shut down once (every parked wait fails, the values
//! are dropped). The wrapper functions (`crate::wire`) share it through an
//! `Arc`, as the session does.

use std::sync::Arc;

use orc_rt::{OnComplete, Service};

use crate::error::KvError;
use crate::event::Event;
use crate::store::{Store, Waiter};

/// The key-value service; see the module docs.
#[derive(Debug, Default)]
pub struct Kv {
    store: Store,
}

impl Kv {
    /// A service with an empty store and no observer.
    pub fn new() -> Kv {
        Kv::default()
    }

    /// A service that tells `observer` every [`Event`].
    pub fn with_observer(observer: impl Fn(&Event) + Send + Sync + 'static) -> Kv {
        Kv {
            store: Store::with_observer(Arc::new(observer)),
        }
    }

    /// The store (for inspection: its phase, its sizes).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// `kv_put`: stores `value` under `key`, answering the waiters on it.
    pub fn put(&self, key: String, value: Vec<u8>) -> Result<(), KvError> {
        self.store.put(key, value).map(drop)
    }

    /// `kv_get`: the value under `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.store.get(key)
    }

    /// `kv_wait`: answers `waiter` with `key`'s value once there is one,
    /// or with an error (see [`Store::wait`]).
    pub fn wait(&self, key: String, waiter: Waiter) {
        // The outcome is in the events; the waiter has its answer or is
        // parked either way.
        let _ = self.store.wait(key, waiter);
    }
}

impl Service for Kv {
    fn name(&self) -> &str {
        "kv"
    }

    fn detach(&self, done: OnComplete, _shutdown_requested: bool) {
        self.store.detach();
        done.ok();
    }

    fn shutdown(&self, done: OnComplete) {
        self.store.shutdown();
        done.ok();
    }
}

#[cfg(all(test, not(orc_rt_loom)))]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn the_observer_sees_each_operation_and_the_lifecycle() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let kv = Kv::with_observer(move |e| s.lock().unwrap().push(e.to_string()));
        kv.put("k".into(), b"v".to_vec()).unwrap();
        assert_eq!(kv.get("k"), Ok(Some(b"v".to_vec())));
        let (ret, _rx) = {
            let (tx, rx) = std::sync::mpsc::channel();
            let ret = orc_rt::wrapper::WrapperReturn::new(move |b| tx.send(b).unwrap());
            (orc_rt::wrapper::SpsReturn::new(ret), rx)
        };
        kv.wait("w".into(), ret);
        Service::detach(&kv, OnComplete::new(|r| r.unwrap()), false);
        Service::shutdown(&kv, OnComplete::new(|r| r.unwrap()));
        assert_eq!(
            *seen.lock().unwrap(),
            [
                r#"put "k": 1 bytes"#,
                r#"get "k": 1 bytes"#,
                r#"wait "w": parked (1 waiting)"#,
                "detached: no new waits (1 waiting)",
                r#"answer to wait "w": error: kv: shut down"#,
                "shut down: 1 value(s) dropped, 1 waiter(s) failed",
            ]
        );
    }
}
