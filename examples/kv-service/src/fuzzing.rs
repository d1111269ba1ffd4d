//! The fuzz oracle: arbitrary bytes as the arguments of each wrapper
//! function, checked against what the bytes mean. The fuzz target
//! (`fuzz/fuzz_targets/kv_args.rs`) and the corpus replay
//! (`tests/fuzz_corpus.rs`) both call [`kv_args`]; it panics only on a bug.

use std::sync::{Arc, Mutex};

use orc_rt::sps;
use orc_rt::wrapper::{ARG_DECODE_ERROR, WrapperFunctionBuffer, WrapperReturn};
use orc_rt::{OnComplete, Service};

use crate::error::{KvError, check_key, check_value};
use crate::service::Kv;
use crate::wire;

/// Every answer one call got.
#[derive(Clone, Default)]
struct Answers(Arc<Mutex<Vec<WrapperFunctionBuffer>>>);

impl Answers {
    fn ret(&self) -> WrapperReturn {
        let answers = self.clone();
        WrapperReturn::new(move |b| answers.0.lock().unwrap().push(b))
    }

    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// The one answer: its bytes, or its out-of-band message.
    #[track_caller]
    fn one(&self, what: &str) -> Result<Vec<u8>, String> {
        let answers = self.0.lock().unwrap();
        assert_eq!(answers.len(), 1, "{what}: answered {} times", answers.len());
        let b = &answers[0];
        match b.error_message() {
            Some(m) => Err(m.to_string_lossy().into_owned()),
            None => Ok(b.bytes().to_vec()),
        }
    }
}

/// `Err(message)` for a refusal, as the wire carries it.
fn refused(e: &KvError) -> Result<Vec<u8>, String> {
    Err(e.to_string())
}

/// Feeds `data` to `kv_wait`, `kv_put`, `kv_get` and `kv_wait` again, in
/// that order, on one fresh service, then shuts it down. Checked: each call
/// answers exactly once (the first wait when the put stores its key, or at
/// shutdown), undecodable arguments answer [`ARG_DECODE_ERROR`], refusals
/// their [`KvError`], and values agree with a model (the bytes decoded
/// independently: as `(String, Vec<u8>)` for the put, `(String,)` for the
/// others, whose key is then the put's).
pub fn kv_args(data: &[u8]) {
    let kv = Arc::new(Kv::new());
    let put = wire::kv_put(kv.clone());
    let get = wire::kv_get(kv.clone());
    let wait = wire::kv_wait(kv.clone());
    let args = || WrapperFunctionBuffer::copy_from(data);

    let as_put: Option<(String, Vec<u8>)> = sps::from_prefix(data).ok().map(|(a, _)| a);
    let as_key: Option<String> = sps::from_prefix::<(String,)>(data).ok().map(|((k,), _)| k);
    let key_error = as_key.as_deref().map(check_key);
    if let (Some((pk, _)), Some(k)) = (&as_put, &as_key) {
        assert_eq!(pk, k, "a put's key is the prefix the other calls read");
    }

    // The first wait: nothing is stored, so a good key parks.
    let first = Answers::default();
    wait(args(), first.ret());
    match &key_error {
        None => assert_eq!(first.one("wait"), Err(ARG_DECODE_ERROR.into())),
        Some(Err(e)) => assert_eq!(first.one("wait"), refused(e)),
        Some(Ok(())) => assert_eq!(first.count(), 0, "wait: parked"),
    }

    let put_answer = Answers::default();
    put(args(), put_answer.ret());
    let stored = match &as_put {
        None => {
            assert_eq!(put_answer.one("put"), Err(ARG_DECODE_ERROR.into()));
            None
        }
        Some((k, v)) => match check_key(k).and_then(|()| check_value(v)) {
            Err(e) => {
                assert_eq!(put_answer.one("put"), refused(&e));
                None
            }
            Ok(()) => {
                assert_eq!(put_answer.one("put"), Ok(Vec::new()), "void");
                // It answered the first wait, on the same key.
                assert_eq!(first.one("wait after put"), Ok(sps::to_vec(v)));
                Some(v.clone())
            }
        },
    };

    let get_answer = Answers::default();
    get(args(), get_answer.ret());
    let expected = match &key_error {
        None => Err(ARG_DECODE_ERROR.into()),
        Some(Err(e)) => refused(e),
        Some(Ok(())) => Ok(sps::to_vec(&stored)),
    };
    assert_eq!(get_answer.one("get"), expected);

    let second = Answers::default();
    wait(args(), second.ret());
    match (&key_error, &stored) {
        (None, _) => assert_eq!(second.one("wait"), Err(ARG_DECODE_ERROR.into())),
        (Some(Err(e)), _) => assert_eq!(second.one("wait"), refused(e)),
        (Some(Ok(())), Some(v)) => assert_eq!(second.one("wait"), Ok(sps::to_vec(v))),
        (Some(Ok(())), None) => assert_eq!(second.count(), 0, "wait: parked"),
    }

    Service::shutdown(&*kv, OnComplete::new(|r| assert!(r.is_ok(), "{r:?}")));
    // Every call has its one answer now: the parked waits failed.
    for (what, answers) in [("first wait", &first), ("second wait", &second)] {
        let answer = answers.one(what);
        if key_error == Some(Ok(())) && stored.is_none() {
            assert_eq!(answer, refused(&KvError::ShutDown), "{what}");
        }
    }
    assert!(kv.store().is_empty());
    assert_eq!(kv.store().waiting(), 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oracle_holds_for_hand_written_inputs() {
        let long = "k".repeat(crate::error::MAX_KEY_LEN + 1);
        let inputs: Vec<Vec<u8>> = vec![
            vec![],
            sps::to_vec(&("k", b"v".as_slice())),
            sps::to_vec(&("k",)),
            sps::to_vec(&(long.as_str(), b"".as_slice())),
            u64::MAX.to_le_bytes().to_vec(),
            sps::to_vec(&([0xffu8].as_slice(),)),
        ];
        for data in inputs {
            kv_args(&data);
        }
    }
}
