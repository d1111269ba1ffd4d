//! The executor side of the simulation: the real session, and around it a
//! simulated `ControllerAccess` (the transport's executor end), resource
//! managers that log their callbacks, a queueing dispatcher the scheduler
//! drains, and "JIT'd code": registered Rust functions interpreting a
//! scenario's `jit` bodies, entering the execution scope as real JIT'd code
//! must.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, Once, Weak};

use orc_rt::controller_access::BootstrapInfo;
use orc_rt::dispatcher::{QueueingDispatcher, Task, TaskDispatcher};
use orc_rt::{
    ControllerAccess, ControllerCallReturn, Error, ErrorKind, ExecutionScopeGuard, ExecutorAddr,
    OnComplete, ProcessInfo, ResourceManager, Session, WrapperFunctionBuffer, WrapperReturn,
};

use super::controller::{self, Msg, Res, TO_CTL, hex};
use super::workers::ParkError;
use super::{JIT_BASE, Packet, STRIDE, TAG_BASE, WakeOn, World};
use crate::scenario::{AttachHow, Behaviour, ManagerDecl, OnDisconnect, Op, Outcome, Value};
use crate::transcript::Shape;

/// Injected panics (`panic "..."` in scripts) are expected: keep them out
/// of stderr, and let every other panic through to the previous hook.
pub(crate) fn quiet_injected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let p = info.payload();
            let injected = p
                .downcast_ref::<String>()
                .is_some_and(|s| s.starts_with("[sim] "))
                || p.downcast_ref::<&str>()
                    .is_some_and(|s| s.starts_with("[sim] "));
            if !injected {
                prev(info);
            }
        }));
    });
}

fn injected_panic(msg: &str) -> ! {
    std::panic::panic_any(format!("[sim] {msg}"))
}

/// The controller access's state (obligations of spec 7).
#[derive(Default)]
pub(crate) struct CaSt {
    pub(crate) attached: bool,
    /// Messages are exchanged (between connect and disconnect).
    pub(crate) connected: bool,
    /// `notify_disconnected` was called.
    pub(crate) notified: bool,
    /// Executor-to-controller calls waiting for their reply, by id.
    pending: BTreeMap<u64, Pending>,
    next_id: u64,
    tag_counts: BTreeMap<String, u64>,
    /// Incoming call ids → handles.
    incoming: BTreeMap<u64, String>,
    /// Calls that arrived after the scope closed: they must get no result.
    pub(crate) closed_calls: BTreeSet<String>,
    how: Option<AttachHow>,
    /// Bootstrap symbol names by address, to name call targets.
    names: BTreeMap<u64, String>,
}

struct Pending {
    ret: ControllerCallReturn,
    tag: String,
    n: u64,
}

fn tag_name(w: &World, tag: ExecutorAddr) -> String {
    let v = tag.value();
    if v >= TAG_BASE
        && (v - TAG_BASE).is_multiple_of(STRIDE)
        && let Some(h) = w.sc.handlers.get(((v - TAG_BASE) / STRIDE) as usize)
    {
        return h.name.clone();
    }
    format!("{v:#x}")
}

fn tag_addr(w: &World, name: &str) -> ExecutorAddr {
    let i =
        w.sc.handlers
            .iter()
            .position(|h| h.name == name)
            .expect("validated handler");
    ExecutorAddr::new(TAG_BASE + i as u64 * STRIDE)
}

fn value_buffer(v: &Value) -> WrapperFunctionBuffer {
    match v {
        Value::Error(m) => WrapperFunctionBuffer::out_of_band_error(m),
        v => WrapperFunctionBuffer::copy_from(&v.encode().unwrap_or_default()),
    }
}

/// The simulated controller access.
struct SimCa {
    w: Weak<World>,
}

impl ControllerAccess for SimCa {
    fn connect(&self, bootstrap: BootstrapInfo) {
        let Some(w) = self.w.upgrade() else { return };
        let how = w.lock().ca.how.clone();
        match &how {
            Some(AttachHow::ShutdownInConnect) => {
                w.log("ca", "connect: shutdown requested while connecting");
                w.session().shutdown();
                w.log("ca", "connect: shutdown() returned; connecting goes on");
            }
            Some(AttachHow::DetachInConnect) => {
                w.log("ca", "connect: detach requested while connecting");
                w.session().detach();
                w.log("ca", "connect: detach() returned; connecting goes on");
            }
            _ => {}
        }
        if let Some(AttachHow::Fail(msg)) = how {
            // The controller's side of the failed connection.
            w.lock().ctl.ended = Some(format!("connection failed: {msg}"));
            w.log(
                "ca",
                format!("connect fails: {msg}; notify_disconnected(error) before returning"),
            );
            w.lock().ca.notified = true;
            w.hooks()
                .notify_disconnected(Err(Error::new(ErrorKind::Io, msg)));
            w.log("ca", "connect returns");
            return;
        }
        let symbols: Vec<(String, u64)> = bootstrap
            .symbols
            .iter()
            .map(|(n, a)| (n.to_owned(), a.value()))
            .collect();
        let mut st = w.lock();
        st.ca.connected = true;
        st.ca.names = symbols.iter().map(|(n, a)| (*a, n.clone())).collect();
        controller::send(
            &w,
            &mut st,
            TO_CTL,
            Msg::Setup { symbols },
            "ca",
            "connect: send setup".to_owned(),
        );
    }

