//! The session: the root object of the runtime (upstream `Session.h`). It
//! owns the resource managers, the controller access, the task dispatcher
//! and the execution scope, and drives the lifecycle
//! `Start → Attached → Detached → ShutDown` (spec 8).
//!
//! ```
//! use orc_rt::{Session, dispatcher::InlineDispatcher};
//! let session = Session::builder().dispatcher(InlineDispatcher).build().unwrap();
//! let guard = session.try_enter_scope().expect("not shutting down");
//! drop(guard);
//! let report = session.wait_for_shutdown().unwrap();
//! assert!(report.is_ok());
//! assert_eq!(
//!     session.try_enter_scope().unwrap_err().kind(),
//!     orc_rt::ErrorKind::ShuttingDown
//! );
//! ```
//!
//! **Invariants** (tested in `tests/session_*.rs` and the loom models):
//! - every resource manager: `detach` exactly once, always before
//!   `shutdown`, exactly once; both newest first;
//! - disconnect report < every detach < on-detach callbacks < every
//!   shutdown < on-shutdown callbacks;
//! - no execution-scope guard after shutdown began; shutdown of the managers
//!   waits for the last guard;
//! - no user callback runs with the session's lock held.

#[allow(
    unsafe_code,
    reason = "calling wrapper functions at executor addresses"
)]
pub(crate) mod abi;
mod chain;
mod markers;

use std::collections::HashMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::addr::ExecutorAddr;
use crate::controller_access::interface::{
    BootstrapInfo, CallOwner, ControllerAccess, ControllerCallReturn, ReturnFn,
    SESSION_INSTANCE_SYMBOL, SUBTARGET_FEATURES_KEY, SymbolTable,
};
use crate::dispatcher::{Task, TaskDispatcher, ThreadPoolDispatcher};
use crate::error::{Error, ErrorKind};
use crate::execution_scope::{ExecutionScope, ExecutionScopeGuard, ExecutionScopeSource};
use crate::resource_manager::ResourceManager;
use crate::sync::{Arc, Condvar, Mutex, RwLock, lock, read, wait, write};
use crate::wrapper::{
    Runs, StreamedArgs, WrapperEntry, WrapperFunctionBuffer, WrapperReturn, WrapperTable,
};

pub use abi::{
    orc_rt_ControllerHandlerTag, orc_rt_OpaqueSession, orc_rt_SessionRef, orc_rt_WrapperFunction,
    orc_rt_WrapperFunctionReturn,
};

use chain::{Chain, Step};
use markers::Marker;

/// Where a session is in its lifecycle. Ordered: a session only moves
/// forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SessionState {
    /// Built; no controller attached yet.
    Start,
    /// A controller access is attached (connected or connecting).
    Attached,
    /// The controller is gone (or was never attached); managers detached or
    /// being detached. JIT'd code may still run.
    Detached,
    /// The execution scope drained; managers shut down or shutting down.
    ShutDown,
}

/// Facts about the process the session runs in (upstream
/// `ExecutorProcessInfo`). The executor fills them in from the OS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// The target triple announced to the controller.
    pub target_triple: String,
    /// The page size, if known.
    pub page_size: Option<usize>,
    /// The CPU's features as an LLVM subtarget-feature string (`+sse2,+avx`),
    /// announced in the default bootstrap info; empty if not detected (see
    /// [`cpu_features`](crate::cpu_features)).
    pub target_cpu_features: String,
}

impl ProcessInfo {
    /// Process info with the given triple and page size.
    pub fn new(target_triple: impl Into<String>, page_size: usize) -> Self {
        ProcessInfo {
            target_triple: target_triple.into(),
            page_size: Some(page_size),
            target_cpu_features: String::new(),
        }
    }

    /// This info with `features` (e.g.
    /// [`cpu_features::host_subtarget_features`](crate::cpu_features::host_subtarget_features)).
    pub fn with_cpu_features(mut self, features: impl Into<String>) -> Self {
        self.target_cpu_features = features.into();
        self
    }
}

impl Default for ProcessInfo {
    /// `<arch>-unknown-<os>` of the build target, page size unknown, no
    /// CPU features.
    fn default() -> Self {
        ProcessInfo {
            target_triple: format!(
                "{}-unknown-{}",
                std::env::consts::ARCH,
                std::env::consts::OS
            ),
            page_size: None,
            target_cpu_features: String::new(),
        }
    }
}

/// Everything that went wrong while a session detached and shut down,
/// collected so that the caller of [`SessionHandle::wait_for_shutdown`] (or
/// an on-shutdown callback) sees it; nothing is lost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShutdownReport {
    /// Why the controller connection ended, if abnormally.
    pub disconnect_error: Option<Error>,
    /// Errors of resource managers' `detach`/`shutdown` (including contained
    /// panics, [`ErrorKind::Panic`]) and of panicking callbacks, in the order
    /// they happened.
    pub errors: Vec<Error>,
}

impl ShutdownReport {
    /// True if no manager or callback failed (an abnormal disconnect alone
    /// does not count: see [`disconnect_error`](Self::disconnect_error)).
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// `Ok` if nothing failed; else one error of the first error's kind whose
    /// message lists every error.
    pub fn into_result(self) -> Result<(), Error> {
        match self.errors.len() {
            0 => Ok(()),
            1 => Err(self.errors.into_iter().next().expect("one error")),
            n => {
                let kind = self.errors[0].kind();
                let messages: Vec<&str> = self.errors.iter().map(Error::message).collect();
                Err(Error::new(
                    kind,
                    format!("{n} errors during shutdown: {}", messages.join("; ")),
                ))
            }
        }
    }
}

type Reporter = Box<dyn Fn(Error) + Send + Sync + 'static>;
type OnDisconnectFn = Box<dyn FnOnce(Result<(), Error>) + Send + 'static>;
type OnDetachFn = Box<dyn FnOnce() + Send + 'static>;
type OnShutdownFn = Box<dyn FnOnce(&ShutdownReport) + Send + 'static>;
/// How the session runs a call to an address nothing is registered at.
type UnregisteredCall =
    std::sync::Arc<dyn Fn(ExecutorAddr, &[u8]) -> WrapperFunctionBuffer + Send + Sync>;

/// How the session runs an incoming call to a given address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrapperKind {
    /// A registered asynchronous C wrapper (`orc_rt_WrapperFunction`).
    AsyncC,
    /// A registered Rust handler.
    Rust,
    /// Not registered: run by the session's handler for unregistered
    /// addresses (an executor calls JIT'd code there with LLVM 22's legacy
    /// ABI; see [`SessionBuilder::call_unregistered_with`]).
    Unregistered,
    /// Not registered and no handler for that: the call fails.
    Unhandled,
}

#[derive(Clone)]
enum WrapperTarget {
    AsyncC(orc_rt_WrapperFunction),
    Rust(std::sync::Arc<WrapperEntry>),
}

pub(crate) struct ManagerSlot {
    name: String,
    inner: Mutex<ManagerInner>,
}

struct ManagerInner {
    rm: Box<dyn ResourceManager>,
    detached: bool,
    shut_down: bool,
}

struct State {
    current: SessionState,
    /// A transition being driven, if any ("target" in the spec).
    target: Option<SessionState>,
    managers: Vec<Arc<ManagerSlot>>,
    on_disconnect: Option<OnDisconnectFn>,
    disconnect_seen: bool,
    on_detach: Vec<OnDetachFn>,
    detach_callbacks_ran: bool,
    on_shutdown: Vec<OnShutdownFn>,
    shutdown_callbacks_ran: bool,
    /// Managers added after detach began whose own detach (and, once the
    /// session is shutting down, shutdown) has not completed: the
    /// on-shutdown callbacks wait for them (spec 8.7 step 4).
    late_pending: usize,
    /// The shutdown chain of the managers in the list has completed.
    managers_shut_down: bool,
    report: ShutdownReport,
    /// Someone will see the report (a waiter or an on-shutdown callback);
    /// otherwise its errors go to the reporter when the owner drops.
    report_observed: bool,
    owner_dropped: bool,
}

