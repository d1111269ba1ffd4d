//! The service's SPS bindings, kept apart from the service as upstream
//! keeps `NativeDylibManager.cpp` apart from its `*SPSCI.cpp`: each wrapper
//! function decodes its arguments, calls [`Kv`] and answers with a value or
//! an out-of-band error. Undecodable arguments answer orc-rt's
//! `Could not deserialize wrapper function arg data` (spec 2) and never
//! reach the service.
//!
//! | name | SPS signature | answers |
//! |---|---|---|
//! | `kv_put` | `(String key, Vec<u8> value) -> ()` | at once |
//! | `kv_get` | `(String key) -> Option<Vec<u8>>` | at once, on the delivering thread |
//! | `kv_wait` | `(String key) -> Vec<u8>` | once `key` is put (or with an error at shutdown) |
//!
//! A value is sent as `Vec<u8>`, SPS `sequence<char>`: the same bytes as a
//! string, so a scenario writes `(str "k", str "v")`.

use std::sync::Arc;

use orc_rt::wrapper::{
    SpsWrapperFunction, WrapperEntry, WrapperFunctionBuffer, WrapperReturn, WrapperTable,
};

use crate::service::Kv;

/// `kv_put(key, value)`: stores, answers the waiters on `key`.
pub type KvPut = SpsWrapperFunction<fn(String, Vec<u8>)>;
/// `kv_get(key)`: the value, if any.
pub type KvGet = SpsWrapperFunction<fn(String) -> Option<Vec<u8>>>;
/// `kv_wait(key)`: the value, once there is one.
pub type KvWait = SpsWrapperFunction<fn(String) -> Vec<u8>>;

/// The name `kv_put` is published under.
pub const KV_PUT: &str = "kv_put";
/// The name `kv_get` is published under.
pub const KV_GET: &str = "kv_get";
/// The name `kv_wait` is published under.
pub const KV_WAIT: &str = "kv_wait";
/// Every wrapper function's name, in the order [`table`] lists them.
pub const NAMES: [&str; 3] = [KV_PUT, KV_GET, KV_WAIT];

/// A wrapper function's handler: the argument bytes, and where its one
/// result goes.
pub trait Handler: Fn(WrapperFunctionBuffer, WrapperReturn) + Send + Sync + 'static {}
impl<F: Fn(WrapperFunctionBuffer, WrapperReturn) + Send + Sync + 'static> Handler for F {}

/// `kv_put`'s handler.
pub fn kv_put(kv: Arc<Kv>) -> impl Handler {
    KvPut::async_handler(move |(key, value), ret| match kv.put(key, value) {
        Ok(()) => ret.send(()),
        Err(e) => ret.send_error(&e.into()),
    })
}

/// `kv_get`'s handler.
pub fn kv_get(kv: Arc<Kv>) -> impl Handler {
    KvGet::async_handler(move |(key,), ret| match kv.get(&key) {
        Ok(value) => ret.send(value),
        Err(e) => ret.send_error(&e.into()),
    })
}

/// `kv_wait`'s handler: keeps its return in the store until the key is
/// put, so the call's task ends at once and holds nothing up (a parked
/// wait holds no execution-scope guard: spec 8.8).
pub fn kv_wait(kv: Arc<Kv>) -> impl Handler {
    KvWait::async_handler(move |(key,), ret| kv.wait(key, ret))
}

/// The three wrapper functions, ready to register (a session's
/// `register_table`, orc-sim's `ServiceContext::register`, orc-executor's
/// `ExecutorBuilder::service`).
pub fn table(kv: &Arc<Kv>) -> WrapperTable {
    let mut table = WrapperTable::new();
    table
        // Answers other calls' waiters, and each answer may wait for the
        // transport (a controller that reads slowly): a task of its own,
        // never the thread that reads the controller's messages.
        .add(KV_PUT, WrapperEntry::new(kv_put(kv.clone())))
        // Never blocks (one short lock) and runs no foreign code: it may
        // run on the thread that delivers the call, with no task.
        .add(KV_GET, WrapperEntry::new(kv_get(kv.clone())).inline())
        // The default, a task: it returns at once, parking its return.
        .add(KV_WAIT, WrapperEntry::new(kv_wait(kv.clone())));
    table
}

#[cfg(all(test, not(orc_rt_loom)))]
mod tests {
    use orc_rt::sps;
    use orc_rt::wrapper::ARG_DECODE_ERROR;

    use super::*;

    fn oob(b: &WrapperFunctionBuffer) -> String {
        b.error_message()
            .expect("an out-of-band error")
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn the_table_answers_each_function_through_sps() {
        let kv = Arc::new(Kv::new());
        let t = table(&kv);
        assert_eq!(t.names().collect::<Vec<_>>(), NAMES);
        let put = KvPut::encode_args(&("k".into(), b"v".to_vec())).unwrap();
        let r = t.call_here(KV_PUT, put.bytes()).unwrap();
        KvPut::decode_result(r).unwrap();
        let get = KvGet::encode_args(&("k".into(),)).unwrap();
        let r = t.call_here(KV_GET, get.bytes()).unwrap();
        assert_eq!(KvGet::decode_result(r).unwrap(), Some(b"v".to_vec()));
        let r = t.call_here(KV_WAIT, get.bytes()).unwrap();
        assert_eq!(KvWait::decode_result(r).unwrap(), b"v");
        // A wait for a key nobody put does not answer now.
        let none = KvWait::encode_args(&("none".into(),)).unwrap();
        assert!(t.call_here(KV_WAIT, none.bytes()).is_none());
        assert_eq!(kv.store().waiting(), 1);
    }

    #[test]
    fn bad_arguments_answer_out_of_band_and_never_reach_the_service() {
        let kv = Arc::new(Kv::new());
        let t = table(&kv);
        let long = "k".repeat(crate::error::MAX_KEY_LEN + 1);
        let cases: [(&str, Vec<u8>, String); 5] = [
            (KV_PUT, vec![], ARG_DECODE_ERROR.into()),
            (KV_GET, vec![1, 0, 0], ARG_DECODE_ERROR.into()),
            // A length claim far past the input: refused without allocating it.
            (
                KV_WAIT,
                u64::MAX.to_le_bytes().to_vec(),
                ARG_DECODE_ERROR.into(),
            ),
            // Not UTF-8.
            (
                KV_GET,
                sps::to_vec(&[0xffu8, 0xfe].as_slice()),
                ARG_DECODE_ERROR.into(),
            ),
            (
                KV_PUT,
                sps::to_vec(&(long.as_str(), b"v".as_slice())),
                "kv: key of 257 bytes (at most 256)".into(),
            ),
        ];
        for (name, args, message) in cases {
            let r = t.call_here(name, &args).expect("answered at once");
            assert_eq!(oob(&r), message, "{name} {args:02x?}");
        }
        assert!(kv.store().is_empty());
        assert_eq!(kv.store().waiting(), 0);
    }
}
