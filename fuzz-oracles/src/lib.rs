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
//! - [`session_ops`]: random operations against a session (controller calls,
//!   scope guards, managers, faults, detach and shutdown), the invariants
//!   checked after each step.
//! - [`interleavings`]: one of the repository's scenarios under `orc-sim`,
//!   the scheduler's decisions taken from the input (coverage-guided search
//!   of interleavings).

#![deny(unsafe_code)]
#![allow(
    missing_docs,
    reason = "the fields of the fuzzers' structured inputs are named for what they set"
)]

#[allow(
    unsafe_code,
    reason = "harmless C entry points for alloc actions, and the C buffer API"
)]
mod harmless;
mod interleavings;
pub mod seeds;
mod session_ops;
mod sps_decode;
#[allow(
    unsafe_code,
    reason = "signal disposition and mincore probes of the harness"
)]
mod wire_message;
#[allow(
    unsafe_code,
    reason = "adopts raw C buffers and calls the C buffer API"
)]
mod wrapper_buffer;

/// Decodes `data` as libfuzzer-sys 0.4 hands it to a `fuzz_target!` that
/// takes a `T`: `None` where it skips the input (shorter than `T`'s minimum
/// size, or `arbitrary_take_rest` fails).
pub(crate) fn fuzz_target_input<'a, T: arbitrary::Arbitrary<'a>>(data: &'a [u8]) -> Option<T> {
    if data.len() < T::size_hint(0).0 {
        return None;
    }
    T::arbitrary_take_rest(arbitrary::Unstructured::new(data)).ok()
}

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

/// Aborts the process with a message if one oracle run takes longer than
/// its budget: a hang (a deadlock, a wait that never ends) must fail the
/// corpus replay rather than stall it. Under libFuzzer, `-timeout` does the
/// same and keeps the input. Drop the guard when the run is over.
pub(crate) struct Watchdog {
    id: u64,
}

struct WatchdogState {
    /// The run being watched: (id, what, deadline).
    current: Option<(u64, &'static str, std::time::Instant)>,
    next_id: u64,
}

static WATCHDOG: std::sync::Mutex<WatchdogState> = std::sync::Mutex::new(WatchdogState {
    current: None,
    next_id: 0,
});

impl Watchdog {
    /// Watches the run of oracle `what` for at most `budget`.
    pub(crate) fn start(what: &'static str, budget: std::time::Duration) -> Watchdog {
        static THREAD: std::sync::Once = std::sync::Once::new();
        THREAD.call_once(|| {
            std::thread::Builder::new()
                .name("orc-rt-fuzz-watchdog".into())
                .spawn(|| {
                    loop {
                        std::thread::sleep(std::time::Duration::from_millis(500));
                        let st = WATCHDOG.lock().unwrap_or_else(|p| p.into_inner());
                        if let Some((_, what, deadline)) = st.current
                            && std::time::Instant::now() > deadline
                        {
                            // Not eprintln!: a test's output capture would
                            // swallow it, and we are about to abort.
                            use std::io::Write as _;
                            let _ = writeln!(
                                std::io::stderr(),
                                "{what}: the run hangs (watchdog); aborting"
                            );
                            std::process::abort();
                        }
                    }
                })
                .expect("watchdog thread");
        });
        let mut st = WATCHDOG.lock().unwrap_or_else(|p| p.into_inner());
        st.next_id += 1;
        let id = st.next_id;
        st.current = Some((id, what, std::time::Instant::now() + budget));
        Watchdog { id }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let mut st = WATCHDOG.lock().unwrap_or_else(|p| p.into_inner());
        if st.current.is_some_and(|(id, _, _)| id == self.id) {
            st.current = None;
        }
    }
}

pub use interleavings::{
    INTERLEAVINGS_HEADER, InterleavingsInput, interleavings, interleavings_scenarios, scenario_key,
};
pub use session_ops::{
    SessionOp, SessionOpsInput, session_ops, session_ops_bytes, session_ops_input,
};
pub use sps_decode::sps_decode;
pub use wire_message::{
    ActionCall, Addr, Call, Reply, Segment, WireInput, WireOp, wire_message, wire_message_bytes,
    wire_message_input,
};
pub use wrapper_buffer::{BufferOp, wrapper_buffer, wrapper_buffer_bytes, wrapper_buffer_ops};