/// The state shared by a session's handles, hooks and tasks.
pub(crate) struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    scope: ExecutionScope,
    ca: Mutex<Option<std::sync::Arc<dyn ControllerAccess>>>,
    dispatcher: Mutex<Option<std::sync::Arc<dyn TaskDispatcher>>>,
    wrappers: RwLock<HashMap<ExecutorAddr, WrapperTarget>>,
    unregistered: Option<UnregisteredCall>,
    reporter: Reporter,
    process_info: ProcessInfo,
    /// The owner of a session created through the C API
    /// (`orc_rt_Session_create`), until `orc_rt_Session_destroy` drops it.
    c_owner: Mutex<Option<Session>>,
}

fn contract(message: &str) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

/// The session's shared state behind its reference count: what handles,
/// hooks, tasks and continuations hold. (A newtype because loom's `Arc`
/// cannot be a method receiver.)
#[derive(Clone)]
pub(crate) struct SharedArc(Arc<Shared>);

impl std::ops::Deref for SharedArc {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl Shared {
    fn is_finished(st: &State) -> bool {
        st.current == SessionState::ShutDown && st.target.is_none()
    }
}

impl SharedArc {
    /// The session's identity: the address of its shared state.
    pub(crate) fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    pub(crate) fn report_error(&self, err: Error) {
        // A panicking reporter must not unwind into whoever reported.
        if catch_unwind(AssertUnwindSafe(|| (self.reporter)(err))).is_err() {
            tracing::error!("the session's error reporter panicked");
        }
    }

    /// Adds an error to the shutdown report.
    pub(crate) fn record_error(&self, err: Error) {
        lock(&self.state).report.errors.push(err);
    }

