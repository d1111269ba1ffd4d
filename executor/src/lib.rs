//! `orc-executor`: the executor on top of the `orc-rt` core.
//!
//! - [`sys`]: the only code that calls the OS (memory mappings, process
//!   memory, dlopen, the unwinder's and the debugger's registries).
//! - [`os`]: what the services need from the OS, as one trait with two
//!   backends: [`os::RealOs`] (through [`sys`]; what `orc-executor` runs
//!   on) and [`os::SimulatedOs`] (deterministic, one per simulated run).
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
//!
//! Under `--cfg orc_rt_loom` only the protocol layer is built ([`wire`],
//! and of [`transport`] the trait and the in-memory pair), on loom's
//! primitives through `orc_rt::sync`: the loom models
//! (`executor/tests/loom_*.rs`) run the real controller access.
#![deny(unsafe_code)]

#[cfg(not(orc_rt_loom))]
#[allow(unsafe_code, reason = "calling JIT'd code at an ExecutorAddr")]
pub mod call;
#[cfg(not(orc_rt_loom))]
mod executor;
#[cfg(not(orc_rt_loom))]
pub mod os;
#[cfg(not(orc_rt_loom))]
pub mod services;
#[cfg(not(orc_rt_loom))]
#[allow(unsafe_code, reason = "mmap/mprotect/dlopen: the OS boundary")]
pub mod sys;
#[cfg(not(orc_rt_loom))]
pub mod testing;
pub mod transport;
pub mod wire;

#[cfg(not(orc_rt_loom))]
pub use executor::{DEFAULT_SPIN, Executor, ExecutorBuilder, publish_jit_dispatch};
