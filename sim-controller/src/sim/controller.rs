//! The simulated controller: it speaks real SimpleRemoteEPC messages (LLVM
//! main's dialect: a Hangup carries an SPS error, a Result's tag says
//! whether it is a value or an out-of-band error). It reads the executor's
//! Setup, calls JIT'd functions and services by their bootstrap names,
//! answers the executor's calls with the scenario's handlers, and hangs up.
//!
//! It owns only its own state; the world puts what it sends on the pipe and
//! hands it what arrives.

use std::collections::BTreeMap;
use std::sync::Arc;

use orc_executor::wire::{HEADER_SIZE, Opcode, SetupInfo};
use orc_rt::sps;

use super::addresses::tag_name;
use super::log::Log;
use super::pipe::{Label, Message, frame, header, opcode_name, result_frame};
use crate::scenario::{CallTarget, FaultKind, Reply, Scenario, SvcOp, Value};
use crate::services::{self, Res};
use crate::transcript::Shape;

/// A controller-side handler the embedding program provides in Rust: the
/// call's argument bytes in, the result bytes (or an out-of-band error
/// message) out.
pub type HandlerFn = dyn Fn(&[u8]) -> Result<Vec<u8>, String> + Send + Sync;

/// The provided handlers, by name.
pub(crate) type ProvidedHandlers = BTreeMap<String, Arc<HandlerFn>>;

/// Why a script step must wait before it can run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Wait {
    /// The executor's Setup has not arrived.
    Setup,
    /// The result naming the address this step uses is still on its way.
    Result(String),
}

/// What a controller step led to.
pub(crate) enum Step {
    /// Send this message (the world numbers it and puts it on the pipe).
    Send(Message),
    /// The step must wait.
    Wait(Wait),
    /// Nothing to send (it failed at once, logged).
    Done,
}

/// What an arriving message makes the controller do.
pub(crate) enum Reaction {
    /// Send a message `after` ticks from now.
    Send(u64, Message),
    /// Hang up instead of answering.
    Hangup,
    /// Vanish: the transport closes under both sides.
    Close,
    /// A protocol error: the controller gives up on the connection and
    /// closes it (as LLVM's does).
    Fail(String),
}

/// One call the controller made.
#[derive(Debug, Default, Clone)]
pub(crate) struct CallRec {
    /// The sequence number it went out with.
    pub(crate) seq: Option<u64>,
    /// It was sent.
    pub(crate) sent: bool,
    /// Its result (or the controller's own failure of it).
    pub(crate) result: Option<Res>,
    /// The result came from the executor (not the controller's own).
    pub(crate) from_executor: bool,
}

/// A handler call that waits for the controller's own calls into the
/// executor before it replies (re-entrancy).
struct PendingReply {
    seq: u64,
    tag: String,
    n: u64,
    args: Vec<u8>,
    waiting_for: Vec<String>,
}

/// The controller's state.
pub(crate) struct Controller {
    sc: Arc<Scenario>,
    /// The embedding program's handlers, by name.
    provided: Arc<ProvidedHandlers>,
    symbols: Option<BTreeMap<String, u64>>,
    ended: Option<String>,
    next_seq: u64,
    calls: BTreeMap<String, CallRec>,
    /// Outstanding calls by sequence number.
    by_seq: BTreeMap<u64, String>,
    /// Service steps awaiting their result, to decode it.
    svc: BTreeMap<String, SvcOp>,
    /// The address an earlier step's result named, by its handle.
    named: BTreeMap<String, u64>,
    reserve_fault_used: bool,
    /// Bytes arrived and not yet a whole message.
    inbox: Vec<u8>,
    /// The numbers of the packets whose bytes are in `inbox`.
    inbox_nos: Vec<u64>,
    /// Calls of each handler so far.
    handler_calls: BTreeMap<String, u64>,
    /// Handler replies waiting for call-backs.
    pending_replies: Vec<PendingReply>,
    callback_no: u64,
    /// The allocation-action functions of the simulated executor.
    actions: Option<services::ActionFunctions>,
}