    /// Runs `f`, turning a panic into a recorded [`ErrorKind::Panic`] error.
    fn contain(&self, what: &str, f: impl FnOnce()) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
            self.record_error(Error::from_panic(what, payload.as_ref()));
        }
    }

    /// Hands `task` (which owns its guard) to the dispatcher. A task the
    /// dispatcher refuses, or that arrives after shutdown removed it, was
    /// accepted by the session before the scope closed (its guard proves
    /// it): it runs inline, here, rather than being lost.
    fn dispatch(&self, task: Task) {
        let dispatcher = lock(&self.dispatcher).clone();
        let refused = match dispatcher {
            Some(d) => d.try_dispatch(task).err(),
            None => Some(task),
        };
        if let Some(task) = refused {
            crate::probe::hit(crate::probe::REFUSED_TASK_RAN_INLINE);
            task();
        }
    }

    // ---- controller access plumbing -------------------------------------

    pub(crate) fn send_wrapper_result(&self, call_id: u64, result: WrapperFunctionBuffer) {
        let ca = lock(&self.ca).clone();
        match ca {
            Some(ca) => ca.send_wrapper_result(call_id, result),
            // Detached: the result has nowhere to go (8.8).
            None => {
                crate::probe::hit(crate::probe::RESULT_AFTER_DETACH);
                drop(result)
            }
        }
    }

    fn call_controller(
        &self,
        tag: ExecutorAddr,
        args: WrapperFunctionBuffer,
        on_complete: Box<dyn FnOnce(WrapperFunctionBuffer) + Send + 'static>,
        inline: bool,
    ) {
        let ca = lock(&self.ca).clone();
        match ca {
            Some(ca) => ca.call_controller(
                tag,
                args,
                ControllerCallReturn::new(on_complete, Box::new(self.clone()), inline),
            ),
            None => on_complete(WrapperFunctionBuffer::out_of_band_error(
                "no controller attached",
            )),
        }
    }

    fn handle_wrapper_call(&self, addr: ExecutorAddr, args: WrapperFunctionBuffer, call_id: u64) {
        // Tells the access when the handler is done, on every path below
        // (a task dropped unrun included).
        let returned = HandlerReturned {
            shared: self.clone(),
            call_id,
        };
        // Denied after shutdown began: drop the call silently (8.7, 8.9).
        let Some(guard) = self.scope.retain() else {
            crate::probe::hit(crate::probe::CALL_AFTER_SHUTDOWN_BEGAN);
            return;
        };
        let target = read(&self.wrappers).get(&addr).cloned();
        // A quick wrapper function runs here, on the delivering thread.
        if let Some(WrapperTarget::Rust(entry)) = &target
            && !args.is_error()
        {
            match &entry.runs {
                Runs::Dispatched => {}
                Runs::Inline => {
                    let _marker = Marker::enter(self.id());
                    self.run_wrapper(addr, target, args, call_id);
                    drop(guard);
                    return;
                }
                Runs::QuickFirst(quick) => {
                    let _marker = Marker::enter(self.id());
                    match catch_unwind(AssertUnwindSafe(|| quick(args.bytes()))) {
                        Ok(Some(result)) => {
                            self.send_wrapper_result(call_id, result);
                            drop(guard);
                            return;
                        }
                        // Declined: the full handler runs on a task.
                        Ok(None) => {}
                        Err(payload) => {
                            self.send_wrapper_result(
                                call_id,
                                WrapperFunctionBuffer::out_of_band_error(&format!(
                                    "wrapper function at {addr} panicked"
                                )),
                            );
                            self.report_error(Error::from_panic(
                                &format!("wrapper function at {addr}"),
                                payload.as_ref(),
                            ));
                            drop(guard);
                            return;
                        }
                    }
                }
            }
        }
        let shared = self.clone();
        self.dispatch(Box::new(move || {
            let _marker = Marker::enter(shared.id());
            shared.run_wrapper(addr, target, args, call_id);
            drop(guard);
            drop(returned);
        }));
    }

    fn run_wrapper(
        &self,
        addr: ExecutorAddr,
        target: Option<WrapperTarget>,
        args: WrapperFunctionBuffer,
        call_id: u64,
    ) {
        match target {
            Some(WrapperTarget::Rust(entry)) => {
                let shared = self.clone();
                let ret =
                    WrapperReturn::new(move |result| shared.send_wrapper_result(call_id, result));
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| (entry.handler)(args, ret)))
                {
                    // The Return, dropped during the unwind, already sent an
                    // error result; the panic itself goes to the reporter.
                    self.report_error(Error::from_panic(
                        &format!("wrapper function at {addr}"),
                        payload.as_ref(),
                    ));
                }
            }
            // SAFETY: registered through `register_async_wrapper`, whose
            // contract is this ABI.
            #[allow(unsafe_code, reason = "calling a registered C wrapper")]
            Some(WrapperTarget::AsyncC(f)) => unsafe { abi::call_async(self, f, call_id, args) },
            None if args.is_error() => self.send_wrapper_result(call_id, args),
            None if self.unregistered.is_some() && !addr.is_null() => {
                let call = self.unregistered.as_ref().expect("checked");
                let result = catch_unwind(AssertUnwindSafe(|| call(addr, args.bytes())))
                    .unwrap_or_else(|payload| {
                        self.report_error(Error::from_panic(
                            &format!("call to unregistered address {addr}"),
                            payload.as_ref(),
                        ));
                        WrapperFunctionBuffer::out_of_band_error(&format!(
                            "the call to {addr} panicked"
                        ))
                    });
                drop(args);
                self.send_wrapper_result(call_id, result);
            }
            None => {
                drop(args);
                self.send_wrapper_result(
                    call_id,
                    WrapperFunctionBuffer::out_of_band_error(&format!(
                        "no wrapper function registered at {addr}"
                    )),
                );
            }
        }
    }

    /// The disconnect drain (7.5): "disconnected", dispatched under a fresh
    /// guard; once shutdown has begun there is none to take, and the call
    /// must still complete: its caller (typically JIT'd code blocked in the
    /// call, under the guard of the wrapper call running it) holds up the
    /// very shutdown that refuses the guard. So it runs on this thread then:
    /// the drain precedes `notify_disconnected`, hence the keepalive drain
    /// and every manager's shutdown, so nothing it may touch is gone yet.
    fn fail_pending_call(&self, ret: ControllerCallReturn) {
        crate::probe::hit(crate::probe::PENDING_CALL_FAILED_AT_DISCONNECT);
        let result = WrapperFunctionBuffer::from_error(&Error::detached());
        let (f, inline) = ret.take();
        if let Err((f, result)) = self.dispatch_continuation(f, result, inline) {
            f(result);
        }
    }

    fn complete_call(&self, ret: ControllerCallReturn, result: WrapperFunctionBuffer) {
        let (f, inline) = ret.take();
        if let Err((f, _)) = self.dispatch_continuation(f, result, inline) {
            // Contract violation by the controller access: a result
            // after the scope closed (upstream aborts). Running the
            // continuation could enter torn-down code, so drop it.
            drop(f);
            self.report_error(contract(
                "controller access completed a call after the session began shutting down; continuation dropped",
            ));
        }
    }

    /// Runs `f(result)` under a fresh guard: here when the caller declared
    /// the continuation quick (`inline`), else as a dispatched task. Once
    /// the scope is closed there is no guard to take, and both come back
    /// unrun.
    ///
    /// A dispatched continuation runs even if the dispatcher drops its task
    /// (a queue whose policy drops what is left at shutdown): then on the
    /// thread that drops it, still under its guard. Every controller call
    /// completes exactly once, whatever the dispatcher does (7.5).
    fn dispatch_continuation<F>(
        &self,
        f: F,
        result: WrapperFunctionBuffer,
        inline: bool,
    ) -> Result<(), (F, WrapperFunctionBuffer)>
    where
        F: FnOnce(WrapperFunctionBuffer) + Send + 'static,
    {
        let Some(guard) = self.scope.retain() else {
            return Err((f, result));
        };
        let continuation = Continuation {
            f: Some(Box::new(f)),
            result: Some(result),
            session: self.id(),
            guard: Some(guard),
        };
        if inline {
            continuation.run();
        } else {
            self.dispatch(Box::new(move || continuation.run()));
        }
        Ok(())
    }

    /// A continuation dropped uncompleted (see [`ControllerCallReturn`]).
    pub(crate) fn abandoned_controller_call(
        &self,
        f: Box<dyn FnOnce(WrapperFunctionBuffer) + Send>,
    ) {
        self.report_error(contract(
            "controller access dropped a pending controller call without completing it",
        ));
        if let Some(_guard) = self.scope.retain() {
            f(WrapperFunctionBuffer::out_of_band_error(
                "controller call dropped without a result",
            ));
        }
    }

    // ---- lifecycle --------------------------------------------------------

    fn request_detach(&self) {
        let mut st = lock(&self.state);
        if let Some(t) = st.target {
            st.target = Some(t.max(SessionState::Detached));
            return;
        }
        if st.current >= SessionState::Detached {
            return;
        }
        st.target = Some(SessionState::Detached);
        match st.current {
            SessionState::Start => {
                drop(st);
                self.detach_sequence(Ok(()));
            }
            _ => {
                let ca = lock(&self.ca).clone();
                drop(st);
                if let Some(ca) = ca {
                    ca.disconnect();
                }
            }
        }
    }

    fn request_shutdown(&self, on_shutdown: Option<OnShutdownFn>) {
        let mut st = lock(&self.state);
        if let Some(cb) = on_shutdown {
            st.report_observed = true;
            if st.shutdown_callbacks_ran {
                let report = st.report.clone();
                drop(st);
                self.contain("on-shutdown callback", || cb(&report));
                st = lock(&self.state);
            } else {
                st.on_shutdown.push(cb);
            }
        }
        if st.target.is_some() {
            // Injected bug (loom model `loom_shutdown`): a shutdown that
            // arrives while a detach is being driven is not recorded, so the
            // detach finishes and nobody shuts the session down.
            if cfg!(orc_rt_loom_bug = "shutdown_request_lost") {
                return;
            }
            st.target = Some(SessionState::ShutDown);
            return;
        }
        let current = st.current;
        if current == SessionState::ShutDown {
            return;
        }
        st.target = Some(SessionState::ShutDown);
        match current {
            SessionState::Start => {
                drop(st);
                self.detach_sequence(Ok(()));
            }
            SessionState::Attached => {
                let ca = lock(&self.ca).clone();
                drop(st);
                if let Some(ca) = ca {
                    ca.disconnect();
                }
            }
            SessionState::Detached => {
                drop(st);
                self.keepalive_drain();
            }
            SessionState::ShutDown => unreachable!("checked above"),
        }
    }

    /// 8.6: runs on the thread that called `notify_disconnected`, or the one
    /// that requested detach/shutdown of a never-attached session.
    fn detach_sequence(&self, result: Result<(), Error>) {
        let _marker = Marker::enter(self.id());
        // Step 1.
        let (ca, managers, shutdown_requested, on_disconnect) = {
            let mut st = lock(&self.state);
            if std::mem::replace(&mut st.disconnect_seen, true) {
                drop(st);
                self.report_error(contract(
                    "controller access notified the disconnection more than once",
                ));
                return;
            }
            st.target = Some(
                st.target
                    .map_or(SessionState::Detached, |t| t.max(SessionState::Detached)),
            );
            let ca = lock(&self.ca).take();
            st.current = SessionState::Detached;
            if let Err(e) = &result {
                st.report.disconnect_error = Some(e.clone());
            }
            (
                ca,
                st.managers.clone(),
                st.target == Some(SessionState::ShutDown),
                st.on_disconnect.take(),
            )
        };
        // Step 2: the disconnect report, exactly once.
        match on_disconnect {
            Some(handler) => self.contain("on-disconnect handler", || handler(result)),
            None => {
                if let Err(e) = result {
                    self.report_error(e);
                }
            }
        }
        // Step 3: the handler could still rely on the controller access.
        drop(ca);
        // Step 4, then 5 and 6.
        chain::drive(Chain::new(
            self.clone(),
            managers,
            Step::Detach { shutdown_requested },
            Box::new(|shared| shared.finish_detach()),
        ));
    }

    fn finish_detach(&self) {
        // Step 5: on-detach callbacks, newest first.
        let callbacks = {
            let mut st = lock(&self.state);
            st.detach_callbacks_ran = true;
            std::mem::take(&mut st.on_detach)
        };
        for cb in callbacks.into_iter().rev() {
            self.contain("on-detach callback", cb);
        }
        // Step 6.
        let mut st = lock(&self.state);
        if st.target == Some(SessionState::Detached) {
            st.target = None;
            drop(st);
            self.changed.notify_all();
            return;
        }
        drop(st);
        self.keepalive_drain();
    }

    /// spec 8.7 step 1: close the scope, stop the dispatcher, wait for guards.
    fn keepalive_drain(&self) {
        let _marker = Marker::enter(self.id());
        // Our own count keeps the completion from firing before the
        // dispatcher is down (its tasks, or its own guard, hold counts too).
        let hold = self.scope.retain();
        debug_assert!(hold.is_some(), "only the drain closes the scope");
        let shared = self.clone();
        let drainer = crate::sync::thread::current().id();
        self.scope.add_on_complete(move || {
            if crate::sync::thread::current().id() != drainer {
                crate::probe::hit(crate::probe::LAST_GUARD_ON_ANOTHER_THREAD);
            }
            shared.proceed_to_shutdown()
        });
        self.scope.close();
        let dispatcher = lock(&self.dispatcher).take();
        if let Some(d) = dispatcher {
            self.contain("dispatcher shutdown", || d.shutdown());
            drop(d);
        }
        drop(hold);
    }

    /// spec 8.7 steps 2–3: on the thread that released the last guard.
    fn proceed_to_shutdown(&self) {
        let managers = {
            let mut st = lock(&self.state);
            st.current = SessionState::ShutDown;
            st.managers.clone()
        };
        chain::drive(Chain::new(
            self.clone(),
            managers,
            Step::Shutdown,
            Box::new(|shared| {
                lock(&shared.state).managers_shut_down = true;
                shared.finish_shutdown_when_ready();
            }),
        ));
    }

    /// A manager added late finished its detach and, if the session is
    /// shutting down, its shutdown.
    fn late_manager_done(&self) {
        lock(&self.state).late_pending -= 1;
        self.finish_shutdown_when_ready();
    }

    /// spec 8.7 steps 4–5, once every manager is shut down, late ones
    /// included; exactly once, on the thread that completed the last.
    fn finish_shutdown_when_ready(&self) {
        let (callbacks, report) = {
            let mut st = lock(&self.state);
            if st.managers_shut_down && st.late_pending > 0 {
                crate::probe::hit(crate::probe::SHUTDOWN_WAITED_FOR_LATE_MANAGER);
            }
            if !st.managers_shut_down || st.late_pending > 0 || st.shutdown_callbacks_ran {
                return;
            }
            st.shutdown_callbacks_ran = true;
            (std::mem::take(&mut st.on_shutdown), st.report.clone())
        };
        for cb in callbacks.into_iter().rev() {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| cb(&report))) {
                // The report was already handed out: tell the reporter.
                self.report_error(Error::from_panic("on-shutdown callback", payload.as_ref()));
            }
        }
        let leftovers = {
            let mut st = lock(&self.state);
            st.target = None;
            if st.owner_dropped {
                Some(self.release_owned(&mut st))
            } else {
                None
            }
        };
        self.changed.notify_all();
        if let Some(owned) = leftovers {
            owned.release(self);
        }
    }

    /// After shutdown with the owner gone: hands out what the session owns
    /// (dropped by the caller, outside the lock) so that reference cycles
    /// through managers and handlers are broken, and the errors nobody will
    /// see otherwise (reported by the caller, outside the lock).
    fn release_owned(&self, st: &mut State) -> Owned {
        let unreported = if st.report_observed {
            Vec::new()
        } else {
            st.report_observed = true;
            st.report.errors.clone()
        };
        Owned {
            managers: std::mem::take(&mut st.managers),
            wrappers: std::mem::take(&mut *write(&self.wrappers)),
            unreported,
        }
    }
}