    fn disconnect(&self) {
        let Some(w) = self.w.upgrade() else { return };
        let mut st = w.lock();
        if !st.ca.connected {
            st.log(
                "ca",
                "disconnect(): already disconnected (no-op)",
                Shape::Note,
            );
            return;
        }
        st.ca.connected = false;
        controller::send(
            &w,
            &mut st,
            TO_CTL,
            Msg::Hangup,
            "ca",
            "disconnect(): send hangup".to_owned(),
        );
        drop(st);
        // The reader thread finishes the in-flight message, then drains.
        w.after(0, |w| drain_and_notify(w, Ok(())));
    }

    fn call_controller(
        &self,
        tag: ExecutorAddr,
        args: WrapperFunctionBuffer,
        on_complete: ControllerCallReturn,
    ) {
        let Some(w) = self.w.upgrade() else { return };
        let name = tag_name(&w, tag);
        let mut st = w.lock();
        // Checked under the same lock as the drain (obligation 5).
        if !st.ca.connected {
            st.log(
                "ca",
                format!("call of {name} while disconnected: fail_call_inline"),
                Shape::Note,
            );
            drop(st);
            w.hooks().fail_call_inline(on_complete);
            return;
        }
        let id = st.ca.next_id;
        st.ca.next_id += 1;
        let n = {
            let c = st.ca.tag_counts.entry(name.clone()).or_insert(0);
            *c += 1;
            *c
        };
        st.ca.pending.insert(
            id,
            Pending {
                ret: on_complete,
                tag: name.clone(),
                n,
            },
        );
        let msg = Msg::CallTag {
            id,
            tag: name.clone(),
            n,
            args: args.bytes().to_vec(),
        };
        controller::send(
            &w,
            &mut st,
            TO_CTL,
            msg,
            "ca",
            format!("call handler {name} #{n} (id {id})"),
        );
    }

    fn send_wrapper_result(&self, call_id: u64, result: WrapperFunctionBuffer) {
        let Some(w) = self.w.upgrade() else { return };
        let res = Res::from_buffer(&result);
        drop(result);
        let mut st = w.lock();
        let handle = st
            .ca
            .incoming
            .get(&call_id)
            .cloned()
            .unwrap_or_else(|| format!("id {call_id}"));
        if st.ca.closed_calls.contains(&handle) {
            st.violation(format!(
                "{handle} arrived after shutdown began, yet its wrapper ran and sent a result (8.7: such calls are dropped)"
            ));
        }
        if !st.ca.connected {
            st.log(
                "ca",
                format!("result of {handle} dropped: disconnected"),
                Shape::Note,
            );
            return;
        }
        // Sizes only: a service's result may hold real addresses; the
        // controller's line shows the decoded value.
        let text = match &res {
            Res::Bytes(b) => format!("send result of {handle} ({} bytes)", b.len()),
            Res::Error(_) => format!("send result of {handle} (an error)"),
        };
        controller::send(
            &w,
            &mut st,
            TO_CTL,
            Msg::Result {
                id: call_id,
                handle,
                result: res,
            },
            "ca",
            text,
        );
    }
}

/// Fails every pending call, then notifies the session (obligation 5: the
/// whole drain before `notify_disconnected`).
fn drain_and_notify(w: &Arc<World>, result: Result<(), Error>) {
    let pending: Vec<(u64, Pending)> = {
        let mut st = w.lock();
        if st.ca.notified {
            st.violation("the controller access would notify the disconnection twice");
            return;
        }
        st.ca.notified = true;
        std::mem::take(&mut st.ca.pending).into_iter().collect()
    };
    let hooks = w.hooks();
    for (id, p) in pending {
        w.log(
            "ca",
            format!(
                "fail_pending_call: {} #{} (id {id}) → \"disconnected\"",
                p.tag, p.n
            ),
        );
        hooks.fail_pending_call(p.ret);
    }
    let what = match &result {
        Ok(()) => "ok".to_owned(),
        Err(e) => format!("error: {}", e.message()),
    };
    w.log("ca", format!("notify_disconnected({what})"));
    hooks.notify_disconnected(result);
}

/// The reader hit end-of-file: the controller vanished without a hangup.
pub(crate) fn transport_eof(w: &Arc<World>) {
    let mut st = w.lock();
    if !st.ca.connected {
        st.log("ca", "end of file (already disconnected)", Shape::Note);
        return;
    }
    st.ca.connected = false;
    st.log("ca", "end of file without hangup", Shape::Note);
    drop(st);
    w.after(0, |w| {
        drain_and_notify(
            w,
            Err(Error::new(
                ErrorKind::Io,
                "controller transport closed: end of file without hangup",
            )),
        )
    });
}