impl Controller {
    /// A controller for scenario `sc`, before anything arrived.
    pub(crate) fn new(sc: Arc<Scenario>, provided: Arc<ProvidedHandlers>) -> Self {
        Controller {
            sc,
            provided,
            symbols: None,
            ended: None,
            next_seq: 0,
            calls: BTreeMap::new(),
            by_seq: BTreeMap::new(),
            svc: BTreeMap::new(),
            named: BTreeMap::new(),
            reserve_fault_used: false,
            inbox: Vec::new(),
            inbox_nos: Vec::new(),
            handler_calls: BTreeMap::new(),
            pending_replies: Vec::new(),
            callback_no: 0,
            actions: None,
        }
    }

    /// The executor's allocation-action functions, for `initialize` steps
    /// with actions.
    pub(crate) fn set_action_functions(&mut self, actions: services::ActionFunctions) {
        self.actions = Some(actions);
    }

    /// The Setup arrived.
    pub(crate) fn has_setup(&self) -> bool {
        self.symbols.is_some()
    }

    /// Why the connection ended, once it did.
    pub(crate) fn ended(&self) -> Option<&str> {
        self.ended.as_deref()
    }

    /// The call with this handle.
    pub(crate) fn call_rec(&self, handle: &str) -> Option<&CallRec> {
        self.calls.get(handle)
    }

    /// The handle of the call that went out with sequence number `seq`.
    pub(crate) fn handle_of_seq(&self, seq: u64) -> Option<String> {
        self.calls
            .iter()
            .find(|(_, c)| c.seq == Some(seq))
            .map(|(h, _)| h.clone())
    }

    /// Calls sent and not answered, with their handles.
    pub(crate) fn outstanding(&self) -> Vec<String> {
        self.calls
            .iter()
            .filter(|(_, c)| c.sent && c.result.is_none())
            .map(|(h, _)| h.clone())
            .collect()
    }

    fn fail_at_once(&mut self, handle: &str, why: String, log: &mut Log) -> Step {
        log.note("ctl", format!("{handle} fails at once: {why}"));
        self.calls.entry(handle.to_owned()).or_default().result = Some(Res::Error(why));
        Step::Done
    }

    fn not_connected(&mut self, handle: &str, log: &mut Log) -> Option<Step> {
        let why = self.ended.clone()?;
        Some(self.fail_at_once(handle, format!("not connected ({why})"), log))
    }

    fn message(&mut self, handle: &str, addr: u64, args: Vec<u8>, text: String) -> Message {
        self.next_seq += 1;
        let seq = self.next_seq;
        let rec = self.calls.entry(handle.to_owned()).or_default();
        rec.sent = true;
        rec.seq = Some(seq);
        self.by_seq.insert(seq, handle.to_owned());
        Message {
            bytes: frame(Opcode::CallWrapper, seq, addr, &args),
            label: Label::Call(handle.to_owned()),
            text: format!("{text} seq {seq}"),
            more_follows: false,
        }
    }

    /// The `call H FN [VALUE]` step.
    pub(crate) fn call(
        &mut self,
        handle: &str,
        target: &CallTarget,
        arg: &Value,
        log: &mut Log,
    ) -> Step {
        if let Some(s) = self.not_connected(handle, log) {
            return s;
        }
        let Some(symbols) = &self.symbols else {
            return Step::Wait(Wait::Setup);
        };
        let (addr, args) = match target {
            CallTarget::Jit(f) => {
                let Some(&addr) = symbols.get(f) else {
                    return self.fail_at_once(
                        handle,
                        format!("no symbol {f} in the setup message"),
                        log,
                    );
                };
                // Simulated JIT'd functions take the call's handle first, so
                // the transcript can name the thread running it; a service
                // gets the argument bytes as they are.
                let mut args = Vec::new();
                if self.sc.jit(f).is_some() {
                    args = sps::to_vec(handle);
                }
                args.extend(arg.encode().unwrap_or_default());
                (addr, args)
            }
            CallTarget::Addr(a) => (*a, arg.encode().unwrap_or_default()),
        };
        let text = format!("call {handle} = {target}({arg})");
        Step::Send(self.message(handle, addr, args, text))
    }

