//! The `wire_message` oracle: a live [`Session`] with every executor service
//! registered (as `orc-executor` registers them), attached through the wire
//! protocol's [`WireControllerAccess`] to an in-process controller over a
//! socket pair. The fuzz input is a [`WireInput`]: typed calls to the
//! published wrapper functions, raw calls with arbitrary argument bytes,
//! raw frames with any opcode, seqno and tag, arbitrary byte runs that may
//! split or merge frames, oversized length claims, hangups, the end of the
//! stream, and executor-side detach and shutdown; plus how the controller
//! answers the executor's own calls.
//!
//! **Safety of the harness.** The controller may make the executor run code
//! at any address: by design, and a fuzzer doing it would only find its own
//! crash. Every byte bound for the executor goes through a [`Framer`] that
//! parses the stream exactly as the executor does and rewrites each complete
//! `CallWrapper` frame before it is sent: unregistered tags (called with the
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
//! 4. The connection ends as the stream says: orderly for an end of stream
//!    or Hangup at a frame boundary, a [`ErrorKind::Protocol`] error for a
//!    malformed or truncated frame, an unknown opcode, a Setup or a Result
//!    for a seqno with no call in flight.
//! 5. Answers have the declared SPS result type (or are empty: an
//!    out-of-band error), and agree with a model where the model knows the
//!    answer: reservations (aligned, disjoint, counted by the memory manager,
//!    gone from the address space once released), a forged instance changes
//!    nothing, writes then reads of untouched reservations round-trip, a
//!    write with any target outside every reservation writes nothing, the
//!    harmless functions return what they compute, the dylib manager's
//!    process handle and symbol rules.
//! 6. Shutdown always completes (bounded waits, no hang) and leaves nothing
//!    behind: no reservation, no open library, no mapping.

use std::collections::HashMap;
use std::io::{BufReader, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};

use super::harmless::{self, Action};
use orc_executor::services::alloc_actions::ActionCaller;
use orc_executor::services::shared_memory::SharedSegment;
use orc_executor::services::types::{
    AllocActionPair, ExecutorSymbolDef, FinalizeRequest, SegmentRequest,
};
use orc_executor::services::{ExecutorServices, ServiceOptions, names};
use orc_executor::wire::{SetupInfo, WireControllerAccess, WireOptions};
use orc_rt::addr::{ExecutorAddr, ExecutorAddrRange};
use orc_rt::dispatcher::{ThreadPerTaskDispatcher, ThreadSpawner};
use orc_rt::error::{Error, ErrorKind};
use orc_rt::session::Session;
use orc_rt::sps;
use orc_rt::sps::memory::{AllocAction, AllocGroup};

/// How long any single wait of the harness may take before it is a hang.
const PATIENCE: Duration = Duration::from_secs(20);
/// Largest reservation a call may ask for (pages); larger sizes are reduced
/// modulo this, so zero and unaligned sizes stay possible.
const MAX_RESERVE_PAGES: u64 = 16;
/// Largest read-buffers request, in bytes over all ranges.
const MAX_READ_TOTAL: u64 = 1 << 20;
/// Most strings one read-strings request may read.
const MAX_READ_STRINGS: usize = 32;
/// Operations beyond this many are ignored (keeps one input cheap).
const MAX_OPS: usize = 64;
/// Seqno bit set on Results the controller sends for no call: the
/// executor numbers its calls from 1 and never gets near it.
const FOREIGN_SEQNO: u64 = 1 << 40;

// ---- the input ------------------------------------------------------------

/// One fuzz input.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub struct WireInput {
    /// Whether unregistered tags are called with the legacy ABI (as
    /// `orc-executor` does) or refused.
    pub legacy_fallback: bool,
    /// Wire options (bits): 1 quick service calls run on the reader thread,
    /// 2 results of the executor's calls are delivered inline (both as
    /// `orc-executor` sets them), 4 the executor shuts its socket down when
    /// the connection ends (as `orc-executor` does for TCP).
    pub options: u8,
    /// How the controller answers the executor's calls, in turn (cycled;
    /// none: empty answers).
    pub replies: Vec<Reply>,
    /// What the controller does.
    pub ops: Vec<WireOp>,
}

/// The controller's answer to one executor call.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub enum Reply {
    /// A Result with these bytes.
    Answer(Vec<u8>),
    /// A Result whose seqno matches no call: a protocol error.
    WrongSeqno(Vec<u8>),
    /// The right Result, then the same again (the second is an error).
    Twice(Vec<u8>),
    /// No answer: the call fails when the connection ends.
    Ignore,
}

/// An address in a typed call, resolved against what the controller knows.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub enum Addr {
    /// 0.
    Null,
    /// This value.
    Raw(u64),
    /// Inside (or up to 16 bytes past) a reservation the controller got:
    /// the `index`-th (modulo), `offset` modulo its size + 16.
    InReservation {
        /// Which reservation.
        index: u8,
        /// Where in it.
        offset: u32,
    },
    /// The `index`-th (modulo) key an initialize returned.
    Key(u8),
}

/// One segment of an initialize request.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub struct Segment {
    /// Protection bits and lifetime (`AllocGroup`).
    pub group: u8,
    /// Where it goes.
    pub addr: Addr,
    /// Its size, modulo the reservation size + 17.
    pub size: u32,
    /// Its content.
    pub content: Vec<u8>,
}

/// One alloc action: `which` 0 is none, others pick a harmless function.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub struct ActionCall {
    /// Which function (modulo 8; 0 = no call).
    pub which: u8,
    /// Its argument bytes.
    pub args: Vec<u8>,
}

/// A well-typed call of a published wrapper function.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub enum Call {
    /// `reserve(instance, pages * page_size + misalign)`.
    Reserve {
        /// The right instance, or a forged one.
        instance: bool,
        /// Pages (modulo 17).
        pages: u8,
        /// Adds one byte: not a page multiple.
        misalign: bool,
    },
    /// `initialize(instance, {segments, actions})`.
    Initialize {
        /// The right instance, or a forged one.
        instance: bool,
        /// Segments.
        segments: Vec<Segment>,
        /// Finalize/dealloc action pairs.
        actions: Vec<(ActionCall, ActionCall)>,
    },
    /// `deinitialize(instance, keys)`.
    Deinitialize {
        /// The right instance, or a forged one.
        instance: bool,
        /// Keys.
        keys: Vec<Addr>,
    },
    /// `release(instance, bases)`.
    Release {
        /// The right instance, or a forged one.
        instance: bool,
        /// Bases.
        bases: Vec<Addr>,
    },
    /// `write_uint{8,16,32,64}s` / `write_pointers` (width modulo 5).
    Write {
        /// 0..=4: u8, u16, u32, u64, pointer.
        width: u8,
        /// Targets and values (truncated to the width).
        entries: Vec<(Addr, u64)>,
    },
    /// `write_buffers`.
    WriteBuffers {
        /// Targets and bytes.
        entries: Vec<(Addr, Vec<u8>)>,
    },
    /// `read_uint{8,16,32,64}s` / `read_pointers` (width modulo 5).
    Read {
        /// 0..=4: u8, u16, u32, u64, pointer.
        width: u8,
        /// Addresses.
        addrs: Vec<Addr>,
    },
    /// `read_buffers`.
    ReadBuffers {
        /// Starts and lengths.
        ranges: Vec<(Addr, u16)>,
    },
    /// `read_strings`.
    ReadStrings {
        /// Addresses.
        addrs: Vec<Addr>,
    },
    /// `open(instance, path, mode)`; `path` picks one of a few (modulo 5).
    DylibOpen {
        /// The right instance, or a forged one.
        instance: bool,
        /// "", libm, a missing library, a missing path, a path with a NUL.
        path: u8,
        /// LLVM's mode (ignored).
        mode: u64,
    },
    /// `resolve(handle, symbols)`.
    DylibResolve {
        /// The process (0), a forged handle (1), or an opened one.
        handle: u8,
        /// Name picks (modulo 5) and `required`.
        symbols: Vec<(u8, bool)>,
    },
    /// `run_as_main(main, argv)` with the harmless main (or null).
    RunAsMain {
        /// Null function instead.
        null: bool,
        /// Arguments.
        argv: Vec<Vec<u8>>,
    },
    /// `run_as_void(f)` with the harmless function (or null).
    RunAsVoid {
        /// Null function instead.
        null: bool,
    },
    /// `run_as_int(f, arg)`: null, `x * 3`, or a call to the controller
    /// through the published dispatch function (modulo 3).
    RunAsInt {
        /// Which function.
        which: u8,
        /// Its argument.
        arg: i32,
    },
    /// The eh-frame (de)registration entry point, called directly, on the
    /// static empty section or an empty range.
    EhFrame {
        /// Register, or deregister.
        register: bool,
        /// An empty range (an error) instead of the section.
        empty: bool,
    },
    /// The GDB JIT registration entry point, called directly.
    Gdb {
        /// Object start.
        addr: Addr,
        /// Object length.
        len: u16,
        /// Notify the debugger.
        notify: bool,
    },
    /// An unregistered legacy wrapper (echo).
    Echo(Vec<u8>),
    /// Shared-memory mapper `reserve(instance, pages * page_size)`.
    SmReserve {
        /// The right instance, or a forged one.
        instance: bool,
        /// Pages (modulo 17).
        pages: u8,
    },
    /// Shared-memory mapper `initialize(instance, reservation, {segments,
    /// actions})` (the contents are already in place: no bytes).
    SmInitialize {
        /// The right instance, or a forged one.
        instance: bool,
        /// The reservation named.
        reservation: Addr,
        /// Protection group, address, size (modulo the reservation + 17).
        segments: Vec<(u8, Addr, u32)>,
        /// Finalize/dealloc action pairs.
        actions: Vec<(ActionCall, ActionCall)>,
    },
    /// Shared-memory mapper `deinitialize(instance, keys)`.
    SmDeinitialize {
        /// The right instance, or a forged one.
        instance: bool,
        /// Keys.
        keys: Vec<Addr>,
    },
    /// Shared-memory mapper `release(instance, bases)`.
    SmRelease {
        /// The right instance, or a forged one.
        instance: bool,
        /// Bases.
        bases: Vec<Addr>,
    },
}