/// A message arrives at the executor (the controller access's reader).
pub(crate) fn deliver(w: &Arc<World>, p: Packet) {
    let no = p.no;
    let recv = Shape::Recv(no, "ctl".into());
    let mut st = w.lock();
    let faulty = matches!(p.msg, Msg::Call { .. })
        && w.sc
            .faults
            .iter()
            .any(|f| f.kind == crate::scenario::FaultKind::CaDeliversLate);
    if !st.ca.connected && faulty {
        // A broken access (obligation 4 of spec 7): the session must still
        // drop a call that arrives once its scope is closed.
        st.log(
            "fault",
            "ca-delivers-late: the access hands a call to the session after disconnecting",
            Shape::Note,
        );
    } else if !st.ca.connected {
        let what = match &p.msg {
            Msg::Call { handle, .. } => format!("call {handle}"),
            Msg::Reply { tag, n, .. } => format!("reply of {tag} #{n}"),
            Msg::Hangup => "hangup".to_owned(),
            _ => "message".to_owned(),
        };
        st.log("ca", format!("{what} [m{no}] dropped: disconnected"), recv);
        return;
    }
    match p.msg {
        Msg::Call {
            id,
            handle,
            addr,
            args,
        } => {
            drop(st);
            let closed = w.session().scope_source().is_closed();
            let mut st = w.lock();
            st.ca.incoming.insert(id, handle.clone());
            let target = st
                .ca
                .names
                .get(&addr)
                .cloned()
                .unwrap_or_else(|| format!("{addr:#x}"));
            let note = if closed {
                st.ca.closed_calls.insert(handle.clone());
                " (the scope is closed: the session must drop it)"
            } else {
                ""
            };
            st.log(
                "ca",
                format!("call {handle} → handle_wrapper_call({target}, id {id}) [m{no}]{note}"),
                recv,
            );
            drop(st);
            w.hooks().handle_wrapper_call(
                ExecutorAddr::new(addr),
                WrapperFunctionBuffer::copy_from(&args),
                id,
            );
        }
        Msg::Reply { id, tag, n, result } => match st.ca.pending.remove(&id) {
            Some(pending) => {
                st.log(
                    "ca",
                    format!("reply of {tag} #{n} → complete_call [m{no}]"),
                    recv,
                );
                drop(st);
                let buf = match result {
                    Res::Bytes(b) => WrapperFunctionBuffer::copy_from(&b),
                    Res::Error(m) => WrapperFunctionBuffer::out_of_band_error(&m),
                };
                w.hooks().complete_call(pending.ret, buf);
            }
            None => {
                st.log(
                    "ca",
                    format!(
                        "reply with unknown id {id} [m{no}] → report_error(\"Invalid call id\")"
                    ),
                    recv,
                );
                drop(st);
                w.hooks()
                    .report_error(Error::new(ErrorKind::Protocol, "Invalid call id"));
            }
        },
        Msg::Hangup => {
            st.ca.connected = false;
            st.log("ca", format!("the controller hung up [m{no}]"), recv);
            drop(st);
            // The reader thread drains next; until then the session may
            // still call `disconnect` (a no-op now) or `call_controller`
            // (failed inline).
            w.after(0, |w| drain_and_notify(w, Ok(())));
        }
        Msg::Setup { .. } | Msg::Result { .. } | Msg::CallTag { .. } => {
            st.violation("an executor-bound channel carried a controller-bound message");
        }
    }
}

/// A queueing dispatcher that logs, and can hold one guard for all its
/// work (the seed's pattern).
struct SimDispatcher {
    inner: QueueingDispatcher,
    w: Weak<World>,
    guard: Mutex<Option<ExecutionScopeGuard>>,
}

/// Logs a task's start and end, or that it was dropped unrun.
struct TaskTracker {
    w: Weak<World>,
    n: u64,
    started: bool,
}

impl Drop for TaskTracker {
    fn drop(&mut self) {
        if !self.started
            && let Some(w) = self.w.upgrade()
        {
            let mut st = w.lock();
            st.live.queued_tasks -= 1;
            st.log(
                "dispatcher",
                format!("task {} dropped without running", self.n),
                Shape::Note,
            );
        }
    }
}

impl TaskDispatcher for SimDispatcher {
    fn dispatch(&self, task: Task) {
        let Some(w) = self.w.upgrade() else { return };
        let n = {
            let mut st = w.lock();
            st.next_task += 1;
            st.live.queued_tasks += 1;
            let n = st.next_task;
            st.log("dispatcher", format!("task {n} queued"), Shape::Note);
            n
        };
        let mut tracker = TaskTracker {
            w: self.w.clone(),
            n,
            started: false,
        };
        self.inner.dispatch(Box::new(move || {
            tracker.started = true;
            if let Some(w) = tracker.w.upgrade() {
                let mut st = w.lock();
                st.live.queued_tasks -= 1;
                st.log(format!("task {n}"), "start", Shape::Begin);
            }
            task();
            if let Some(w) = tracker.w.upgrade() {
                w.log_shape(format!("task {n}"), "end", Shape::End);
            }
        }));
    }

