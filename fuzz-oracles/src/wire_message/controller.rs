//! The stream from the executor: the controller's reader thread checks the
//! executor's frames, answers its calls as the input says and logs the rest.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use orc_executor::wire::SetupInfo;
use orc_rt::error::Error;

use super::FOREIGN_SEQNO;
use super::framer::{Framer, frame};
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

/// Reads the executor's frames, answers its calls, records the rest.
pub(super) fn controller_reader(shared: Arc<Shared>, sock: UnixStream) {
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

pub(super) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> usize {
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
