//! The C calling convention of registered asynchronous wrappers, and the
//! session's `Return` trampoline. The only unsafe code of the session.
//!
//! `void fn(orc_rt_SessionRef S, uint64_t CallId, orc_rt_WrapperFunctionReturn
//! Return, orc_rt_WrapperFunctionBuffer ArgBytes)`, result through
//! `Return(S, CallId, ResultBytes)` exactly once, from any thread, possibly
//! later. Used for addresses registered with
//! [`SessionHandle::register_async_wrapper`](super::SessionHandle::register_async_wrapper).
//! (Calls to unregistered addresses, such as LLVM 22's synchronous legacy
//! ABI, are the executor's business: `SessionBuilder::call_unregistered_with`.)

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{Shared, SharedArc};
use crate::addr::ExecutorAddr;
use crate::error::Error;
use crate::sync::Arc;
use crate::wrapper::{WrapperFunctionBuffer, orc_rt_WrapperFunctionBuffer};

pub use crate::ffi::{
    orc_rt_ControllerHandlerTag, orc_rt_OpaqueSession, orc_rt_SessionRef, orc_rt_WrapperFunction,
    orc_rt_WrapperFunctionReturn,
};

/// The `orc_rt_SessionRef` of a session: the address of its shared state.
pub(super) fn session_ref(shared: &SharedArc) -> orc_rt_SessionRef {
    Arc::as_ptr(&shared.0).cast_mut().cast()
}

/// Calls an asynchronous C wrapper. The call borrows one strong reference
/// to the session, handed back by [`session_return`], so `S` stays valid
/// until the wrapper returns its result, however late.
///
/// # Safety
/// `f` must be a function with the `orc_rt_WrapperFunction` ABI that keeps
/// its contract: call `Return` exactly once, with the `S` and `CallId` it got.
pub(super) unsafe fn call_async(
    shared: &SharedArc,
    f: orc_rt_WrapperFunction,
    call_id: u64,
    args: WrapperFunctionBuffer,
) {
    let s: orc_rt_SessionRef = Arc::into_raw(shared.0.clone()).cast_mut().cast();
    // SAFETY: the caller vouches for `f`'s ABI; ownership of `args` passes
    // to it; `s` stays valid until `session_return` gives the reference back.
    unsafe { f(s, call_id, session_return, args.into_raw()) };
}

/// The `Return` the session hands to asynchronous wrappers: forwards the
/// result to the controller access (or drops it if none is attached) and
/// gives back the reference [`call_async`] lent.
///
/// # Safety
/// `s` must be the session reference passed to the wrapper for `call_id`,
/// and this must be the only `Return` for that call; `result` must be a
/// valid buffer whose ownership passes here.
unsafe extern "C" fn session_return(
    s: orc_rt_SessionRef,
    call_id: u64,
    result: orc_rt_WrapperFunctionBuffer,
) {
    // SAFETY: `s` came from `Arc::into_raw` in `call_async` and is returned
    // exactly once (the wrapper contract).
    let shared = SharedArc(unsafe { Arc::from_raw(s.cast_const().cast::<Shared>()) });
    // SAFETY: the wrapper hands over a valid, owned buffer.
    let result = unsafe { WrapperFunctionBuffer::from_raw(result) };
    // No panic may unwind into the C caller.
    let sent = catch_unwind(AssertUnwindSafe(|| {
        shared.send_wrapper_result(call_id, result);
    }));
    if let Err(payload) = sent {
        shared.report_error(Error::from_panic(
            "sending a wrapper result",
            payload.as_ref(),
        ));
    }
}

/// The address of an asynchronous C wrapper: the key it is registered under.
pub(super) fn async_wrapper_addr(f: orc_rt_WrapperFunction) -> ExecutorAddr {
    ExecutorAddr::new(f as usize as u64)
}

/// A new counted reference to the session behind an `orc_rt_SessionRef`.
///
/// # Safety
/// `s` must come from [`session_ref`] (or be a wrapper's `S` argument) of a
/// session whose shared state is still alive, which holds while the
/// `Session` owner exists or a call into the session is in flight.
pub(super) unsafe fn shared_from_ref(s: orc_rt_SessionRef) -> SharedArc {
    let p = s.cast_const().cast::<Shared>();
    // SAFETY: (caller) `p` came from an `Arc<Shared>` that is still alive;
    // we take a new count for the reference we return.
    unsafe {
        Arc::increment_strong_count(p);
        SharedArc(Arc::from_raw(p))
    }
}
