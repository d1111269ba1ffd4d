//! The stream from the executor: the controller's reader thread reads the
//! executor's frames (with the executor's own [`FrameReader`]), answers its
//! calls as the input says and logs the rest.

use std::collections::HashMap;
use std::io::BufReader;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use orc_executor::wire::{FrameReader, Opcode, SetupInfo, WireError};
use orc_rt::addr::ExecutorAddr;
use orc_rt::error::Error;

use super::FOREIGN_SEQNO;
use super::framer::{Delivered, Framer, calls_per_seqno, message};
use super::input::{Reply, ReplyKind};
use super::model::out_of_band_message;

/// What the JIT'd code that made one executor call gets back, as far as
/// the model knows (protocol 3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ControllerAnswer {
    /// A kind 0 Result answered it: these bytes.
    Value(Vec<u8>),
    /// A kind 1 Result answered it: an out-of-band error with this message.
    Error(String),
    /// The answer ended the session (a wrong seqno, an invalid kind): the
    /// call fails with the disconnection.
    Failed,
    /// Not known: no answer (the controller ignored the call), or its bytes
    /// merged with others in the stream.
    Unknown,
}

/// What the controller saw and heard.
#[derive(Default)]
pub(super) struct Log {
    pub(super) setup: Option<SetupInfo>,
    /// Results by seqno, in arrival order.
    pub(super) results: HashMap<u64, Vec<Vec<u8>>>,
    /// Results that could not be sent (the executor's report).
    pub(super) lost: HashMap<u64, usize>,
    pub(super) hangup: bool,
    pub(super) eof: bool,
    pub(super) violations: Vec<String>,
    /// Executor calls the controller chose not to answer.
    pub(super) ignored: usize,
    /// Every executor call, in arrival order: what its caller gets.
    pub(super) controller_calls: Vec<ControllerAnswer>,
    pub(super) reported: Vec<String>,
    pub(super) disconnect: Option<Result<(), Error>>,
}

impl Log {
    /// The answers to calls with `seqno` so far: Results and lost-result
    /// reports.
    pub(super) fn answers(&self, seqno: u64) -> usize {
        self.results.get(&seqno).map_or(0, Vec::len) + self.lost.get(&seqno).copied().unwrap_or(0)
    }

    /// Whether every call of `calls` has its answer (a seqno that `k` calls
    /// carry needs `k`).
    pub(super) fn all_answered(&self, calls: &[Delivered]) -> bool {
        calls_per_seqno(calls)
            .iter()
            .all(|(seqno, k)| self.answers(*seqno) >= *k)
    }
}

pub(super) struct Shared {
    pub(super) log: Mutex<Log>,
    pub(super) changed: Condvar,
    pub(super) framer: Mutex<Option<Framer>>,
    pub(super) replies: Vec<Reply>,
    /// The result kind of the replies.
    pub(super) reply_kind: ReplyKind,
}

impl Shared {
    pub(super) fn log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn framer(&self) -> MutexGuard<'_, Option<Framer>> {
        self.framer.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn note(&self, f: impl FnOnce(&mut Log)) {
        f(&mut self.log());
        self.changed.notify_all();
    }
}

/// A size field above this in the executor's stream is a violation: the
/// framer bounds every request, so no answer comes near it.
const MAX_EXECUTOR_MESSAGE: u64 = 1 << 30;

/// Reads the executor's frames, answers its calls, records the rest.
pub(super) fn controller_reader(shared: Arc<Shared>, sock: UnixStream) {
    let mut frames = FrameReader::new(BufReader::with_capacity(64 * 1024, sock))
        .with_max_message_size(MAX_EXECUTOR_MESSAGE);
    let mut first = true;
    let mut calls = 0usize;
    loop {
        let msg = match frames.read_message() {
            Ok(Some(msg)) => msg,
            // The end of the stream at a frame boundary; or a read error,
            // which only our own shutdown of the socket causes.
            Ok(None) | Err(WireError::Io(_)) => break,
            Err(e) => {
                shared.note(|l| l.violations.push(format!("executor sent a bad frame: {e}")));
                break;
            }
        };
        let (opcode, seqno) = (msg.opcode, msg.seqno);
        let was_first = std::mem::replace(&mut first, false);
        let mut log = shared.log();
        if log.hangup {
            log.violations
                .push(format!("executor sent a {opcode} after its Hangup"));
        }
        match opcode {
            Opcode::Setup if was_first => match SetupInfo::from_bytes(msg.payload.bytes()) {
                Ok(s) => log.setup = Some(s),
                Err(e) => log.violations.push(format!("undecodable Setup: {e}")),
            },
            Opcode::Setup => log.violations.push("a second Setup".into()),
            _ if was_first => log
                .violations
                .push(format!("first frame is a {opcode}, not Setup")),
            Opcode::Hangup => log.hangup = true,
            Opcode::Result => log
                .results
                .entry(seqno)
                .or_default()
                .push(msg.payload.bytes().to_vec()),
            Opcode::CallWrapper => {
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
                let answer = answer_call(&shared, seqno, &plan);
                shared.note(|l| l.controller_calls.push(answer));
                continue;
            }
        }
        drop(log);
        shared.changed.notify_all();
    }
    shared.note(|l| l.eof = true);
}

/// Sends the controller's answer to the executor's call `seqno` as `plan`
/// says, in the input's result kind; returns what the call's caller gets.
fn answer_call(shared: &Shared, seqno: u64, plan: &Reply) -> ControllerAnswer {
    let mut framer = shared.framer();
    let Some(f) = framer.as_mut() else {
        return ControllerAnswer::Unknown;
    };
    let result = |seqno, bytes: &[u8]| {
        let (kind, payload) = shared.reply_kind.result(bytes);
        let frame = message(Opcode::Result, seqno, ExecutorAddr::new(kind), &payload);
        (kind, payload, frame)
    };
    match plan {
        Reply::Answer(bytes) | Reply::Twice(bytes) => {
            let (kind, payload, frame) = result(seqno, bytes);
            let whole = f.feed(&frame, true);
            if matches!(plan, Reply::Twice(_)) {
                f.feed(&frame, false);
            }
            match kind {
                _ if !whole => ControllerAnswer::Unknown,
                0 => ControllerAnswer::Value(payload),
                1 => ControllerAnswer::Error(out_of_band_message(&payload)),
                _ => ControllerAnswer::Failed,
            }
        }
        Reply::WrongSeqno(bytes) => {
            let (_, _, frame) = result(seqno | FOREIGN_SEQNO, bytes);
            if f.feed(&frame, false) {
                ControllerAnswer::Failed
            } else {
                ControllerAnswer::Unknown
            }
        }
        Reply::Ignore => ControllerAnswer::Unknown,
    }
}
