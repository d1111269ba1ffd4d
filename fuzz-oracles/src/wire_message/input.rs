//! The fuzz input: what the controller does ([`WireOp`], typed [`Call`]s of
//! the published wrapper functions) and how it answers the executor's calls.
//! Decoded by `arbitrary`: the checked-in corpus depends on these shapes.

use arbitrary::Arbitrary;

/// One fuzz input.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub struct WireInput {
    /// Whether unregistered tags are called with the legacy ABI (as
    /// `orc-executor` does) or refused.
    pub legacy_fallback: bool,
    /// Bits that change what some operations send. `0x01` and `0x02` are
    /// ignored (once options for inline service calls and results, now a
    /// property each wrapper function declares), as is `0x04` (made the
    /// executor shut its socket down at the end, as the transport now
    /// always does). [`HANGUP_REASONS`](Self::HANGUP_REASONS) (`0x08`) and
    /// [`REPLY_KINDS`](Self::REPLY_KINDS) (`0x30`) came later: inputs
    /// written before have them clear, so they decode to the same value
    /// and run as they did. `0x40` and `0x80` are free.
    pub options: u8,
    /// How the controller answers the executor's calls, in turn (cycled;
    /// none: empty answers).
    pub replies: Vec<Reply>,
    /// What the controller does.
    pub ops: Vec<WireOp>,
}

impl WireInput {
    /// `options` bit: each [`WireOp::Hangup`] sends its bytes as the
    /// controller's reason, an SPS `Error` failure (`01`, length, bytes),
    /// instead of as the raw payload (protocol 10).
    pub const HANGUP_REASONS: u8 = 0x08;
    /// `options` bits: the result kind of the controller's answers to the
    /// executor's calls (protocol 3.1): `0x00` value (kind 0), `0x10`
    /// out-of-band error (kind 1, the bytes as its SPS string message),
    /// `0x20` kind 1 with the bytes as they are (an SPS string or
    /// malformed), `0x30` an invalid kind (the bytes' first eight,
    /// little-endian and zero-padded, at least 2).
    pub const REPLY_KINDS: u8 = 0x30;

    /// Whether Hangups carry their bytes as a reason.
    pub(super) fn hangup_reasons(&self) -> bool {
        self.options & Self::HANGUP_REASONS != 0
    }

    /// The result kind of the controller's answers.
    pub(super) fn reply_kind(&self) -> ReplyKind {
        match (self.options & Self::REPLY_KINDS) >> Self::REPLY_KINDS.trailing_zeros() {
            0 => ReplyKind::Value,
            1 => ReplyKind::OutOfBandError,
            2 => ReplyKind::RawOutOfBandError,
            _ => ReplyKind::Invalid,
        }
    }
}

/// The result kind the controller's answers carry ([`WireInput::REPLY_KINDS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReplyKind {
    /// Kind 0: the bytes are the value (LLVM 22's only kind).
    Value,
    /// Kind 1, the bytes as an SPS string: an out-of-band error with them
    /// as its message.
    OutOfBandError,
    /// Kind 1, the bytes as they are: an out-of-band error, whose message
    /// says it could not be decoded unless they are an SPS string.
    RawOutOfBandError,
    /// Kind 2 or above (from the bytes): a protocol error.
    Invalid,
}

impl ReplyKind {
    /// The tag and payload of a Result of this kind carrying `bytes`.
    pub(super) fn result(self, bytes: &[u8]) -> (u64, Vec<u8>) {
        match self {
            ReplyKind::Value => (0, bytes.to_vec()),
            ReplyKind::OutOfBandError => {
                let mut payload = (bytes.len() as u64).to_le_bytes().to_vec();
                payload.extend_from_slice(bytes);
                (1, payload)
            }
            ReplyKind::RawOutOfBandError => (1, bytes.to_vec()),
            ReplyKind::Invalid => {
                let mut word = [0; 8];
                let n = bytes.len().min(8);
                word[..n].copy_from_slice(&bytes[..n]);
                (u64::from_le_bytes(word).max(2), bytes.to_vec())
            }
        }
    }
}

/// The payload of a Hangup whose reason is `bytes`: an SPS `Error`
/// failure, `01` then the bytes as an SPS string (any bytes, as a C++
/// controller may send).
pub(super) fn hangup_reason(bytes: &[u8]) -> Vec<u8> {
    let mut payload = vec![1];
    payload.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    payload.extend_from_slice(bytes);
    payload
}

/// The controller's answer to one executor call; its Results carry the
/// bytes as the input's [`WireInput::REPLY_KINDS`] say.
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
    /// A Hangup with this payload (or, with
    /// [`WireInput::HANGUP_REASONS`], this reason).
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
