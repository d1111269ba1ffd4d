//! The simulated controller and the transport between it and the
//! executor: two FIFO channels with a random latency per message, where
//! faults can drop, delay, duplicate or reorder a message, or close the
//! whole transport.
//!
//! The messages mirror SimpleRemoteEPC's opcodes (Setup, Hangup, Result,
//! CallWrapper) so that the same script can drive the wire mode.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Packet, St, Wait, World, selects};
use crate::scenario::{CallTarget, FaultKind, Reply, SvcOp, Value};
use crate::transcript::Shape;

/// Channel of messages to the executor.
pub(crate) const TO_EXEC: usize = 0;
/// Channel of messages to the controller.
pub(crate) const TO_CTL: usize = 1;

pub(crate) use crate::services::{Res, hex};

/// A message on the simulated transport.
#[derive(Debug, Clone)]
pub(crate) enum Msg {
    /// Executor → controller: ready, with the bootstrap symbols.
    Setup { symbols: Vec<(String, u64)> },
    /// Controller → executor: call the wrapper function at `addr`.
    Call {
        id: u64,
        handle: String,
        addr: u64,
        args: Vec<u8>,
    },
    /// Executor → controller: the result of call `id`.
    Result {
        id: u64,
        handle: String,
        result: Res,
    },
    /// Executor → controller: call the handler `tag` (the n-th such call).
    CallTag {
        id: u64,
        tag: String,
        n: u64,
        args: Vec<u8>,
    },
    /// Controller → executor: the handler's answer.
    Reply {
        id: u64,
        tag: String,
        n: u64,
        result: Res,
    },
    /// Either way: an orderly end of the connection.
    Hangup,
}

impl Msg {
    fn describe(&self) -> String {
        match self {
            Msg::Setup { symbols } => format!("setup ({} symbols)", symbols.len()),
            Msg::Call { id, handle, .. } => format!("call {handle} (id {id})"),
            Msg::Result { id, handle, result } => {
                format!("result of {handle} (id {id}): {}", result.describe())
            }
            Msg::CallTag { tag, n, .. } => format!("call of handler {tag} #{n}"),
            Msg::Reply { tag, n, result, .. } => {
                format!("reply of {tag} #{n}: {}", result.describe())
            }
            Msg::Hangup => "hangup".to_owned(),
        }
    }
}

/// One call the controller made.
#[derive(Debug, Default, Clone)]
pub(crate) struct CallRec {
    pub(crate) sent: bool,
    pub(crate) result: Option<Res>,
    /// The result came from the executor (not failed by the controller).
    pub(crate) from_executor: bool,
}

/// The controller's state.
#[derive(Debug, Default)]
pub(crate) struct Ctl {
    /// The setup message arrived.
    pub(crate) setup: bool,
    /// Why the connection ended, once it did.
    pub(crate) ended: Option<String>,
    pub(crate) symbols: BTreeMap<String, u64>,
    next_id: u64,
    pub(crate) calls: BTreeMap<String, CallRec>,
    /// Service calls awaiting their result, to decode it.
    svc: BTreeMap<String, SvcOp>,
    /// Regions reserved, by the handle of their `reserve`.
    regions: BTreeMap<String, u64>,
    /// The `reserve-fails` fault has been used.
    reserve_fault_used: bool,
}

