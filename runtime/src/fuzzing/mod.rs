//! Fuzz oracles, shared by the `fuzz/` targets and by the corpus-replay
//! test (`tests/fuzz_corpus.rs`), so a fuzz target is one line of glue and
//! every checked-in input runs under plain `cargo test`.
//!
//! Each oracle panics only on a real bug: a decoder that accepts bytes it
//! cannot give back, an error of the wrong shape, a buffer that disagrees
//! with a simple model of it, a session that answers a call twice or never
//! shuts down. Bad input is never a panic.
//!
//! - [`sps_decode`]: arbitrary bytes decoded as many SPS types.
//! - [`wrapper_buffer`]: a sequence of [`BufferOp`]s run on
//!   `WrapperFunctionBuffer`s (Rust API and C API) and checked against a model.
//! - [`wire_message`]: frames and message sequences fed to a live session
//!   with every executor service, over the wire protocol and a socket pair.
//! - [`scenario`]: controller calls, scope guards, managers, faults, detach
//!   and shutdown against a session, invariants checked after every step.

mod harmless;
mod scenario;
pub mod seeds;
mod sps_decode;
mod wire_message;
mod wrapper_buffer;

/// The payload of the panics the oracles inject on purpose (a wrapper, a
/// manager or a callback that panics). The session contains them; the panic
/// hook lets them pass silently, while any other panic still reaches the
/// previous hook (libfuzzer-sys's aborts the process: a finding).
pub(crate) struct InjectedPanic;

/// Panics with [`InjectedPanic`].
pub(crate) fn inject_panic() -> ! {
    allow_injected_panics();
    std::panic::panic_any(InjectedPanic)
}

/// Installs (once) the hook that lets [`InjectedPanic`]s pass.
pub(crate) fn allow_injected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<InjectedPanic>() {
                previous(info);
            }
        }));
    });
}

pub use scenario::{ScenarioInput, ScenarioOp, scenario, scenario_bytes, scenario_input};
pub use sps_decode::sps_decode;
pub use wire_message::{
    ActionCall, Addr, Call, Reply, Segment, WireInput, WireOp, wire_message, wire_message_bytes,
    wire_message_input,
};
pub use wrapper_buffer::{BufferOp, wrapper_buffer, wrapper_buffer_bytes, wrapper_buffer_ops};