/// What the controller does next.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub enum WireOp {
    /// A typed call; `wait`: wait for its answer before going on.
    Call {
        /// The call.
        call: Call,
        /// Wait for the answer.
        wait: bool,
    },
    /// A call of target `target` (modulo the targets + 1; the last means
    /// "the raw `tag`") with arbitrary argument bytes.
    RawCall {
        /// Which target.
        target: u8,
        /// The tag, for the last choice.
        tag: u64,
        /// Argument bytes.
        args: Vec<u8>,
        /// Wait for the answer.
        wait: bool,
    },
    /// A well-framed message: `opcode` 0..=3 is Setup, Hangup, Result,
    /// CallWrapper; others are sent as that (unknown) opcode. Results get a
    /// seqno no call has.
    Frame {
        /// The opcode.
        opcode: u8,
        /// The seqno.
        seqno: u64,
        /// The tag.
        tag: u64,
        /// The payload.
        payload: Vec<u8>,
    },
    /// Arbitrary bytes into the stream (frames may split or merge).
    Bytes(Vec<u8>),
    /// A header with size field `claim` (any value) then `sent` bytes.
    Claim {
        /// The opcode, as for `Frame`.
        opcode: u8,
        /// The size field.
        claim: u64,
        /// Bytes that follow.
        sent: Vec<u8>,
    },
    /// Wait until every call delivered so far is answered.
    Sync,
    /// A Hangup with this payload.
    Hangup(Vec<u8>),
    /// The controller closes its writing end.
    EndOfStream,
    /// The controller stops reading (the executor's writes fail).
    StopReading,
    /// The executor's owner detaches the session.
    ExecutorDetach,
    /// The executor's owner shuts the session down.
    ExecutorShutdown,
}

/// Decodes `data` as the fuzz target does (`fuzz_target!(|input:
/// WireInput| ...)`): `None` where libFuzzer would skip the input.
pub fn wire_message_input(data: &[u8]) -> Option<WireInput> {
    if data.len() < <WireInput as Arbitrary>::size_hint(0).0 {
        return None;
    }
    WireInput::arbitrary_take_rest(Unstructured::new(data)).ok()
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
fn ignore_sigpipe() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: setting a signal's disposition to SIG_IGN has no
        // preconditions.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    });
}

// ---- what the controller learnt from Setup ----------------------------------

/// The executor's published wrapper functions and entry points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    Reserve,
    Initialize,
    Deinitialize,
    Release,
    DylibOpen,
    DylibResolve,
    Write(u8),
    WriteBuffers,
    Read(u8),
    ReadBuffers,
    ReadStrings,
    RunAsMain,
    RunAsVoid,
    RunAsInt,
    EhRegister,
    EhDeregister,
    Gdb,
    Echo,
    SmReserve,
    SmInitialize,
    SmDeinitialize,
    SmRelease,
}

const TARGETS: [(Target, &str); 29] = [
    (Target::Reserve, names::MEMORY_MANAGER_RESERVE),
    (Target::Initialize, names::MEMORY_MANAGER_INITIALIZE),
    (Target::Deinitialize, names::MEMORY_MANAGER_DEINITIALIZE),
    (Target::Release, names::MEMORY_MANAGER_RELEASE),
    (Target::DylibOpen, names::DYLIB_MANAGER_OPEN),
    (Target::DylibResolve, names::DYLIB_MANAGER_RESOLVE),
    (Target::Write(0), names::WRITE_UINT8S),
    (Target::Write(1), names::WRITE_UINT16S),
    (Target::Write(2), names::WRITE_UINT32S),
    (Target::Write(3), names::WRITE_UINT64S),
    (Target::Write(4), names::WRITE_POINTERS),
    (Target::WriteBuffers, names::WRITE_BUFFERS),
    (Target::Read(0), names::READ_UINT8S),
    (Target::Read(1), names::READ_UINT16S),
    (Target::Read(2), names::READ_UINT32S),
    (Target::Read(3), names::READ_UINT64S),
    (Target::Read(4), names::READ_POINTERS),
    (Target::ReadBuffers, names::READ_BUFFERS),
    (Target::ReadStrings, names::READ_STRINGS),
    (Target::RunAsMain, names::RUN_AS_MAIN),
    (Target::RunAsVoid, names::RUN_AS_VOID),
    (Target::RunAsInt, names::RUN_AS_INT),
    (Target::EhRegister, names::REGISTER_EH_FRAME),
    (Target::EhDeregister, names::DEREGISTER_EH_FRAME),
    (Target::Gdb, names::REGISTER_JIT_LOADER_GDB),
    (Target::SmReserve, names::SHARED_MEMORY_RESERVE),
    (Target::SmInitialize, names::SHARED_MEMORY_INITIALIZE),
    (Target::SmDeinitialize, names::SHARED_MEMORY_DEINITIALIZE),
    (Target::SmRelease, names::SHARED_MEMORY_RELEASE),
];

/// Byte width of `Write(w)`/`Read(w)`.
fn width_bytes(w: u8) -> usize {
    match w {
        0 => 1,
        1 => 2,
        2 => 4,
        _ => 8,
    }
}

#[derive(Debug)]
struct Known {
    tags: HashMap<Target, ExecutorAddr>,
    by_tag: HashMap<ExecutorAddr, Target>,
    mm_instance: ExecutorAddr,
    dm_instance: ExecutorAddr,
    sm_instance: ExecutorAddr,
    process_handle: ExecutorAddr,
    legacy_fallback: bool,
    /// Tags the session calls as its own (registered) wrappers.
    registered: Vec<ExecutorAddr>,
}

impl Known {
    fn from_setup(setup: &SetupInfo, services: &ExecutorServices, legacy_fallback: bool) -> Known {
        let sym = |name: &str| -> ExecutorAddr {
            match setup.bootstrap_symbols.get(name) {
                Some(a) if !a.is_null() => *a,
                _ => panic!("Setup does not announce {name}: {setup:?}"),
            }
        };
        let mut tags = HashMap::new();
        let mut by_tag = HashMap::new();
        let mut registered = Vec::new();
        for (target, name) in TARGETS {
            let addr = sym(name);
            tags.insert(target, addr);
            assert!(
                by_tag.insert(addr, target).is_none(),
                "two bootstrap symbols share {addr}"
            );
            if !matches!(
                target,
                Target::EhRegister | Target::EhDeregister | Target::Gdb
            ) {
                registered.push(addr);
            }
        }
        tags.insert(Target::Echo, harmless::echo_addr());
        by_tag.insert(harmless::echo_addr(), Target::Echo);
        let ctx = sym(names::DISPATCH_CTX);
        let dispatch_fn = sym(names::DISPATCH_FN);
        harmless::set_dispatch(Some((ctx, dispatch_fn)));
        assert_eq!(
            setup.page_size,
            orc_executor::sys::page_size(),
            "Setup announces the page size"
        );
        assert_eq!(
            setup.target_triple,
            orc_executor::sys::process_triple(),
            "Setup announces the process triple"
        );
        Known {
            tags,
            by_tag,
            mm_instance: sym(names::MEMORY_MANAGER_INSTANCE),
            dm_instance: sym(names::DYLIB_MANAGER_INSTANCE),
            sm_instance: sym(names::SHARED_MEMORY_INSTANCE),
            process_handle: services.dylib_manager.process_handle(),
            legacy_fallback,
            registered,
        }
    }

    fn tag(&self, t: Target) -> ExecutorAddr {
        self.tags[&t]
    }

    /// What a call to `tag` runs, if it is one of the published functions
    /// and the session would call it (entry points and the echo function are
    /// only called with the legacy fallback on).
    fn classify(&self, tag: ExecutorAddr) -> Option<Target> {
        let t = *self.by_tag.get(&tag)?;
        let registered = self.registered.contains(&tag);
        (registered || self.legacy_fallback).then_some(t)
    }

    /// Rewrites one call so that executing it cannot run arbitrary code or
    /// take unbounded memory (module docs). Returns the tag and payload to
    /// send and what the call runs.
    fn sanitize(
        &self,
        tag: ExecutorAddr,
        payload: &[u8],
    ) -> (ExecutorAddr, Vec<u8>, Option<Target>) {
        let Some(target) = self.classify(tag) else {
            if self.by_tag.contains_key(&tag) || !self.legacy_fallback || tag.is_null() {
                // Refused by the session: "no wrapper function registered".
                return (tag, payload.to_vec(), None);
            }
            // Anything else would be called as code: make it the echo.
            return (harmless::echo_addr(), payload.to_vec(), Some(Target::Echo));
        };
        let payload = match target {
            Target::Reserve | Target::SmReserve => {
                rewrite::<(ExecutorAddr, u64)>(payload, |(i, size)| {
                    let max = MAX_RESERVE_PAGES * orc_executor::sys::page_size();
                    (i, if size > max { size % (max + 1) } else { size })
                })
            }
            Target::Initialize => sanitize_initialize(payload),
            Target::SmInitialize => sanitize_shared_initialize(payload),
            Target::RunAsMain => rewrite::<(ExecutorAddr, Vec<&[u8]>)>(payload, |(f, argv)| {
                (harmless_or_null(f, harmless::main_addr()), argv)
            }),
            Target::RunAsVoid => {
                rewrite::<ExecutorAddr>(payload, |f| harmless_or_null(f, harmless::void_addr()))
            }
            Target::RunAsInt => rewrite::<(ExecutorAddr, i32)>(payload, |(f, x)| {
                let fns = harmless::int_addrs();
                let pick = if fns.contains(&f) {
                    f
                } else {
                    fns[(f.value() % 2) as usize]
                };
                (harmless_or_null(f, pick), x)
            }),
            Target::ReadBuffers => rewrite::<Vec<ExecutorAddrRange>>(payload, |ranges| {
                let mut budget = MAX_READ_TOTAL;
                ranges
                    .into_iter()
                    .map(|r| {
                        if r.end < r.start {
                            return r; // refused before reading
                        }
                        let len = r.size().min(budget).min(1 << 16);
                        budget -= len;
                        ExecutorAddrRange::new(r.start, ExecutorAddr::new(r.start.value() + len))
                    })
                    .collect::<Vec<_>>()
            }),
            Target::ReadStrings => rewrite::<Vec<ExecutorAddr>>(payload, |mut addrs| {
                addrs.truncate(MAX_READ_STRINGS);
                addrs
            }),
            Target::DylibOpen => {
                rewrite::<(ExecutorAddr, &[u8], u64)>(payload, |(i, path, mode)| {
                    (i, pick_path(path), mode)
                })
            }
            Target::EhRegister => Action::RegisterEh.sanitize_args(payload),
            Target::EhDeregister => Action::DeregisterEh.sanitize_args(payload),
            _ => payload.to_vec(),
        };
        (tag, payload, Some(target))
    }
}

