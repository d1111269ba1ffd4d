//! The `session_ops` oracle: random operations against a session, the
//! invariants checked after each step. The operations: controller calls (both
//! directions, answered now, later or never), execution-scope guards,
//! resource managers that succeed, fail, panic, complete late or never,
//! detach and shutdown callbacks, hangups, detach and shutdown, against a
//! [`Session`] with an [`InProcessControllerAccess`] and a
//! [`QueueingDispatcher`] the oracle drains itself: everything runs on one
//! thread, so every run is deterministic and every interleaving the input
//! picks is reproducible.
//!
//! After every step the event log is checked against the session's
//! invariants (spec 7 and 8, `session/mod.rs`):
//! - exactly once, at most once at every step: each manager's `detach` and
//!   `shutdown` (and their completions), each on-detach and on-shutdown
//!   callback, the disconnect report, each result of a controller call to
//!   the executor, each completion of an executor call to the controller,
//!   each dispatched task;
//! - order: the disconnect report before any `detach`; managers detached
//!   newest first, each after the previous one completed; on-detach
//!   callbacks after every detach, newest first; `shutdown` only after the
//!   manager's own detach completed, managers shut down newest first, each
//!   after the previous one completed; on-shutdown callbacks after every
//!   shutdown, newest first;
//! - no result reaches the controller, and no call reaches it, after the
//!   disconnect report;
//! - the execution scope admits a guard exactly while it is open, never
//!   again once closed, and never closes before shutdown was requested;
//!   no manager is shut down while a guard or a queued task is alive;
//! - the lifecycle state only moves forward.
//!
//! At the end the oracle requests shutdown, releases every guard, completes
//! everything it deferred and drains the queue until nothing moves: then
//! the session must be shut down, every step must have happened exactly
//! once (at most once for work a `Drop` dispatcher discards), and the
//! shutdown report and the error reporter must hold exactly the failures
//! and panics the input injected.

use std::sync::{Arc, Mutex, MutexGuard};

use arbitrary::Arbitrary;

use orc_rt::addr::ExecutorAddr;
use orc_rt::controller_access::{BootstrapInfo, ControllerReply, InProcessControllerAccess};
use orc_rt::dispatcher::{QueuedAtShutdown, QueueingDispatcher};
use orc_rt::error::{Error, ErrorKind};
use orc_rt::execution_scope::{ExecutionScopeGuard, ExecutionScopeSource};
use orc_rt::resource_manager::{OnComplete, ResourceManager};
use orc_rt::session::{Session, SessionHandle, SessionState};
use orc_rt::wrapper::{WrapperFunctionBuffer, WrapperReturn};

/// Operations beyond this many are ignored.
const MAX_OPS: usize = 200;

/// One fuzz input.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub struct SessionOpsInput {
    /// What the dispatcher does with queued tasks at shutdown (modulo 3):
    /// run them, keep them for the oracle, drop them.
    pub policy: u8,
    /// Attach an in-process controller (else the session never attaches).
    pub attach: bool,
    /// The steps.
    pub ops: Vec<SessionOp>,
}