/// A continuation of a controller call with its result and guard: runs
/// exactly once, when run or else when dropped (see
/// `SharedArc::dispatch_continuation`).
struct Continuation {
    f: Option<Box<dyn FnOnce(WrapperFunctionBuffer) + Send + 'static>>,
    result: Option<WrapperFunctionBuffer>,
    session: usize,
    guard: Option<ExecutionScopeGuard>,
}

impl Continuation {
    fn run(mut self) {
        self.complete();
    }

    fn complete(&mut self) {
        if let (Some(f), Some(result)) = (self.f.take(), self.result.take()) {
            let _marker = Marker::enter(self.session);
            f(result);
        }
        // The guard goes last: the continuation ran inside the scope.
        drop(self.guard.take());
    }
}

impl Drop for Continuation {
    fn drop(&mut self) {
        if self.f.is_some() {
            crate::probe::hit(crate::probe::CONTINUATION_OF_DROPPED_TASK);
        }
        self.complete();
    }
}

/// Where a blocking controller call's answer lands.
#[derive(Default)]
struct ReplySlot {
    answer: Mutex<Option<WrapperFunctionBuffer>>,
    arrived: Condvar,
}

impl ReplySlot {
    fn put(&self, answer: WrapperFunctionBuffer) {
        *lock(&self.answer) = Some(answer);
        self.arrived.notify_all();
    }

    fn wait(&self) -> WrapperFunctionBuffer {
        let mut answer = lock(&self.answer);
        loop {
            if let Some(a) = answer.take() {
                return a;
            }
            answer = wait(&self.arrived, answer);
        }
    }
}

/// The continuation's hold on a [`ReplySlot`]. Dropped without being run,
/// it still answers, with an error: a thread blocked in the call must not
/// wait forever (and the shutdown may wait for that thread).
struct Reply(Option<Arc<ReplySlot>>);

impl Reply {
    fn send(mut self, answer: WrapperFunctionBuffer) {
        if let Some(slot) = self.0.take() {
            slot.put(answer);
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if let Some(slot) = self.0.take() {
            slot.put(WrapperFunctionBuffer::from_error(&Error::detached()));
        }
    }
}

struct Owned {
    managers: Vec<Arc<ManagerSlot>>,
    wrappers: HashMap<ExecutorAddr, WrapperTarget>,
    unreported: Vec<Error>,
}

impl Owned {
    fn release(self, shared: &SharedArc) {
        for e in self.unreported {
            shared.report_error(e);
        }
        drop(self.managers);
        drop(self.wrappers);
    }
}

/// A handle to a session: clonable, shares the session, never shuts it down
/// by being dropped (the [`Session`] owner does). Everything a session can do
/// is here; `Session` derefs to it.
#[derive(Clone)]
pub struct SessionHandle {
    shared: SharedArc,
}

impl CallOwner for SharedArc {
    fn abandoned_controller_call(&self, f: ReturnFn) {
        SharedArc::abandoned_controller_call(self, f);
    }
}

// Defined here, next to what they read: the connection's types name no
// session type (`controller_access::interface`), nor does the scope.
impl BootstrapInfo {
    /// What every executor announces (upstream `BootstrapInfo::CreateDefault`
    /// without its builders): the symbol [`SESSION_INSTANCE_SYMBOL`] at the
    /// session's C reference ([`SessionHandle::as_raw`]), and the value
    /// [`SUBTARGET_FEATURES_KEY`] = the session's
    /// [`ProcessInfo::target_cpu_features`](crate::ProcessInfo::target_cpu_features)
    /// (the raw string; empty if none were detected). Add services'
    /// symbols and values to the result before attaching.
    ///
    /// ```
    /// use orc_rt::controller_access::{BootstrapInfo, SESSION_INSTANCE_SYMBOL, SUBTARGET_FEATURES_KEY};
    /// use orc_rt::{ExecutorAddr, ProcessInfo, Session, dispatcher::InlineDispatcher};
    /// let session = Session::builder()
    ///     .dispatcher(InlineDispatcher)
    ///     .process_info(ProcessInfo::new("x86_64-unknown-linux-gnu", 4096).with_cpu_features("+sse2"))
    ///     .build()
    ///     .unwrap();
    /// let bi = BootstrapInfo::default_for(&session);
    /// assert_eq!(bi.symbols.get(SESSION_INSTANCE_SYMBOL), Some(ExecutorAddr::from_ptr(session.as_raw())));
    /// assert_eq!(bi.values[SUBTARGET_FEATURES_KEY], "+sse2");
    /// ```
    pub fn default_for(session: &SessionHandle) -> Self {
        let mut info = BootstrapInfo::new();
        info.symbols.map.insert(
            SESSION_INSTANCE_SYMBOL.to_owned(),
            ExecutorAddr::from_ptr(session.as_raw()),
        );
        info.values.insert(
            SUBTARGET_FEATURES_KEY.to_owned(),
            session.process_info().target_cpu_features.clone(),
        );
        info
    }
}

impl ExecutionScopeGuard {
    /// The session whose scope this guard holds (upstream
    /// `ExecutionScopeGuard::getSession`): `None` for an empty guard and for
    /// a guard of a standalone [`ExecutionScope`].
    ///
    /// ```
    /// # use orc_rt::{Session, dispatcher::InlineDispatcher};
    /// let session = Session::builder().dispatcher(InlineDispatcher).build().unwrap();
    /// let guard = session.try_enter_scope().unwrap();
    /// let s = guard.session().expect("a session's guard");
    /// assert_eq!(s.as_raw(), session.as_raw());
    /// ```
    pub fn session(&self) -> Option<SessionHandle> {
        self.owner()
    }
}

/// Tells the controller access that the handler of the controller's call
/// `call_id` is done, when dropped ([`ControllerAccess::wrapper_handler_returned`]).
struct HandlerReturned {
    shared: SharedArc,
    call_id: u64,
}

impl Drop for HandlerReturned {
    fn drop(&mut self) {
        let ca = lock(&self.shared.ca).clone();
        if let Some(ca) = ca {
            ca.wrapper_handler_returned(self.call_id);
        }
    }
}

impl SessionHandle {
    /// The process the session runs in.
    pub fn process_info(&self) -> &ProcessInfo {
        &self.shared.process_info
    }

