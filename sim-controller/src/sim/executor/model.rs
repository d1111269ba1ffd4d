//! A model of the controller access (the obligations of spec 7) inside the
//! simulation, speaking whole messages through the simulated pipe. For
//! scenarios about the session core alone: connecting that fails or that
//! asks for detach or shutdown from inside `connect` (spec 8.3), and an
//! access that breaks obligation 4 on purpose (`fault ca-delivers-late`).
//! It is checked by the same checker as the real access.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use orc_executor::wire::{HEADER_SIZE, Opcode, SetupInfo};
use orc_rt::controller_access::BootstrapInfo;
use orc_rt::{
    ControllerAccess, ControllerCallReturn, Error, ErrorKind, ExecutorAddr, SessionHandle,
    WrapperFunctionBuffer,
};

use super::super::World;
use super::super::addresses::tag_name;
use super::super::pipe::{Label, Message, Packet, header};
use super::super::pipe::{frame, result_frame};
use crate::scenario::{AttachHow, FaultKind};
use crate::services::Res;
use crate::transcript::Shape;

/// The model's state.
#[derive(Default)]
struct State {
    how: Option<AttachHow>,
    /// Messages are exchanged (between connect and disconnect).
    connected: bool,
    /// `notify_disconnected` was called.
    notified: bool,
    /// Executor-to-controller calls waiting for their reply, by seq.
    pending: BTreeMap<u64, (ControllerCallReturn, String)>,
    next_seq: u64,
    /// Incoming calls' handles by seq.
    incoming: BTreeMap<u64, String>,
    /// Bytes arrived and not yet a whole message.
    inbox: Vec<u8>,
    /// Bootstrap symbol names by address, to name call targets.
    names: BTreeMap<u64, String>,
}

/// See the module docs.
pub(crate) struct ModelAccess {
    w: Weak<World>,
    st: Mutex<State>,
}