/// One step.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub enum SessionOp {
    /// The controller calls the executor's wrapper; `behavior` (modulo 7):
    /// answer now, defer the answer, drop the return, panic, call the
    /// controller first, request shutdown first, request detach first.
    CallExecutor {
        /// What the wrapper does.
        behavior: u8,
    },
    /// The executor calls the controller; `behavior` (modulo 3): answer
    /// now, defer the answer, drop the reply.
    CallController {
        /// What the controller does.
        behavior: u8,
    },
    /// Runs the queued task at this index (modulo the queue length).
    RunTask(u8),
    /// Runs the newest queued task.
    RunNewest,
    /// Runs queued tasks until the queue is empty.
    RunAll,
    /// Sends (or drops) a deferred controller reply.
    ReplyController {
        /// Which one (modulo).
        index: u8,
        /// Drop it instead.
        drop: bool,
    },
    /// Sends (or drops) a deferred executor return.
    ReturnExecutor {
        /// Which one (modulo).
        index: u8,
        /// Drop it instead.
        drop: bool,
    },
    /// Enters the execution scope and keeps the guard.
    Enter,
    /// Releases a kept guard (modulo).
    Leave(u8),
    /// Runs a closure under `call_with_keepalive`.
    Keepalive,
    /// Adds a resource manager; faults (modulo 5): succeed, fail, panic,
    /// complete later, drop the completion.
    AddManager {
        /// Its detach.
        detach: u8,
        /// Its shutdown.
        shutdown: u8,
    },
    /// Completes (or drops) a deferred manager completion.
    CompleteManager {
        /// Which one (modulo).
        index: u8,
        /// Complete with an error.
        fail: bool,
        /// Drop it instead.
        drop: bool,
    },
    /// `session.dispatch(task)`.
    Dispatch,
    /// Adds an on-detach callback.
    AddOnDetach {
        /// It panics.
        panic: bool,
    },
    /// Adds an on-shutdown callback.
    AddOnShutdown {
        /// It panics.
        panic: bool,
    },
    /// `session.detach()`.
    Detach,
    /// The controller hangs up, orderly or with an error.
    Hangup {
        /// With an error.
        error: bool,
    },
    /// `session.shutdown()`.
    Shutdown,
}

/// Decodes `data` as the fuzz target does.
pub fn session_ops_input(data: &[u8]) -> Option<SessionOpsInput> {
    crate::fuzz_target_input(data)
}

/// Runs the raw input `data` (corpus replay).
pub fn session_ops_bytes(data: &[u8]) {
    if let Some(input) = session_ops_input(data) {
        session_ops(&input);
    }
}

// ---- the event log ---------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Event {
    Disconnect {
        ok: bool,
    },
    Detach(usize),
    DetachDone(usize),
    Shutdown(usize),
    ShutdownDone(usize),
    OnDetach(usize),
    OnShutdown(usize),
    /// The controller got the result of its call k.
    ExecResult(usize),
    /// The controller's handler was called for executor call k.
    ControllerHandled(usize),
    /// The executor's call k completed.
    CtrlComplete(usize),
    TaskRan(usize),
    ShutdownRequested,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Ok,
    Fail,
    Panic,
    Defer,
    Drop,
}

impl Fault {
    fn from(b: u8) -> Fault {
        [
            Fault::Ok,
            Fault::Fail,
            Fault::Panic,
            Fault::Defer,
            Fault::Drop,
        ][b as usize % 5]
    }
}

struct Deferred {
    manager: usize,
    shutdown: bool,
    done: OnComplete,
}

/// Everything the callbacks record and the oracle keeps.
#[derive(Default)]
struct World {
    events: Vec<Event>,
    violations: Vec<String>,
    reported: Vec<Error>,
    guards: Vec<ExecutionScopeGuard>,
    deferred_managers: Vec<Deferred>,
    deferred_replies: Vec<ControllerReply>,
    deferred_returns: Vec<WrapperReturn>,
    /// Executor → controller calls started (ids).
    ctrl_calls: usize,
    /// Errors the shutdown report must hold.
    expected_report: usize,
    /// Errors the reporter must have seen.
    expected_reported: usize,
    queue_len_at_shutdown: Vec<usize>,
}

type Shared = Arc<Mutex<World>>;

fn world(w: &Shared) -> MutexGuard<'_, World> {
    w.lock().unwrap_or_else(|p| p.into_inner())
}

fn record(w: &Shared, e: Event) {
    world(w).events.push(e);
}

/// Takes the newest entry of one of the world's lists, the lock released
/// before the caller acts on it (which may re-enter the session).
fn pop_newest<T>(w: &Shared, list: impl FnOnce(&mut World) -> &mut Vec<T>) -> Option<T> {
    list(&mut world(w)).pop()
}

/// Takes entry `index` (modulo the length) of one of the world's lists, the
/// lock released before the caller acts on it.
fn take_nth<T>(w: &Shared, index: u8, list: impl FnOnce(&mut World) -> &mut Vec<T>) -> Option<T> {
    let mut world = world(w);
    let list = list(&mut world);
    let n = list.len();
    (n > 0).then(|| list.remove(index as usize % n))
}

// ---- the session's parts ------------------------------------------------------