/// Decodes the argument prefix as `A`; if it decodes, re-encodes `f(a)`
/// followed by the unread bytes, else leaves the bytes alone (the executor
/// decodes them with the same type and fails the same way).
fn rewrite<'a, A>(payload: &'a [u8], f: impl FnOnce(A) -> A) -> Vec<u8>
where
    A: sps::SpsDecode<'a> + sps::SpsEncode,
{
    match sps::from_prefix::<A>(payload) {
        Ok((a, rest)) => {
            let mut out = sps::to_vec(&f(a));
            out.extend_from_slice(rest);
            out
        }
        Err(_) => payload.to_vec(),
    }
}

fn harmless_or_null(f: ExecutorAddr, harmless: ExecutorAddr) -> ExecutorAddr {
    if f.is_null() { f } else { harmless }
}

/// The libraries a fuzzed `open` may name: the process, libm (already in
/// the process, harmless), a missing library, a missing path, a path with a
/// NUL (refused before `dlopen`).
const PATHS: [&[u8]; 5] = [
    b"",
    b"libm.so.6",
    b"liborc-rt-fuzz-missing.so.1",
    b"/nonexistent/orc-rt/lib.so",
    b"bad\0path",
];

fn pick_path(path: &[u8]) -> &'static [u8] {
    if let Some(p) = PATHS.iter().find(|p| **p == path) {
        return p;
    }
    let h = path.iter().fold(path.len() as u64, |h, b| {
        h.wrapping_mul(31).wrapping_add(u64::from(*b))
    });
    PATHS[(h % PATHS.len() as u64) as usize]
}

/// An alloc action that only calls a harmless function.
fn harmless_action(call: &AllocAction) -> AllocAction {
    if call.is_none() {
        return call.clone();
    }
    let action = Action::ALL
        .iter()
        .copied()
        .find(|a| a.addr() == call.function)
        .unwrap_or(Action::ALL[(call.function.value() % Action::ALL.len() as u64) as usize]);
    AllocAction {
        function: action.addr(),
        args: action.sanitize_args(call.args.bytes()).into(),
    }
}

/// A shared-memory initialize request whose actions only call harmless
/// functions.
fn sanitize_shared_initialize(payload: &[u8]) -> Vec<u8> {
    type Request = (Vec<SharedSegment>, Vec<AllocActionPair>);
    rewrite::<(ExecutorAddr, ExecutorAddr, Request)>(
        payload,
        |(instance, reservation, (segments, actions))| {
            let actions = actions
                .iter()
                .map(|p| AllocActionPair {
                    finalize: harmless_action(&p.finalize),
                    dealloc: harmless_action(&p.dealloc),
                })
                .collect();
            (instance, reservation, (segments, actions))
        },
    )
}

/// An initialize request whose actions only call harmless functions.
fn sanitize_initialize(payload: &[u8]) -> Vec<u8> {
    let Ok(((instance, req), rest)) =
        sps::from_prefix::<(ExecutorAddr, FinalizeRequest<'_>)>(payload)
    else {
        return payload.to_vec();
    };
    let actions: Vec<AllocActionPair> = req
        .actions
        .iter()
        .map(|p| AllocActionPair {
            finalize: harmless_action(&p.finalize),
            dealloc: harmless_action(&p.dealloc),
        })
        .collect();
    let req = FinalizeRequest {
        segments: req.segments,
        actions,
    };
    let mut out = sps::to_vec(&(instance, req));
    out.extend_from_slice(rest);
    out
}

// ---- the stream to the executor -------------------------------------------------

/// How the executor's input ended (the first terminal event in stream order).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ending {
    /// End of stream at a frame boundary, or a Hangup: orderly.
    Orderly(&'static str),
    /// A protocol error.
    Protocol(&'static str),
}

/// A call the executor received.
#[derive(Debug, Clone)]
struct Delivered {
    seqno: u64,
    target: Option<Target>,
    payload: Vec<u8>,
    /// Sent alone and waited for: the model may predict its answer.
    quiescent: bool,
}

#[derive(Debug)]
enum FState {
    /// Collecting a header (bytes in `pending`).
    Header,
    /// Streaming the payload of a non-call frame (header already sent).
    Stream { opcode: u64, remaining: u64 },
    /// Buffering a CallWrapper (header and payload in `pending`).
    Call {
        seqno: u64,
        tag: u64,
        remaining: u64,
    },
    /// The executor stopped reading at a terminal frame.
    Dead,
}

/// Everything bound for the executor passes through here (module docs).
struct Framer {
    out: Option<UnixStream>,
    known: Arc<Known>,
    pending: Vec<u8>,
    state: FState,
    delivered: Vec<Delivered>,
    ending: Option<Ending>,
    /// The next complete call is sent alone and waited for.
    quiescent_next: bool,
}

impl Framer {
    fn send(&mut self, bytes: &[u8]) {
        if let Some(out) = self.out.as_mut() {
            // EPIPE/ECONNRESET once the executor closed its end: its loss.
            let _ = out.write_all(bytes);
        }
    }

    fn end(&mut self, ending: Ending) {
        if self.ending.is_none() {
            self.ending = Some(ending);
        }
        self.state = FState::Dead;
        self.pending.clear();
    }

    /// Feeds bytes in stream order. `reply`: these bytes are one complete
    /// Result frame answering a call the executor has in flight.
    fn feed(&mut self, mut bytes: &[u8], reply: bool) {
        let mut valid_reply =
            reply && matches!(self.state, FState::Header) && self.pending.is_empty();
        while !bytes.is_empty() {
            match self.state {
                FState::Dead => return,
                FState::Header => {
                    let n = (32 - self.pending.len()).min(bytes.len());
                    self.pending.extend_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                    if self.pending.len() < 32 {
                        continue;
                    }
                    let word = |i: usize| {
                        u64::from_le_bytes(self.pending[i * 8..i * 8 + 8].try_into().unwrap())
                    };
                    let (size, opcode, seqno, tag) = (word(0), word(1), word(2), word(3));
                    if size < 32 || opcode > 3 {
                        let header = std::mem::take(&mut self.pending);
                        self.send(&header);
                        self.end(Ending::Protocol(if size < 32 {
                            "size too small"
                        } else {
                            "unknown opcode"
                        }));
                        return;
                    }
                    let remaining = size - 32;
                    if opcode == 3 {
                        self.state = FState::Call {
                            seqno,
                            tag,
                            remaining,
                        };
                    } else {
                        let header = std::mem::take(&mut self.pending);
                        self.send(&header);
                        self.state = FState::Stream { opcode, remaining };
                    }
                }
                FState::Stream { opcode, remaining } => {
                    let n = remaining.min(bytes.len() as u64) as usize;
                    self.send(&bytes[..n]);
                    bytes = &bytes[n..];
                    self.state = FState::Stream {
                        opcode,
                        remaining: remaining - n as u64,
                    };
                }
                FState::Call {
                    seqno,
                    tag,
                    remaining,
                } => {
                    let n = remaining.min(bytes.len() as u64) as usize;
                    self.pending.extend_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                    self.state = FState::Call {
                        seqno,
                        tag,
                        remaining: remaining - n as u64,
                    };
                }
            }
            // A frame may be complete now (also an empty payload).
            match self.state {
                FState::Stream {
                    opcode,
                    remaining: 0,
                } => {
                    self.state = FState::Header;
                    match opcode {
                        0 => self.end(Ending::Protocol("Setup from the controller")),
                        1 => self.end(Ending::Orderly("Hangup")),
                        _ if valid_reply => {}
                        _ => self.end(Ending::Protocol("Result for no call")),
                    }
                    valid_reply = false;
                }
                FState::Call {
                    seqno,
                    tag,
                    remaining: 0,
                } => {
                    let frame = std::mem::take(&mut self.pending);
                    let (tag, payload, target) =
                        self.known.sanitize(ExecutorAddr::new(tag), &frame[32..]);
                    let mut out = Vec::with_capacity(32 + payload.len());
                    for w in [(32 + payload.len()) as u64, 3, seqno, tag.value()] {
                        out.extend_from_slice(&w.to_le_bytes());
                    }
                    out.extend_from_slice(&payload);
                    self.send(&out);
                    let quiescent = std::mem::take(&mut self.quiescent_next);
                    self.delivered.push(Delivered {
                        seqno,
                        target,
                        payload,
                        quiescent,
                    });
                    self.state = FState::Header;
                    valid_reply = false;
                }
                _ => {}
            }
        }
    }

    /// The controller closes its writing end: a partial frame goes out as
    /// it is (the executor cannot complete it), then end of stream.
    fn close(&mut self) {
        let partial = match self.state {
            FState::Header => !self.pending.is_empty(),
            FState::Stream { .. } | FState::Call { .. } => true,
            FState::Dead => false,
        };
        let pending = std::mem::take(&mut self.pending);
        self.send(&pending);
        if partial {
            self.end(Ending::Protocol("truncated frame"));
        } else {
            self.end(Ending::Orderly("end of stream"));
        }
        if let Some(out) = self.out.take() {
            let _ = out.shutdown(Shutdown::Write);
        }
    }
}

fn frame(opcode: u64, seqno: u64, tag: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + payload.len());
    for w in [(32 + payload.len()) as u64, opcode, seqno, tag] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out.extend_from_slice(payload);
    out
}

// ---- the stream from the executor ---------------------------------------------

/// What the controller saw and heard.
#[derive(Default)]
struct Log {
    setup: Option<SetupInfo>,
    /// Results by seqno, in arrival order.
    results: HashMap<u64, Vec<Vec<u8>>>,
    /// Results that could not be sent (the executor's report).
    lost: HashMap<u64, usize>,
    hangup: bool,
    eof: bool,
    violations: Vec<String>,
    /// Executor calls the controller chose not to answer.
    ignored: usize,
    reported: Vec<String>,
    disconnect: Option<Result<(), Error>>,
}

struct Shared {
    log: Mutex<Log>,
    changed: Condvar,
    framer: Mutex<Option<Framer>>,
    replies: Vec<Reply>,
}

impl Shared {
    fn log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn framer(&self) -> MutexGuard<'_, Option<Framer>> {
        self.framer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn note(&self, f: impl FnOnce(&mut Log)) {
        f(&mut self.log());
        self.changed.notify_all();
    }
}

/// Reads the executor's frames, answers its calls, records the rest.
fn controller_reader(shared: Arc<Shared>, sock: UnixStream) {
    let mut r = BufReader::with_capacity(64 * 1024, sock);
    let mut first = true;
    let mut calls = 0usize;
    loop {
        let mut header = [0u8; 32];
        match read_full(&mut r, &mut header) {
            0 => break,
            32 => {}
            n => {
                shared.note(|l| {
                    l.violations
                        .push(format!("executor sent a partial header ({n} bytes)"))
                });
                break;
            }
        }
        let word = |i: usize| u64::from_le_bytes(header[i * 8..i * 8 + 8].try_into().unwrap());
        let (size, opcode, seqno, tag) = (word(0), word(1), word(2), word(3));
        if !(32..=(1 << 30)).contains(&size) {
            shared.note(|l| {
                l.violations
                    .push(format!("executor sent a frame of size {size}"))
            });
            break;
        }
        let mut payload = vec![0u8; (size - 32) as usize];
        if read_full(&mut r, &mut payload) != payload.len() {
            shared.note(|l| {
                l.violations
                    .push("executor sent a truncated payload".into())
            });
            break;
        }
        let was_first = std::mem::replace(&mut first, false);
        let mut log = shared.log();
        if log.hangup {
            log.violations
                .push(format!("executor sent opcode {opcode} after its Hangup"));
        }
        match opcode {
            0 if was_first => match SetupInfo::from_bytes(&payload) {
                Ok(s) => log.setup = Some(s),
                Err(e) => log.violations.push(format!("undecodable Setup: {e}")),
            },
            0 => log.violations.push("a second Setup".into()),
            _ if was_first => log
                .violations
                .push(format!("first frame has opcode {opcode}, not Setup")),
            1 => log.hangup = true,
            2 => log.results.entry(seqno).or_default().push(payload),
            3 => {
                let _ = tag;
                let plan = if shared.replies.is_empty() {
                    Reply::Answer(Vec::new())
                } else {
                    shared.replies[calls % shared.replies.len()].clone()
                };
                calls += 1;
                if plan == Reply::Ignore {
                    log.ignored += 1;
                }
                drop(log);
                let mut framer = shared.framer();
                if let Some(f) = framer.as_mut() {
                    match &plan {
                        Reply::Answer(p) => f.feed(&frame(2, seqno, 0, p), true),
                        Reply::WrongSeqno(p) => {
                            f.feed(&frame(2, seqno | FOREIGN_SEQNO, 0, p), false)
                        }
                        Reply::Twice(p) => {
                            f.feed(&frame(2, seqno, 0, p), true);
                            f.feed(&frame(2, seqno, 0, p), false);
                        }
                        Reply::Ignore => {}
                    }
                }
                drop(framer);
                shared.changed.notify_all();
                continue;
            }
            other => log
                .violations
                .push(format!("executor sent unknown opcode {other}")),
        }
        drop(log);
        shared.changed.notify_all();
    }
    shared.note(|l| l.eof = true);
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    n
}

// ---- the model ------------------------------------------------------------------

#[derive(Debug)]
struct Reservation {
    base: u64,
    size: u64,
    /// A shared-memory mapper reservation (else the memory manager's).
    shared: bool,
    /// Never touched by an initialize or an unpredictable write: its bytes
    /// are `bytes` and it is writable.
    fresh: bool,
    bytes: Vec<u8>,
}

impl Reservation {
    fn contains(&self, addr: u64, len: u64) -> bool {
        addr >= self.base
            && addr
                .checked_add(len)
                .is_some_and(|end| end <= self.base + self.size)
    }
}

#[derive(Debug, Default)]
struct Model {
    live: Vec<Reservation>,
    keys: Vec<u64>,
    handles: Vec<ExecutorAddr>,
}

impl Model {
    fn find(&self, addr: u64, len: u64) -> Option<usize> {
        self.live.iter().position(|r| r.contains(addr, len))
    }

    /// Marks every reservation overlapping `[addr, addr + len)` as touched.
    fn touch(&mut self, addr: u64, len: u64) {
        let end = addr.saturating_add(len.max(1));
        for r in &mut self.live {
            if addr < r.base + r.size && r.base < end {
                r.fresh = false;
            }
        }
    }

    fn resolve(&self, a: &Addr) -> ExecutorAddr {
        ExecutorAddr::new(match a {
            Addr::Null => 0,
            Addr::Raw(v) => *v,
            Addr::InReservation { index, offset } => match self.live.len() {
                0 => u64::from(*offset),
                n => {
                    let r = &self.live[*index as usize % n];
                    r.base + u64::from(*offset) % (r.size + 16)
                }
            },
            Addr::Key(i) => match self.keys.len() {
                0 => 0,
                n => self.keys[*i as usize % n],
            },
        })
    }

    /// All of `[addr, addr + len)` in one fresh reservation: its index.
    fn fresh_at(&self, addr: u64, len: u64) -> Option<usize> {
        self.find(addr, len).filter(|&i| self.live[i].fresh)
    }
}

/// Every page of `[base, base + size)` is unmapped.
fn unmapped(base: u64, size: u64) -> bool {
    let page = orc_executor::sys::page_size();
    let mut vec = [0u8; 1];
    (0..size.div_ceil(page)).all(|i| {
        // SAFETY: mincore only queries the kernel about the page; `vec` has
        // room for the one page asked about.
        let rc = unsafe {
            libc::mincore(
                (base + i * page) as usize as *mut libc::c_void,
                page as usize,
                vec.as_mut_ptr(),
            )
        };
        rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOMEM)
    })
}