/// A service step (`reserve`, `write`, `read`, `release`): waits for the
/// setup message, and for the result of the `reserve` of its region.
pub(crate) fn service(w: &Arc<World>, handle: &str, op: &SvcOp) -> Option<Wait> {
    let mut st = w.lock();
    if let Some(why) = st.ctl.ended.clone() {
        st.ctl.calls.entry(handle.to_owned()).or_default().result =
            Some(Res::Error(format!("not connected ({why})")));
        st.log(
            "ctl",
            format!("{handle} fails at once: not connected ({why})"),
            Shape::Note,
        );
        return None;
    }
    if !st.ctl.setup {
        return Some(Wait::Setup);
    }
    if let Some(r) = op.uses()
        && st
            .ctl
            .calls
            .get(r)
            .is_some_and(|c| c.sent && c.result.is_none())
    {
        // The result naming its address is still on its way.
        return Some(Wait::Result(r.to_owned()));
    }
    let mut size = None;
    if matches!(op, SvcOp::Reserve(_))
        && !st.ctl.reserve_fault_used
        && w.sc
            .faults
            .iter()
            .any(|f| f.kind == FaultKind::ReserveFails)
    {
        st.ctl.reserve_fault_used = true;
        size = Some(crate::services::IMPOSSIBLE_SIZE);
        st.log(
            "fault",
            format!("reserve-fails: {handle} asks for 2^62 bytes, more than any process can map"),
            Shape::Note,
        );
    }
    let symbols = st.ctl.symbols.clone();
    let regions = st.ctl.regions.clone();
    let enc = match crate::services::encode(
        handle,
        op,
        |n| symbols.get(n).copied(),
        |r| regions.get(r).copied(),
        size,
    ) {
        Ok(e) => e,
        Err(why) => {
            st.log("ctl", format!("{handle} fails at once: {why}"), Shape::Note);
            st.ctl.calls.entry(handle.to_owned()).or_default().result = Some(Res::Error(why));
            return None;
        }
    };
    let Some(&addr) = st.ctl.symbols.get(enc.symbol) else {
        st.ctl.calls.entry(handle.to_owned()).or_default().result =
            Some(Res::Error(format!("no symbol {}", enc.symbol)));
        st.log(
            "ctl",
            format!("{handle}: the executor announced no {}", enc.symbol),
            Shape::Note,
        );
        return None;
    };
    st.ctl.next_id += 1;
    let id = st.ctl.next_id;
    st.ctl.calls.entry(handle.to_owned()).or_default().sent = true;
    st.ctl.svc.insert(handle.to_owned(), op.clone());
    let msg = Msg::Call {
        id,
        handle: handle.to_owned(),
        addr,
        args: enc.args,
    };
    send(
        w,
        &mut st,
        TO_EXEC,
        msg,
        "ctl",
        format!("{} (id {id})", enc.text),
    );
    None
}

/// Puts `msg` on channel `dir` (logged by `actor` as `text`), applying the
/// faults that select it.
pub(crate) fn send(w: &World, st: &mut St, dir: usize, msg: Msg, actor: &str, text: String) {
    st.next_msg += 1;
    let no = st.next_msg;
    let to = if dir == TO_EXEC { "ca" } else { "ctl" };
    if st.net_closed {
        st.log(actor, format!("{text} [m{no}]"), Shape::Send(no, to.into()));
        st.log(
            "net",
            format!("m{no} lost: the transport is closed"),
            Shape::Lost(no, to.into()),
        );
        return;
    }
    let mut delay = 0;
    let mut reorder = false;
    let mut dup = false;
    for f in &w.sc.faults {
        match &f.kind {
            FaultKind::Drop(s) if selects(s, no, &msg) => {
                st.log(actor, format!("{text} [m{no}]"), Shape::Send(no, to.into()));
                st.log(
                    "net",
                    format!("m{no} dropped (fault: drop {s})"),
                    Shape::Lost(no, to.into()),
                );
                return;
            }
            FaultKind::Delay(s, d) if selects(s, no, &msg) => delay += d,
            FaultKind::Reorder(s) if selects(s, no, &msg) => reorder = true,
            FaultKind::Duplicate(s) if selects(s, no, &msg) => dup = true,
            _ => {}
        }
    }
    let (lo, hi) = w.sc.latency;
    let lat = st.rng.range_inclusive(lo, hi) + delay;
    // FIFO: never due before the message ahead of it.
    let due = (st.now + lat).max(st.chan_last_due[dir]);
    st.chan_last_due[dir] = due;
    st.log(actor, format!("{text} [m{no}]"), Shape::Send(no, to.into()));
    if delay > 0 {
        st.log(
            "net",
            format!("m{no} delayed by {delay} ticks (fault)"),
            Shape::Note,
        );
    }
    if reorder {
        st.log(
            "net",
            format!("m{no} may be overtaken by the next message (fault)"),
            Shape::Note,
        );
    }
    let copy = dup.then(|| msg.clone());
    st.chans[dir].push_back(Packet {
        no,
        due,
        msg,
        reorder,
    });
    if let Some(msg) = copy {
        st.next_msg += 1;
        let no2 = st.next_msg;
        st.log(
            "net",
            format!("m{no} duplicated as m{no2} (fault)"),
            Shape::Send(no2, to.into()),
        );
        st.chans[dir].push_back(Packet {
            no: no2,
            due,
            msg,
            reorder: false,
        });
    }
}