impl ModelAccess {
    fn st(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Attaches the model access.
pub(crate) fn attach(
    w: &Arc<World>,
    session: &SessionHandle,
    bootstrap: BootstrapInfo,
    how: AttachHow,
) -> Result<(), Error> {
    let model = Arc::new(ModelAccess {
        w: w.me.clone(),
        st: Mutex::new(State {
            how: Some(how),
            ..State::default()
        }),
    });
    let _ = w.model.set(model.clone());
    session.attach(model, bootstrap)
}

impl ControllerAccess for ModelAccess {
    fn connect(&self, bootstrap: BootstrapInfo) {
        let Some(w) = self.w.upgrade() else { return };
        let how = self.st().how.clone();
        match &how {
            Some(AttachHow::ShutdownInConnect) => {
                w.note("ca", "connect: shutdown requested while connecting");
                w.session().shutdown();
                w.note("ca", "connect: shutdown() returned; connecting goes on");
            }
            Some(AttachHow::DetachInConnect) => {
                w.note("ca", "connect: detach requested while connecting");
                w.session().detach();
                w.note("ca", "connect: detach() returned; connecting goes on");
            }
            _ => {}
        }
        if let Some(AttachHow::Fail(msg)) = how {
            // The controller's side of the failed connection.
            w.controller_connection_failed(&msg);
            w.note(
                "ca",
                format!("connect fails: {msg}; notify_disconnected(error) before returning"),
            );
            self.st().notified = true;
            w.hooks()
                .notify_disconnected(Err(Error::new(ErrorKind::Io, msg)));
            w.note("ca", "connect returns");
            return;
        }
        let mut setup = SetupInfo {
            target_triple: w.session().process_info().target_triple.clone(),
            page_size: 4096,
            ..SetupInfo::default()
        };
        for (name, addr) in bootstrap.symbols.iter() {
            setup.bootstrap_symbols.insert(name.to_owned(), addr);
        }
        {
            let mut st = self.st();
            st.connected = true;
            st.names = bootstrap
                .symbols
                .iter()
                .map(|(n, a)| (a.value(), n.to_owned()))
                .collect();
        }
        w.executor_send_message(
            "ca",
            Message {
                bytes: frame(Opcode::Setup, 0, 0, &setup.to_bytes()),
                label: Label::Setup,
                text: "connect: send Setup".into(),
                more_follows: false,
            },
        );
    }

    fn disconnect(&self) {
        let Some(w) = self.w.upgrade() else { return };
        {
            let mut st = self.st();
            if !st.connected {
                drop(st);
                w.note("ca", "disconnect(): already disconnected (no-op)");
                return;
            }
            st.connected = false;
        }
        w.executor_send_message(
            "ca",
            Message {
                bytes: frame(Opcode::Hangup, 0, 0, &[0]),
                label: Label::Hangup,
                text: "disconnect(): send Hangup".into(),
                more_follows: false,
            },
        );
        // The reader finishes the message in hand, then drains.
        let me = self.w.clone();
        w.after(0, move |w| {
            if let Some(m) = w.model.get() {
                m.drain_and_notify(w, Ok(()));
            }
            drop(me);
        });
    }

    fn call_controller(
        &self,
        tag: ExecutorAddr,
        args: WrapperFunctionBuffer,
        on_complete: ControllerCallReturn,
    ) {
        let Some(w) = self.w.upgrade() else { return };
        let name = tag_name(&w.sc, tag.value());
        let mut st = self.st();
        // Checked under the same lock as the drain (obligation 5).
        if !st.connected {
            drop(st);
            w.note(
                "ca",
                format!("call of {name} while disconnected: fail_call_inline"),
            );
            w.hooks().fail_call_inline(on_complete);
            return;
        }
        st.next_seq += 1;
        let seq = st.next_seq;
        st.pending.insert(seq, (on_complete, name.clone()));
        drop(st);
        let n = w.parts().pipe.count_ccall(&name);
        w.executor_send_message(
            "ca",
            Message {
                bytes: frame(Opcode::CallWrapper, seq, tag.value(), args.bytes()),
                label: Label::CallTag(name.clone(), n),
                text: format!("call handler {name} #{n} seq {seq}"),
                more_follows: false,
            },
        );
    }

    fn send_wrapper_result(&self, call_id: u64, result: WrapperFunctionBuffer) {
        let Some(w) = self.w.upgrade() else { return };
        let res = Res::from_buffer(&result);
        drop(result);
        let (connected, handle) = {
            let st = self.st();
            (
                st.connected,
                st.incoming
                    .get(&call_id)
                    .cloned()
                    .unwrap_or_else(|| format!("seq {call_id}")),
            )
        };
        if !connected {
            w.note("ca", format!("result of {handle} dropped: disconnected"));
            return;
        }
        let text = match &res {
            Res::Bytes(b) => format!("send Result of {handle} ({} bytes)", b.len()),
            Res::Error(_) => format!("send Result of {handle} (an error)"),
        };
        w.executor_send_message(
            "ca",
            Message {
                bytes: result_frame(call_id, &res),
                label: Label::Result(handle),
                text,
                more_follows: false,
            },
        );
    }
}

impl ModelAccess {
    /// Fails every pending call, then notifies the session (obligation 5:
    /// the whole drain before `notify_disconnected`).
    fn drain_and_notify(&self, w: &Arc<World>, result: Result<(), Error>) {
        let pending = {
            let mut st = self.st();
            if st.notified {
                drop(st);
                w.violation("the controller access would notify the disconnection twice");
                return;
            }
            st.notified = true;
            std::mem::take(&mut st.pending)
        };
        let hooks = w.hooks();
        for (seq, (ret, tag)) in pending {
            w.note(
                "ca",
                format!("fail_pending_call: {tag} (seq {seq}) → \"disconnected\""),
            );
            hooks.fail_pending_call(ret);
        }
        let what = match &result {
            Ok(()) => "ok".to_owned(),
            Err(e) => format!("error: {}", e.message()),
        };
        w.note("ca", format!("notify_disconnected({what})"));
        hooks.notify_disconnected(result);
    }

    /// A packet arrives at the executor's end.
    pub(crate) fn receive(&self, w: &Arc<World>, p: Packet) {
        let no = p.no;
        if p.eof {
            let was = std::mem::replace(&mut self.st().connected, false);
            if !was {
                w.note("ca", "end of stream (already disconnected)");
                return;
            }
            w.note("ca", "end of stream without hangup");
            let me = self.w.clone();
            w.after(0, move |w| {
                if let Some(m) = w.model.get() {
                    m.drain_and_notify(
                        w,
                        Err(Error::new(
                            ErrorKind::Io,
                            "controller transport closed: end of file without hangup",
                        )),
                    );
                }
                drop(me);
            });
            return;
        }
        let msgs = {
            let mut st = self.st();
            st.inbox.extend_from_slice(&p.bytes);
            let mut out = Vec::new();
            while let Some(h) = header(&st.inbox) {
                let size = (h.payload_len as usize).saturating_add(HEADER_SIZE);
                if st.inbox.len() < size {
                    break;
                }
                let rest = st.inbox.split_off(size);
                out.push((h, std::mem::replace(&mut st.inbox, rest)));
            }
            out
        };
        for (h, bytes) in msgs {
            self.message(w, no, &p.label, h, &bytes[HEADER_SIZE..]);
        }
    }

    fn message(
        &self,
        w: &Arc<World>,
        no: u64,
        label: &Label,
        h: orc_executor::wire::Header,
        payload: &[u8],
    ) {
        let recv = Shape::Recv(no, "ctl".into());
        let faulty = h.opcode == Opcode::CallWrapper
            && w.sc
                .faults
                .iter()
                .any(|f| f.kind == FaultKind::CaDeliversLate);
        let connected = self.st().connected;
        if !connected && faulty {
            // A broken access (obligation 4 of spec 7): the session must
            // still drop a call that arrives once its scope is closed.
            w.note(
                "fault",
                "ca-delivers-late: the access hands a call to the session after disconnecting",
            );
        } else if !connected {
            w.parts()
                .log
                .event("ca", format!("message [m{no}] dropped: disconnected"), recv);
            return;
        }
        match h.opcode {
            Opcode::CallWrapper => {
                let handle = match label {
                    Label::Call(h) => h.clone(),
                    _ => format!("seq {}", h.seqno),
                };
                let target = {
                    let mut st = self.st();
                    st.incoming.insert(h.seqno, handle.clone());
                    st.names
                        .get(&h.tag.value())
                        .cloned()
                        .unwrap_or_else(|| format!("{:#x}", h.tag.value()))
                };
                let closed = w.session().scope_source().is_closed();
                w.parts().checks.call_read(h.seqno, &handle, closed);
                let note = if closed {
                    " (the scope is closed: the session must drop it)"
                } else {
                    ""
                };
                w.parts().log.event(
                    "ca",
                    format!(
                        "call {handle} → handle_wrapper_call({target}, seq {}) [m{no}]{note}",
                        h.seqno
                    ),
                    recv,
                );
                w.hooks().handle_wrapper_call(
                    h.tag,
                    WrapperFunctionBuffer::copy_from(payload),
                    h.seqno,
                );
            }
            Opcode::Result => {
                let pending = self.st().pending.remove(&h.seqno);
                match pending {
                    Some((ret, tag)) => {
                        w.parts().log.event(
                            "ca",
                            format!("reply of {tag} → complete_call [m{no}]"),
                            recv,
                        );
                        let buf = match h.tag.value() {
                            1 => WrapperFunctionBuffer::out_of_band_error(
                                &orc_rt::sps::from_prefix::<String>(payload)
                                    .map(|(m, _)| m)
                                    .unwrap_or_default(),
                            ),
                            _ => WrapperFunctionBuffer::copy_from(payload),
                        };
                        w.hooks().complete_call(ret, buf);
                    }
                    None => {
                        w.parts().log.event(
                            "ca",
                            format!(
                                "result with unknown seq {} [m{no}] → report_error(\"Invalid call id\")",
                                h.seqno
                            ),
                            recv,
                        );
                        w.hooks()
                            .report_error(Error::new(ErrorKind::Protocol, "Invalid call id"));
                    }
                }
            }
            Opcode::Hangup => {
                self.st().connected = false;
                w.parts()
                    .log
                    .event("ca", format!("the controller hung up [m{no}]"), recv);
                // The reader drains next; until then the session may still
                // call `disconnect` (a no-op now) or `call_controller`
                // (failed inline).
                w.after(0, |w| {
                    if let Some(m) = w.model.get() {
                        m.drain_and_notify(w, Ok(()));
                    }
                });
            }
            Opcode::Setup => {
                w.violation("the controller sent a Setup message");
            }
        }
    }
}
