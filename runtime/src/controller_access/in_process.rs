//! A controller access whose controller lives in the same process (upstream
//! `InProcessControllerAccess`): for tests, loom models and embedding.
//!
//! The "controller" side is an [`InProcessController`] that answers the
//! executor's calls, plus [`InProcessControllerAccess::call_executor`] and
//! [`InProcessControllerAccess::hangup`] for the controller's own actions.
//!
//! Disconnection follows the spec's recipe (section 7): stop accepting,
//! wait until no message is in flight, fail every pending executor call with
//! `"disconnected"`, then notify the session. The wait does not block: the
//! last in-flight message to finish performs the drain, so a disconnect
//! requested from inside an in-flight call (an inline dispatcher runs the
//! whole wrapper inside `handle_wrapper_call`) cannot deadlock. Call ids
//! start at 0 in both directions.

use std::collections::BTreeMap;
use std::fmt;

use super::{BootstrapInfo, ControllerAccess, ControllerCallReturn};
use crate::addr::ExecutorAddr;
use crate::error::{Error, ErrorKind};
use crate::session::{SessionHandle, SessionHooks};
use crate::sync::{Arc, Mutex, lock};
use crate::wrapper::WrapperFunctionBuffer;

/// The controller's side: handlers for the executor's calls by tag.
pub trait InProcessController: Send + Sync {
    /// The executor called the handler for `tag`; answer through `reply`,
    /// now or later, from any thread.
    fn handle_call(&self, tag: ExecutorAddr, args: WrapperFunctionBuffer, reply: ControllerReply);

    /// The executor connected and announced `bootstrap`.
    fn connected(&self, bootstrap: &BootstrapInfo) {
        let _ = bootstrap;
    }
}