    /// Where the session is in its lifecycle (a snapshot).
    pub fn state(&self) -> SessionState {
        lock(&self.shared.state).current
    }

    /// True once shutdown completed (state `ShutDown`, nothing in progress).
    pub fn is_shut_down(&self) -> bool {
        Shared::is_finished(&lock(&self.shared.state))
    }

    /// Reports `err` through the session's error reporter.
    pub fn report_error(&self, err: Error) {
        self.shared.report_error(err);
    }

    /// The C handle of this session (`orc_rt_SessionRef`), valid while the
    /// session's shared state lives (at least as long as this handle).
    pub fn as_raw(&self) -> orc_rt_SessionRef {
        abi::session_ref(&self.shared)
    }

    // ---- configuration -------------------------------------------------------

    /// Sets the handler told how the controller connection ended, exactly
    /// once (spec 8.6 step 2); without one, an abnormal end goes to the reporter.
    /// Only before [`attach`](Self::attach).
    pub fn set_on_disconnect(
        &self,
        handler: impl FnOnce(Result<(), Error>) + Send + 'static,
    ) -> Result<(), Error> {
        let mut st = lock(&self.shared.state);
        if st.current != SessionState::Start || st.target.is_some() {
            return Err(contract("set_on_disconnect must be called before attach"));
        }
        st.on_disconnect = Some(Box::new(handler));
        Ok(())
    }

    /// Adds a resource manager (upstream `addService`). Before detach it is
    /// appended; added later, its `detach` runs at once, and its `shutdown`
    /// too once the session is shutting down. A manager added while the
    /// session drains is still shut down before the on-shutdown callbacks
    /// run, however late its detach completes; one added after shutdown
    /// completed is detached and shut down at once. The session keeps it
    /// either way.
    pub fn add_resource_manager(&self, rm: impl ResourceManager + 'static) {
        self.add_boxed_resource_manager(Box::new(rm));
    }

    /// [`add_resource_manager`](Self::add_resource_manager) for a boxed manager.
    pub fn add_boxed_resource_manager(&self, rm: Box<dyn ResourceManager>) {
        let slot = Arc::new(ManagerSlot {
            name: rm.name().to_owned(),
            inner: Mutex::new(ManagerInner {
                rm,
                detached: false,
                shut_down: false,
            }),
        });
        let mut st = lock(&self.shared.state);
        if st.current < SessionState::Detached {
            st.managers.push(slot);
            return;
        }
        // Added late: detach it now; only then does it join the list, so
        // the shutdown chain cannot reach it before its detach was called.
        // Until it is done (detached, and shut down if the session is
        // shutting down) the on-shutdown callbacks wait for it.
        let shutdown_requested = st.target == Some(SessionState::ShutDown);
        let counted = !st.shutdown_callbacks_ran;
        if counted {
            st.late_pending += 1;
        }
        drop(st);
        let slot_for_detach = slot.clone();
        let then: chain::Then = Box::new(move |shared: &SharedArc| {
            let mut st = lock(&shared.state);
            st.managers.push(slot.clone());
            // If the shutdown chain already took its snapshot, this manager
            // is not in it: shut it down here (the flag in its slot makes
            // sure only one of the two does).
            let shut_down = st.current == SessionState::ShutDown;
            drop(st);
            let done: chain::Then = Box::new(move |shared: &SharedArc| {
                if counted {
                    shared.late_manager_done();
                }
            });
            if shut_down {
                chain::drive(Chain::new(shared.clone(), vec![slot], Step::Shutdown, done));
            } else {
                done(shared);
            }
        });
        chain::drive(Chain::new(
            self.shared.clone(),
            vec![slot_for_detach],
            Step::Detach { shutdown_requested },
            then,
        ));
    }

    /// Registers an asynchronous C wrapper function under its own address,
    /// which the session returns: a controller call to that address runs `f`
    /// with the asynchronous ABI instead of the legacy one.
    ///
    /// `f` must keep the `orc_rt_WrapperFunction` contract (call `Return`
    /// exactly once with its `S` and `CallId`).
    pub fn register_async_wrapper(&self, f: orc_rt_WrapperFunction) -> ExecutorAddr {
        let addr = abi::async_wrapper_addr(f);
        write(&self.shared.wrappers).insert(addr, WrapperTarget::AsyncC(f));
        addr
    }

    /// Registers a Rust handler and returns the address the controller calls
    /// it by (the address of the handler's allocation: unique and stable for
    /// the session's life; never called as code). See
    /// [`SpsWrapperFunction`](crate::wrapper::SpsWrapperFunction) for typed
    /// handlers.
    pub fn register_wrapper(
        &self,
        handler: impl Fn(WrapperFunctionBuffer, WrapperReturn) + Send + Sync + 'static,
    ) -> ExecutorAddr {
        self.register(WrapperEntry::new(handler))
    }

    /// Registers a wrapper function with its declared properties (see
    /// [`WrapperEntry`]) and returns the address the controller calls it by
    /// (the address of the registration's allocation: unique and stable for
    /// the session's life; never called as code).
    pub fn register(&self, entry: WrapperEntry) -> ExecutorAddr {
        let entry = std::sync::Arc::new(entry);
        let addr = ExecutorAddr::from_ptr(std::sync::Arc::as_ptr(&entry));
        write(&self.shared.wrappers).insert(addr, WrapperTarget::Rust(entry));
        addr
    }