    fn shutdown(&self) {
        if let Some(w) = self.w.upgrade() {
            let policy = match w.sc.dispatcher.at_shutdown {
                crate::scenario::QueuePolicy::Run => "run them now",
                crate::scenario::QueuePolicy::Keep => "keep them for the scheduler",
                crate::scenario::QueuePolicy::Drop => "drop them",
            };
            w.log(
                "dispatcher",
                format!("shutdown: {} task(s) queued, {policy}", self.inner.len()),
            );
        }
        self.inner.shutdown();
    }
}

impl Drop for SimDispatcher {
    fn drop(&mut self) {
        let guard = self
            .guard
            .get_mut()
            .map(Option::take)
            .unwrap_or_else(|e| e.into_inner().take());
        if let Some(g) = guard {
            if let Some(w) = self.w.upgrade() {
                let mut st = w.lock();
                st.live.dispatcher_guard = false;
                st.log(
                    "dispatcher",
                    "dropped by the session: releases its execution-scope guard",
                    Shape::Note,
                );
            }
            drop(g);
        }
    }
}

/// A simulated resource manager: logs every callback and completes as its
/// declaration says.
struct SimManager {
    w: Weak<World>,
    index: usize,
    decl: ManagerDecl,
}

impl SimManager {
    fn actor(&self) -> String {
        format!("rm {}", self.decl.name)
    }

    fn complete(&self, w: &Arc<World>, what: &'static str, b: &Behaviour, done: OnComplete) {
        let actor = self.actor();
        if b.request_shutdown {
            w.log(&actor, format!("requests shutdown from inside {what}"));
            w.session().shutdown();
            w.log(&actor, "shutdown() returned");
        }
        let outcome = b.outcome.clone();
        match b.after {
            Some(n) if !matches!(outcome, Outcome::Panic(_)) => {
                w.log(&actor, format!("{what} completes in {n} ticks"));
                let idx = self.index;
                w.after(n, move |w| finish_step(w, &actor, idx, what, outcome, done));
            }
            _ => finish_step(w, &actor, self.index, what, outcome, done),
        }
    }
}

fn finish_step(
    w: &Arc<World>,
    actor: &str,
    idx: usize,
    what: &'static str,
    outcome: Outcome,
    done: OnComplete,
) {
    match outcome {
        Outcome::Ok => {
            w.log(actor, format!("{what} done: ok"));
            w.lock().checks.rm_done(idx, what);
            done.ok();
        }
        Outcome::Fail(m) => {
            w.log(actor, format!("{what} done: error {m:?}"));
            w.lock().checks.rm_done(idx, what);
            done.fail(Error::new(ErrorKind::Service, m));
        }
        Outcome::Forget => {
            w.log(
                actor,
                format!("{what} drops its completion without calling it"),
            );
            w.lock().checks.rm_done(idx, what);
            drop(done);
        }
        Outcome::Panic(m) => {
            w.log(actor, format!("{what} panics: {m}"));
            w.lock().checks.rm_done(idx, what);
            drop(done);
            injected_panic(&m);
        }
    }
}

impl ResourceManager for SimManager {
    fn name(&self) -> &str {
        &self.decl.name
    }

    fn detach(&mut self, done: OnComplete, shutdown_requested: bool) {
        let Some(w) = self.w.upgrade() else { return };
        {
            let mut st = w.lock();
            st.log(
                self.actor(),
                format!("detach(shutdown_requested={shutdown_requested})"),
                Shape::Note,
            );
            let i = st.events.len() - 1;
            st.checks.rm_called(self.index, "detach", i);
        }
        let b = self.decl.detach.clone();
        self.complete(&w, "detach", &b, done);
    }

    fn shutdown(&mut self, done: OnComplete) {
        let Some(w) = self.w.upgrade() else { return };
        {
            let mut st = w.lock();
            st.log(self.actor(), "shutdown", Shape::Note);
            let i = st.events.len() - 1;
            st.checks.rm_called(self.index, "shutdown", i);
            st.checks.rm_shutdown_started = true;
            if st.live.total() > 0 {
                let held = st.live.describe();
                st.violation(format!(
                    "rm {}: shutdown called while the execution scope is still retained ({held})",
                    self.decl.name
                ));
            }
        }
        let b = self.decl.shutdown.clone();
        self.complete(&w, "shutdown", &b, done);
    }
}