struct TestManager {
    id: usize,
    detach: Fault,
    shutdown: Fault,
    world: Shared,
    source: ExecutionScopeSource,
    queue: QueueingDispatcher,
}

impl TestManager {
    fn act(&self, fault: Fault, done: OnComplete, shutdown: bool) {
        let finished = if shutdown {
            Event::ShutdownDone(self.id)
        } else {
            Event::DetachDone(self.id)
        };
        match fault {
            Fault::Ok => {
                record(&self.world, finished);
                done.ok();
            }
            Fault::Fail => {
                record(&self.world, finished);
                done.fail(Error::new(ErrorKind::Service, "injected failure"));
            }
            Fault::Panic => {
                record(&self.world, finished);
                super::inject_panic();
            }
            Fault::Defer => world(&self.world).deferred_managers.push(Deferred {
                manager: self.id,
                shutdown,
                done,
            }),
            Fault::Drop => {
                record(&self.world, finished);
                drop(done);
            }
        }
    }
}

impl ResourceManager for TestManager {
    fn name(&self) -> &str {
        "session_ops manager"
    }

    fn detach(&mut self, done: OnComplete, _shutdown_requested: bool) {
        record(&self.world, Event::Detach(self.id));
        self.act(self.detach, done, false);
    }

    fn shutdown(&mut self, done: OnComplete) {
        {
            let mut w = world(&self.world);
            w.events.push(Event::Shutdown(self.id));
            let held = w.guards.len();
            if held != 0 {
                w.violations.push(format!(
                    "manager {} shut down while {held} guards are held",
                    self.id
                ));
            }
            if self.source.try_enter().is_ok() || !self.source.is_closed() {
                w.violations
                    .push(format!("manager {} shut down with the scope open", self.id));
            }
            let queued = self.queue.len();
            w.queue_len_at_shutdown.push(queued);
        }
        self.act(self.shutdown, done, true);
    }
}

/// Wrapper behaviours (`CallExecutor`).
const ANSWER: u8 = 0;
const DEFER: u8 = 1;
const DROP_RETURN: u8 = 2;
const PANIC: u8 = 3;
const CALL_CONTROLLER: u8 = 4;
const SHUTDOWN_INSIDE: u8 = 5;
const DETACH_INSIDE: u8 = 6;

/// Starts executor → controller call number `k` with controller behaviour
/// `behavior`; its completion is recorded.
fn call_controller(session: &SessionHandle, w: &Shared, behavior: u8) {
    let k = {
        let mut w = world(w);
        w.ctrl_calls += 1;
        w.ctrl_calls - 1
    };
    let rec = w.clone();
    session.call_controller(
        ExecutorAddr::new(0x7000 + k as u64),
        WrapperFunctionBuffer::copy_from(&[behavior % 3, k as u8]),
        move |_result| record(&rec, Event::CtrlComplete(k)),
    );
}

// ---- the oracle ------------------------------------------------------------------

