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
//! After every step the oracle checks the session's lifecycle rules
//! (`orc_sim::lifecycle`, the same checker orc-sim's runs use: exactly
//! once, newest first, the disconnect report before any detach, nothing
//! reaching the controller after it) and its own: the execution scope
//! admits a guard exactly while it is open, never again once closed, and
//! never closes before shutdown was requested; `dispatch` refuses exactly
//! when the scope is closed; no manager is shut down while a guard or a
//! queued task is alive; the lifecycle state only moves forward; the
//! disconnect is reported `Ok` unless the controller hung up with an error.
//!
//! At the end the oracle requests shutdown, releases every guard, completes
//! everything it deferred and drains the queue until nothing moves: then
//! the session must be shut down, every step must have happened exactly
//! once (at most once for work a `Drop` dispatcher discards), every call
//! the controller made must have been answered, and the shutdown report
//! and the error reporter must hold exactly the failures and panics the
//! input injected.

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
use orc_sim::lifecycle::{ControllerCallId, End, Lifecycle, ManagerId, Phase};

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
    manager: ManagerId,
    shutdown: bool,
    done: OnComplete,
}

/// Everything the callbacks record and the oracle keeps.
struct World {
    lifecycle: Lifecycle,
    /// Shutdown was requested (by the oracle or a wrapper).
    shutdown_requested: bool,
    /// The disconnect reports: orderly?
    disconnects: Vec<bool>,
    violations: Vec<String>,
    reported: Vec<Error>,
    guards: Vec<ExecutionScopeGuard>,
    deferred_managers: Vec<Deferred>,
    deferred_replies: Vec<ControllerReply>,
    deferred_returns: Vec<WrapperReturn>,
    /// Executor → controller calls started, by the number their tag
    /// carries.
    ctrl_calls: Vec<ControllerCallId>,
    /// Errors the shutdown report must hold.
    expected_report: usize,
    /// Errors the reporter must have seen.
    expected_reported: usize,
    queue_len_at_shutdown: Vec<usize>,
}

impl Default for World {
    fn default() -> Self {
        World {
            // The oracle always installs an on-disconnect handler.
            lifecycle: Lifecycle::new(true),
            shutdown_requested: false,
            disconnects: Vec::new(),
            violations: Vec::new(),
            reported: Vec::new(),
            guards: Vec::new(),
            deferred_managers: Vec::new(),
            deferred_replies: Vec::new(),
            deferred_returns: Vec::new(),
            ctrl_calls: Vec::new(),
            expected_report: 0,
            expected_reported: 0,
            queue_len_at_shutdown: Vec::new(),
        }
    }
}

type Shared = Arc<Mutex<World>>;

fn world(w: &Shared) -> MutexGuard<'_, World> {
    w.lock().unwrap_or_else(|p| p.into_inner())
}

/// Records into the lifecycle checker.
fn record(w: &Shared, f: impl FnOnce(&mut Lifecycle)) {
    f(&mut world(w).lifecycle);
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
    id: ManagerId,
    name: String,
    detach: Fault,
    shutdown: Fault,
    world: Shared,
    source: ExecutionScopeSource,
    queue: QueueingDispatcher,
}

impl TestManager {
    fn act(&self, fault: Fault, done: OnComplete, shutdown: bool) {
        let phase = if shutdown {
            Phase::Shutdown
        } else {
            Phase::Detach
        };
        let id = self.id;
        let finished = |l: &mut Lifecycle| l.manager_completed(id, phase);
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
        &self.name
    }

    fn detach(&mut self, done: OnComplete, _shutdown_requested: bool) {
        let id = self.id;
        record(&self.world, |l| l.manager_called(id, Phase::Detach));
        self.act(self.detach, done, false);
    }