    /// Registers every entry of `table` and returns their names and
    /// addresses, to publish as bootstrap symbols.
    pub fn register_table(&self, table: WrapperTable) -> SymbolTable {
        let published: Vec<(String, ExecutorAddr)> = table
            .into_entries()
            .into_iter()
            .map(|(name, entry)| (name, self.register(entry)))
            .collect();
        let mut symbols = SymbolTable::new();
        symbols
            .add_unique(published)
            .expect("each registration has an address of its own");
        symbols
    }

    /// Registers a Rust handler under a chosen address (deterministic
    /// addresses for simulations and transcripts). Fails if the address is
    /// null or taken.
    pub fn register_wrapper_at(
        &self,
        addr: ExecutorAddr,
        handler: impl Fn(WrapperFunctionBuffer, WrapperReturn) + Send + Sync + 'static,
    ) -> Result<(), Error> {
        self.register_at(addr, WrapperEntry::new(handler))
    }

    /// [`register`](Self::register) under a chosen address. Fails if the
    /// address is null or taken.
    pub fn register_at(&self, addr: ExecutorAddr, entry: WrapperEntry) -> Result<(), Error> {
        if addr.is_null() {
            return Err(contract("cannot register a wrapper function at address 0"));
        }
        let mut wrappers = write(&self.shared.wrappers);
        if wrappers.contains_key(&addr) {
            return Err(contract(&format!(
                "a wrapper function is already registered at {addr}"
            )));
        }
        wrappers.insert(addr, WrapperTarget::Rust(std::sync::Arc::new(entry)));
        Ok(())
    }

    /// How an incoming call to `addr` would run.
    pub fn wrapper_kind(&self, addr: ExecutorAddr) -> WrapperKind {
        match read(&self.shared.wrappers).get(&addr) {
            Some(WrapperTarget::AsyncC(_)) => WrapperKind::AsyncC,
            Some(WrapperTarget::Rust(_)) => WrapperKind::Rust,
            None if self.shared.unregistered.is_some() && !addr.is_null() => {
                WrapperKind::Unregistered
            }
            None => WrapperKind::Unhandled,
        }
    }

    // ---- lifecycle -------------------------------------------------------------

    /// The hooks a controller access uses to talk to this session.
    pub fn hooks(&self) -> SessionHooks {
        SessionHooks {
            shared: self.shared.clone(),
        }
    }

    /// Attaches `ca` and calls its `connect` (8.3). At most once, from the
    /// `Start` state, never after detach or shutdown was requested: those
    /// are contract violations, returned as [`ErrorKind::InvalidArgument`]
    /// without touching `ca`.
    pub fn attach(
        &self,
        ca: std::sync::Arc<dyn ControllerAccess>,
        bootstrap: BootstrapInfo,
    ) -> Result<(), Error> {
        {
            let mut st = lock(&self.shared.state);
            if st.current != SessionState::Start || st.target.is_some() {
                return Err(contract(
                    "attach: a session is attached at most once, before detach or shutdown",
                ));
            }
            *lock(&self.shared.ca) = Some(ca.clone());
            st.target = Some(SessionState::Attached);
        }
        ca.connect(bootstrap);
        let mut st = lock(&self.shared.state);
        if st.target == Some(SessionState::Attached) {
            st.current = SessionState::Attached;
            st.target = None;
            return Ok(());
        }
        if st.current >= SessionState::Detached {
            // Connecting failed and was already notified.
            return Ok(());
        }
        // Detach or shutdown was requested while connecting.
        st.current = SessionState::Attached;
        drop(st);
        ca.disconnect();
        Ok(())
    }

    /// Builds a controller access from this session's hooks and attaches it
    /// (upstream `tryAttach`): `factory` errors are returned, nothing attached.
    pub fn attach_with<C, F>(
        &self,
        bootstrap: BootstrapInfo,
        factory: F,
    ) -> Result<std::sync::Arc<C>, Error>
    where
        C: ControllerAccess + 'static,
        F: FnOnce(SessionHooks) -> Result<std::sync::Arc<C>, Error>,
    {
        let ca = factory(self.hooks())?;
        self.attach(ca.clone(), bootstrap)?;
        Ok(ca)
    }

    /// Requests detach: the controller access is disconnected (if attached),
    /// then every manager's `detach` runs (8.4). Returns at once; idempotent.
    pub fn detach(&self) {
        self.shared.request_detach();
    }

    /// Registers `callback` to run once detach completed (after every
    /// manager's `detach`, newest registration first); runs it now if that
    /// already happened. Callbacks may request shutdown; they must not wait
    /// for it.
    pub fn add_on_detach(&self, callback: impl FnOnce() + Send + 'static) {
        let mut st = lock(&self.shared.state);
        if st.detach_callbacks_ran {
            drop(st);
            self.shared.contain("on-detach callback", callback);
        } else {
            st.on_detach.push(Box::new(callback));
        }
    }

    /// Requests shutdown (8.5) and returns at once. From any thread, any
    /// number of times, also from callbacks and tasks: it happens once.
    pub fn shutdown(&self) {
        self.shared.request_shutdown(None);
    }

    /// Requests shutdown and registers `callback` to run with the report once
    /// it completed (immediately if it already did).
    pub fn shutdown_then(&self, callback: impl FnOnce(&ShutdownReport) + Send + 'static) {
        self.shared.request_shutdown(Some(Box::new(callback)));
    }

    /// Registers `callback` to run with the report once shutdown completed,
    /// after every manager's `shutdown`, newest registration first (runs it
    /// now if that already happened). Does not request shutdown.
    pub fn add_on_shutdown(&self, callback: impl FnOnce(&ShutdownReport) + Send + 'static) {
        let mut st = lock(&self.shared.state);
        st.report_observed = true;
        if st.shutdown_callbacks_ran {
            let report = st.report.clone();
            drop(st);
            self.shared
                .contain("on-shutdown callback", || callback(&report));
        } else {
            st.on_shutdown.push(Box::new(callback));
        }
    }

    /// Requests shutdown and blocks until it completed; returns the report.
    ///
    /// From a thread that is inside this session's work (a dispatched task,
    /// which holds a guard, or a detach/shutdown step or callback) waiting
    /// would never end: shutdown is still requested, but this returns
    /// [`ErrorKind::InvalidArgument`] at once instead of deadlocking.
    pub fn wait_for_shutdown(&self) -> Result<ShutdownReport, Error> {
        self.shutdown();
        if markers::is_active(self.shared.id()) {
            return Err(contract(
                "wait_for_shutdown called from inside the session's own work (a dispatched task or a detach/shutdown callback): \
                 waiting would deadlock; shutdown was requested and completes when this work returns",
            ));
        }
        if markers::holds_taken_guards(self.shared.id()) {
            return Err(contract(
                "wait_for_shutdown called on a thread that took an execution-scope guard still alive: \
                 waiting would deadlock while this thread holds it; shutdown was requested and completes when the guard is dropped",
            ));
        }
        let mut st = lock(&self.shared.state);
        st.report_observed = true;
        while !Shared::is_finished(&st) {
            st = wait(&self.shared.changed, st);
        }
        Ok(st.report.clone())
    }

    // ---- execution scope -------------------------------------------------------

    /// Enters the execution scope; fails with [`ErrorKind::ShuttingDown`]
    /// once shutdown has begun draining it. Hold the guard while running
    /// JIT'd code (or code loaded for it).
    ///
    /// Until the guard (and every clone of it) is dropped, wherever that
    /// happens, this thread's [`wait_for_shutdown`](Self::wait_for_shutdown)
    /// fails at once instead of waiting for itself. A guard meant for
    /// another thread while this one waits comes from
    /// [`scope_source`](Self::scope_source), which counts for no thread.
    #[inline]
    pub fn try_enter_scope(&self) -> Result<ExecutionScopeGuard, Error> {
        let guard = self.shared.scope.try_enter()?;
        Ok(guard.counted_in(markers::taken_guards(self.shared.id())))
    }