/// Runs one input and checks the invariants (module docs).
pub fn session_ops(input: &SessionOpsInput) {
    // Single-threaded and short: anything near this is a hang.
    let _watchdog = super::Watchdog::start("session_ops", std::time::Duration::from_secs(60));
    super::allow_injected_panics();
    let policy = [
        QueuedAtShutdown::Run,
        QueuedAtShutdown::Keep,
        QueuedAtShutdown::Drop,
    ][input.policy as usize % 3];
    let queue = QueueingDispatcher::with_policy(policy);
    let w: Shared = Arc::default();
    let rep = w.clone();
    let session = Session::builder()
        .shared_dispatcher(Arc::new(queue.clone()))
        .error_reporter(move |e| world(&rep).reported.push(e))
        .build()
        .expect("session");
    let source = session.scope_source();

    // One registered wrapper; its first argument byte picks the behaviour.
    let (ws, handle) = (w.clone(), session.handle());
    let wrapper =
        session.register_wrapper(move |args: WrapperFunctionBuffer, ret: WrapperReturn| {
            let behavior = args.bytes().first().copied().unwrap_or(0) % 7;
            match behavior {
                DEFER => world(&ws).deferred_returns.push(ret),
                DROP_RETURN => drop(ret),
                PANIC => {
                    world(&ws).expected_reported += 1;
                    super::inject_panic();
                }
                _ => {
                    match behavior {
                        CALL_CONTROLLER => call_controller(&handle, &ws, ANSWER),
                        SHUTDOWN_INSIDE => {
                            record(&ws, Event::ShutdownRequested);
                            handle.shutdown();
                        }
                        DETACH_INSIDE => handle.detach(),
                        _ => {}
                    }
                    ret.send(args);
                }
            }
        });

    let dc = w.clone();
    session
        .set_on_disconnect(move |r| record(&dc, Event::Disconnect { ok: r.is_ok() }))
        .expect("before attach");
    let ca = if input.attach {
        let cw = w.clone();
        let controller =
            move |tag: ExecutorAddr, args: WrapperFunctionBuffer, reply: ControllerReply| {
                let k = (tag.value() - 0x7000) as usize;
                record(&cw, Event::ControllerHandled(k));
                match args.bytes().first().copied().unwrap_or(0) % 3 {
                    0 => reply.send(args),
                    1 => world(&cw).deferred_replies.push(reply),
                    _ => drop(reply),
                }
            };
        Some(
            InProcessControllerAccess::attach(&session, BootstrapInfo::new(), controller)
                .expect("attach"),
        )
    } else {
        None
    };

    let mut o = Oracle {
        w,
        session: std::mem::ManuallyDrop::new(session),
        source,
        queue,
        policy,
        ca,
        wrapper,
        managers: Vec::new(),
        on_detach: Vec::new(),
        on_shutdown: Vec::new(),
        exec_calls: Vec::new(),
        dispatched: Vec::new(),
        scope_refused: false,
        state: SessionState::Start,
        disconnect_expect: None,
    };
    o.check("setup");
    for (i, op) in input.ops.iter().take(MAX_OPS).enumerate() {
        o.step(op);
        o.check(&format!("step {i} {op:?}"));
    }
    o.finish();
}

struct ManagerInfo {
    /// Added before the session detached: part of the detach snapshot.
    early: bool,
}

struct Oracle {
    w: Shared,
    /// Leaked when a check fails: dropping a session waits for its
    /// shutdown, which a broken session may never complete.
    session: std::mem::ManuallyDrop<Session>,
    source: ExecutionScopeSource,
    queue: QueueingDispatcher,
    policy: QueuedAtShutdown,
    ca: Option<Arc<InProcessControllerAccess>>,
    wrapper: ExecutorAddr,
    managers: Vec<ManagerInfo>,
    /// On-detach callbacks: ran at once when added?
    on_detach: Vec<bool>,
    /// On-shutdown callbacks: ran at once when added?
    on_shutdown: Vec<bool>,
    /// Controller → executor calls accepted.
    exec_calls: Vec<usize>,
    /// Tasks accepted by `dispatch`.
    dispatched: Vec<usize>,
    scope_refused: bool,
    state: SessionState,
    /// Whether the disconnect, if it happens in this step, must be orderly.
    disconnect_expect: Option<bool>,
}

impl Oracle {
    fn events(&self) -> Vec<Event> {
        world(&self.w).events.clone()
    }

