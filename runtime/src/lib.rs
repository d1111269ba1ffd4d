//! `orc-rt`: the LLVM ORC executor runtime, in Rust.
//!
//! The runtime lives in the process where JIT'd code runs. A controller
//! (LLVM's `ExecutionSession`, `llvm-jitlink`) links code into it over RPC and
//! calls executor functions by address; executor code calls back by tag.
//!
//! A short tour:
//! - [`addr`]: `ExecutorAddr` and `ExecutorAddrRange`.
//! - [`error`]: the one error type, with matchable kinds.
//! - [`sps`]: Simple Packed Serialization, byte-identical to LLVM 22.
//! - [`wrapper`]: `WrapperFunctionBuffer`, the C ABI of wrapper functions,
//!   and typed wrapper functions (`SpsWrapperFunction`).
//! - [`session`]: the `Session` (lifecycle, incoming and outgoing calls),
//!   with [`execution_scope`], [`resource_manager`] and [`service`],
//!   [`controller_access`] and [`dispatcher`].
//! - For service authors: [`error_reporter`] (error sinks),
//!   [`alloc_action`] (running and writing allocation actions),
//!   [`symbol_lookup`] (lookup sets), [`cpu_features`] (the host's features
//!   for the bootstrap info).
//! - [`ffi`]: the C API (`orc_rt_*`), declared in `include/orc-rt-c/`.
//! - In the `orc-executor` crate: `wire`, LLVM 22's SimpleRemoteEPC protocol
//!   and the controller access that speaks it; `services`, the executor
//!   services LLVM 22 expects.
//!
//! ```
//! use orc_rt::{sps, ExecutorAddr};
//! let bytes = sps::to_vec(&(true, 42u32, "foo"));
//! assert_eq!(bytes, [1, 42, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, b'f', b'o', b'o']);
//! let (flag, n, s): (bool, u32, &str) = sps::from_bytes(&bytes).unwrap();
//! assert!(flag && n == 42 && s == "foo");
//! # let _ = ExecutorAddr::NULL;
//! ```
#![deny(unsafe_code)]

pub mod addr;
pub mod alloc_action;
pub mod controller_access;
pub mod cpu_features;
pub mod dispatcher;
pub mod error;
pub mod error_reporter;
#[allow(
    unsafe_code,
    reason = "the scope's guards and handles share one counted allocation"
)]
pub mod execution_scope;
#[allow(unsafe_code, reason = "the extern \"C\" API")]
pub mod ffi;
pub mod probe;
pub mod resource_manager;
pub mod service;
pub mod session;
pub mod sps;
pub mod symbol_lookup;
#[allow(
    unsafe_code,
    reason = "#[repr(C)] buffer union, storage from the C allocator"
)]
pub mod wrapper;

pub mod sync;

pub use addr::{ExecutorAddr, ExecutorAddrDiff, ExecutorAddrRange};
pub use controller_access::{BootstrapInfo, ControllerAccess, ControllerCallReturn};
pub use dispatcher::{TaskDispatcher, ThreadPoolDispatcher};
pub use error::{Error, ErrorKind, Result};
pub use error_reporter::{ReportError, ReportErrorsViaSession};
pub use execution_scope::{ExecutionScope, ExecutionScopeGuard, ExecutionScopeSource};
pub use resource_manager::{OnComplete, ResourceManager};
pub use service::Service;
pub use session::{
    ProcessInfo, Session, SessionBuilder, SessionHandle, SessionHooks, SessionState, ShutdownReport,
};
#[cfg(feature = "derive")]
pub use sps::Sps;
pub use wrapper::{SpsWrapperFunction, WrapperFunctionBuffer, WrapperReturn};