    /// A service step (`reserve`, `write`, ...).
    pub(crate) fn service(&mut self, handle: &str, op: &SvcOp, log: &mut Log) -> Step {
        if let Some(s) = self.not_connected(handle, log) {
            return s;
        }
        let Some(symbols) = &self.symbols else {
            return Step::Wait(Wait::Setup);
        };
        if let Some(r) = op.uses()
            && self
                .calls
                .get(r)
                .is_some_and(|c| c.sent && c.result.is_none())
        {
            return Step::Wait(Wait::Result(r.to_owned()));
        }
        let mut size = None;
        if matches!(op, SvcOp::Reserve(_))
            && !self.reserve_fault_used
            && self
                .sc
                .faults
                .iter()
                .any(|f| f.kind == FaultKind::ReserveFails)
        {
            self.reserve_fault_used = true;
            size = Some(services::IMPOSSIBLE_SIZE);
            log.note(
                "fault",
                format!(
                    "reserve-fails: {handle} asks for 2^62 bytes, more than any process can map"
                ),
            );
        }
        let named = &self.named;
        let enc = services::encode(
            handle,
            op,
            |n| symbols.get(n).copied(),
            |r| literal_addr(r).or_else(|| named.get(r).copied()),
            size,
            self.actions.as_ref(),
        );
        let enc = match enc {
            Ok(e) => e,
            Err(why) => return self.fail_at_once(handle, why, log),
        };
        let Some(&addr) = symbols.get(enc.symbol) else {
            let why = format!("the executor announced no {}", enc.symbol);
            return self.fail_at_once(handle, why, log);
        };
        self.svc.insert(handle.to_owned(), op.clone());
        Step::Send(self.message(handle, addr, enc.args, enc.text))
    }

    /// The controller hangs up: a Hangup (SPS success), then it stops
    /// sending. `None` if it is not connected.
    pub(crate) fn hangup(&mut self, why: &str, log: &mut Log) -> Option<Message> {
        if self.ended.is_some() || self.symbols.is_none() {
            log.note(
                "ctl",
                format!("hangup{why}: the controller is not connected (no-op)"),
            );
            return None;
        }
        self.end("the controller hung up", log);
        Some(Message {
            bytes: frame(Opcode::Hangup, 0, 0, &[0]),
            label: Label::Hangup,
            text: format!("controller hangs up{why}"),
            more_follows: false,
        })
    }

    /// The connection ended: outstanding calls fail at the controller.
    pub(crate) fn end(&mut self, why: &str, log: &mut Log) {
        if self.ended.is_some() {
            return;
        }
        self.ended = Some(why.to_owned());
        for h in self.outstanding() {
            log.note(
                "ctl",
                format!("{h} → error \"disconnected\" (controller side: {why})"),
            );
            self.calls.get_mut(&h).expect("outstanding").result =
                Some(Res::Error(format!("disconnected ({why})")));
        }
        self.by_seq.clear();
    }

    /// Bytes `bytes` of message `no` arrive (`eof`: the end of the stream).
    pub(crate) fn receive(
        &mut self,
        no: u64,
        bytes: &[u8],
        eof: bool,
        log: &mut Log,
    ) -> Vec<Reaction> {
        let mut out = Vec::new();
        if eof {
            if !self.inbox.is_empty() {
                log.note(
                    "ctl",
                    format!(
                        "end of stream inside a message ({} bytes of it) [m{no}]",
                        self.inbox.len()
                    ),
                );
            } else {
                log.event(
                    "ctl",
                    format!("end of stream [m{no}]"),
                    Shape::Recv(no, "ca".into()),
                );
            }
            self.end("the executor closed the connection", log);
            return out;
        }
        self.inbox.extend_from_slice(bytes);
        self.inbox_nos.push(no);
        while let Some(h) = header(&self.inbox) {
            let size = h.payload_len.saturating_add(HEADER_SIZE as u64);
            if (self.inbox.len() as u64) < size {
                break;
            }
            let rest = self.inbox.split_off(size as usize);
            let msg = std::mem::replace(&mut self.inbox, rest);
            let no = *self.inbox_nos.last().unwrap_or(&no);
            self.inbox_nos.clear();
            if !self.inbox.is_empty() {
                self.inbox_nos.push(no);
            }
            self.message_arrived(no, &msg, log, &mut out);
        }
        if self.inbox.len() >= HEADER_SIZE && header(&self.inbox).is_none() {
            let why = format!("malformed message from the executor [m{no}]");
            out.push(Reaction::Fail(why));
            self.inbox.clear();
        }
        out
    }