    fn step(&mut self, op: &SessionOp) {
        let disconnected_before = self
            .events()
            .iter()
            .any(|e| matches!(e, Event::Disconnect { .. }));
        self.disconnect_expect = Some(true);
        match op {
            SessionOp::CallExecutor { behavior } => {
                let Some(ca) = self.ca.clone() else { return };
                let k = self.exec_calls.len();
                let rec = self.w.clone();
                let accepted = ca.call_executor(
                    self.wrapper,
                    WrapperFunctionBuffer::copy_from(&[*behavior, k as u8]),
                    move |_| record(&rec, Event::ExecResult(k)),
                );
                match accepted {
                    Ok(_) => self.exec_calls.push(k),
                    Err(e) => {
                        if e.kind() != ErrorKind::Detached || ca.is_connected() {
                            self.violation(format!("call_executor refused while connected: {e}"));
                        }
                        self.exec_calls.push(usize::MAX);
                    }
                }
            }
            SessionOp::CallController { behavior } => {
                call_controller(&self.session, &self.w, *behavior);
            }
            SessionOp::RunTask(i) => {
                let n = self.queue.len();
                if n > 0 {
                    self.queue.run_at(*i as usize % n);
                }
            }
            SessionOp::RunNewest => {
                self.queue.run_newest();
            }
            SessionOp::RunAll => {
                self.queue.run_all_fifo();
            }
            SessionOp::ReplyController { index, drop } => {
                if let Some(r) = take_nth(&self.w, *index, |w| &mut w.deferred_replies) {
                    if *drop {
                        std::mem::drop(r);
                    } else {
                        r.send(WrapperFunctionBuffer::copy_from(b"late"));
                    }
                }
            }
            SessionOp::ReturnExecutor { index, drop } => {
                if let Some(r) = take_nth(&self.w, *index, |w| &mut w.deferred_returns) {
                    if *drop {
                        std::mem::drop(r);
                    } else {
                        r.send(WrapperFunctionBuffer::copy_from(b"late"));
                    }
                }
            }
            SessionOp::Enter => {
                let closed = self.source.is_closed();
                match self.session.try_enter_scope() {
                    Ok(g) => {
                        if closed || self.scope_refused {
                            self.violation("a guard was granted by a closed scope".into());
                        }
                        world(&self.w).guards.push(g);
                    }
                    Err(e) => {
                        if e.kind() != ErrorKind::ShuttingDown {
                            self.violation(format!("try_enter_scope failed with {e}"));
                        }
                        if !closed || !self.shutdown_requested_any() {
                            self.violation("the scope refused a guard before shutdown".into());
                        }
                        self.scope_refused = true;
                    }
                }
            }
            SessionOp::Leave(i) => {
                drop(take_nth(&self.w, *i, |w| &mut w.guards));
            }
            SessionOp::Keepalive => {
                let closed = self.source.is_closed();
                let src = self.source.clone();
                let ran = self.session.call_with_keepalive(|| src.is_closed());
                match ran {
                    Some(closed_inside) => {
                        if closed || self.scope_refused {
                            self.violation("call_with_keepalive ran in a closed scope".into());
                        }
                        if closed_inside {
                            self.violation("the scope closed while a keepalive held it".into());
                        }
                    }
                    None => {
                        if !closed {
                            self.violation("call_with_keepalive refused an open scope".into());
                        }
                        self.scope_refused = true;
                    }
                }
            }
            SessionOp::AddManager { detach, shutdown } => {
                let id = self.managers.len();
                let early = self.session.state() < SessionState::Detached;
                self.managers.push(ManagerInfo { early });
                self.session.add_resource_manager(TestManager {
                    id,
                    detach: Fault::from(*detach),
                    shutdown: Fault::from(*shutdown),
                    world: self.w.clone(),
                    source: self.session.scope_source(),
                    queue: self.queue.clone(),
                });
                let mut w = world(&self.w);
                for f in [Fault::from(*detach), Fault::from(*shutdown)] {
                    if matches!(f, Fault::Fail | Fault::Panic | Fault::Drop) {
                        w.expected_report += 1;
                    }
                }
            }
            SessionOp::CompleteManager { index, fail, drop } => {
                if let Some(d) = take_nth(&self.w, *index, |w| &mut w.deferred_managers) {
                    self.complete_manager(d, *fail, *drop);
                }
            }
            SessionOp::Dispatch => {
                let t = self.dispatched.len();
                let rec = self.w.clone();
                let closed = self.source.is_closed();
                match self
                    .session
                    .dispatch(move || record(&rec, Event::TaskRan(t)))
                {
                    Ok(()) => {
                        if closed {
                            self.violation("dispatch accepted a task in a closed scope".into());
                        }
                        self.dispatched.push(t);
                    }
                    Err(e) => {
                        if !closed || e.kind() != ErrorKind::ShuttingDown {
                            self.violation(format!("dispatch refused with an open scope: {e}"));
                        }
                        self.dispatched.push(usize::MAX);
                    }
                }
            }
            SessionOp::AddOnDetach { panic } => {
                let id = self.on_detach.len();
                let rec = self.w.clone();
                let panic = *panic;
                if panic {
                    world(&self.w).expected_report += 1;
                }
                self.session.add_on_detach(move || {
                    record(&rec, Event::OnDetach(id));
                    if panic {
                        super::inject_panic();
                    }
                });
                let ran = self.events().contains(&Event::OnDetach(id));
                self.on_detach.push(ran);
            }
            SessionOp::AddOnShutdown { panic } => {
                let id = self.on_shutdown.len();
                let rec = self.w.clone();
                let panic = *panic;
                self.session.add_on_shutdown(move |_report| {
                    record(&rec, Event::OnShutdown(id));
                    if panic {
                        super::inject_panic();
                    }
                });
                let ran = self.events().contains(&Event::OnShutdown(id));
                self.on_shutdown.push(ran);
                if panic {
                    // Run at once: contained into the report; later: the
                    // report was already handed out, so the reporter.
                    let mut w = world(&self.w);
                    if ran {
                        w.expected_report += 1;
                    } else {
                        w.expected_reported += 1;
                    }
                }
            }
            SessionOp::Detach => self.session.detach(),
            SessionOp::Hangup { error } => {
                if let Some(ca) = &self.ca {
                    self.disconnect_expect = Some(!*error || disconnected_before);
                    ca.hangup(if *error {
                        Err(Error::new(ErrorKind::Io, "injected hangup"))
                    } else {
                        Ok(())
                    });
                }
            }
            SessionOp::Shutdown => {
                record(&self.w, Event::ShutdownRequested);
                self.session.shutdown();
            }
        }
        // A disconnect reported during this step must have the right sign.
        let events = self.events();
        if !disconnected_before
            && let Some(Event::Disconnect { ok }) = events
                .iter()
                .find(|e| matches!(e, Event::Disconnect { .. }))
            && Some(*ok) != self.disconnect_expect
        {
            self.violation(format!(
                "disconnect reported ok={ok}, expected {:?}",
                self.disconnect_expect
            ));
        }
    }

