//! `orc-executor`: the executor on top of the `orc-rt` core.
//!
//! - [`sys`]: the only code that calls the OS (memory mappings, process
//!   memory, dlopen, the unwinder's and the debugger's registries).
//! - [`call`]: calling JIT'd code, and the C entry points we publish to it.
//! - [`services`]: the executor services LLVM's controller expects, each its
//!   logic plus one SPS binding (`sps_ci`) that returns a table of its
//!   wrapper functions.
//! - [`wire`]: LLVM's SimpleRemoteEPC protocol and the controller access
//!   that speaks it.
//! - [`transport`]: the connection specs and the byte streams they open.
//! - [`Executor`]: a builder that owns the services, the transport and the
//!   session; the `orc-executor` binary only parses its command line.
//! - [`testing`]: the few internals tests and fuzz oracles look at.
#![deny(unsafe_code)]

#[allow(unsafe_code, reason = "calling JIT'd code at an ExecutorAddr")]
pub mod call;
mod executor;
pub mod services;
#[allow(unsafe_code, reason = "mmap/mprotect/dlopen: the OS boundary")]
pub mod sys;
pub mod testing;
pub mod transport;
pub mod wire;

pub use executor::{DEFAULT_SPIN, Executor, ExecutorBuilder, publish_jit_dispatch};