    /// Runs `f` inside the execution scope: `Some(f())`, or `None` without
    /// calling `f` once shutdown has begun.
    ///
    /// The thread counts as inside the session's work while `f` runs, so a
    /// [`wait_for_shutdown`](Self::wait_for_shutdown) from `f` fails instead
    /// of deadlocking (as it does on a thread holding a guard from
    /// [`try_enter_scope`](Self::try_enter_scope)).
    pub fn call_with_keepalive<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        let _guard = self.shared.scope.retain()?;
        let _marker = Marker::enter(self.shared.id());
        Some(f())
    }

    /// A source of guards that does not keep the session alive by itself and
    /// holds no count (upstream `keepaliveTokenSource`).
    pub fn scope_source(&self) -> ExecutionScopeSource {
        self.shared.scope.source()
    }

    pub(crate) fn scope(&self) -> &ExecutionScope {
        &self.shared.scope
    }

    /// A handle to the session behind a C reference.
    ///
    /// # Safety
    /// `s` must be the `orc_rt_SessionRef` of a session whose shared state
    /// is alive (see [`as_raw`](Self::as_raw)).
    #[allow(unsafe_code, reason = "turns a C session reference back into a handle")]
    pub(crate) unsafe fn from_raw(s: orc_rt_SessionRef) -> SessionHandle {
        SessionHandle {
            // SAFETY: (caller) `s` refers to live shared state.
            shared: unsafe { abi::shared_from_ref(s) },
        }
    }

    /// Keeps `owner` (this session's owner) alive inside the session until
    /// [`take_c_owner`](Self::take_c_owner): the C API owns sessions this way.
    pub(crate) fn adopt_c_owner(owner: Session) -> orc_rt_SessionRef {
        let s = owner.as_raw();
        let slot = owner.shared.clone();
        *lock(&slot.c_owner) = Some(owner);
        s
    }

    /// Takes back the owner stored by [`adopt_c_owner`](Self::adopt_c_owner).
    pub(crate) fn take_c_owner(&self) -> Option<Session> {
        lock(&self.shared.c_owner).take()
    }

    // ---- calls --------------------------------------------------------------------

    /// Calls the controller's handler for `tag`; `on_complete` runs exactly
    /// once: with the result, with the out-of-band error `"disconnected"`
    /// (dispatched if the call was pending, inline if the connection was
    /// already closing), or inline with `"no controller attached"`.
    pub fn call_controller(
        &self,
        tag: ExecutorAddr,
        args: WrapperFunctionBuffer,
        on_complete: impl FnOnce(WrapperFunctionBuffer) + Send + 'static,
    ) {
        self.shared
            .call_controller(tag, args, Box::new(on_complete), false);
    }

    /// Calls the controller's handler for `tag` and blocks this thread
    /// until the result arrives (the synchronous form JIT'd code calls the
    /// controller with). The result is handed over on the thread that
    /// delivers it, without a dispatched task; a continuation the session
    /// drops without running still answers, with the out-of-band error
    /// `"disconnected"`, so the caller never waits forever.
    pub fn call_controller_blocking(
        &self,
        tag: ExecutorAddr,
        args: WrapperFunctionBuffer,
    ) -> WrapperFunctionBuffer {
        let slot = Arc::new(ReplySlot::default());
        let reply = Reply(Some(slot.clone()));
        self.shared
            .call_controller(tag, args, Box::new(move |result| reply.send(result)), true);
        slot.wait()
    }

    /// Dispatches `task` on the session's dispatcher under a fresh guard;
    /// fails with [`ErrorKind::ShuttingDown`] (without running it) once the
    /// scope is closed.
    pub fn dispatch(&self, task: impl FnOnce() + Send + 'static) -> Result<(), Error> {
        let guard = self.shared.scope.try_enter()?;
        let id = self.shared.id();
        self.shared.dispatch(Box::new(move || {
            let _marker = Marker::enter(id);
            task();
            drop(guard);
        }));
        Ok(())
    }
}

impl fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.shared.state);
        f.debug_struct("Session")
            .field("state", &st.current)
            .field("target", &st.target)
            .field("managers", &st.managers.len())
            .finish()
    }
}

/// What a controller access gets from the session (spec 7,
/// "provided to implementations"). Clonable; keeps the session's shared
/// state alive, not the session itself.
#[derive(Clone)]
pub struct SessionHooks {
    shared: SharedArc,
}

impl SessionHooks {
    /// Reports a non-terminal error (the terminal one goes to
    /// [`notify_disconnected`](Self::notify_disconnected)).
    pub fn report_error(&self, err: Error) {
        self.shared.report_error(err);
    }

    /// The connection ended: `Ok` orderly, `Err` abnormal. Exactly once;
    /// runs the detach sequence on this thread (8.6).
    pub fn notify_disconnected(&self, result: Result<(), Error>) {
        self.shared.detach_sequence(result);
    }

    /// An incoming call of the wrapper function at `fn_addr`: dispatched
    /// under a fresh guard, or dropped if shutdown has begun (8.9). The
    /// result comes back through
    /// [`ControllerAccess::send_wrapper_result`] with `call_id`.
    pub fn handle_wrapper_call(
        &self,
        fn_addr: ExecutorAddr,
        args: WrapperFunctionBuffer,
        call_id: u64,
    ) {
        self.shared.handle_wrapper_call(fn_addr, args, call_id);
    }

    /// The controller returned `result` for a pending call: the continuation
    /// is dispatched under a fresh guard. Only before `notify_disconnected`.
    pub fn complete_call(&self, ret: ControllerCallReturn, result: WrapperFunctionBuffer) {
        self.shared.complete_call(ret, result);
    }

    /// The disconnect drain: fails a pending call with `"disconnected"`,
    /// dispatched like a result. Before `notify_disconnected`.
    pub fn fail_pending_call(&self, ret: ControllerCallReturn) {
        self.shared.fail_pending_call(ret);
    }

    /// Fails a call entered while already disconnecting: runs its
    /// continuation now, on this thread, with `"disconnected"`. Only from
    /// inside [`ControllerAccess::call_controller`].
    pub fn fail_call_inline(&self, ret: ControllerCallReturn) {
        crate::probe::hit(crate::probe::CALL_FAILED_WHILE_DISCONNECTING);
        let (f, _) = ret.take();
        f(WrapperFunctionBuffer::from_error(&Error::detached()));
    }

    /// The streamed-arguments handler the wrapper function at `fn_addr`
    /// declared, if any (see [`WrapperEntry::with_streamed_args`]): a
    /// transport may hand it a large payload as it arrives, before
    /// delivering the call with the argument bytes it returns.
    pub fn streamed_args(&self, fn_addr: ExecutorAddr) -> Option<std::sync::Arc<dyn StreamedArgs>> {
        match read(&self.shared.wrappers).get(&fn_addr) {
            Some(WrapperTarget::Rust(entry)) => entry.streamed_args(),
            _ => None,
        }
    }

    /// A handle to the session (e.g. for the session reference passed to C).
    pub fn session(&self) -> SessionHandle {
        SessionHandle {
            shared: self.shared.clone(),
        }
    }
}

impl fmt::Debug for SessionHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionHooks").finish_non_exhaustive()
    }
}

/// The owner of a session. Dropping it shuts the session down and waits for
/// that to complete (from inside the session's own work it only requests
/// shutdown: see [`SessionHandle::wait_for_shutdown`]). Derefs to
/// [`SessionHandle`], which has the whole API.
pub struct Session {
    handle: SessionHandle,
}