    fn message_arrived(&mut self, no: u64, msg: &[u8], log: &mut Log, out: &mut Vec<Reaction>) {
        let h = header(msg).expect("checked");
        let payload = &msg[HEADER_SIZE..];
        let recv = Shape::Recv(no, "ca".into());
        if let Some(why) = self.ended.clone() {
            log.event(
                "ctl",
                format!(
                    "ignores {} [m{no}]: connection ended ({why})",
                    opcode_name(h.opcode)
                ),
                recv,
            );
            return;
        }
        match h.opcode {
            Opcode::Setup => match SetupInfo::from_bytes(payload) {
                Ok(setup) => {
                    self.setup_arrived(no, setup, log);
                }
                Err(e) => out.push(Reaction::Fail(format!("undecodable Setup [m{no}]: {e}"))),
            },
            Opcode::Result => self.result_arrived(no, h.seqno, h.tag.value(), payload, log, out),
            Opcode::CallWrapper => {
                self.call_arrived(no, h.seqno, h.tag.value(), payload, log, out);
            }
            Opcode::Hangup => {
                let why = match sps::from_prefix::<Result<(), orc_rt::Error>>(payload) {
                    Ok((Err(e), _)) => format!(": {}", e.message()),
                    _ => String::new(),
                };
                log.event("ctl", format!("executor hung up{why} [m{no}]"), recv);
                self.end("the executor hung up", log);
            }
        }
    }

    fn setup_arrived(&mut self, no: u64, setup: SetupInfo, log: &mut Log) {
        let symbols: BTreeMap<String, u64> = setup
            .bootstrap_symbols
            .into_iter()
            .map(|(n, a)| (n, a.value()))
            .collect();
        // JIT'd functions by name; the services only counted (their names
        // and number depend on the executor's generation).
        let jits: Vec<&str> = symbols
            .keys()
            .map(String::as_str)
            .filter(|n| self.sc.jit(n).is_some())
            .collect();
        let provided: Vec<&str> = symbols
            .keys()
            .map(String::as_str)
            .filter(|n| self.sc.provided_wrappers.iter().any(|p| p == n))
            .collect();
        let services = symbols.len() - jits.len() - provided.len();
        let mut text = format!("setup received [m{no}]");
        if services > 0 {
            text.push_str(&format!(": {services} service symbols"));
        }
        if !jits.is_empty() {
            text.push_str(&format!("; JIT'd functions {}", jits.join(", ")));
        }
        if !provided.is_empty() {
            text.push_str(&format!("; provided {}", provided.join(", ")));
        }
        log.event("ctl", text, Shape::Recv(no, "ca".into()));
        self.symbols = Some(symbols);
    }

    fn result_arrived(
        &mut self,
        no: u64,
        seq: u64,
        kind: u64,
        payload: &[u8],
        log: &mut Log,
        out: &mut Vec<Reaction>,
    ) {
        let recv = Shape::Recv(no, "ca".into());
        let res = match kind {
            0 => Res::Bytes(payload.to_vec()),
            1 => match sps::from_prefix::<String>(payload) {
                Ok((m, _)) => Res::Error(m),
                Err(_) => Res::Error(
                    "Malformed result message: could not deserialize out-of-band error".into(),
                ),
            },
            k => {
                out.push(Reaction::Fail(format!(
                    "Malformed result message: invalid kind {k} [m{no}]"
                )));
                return;
            }
        };
        let Some(handle) = self.by_seq.remove(&seq) else {
            // A copy the transport made, or a runtime bug: the checker
            // tells which from what the executor wrote.
            log.event(
                "ctl",
                format!("result for seq {seq}, which has no call waiting (ignored) [m{no}]"),
                recv,
            );
            return;
        };
        let (res, text) = match self.svc.remove(&handle) {
            Some(op) => {
                let (r, d, addr) = services::decode(&handle, &op, res);
                if let Some(a) = addr {
                    self.named.insert(handle.clone(), a);
                }
                (r, format!("{handle} → {d} [m{no}]"))
            }
            None => {
                let d = res.describe();
                (res, format!("{handle} → {d} [m{no}]"))
            }
        };
        log.event("ctl", text, recv);
        let rec = self.calls.entry(handle.clone()).or_default();
        rec.result = Some(res);
        rec.from_executor = true;
        // A handler waiting for this call-back may reply now.
        let mut ready = Vec::new();
        for (i, p) in self.pending_replies.iter_mut().enumerate() {
            p.waiting_for.retain(|h| *h != handle);
            if p.waiting_for.is_empty() {
                ready.push(i);
            }
        }
        for i in ready.into_iter().rev() {
            let p = self.pending_replies.remove(i);
            if let Some(r) = self.reply_of(p.seq, &p.tag, p.n, &p.args) {
                out.push(r);
            }
        }
    }

