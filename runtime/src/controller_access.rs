//! The session's connection to its controller (upstream
//! `Session::ControllerAccess`): connect, disconnect, executor-to-controller
//! calls by *tag*, and results of controller-to-executor calls.
//!
//! An implementation gets a [`SessionHooks`] when it is built (see
//! [`Session::attach_with`](crate::SessionHandle::attach_with)) and reports
//! everything that comes from the controller through it: incoming calls
//! ([`SessionHooks::handle_wrapper_call`]), results of the executor's calls
//! ([`SessionHooks::complete_call`]), the end of the connection
//! ([`SessionHooks::notify_disconnected`]).
//!
//! Obligations of an implementation (spec 7; MUST):
//! 1. No incoming call before `connect`. If connecting fails, call
//!    `notify_disconnected(Err(..))` before `connect` returns.
//! 2. `disconnect` is called at most once by the session but may race a
//!    disconnection the remote started; `notify_disconnected` is called
//!    exactly once in total (inside `disconnect` or later, any thread); a
//!    `disconnect` after the remote dropped is a no-op.
//! 3. `notify_disconnected(Ok(()))` = orderly end; `Err(e)` = abnormal, `e`
//!    describes what was observed. The terminal error goes only there.
//! 4. After `notify_disconnected`: no `report_error`, `handle_wrapper_call`
//!    or `complete_call`.
//! 5. Every [`ControllerCallReturn`] is completed exactly once: with the
//!    controller's result (`complete_call`), by the disconnect drain
//!    (`fail_pending_call`, all of them **before** `notify_disconnected`),
//!    or, when `call_controller` is entered while already disconnecting, at
//!    once on the caller's thread (`fail_call_inline`). The "disconnecting?"
//!    check in `call_controller` and the drain are serialised (one lock).
//! 6. `send_wrapper_result` after disconnection drops the result.
//! 7. A result for an unknown call id: `report_error` (in-process) or a
//!    terminal protocol error (remote).
//!
//! [`SessionHooks`]: crate::session::SessionHooks
//! [`SessionHooks::handle_wrapper_call`]: crate::session::SessionHooks::handle_wrapper_call
//! [`SessionHooks::complete_call`]: crate::session::SessionHooks::complete_call
//! [`SessionHooks::notify_disconnected`]: crate::session::SessionHooks::notify_disconnected

pub mod in_process;
pub(crate) mod interface;

pub use in_process::{ControllerReply, InProcessController, InProcessControllerAccess};
pub use interface::{
    BootstrapInfo, ControllerAccess, ControllerCallReturn, SESSION_INSTANCE_SYMBOL,
    SUBTARGET_FEATURES_KEY, SymbolTable,
};
