//! `kv`: a worked example of an executor service of your own, on the
//! public APIs of `orc-rt`, `orc-executor` and `orc-sim` only (README.md
//! walks through it from zero).
//!
//! A controller stores values by key (`kv_put`), reads them (`kv_get`),
//! and waits for a key to be put (`kv_wait`): a call that answers only
//! once some later `kv_put` of its key arrives, holding its return
//! meanwhile (asynchronous completion). The session detaches the service
//! when the controller leaves (no new waits) and shuts it down at the end
//! (every pending wait fails, exactly once; the values are dropped).
//!
//! - [`error`]: the typed errors, and the limits on keys and values.
//! - [`store`]: values and parked waiters under one lock, the part with
//!   concurrency of its own (a loom model runs it: `tests/loom_waiters.rs`).
//! - [`event`]: what the store tells an observer, one line per [`Event`]
//!   (the `kv: ...` lines of a scenario's transcript).
//! - [`service`]: [`Kv`], the store as an `orc_rt::Service`.
//! - [`wire`]: the SPS bindings, one wrapper function each.
//! - [`install`](mod@install): into a session, orc-executor's `Executor`,
//!   or an orc-sim simulation.
//! - [`fuzzing`]: the oracle of the `kv_args` fuzz target.
//!
//! ```
//! use std::sync::Arc;
//! use kv::wire::{self, KvGet, KvPut};
//! let kv = Arc::new(kv::Kv::new());
//! let table = wire::table(&kv);
//! let args = KvPut::encode_args(&("k".into(), b"v".to_vec())).unwrap();
//! KvPut::decode_result(table.call_here("kv_put", args.bytes()).unwrap()).unwrap();
//! let args = KvGet::encode_args(&("k".into(),)).unwrap();
//! let value = KvGet::decode_result(table.call_here("kv_get", args.bytes()).unwrap()).unwrap();
//! assert_eq!(value.as_deref(), Some(&b"v"[..]));
//! ```
#![deny(unsafe_code)]

pub mod error;
pub mod event;
#[cfg(not(orc_rt_loom))]
pub mod fuzzing;
pub mod install;
pub mod service;
pub mod store;
pub mod wire;

pub use error::KvError;
pub use event::Event;
#[cfg(feature = "executor")]
pub use install::executor_parts;
pub use install::install;
#[cfg(feature = "sim")]
pub use install::simulate;
pub use service::Kv;