    fn call_arrived(
        &mut self,
        no: u64,
        seq: u64,
        tag: u64,
        args: &[u8],
        log: &mut Log,
        out: &mut Vec<Reaction>,
    ) {
        let recv = Shape::Recv(no, "ca".into());
        let name = tag_name(&self.sc, tag);
        let Some(h) = self.sc.handlers.iter().find(|h| h.name == name).cloned() else {
            log.event(
                "ctl",
                format!("call of unknown handler {name} seq {seq} [m{no}]"),
                recv,
            );
            // LLVM's controller answers an unknown tag with an error.
            let bytes = result_frame(seq, &Res::Error(format!("no handler for tag {name}")));
            out.push(Reaction::Send(
                0,
                Message {
                    bytes,
                    label: Label::Other,
                    text: format!("Result seq {seq}: error (no handler)"),
                    more_follows: false,
                },
            ));
            return;
        };
        let n = {
            let c = self.handler_calls.entry(name.clone()).or_insert(0);
            *c += 1;
            *c
        };
        log.event(
            "ctl",
            format!("handler {name} #{n} called (seq {seq}) [m{no}]"),
            recv,
        );
        if !h.calls_back.is_empty() {
            let mut waiting_for = Vec::new();
            for (f, v) in &h.calls_back {
                self.callback_no += 1;
                let handle = format!("{name}#{n}.{f}");
                log.note(
                    "ctl",
                    format!("handler {name} #{n} calls back {f} as {handle}"),
                );
                match self.call(&handle, &CallTarget::Jit(f.clone()), v, log) {
                    Step::Send(m) => {
                        waiting_for.push(handle);
                        out.push(Reaction::Send(0, m));
                    }
                    Step::Wait(_) | Step::Done => {}
                }
            }
            if !waiting_for.is_empty() {
                self.pending_replies.push(PendingReply {
                    seq,
                    tag: name,
                    n,
                    args: args.to_vec(),
                    waiting_for,
                });
                return;
            }
        }
        if let Some(r) = self.reply_of(seq, &name, n, args) {
            out.push(r);
        }
    }

    /// What handler `tag` answers to its call `n` (sequence number `seq`).
    fn reply_of(&mut self, seq: u64, tag: &str, n: u64, args: &[u8]) -> Option<Reaction> {
        let h = self.sc.handlers.iter().find(|h| h.name == tag)?.clone();
        let res = match &h.reply {
            Reply::Value(Value::Error(m)) => Res::Error(m.clone()),
            Reply::Value(v) => Res::Bytes(v.encode().unwrap_or_default()),
            Reply::Echo => Res::Bytes(args.to_vec()),
            Reply::Never => return None,
            Reply::Hangup => return Some(Reaction::Hangup),
            Reply::Close => return Some(Reaction::Close),
            Reply::Provided => match self.provided.get(tag) {
                Some(f) => match f(args) {
                    Ok(bytes) => Res::Bytes(bytes),
                    Err(m) => Res::Error(m),
                },
                None => Res::Error(format!("no provided handler {tag}")),
            },
        };
        Some(Reaction::Send(
            h.after,
            Message {
                bytes: result_frame(seq, &res),
                label: Label::Reply(tag.to_owned(), n),
                text: format!("reply {tag} #{n}: {}", res.describe()),
                more_follows: false,
            },
        ))
    }
}

/// An address written literally in a script (`0x...`) instead of a handle.
fn literal_addr(r: &str) -> Option<u64> {
    r.strip_prefix("0x")
        .and_then(|h| u64::from_str_radix(h, 16).ok())
}