    fn shutdown(&mut self, done: OnComplete) {
        {
            let mut w = world(&self.world);
            w.lifecycle.manager_called(self.id, Phase::Shutdown);
            let held = w.guards.len();
            if held != 0 {
                w.violations.push(format!(
                    "{} shut down while {held} guards are held",
                    self.name
                ));
            }
            if self.source.try_enter().is_ok() || !self.source.is_closed() {
                w.violations
                    .push(format!("{} shut down with the scope open", self.name));
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

/// Starts an executor → controller call with controller behaviour
/// `behavior`; its tag carries its number, its completion is recorded.
fn call_controller(session: &SessionHandle, w: &Shared, behavior: u8) {
    let (k, id) = {
        let mut w = world(w);
        let id = w.lifecycle.controller_call_started();
        w.ctrl_calls.push(id);
        (w.ctrl_calls.len() - 1, id)
    };
    let rec = w.clone();
    session.call_controller(
        ExecutorAddr::new(0x7000 + k as u64),
        WrapperFunctionBuffer::copy_from(&[behavior % 3, k as u8]),
        move |_result| record(&rec, |l| l.controller_call_completed(id)),
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
                            world(&ws).shutdown_requested = true;
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
        .set_on_disconnect(move |r| {
            let mut w = world(&dc);
            w.disconnects.push(r.is_ok());
            w.lifecycle.disconnect_reported();
        })
        .expect("before attach");
    let ca = if input.attach {
        let cw = w.clone();
        let controller =
            move |tag: ExecutorAddr, args: WrapperFunctionBuffer, reply: ControllerReply| {
                let k = (tag.value() - 0x7000) as usize;
                let mut w = world(&cw);
                let id = w.ctrl_calls[k];
                w.lifecycle.controller_call_reached(id);
                drop(w);
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
        managers: 0,
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
    /// Managers added so far (they are named by this count).
    managers: usize,
    scope_refused: bool,
    state: SessionState,
    /// Whether the disconnect, if it happens in this step, must be orderly.
    disconnect_expect: Option<bool>,
}

impl Oracle {
    fn disconnected(&self) -> bool {
        world(&self.w).lifecycle.disconnected()
    }

    fn step(&mut self, op: &SessionOp) {
        let disconnected_before = self.disconnected();
        self.disconnect_expect = Some(true);
        match op {
            SessionOp::CallExecutor { behavior } => {
                let Some(ca) = self.ca.clone() else { return };
                let id = world(&self.w).lifecycle.incoming_sent();
                let rec = self.w.clone();
                let accepted = ca.call_executor(
                    self.wrapper,
                    WrapperFunctionBuffer::copy_from(&[*behavior]),
                    move |_| record(&rec, |l| l.incoming_answered(id)),
                );
                if let Err(e) = accepted {
                    if e.kind() != ErrorKind::Detached || ca.is_connected() {
                        self.violation(format!("call_executor refused while connected: {e}"));
                    }
                    record(&self.w, |l| l.incoming_refused(id));
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
                let in_snapshot = self.session.state() < SessionState::Detached;
                let name = format!("manager {}", self.managers);
                self.managers += 1;
                let id = world(&self.w).lifecycle.manager_added(&name, in_snapshot);
                self.session.add_resource_manager(TestManager {
                    id,
                    name,
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
                let t = world(&self.w).lifecycle.task_submitted();
                let rec = self.w.clone();
                let closed = self.source.is_closed();
                match self
                    .session
                    .dispatch(move || record(&rec, |l| l.task_ran(t)))
                {
                    Ok(()) => {
                        if closed {
                            self.violation("dispatch accepted a task in a closed scope".into());
                        }
                    }
                    Err(e) => {
                        if !closed || e.kind() != ErrorKind::ShuttingDown {
                            self.violation(format!("dispatch refused with an open scope: {e}"));
                        }
                        record(&self.w, |l| l.task_refused(t));
                    }
                }
            }
            SessionOp::AddOnDetach { panic } => {
                let ordered = self.session.state() < SessionState::Detached;
                let id = world(&self.w).lifecycle.callback_added(
                    "an on-detach callback",
                    Phase::Detach,
                    ordered,
                );
                let rec = self.w.clone();
                let panic = *panic;
                if panic {
                    world(&self.w).expected_report += 1;
                }
                self.session.add_on_detach(move || {
                    record(&rec, |l| l.callback_ran(id));
                    if panic {
                        super::inject_panic();
                    }
                });
            }
            SessionOp::AddOnShutdown { panic } => {
                let ordered = self.session.state() < SessionState::ShutDown;
                let id = world(&self.w).lifecycle.callback_added(
                    "an on-shutdown callback",
                    Phase::Shutdown,
                    ordered,
                );
                let rec = self.w.clone();
                let panic = *panic;
                self.session.add_on_shutdown(move |_report| {
                    record(&rec, |l| l.callback_ran(id));
                    if panic {
                        super::inject_panic();
                    }
                });
                let ran = world(&self.w).lifecycle.has_run(id);
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
                world(&self.w).shutdown_requested = true;
                self.session.shutdown();
            }
        }
        // A disconnect reported during this step must have the right sign.
        let first = world(&self.w).disconnects.first().copied();
        if !disconnected_before
            && let Some(ok) = first
            && Some(ok) != self.disconnect_expect
        {
            self.violation(format!(
                "disconnect reported ok={ok}, expected {:?}",
                self.disconnect_expect
            ));
        }
    }

    fn complete_manager(&self, d: Deferred, fail: bool, drop: bool) {
        let phase = if d.shutdown {
            Phase::Shutdown
        } else {
            Phase::Detach
        };
        let mut w = world(&self.w);
        w.lifecycle.manager_completed(d.manager, phase);
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
        world(&self.w).shutdown_requested
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
        problems.extend(w.lifecycle.violations());
        for q in &w.queue_len_at_shutdown {
            if *q != 0 {
                problems.push(format!("a manager shut down with {q} tasks still queued"));
            }
        }
        if !problems.is_empty() {
            panic!(
                "session_ops invariant broken after {when}: {problems:?}\nrecords: {:?}",
                w.lifecycle
            );
        }
    }

    /// Requests shutdown, releases and completes everything, and checks
    /// that the session shut down with every step exactly once.
    fn finish(mut self) {
        world(&self.w).shutdown_requested = true;
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
            "shutdown did not complete although every guard, task and completion was released: {:?}\nrecords: {:?}",
            self.session,
            world(&self.w).lifecycle
        );
        let report = self
            .session
            .wait_for_shutdown()
            .expect("not inside the session");
        let w = world(&self.w);
        let mut problems = w.lifecycle.end_violations(End {
            detached: true,
            shut_down: true,
            tasks_may_be_dropped: self.policy == QueuedAtShutdown::Drop,
            incoming_all_answered: true,
        });
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
        assert!(
            problems.is_empty(),
            "after shutdown: {problems:?}\nrecords: {:?}",
            w.lifecycle
        );
        drop(w);
        drop(std::mem::ManuallyDrop::into_inner(self.session));
    }
}
