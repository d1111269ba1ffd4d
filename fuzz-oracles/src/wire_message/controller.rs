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
use super::input::Reply;

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
                let result =
                    |seqno, p: &[u8]| message(Opcode::Result, seqno, ExecutorAddr::NULL, p);
                let mut framer = shared.framer();
                if let Some(f) = framer.as_mut() {
                    match &plan {
                        Reply::Answer(p) => f.feed(&result(seqno, p), true),
                        Reply::WrongSeqno(p) => f.feed(&result(seqno | FOREIGN_SEQNO, p), false),
                        Reply::Twice(p) => {
                            f.feed(&result(seqno, p), true);
                            f.feed(&result(seqno, p), false);
                        }
                        Reply::Ignore => {}
                    }
                }
                drop(framer);
                shared.changed.notify_all();
                continue;
            }
        }
        drop(log);
        shared.changed.notify_all();
    }
    shared.note(|l| l.eof = true);
}