/// Builds the session: dispatcher, reporter, JIT'd functions, managers,
/// on-disconnect handler and the simulation's own on-shutdown watcher.
pub(crate) fn build_session(w: &Arc<World>) -> Result<Session, Error> {
    let weak = w.me.clone();
    let reporter = move |e: Error| {
        if let Some(w) = weak.upgrade() {
            w.log(
                "session",
                format!("report_error: {}: {}", e.kind(), e.message()),
            );
        }
    };
    let builder = Session::builder()
        .process_info(ProcessInfo::new("x86_64-unknown-linux-gnu", 4096))
        .error_reporter(reporter);
    let make = {
        let w = w.clone();
        move |guard: Option<ExecutionScopeGuard>| {
            if guard.is_some() {
                w.lock().live.dispatcher_guard = true;
            }
            SimDispatcher {
                inner: w.queue.clone(),
                w: w.me.clone(),
                guard: Mutex::new(guard),
            }
        }
    };
    let builder = if w.sc.dispatcher.holding_guard {
        builder.dispatcher_holding_guard(move |g| make(Some(g)))
    } else {
        builder.dispatcher(make(None))
    };
    let session = builder.build()?;
    let _ = w.session.set(session.handle());
    let _ = w.hooks.set(session.hooks());
    if w.sc.services {
        // The real services: their managers are the oldest, so they shut
        // down last, after the simulated ones.
        let installed = orc_executor::services::ExecutorServices::install(&session.handle())?;
        let _ = w.services.set(installed);
    }
    // The watcher is registered first, so it runs last (LIFO): it marks
    // the very end of shutdown.
    let weak = w.me.clone();
    session.add_on_shutdown(move |report| {
        if let Some(w) = weak.upgrade() {
            let mut st = w.lock();
            let mut text = "shut down".to_owned();
            if let Some(e) = &report.disconnect_error {
                text.push_str(&format!("; disconnect error: {}", e.message()));
            }
            if report.errors.is_empty() {
                text.push_str("; report: no errors");
            } else {
                let list: Vec<String> = report
                    .errors
                    .iter()
                    .map(|e| format!("{}: {}", e.kind(), e.message()))
                    .collect();
                text.push_str(&format!("; report: {}", list.join(" | ")));
            }
            st.log("session", text, Shape::Note);
            let i = st.events.len() - 1;
            st.checks.shutdown_done.push(i);
            if let Some((svc, _)) = w.services.get() {
                let n = svc.memory_manager.reservation_count();
                st.log(
                    "memory manager",
                    format!("{n} reservation(s) left after shutdown"),
                    Shape::Note,
                );
                if n != 0 {
                    st.violation("the memory manager still holds reservations after shutdown");
                }
            }
        }
    });
    for (i, j) in w.sc.jits.iter().enumerate() {
        let weak = w.me.clone();
        let addr = ExecutorAddr::new(JIT_BASE + i as u64 * STRIDE);
        session.register_wrapper_at(
            addr,
            move |args: WrapperFunctionBuffer, ret: WrapperReturn| match weak.upgrade() {
                Some(w) => wrapper_entry(&w, i, args, ret),
                None => ret.send(WrapperFunctionBuffer::out_of_band_error("simulation gone")),
            },
        )?;
        let _ = j;
    }
    match &w.sc.on_disconnect {
        OnDisconnect::None => {}
        how => {
            let how = how.clone();
            let weak = w.me.clone();
            session.set_on_disconnect(move |r| {
                let Some(w) = weak.upgrade() else { return };
                let text = match &r {
                    Ok(()) => "on-disconnect(ok)".to_owned(),
                    Err(e) => format!("on-disconnect(error: {})", e.message()),
                };
                {
                    let mut st = w.lock();
                    st.log("session", text, Shape::Note);
                    let i = st.events.len() - 1;
                    st.checks.disconnect_reports.push(i);
                }
                match how {
                    OnDisconnect::Shutdown => {
                        w.log("session", "on-disconnect handler requests shutdown");
                        w.session().shutdown();
                    }
                    OnDisconnect::Panic(m) => injected_panic(&m),
                    _ => {}
                }
            })?;
        }
    }
    for m in &w.sc.managers {
        add_manager(w, m, false);
    }
    Ok(session)
}

/// Registers a manager (at build, or late from the script).
pub(crate) fn add_manager(w: &Arc<World>, m: &ManagerDecl, late: bool) {
    let index = {
        let mut st = w.lock();
        if late {
            st.log(
                "script",
                format!("add manager {} (late)", m.name),
                Shape::Note,
            );
        }
        st.checks.add_manager(&m.name, late)
    };
    w.session().add_resource_manager(SimManager {
        w: w.me.clone(),
        index,
        decl: m.clone(),
    });
}