// ---- the harness -------------------------------------------------------------------

struct Harness {
    shared: Arc<Shared>,
    session: Option<Session>,
    services: ExecutorServices,
    known: Arc<Known>,
    sock: UnixStream,
    reader: Option<std::thread::JoinHandle<()>>,
    model: Model,
    /// Answers processed so far, per seqno.
    consumed: HashMap<u64, usize>,
    /// Delivered calls processed so far.
    processed: usize,
    next_seqno: u64,
    /// The executor side ended the connection (detach, shutdown, or the
    /// controller stopped reading): answers may be dropped.
    executor_ended: bool,
    /// A reserve or release ran concurrently with other calls: the order of
    /// their effects is unknown (a range released by one may be handed to
    /// the other), so the reservation model is no longer exact and only the
    /// end-of-run checks apply.
    model_lost: bool,
    /// A header claimed more payload than followed it: every later byte
    /// (our frames and our answers to the executor's calls alike) is read
    /// as that payload, so calls waiting for an answer may wait until the
    /// end. The executor cannot tell a broken peer from a slow one here;
    /// only the end-of-run checks apply.
    stream_desynchronized: bool,
}

impl Drop for Harness {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // A check failed: dropping the session would wait for a
            // shutdown that a broken session may never complete.
            std::mem::forget(self.session.take());
            let _ = self.sock.shutdown(Shutdown::Both);
        }
    }
}

/// The error of a hung wait: nothing can be cleaned up (threads are stuck),
/// so the session is leaked on purpose and the run fails.
fn hang(what: &str, session: &mut Option<Session>) -> ! {
    std::mem::forget(session.take());
    panic!("hang: {what} did not happen within {PATIENCE:?}");
}