    fn complete_manager(&self, d: Deferred, fail: bool, drop: bool) {
        let finished = if d.shutdown {
            Event::ShutdownDone(d.manager)
        } else {
            Event::DetachDone(d.manager)
        };
        let mut w = world(&self.w);
        w.events.push(finished);
        if fail || drop {
            w.expected_report += 1;
        }
        std::mem::drop(w);
        if drop {
            std::mem::drop(d.done);
        } else if fail {
            d.done
                .fail(Error::new(ErrorKind::Service, "injected late failure"));
        } else {
            d.done.ok();
        }
    }

    fn shutdown_requested_any(&self) -> bool {
        self.events().contains(&Event::ShutdownRequested)
    }

    fn violation(&self, v: String) {
        world(&self.w).violations.push(v);
    }

    /// The invariants that hold after every step.
    fn check(&mut self, when: &str) {
        let st = self.session.state();
        if st < self.state {
            self.violation(format!("state went back from {:?} to {st:?}", self.state));
        }
        self.state = st;
        if self.source.is_closed() && !self.shutdown_requested_any() {
            self.violation("the scope closed without a shutdown request".into());
        }
        let w = world(&self.w);
        let mut problems = w.violations.clone();
        let ev = &w.events;
        // One pass over the log: each event's first position and count
        // (the checks below ask for many events, after every step).
        let mut index: std::collections::HashMap<&Event, (usize, usize)> =
            std::collections::HashMap::with_capacity(ev.len());
        for (i, e) in ev.iter().enumerate() {
            index.entry(e).or_insert((i, 0)).1 += 1;
        }
        let pos = |e: &Event| index.get(e).map(|&(p, _)| p);
        let count = |e: &Event| index.get(e).map_or(0, |&(_, n)| n);
        // At most once.
        let disconnects = ev
            .iter()
            .filter(|e| matches!(e, Event::Disconnect { .. }))
            .count();
        if disconnects > 1 {
            problems.push(format!("{disconnects} disconnect reports"));
        }
        for e in ev {
            let once = !matches!(e, Event::ShutdownRequested | Event::Disconnect { .. });
            if once && count(e) > 1 {
                problems.push(format!("{e:?} happened {} times", count(e)));
            }
        }
        let disconnect = ev
            .iter()
            .position(|e| matches!(e, Event::Disconnect { .. }));
        // Nothing reaches the controller after the disconnect report.
        if let Some(d) = disconnect {
            for e in &ev[d..] {
                if matches!(e, Event::ExecResult(_) | Event::ControllerHandled(_)) {
                    problems.push(format!("{e:?} after the disconnect report"));
                }
            }
        }
        // Managers.
        let early: Vec<usize> = (0..self.managers.len())
            .filter(|&i| self.managers[i].early)
            .collect();
        for i in 0..self.managers.len() {
            if let Some(p) = pos(&Event::Detach(i))
                && disconnect.is_none_or(|d| p < d)
            {
                problems.push(format!("manager {i} detached before the disconnect report"));
            }
            if let Some(p) = pos(&Event::Shutdown(i))
                && pos(&Event::DetachDone(i)).is_none_or(|d| d > p)
            {
                problems.push(format!("manager {i} shut down before its detach completed"));
            }
            if pos(&Event::DetachDone(i)).is_some() && pos(&Event::Detach(i)).is_none() {
                problems.push(format!("manager {i} completed a detach never called"));
            }
        }
        // Early managers: newest first, each after the previous completed.
        for pair in early.windows(2) {
            let (older, newer) = (pair[0], pair[1]);
            if let Some(p) = pos(&Event::Detach(older))
                && pos(&Event::DetachDone(newer)).is_none_or(|d| d > p)
            {
                problems.push(format!(
                    "manager {older} detached before newer {newer} completed"
                ));
            }
            if let Some(p) = pos(&Event::Shutdown(older))
                && pos(&Event::ShutdownDone(newer)).is_none_or(|d| d > p)
            {
                problems.push(format!(
                    "manager {older} shut down before newer {newer} completed"
                ));
            }
        }
        // Where the last early manager completed a phase, once all did.
        let all_early = |done: fn(usize) -> Event| {
            early
                .iter()
                .map(|&i| pos(&done(i)))
                .collect::<Option<Vec<_>>>()
                .map(|v| v.into_iter().max().unwrap_or(0))
        };
        let all_early_detached = all_early(Event::DetachDone);
        let all_early_shut = all_early(Event::ShutdownDone);
        // Early shutdowns only once every early detach completed.
        for &i in &early {
            if let Some(p) = pos(&Event::Shutdown(i))
                && all_early_detached.is_none_or(|d| d > p)
            {
                problems.push(format!(
                    "manager {i} shut down before every detach completed"
                ));
            }
        }
        // A phase's callbacks (`ran_at_once[id]`: added after the phase,
        // so run at once): after every early manager completed the phase;
        // those added before it, newest first.
        let mut callbacks = |kind: &str,
                             phase: &str,
                             ran_at_once: &[bool],
                             ran: fn(usize) -> Event,
                             phase_done: Option<usize>| {
            for id in 0..ran_at_once.len() {
                if let Some(p) = pos(&ran(id))
                    && phase_done.is_none_or(|d| d > p)
                {
                    problems.push(format!("{kind} {id} ran before every {phase} completed"));
                }
            }
            let pre: Vec<usize> = (0..ran_at_once.len())
                .filter(|&i| !ran_at_once[i])
                .collect();
            for pair in pre.windows(2) {
                if let (Some(a), Some(b)) = (pos(&ran(pair[0])), pos(&ran(pair[1])))
                    && a < b
                {
                    problems.push(format!("{kind} {} ran before newer {}", pair[0], pair[1]));
                }
            }
        };
        callbacks(
            "on-detach",
            "detach",
            &self.on_detach,
            Event::OnDetach,
            all_early_detached,
        );
        callbacks(
            "on-shutdown",
            "shutdown",
            &self.on_shutdown,
            Event::OnShutdown,
            all_early_shut,
        );
        for q in &w.queue_len_at_shutdown {
            if *q != 0 {
                problems.push(format!("a manager shut down with {q} tasks still queued"));
            }
        }
        drop(w);
        if !problems.is_empty() {
            panic!(
                "session_ops invariant broken after {when}: {problems:?}\nevents: {:?}",
                self.events()
            );
        }
    }