/// The `attach` step.
pub(crate) fn attach(w: &Arc<World>, how: AttachHow) {
    {
        let mut st = w.lock();
        let text = match &how {
            AttachHow::Normal => "attach".to_owned(),
            AttachHow::Fail(m) => format!("attach (connect will fail: {m})"),
            AttachHow::ShutdownInConnect => {
                "attach (shutdown will be requested inside connect)".to_owned()
            }
            AttachHow::DetachInConnect => {
                "attach (detach will be requested inside connect)".to_owned()
            }
        };
        st.log("script", text, Shape::Note);
        // A second attach must be refused without touching the controller
        // access: keep the first one's settings.
        if !st.ca.attached {
            st.ca.attached = true;
            st.ca.how = Some(how);
        }
    }
    let mut bootstrap = w.services.get().map(|(_, b)| b.clone()).unwrap_or_default();
    let symbols: Vec<(String, ExecutorAddr)> =
        w.sc.jits
            .iter()
            .enumerate()
            .map(|(i, j)| {
                (
                    j.name.clone(),
                    ExecutorAddr::new(JIT_BASE + i as u64 * STRIDE),
                )
            })
            .collect();
    if let Err(e) = bootstrap.symbols.add_unique(symbols) {
        w.failure(format!("bootstrap symbols: {}", e.message()));
    }
    let ca = Arc::new(SimCa { w: w.me.clone() });
    if let Err(e) = w.session().attach(ca, bootstrap) {
        w.log(
            "script",
            format!("attach → error {}: {}", e.kind(), e.message()),
        );
    }
}

/// Registers an on-detach callback.
pub(crate) fn on_detach(w: &Arc<World>, name: &str) {
    let state = w.session().state();
    let reg = {
        let mut st = w.lock();
        st.log("script", format!("add_on_detach({name})"), Shape::Note);
        st.checks
            .add_callback(name, true, state >= orc_rt::SessionState::Detached)
    };
    let weak = w.me.clone();
    let name = name.to_owned();
    w.session().add_on_detach(move || {
        if let Some(w) = weak.upgrade() {
            let mut st = w.lock();
            st.log(format!("cb {name}"), "on-detach", Shape::Note);
            let i = st.events.len() - 1;
            st.checks.callback_ran(reg, i);
        }
    });
}

/// Registers an on-shutdown callback.
pub(crate) fn on_shutdown(w: &Arc<World>, name: &str) {
    let done = w.session().is_shut_down();
    let reg = {
        let mut st = w.lock();
        st.log("script", format!("add_on_shutdown({name})"), Shape::Note);
        st.checks.add_callback(name, false, done)
    };
    let weak = w.me.clone();
    let name = name.to_owned();
    w.session().add_on_shutdown(move |_| {
        if let Some(w) = weak.upgrade() {
            let mut st = w.lock();
            st.log(format!("cb {name}"), "on-shutdown", Shape::Note);
            let i = st.events.len() - 1;
            st.checks.callback_ran(reg, i);
        }
    });
}

/// An execution-scope guard the simulation counts (see `Live`).
pub(crate) struct SimGuard {
    g: Option<ExecutionScopeGuard>,
    w: Weak<World>,
    host: bool,
}

impl SimGuard {
    fn new(w: &Arc<World>, g: ExecutionScopeGuard, host: bool) -> Self {
        {
            let mut st = w.lock();
            if host {
                st.live.host_guards += 1;
            } else {
                st.live.jit_guards += 1;
            }
        }
        SimGuard {
            g: Some(g),
            w: w.me.clone(),
            host,
        }
    }
}

impl Drop for SimGuard {
    fn drop(&mut self) {
        if let Some(g) = self.g.take() {
            if let Some(w) = self.w.upgrade() {
                let mut st = w.lock();
                if self.host {
                    st.live.host_guards -= 1;
                } else {
                    st.live.jit_guards -= 1;
                }
            }
            // Released outside the lock: the last release runs the rest of
            // shutdown on this thread.
            drop(g);
        }
    }
}

fn check_grant(w: &World, actor: &str) {
    let mut st = w.lock();
    if st.checks.denied_seen {
        st.violation(format!(
            "{actor}: a guard was granted after an earlier one was denied"
        ));
    }
    if st.checks.rm_shutdown_started {
        st.violation(format!(
            "{actor}: a guard was granted after managers began shutting down"
        ));
    }
}

/// The `enter G` step: host code (not JIT'd code) takes a guard.
pub(crate) fn host_enter(w: &Arc<World>, name: &str) {
    match w.session().try_enter_scope() {
        Ok(g) => {
            check_grant(w, "host");
            let g = SimGuard::new(w, g, true);
            let mut st = w.lock();
            st.log("host", format!("enter {name}: ok"), Shape::Note);
            st.host_guards.insert(name.to_owned(), g);
        }
        Err(e) => {
            let mut st = w.lock();
            st.checks.denied_seen = true;
            st.log(
                "host",
                format!("enter {name}: denied ({}: {})", e.kind(), e.message()),
                Shape::Note,
            );
        }
    }
}

/// The `leave G` step.
pub(crate) fn host_leave(w: &Arc<World>, name: &str) {
    let g = {
        let mut st = w.lock();
        let g = st.host_guards.remove(name);
        let text = if g.is_some() {
            format!("leave {name} (released on another thread)")
        } else {
            format!("leave {name}: it was not held")
        };
        st.log("host", text, Shape::Note);
        g
    };
    // Guards are Send: release it on another thread, as host code may.
    if let Some(g) = g
        && std::thread::spawn(move || drop(g)).join().is_err()
    {
        w.violation("releasing a guard on another thread panicked");
    }
}