impl Harness {
    fn start(input: &WireInput) -> Harness {
        harmless::forget_eh_section();
        let shared = Arc::new(Shared {
            log: Mutex::new(Log::default()),
            changed: Condvar::new(),
            framer: Mutex::new(None),
            replies: input.replies.clone(),
        });
        let reported = shared.clone();
        let session = Session::builder()
            .process_info(orc_executor::sys::host_process_info())
            .dispatcher(ThreadPerTaskDispatcher::new(
                ThreadSpawner::default().stack_size(2 << 20),
            ));
        let session = if input.legacy_fallback {
            session.call_unregistered_with(orc_executor::call::call_unregistered)
        } else {
            session
        };
        let session = session
            .error_reporter(move |e| {
                reported.note(|l| l.reported.push(format!("{:?}: {e}", e.kind())))
            })
            .build()
            .expect("session");
        // The services as orc-executor installs them, except that alloc
        // actions are called through a guard: the framer only lets harmless
        // functions through, and should one slip past it, the guard refuses
        // to call it (a contained panic, reported: a finding in the harness)
        // instead of jumping to an arbitrary address.
        let services_options = ServiceOptions {
            actions: ActionCaller::new(|f, args| {
                assert!(
                    Action::ALL.iter().any(|a| a.addr() == f),
                    "the framer let alloc action {f} through"
                );
                orc_executor::call::call_legacy_wrapper(f, args)
            }),
            ..ServiceOptions::default()
        };
        let (services, mut bootstrap) =
            ExecutorServices::install_with(&session, services_options).expect("services");
        orc_executor::publish_jit_dispatch(&session, &mut bootstrap).expect("dispatch symbols");
        let on_disconnect = shared.clone();
        session
            .set_on_disconnect(move |r| {
                on_disconnect.note(|l| {
                    if l.disconnect.replace(r).is_some() {
                        l.violations.push("disconnect reported twice".into());
                    }
                })
            })
            .expect("before attach");
        let (executor_end, controller_end) = UnixStream::pair().expect("socketpair");
        let transport =
            orc_executor::transport::FdTransport::from_unix_stream(executor_end, Duration::ZERO)
                .expect("transport");
        let lost = shared.clone();
        let options = WireOptions {
            reader_thread_name: "fuzz-wire-reader".into(),
            on_lost_result: Some(Arc::new(move |seqno| {
                lost.note(|l| *l.lost.entry(seqno).or_default() += 1)
            })),
            ..WireOptions::default()
        };
        session
            .attach_with(bootstrap, |hooks| {
                Ok(WireControllerAccess::new(
                    hooks,
                    Arc::new(transport),
                    options,
                ))
            })
            .expect("attach");
        let reader_sock = controller_end.try_clone().expect("dup");
        let reader_shared = shared.clone();
        let reader = std::thread::Builder::new()
            .name("fuzz-controller".into())
            .spawn(move || controller_reader(reader_shared, reader_sock))
            .expect("controller thread");
        let mut session = Some(session);
        let setup = {
            let deadline = Instant::now() + PATIENCE;
            let mut log = shared.log();
            loop {
                if let Some(s) = log.setup.clone() {
                    break s;
                }
                assert!(log.violations.is_empty(), "{:?}", log.violations);
                let now = Instant::now();
                if now >= deadline {
                    drop(log);
                    hang("the Setup message", &mut session);
                }
                log = shared
                    .changed
                    .wait_timeout(log, deadline - now)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        };
        let known = Arc::new(Known::from_setup(&setup, &services, input.legacy_fallback));
        *shared.framer() = Some(Framer {
            out: Some(controller_end.try_clone().expect("dup")),
            known: known.clone(),
            pending: Vec::new(),
            state: FState::Header,
            delivered: Vec::new(),
            ending: None,
            quiescent_next: false,
        });
        Harness {
            shared,
            session,
            services,
            known,
            sock: controller_end,
            reader: Some(reader),
            model: Model::default(),
            consumed: HashMap::new(),
            processed: 0,
            next_seqno: 1,
            executor_ended: false,
            model_lost: false,
            stream_desynchronized: false,
        }
    }

    fn feed(&self, bytes: &[u8]) {
        if let Some(f) = self.shared.framer().as_mut() {
            f.feed(bytes, false);
        }
    }

    fn delivered(&self) -> Vec<Delivered> {
        self.shared
            .framer()
            .as_ref()
            .map(|f| f.delivered.clone())
            .unwrap_or_default()
    }

    fn apply(&mut self, op: &WireOp) {
        match op {
            WireOp::Call { call, wait } => {
                self.process_answers();
                let (target, payload) = self.build(call);
                self.send_call(self.known.tag(target), &payload, *wait);
            }
            WireOp::RawCall {
                target,
                tag,
                args,
                wait,
            } => {
                let i = *target as usize % (TARGETS.len() + 2);
                let tag = match i {
                    _ if i < TARGETS.len() => self.known.tag(TARGETS[i].0),
                    _ if i == TARGETS.len() => harmless::echo_addr(),
                    _ => ExecutorAddr::new(*tag),
                };
                self.send_call(tag, args, *wait);
            }
            WireOp::Frame {
                opcode,
                seqno,
                tag,
                payload,
            } => {
                let opcode = u64::from(*opcode);
                let seqno = if opcode == 2 {
                    seqno | FOREIGN_SEQNO
                } else {
                    *seqno
                };
                self.feed(&frame(opcode, seqno, *tag, payload));
            }
            WireOp::Bytes(bytes) => self.feed(bytes),
            WireOp::Claim {
                opcode,
                claim,
                sent,
            } => {
                let mut bytes = claim.to_le_bytes().to_vec();
                bytes.extend_from_slice(&u64::from(*opcode).to_le_bytes());
                bytes.extend_from_slice(&FOREIGN_SEQNO.to_le_bytes());
                bytes.extend_from_slice(&0u64.to_le_bytes());
                bytes.extend_from_slice(sent);
                if claim.saturating_sub(orc_executor::wire::HEADER_SIZE as u64) > sent.len() as u64
                {
                    self.stream_desynchronized = true;
                }
                self.feed(&bytes);
            }
            WireOp::Sync => self.wait_answered(usize::MAX),
            WireOp::Hangup(payload) => self.feed(&frame(1, 0, 0, payload)),
            WireOp::EndOfStream => {
                if let Some(f) = self.shared.framer().as_mut() {
                    f.close();
                }
            }
            WireOp::StopReading => {
                let _ = self.sock.shutdown(Shutdown::Read);
                self.executor_ended = true;
            }
            WireOp::ExecutorDetach => {
                self.executor_ended = true;
                if let Some(s) = &self.session {
                    s.detach();
                }
            }
            WireOp::ExecutorShutdown => {
                self.executor_ended = true;
                if let Some(s) = &self.session {
                    s.shutdown();
                }
            }
        }
    }

    /// Sends one CallWrapper; with `wait`, alone and waited for.
    fn send_call(&mut self, tag: ExecutorAddr, payload: &[u8], wait: bool) {
        let seqno = self.next_seqno;
        self.next_seqno += 1;
        let bytes = frame(3, seqno, tag.value(), payload);
        let before;
        {
            let mut framer = self.shared.framer();
            let Some(f) = framer.as_mut() else { return };
            before = f.delivered.len();
            let all_answered = self.processed == before && self.outstanding_is_zero(f);
            f.quiescent_next = wait && all_answered && !self.executor_ended;
            f.feed(&bytes, false);
            f.quiescent_next = false;
        }
        if wait {
            let delivered_now = self
                .delivered()
                .get(before..)
                .is_some_and(|d| d.iter().any(|c| c.seqno == seqno));
            if delivered_now {
                self.wait_answered(before + 1);
            }
        }
    }

    fn outstanding_is_zero(&self, f: &Framer) -> bool {
        let log = self.shared.log();
        f.delivered.iter().all(|d| {
            let got = log.results.get(&d.seqno).map_or(0, Vec::len)
                + log.lost.get(&d.seqno).copied().unwrap_or(0);
            let want = f.delivered.iter().filter(|x| x.seqno == d.seqno).count();
            got >= want
        })
    }

    /// Waits until the first `upto` delivered calls are answered (or can no
    /// longer be: the executor is gone, or a call waits on an ignored
    /// controller call), then processes the answers.
    fn wait_answered(&mut self, upto: usize) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let delivered = self.delivered();
            let n = upto.min(delivered.len());
            {
                let log = self.shared.log();
                let mut need: HashMap<u64, usize> = HashMap::new();
                for d in &delivered[..n] {
                    *need.entry(d.seqno).or_default() += 1;
                }
                let done = need.iter().all(|(s, k)| {
                    log.results.get(s).map_or(0, Vec::len) + log.lost.get(s).copied().unwrap_or(0)
                        >= *k
                });
                // Answers may never come once the executor ended the
                // connection itself (its Hangup, a detach or shutdown, or it
                // cannot write to us any more).
                let gone =
                    log.eof || log.hangup || self.executor_ended || self.stream_desynchronized;
                if done || gone || log.ignored > 0 || !log.violations.is_empty() {
                    break;
                }
                let now = Instant::now();
                if now >= deadline {
                    drop(log);
                    hang("the answers to the calls in flight", &mut self.session);
                }
                let _unused = self
                    .shared
                    .changed
                    .wait_timeout(log, (deadline - now).min(Duration::from_millis(200)))
                    .unwrap_or_else(|p| p.into_inner());
            }
        }
        self.process_answers();
    }

    /// Checks and models every delivered call whose answer has arrived, in
    /// delivery order; stops at the first unanswered one.
    fn process_answers(&mut self) {
        let delivered = self.delivered();
        while self.processed < delivered.len() {
            let d = &delivered[self.processed];
            let k = self.consumed.get(&d.seqno).copied().unwrap_or(0);
            let answer = {
                let log = self.shared.log();
                match log.results.get(&d.seqno).and_then(|v| v.get(k)) {
                    Some(a) => Some(a.clone()),
                    None if log.lost.get(&d.seqno).copied().unwrap_or(0) > 0 => None,
                    None => return,
                }
            };
            *self.consumed.entry(d.seqno).or_default() += 1;
            self.processed += 1;
            let d = d.clone();
            match answer {
                Some(a) => self.check_answer(&d, &a),
                None => self.unknown_effects(&d),
            }
        }
    }

    /// A call whose outcome is not known: forget what it may have changed.
    fn unknown_effects(&mut self, d: &Delivered) {
        let everything = (0, u64::MAX);
        match d.target {
            Some(Target::Release | Target::Reserve | Target::SmRelease | Target::SmReserve) => {
                // Reservation set unknown from here: checked at the end only.
                self.model_lost = true;
            }
            Some(Target::Initialize)
            | Some(Target::SmInitialize)
            | Some(Target::Write(_))
            | Some(Target::WriteBuffers)
            | Some(Target::Deinitialize) => self.model.touch(everything.0, everything.1),
            _ => {}
        }
    }

    // ---- building typed calls ----

    fn instance(&self, right: bool, of: ExecutorAddr) -> ExecutorAddr {
        if right {
            of
        } else {
            ExecutorAddr::new(of.value() ^ 0x10)
        }
    }

    fn build(&self, call: &Call) -> (Target, Vec<u8>) {
        let m = &self.model;
        let mm = |ok: bool| self.instance(ok, self.known.mm_instance);
        match call {
            Call::Reserve {
                instance,
                pages,
                misalign,
            } => {
                let size = u64::from(*pages) % (MAX_RESERVE_PAGES + 1)
                    * orc_executor::sys::page_size()
                    + u64::from(*misalign);
                (Target::Reserve, sps::to_vec(&(mm(*instance), size)))
            }
            Call::Initialize {
                instance,
                segments,
                actions,
            } => {
                let segs: Vec<(u8, ExecutorAddr, u64, &[u8])> = segments
                    .iter()
                    .map(|s| {
                        let addr = m.resolve(&s.addr);
                        let rsize = m
                            .find(addr.value(), 0)
                            .map_or(orc_executor::sys::page_size(), |i| m.live[i].size);
                        (
                            s.group,
                            addr,
                            u64::from(s.size) % (rsize + 17),
                            &s.content[..],
                        )
                    })
                    .collect();
                let act = typed_action;
                let req = FinalizeRequest {
                    segments: segs
                        .iter()
                        .map(|&(group, addr, size, content)| SegmentRequest {
                            // Undefined bits cannot be encoded through the
                            // typed request; they are covered by raw calls.
                            group: AllocGroup::from_bits(group).unwrap_or_default(),
                            addr,
                            size,
                            content,
                        })
                        .collect(),
                    actions: actions
                        .iter()
                        .map(|(f, d)| AllocActionPair {
                            finalize: act(f),
                            dealloc: act(d),
                        })
                        .collect(),
                };
                (Target::Initialize, sps::to_vec(&(mm(*instance), req)))
            }
            Call::Deinitialize { instance, keys } => {
                let keys: Vec<ExecutorAddr> = keys.iter().map(|k| m.resolve(k)).collect();
                (Target::Deinitialize, sps::to_vec(&(mm(*instance), keys)))
            }
            Call::Release { instance, bases } => {
                let bases: Vec<ExecutorAddr> = bases.iter().map(|k| m.resolve(k)).collect();
                (Target::Release, sps::to_vec(&(mm(*instance), bases)))
            }
            Call::Write { width, entries } => {
                let w = *width % 5;
                let mut out = sps::to_vec(&(entries.len() as u64));
                for (a, v) in entries {
                    out.extend_from_slice(&sps::to_vec(&m.resolve(a)));
                    out.extend_from_slice(&v.to_le_bytes()[..width_bytes(w)]);
                }
                (Target::Write(w), out)
            }
            Call::WriteBuffers { entries } => {
                let e: Vec<(ExecutorAddr, &[u8])> = entries
                    .iter()
                    .map(|(a, b)| (m.resolve(a), &b[..]))
                    .collect();
                (Target::WriteBuffers, sps::to_vec(&e))
            }
            Call::Read { width, addrs } => {
                let a: Vec<ExecutorAddr> = addrs.iter().map(|a| m.resolve(a)).collect();
                (Target::Read(*width % 5), sps::to_vec(&a))
            }
            Call::ReadBuffers { ranges } => {
                let r: Vec<ExecutorAddrRange> = ranges
                    .iter()
                    .map(|(a, len)| {
                        let start = m.resolve(a);
                        ExecutorAddrRange::new(
                            start,
                            ExecutorAddr::new(start.value().wrapping_add(u64::from(*len))),
                        )
                    })
                    .collect();
                (Target::ReadBuffers, sps::to_vec(&r))
            }
            Call::ReadStrings { addrs } => {
                let a: Vec<ExecutorAddr> = addrs.iter().map(|a| m.resolve(a)).collect();
                (Target::ReadStrings, sps::to_vec(&a))
            }
            Call::DylibOpen {
                instance,
                path,
                mode,
            } => {
                let path = PATHS[*path as usize % PATHS.len()];
                let dm = self.instance(*instance, self.known.dm_instance);
                (Target::DylibOpen, sps::to_vec(&(dm, path, *mode)))
            }
            Call::DylibResolve { handle, symbols } => {
                let handle = match *handle as usize % (2 + m.handles.len()) {
                    0 => self.known.process_handle,
                    1 => ExecutorAddr::new(0x1234_5678),
                    i => m.handles[i - 2],
                };
                let syms: Vec<(&[u8], bool)> = symbols
                    .iter()
                    .map(|(n, req)| (SYMBOLS[*n as usize % SYMBOLS.len()], *req))
                    .collect();
                (Target::DylibResolve, sps::to_vec(&(handle, syms)))
            }
            Call::RunAsMain { null, argv } => {
                let f = if *null {
                    ExecutorAddr::NULL
                } else {
                    harmless::main_addr()
                };
                let argv: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
                (Target::RunAsMain, sps::to_vec(&(f, argv)))
            }
            Call::RunAsVoid { null } => {
                let f = if *null {
                    ExecutorAddr::NULL
                } else {
                    harmless::void_addr()
                };
                (Target::RunAsVoid, sps::to_vec(&f))
            }
            Call::RunAsInt { which, arg } => {
                let f = match which % 3 {
                    0 => ExecutorAddr::NULL,
                    i => harmless::int_addrs()[i as usize - 1],
                };
                (Target::RunAsInt, sps::to_vec(&(f, *arg)))
            }
            Call::EhFrame { register, empty } => {
                let range = if *empty {
                    ExecutorAddrRange::new(ExecutorAddr::new(64), ExecutorAddr::new(64))
                } else {
                    harmless::eh_section()
                };
                let t = if *register {
                    Target::EhRegister
                } else {
                    Target::EhDeregister
                };
                (t, sps::to_vec(&range))
            }
            Call::Gdb { addr, len, notify } => {
                let start = m.resolve(addr);
                let range = ExecutorAddrRange::new(
                    start,
                    ExecutorAddr::new(start.value().wrapping_add(u64::from(*len))),
                );
                (Target::Gdb, sps::to_vec(&(range, *notify)))
            }
            Call::Echo(bytes) => (Target::Echo, bytes.clone()),
            Call::SmReserve { instance, pages } => {
                let size =
                    u64::from(*pages) % (MAX_RESERVE_PAGES + 1) * orc_executor::sys::page_size();
                let sm = self.instance(*instance, self.known.sm_instance);
                (Target::SmReserve, sps::to_vec(&(sm, size)))
            }
            Call::SmInitialize {
                instance,
                reservation,
                segments,
                actions,
            } => {
                let sm = self.instance(*instance, self.known.sm_instance);
                let segs: Vec<SharedSegment> = segments
                    .iter()
                    .map(|(group, addr, size)| {
                        let addr = m.resolve(addr);
                        let rsize = m
                            .find(addr.value(), 0)
                            .map_or(orc_executor::sys::page_size(), |i| m.live[i].size);
                        (
                            AllocGroup::from_bits(*group).unwrap_or_default(),
                            addr,
                            u64::from(*size) % (rsize + 17),
                        )
                    })
                    .collect();
                let actions: Vec<AllocActionPair> = actions
                    .iter()
                    .map(|(f, d)| AllocActionPair {
                        finalize: typed_action(f),
                        dealloc: typed_action(d),
                    })
                    .collect();
                (
                    Target::SmInitialize,
                    sps::to_vec(&(sm, m.resolve(reservation), (segs, actions))),
                )
            }
            Call::SmDeinitialize { instance, keys } => {
                let sm = self.instance(*instance, self.known.sm_instance);
                let keys: Vec<ExecutorAddr> = keys.iter().map(|k| m.resolve(k)).collect();
                (Target::SmDeinitialize, sps::to_vec(&(sm, keys)))
            }
            Call::SmRelease { instance, bases } => {
                let sm = self.instance(*instance, self.known.sm_instance);
                let bases: Vec<ExecutorAddr> = bases.iter().map(|k| m.resolve(k)).collect();
                (Target::SmRelease, sps::to_vec(&(sm, bases)))
            }
        }
    }

    // ---- checking answers ----

    fn check_answer(&mut self, d: &Delivered, a: &[u8]) {
        let fail = |what: String| -> ! {
            panic!(
                "answer to seqno {} ({:?}, quiescent {}) {what}; payload {:?}; answer {:?}",
                d.seqno, d.target, d.quiescent, d.payload, a
            )
        };
        /// The answer is empty (an out-of-band error) or exactly a `T`.
        fn typed<'a, T: sps::SpsDecode<'a>>(a: &'a [u8]) -> Result<Option<T>, String> {
            if a.is_empty() {
                return Ok(None);
            }
            sps::from_bytes::<T>(a)
                .map(Some)
                .map_err(|e| format!("does not decode as {}: {e}", std::any::type_name::<T>()))
        }
        if !d.quiescent
            && matches!(
                d.target,
                Some(Target::Reserve | Target::Release | Target::SmReserve | Target::SmRelease)
            )
        {
            self.model_lost = true;
        }
        let q = d.quiescent && !self.executor_ended && !self.model_lost;
        let Some(target) = d.target else {
            // Refused: "no wrapper function registered" (out of band).
            if !a.is_empty() {
                fail("for an unregistered tag is not empty".into());
            }
            return;
        };
        match target {
            Target::Reserve => {
                let r = typed::<Result<ExecutorAddr, Error>>(a).unwrap_or_else(|e| fail(e));
                let req = sps::from_prefix::<(ExecutorAddr, u64)>(&d.payload).ok();
                if let Some(Ok(base)) = &r {
                    let size = req.map_or(0, |((_, s), _)| s);
                    let page = orc_executor::sys::page_size();
                    if !base.is_aligned(page) || base.is_null() {
                        fail(format!("reservation {base} is not page-aligned"));
                    }
                    let overlaps = |r: &Reservation| {
                        base.value() < r.base + r.size && r.base < base.value() + size
                    };
                    if q && self.model.live.iter().any(overlaps) {
                        fail(format!("reservation {base} overlaps a live one"));
                    }
                    // Not quiescent: a range seen overlapping was released
                    // by a call whose answer is processed later.
                    self.model.live.retain(|r| !overlaps(r));
                    self.model.live.push(Reservation {
                        base: base.value(),
                        size,
                        shared: false,
                        fresh: true,
                        bytes: vec![0; size as usize],
                    });
                }
                if q {
                    let should_work = req.is_some_and(|((inst, size), _)| {
                        inst == self.known.mm_instance
                            && size > 0
                            && size.is_multiple_of(orc_executor::sys::page_size())
                    });
                    match (&r, should_work) {
                        (Some(Ok(_)), true) | (Some(Err(_)), false) | (None, false) => {}
                        _ => fail(format!(
                            "has the wrong outcome (expected success: {should_work})"
                        )),
                    }
                }
            }
            Target::Initialize => {
                let r = typed::<Result<ExecutorAddr, Error>>(a).unwrap_or_else(|e| fail(e));
                if let Ok(((_, req), _)) =
                    sps::from_prefix::<(ExecutorAddr, FinalizeRequest<'_>)>(&d.payload)
                {
                    for s in &req.segments {
                        self.model.touch(s.addr.value(), s.size);
                    }
                } else {
                    self.model.touch(0, u64::MAX);
                }
                if let Some(Ok(key)) = r {
                    self.model.keys.push(key.value());
                }
            }
            Target::Deinitialize => {
                typed::<Result<(), Error>>(a).unwrap_or_else(|e| fail(e));
                // Dealloc actions may have run: nothing to model.
            }
            Target::Release => {
                let r = typed::<Result<(), Error>>(a).unwrap_or_else(|e| fail(e));
                match sps::from_prefix::<(ExecutorAddr, Vec<ExecutorAddr>)>(&d.payload) {
                    Ok(((inst, bases), _)) if inst == self.known.mm_instance => {
                        for b in bases {
                            if let Some(i) = self
                                .model
                                .live
                                .iter()
                                .position(|r| r.base == b.value() && !r.shared)
                            {
                                let gone = self.model.live.remove(i);
                                if q && !unmapped(gone.base, gone.size) {
                                    fail(format!("left {:#x} mapped", gone.base));
                                }
                            }
                        }
                    }
                    Ok(_) => {
                        if q && !matches!(r, Some(Err(_))) {
                            fail("with a forged instance is not an error".into());
                        }
                    }
                    Err(_) => {}
                }
            }
            Target::Write(w) => {
                if !a.is_empty() {
                    fail("of a write is not empty".into());
                }
                let n = width_bytes(w);
                let entries = decode_writes(&d.payload, n);
                self.model_write(entries, q);
            }
            Target::WriteBuffers => {
                if !a.is_empty() {
                    fail("of a write is not empty".into());
                }
                let entries = sps::from_prefix::<Vec<(ExecutorAddr, &[u8])>>(&d.payload)
                    .ok()
                    .map(|(v, _)| {
                        v.into_iter()
                            .map(|(a, b)| (a.value(), b.to_vec()))
                            .collect()
                    });
                self.model_write(entries, q);
            }
            Target::Read(w) => {
                let n = width_bytes(w);
                let got: Option<Vec<Vec<u8>>> = match w {
                    0 => {
                        typed::<Vec<u8>>(a).map(|v| v.map(|v| v.iter().map(|x| vec![*x]).collect()))
                    }
                    1 => typed::<Vec<u16>>(a)
                        .map(|v| v.map(|v| v.iter().map(|x| x.to_le_bytes().to_vec()).collect())),
                    2 => typed::<Vec<u32>>(a)
                        .map(|v| v.map(|v| v.iter().map(|x| x.to_le_bytes().to_vec()).collect())),
                    3 => typed::<Vec<u64>>(a)
                        .map(|v| v.map(|v| v.iter().map(|x| x.to_le_bytes().to_vec()).collect())),
                    _ => typed::<Vec<ExecutorAddr>>(a).map(|v| {
                        v.map(|v| v.iter().map(|x| x.value().to_le_bytes().to_vec()).collect())
                    }),
                }
                .unwrap_or_else(|e| fail(e));
                let addrs = sps::from_prefix::<Vec<ExecutorAddr>>(&d.payload)
                    .ok()
                    .map(|(v, _)| v);
                if let (Some(addrs), true) = (addrs, q) {
                    let reads: Vec<(u64, usize)> = addrs.iter().map(|a| (a.value(), n)).collect();
                    self.check_reads(&reads, got).unwrap_or_else(|e| fail(e));
                }
            }
            Target::ReadBuffers => {
                let got = typed::<Vec<Vec<u8>>>(a).unwrap_or_else(|e| fail(e));
                let ranges = sps::from_prefix::<Vec<ExecutorAddrRange>>(&d.payload).ok();
                if let (Some((ranges, _)), true) = (ranges, q)
                    && ranges.iter().all(|r| r.end >= r.start)
                {
                    let reads: Vec<(u64, usize)> = ranges
                        .iter()
                        .map(|r| (r.start.value(), r.size() as usize))
                        .collect();
                    self.check_reads(&reads, got).unwrap_or_else(|e| fail(e));
                }
            }
            Target::ReadStrings => {
                let got = typed::<Vec<Vec<u8>>>(a).unwrap_or_else(|e| fail(e));
                let addrs = sps::from_prefix::<Vec<ExecutorAddr>>(&d.payload).ok();
                if let (Some((addrs, _)), true) = (addrs, q) {
                    let expected: Option<Vec<Vec<u8>>> = addrs
                        .iter()
                        .map(|a| {
                            let i = self.model.fresh_at(a.value(), 1)?;
                            let r = &self.model.live[i];
                            let tail = &r.bytes[(a.value() - r.base) as usize..];
                            let nul = tail.iter().position(|b| *b == 0)?;
                            Some(tail[..nul].to_vec())
                        })
                        .collect();
                    if let Some(expected) = expected
                        && got.as_ref() != Some(&expected)
                    {
                        fail(format!("read strings {got:?}, the model says {expected:?}"));
                    }
                }
            }
            Target::DylibOpen => {
                let r = typed::<Result<ExecutorAddr, Error>>(a).unwrap_or_else(|e| fail(e));
                let req = sps::from_prefix::<(ExecutorAddr, &[u8], u64)>(&d.payload).ok();
                if let Some(Ok(h)) = r
                    && h != self.known.process_handle
                    && !self.model.handles.contains(&h)
                {
                    self.model.handles.push(h);
                }
                if let (Some(((inst, path, _), _)), true) = (req, q) {
                    let right = inst == self.known.dm_instance;
                    let ok = match (&r, right, path) {
                        (Some(Err(_)), false, _) => true,
                        (Some(Ok(h)), true, b"") => *h == self.known.process_handle,
                        (Some(Ok(_)), true, b"libm.so.6") => true,
                        (Some(Err(_)), true, p) => p != b"" && p != b"libm.so.6",
                        _ => false,
                    };
                    if !ok {
                        fail(format!(
                            "opening {path:?} (right instance: {right}) gave {r:?}"
                        ));
                    }
                }
            }
            Target::DylibResolve => {
                let r = typed::<Result<Vec<Option<ExecutorSymbolDef>>, Error>>(a)
                    .unwrap_or_else(|e| fail(e));
                let req = sps::from_prefix::<(ExecutorAddr, Vec<(&[u8], bool)>)>(&d.payload).ok();
                if let (Some(((handle, syms), _)), true) = (req, q) {
                    if handle == self.known.process_handle {
                        let empty_required = syms.iter().any(|(n, req)| n.is_empty() && *req);
                        match (&r, empty_required) {
                            (Some(Err(_)), true) => {}
                            (Some(Ok(defs)), false) if defs.len() == syms.len() => {
                                for ((name, required), def) in syms.iter().zip(defs) {
                                    let found = def.is_some_and(|d| !d.addr.is_null());
                                    let ok = match *name {
                                        b"malloc" => found,
                                        b"orc_rt_fuzz_no_such_symbol" => {
                                            if *required {
                                                def.is_none()
                                            } else {
                                                *def == Some(absent())
                                            }
                                        }
                                        _ => true,
                                    };
                                    if !ok {
                                        fail(format!(
                                            "resolved {:?} (required {required}) as {def:?}",
                                            String::from_utf8_lossy(name)
                                        ));
                                    }
                                }
                            }
                            _ => fail(format!("resolving in the process gave {r:?}")),
                        }
                    } else if !self.model.handles.contains(&handle) && !matches!(r, Some(Err(_))) {
                        fail(format!("resolving in unknown handle {handle} gave {r:?}"));
                    }
                }
            }
            Target::RunAsMain => {
                let r = typed::<i64>(a).unwrap_or_else(|e| fail(e));
                if let (Ok(((f, argv), _)), true) = (
                    sps::from_prefix::<(ExecutorAddr, Vec<&[u8]>)>(&d.payload),
                    q,
                ) {
                    let expected = (!f.is_null() && argv.iter().all(|a| !a.contains(&0)))
                        .then(|| i64::from(harmless::expected_main(&argv)));
                    if r != expected {
                        fail(format!("ran main: {r:?}, expected {expected:?}"));
                    }
                }
            }
            Target::RunAsVoid => {
                let r = typed::<i32>(a).unwrap_or_else(|e| fail(e));
                if let (Ok((f, _)), true) = (sps::from_prefix::<ExecutorAddr>(&d.payload), q) {
                    let expected = (!f.is_null()).then_some(7);
                    if r != expected {
                        fail(format!("ran void: {r:?}, expected {expected:?}"));
                    }
                }
            }
            Target::RunAsInt => {
                let r = typed::<i32>(a).unwrap_or_else(|e| fail(e));
                if let (Ok(((f, x), _)), true) =
                    (sps::from_prefix::<(ExecutorAddr, i32)>(&d.payload), q)
                {
                    let [times3, controller] = harmless::int_addrs();
                    let ok = if f.is_null() {
                        r.is_none()
                    } else if f == times3 {
                        r == Some(x.wrapping_mul(3))
                    } else if f == controller {
                        r.is_some_and(|v| v >= -1)
                    } else {
                        false
                    };
                    if !ok {
                        fail(format!("ran int({x}): {r:?}"));
                    }
                }
            }
            Target::EhRegister | Target::EhDeregister | Target::Gdb => {
                typed::<Result<(), Error>>(a).unwrap_or_else(|e| fail(e));
            }
            Target::Echo => {
                if a != d.payload.as_slice() {
                    fail("of the echo is not its argument".into());
                }
            }
            Target::SmReserve => {
                let r =
                    typed::<Result<(ExecutorAddr, String), Error>>(a).unwrap_or_else(|e| fail(e));
                let req = sps::from_prefix::<(ExecutorAddr, u64)>(&d.payload).ok();
                if let Some(Ok((base, _name))) = &r {
                    let size = req.map_or(0, |((_, s), _)| s);
                    let overlaps = |r: &Reservation| {
                        base.value() < r.base + r.size && r.base < base.value() + size
                    };
                    if q && self.model.live.iter().any(overlaps) {
                        fail(format!("shared reservation {base} overlaps a live one"));
                    }
                    self.model.live.retain(|r| !overlaps(r));
                    // Opaque to the model: the controller owns its contents.
                    self.model.live.push(Reservation {
                        base: base.value(),
                        size,
                        shared: true,
                        fresh: false,
                        bytes: Vec::new(),
                    });
                }
                if q && req.is_some_and(|((inst, _), _)| inst != self.known.sm_instance)
                    && !matches!(r, Some(Err(_)))
                {
                    fail("with a forged instance is not an error".into());
                }
            }
            Target::SmInitialize => {
                let r = typed::<Result<ExecutorAddr, Error>>(a).unwrap_or_else(|e| fail(e));
                type Request = (Vec<SharedSegment>, Vec<AllocActionPair>);
                match sps::from_prefix::<(ExecutorAddr, ExecutorAddr, Request)>(&d.payload) {
                    Ok(((_, _, (segments, _)), _)) => {
                        for (_, addr, size) in &segments {
                            self.model.touch(addr.value(), *size);
                        }
                    }
                    Err(_) => self.model.touch(0, u64::MAX),
                }
                if let Some(Ok(key)) = r {
                    self.model.keys.push(key.value());
                }
            }
            Target::SmDeinitialize => {
                typed::<Result<(), Error>>(a).unwrap_or_else(|e| fail(e));
            }
            Target::SmRelease => {
                let r = typed::<Result<(), Error>>(a).unwrap_or_else(|e| fail(e));
                match sps::from_prefix::<(ExecutorAddr, Vec<ExecutorAddr>)>(&d.payload) {
                    Ok(((inst, bases), _)) if inst == self.known.sm_instance => {
                        for b in bases {
                            self.model
                                .live
                                .retain(|r| !(r.shared && r.base == b.value()));
                        }
                    }
                    Ok(_) => {
                        if q && !matches!(r, Some(Err(_))) {
                            fail("with a forged instance is not an error".into());
                        }
                    }
                    Err(_) => {}
                }
            }
        }
        if q {
            self.check_quiescent().unwrap_or_else(|e| fail(e));
        }
    }

    /// Applies a write to the model. `entries`: `None` if undecodable.
    fn model_write(&mut self, entries: Option<Vec<(u64, Vec<u8>)>>, q: bool) {
        let Some(entries) = entries else { return };
        let all_fresh = entries
            .iter()
            .all(|(a, b)| self.model.fresh_at(*a, b.len() as u64).is_some());
        let any_outside = entries
            .iter()
            .any(|(a, b)| self.model.find(*a, b.len() as u64).is_none());
        if q && all_fresh {
            for (a, b) in entries {
                let i = self.model.fresh_at(a, b.len() as u64).expect("checked");
                let r = &mut self.model.live[i];
                let off = (a - r.base) as usize;
                r.bytes[off..off + b.len()].copy_from_slice(&b);
            }
        } else if q && any_outside {
            // Refused before anything is written: the model stands.
        } else {
            for (a, b) in entries {
                self.model.touch(a, b.len() as u64);
            }
        }
    }

    /// Reads of `(addr, len)` all inside fresh reservations must succeed
    /// with the model's bytes.
    fn check_reads(&self, reads: &[(u64, usize)], got: Option<Vec<Vec<u8>>>) -> Result<(), String> {
        let expected: Option<Vec<Vec<u8>>> = reads
            .iter()
            .map(|&(a, n)| {
                let i = self.model.fresh_at(a, n as u64)?;
                let r = &self.model.live[i];
                let off = (a - r.base) as usize;
                Some(r.bytes[off..off + n].to_vec())
            })
            .collect();
        match expected {
            Some(expected) if got.as_ref() != Some(&expected) => {
                Err(format!("read {got:?}, the model says {expected:?}"))
            }
            _ => Ok(()),
        }
    }

    /// With nothing in flight, the memory manager holds exactly the
    /// reservations the controller knows of.
    fn check_quiescent(&self) -> Result<(), String> {
        let n = self.services.memory_manager.reservation_count();
        let shm = self.services.shared_memory.reservation_count();
        let mapped = orc_executor::testing::live_resources().regions;
        let known_shm = self.model.live.iter().filter(|r| r.shared).count();
        let known = self.model.live.len() - known_shm;
        if n != known || shm != known_shm || mapped != n + shm {
            return Err(format!(
                "the executor holds {n} reservations and {shm} shared ones ({mapped} mappings), \
                 the controller knows {known} and {known_shm}"
            ));
        }
        Ok(())
    }

    // ---- the end ----

    fn finish(mut self) {
        // 1. The controller is done: end its stream (a partial frame stays
        //    partial), then wait until the executor has closed its side.
        self.process_answers();
        if let Some(f) = self.shared.framer().as_mut() {
            f.close();
        }
        self.wait_for(|l| l.eof, "the executor closing its end of the connection");
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        // 2. Shut the session down; it must complete.
        let (tx, rx) = mpsc::channel();
        let session = self.session.as_ref().expect("session");
        session.shutdown_then(move |report| {
            let _ = tx.send(report.clone());
        });
        let report = match rx.recv_timeout(PATIENCE) {
            Ok(r) => r,
            Err(_) => hang("session shutdown", &mut self.session),
        };
        // The on-shutdown callbacks run just before the session marks itself
        // shut down (on the thread that ran them).
        let deadline = Instant::now() + PATIENCE;
        while !self.session.as_ref().is_some_and(|s| s.is_shut_down()) {
            if Instant::now() >= deadline {
                hang("the session marking itself shut down", &mut self.session);
            }
            std::thread::yield_now();
        }
        drop(self.session.take());
        self.process_answers();

        // 3. The properties.
        let log = self.shared.log();
        assert!(
            log.violations.is_empty(),
            "executor stream: {:?}",
            log.violations
        );
        assert!(
            log.reported.is_empty(),
            "the session reported errors: {:?}",
            log.reported
        );
        for e in &report.errors {
            assert_ne!(
                e.kind(),
                ErrorKind::Panic,
                "contained panic during shutdown: {e}"
            );
        }
        let framer = self.shared.framer();
        let framer = framer.as_ref().expect("framer");
        let mut delivered: HashMap<u64, usize> = HashMap::new();
        for d in &framer.delivered {
            *delivered.entry(d.seqno).or_default() += 1;
        }
        for (seqno, results) in &log.results {
            let answered = results.len() + log.lost.get(seqno).copied().unwrap_or(0);
            let calls = delivered.get(seqno).copied().unwrap_or(0);
            assert!(
                answered <= calls,
                "seqno {seqno}: {answered} answers for {calls} delivered calls"
            );
        }
        if !self.executor_ended {
            for (seqno, calls) in &delivered {
                let answered = log.results.get(seqno).map_or(0, Vec::len)
                    + log.lost.get(seqno).copied().unwrap_or(0);
                assert_eq!(
                    answered, *calls,
                    "seqno {seqno}: {answered} answers for {calls} delivered calls"
                );
            }
            assert!(!log.hangup, "the executor hung up by itself");
            let expected = framer.ending.clone().expect("closed above");
            match (&expected, &log.disconnect) {
                (Ending::Orderly(_), Some(Ok(()))) => {}
                (Ending::Protocol(_), Some(Err(e))) if e.kind() == ErrorKind::Protocol => {}
                (_, got) => panic!("the stream ended with {expected:?}, the session saw {got:?}"),
            }
        }
        assert!(
            log.disconnect.is_some(),
            "the disconnect was never reported"
        );
        drop(log);

        // 4. Nothing left behind.
        let mm = &self.services.memory_manager;
        assert_eq!(mm.reservation_count(), 0, "reservations survive shutdown");
        assert_eq!(
            self.services.shared_memory.reservation_count(),
            0,
            "shared-memory reservations survive shutdown"
        );
        assert_eq!(
            self.services.dylib_manager.open_count(),
            0,
            "libraries stay open"
        );
        assert_eq!(
            orc_executor::testing::live_resources().regions,
            0,
            "mappings survive shutdown (the memory manager holds none)"
        );
        harmless::set_dispatch(None);
        harmless::forget_eh_section();
    }

    fn wait_for(&mut self, cond: impl Fn(&Log) -> bool, what: &str) {
        let deadline = Instant::now() + PATIENCE;
        let mut log = self.shared.log();
        while !cond(&log) {
            let now = Instant::now();
            if now >= deadline {
                drop(log);
                hang(what, &mut self.session);
            }
            log = self
                .shared
                .changed
                .wait_timeout(log, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// The alloc action a typed call names: none, or a harmless function.
fn typed_action(a: &ActionCall) -> AllocAction {
    let which = a.which as usize % (Action::ALL.len() + 1);
    if which == 0 {
        AllocAction::none()
    } else {
        let action = Action::ALL[which - 1];
        AllocAction {
            function: action.addr(),
            args: action.sanitize_args(&a.args).into(),
        }
    }
}

/// What resolve returns for a weak symbol that is missing.
fn absent() -> ExecutorSymbolDef {
    ExecutorSymbolDef {
        addr: ExecutorAddr::NULL,
        flags: orc_executor::services::types::SYMBOL_FLAG_EXPORTED,
        target_flags: 0,
    }
}

/// Symbol names a typed resolve may ask for.
const SYMBOLS: [&[u8]; 5] = [
    b"malloc",
    b"__jit_debug_register_code",
    b"",
    b"orc_rt_fuzz_no_such_symbol",
    b"cos",
];

/// Decodes `sequence<tuple<Addr, uN>>` into (address, bytes) pairs.
fn decode_writes(payload: &[u8], n: usize) -> Option<Vec<(u64, Vec<u8>)>> {
    let (count, mut rest) = sps::from_prefix::<u64>(payload).ok()?;
    let mut out = Vec::new();
    for _ in 0..count {
        let (a, r) = sps::from_prefix::<ExecutorAddr>(rest).ok()?;
        if r.len() < n {
            return None;
        }
        out.push((a.value(), r[..n].to_vec()));
        rest = &r[n..];
    }
    Some(out)
}
