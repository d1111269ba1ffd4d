//! Named seed inputs for the structured targets, and the bytes that make
//! `arbitrary` 1.x decode to them (the inverse of its format for the types
//! used here: integers little-endian, `bool` one byte, a `Vec` as
//! `1, element` pairs ended by `0`, an enum variant as a `u32` whose scaling
//! to the variant count gives its index, fields in order).
//!
//! `tests/fuzz_corpus.rs` checks that every seed decodes back to itself (so
//! a change in `arbitrary`'s format or in the input types cannot silently
//! turn the checked-in seeds into noise) and that `fuzz/seeds/` holds these
//! exact bytes; `ORC_RT_WRITE_SEEDS=1 cargo test --test fuzz_corpus`
//! rewrites them.

use super::session_ops::{SessionOp, SessionOpsInput};
use super::wire_message::{ActionCall, Addr, Call, Reply, Segment, WireInput, WireOp};

/// Writes a value in `arbitrary`'s byte format.
pub trait ToArbitraryBytes {
    /// Appends the bytes `arbitrary` decodes this value from.
    fn put(&self, out: &mut Vec<u8>);

    /// The bytes alone.
    fn to_arbitrary_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.put(&mut out);
        out
    }
}

macro_rules! int_bytes {
    ($($t:ty),*) => {$(
        impl ToArbitraryBytes for $t {
            fn put(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}
int_bytes!(u8, u16, u32, u64, i32);

impl ToArbitraryBytes for bool {
    fn put(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

impl<T: ToArbitraryBytes> ToArbitraryBytes for Vec<T> {
    fn put(&self, out: &mut Vec<u8>) {
        for x in self {
            out.push(1);
            x.put(out);
        }
        out.push(0);
    }
}

impl<A: ToArbitraryBytes, B: ToArbitraryBytes> ToArbitraryBytes for (A, B) {
    fn put(&self, out: &mut Vec<u8>) {
        self.0.put(out);
        self.1.put(out);
    }
}

impl<A: ToArbitraryBytes, B: ToArbitraryBytes, C: ToArbitraryBytes> ToArbitraryBytes for (A, B, C) {
    fn put(&self, out: &mut Vec<u8>) {
        self.0.put(out);
        self.1.put(out);
        self.2.put(out);
    }
}

/// Variant `index` of an enum with `count` variants: the smallest `u32`
/// that `(u32 * count) >> 32` maps to `index`.
fn variant(out: &mut Vec<u8>, index: u64, count: u64) {
    let v = ((index << 32).div_ceil(count)) as u32;
    out.extend_from_slice(&v.to_le_bytes());
}

macro_rules! put_all {
    ($out:expr; $($field:expr),*) => {{ $( $field.put($out); )* }};
}

impl ToArbitraryBytes for Reply {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Answer(p) => put_all!(out; variant_of(0, 4), p),
            Reply::WrongSeqno(p) => put_all!(out; variant_of(1, 4), p),
            Reply::Twice(p) => put_all!(out; variant_of(2, 4), p),
            Reply::Ignore => variant(out, 3, 4),
        }
    }
}

/// A variant tag as a value (for `put_all!`).
struct V(u64, u64);
fn variant_of(index: u64, count: u64) -> V {
    V(index, count)
}
impl ToArbitraryBytes for V {
    fn put(&self, out: &mut Vec<u8>) {
        variant(out, self.0, self.1);
    }
}

impl ToArbitraryBytes for Addr {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            Addr::Null => variant(out, 0, 4),
            Addr::Raw(v) => put_all!(out; variant_of(1, 4), v),
            Addr::InReservation { index, offset } => put_all!(out; variant_of(2, 4), index, offset),
            Addr::Key(i) => put_all!(out; variant_of(3, 4), i),
        }
    }
}

impl ToArbitraryBytes for Segment {
    fn put(&self, out: &mut Vec<u8>) {
        put_all!(out; self.group, self.addr, self.size, self.content);
    }
}

impl ToArbitraryBytes for ActionCall {
    fn put(&self, out: &mut Vec<u8>) {
        put_all!(out; self.which, self.args);
    }
}

impl ToArbitraryBytes for Call {
    fn put(&self, out: &mut Vec<u8>) {
        const N: u64 = 21;
        match self {
            Call::Reserve {
                instance,
                pages,
                misalign,
            } => {
                put_all!(out; variant_of(0, N), instance, pages, misalign)
            }
            Call::Initialize {
                instance,
                segments,
                actions,
            } => {
                put_all!(out; variant_of(1, N), instance, segments, actions)
            }
            Call::Deinitialize { instance, keys } => {
                put_all!(out; variant_of(2, N), instance, keys)
            }
            Call::Release { instance, bases } => put_all!(out; variant_of(3, N), instance, bases),
            Call::Write { width, entries } => put_all!(out; variant_of(4, N), width, entries),
            Call::WriteBuffers { entries } => put_all!(out; variant_of(5, N), entries),
            Call::Read { width, addrs } => put_all!(out; variant_of(6, N), width, addrs),
            Call::ReadBuffers { ranges } => put_all!(out; variant_of(7, N), ranges),
            Call::ReadStrings { addrs } => put_all!(out; variant_of(8, N), addrs),
            Call::DylibOpen {
                instance,
                path,
                mode,
            } => {
                put_all!(out; variant_of(9, N), instance, path, mode)
            }
            Call::DylibResolve { handle, symbols } => {
                put_all!(out; variant_of(10, N), handle, symbols)
            }
            Call::RunAsMain { null, argv } => put_all!(out; variant_of(11, N), null, argv),
            Call::RunAsVoid { null } => put_all!(out; variant_of(12, N), null),
            Call::RunAsInt { which, arg } => put_all!(out; variant_of(13, N), which, arg),
            Call::EhFrame { register, empty } => put_all!(out; variant_of(14, N), register, empty),
            Call::Gdb { addr, len, notify } => put_all!(out; variant_of(15, N), addr, len, notify),
            Call::Echo(b) => put_all!(out; variant_of(16, N), b),
            Call::SmReserve { instance, pages } => {
                put_all!(out; variant_of(17, N), instance, pages)
            }
            Call::SmInitialize {
                instance,
                reservation,
                segments,
                actions,
            } => {
                put_all!(out; variant_of(18, N), instance, reservation, segments, actions)
            }
            Call::SmDeinitialize { instance, keys } => {
                put_all!(out; variant_of(19, N), instance, keys)
            }
            Call::SmRelease { instance, bases } => {
                put_all!(out; variant_of(20, N), instance, bases)
            }
        }
    }
}

impl ToArbitraryBytes for WireOp {
    fn put(&self, out: &mut Vec<u8>) {
        const N: u64 = 11;
        match self {
            WireOp::Call { call, wait } => put_all!(out; variant_of(0, N), call, wait),
            WireOp::RawCall {
                target,
                tag,
                args,
                wait,
            } => {
                put_all!(out; variant_of(1, N), target, tag, args, wait)
            }
            WireOp::Frame {
                opcode,
                seqno,
                tag,
                payload,
            } => {
                put_all!(out; variant_of(2, N), opcode, seqno, tag, payload)
            }
            WireOp::Bytes(b) => put_all!(out; variant_of(3, N), b),
            WireOp::Claim {
                opcode,
                claim,
                sent,
            } => {
                put_all!(out; variant_of(4, N), opcode, claim, sent)
            }
            WireOp::Sync => variant(out, 5, N),
            WireOp::Hangup(p) => put_all!(out; variant_of(6, N), p),
            WireOp::EndOfStream => variant(out, 7, N),
            WireOp::StopReading => variant(out, 8, N),
            WireOp::ExecutorDetach => variant(out, 9, N),
            WireOp::ExecutorShutdown => variant(out, 10, N),
        }
    }
}

impl ToArbitraryBytes for WireInput {
    fn put(&self, out: &mut Vec<u8>) {
        put_all!(out; self.legacy_fallback, self.options, self.replies, self.ops);
    }
}

impl ToArbitraryBytes for SessionOp {
    fn put(&self, out: &mut Vec<u8>) {
        const N: u64 = 18;
        match self {
            SessionOp::CallExecutor { behavior } => put_all!(out; variant_of(0, N), behavior),
            SessionOp::CallController { behavior } => put_all!(out; variant_of(1, N), behavior),
            SessionOp::RunTask(i) => put_all!(out; variant_of(2, N), i),
            SessionOp::RunNewest => variant(out, 3, N),
            SessionOp::RunAll => variant(out, 4, N),
            SessionOp::ReplyController { index, drop } => {
                put_all!(out; variant_of(5, N), index, drop)
            }
            SessionOp::ReturnExecutor { index, drop } => {
                put_all!(out; variant_of(6, N), index, drop)
            }
            SessionOp::Enter => variant(out, 7, N),
            SessionOp::Leave(i) => put_all!(out; variant_of(8, N), i),
            SessionOp::Keepalive => variant(out, 9, N),
            SessionOp::AddManager { detach, shutdown } => {
                put_all!(out; variant_of(10, N), detach, shutdown)
            }
            SessionOp::CompleteManager { index, fail, drop } => {
                put_all!(out; variant_of(11, N), index, fail, drop)
            }
            SessionOp::Dispatch => variant(out, 12, N),
            SessionOp::AddOnDetach { panic } => put_all!(out; variant_of(13, N), panic),
            SessionOp::AddOnShutdown { panic } => put_all!(out; variant_of(14, N), panic),
            SessionOp::Detach => variant(out, 15, N),
            SessionOp::Hangup { error } => put_all!(out; variant_of(16, N), error),
            SessionOp::Shutdown => variant(out, 17, N),
        }
    }
}

impl ToArbitraryBytes for SessionOpsInput {
    fn put(&self, out: &mut Vec<u8>) {
        put_all!(out; self.policy, self.attach, self.ops);
    }
}

// ---- the seeds ---------------------------------------------------------------

fn call(call: Call) -> WireOp {
    WireOp::Call { call, wait: true }
}

fn pipelined(call: Call) -> WireOp {
    WireOp::Call { call, wait: false }
}

fn res(index: u8, offset: u32) -> Addr {
    Addr::InReservation { index, offset }
}

fn reserve(pages: u8) -> Call {
    Call::Reserve {
        instance: true,
        pages,
        misalign: false,
    }
}

fn release_all() -> Call {
    Call::Release {
        instance: true,
        bases: vec![res(0, 0), res(1, 0), res(2, 0)],
    }
}

fn action(which: u8, args: &[u8]) -> ActionCall {
    ActionCall {
        which,
        args: args.to_vec(),
    }
}

/// The wire options of most seeds: bits 1 and 2, once `orc-executor`'s
/// inline calls and results (now each wrapper function's own property, so
/// ignored); kept so that the seeds keep their bytes.
const AS_ORC_EXECUTOR: u8 = 3;

fn wire(legacy_fallback: bool, replies: Vec<Reply>, ops: Vec<WireOp>) -> WireInput {
    WireInput {
        legacy_fallback,
        options: AS_ORC_EXECUTOR,
        replies,
        ops,
    }
}

/// [`wire`] with other wire options.
fn wire_with(options: u8, replies: Vec<Reply>, ops: Vec<WireOp>) -> WireInput {
    WireInput {
        options,
        ..wire(true, replies, ops)
    }
}

/// The `wire_message` seeds, by file name (without `.bin`).
pub fn wire_message_seeds() -> Vec<(&'static str, WireInput)> {
    vec![
        (
            "reserve_write_read_release",
            wire(
                true,
                vec![],
                vec![
                    call(reserve(2)),
                    call(Call::Write {
                        width: 3,
                        entries: vec![(res(0, 8), 0x1122_3344_5566_7788), (res(0, 4096), 7)],
                    }),
                    call(Call::Read {
                        width: 3,
                        addrs: vec![res(0, 8), res(0, 4096), res(0, 0)],
                    }),
                    call(Call::WriteBuffers {
                        entries: vec![(res(0, 100), b"hello\0".to_vec())],
                    }),
                    call(Call::ReadBuffers {
                        ranges: vec![(res(0, 96), 16)],
                    }),
                    call(Call::ReadStrings {
                        addrs: vec![res(0, 100)],
                    }),
                    call(Call::Write {
                        width: 0,
                        entries: vec![(res(0, 8), 1), (Addr::Raw(16), 2)],
                    }),
                    call(Call::Read {
                        width: 0,
                        addrs: vec![res(0, 8)],
                    }),
                    call(release_all()),
                ],
            ),
        ),
        (
            "initialize_with_actions_then_deinitialize",
            wire(
                true,
                vec![],
                vec![
                    call(reserve(4)),
                    call(Call::Initialize {
                        instance: true,
                        segments: vec![
                            Segment {
                                group: 5,
                                addr: res(0, 0),
                                size: 4096,
                                content: vec![0xc3; 16],
                            },
                            Segment {
                                group: 3,
                                addr: res(0, 4096),
                                size: 100,
                                content: b"data".to_vec(),
                            },
                        ],
                        actions: vec![
                            (action(1, b""), action(1, b"")),
                            (action(7, &[0; 17]), action(0, b"")),
                            (action(4, b"echo"), action(2, b"")),
                        ],
                    }),
                    call(Call::Read {
                        width: 2,
                        addrs: vec![res(0, 4096)],
                    }),
                    call(Call::Deinitialize {
                        instance: true,
                        keys: vec![Addr::Key(0), Addr::Raw(0x10)],
                    }),
                    call(Call::Initialize {
                        instance: true,
                        segments: vec![Segment {
                            group: 1,
                            addr: res(0, 0),
                            size: 8192,
                            content: vec![],
                        }],
                        actions: vec![(action(2, b"x"), action(1, b""))],
                    }),
                    call(release_all()),
                ],
            ),
        ),
        (
            "run_code_and_call_the_controller",
            wire(
                true,
                vec![Reply::Answer(b"controller says hi".to_vec())],
                vec![
                    call(Call::RunAsMain {
                        null: false,
                        argv: vec![b"prog".to_vec(), b"arg".to_vec()],
                    }),
                    call(Call::RunAsMain {
                        null: false,
                        argv: vec![b"nul\0inside".to_vec()],
                    }),
                    call(Call::RunAsVoid { null: false }),
                    call(Call::RunAsVoid { null: true }),
                    call(Call::RunAsInt { which: 1, arg: 14 }),
                    call(Call::RunAsInt { which: 2, arg: 5 }),
                    call(Call::RunAsInt { which: 0, arg: 5 }),
                ],
            ),
        ),
        (
            "controller_answers_twice",
            wire(
                true,
                vec![Reply::Twice(b"a".to_vec())],
                vec![
                    call(Call::RunAsInt { which: 2, arg: 1 }),
                    call(Call::Echo(b"never delivered".to_vec())),
                ],
            ),
        ),
        (
            "controller_answers_a_wrong_seqno",
            wire(
                true,
                vec![Reply::WrongSeqno(vec![])],
                vec![call(Call::RunAsInt { which: 2, arg: 1 })],
            ),
        ),
        (
            "controller_ignores_a_call_then_hangs_up",
            wire(
                true,
                vec![Reply::Ignore],
                vec![
                    call(Call::RunAsInt { which: 2, arg: 3 }),
                    pipelined(Call::Echo(b"x".to_vec())),
                    WireOp::Hangup(vec![0]),
                ],
            ),
        ),
        (
            "dylib_open_and_resolve",
            wire(
                true,
                vec![],
                vec![
                    call(Call::DylibOpen {
                        instance: true,
                        path: 0,
                        mode: 0,
                    }),
                    call(Call::DylibOpen {
                        instance: true,
                        path: 1,
                        mode: 0,
                    }),
                    call(Call::DylibOpen {
                        instance: true,
                        path: 2,
                        mode: 0,
                    }),
                    call(Call::DylibOpen {
                        instance: true,
                        path: 4,
                        mode: 0,
                    }),
                    call(Call::DylibResolve {
                        handle: 0,
                        symbols: vec![(0, true), (3, false), (3, true), (2, false)],
                    }),
                    call(Call::DylibResolve {
                        handle: 0,
                        symbols: vec![(2, true)],
                    }),
                    call(Call::DylibResolve {
                        handle: 2,
                        symbols: vec![(4, true)],
                    }),
                    call(Call::DylibResolve {
                        handle: 1,
                        symbols: vec![(0, true)],
                    }),
                ],
            ),
        ),
        (
            "forged_instances_change_nothing",
            wire(
                true,
                vec![],
                vec![
                    call(reserve(1)),
                    call(Call::Reserve {
                        instance: false,
                        pages: 1,
                        misalign: false,
                    }),
                    call(Call::Release {
                        instance: false,
                        bases: vec![res(0, 0)],
                    }),
                    call(Call::DylibOpen {
                        instance: false,
                        path: 0,
                        mode: 0,
                    }),
                    call(Call::Reserve {
                        instance: true,
                        pages: 1,
                        misalign: true,
                    }),
                    call(Call::Reserve {
                        instance: true,
                        pages: 0,
                        misalign: false,
                    }),
                ],
            ),
        ),
        (
            "eh_frame_and_gdb_entry_points",
            wire(
                true,
                vec![],
                vec![
                    call(Call::EhFrame {
                        register: true,
                        empty: false,
                    }),
                    call(Call::EhFrame {
                        register: true,
                        empty: false,
                    }),
                    call(Call::EhFrame {
                        register: false,
                        empty: false,
                    }),
                    call(Call::EhFrame {
                        register: false,
                        empty: true,
                    }),
                    call(Call::Gdb {
                        addr: Addr::Raw(0x1000),
                        len: 64,
                        notify: true,
                    }),
                ],
            ),
        ),
        (
            "unregistered_tags_without_legacy_fallback",
            wire(
                false,
                vec![],
                vec![
                    call(Call::Echo(b"refused".to_vec())),
                    WireOp::RawCall {
                        target: 30,
                        tag: 0xdead_beef,
                        args: vec![1, 2, 3],
                        wait: true,
                    },
                    call(Call::EhFrame {
                        register: true,
                        empty: false,
                    }),
                ],
            ),
        ),
        (
            "raw_calls_with_junk_arguments",
            wire(
                true,
                vec![],
                vec![
                    WireOp::RawCall {
                        target: 0,
                        tag: 0,
                        args: vec![0xff; 16],
                        wait: true,
                    },
                    WireOp::RawCall {
                        target: 1,
                        tag: 0,
                        args: vec![1; 40],
                        wait: true,
                    },
                    WireOp::RawCall {
                        target: 19,
                        tag: 0,
                        args: vec![1, 0, 0, 0, 0, 0, 0, 0, 0],
                        wait: true,
                    },
                    WireOp::RawCall {
                        target: 30,
                        tag: 0x1234,
                        args: b"to the echo".to_vec(),
                        wait: true,
                    },
                ],
            ),
        ),
        (
            "shared_memory_reserve_initialize_release",
            wire(
                true,
                vec![],
                vec![
                    call(Call::SmReserve {
                        instance: true,
                        pages: 2,
                    }),
                    call(Call::SmInitialize {
                        instance: true,
                        reservation: res(0, 0),
                        segments: vec![(5, res(0, 0), 4096), (3, res(0, 4096), 4096)],
                        actions: vec![
                            (action(1, b""), action(1, b"")),
                            (action(7, &[0; 17]), action(0, b"")),
                        ],
                    }),
                    call(Call::Write {
                        width: 3,
                        entries: vec![(res(0, 4096), 42)],
                    }),
                    call(Call::Read {
                        width: 3,
                        addrs: vec![res(0, 4096)],
                    }),
                    call(Call::SmDeinitialize {
                        instance: true,
                        keys: vec![Addr::Key(0), Addr::Raw(8)],
                    }),
                    call(Call::SmReserve {
                        instance: false,
                        pages: 1,
                    }),
                    call(Call::SmRelease {
                        instance: true,
                        bases: vec![res(0, 0), Addr::Raw(0x1000)],
                    }),
                    pipelined(Call::SmReserve {
                        instance: true,
                        pages: 1,
                    }),
                ],
            ),
        ),
        (
            "every_call_on_the_thread_that_read_it",
            wire_with(
                0,
                vec![Reply::Answer(b"ok".to_vec())],
                vec![
                    call(reserve(1)),
                    pipelined(Call::Read {
                        width: 0,
                        addrs: vec![res(0, 0)],
                    }),
                    pipelined(Call::RunAsInt { which: 2, arg: 4 }),
                    call(Call::DylibResolve {
                        handle: 0,
                        symbols: vec![(0, true)],
                    }),
                    call(release_all()),
                ],
            ),
        ),
        (
            "executor_shuts_its_socket_down_at_the_end",
            wire_with(
                7,
                vec![Reply::Ignore],
                vec![
                    pipelined(Call::RunAsInt { which: 2, arg: 4 }),
                    call(reserve(1)),
                    WireOp::ExecutorDetach,
                    call(Call::Echo(b"late".to_vec())),
                ],
            ),
        ),
        (
            "unknown_opcode",
            wire(
                true,
                vec![],
                vec![
                    pipelined(Call::Echo(b"before".to_vec())),
                    WireOp::Frame {
                        opcode: 7,
                        seqno: 1,
                        tag: 0,
                        payload: vec![],
                    },
                    call(Call::Echo(b"after".to_vec())),
                ],
            ),
        ),
        (
            "result_for_no_call",
            wire(
                true,
                vec![],
                vec![WireOp::Frame {
                    opcode: 2,
                    seqno: 5,
                    tag: 0,
                    payload: vec![1, 2],
                }],
            ),
        ),
        (
            "setup_from_the_controller",
            wire(
                true,
                vec![],
                vec![WireOp::Frame {
                    opcode: 0,
                    seqno: 0,
                    tag: 0,
                    payload: vec![],
                }],
            ),
        ),
        (
            "truncated_header",
            wire(
                true,
                vec![],
                vec![WireOp::Bytes(vec![40, 0, 0, 0, 0, 0, 0])],
            ),
        ),
        (
            "oversized_length_claim",
            wire(
                true,
                vec![],
                vec![WireOp::Claim {
                    opcode: 3,
                    claim: 1 << 63,
                    sent: vec![7; 100],
                }],
            ),
        ),
        (
            "size_field_too_small",
            wire(
                true,
                vec![],
                vec![WireOp::Claim {
                    opcode: 2,
                    claim: 31,
                    sent: vec![],
                }],
            ),
        ),
        (
            "pipelined_calls_then_hangup",
            wire(
                true,
                vec![],
                vec![
                    pipelined(reserve(1)),
                    pipelined(Call::Echo(b"1".to_vec())),
                    pipelined(Call::RunAsVoid { null: false }),
                    WireOp::Hangup(vec![]),
                    call(Call::Echo(b"after the hangup".to_vec())),
                ],
            ),
        ),
        (
            "executor_detaches_with_calls_in_flight",
            wire(
                true,
                vec![Reply::Ignore],
                vec![
                    pipelined(Call::RunAsInt { which: 2, arg: 9 }),
                    pipelined(reserve(1)),
                    WireOp::ExecutorDetach,
                    call(Call::Echo(b"after detach".to_vec())),
                ],
            ),
        ),
        (
            // Regression: results of calls still running were written after
            // the executor's Hangup (wire/access.rs disconnect).
            "many_results_in_flight_when_the_executor_hangs_up",
            wire(
                true,
                vec![],
                (0..40)
                    .map(|i| pipelined(Call::Echo(vec![i; 200])))
                    .chain([WireOp::ExecutorDetach])
                    .collect(),
            ),
        ),
        (
            "executor_shuts_down_then_more_frames",
            wire(
                true,
                vec![],
                vec![
                    call(reserve(3)),
                    WireOp::ExecutorShutdown,
                    call(reserve(1)),
                    WireOp::Frame {
                        opcode: 1,
                        seqno: 0,
                        tag: 0,
                        payload: vec![],
                    },
                ],
            ),
        ),
        (
            "controller_stops_reading",
            wire(
                true,
                vec![],
                vec![
                    WireOp::StopReading,
                    pipelined(Call::Echo(vec![0; 64])),
                    WireOp::Sync,
                ],
            ),
        ),
        (
            "frames_split_and_merged",
            wire(
                true,
                vec![],
                vec![
                    WireOp::Bytes(vec![40, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0]),
                    WireOp::Bytes(vec![0; 28]),
                    WireOp::Sync,
                    WireOp::EndOfStream,
                ],
            ),
        ),
        // What a Hangup's payload means (protocol 10).
        (
            "controller_hangs_up_with_a_reason",
            wire_with(
                AS_ORC_EXECUTOR | WireInput::HANGUP_REASONS,
                vec![],
                vec![
                    pipelined(reserve(1)),
                    pipelined(Call::Echo(b"in flight".to_vec())),
                    WireOp::Hangup(b"Symbols not found: [ _main ]".to_vec()),
                    call(Call::Echo(b"after the hangup".to_vec())),
                ],
            ),
        ),
        (
            "hangup_reason_that_is_not_utf8",
            wire(
                true,
                vec![],
                vec![WireOp::Hangup(hangup_payload(b"\xffbad\0byte"))],
            ),
        ),
        (
            "hangup_reason_cut_short",
            wire(
                true,
                vec![],
                vec![
                    call(Call::Echo(b"before".to_vec())),
                    WireOp::Hangup(hangup_payload(b"gone")[..11].to_vec()),
                ],
            ),
        ),
        (
            "hangup_success_with_trailing_bytes",
            wire(
                true,
                vec![],
                vec![WireOp::Frame {
                    opcode: 1,
                    seqno: 0,
                    tag: 0,
                    payload: vec![0, 0],
                }],
            ),
        ),
        // What a Result's kind means (protocol 3.1).
        (
            "controller_answers_with_out_of_band_errors",
            wire_with(
                AS_ORC_EXECUTOR | REPLY_OUT_OF_BAND_ERROR,
                vec![
                    Reply::Answer(b"Symbols not found: [ _foo ]".to_vec()),
                    Reply::Answer(b"cut at\0the NUL, \xff replaced".to_vec()),
                ],
                vec![
                    call(Call::RunAsInt { which: 2, arg: 1 }),
                    call(Call::RunAsInt { which: 2, arg: 2 }),
                    call(Call::RunAsInt { which: 2, arg: 3 }),
                ],
            ),
        ),
        (
            "controller_answers_with_malformed_out_of_band_errors",
            wire_with(
                AS_ORC_EXECUTOR | REPLY_RAW_KIND_1,
                vec![
                    Reply::Answer(vec![3, 0, 0]),
                    Reply::Answer(sps_string(b"a string after all")),
                    Reply::Twice(vec![]),
                ],
                vec![
                    call(Call::RunAsInt { which: 2, arg: 1 }),
                    call(Call::RunAsInt { which: 2, arg: 2 }),
                    call(Call::RunAsInt { which: 2, arg: 3 }),
                    call(Call::Echo(b"never delivered".to_vec())),
                ],
            ),
        ),
        (
            "controller_answers_with_an_invalid_result_kind",
            wire_with(
                AS_ORC_EXECUTOR | REPLY_INVALID_KIND,
                vec![Reply::Answer(vec![7])],
                vec![
                    call(Call::RunAsInt { which: 2, arg: 1 }),
                    call(Call::Echo(b"never delivered".to_vec())),
                ],
            ),
        ),
        (
            "controller_answers_a_wrong_seqno_with_an_error",
            wire_with(
                AS_ORC_EXECUTOR | REPLY_OUT_OF_BAND_ERROR,
                vec![Reply::WrongSeqno(b"for no call".to_vec())],
                vec![call(Call::RunAsInt { which: 2, arg: 1 })],
            ),
        ),
        // reserve(0) as LLVM 22 (protocol 5.2).
        (
            "reserve_zero_then_release_it_once",
            wire(
                true,
                vec![],
                vec![
                    call(reserve(0)),
                    call(reserve(17)),
                    call(Call::Release {
                        instance: true,
                        bases: vec![Addr::Null],
                    }),
                    call(Call::Release {
                        instance: true,
                        bases: vec![Addr::Null],
                    }),
                    call(Call::Reserve {
                        instance: true,
                        pages: 0,
                        misalign: true,
                    }),
                    call(Call::Reserve {
                        instance: false,
                        pages: 0,
                        misalign: false,
                    }),
                    call(reserve(1)),
                    call(reserve(0)),
                    call(Call::Release {
                        instance: true,
                        bases: vec![res(0, 0), Addr::Null],
                    }),
                    call(reserve(0)),
                    call(Call::Release {
                        instance: true,
                        bases: vec![Addr::Null, Addr::Null],
                    }),
                    call(reserve(2)),
                    call(Call::Release {
                        instance: true,
                        bases: vec![res(0, 0), res(0, 0)],
                    }),
                    call(reserve(0)),
                ],
            ),
        ),
        (
            "result_frame_with_an_invalid_kind",
            wire(
                true,
                vec![],
                vec![
                    call(Call::Echo(b"before".to_vec())),
                    WireOp::Frame {
                        opcode: 2,
                        seqno: 1,
                        tag: 2,
                        payload: vec![],
                    },
                ],
            ),
        ),
    ]
}

/// `bytes` as an SPS string: the length (`u64`, little-endian), the bytes.
fn sps_string(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// The Hangup payload carrying `reason`, built by hand as a C++ controller
/// sends it: `01` (an SPS `Error` failure), then the reason as a string.
fn hangup_payload(reason: &[u8]) -> Vec<u8> {
    let mut payload = vec![1];
    payload.extend_from_slice(&sps_string(reason));
    payload
}

/// [`WireInput::REPLY_KINDS`]: kind 1, the bytes as the message.
const REPLY_OUT_OF_BAND_ERROR: u8 = 0x10;
/// [`WireInput::REPLY_KINDS`]: kind 1, the bytes as they are.
const REPLY_RAW_KIND_1: u8 = 0x20;
/// [`WireInput::REPLY_KINDS`]: an invalid kind, from the bytes.
const REPLY_INVALID_KIND: u8 = 0x30;

/// Past `wire_message` findings, by file name (written to
/// `fuzz/regressions/wire_message/`). Kept as values so that a change of the
/// input format re-encodes them instead of silently turning them into other
/// inputs. Wire options 0: the harness before it had them.
pub fn wire_message_regressions() -> Vec<(&'static str, WireInput)> {
    let reserve_with = |instance, pages, misalign| Call::Reserve {
        instance,
        pages,
        misalign,
    };
    vec![
        (
            // A Sync waited for answers after the executor had shut down.
            "sync_after_executor_shutdown",
            wire_with(
                0,
                vec![],
                vec![
                    pipelined(reserve(1)),
                    pipelined(Call::Echo(vec![50])),
                    pipelined(Call::ReadBuffers { ranges: vec![] }),
                    WireOp::ExecutorShutdown,
                    WireOp::Sync,
                    WireOp::Sync,
                ],
            ),
        ),
        (
            // The end-of-run check probed freed addresses, which the process
            // had reused (now: counted mappings).
            "freed_reservation_address_reused_after_shutdown",
            wire_with(
                0,
                vec![],
                vec![
                    call(reserve(1)),
                    call(reserve(1)),
                    pipelined(Call::Release {
                        instance: false,
                        bases: vec![
                            res(0, 1_836_477_548),
                            Addr::Raw(8_391_166_423_524_664_690),
                            Addr::Raw(8_028_911_263_825_092_978),
                            Addr::Raw(4_311_810_305),
                        ],
                    }),
                ],
            ),
        ),
        (
            // A hang: the continuation of a controller call failed by the
            // disconnect was dispatched after the dispatcher's shutdown had
            // begun and was dropped, so the call's thread waited forever and
            // the shutdown joined it forever (dispatchers now refuse such a
            // task and the session runs it inline). A race: seldom caught.
            "continuation_dropped_by_a_shutting_down_dispatcher",
            wire_with(
                0,
                vec![Reply::Ignore],
                vec![
                    pipelined(Call::RunAsInt { which: 2, arg: 9 }),
                    call(reserve_with(true, 5, true)),
                    call(reserve_with(true, 5, true)),
                    call(reserve_with(true, 255, true)),
                    WireOp::ExecutorShutdown,
                    pipelined(reserve_with(false, 118, false)),
                    WireOp::Frame {
                        opcode: 221,
                        seqno: 230_297_624_419_617,
                        tag: 139_696_190_445_846_529,
                        payload: vec![150],
                    },
                    pipelined(reserve_with(false, 0, false)),
                ],
            ),
        ),
        (
            // A deadlock (a timeout of a 10-minute run; a race, seldom
            // caught): with the controller no longer reading, a reserve run
            // on the reader thread could not send its result and ended the
            // connection inside its delivery, then told the session there;
            // the detach of the shutdown the harness had requested joined a
            // call thread that was waiting for the lock that delivery held.
            // Deterministic twin: wire::access's
            // an_inline_call_ending_the_connection_does_not_wait_...
            "inline_call_ending_the_connection_during_shutdown",
            wire_with(
                3,
                vec![],
                vec![
                    WireOp::RawCall {
                        target: 35,
                        tag: 2_531_906_049_332_683_555,
                        args: vec![],
                        wait: true,
                    },
                    WireOp::StopReading,
                    WireOp::RawCall {
                        target: 35,
                        tag: 2_531_906_049_332_683_555,
                        args: vec![],
                        wait: true,
                    },
                    call(reserve_with(true, 1, true)),
                    call(reserve_with(true, 1, true)),
                    call(reserve_with(true, 1, true)),
                    call(reserve_with(false, 192, false)),
                ],
            ),
        ),
        (
            // A hang (a timeout of a 10-minute run; a race): JIT'd code's
            // call to the controller failed to send once the shutdown's
            // disconnect had closed the stream, so that thread ended the
            // connection and failed the pending calls; meanwhile the
            // disconnect told the session, whose shutdown closed the scope,
            // so the call's own failure found no guard and was dropped: the
            // JIT'd code waited forever and the shutdown joined it. Now the
            // session is told only after the drain (and a dropped
            // continuation still answers the blocked call).
            "shutdown_while_jit_code_calls_the_controller",
            wire_with(
                0,
                vec![Reply::Ignore],
                vec![
                    pipelined(Call::RunAsInt { which: 2, arg: 9 }),
                    pipelined(reserve_with(false, 0, false)),
                    pipelined(Call::RunAsInt { which: 2, arg: 9 }),
                    call(reserve_with(true, 5, true)),
                    call(reserve_with(true, 5, true)),
                    call(reserve_with(true, 255, true)),
                    WireOp::ExecutorShutdown,
                    pipelined(reserve_with(false, 118, false)),
                    WireOp::Frame {
                        opcode: 221,
                        seqno: 18_374_916_777_296_043_297,
                        tag: u64::MAX,
                        payload: vec![],
                    },
                    pipelined(reserve_with(false, 0, false)),
                ],
            ),
        ),
        (
            // A Sync waited for the answer to JIT'd code's call to the
            // controller after a header had claimed 4 GiB of payload that
            // never came: the answer's bytes were read as that payload (the
            // harness now knows the stream is desynchronized).
            "sync_after_a_claim_swallowed_the_answers",
            wire_with(
                3,
                vec![Reply::Answer(vec![])],
                vec![
                    pipelined(Call::RunAsInt {
                        which: 14,
                        arg: 387_385_111,
                    }),
                    WireOp::Claim {
                        opcode: 1,
                        claim: 4_311_744_615,
                        sent: vec![],
                    },
                    WireOp::Sync,
                ],
            ),
        ),
    ]
}

fn ops_input(policy: u8, attach: bool, ops: Vec<SessionOp>) -> SessionOpsInput {
    SessionOpsInput {
        policy,
        attach,
        ops,
    }
}

/// The `session_ops` seeds, by file name (without `.bin`).
pub fn session_ops_seeds() -> Vec<(&'static str, SessionOpsInput)> {
    use SessionOp as O;
    vec![
        (
            "callbacks_run_newest_first",
            ops_input(
                0,
                true,
                vec![
                    O::AddOnDetach { panic: false },
                    O::AddOnDetach { panic: false },
                    O::AddOnShutdown { panic: false },
                    O::AddOnShutdown { panic: false },
                    O::AddManager {
                        detach: 0,
                        shutdown: 0,
                    },
                    O::Enter,
                    O::Detach,
                    O::AddOnDetach { panic: false },
                    O::Shutdown,
                    O::Leave(0),
                    O::AddOnShutdown { panic: false },
                ],
            ),
        ),
        (
            "calls_both_ways_then_shutdown",
            ops_input(
                0,
                true,
                vec![
                    O::AddManager {
                        detach: 0,
                        shutdown: 0,
                    },
                    O::AddManager {
                        detach: 0,
                        shutdown: 0,
                    },
                    O::CallExecutor { behavior: 0 },
                    O::RunAll,
                    O::CallController { behavior: 0 },
                    O::RunAll,
                    O::AddOnDetach { panic: false },
                    O::AddOnShutdown { panic: false },
                    O::Shutdown,
                ],
            ),
        ),
        (
            "everything_deferred",
            ops_input(
                1,
                true,
                vec![
                    O::AddManager {
                        detach: 3,
                        shutdown: 3,
                    },
                    O::AddManager {
                        detach: 3,
                        shutdown: 0,
                    },
                    O::CallExecutor { behavior: 1 },
                    O::CallController { behavior: 1 },
                    O::RunAll,
                    O::Enter,
                    O::Detach,
                    O::CompleteManager {
                        index: 0,
                        fail: false,
                        drop: false,
                    },
                    O::ReturnExecutor {
                        index: 0,
                        drop: false,
                    },
                    O::Shutdown,
                    O::CompleteManager {
                        index: 0,
                        fail: false,
                        drop: false,
                    },
                    O::Leave(0),
                    O::ReplyController {
                        index: 0,
                        drop: false,
                    },
                    O::RunAll,
                ],
            ),
        ),
        (
            "faults_everywhere",
            ops_input(
                0,
                true,
                vec![
                    O::AddManager {
                        detach: 1,
                        shutdown: 2,
                    },
                    O::AddManager {
                        detach: 2,
                        shutdown: 4,
                    },
                    O::AddManager {
                        detach: 4,
                        shutdown: 1,
                    },
                    O::CallExecutor { behavior: 3 },
                    O::CallExecutor { behavior: 2 },
                    O::CallController { behavior: 2 },
                    O::RunAll,
                    O::AddOnDetach { panic: true },
                    O::AddOnShutdown { panic: true },
                    O::Shutdown,
                    O::AddOnShutdown { panic: true },
                ],
            ),
        ),
        (
            "shutdown_requested_inside_a_call",
            ops_input(
                0,
                true,
                vec![
                    O::AddManager {
                        detach: 0,
                        shutdown: 0,
                    },
                    O::CallExecutor { behavior: 0 },
                    O::CallExecutor { behavior: 5 },
                    O::CallExecutor { behavior: 4 },
                    O::RunTask(1),
                    O::Enter,
                    O::RunAll,
                    O::Leave(0),
                ],
            ),
        ),
        (
            "detach_inside_a_call_with_a_pending_controller_call",
            ops_input(
                1,
                true,
                vec![
                    O::CallController { behavior: 1 },
                    O::CallExecutor { behavior: 6 },
                    O::RunNewest,
                    O::ReplyController {
                        index: 0,
                        drop: false,
                    },
                    O::CallController { behavior: 0 },
                    O::AddManager {
                        detach: 3,
                        shutdown: 0,
                    },
                    O::Keepalive,
                    O::RunAll,
                ],
            ),
        ),
        (
            "never_attached",
            ops_input(
                0,
                false,
                vec![
                    O::CallController { behavior: 0 },
                    O::AddManager {
                        detach: 0,
                        shutdown: 3,
                    },
                    O::Enter,
                    O::Dispatch,
                    O::Shutdown,
                    O::Enter,
                    O::Keepalive,
                    O::Leave(0),
                    O::RunAll,
                    O::CompleteManager {
                        index: 0,
                        fail: true,
                        drop: false,
                    },
                ],
            ),
        ),
        (
            "hangup_with_error_then_late_managers",
            ops_input(
                0,
                true,
                vec![
                    O::AddManager {
                        detach: 0,
                        shutdown: 0,
                    },
                    O::CallExecutor { behavior: 1 },
                    O::Hangup { error: true },
                    O::AddManager {
                        detach: 3,
                        shutdown: 0,
                    },
                    O::AddOnDetach { panic: false },
                    O::CompleteManager {
                        index: 0,
                        fail: false,
                        drop: true,
                    },
                    O::Shutdown,
                    O::AddManager {
                        detach: 0,
                        shutdown: 0,
                    },
                    O::RunAll,
                ],
            ),
        ),
        (
            "queued_tasks_kept_at_shutdown",
            ops_input(
                1,
                true,
                vec![
                    O::Dispatch,
                    O::Dispatch,
                    O::CallExecutor { behavior: 0 },
                    O::CallController { behavior: 0 },
                    O::Shutdown,
                    O::Dispatch,
                    O::RunTask(1),
                    O::RunNewest,
                ],
            ),
        ),
        (
            "queued_tasks_dropped_at_shutdown",
            ops_input(
                2,
                true,
                vec![
                    O::AddManager {
                        detach: 0,
                        shutdown: 0,
                    },
                    O::CallController { behavior: 0 },
                    O::Dispatch,
                    O::CallExecutor { behavior: 0 },
                    O::Shutdown,
                ],
            ),
        ),
    ]
}