impl<F> InProcessController for F
where
    F: Fn(ExecutorAddr, WrapperFunctionBuffer, ControllerReply) + Send + Sync,
{
    fn handle_call(&self, tag: ExecutorAddr, args: WrapperFunctionBuffer, reply: ControllerReply) {
        self(tag, args, reply);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Unconnected,
    Connected,
    /// Disconnect requested; waiting for in-flight messages.
    Disconnecting,
    Disconnected,
}

type ResultFn = Box<dyn FnOnce(WrapperFunctionBuffer) + Send + 'static>;

struct CaState {
    phase: Phase,
    /// Messages being delivered to the session right now.
    in_flight: usize,
    /// How the disconnection will be reported once the drain runs.
    disconnect_result: Option<Result<(), Error>>,
    /// Executor → controller calls awaiting the controller's reply.
    pending: BTreeMap<u64, ControllerCallReturn>,
    next_call: u64,
    /// Controller → executor calls awaiting the executor's result.
    incoming: BTreeMap<u64, ResultFn>,
    next_incoming: u64,
    bootstrap: Option<BootstrapInfo>,
    fail_connect: Option<Error>,
}

struct CaInner {
    hooks: SessionHooks,
    controller: std::sync::Arc<dyn InProcessController>,
    state: Mutex<CaState>,
}

/// A [`ControllerAccess`] connected to an [`InProcessController`].
pub struct InProcessControllerAccess {
    inner: Arc<CaInner>,
}

impl InProcessControllerAccess {
    /// A controller access for the session of `hooks`, served by `controller`.
    pub fn new(hooks: SessionHooks, controller: impl InProcessController + 'static) -> Self {
        InProcessControllerAccess {
            inner: Arc::new(CaInner {
                hooks,
                controller: std::sync::Arc::new(controller),
                state: Mutex::new(CaState {
                    phase: Phase::Unconnected,
                    in_flight: 0,
                    disconnect_result: None,
                    pending: BTreeMap::new(),
                    next_call: 0,
                    incoming: BTreeMap::new(),
                    next_incoming: 0,
                    bootstrap: None,
                    fail_connect: None,
                }),
            }),
        }
    }

    /// Makes `connect` fail with `err` (reported through
    /// `notify_disconnected` before `connect` returns).
    pub fn fail_connect_with(self, err: Error) -> Self {
        lock(&self.inner.state).fail_connect = Some(err);
        self
    }

    /// Builds one for `session` and attaches it.
    pub fn attach(
        session: &SessionHandle,
        bootstrap: BootstrapInfo,
        controller: impl InProcessController + 'static,
    ) -> Result<std::sync::Arc<Self>, Error> {
        session.attach_with(bootstrap, |hooks| {
            Ok(std::sync::Arc::new(InProcessControllerAccess::new(
                hooks, controller,
            )))
        })
    }

    /// The bootstrap info received at connect.
    pub fn bootstrap(&self) -> Option<BootstrapInfo> {
        lock(&self.inner.state).bootstrap.clone()
    }

    /// True while connected (not yet disconnecting).
    pub fn is_connected(&self) -> bool {
        lock(&self.inner.state).phase == Phase::Connected
    }

    /// Executor → controller calls still waiting for a reply.
    pub fn pending_calls(&self) -> usize {
        lock(&self.inner.state).pending.len()
    }

    /// The controller calls the wrapper function at `fn_addr`; `on_result`
    /// gets the result (or `"disconnected"` if the connection ends first).
    /// Fails with [`ErrorKind::Detached`] if not connected.
    pub fn call_executor(
        &self,
        fn_addr: ExecutorAddr,
        args: WrapperFunctionBuffer,
        on_result: impl FnOnce(WrapperFunctionBuffer) + Send + 'static,
    ) -> Result<u64, Error> {
        let id = {
            let mut st = lock(&self.inner.state);
            if st.phase != Phase::Connected {
                return Err(Error::detached());
            }
            let id = st.next_incoming;
            st.next_incoming += 1;
            st.incoming.insert(id, Box::new(on_result));
            st.in_flight += 1;
            id
        };
        self.inner.hooks.handle_wrapper_call(fn_addr, args, id);
        self.inner.end_in_flight();
        Ok(id)
    }

    /// The controller hangs up: `Ok` orderly, `Err` abnormal. Like a
    /// disconnect requested by the session, reported with `result`; a no-op
    /// if already disconnecting.
    pub fn hangup(&self, result: Result<(), Error>) {
        self.inner.begin_disconnect(result);
    }
}

impl CaInner {
    fn begin_disconnect(&self, result: Result<(), Error>) {
        let mut st = lock(&self.state);
        match st.phase {
            Phase::Connected | Phase::Unconnected => {
                st.phase = Phase::Disconnecting;
                st.disconnect_result = Some(result);
                if st.in_flight == 0 {
                    self.drain(st);
                }
            }
            // Already on its way: a second request is a no-op.
            Phase::Disconnecting | Phase::Disconnected => {}
        }
    }

    /// One delivery to the session finished; the last one while
    /// disconnecting performs the drain.
    fn end_in_flight(&self) {
        let mut st = lock(&self.state);
        st.in_flight -= 1;
        if st.in_flight == 0 && st.phase == Phase::Disconnecting {
            self.drain(st);
        }
    }

    /// Fails every pending call, then notifies the session, exactly once.
    fn drain(&self, mut st: crate::sync::MutexGuard<'_, CaState>) {
        debug_assert_eq!(st.phase, Phase::Disconnecting);
        debug_assert_eq!(st.in_flight, 0);
        st.phase = Phase::Disconnected;
        let pending = std::mem::take(&mut st.pending);
        let incoming = std::mem::take(&mut st.incoming);
        let result = st.disconnect_result.take().unwrap_or(Ok(()));
        drop(st);
        // Obligation 5: the whole drain happens before the notification.
        for (_, ret) in pending {
            self.hooks.fail_pending_call(ret);
        }
        // The controller's own calls end too.
        for (_, on_result) in incoming {
            on_result(WrapperFunctionBuffer::from_error(&Error::detached()));
        }
        self.hooks.notify_disconnected(result);
    }

    fn reply(&self, id: u64, result: WrapperFunctionBuffer) {
        let ret = {
            let mut st = lock(&self.state);
            match st.pending.remove(&id) {
                Some(ret) => {
                    st.in_flight += 1;
                    ret
                }
                None => {
                    let connected = st.phase == Phase::Connected;
                    drop(st);
                    if connected {
                        self.hooks.report_error(Error::new(
                            ErrorKind::Protocol,
                            format!("Invalid call id {id}"),
                        ));
                    }
                    // Else: the call was already failed by the drain.
                    return;
                }
            }
        };
        self.hooks.complete_call(ret, result);
        self.end_in_flight();
    }
}

impl ControllerAccess for InProcessControllerAccess {
    fn connect(&self, bootstrap: BootstrapInfo) {
        let mut st = lock(&self.inner.state);
        if let Some(err) = st.fail_connect.take() {
            st.phase = Phase::Disconnecting;
            st.disconnect_result = Some(Err(err));
            self.inner.drain(st);
            return;
        }
        if st.phase != Phase::Unconnected {
            return;
        }
        st.phase = Phase::Connected;
        st.bootstrap = Some(bootstrap.clone());
        drop(st);
        self.inner.controller.connected(&bootstrap);
    }

    fn disconnect(&self) {
        self.inner.begin_disconnect(Ok(()));
    }

    fn call_controller(
        &self,
        tag: ExecutorAddr,
        args: WrapperFunctionBuffer,
        on_complete: ControllerCallReturn,
    ) {
        let mut st = lock(&self.inner.state);
        if st.phase != Phase::Connected {
            drop(st);
            self.inner.hooks.fail_call_inline(on_complete);
            return;
        }
        // Injected bug (loom model `loom_detach`): check "connected?" and
        // enqueue under two separate locks. A drain that runs in between
        // misses the call, which is then left pending forever.
        if cfg!(orc_rt_loom_bug = "ca_drain_unserialised") {
            drop(st);
            st = lock(&self.inner.state);
        }
        let id = st.next_call;
        st.next_call += 1;
        st.pending.insert(id, on_complete);
        // Delivering the call is a message in flight: the drain waits for
        // it, so the controller never sees a call after the disconnection.
        st.in_flight += 1;
        drop(st);
        self.inner.controller.handle_call(
            tag,
            args,
            ControllerReply {
                inner: Some(self.inner.clone()),
                id,
            },
        );
        self.inner.end_in_flight();
    }

    fn send_wrapper_result(&self, call_id: u64, result: WrapperFunctionBuffer) {
        let mut st = lock(&self.inner.state);
        if st.phase == Phase::Disconnected {
            return;
        }
        match st.incoming.remove(&call_id) {
            Some(on_result) => {
                drop(st);
                on_result(result);
            }
            None => {
                drop(st);
                self.inner.hooks.report_error(Error::new(
                    ErrorKind::Protocol,
                    format!("Invalid call id {call_id}"),
                ));
            }
        }
    }
}

impl fmt::Debug for InProcessControllerAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.inner.state);
        f.debug_struct("InProcessControllerAccess")
            .field("phase", &st.phase)
            .field("pending", &st.pending.len())
            .field("in_flight", &st.in_flight)
            .finish()
    }
}

/// The controller's answer to one executor call; consumed by
/// [`send`](Self::send). Dropping it unsent answers with the out-of-band
/// error `"controller handler dropped its reply"`.
#[must_use = "every executor call gets one reply"]
pub struct ControllerReply {
    inner: Option<Arc<CaInner>>,
    id: u64,
}

impl ControllerReply {
    /// The call id (0, 1, 2, ... per connection).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Sends the result bytes.
    pub fn send(mut self, result: WrapperFunctionBuffer) {
        if let Some(inner) = self.inner.take() {
            inner.reply(self.id, result);
        }
    }
}

impl Drop for ControllerReply {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.reply(
                self.id,
                WrapperFunctionBuffer::out_of_band_error("controller handler dropped its reply"),
            );
        }
    }
}

impl fmt::Debug for ControllerReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ControllerReply")
            .field("id", &self.id)
            .finish()
    }
}