    /// Requests shutdown, releases and completes everything, and checks
    /// that the session shut down with every step exactly once.
    fn finish(mut self) {
        record(&self.w, Event::ShutdownRequested);
        self.session.shutdown();
        self.check("the final shutdown request");
        for round in 0.. {
            let mut moved = false;
            while let Some(g) = pop_newest(&self.w, |w| &mut w.guards) {
                drop(g);
                moved = true;
            }
            while let Some(d) = pop_newest(&self.w, |w| &mut w.deferred_managers) {
                self.complete_manager(d, false, false);
                moved = true;
            }
            while let Some(r) = pop_newest(&self.w, |w| &mut w.deferred_replies) {
                r.send(WrapperFunctionBuffer::copy_from(b"final"));
                moved = true;
            }
            while let Some(r) = pop_newest(&self.w, |w| &mut w.deferred_returns) {
                r.send(WrapperFunctionBuffer::copy_from(b"final"));
                moved = true;
            }
            moved |= self.queue.run_all_fifo() > 0;
            self.check(&format!("final round {round}"));
            if !moved {
                break;
            }
        }
        assert!(
            self.session.is_shut_down(),
            "shutdown did not complete although every guard, task and completion was released: {:?}\nevents: {:?}",
            self.session,
            self.events()
        );
        let report = self
            .session
            .wait_for_shutdown()
            .expect("not inside the session");
        let ev = self.events();
        let count = |e: &Event| ev.iter().filter(|x| *x == e).count();
        let mut problems = Vec::new();
        if ev
            .iter()
            .filter(|e| matches!(e, Event::Disconnect { .. }))
            .count()
            != 1
        {
            problems.push("the disconnect was not reported exactly once".to_owned());
        }
        for i in 0..self.managers.len() {
            for e in [
                Event::Detach(i),
                Event::DetachDone(i),
                Event::Shutdown(i),
                Event::ShutdownDone(i),
            ] {
                if count(&e) != 1 {
                    problems.push(format!("{e:?} happened {} times", count(&e)));
                }
            }
        }
        for id in 0..self.on_detach.len() {
            if count(&Event::OnDetach(id)) != 1 {
                problems.push(format!(
                    "on-detach {id} ran {} times",
                    count(&Event::OnDetach(id))
                ));
            }
        }
        for id in 0..self.on_shutdown.len() {
            if count(&Event::OnShutdown(id)) != 1 {
                problems.push(format!(
                    "on-shutdown {id} ran {} times",
                    count(&Event::OnShutdown(id))
                ));
            }
        }
        for &k in self.exec_calls.iter().filter(|k| **k != usize::MAX) {
            if count(&Event::ExecResult(k)) != 1 {
                problems.push(format!(
                    "controller call {k} got {} results",
                    count(&Event::ExecResult(k))
                ));
            }
        }
        let lossy = self.policy == QueuedAtShutdown::Drop;
        let ctrl_calls = world(&self.w).ctrl_calls;
        for k in 0..ctrl_calls {
            let n = count(&Event::CtrlComplete(k));
            if n > 1 || (n == 0 && !lossy) {
                problems.push(format!("executor call {k} completed {n} times"));
            }
        }
        for &t in self.dispatched.iter().filter(|t| **t != usize::MAX) {
            let n = count(&Event::TaskRan(t));
            if n > 1 || (n == 0 && !lossy) {
                problems.push(format!("task {t} ran {n} times"));
            }
        }
        let w = world(&self.w);
        if report.errors.len() != w.expected_report {
            problems.push(format!(
                "the shutdown report holds {} errors, {} were injected: {:?}",
                report.errors.len(),
                w.expected_report,
                report.errors
            ));
        }
        if w.reported.len() != w.expected_reported
            || w.reported.iter().any(|e| e.kind() != ErrorKind::Panic)
        {
            problems.push(format!(
                "the reporter saw {:?}, {} panics were injected",
                w.reported, w.expected_reported
            ));
        }
        drop(w);
        assert!(
            problems.is_empty(),
            "after shutdown: {problems:?}\nevents: {ev:?}"
        );
        drop(std::mem::ManuallyDrop::into_inner(self.session));
    }
}