/// The `call` step. Returns false if the controller must first wait for
/// the executor's setup message.
pub(crate) fn call(w: &Arc<World>, handle: &str, target: &CallTarget, arg: &Value) -> Option<Wait> {
    let mut st = w.lock();
    if let Some(why) = st.ctl.ended.clone() {
        let rec = st.ctl.calls.entry(handle.to_owned()).or_default();
        rec.result = Some(Res::Error(format!("not connected ({why})")));
        st.log(
            "ctl",
            format!("call {handle} → {target} fails at once: not connected ({why})"),
            Shape::Note,
        );
        return None;
    }
    if !st.ctl.setup {
        return Some(Wait::Setup);
    }
    let (addr, args) = match target {
        CallTarget::Jit(f) => {
            let Some(&addr) = st.ctl.symbols.get(f) else {
                st.ctl.calls.entry(handle.to_owned()).or_default().result =
                    Some(Res::Error(format!("no symbol {f} in the setup message")));
                st.log(
                    "ctl",
                    format!("call {handle}: no symbol {f} in the setup message"),
                    Shape::Note,
                );
                return None;
            };
            // The simulated JIT'd functions take the call's handle first, so
            // that the transcript can name the thread running it; a
            // bootstrap service gets the argument bytes as they are.
            let mut args = Vec::new();
            if w.sc.jit(f).is_some() {
                args = orc_rt::sps::to_vec(handle);
            }
            args.extend(arg.encode().unwrap_or_default());
            (addr, args)
        }
        CallTarget::Addr(a) => (*a, arg.encode().unwrap_or_default()),
    };
    st.ctl.next_id += 1;
    let id = st.ctl.next_id;
    st.ctl.calls.entry(handle.to_owned()).or_default().sent = true;
    let text = format!("call {handle} = {target}({arg}) id {id}");
    send(
        w,
        &mut st,
        TO_EXEC,
        Msg::Call {
            id,
            handle: handle.to_owned(),
            addr,
            args,
        },
        "ctl",
        text,
    );
    None
}

/// A message arrives at the controller.
pub(crate) fn deliver(w: &Arc<World>, p: Packet) {
    let mut st = w.lock();
    let no = p.no;
    let recv = Shape::Recv(no, "ca".into());
    if let Some(why) = st.ctl.ended.clone() {
        st.log(
            "ctl",
            format!(
                "ignores {} [m{no}]: connection ended ({why})",
                p.msg.describe()
            ),
            recv,
        );
        return;
    }
    match p.msg {
        Msg::Setup { symbols } => {
            st.ctl.setup = true;
            // JIT'd functions by name; the services (LLVM's bootstrap
            // names, LLVM 22's and LLVM main's `orc_rt_ci_*`) only counted.
            let is_service = |n: &str| {
                n.starts_with("__llvm_orc")
                    || n.starts_with("llvm_orc")
                    || n.starts_with("orc_rt_ci_")
            };
            let names: Vec<&str> = symbols
                .iter()
                .map(|(n, _)| n.as_str())
                .filter(|n| !is_service(n))
                .collect();
            let services = symbols.len() - names.len();
            let mut text = format!("setup received [m{no}]");
            if services > 0 {
                text.push_str(&format!(": {services} service symbols"));
            }
            if !names.is_empty() {
                text.push_str(&format!("; JIT'd functions {}", names.join(", ")));
            }
            st.log("ctl", text, recv);
            st.ctl.symbols = symbols.into_iter().collect();
        }
        Msg::Result { handle, result, .. } => {
            let (result, text) = match st.ctl.svc.remove(&handle) {
                Some(op) => {
                    let (r, d, base) = crate::services::decode(&handle, &op, result);
                    if let Some(base) = base {
                        st.ctl.regions.insert(handle.clone(), base);
                    }
                    (r, format!("{handle} → {d} [m{no}]"))
                }
                None => {
                    let d = result.describe();
                    (result, format!("{handle} → {d} [m{no}]"))
                }
            };
            st.log("ctl", text, recv);
            let rec = st.ctl.calls.entry(handle.clone()).or_default();
            if rec.result.is_some() {
                st.violation(format!("call {handle} got a second result"));
            } else {
                rec.result = Some(result);
                rec.from_executor = true;
            }
        }
        Msg::CallTag { id, tag, n, args } => {
            let Some(h) = w.sc.handlers.iter().find(|h| h.name == tag).cloned() else {
                st.log(
                    "ctl",
                    format!("call of unknown handler {tag} [m{no}]"),
                    recv,
                );
                return;
            };
            st.log(
                "ctl",
                format!("handler {tag} #{n} called (id {id}) [m{no}]"),
                recv,
            );
            let result = match &h.reply {
                Reply::Value(v) => Some(match v {
                    Value::Error(m) => Res::Error(m.clone()),
                    v => Res::Bytes(v.encode().unwrap_or_default()),
                }),
                Reply::Echo => Some(Res::Bytes(args)),
                Reply::Never => {
                    st.log(
                        "ctl",
                        format!("handler {tag} #{n} never answers"),
                        Shape::Note,
                    );
                    None
                }
                Reply::Hangup => {
                    drop(st);
                    hangup(w, &format!(" (handler {tag})"));
                    return;
                }
                Reply::Close => {
                    drop(st);
                    close(w, &format!(" (handler {tag})"));
                    return;
                }
            };
            if let Some(result) = result {
                let reply = Msg::Reply {
                    id,
                    tag: tag.clone(),
                    n,
                    result: result.clone(),
                };
                let text = format!("reply {tag} #{n}: {}", result.describe());
                if h.after == 0 {
                    send(w, &mut st, TO_EXEC, reply, "ctl", text);
                } else {
                    st.log(
                        "ctl",
                        format!("handler {tag} #{n} answers in {} ticks", h.after),
                        Shape::Note,
                    );
                    drop(st);
                    w.after(h.after, move |w| {
                        let mut st = w.lock();
                        if st.ctl.ended.is_some() {
                            st.log(
                                "ctl",
                                format!("handler {tag} #{n} does not answer: connection ended"),
                                Shape::Note,
                            );
                            return;
                        }
                        send(w, &mut st, TO_EXEC, reply, "ctl", text);
                    });
                }
            }
        }
        Msg::Hangup => {
            st.log("ctl", format!("executor hung up [m{no}]"), recv);
            end(&mut st, "the executor hung up");
        }
        Msg::Call { .. } | Msg::Reply { .. } => {
            st.violation("a controller-bound channel carried an executor-bound message");
        }
    }
}

