//! Fuzz oracles, shared by the `fuzz/` targets and by the corpus-replay
//! test (`tests/fuzz_corpus.rs`), so a fuzz target is one line of glue and
//! every checked-in input runs under plain `cargo test`.
//!
//! Each oracle panics only on a real bug: a decoder that accepts bytes it
//! cannot give back, an error of the wrong shape, a buffer that disagrees
//! with a simple model of it. Bad input is never a panic.
//!
//! - [`sps_decode`]: arbitrary bytes decoded as many SPS types.
//! - [`wrapper_buffer`]: a sequence of [`BufferOp`]s run on
//!   `WrapperFunctionBuffer`s (Rust API and C API) and checked against a model.
//! - [`wire_message`]: bytes as SimpleRemoteEPC frames, fed to a live
//!   session with every executor service registered.

mod sps_decode;
mod wire_message;
mod wrapper_buffer;

pub use sps_decode::sps_decode;
pub use wire_message::wire_message;
pub use wrapper_buffer::{BufferOp, wrapper_buffer, wrapper_buffer_bytes, wrapper_buffer_ops};