/// Where a JIT body runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Inside a task the session dispatched (holds the task's guard).
    Task,
    /// On a thread of its own (host code calling into JIT'd code).
    Thread,
}

/// Counts a running wrapper body (it sits on a task that holds a guard).
struct BodyToken(Weak<World>);

impl Drop for BodyToken {
    fn drop(&mut self) {
        if let Some(w) = self.0.upgrade() {
            w.lock().live.bodies -= 1;
        }
    }
}

fn wrapper_entry(w: &Arc<World>, func: usize, args: WrapperFunctionBuffer, ret: WrapperReturn) {
    let bytes = args.bytes().to_vec();
    drop(args);
    let (handle, rest) = match orc_rt::sps::from_prefix::<&str>(&bytes) {
        Ok((h, rest)) => (h.to_owned(), rest.to_vec()),
        Err(_) => ("?".to_owned(), bytes.clone()),
    };
    let actor = format!("jit {handle}");
    {
        let mut st = w.lock();
        st.live.bodies += 1;
        st.running.insert(handle.clone());
        let f = &w.sc.jits[func].name;
        let arg = if rest.is_empty() {
            String::new()
        } else {
            hex(&rest)
        };
        st.log(&actor, format!("start {f}({arg})"), Shape::Begin);
    }
    let _token = BodyToken(w.me.clone());
    Body {
        w: w.clone(),
        actor,
        func,
        ret: Some(ret),
        place: Place::Task,
        guards: Vec::new(),
    }
    .run();
}

/// A JIT thread started by `spawn`: host code, no task, no guard of its own.
pub(crate) fn thread_main(w: &Arc<World>, actor: String, func: usize) {
    w.log_shape(
        &actor,
        format!("thread starts running {}", w.sc.jits[func].name),
        Shape::Begin,
    );
    let body = Body {
        w: w.clone(),
        actor: actor.clone(),
        func,
        ret: None,
        place: Place::Thread,
        guards: Vec::new(),
    };
    if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body.run())) {
        let m = super::workers::panic_message(p.as_ref());
        w.log_shape(
            &actor,
            format!("thread died: {}", m.trim_start_matches("[sim] ")),
            Shape::End,
        );
    }
}

/// An interpreter of one `jit` body, on one simulated thread.
struct Body {
    w: Arc<World>,
    actor: String,
    func: usize,
    ret: Option<WrapperReturn>,
    place: Place,
    guards: Vec<SimGuard>,
}

enum Flow {
    Next,
    Stop,
}

impl Body {
    fn log(&self, text: impl Into<String>) {
        self.w.log(&self.actor, text);
    }

    fn run(mut self) {
        let ops = self.w.sc.jits[self.func].ops.clone();
        for (k, op) in ops.iter().enumerate() {
            // Every op is a scheduling point, as on a real preemptive thread.
            if k > 0 {
                match self.w.suspend(&self.actor, WakeOn::Now) {
                    Err(ParkError::Aborted) => {
                        self.log("aborted by the simulation");
                        break;
                    }
                    Ok(()) | Err(ParkError::NotAWorker) => {}
                }
            }
            match self.op(op) {
                Flow::Next => {}
                Flow::Stop => break,
            }
        }
        if let Some(r) = self.ret.take() {
            self.log("return empty (end of body)");
            r.send(WrapperFunctionBuffer::empty());
        }
        while let Some(g) = self.guards.pop() {
            self.log("leave (end of body)");
            drop(g);
        }
        self.w.log_shape(&self.actor, "end", Shape::End);
    }

    fn wait(&mut self, wake: WakeOn) -> Flow {
        match self.w.suspend(&self.actor, wake) {
            Ok(()) => Flow::Next,
            Err(ParkError::Aborted) => {
                self.log("aborted by the simulation");
                Flow::Stop
            }
            Err(ParkError::NotAWorker) => {
                self.log("cannot suspend on this thread (not a simulated thread): carries on");
                Flow::Next
            }
        }
    }