/// The controller's connection ended: its outstanding calls fail.
fn end(st: &mut St, why: &str) {
    st.ctl.ended = Some(why.to_owned());
    let open: Vec<String> = st
        .ctl
        .calls
        .iter()
        .filter(|(_, c)| c.sent && c.result.is_none())
        .map(|(h, _)| h.clone())
        .collect();
    for h in open {
        st.log(
            "ctl",
            format!("{h} → error \"disconnected\" (controller side: {why})"),
            Shape::Note,
        );
        st.ctl.calls.get_mut(&h).expect("open call").result =
            Some(Res::Error(format!("disconnected ({why})")));
    }
}

/// The controller hangs up (orderly).
pub(crate) fn hangup(w: &Arc<World>, why: &str) {
    let actor = "ctl";
    let mut st = w.lock();
    if st.ctl.ended.is_some() || !st.ctl.setup {
        st.log(
            actor,
            format!("hangup{why}: the controller is not connected (no-op)"),
            Shape::Note,
        );
        return;
    }
    send(
        w,
        &mut st,
        TO_EXEC,
        Msg::Hangup,
        actor,
        format!("controller hangs up{why}"),
    );
    end(&mut st, "the controller hung up");
}

/// The transport closes under both sides: the controller disappears.
pub(crate) fn close(w: &Arc<World>, why: &str) {
    let actor = "ctl";
    let mut st = w.lock();
    if st.net_closed {
        st.log(actor, format!("close{why}: already closed"), Shape::Note);
        return;
    }
    st.log(
        actor,
        format!("transport closed: the controller disappears{why}"),
        Shape::Note,
    );
    st.net_closed = true;
    for dir in 0..2 {
        let lost: Vec<Packet> = st.chans[dir].drain(..).collect();
        for p in lost {
            let to = if dir == TO_EXEC { "ca" } else { "ctl" };
            st.log(
                "net",
                format!(
                    "m{} lost: the transport closed ({})",
                    p.no,
                    p.msg.describe()
                ),
                Shape::Lost(p.no, to.into()),
            );
        }
    }
    if st.ctl.ended.is_none() {
        end(&mut st, "the transport closed");
    }
    let (lo, hi) = w.sc.latency;
    let lat = st.rng.range_inclusive(lo, hi);
    drop(st);
    // The executor notices when its reader hits end-of-file.
    w.after(lat, super::executor::transport_eof);
}
