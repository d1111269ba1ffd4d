//! The `wire_message` oracle: a live [`Session`] with every executor service
//! registered (as `orc-executor` registers them), attached through the wire
//! protocol's [`WireControllerAccess`] to an in-process controller over a
//! socket pair. The fuzz input is a [`WireInput`]: typed calls to the
//! published wrapper functions, raw calls with arbitrary argument bytes,
//! raw frames with any opcode, seqno and tag, arbitrary byte runs that may
//! split or merge frames, oversized length claims, hangups (with any
//! payload, or a reason), the end of the stream, and executor-side detach
//! and shutdown; plus how the controller answers the executor's own calls
//! (and with which result kind).
//!
//! **Safety of the harness.** The controller may make the executor run code
//! at any address: by design, and a fuzzer doing it would only find its own
//! crash. Every byte bound for the executor goes through a [`Framer`] that
//! parses the stream as the executor does (with its own [`Header::decode`])
//! and rewrites each complete `CallWrapper` frame before it is sent: unregistered tags (called with the
//! legacy ABI when the fallback is on) become a harmless echo function;
//! run-as-main/void/int and alloc-action function addresses become harmless
//! functions of the right ABI; eh-frame registrations only ever name a
//! static empty section; reservation sizes, read lengths and string counts
//! are bounded so one input cannot take the machine's memory. Partial frames
//! are only sent right before the end of the stream, so no byte run can turn
//! into an unsanitized call.
//!
//! **Properties** (each a panic with a message when violated):
//! 1. No panic anywhere: none in the harness, none contained by the session
//!    (the error reporter must stay silent, the shutdown report must hold no
//!    [`ErrorKind::Panic`]).
//! 2. The executor's stream is well formed: Setup first (announcing every
//!    service), then only Result, CallWrapper and at most one Hangup, and
//!    nothing after a Hangup.
//! 3. Exactly once: every CallWrapper the executor received before the end
//!    of its input (end of stream, Hangup, or the first protocol error) gets
//!    exactly one Result with its seqno (or one lost-result report), and no
//!    Result answers a call that was not delivered. When the executor itself
//!    ended the connection (detach, shutdown, controller stopped reading),
//!    at most one.
//! 4. The connection ends as the stream says (protocol 3.1, 10, 11):
//!    orderly for an end of stream at a frame boundary or a Hangup whose
//!    payload is empty or SPS `Error` success; with the controller's reason
//!    ([`ErrorKind::Remote`], its message) for a Hangup carrying an `Error`
//!    failure; a [`ErrorKind::Protocol`] error for any other Hangup payload
//!    (`Could not deserialize hangup info`), a malformed or truncated
//!    frame, an unknown opcode, a Setup, a Result of kind 2 or above
//!    (`Malformed result message: invalid kind N`, whatever its seqno) or a
//!    Result for a seqno with no call in flight (`No call for sequence
//!    number N`).
//! 5. Answers have the declared SPS result type (or are empty: an
//!    out-of-band error), and agree with a model where the model knows the
//!    answer: reservations (any page multiple; aligned, disjoint, counted
//!    by the memory manager, gone from the address space once released;
//!    size 0 maps nothing and answers address 0, whose release then
//!    succeeds once, as LLVM 22), whether a release succeeds (every base
//!    a live reservation, none holding initialized regions), a forged
//!    instance changes nothing, writes then reads of untouched reservations round-trip, a
//!    write with any target outside every reservation writes nothing, the
//!    harmless functions return what they compute (JIT'd code calling the
//!    controller gets a kind 0 Result's bytes, a kind 1 Result's message as
//!    an out-of-band error, an error when the Result ended the session),
//!    the dylib manager's process handle and symbol rules.
//! 6. Shutdown always completes (bounded waits, no hang) and leaves nothing
//!    behind: no reservation, no open library, no mapping.
//!
//! The parts: [`input`] (the fuzz input), [`harness`] (the session, the
//! socket pair, the run), [`framer`] (the stream to the executor) with
//! [`sanitize`] (the rewrite) and [`targets`] (what Setup announced),
//! [`controller`] (the stream from the executor), [`calls`] (typed calls),
//! [`model`] and [`checks`] (the answers against the model).
//!
//! [`Session`]: orc_rt::session::Session
//! [`WireControllerAccess`]: orc_executor::wire::WireControllerAccess
//! [`ErrorKind::Panic`]: orc_rt::error::ErrorKind::Panic
//! [`ErrorKind::Remote`]: orc_rt::error::ErrorKind::Remote
//! [`ErrorKind::Protocol`]: orc_rt::error::ErrorKind::Protocol
//! [`Framer`]: framer::Framer
//! [`Header::decode`]: orc_executor::wire::Header::decode

mod calls;
mod checks;
mod controller;
mod framer;
mod harness;
mod input;
mod model;
mod sanitize;
mod targets;

use std::sync::Mutex;
use std::time::Duration;

use harness::Harness;
pub use input::{ActionCall, Addr, Call, Reply, Segment, WireInput, WireOp};

/// How long any single wait of the harness may take before it is a hang.
const PATIENCE: Duration = Duration::from_secs(20);
/// Largest reservation a call may ask for (pages); larger sizes are reduced
/// modulo this, so zero and unaligned sizes stay possible.
const MAX_RESERVE_PAGES: u64 = 16;
/// Operations beyond this many are ignored (keeps one input cheap).
const MAX_OPS: usize = 64;
/// Seqno bit set on Results the controller sends for no call: the
/// executor numbers its calls from 1 and never gets near it.
const FOREIGN_SEQNO: u64 = 1 << 40;

/// Decodes `data` as the fuzz target does (`fuzz_target!(|input:
/// WireInput| ...)`): `None` where libFuzzer would skip the input.
pub fn wire_message_input(data: &[u8]) -> Option<WireInput> {
    crate::fuzz_target_input(data)
}

/// Runs the raw input `data` (corpus replay).
pub fn wire_message_bytes(data: &[u8]) {
    if let Some(input) = wire_message_input(data) {
        wire_message(&input);
    }
}

/// Runs one input and checks the properties (module docs).
pub fn wire_message(input: &WireInput) {
    // One run at a time per process: runs share the harmless functions'
    // dispatch slot, the unwinder's registry and, for the unmapped-address
    // checks, the address space.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    // Every wait of the harness is bounded by PATIENCE; the session's own
    // (dropping it, a shutdown that drains inline) are bounded by this.
    let _watchdog = super::Watchdog::start("wire_message", PATIENCE * 6);
    ignore_sigpipe();
    let mut h = Harness::start(input);
    for op in input.ops.iter().take(MAX_OPS) {
        h.apply(op);
    }
    h.finish();
}

/// libFuzzer's `main` does not ignore SIGPIPE as Rust's does: a write to a
/// closed socket must be an `EPIPE` error, not the end of the process.
#[allow(unsafe_code, reason = "sets a signal's disposition")]
fn ignore_sigpipe() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: setting a signal's disposition to SIG_IGN has no
        // preconditions.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    });
}