    fn op(&mut self, op: &Op) -> Flow {
        let w = self.w.clone();
        match op {
            Op::Enter => match w.session().try_enter_scope() {
                Ok(g) => {
                    check_grant(&w, &self.actor);
                    self.guards.push(SimGuard::new(&w, g, false));
                    self.log(format!("enter: ok (holds {})", self.guards.len()));
                }
                Err(e) => {
                    w.lock().checks.denied_seen = true;
                    self.log(format!("enter: denied ({}: {})", e.kind(), e.message()));
                    if let Some(r) = self.ret.take() {
                        self.log("returns the error: does not run JIT'd code");
                        r.send_error(&e);
                    }
                    return Flow::Stop;
                }
            },
            Op::Leave => match self.guards.pop() {
                Some(g) => {
                    self.log(format!("leave (holds {})", self.guards.len()));
                    drop(g);
                }
                None => self.log("leave: holds no guard"),
            },
            Op::Clone => match self.guards.last().and_then(|g| g.g.as_ref()).cloned() {
                Some(g) if g.is_held() => {
                    check_grant(&w, &self.actor);
                    self.guards.push(SimGuard::new(&w, g, false));
                    self.log(format!("clone guard: held (holds {})", self.guards.len()));
                }
                Some(_) => {
                    w.lock().checks.denied_seen = true;
                    self.log("clone guard: empty (the scope is closed)");
                }
                None => self.log("clone guard: holds no guard to clone"),
            },
            Op::Work(n) => {
                self.log(format!("work {n} ticks"));
                return self.wait(WakeOn::Ticks(*n));
            }
            Op::Call(tag, v) | Op::CallAsync(tag, v) => {
                let blocking = matches!(op, Op::Call(..));
                let flag = w.new_flag();
                w.lock().checks.ccall_issued(flag);
                self.log(format!("call_controller({tag}, {v})"));
                let actor = self.actor.clone();
                let weak = w.me.clone();
                let tag2 = tag.clone();
                w.session()
                    .call_controller(tag_addr(&w, tag), value_buffer(v), move |res| {
                        let Some(w) = weak.upgrade() else { return };
                        let r = Res::from_buffer(&res);
                        w.log(&actor, format!("{tag2} → {}", r.describe()));
                        w.lock().checks.ccall_completed(flag);
                        w.set_flag(flag);
                    });
                if blocking {
                    return self.wait(WakeOn::Flag(
                        flag,
                        format!("the result of its call to {tag}"),
                    ));
                }
            }
            Op::Return(v) => match self.ret.take() {
                Some(r) => {
                    self.log(format!("return {v}"));
                    r.send(value_buffer(v));
                }
                None => self.log(format!("return {v}: no caller to return to")),
            },
            Op::ReturnLater(n, v) => match self.ret.take() {
                Some(r) => {
                    self.log(format!("will return {v} in {n} ticks (no guard)"));
                    let v = v.clone();
                    let actor = self.actor.clone();
                    w.after(*n, move |w| {
                        w.log(&actor, format!("late return {v}"));
                        r.send(value_buffer(&v));
                    });
                }
                None => self.log("return-later: no caller to return to"),
            },
            Op::Shutdown => {
                self.log("shutdown()");
                w.session().shutdown();
                self.log("shutdown() returned");
            }
            Op::Detach => {
                self.log("detach()");
                w.session().detach();
                self.log("detach() returned");
            }
            Op::WaitShutdown => {
                if self.place == Place::Task {
                    self.log("wait_for_shutdown() inside a dispatched task");
                    match w.session().wait_for_shutdown() {
                        Ok(r) => self.log(format!(
                            "wait_for_shutdown → shut down ({} errors)",
                            r.errors.len()
                        )),
                        Err(e) => self.log(format!(
                            "wait_for_shutdown → error {}: {}",
                            e.kind(),
                            e.message()
                        )),
                    }
                } else {
                    self.log("waits for shutdown to complete");
                    let f = self.wait(WakeOn::Pattern("session: shut down".into()));
                    if matches!(f, Flow::Next) {
                        self.log("sees the session shut down");
                    }
                    return f;
                }
            }
            Op::Wait(p) => {
                self.w
                    .log_shape(&self.actor, format!("waits for {p:?}"), Shape::Quote);
                return self.wait(WakeOn::Pattern(p.clone()));
            }
            Op::Spawn(t, f) => {
                let func =
                    w.sc.jits
                        .iter()
                        .position(|j| &j.name == f)
                        .expect("validated");
                self.log(format!("spawns thread {t} running {f}"));
                w.start_thread(format!("jit {t}"), func);
            }
            Op::Dispatch(f) => {
                let func =
                    w.sc.jits
                        .iter()
                        .position(|j| &j.name == f)
                        .expect("validated");
                let n = {
                    let mut st = w.lock();
                    st.next_thread += 1;
                    st.next_thread
                };
                let actor = format!("jit {f}#{n}");
                self.log(format!("session.dispatch({actor})"));
                let weak = w.me.clone();
                let r = w.session().dispatch(move || {
                    let Some(w) = weak.upgrade() else { return };
                    w.lock().live.bodies += 1;
                    let _token = BodyToken(w.me.clone());
                    w.log_shape(
                        &actor,
                        format!("start {}", w.sc.jits[func].name),
                        Shape::Begin,
                    );
                    Body {
                        w: w.clone(),
                        actor,
                        func,
                        ret: None,
                        place: Place::Task,
                        guards: Vec::new(),
                    }
                    .run();
                });
                if let Err(e) = r {
                    self.log(format!("dispatch refused: {}: {}", e.kind(), e.message()));
                }
            }
            Op::Panic(m) => {
                self.log(format!("panics: {m}"));
                injected_panic(m);
            }
            Op::Keepalive(_) | Op::AddManager(_) => {
                w.failure(format!("{}: {op:?} needs the new engine", self.actor));
            }
        }
        Flow::Next
    }
}