impl Session {
    /// A builder with the defaults: a thread pool, a reporter that logs via
    /// `tracing`, no calls to unregistered addresses.
    pub fn builder() -> SessionBuilder {
        SessionBuilder::default()
    }

    /// The spec's constructor (8.1): process info, dispatcher, error reporter.
    pub fn new(
        process_info: ProcessInfo,
        dispatcher: impl TaskDispatcher + 'static,
        report_error: impl Fn(Error) + Send + Sync + 'static,
    ) -> Self {
        Session::from_parts(
            process_info,
            std::sync::Arc::new(dispatcher),
            Box::new(report_error),
            None,
        )
    }

    fn from_parts(
        process_info: ProcessInfo,
        dispatcher: std::sync::Arc<dyn TaskDispatcher>,
        reporter: Reporter,
        unregistered: Option<UnregisteredCall>,
    ) -> Self {
        let shared = SharedArc(Arc::new(Shared {
            state: Mutex::new(State {
                current: SessionState::Start,
                target: None,
                managers: Vec::new(),
                on_disconnect: None,
                disconnect_seen: false,
                on_detach: Vec::new(),
                detach_callbacks_ran: false,
                on_shutdown: Vec::new(),
                shutdown_callbacks_ran: false,
                late_pending: 0,
                managers_shut_down: false,
                report: ShutdownReport::default(),
                report_observed: false,
                owner_dropped: false,
            }),
            changed: Condvar::new(),
            scope: ExecutionScope::new(),
            ca: Mutex::new(None),
            dispatcher: Mutex::new(Some(dispatcher)),
            wrappers: RwLock::new(HashMap::new()),
            unregistered,
            reporter,
            process_info,
            c_owner: Mutex::new(None),
        }));
        // Lets a guard name its session (`ExecutionScopeGuard::session`).
        let link = SessionHandle {
            shared: shared.clone(),
        };
        shared.scope.set_owner(Box::new(link));
        Session {
            handle: SessionHandle { shared },
        }
    }

    /// A handle sharing this session.
    pub fn handle(&self) -> SessionHandle {
        self.handle.clone()
    }
}

impl std::ops::Deref for Session {
    type Target = SessionHandle;
    fn deref(&self) -> &SessionHandle {
        &self.handle
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.handle.fmt(f)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let shared = &self.handle.shared;
        shared.request_shutdown(None);
        let inside = markers::is_active(shared.id());
        let mut st = lock(&shared.state);
        if !inside {
            while !Shared::is_finished(&st) {
                st = wait(&shared.changed, st);
            }
        }
        st.owner_dropped = true;
        let leftovers = Shared::is_finished(&st).then(|| shared.release_owned(&mut st));
        drop(st);
        if let Some(owned) = leftovers {
            owned.release(shared);
        }
    }
}

/// Configures a [`Session`].
#[derive(Default)]
pub struct SessionBuilder {
    process_info: ProcessInfo,
    dispatcher: Option<DispatcherChoice>,
    reporter: Option<Reporter>,
    unregistered: Option<UnregisteredCall>,
    thread_pool_size: Option<usize>,
}

enum DispatcherChoice {
    Ready(std::sync::Arc<dyn TaskDispatcher>),
    WithScope(Box<dyn FnOnce(ExecutionScopeGuard) -> std::sync::Arc<dyn TaskDispatcher>>),
}

impl SessionBuilder {
    /// The process info announced to the controller.
    pub fn process_info(mut self, info: ProcessInfo) -> Self {
        self.process_info = info;
        self
    }

    /// Runs tasks on `dispatcher` instead of the default thread pool.
    pub fn dispatcher(mut self, dispatcher: impl TaskDispatcher + 'static) -> Self {
        self.dispatcher = Some(DispatcherChoice::Ready(std::sync::Arc::new(dispatcher)));
        self
    }

    /// Runs tasks on a shared dispatcher (e.g. a [`QueueingDispatcher`]
    /// whose other clone a scheduler drains).
    ///
    /// [`QueueingDispatcher`]: crate::dispatcher::QueueingDispatcher
    pub fn shared_dispatcher(mut self, dispatcher: std::sync::Arc<dyn TaskDispatcher>) -> Self {
        self.dispatcher = Some(DispatcherChoice::Ready(dispatcher));
        self
    }

    /// The seed's pattern: a dispatcher that holds one execution-scope guard
    /// for all its work. `make` gets that guard; the session shuts the
    /// dispatcher down and drops it (releasing the guard) before it waits
    /// for the scope to drain.
    pub fn dispatcher_holding_guard<D: TaskDispatcher + 'static>(
        mut self,
        make: impl FnOnce(ExecutionScopeGuard) -> D + 'static,
    ) -> Self {
        self.dispatcher = Some(DispatcherChoice::WithScope(Box::new(move |g| {
            std::sync::Arc::new(make(g))
        })));
        self
    }

    /// Worker threads of the default thread pool (default: available CPUs).
    pub fn thread_pool_size(mut self, workers: usize) -> Self {
        self.thread_pool_size = Some(workers);
        self
    }

    /// Where errors go that have no caller to return to (may be called
    /// concurrently from several threads).
    pub fn error_reporter(mut self, report: impl Fn(Error) + Send + Sync + 'static) -> Self {
        self.reporter = Some(Box::new(report));
        self
    }

    /// How a controller call to a (non-null) address with no registered
    /// wrapper function runs: `call(addr, args)` on a dispatched task gives
    /// the result. An executor calls JIT'd code there with LLVM 22's legacy
    /// ABI (an LLVM 22 controller calls the ORC runtime's wrapper functions
    /// by address). Without it, such a call fails with an out-of-band error:
    /// nothing is called that was not registered.
    pub fn call_unregistered_with(
        mut self,
        call: impl Fn(ExecutorAddr, &[u8]) -> WrapperFunctionBuffer + Send + Sync + 'static,
    ) -> Self {
        self.unregistered = Some(std::sync::Arc::new(call));
        self
    }

    /// Builds the session (spawning the default thread pool if no dispatcher
    /// was given).
    pub fn build(self) -> Result<Session, Error> {
        let reporter = self.reporter.unwrap_or_else(|| {
            Box::new(|e: Error| tracing::error!(kind = %e.kind(), "orc-rt session: {e}"))
        });
        let (ready, with_scope) = match self.dispatcher {
            Some(DispatcherChoice::Ready(d)) => (d, None),
            Some(DispatcherChoice::WithScope(make)) => {
                let placeholder: std::sync::Arc<dyn TaskDispatcher> =
                    std::sync::Arc::new(crate::dispatcher::InlineDispatcher);
                (placeholder, Some(make))
            }
            None => {
                let pool = match self.thread_pool_size {
                    Some(n) => ThreadPoolDispatcher::new(n)?,
                    None => ThreadPoolDispatcher::with_available_parallelism()?,
                };
                let d: std::sync::Arc<dyn TaskDispatcher> = std::sync::Arc::new(pool);
                (d, None)
            }
        };
        let session = Session::from_parts(self.process_info, ready, reporter, self.unregistered);
        if let Some(make) = with_scope {
            let guard = session.scope().try_enter()?;
            *lock(&session.shared.dispatcher) = Some(make(guard));
        }
        Ok(session)
    }
}

impl fmt::Debug for SessionBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionBuilder")
            .field("process_info", &self.process_info)
            .field("call_unregistered", &self.unregistered.is_some())
            .finish_non_exhaustive()
    }
}
