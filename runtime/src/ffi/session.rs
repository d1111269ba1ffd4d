//! Sessions from C (`Session.h`): create and destroy a session, enter and
//! leave its execution scope, call the controller by tag, report errors,
//! register asynchronous wrapper functions.
//!
//! A session reference is valid while its session lives: from
//! `orc_rt_Session_create` to `orc_rt_Session_destroy`, or while the Rust
//! `Session` owner lives, or inside a wrapper function call that received
//! it. Every function here tolerates a NULL session reference (it does
//! nothing, or reports failure).

use std::ffi::c_void;

use super::{guard, orc_rt_ControllerHandlerTag, orc_rt_ErrorRef, orc_rt_SessionRef};
use crate::addr::ExecutorAddr;
use crate::error::{Error, ErrorKind};
use crate::session::{Session, SessionHandle, orc_rt_WrapperFunction};
use crate::wrapper::{WrapperFunctionBuffer, orc_rt_WrapperFunctionBuffer};

/// `orc_rt_ExecutionScopeToken`: proof of one entry into a session's
/// execution scope; NULL when entry was refused.
#[repr(C)]
#[allow(
    non_camel_case_types,
    reason = "the C name, so both codebases can be grepped"
)]
pub struct orc_rt_OpaqueExecutionScopeToken {
    _private: [u8; 0],
    _marker: std::marker::PhantomData<(*mut u8, std::marker::PhantomPinned)>,
}

/// `orc_rt_ExecutionScopeToken` (see [`orc_rt_OpaqueExecutionScopeToken`]).
#[allow(
    non_camel_case_types,
    reason = "the C name, so both codebases can be grepped"
)]
pub type orc_rt_ExecutionScopeToken = *mut orc_rt_OpaqueExecutionScopeToken;

/// `orc_rt_Session_ErrorReporter`: receives errors a session cannot return
/// to anyone; owns `Err` (consume it). May be called from several threads at
/// once.
#[allow(
    non_camel_case_types,
    reason = "the C name, so both codebases can be grepped"
)]
pub type orc_rt_Session_ErrorReporter =
    unsafe extern "C" fn(ctx: *mut c_void, err: orc_rt_ErrorRef);

/// `orc_rt_Session_CallControllerReturn`: receives the result of
/// `orc_rt_Session_callController`, exactly once; owns `ResultBytes`.
#[allow(
    non_camel_case_types,
    reason = "the C name, so both codebases can be grepped"
)]
pub type orc_rt_Session_CallControllerReturn = unsafe extern "C" fn(
    s: orc_rt_SessionRef,
    result: orc_rt_WrapperFunctionBuffer,
    ctx: *mut c_void,
);

/// A C context pointer carried into a `Send` closure: C promised it may be
/// used from any thread (the header says so).
struct Ctx(*mut c_void);
// SAFETY: the C API documents that contexts are used from any thread.
unsafe impl Send for Ctx {}
// SAFETY: as above; the reporter may run on several threads at once.
unsafe impl Sync for Ctx {}

/// A handle to the session behind `s`, or `None` for NULL.
///
/// # Safety
/// `s` must be NULL or a live session reference.
unsafe fn handle(s: orc_rt_SessionRef) -> Option<SessionHandle> {
    if s.is_null() {
        None
    } else {
        // SAFETY: (caller) a non-null `s` is a live session reference.
        Some(unsafe { SessionHandle::from_raw(s) })
    }
}

/// Creates a session with the default thread-pool dispatcher. `Report`
/// (may be NULL: errors are then logged) receives errors with `ReportCtx`.
/// Returns NULL if the session cannot be created (threads unavailable).
///
/// # Safety
/// `report`, if not NULL, must be callable from any thread with `report_ctx`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_Session_create(
    report: Option<orc_rt_Session_ErrorReporter>,
    report_ctx: *mut c_void,
) -> orc_rt_SessionRef {
    guard(std::ptr::null_mut, || {
        let mut builder = Session::builder();
        if let Some(report) = report {
            let ctx = Ctx(report_ctx);
            builder = builder.error_reporter(move |e: Error| {
                let ctx = &ctx;
                // SAFETY: (caller) `report` accepts `report_ctx` and an
                // owned error handle, from any thread.
                unsafe { report(ctx.0, e.into_c()) }
            });
        }
        match builder.build() {
            Ok(session) => SessionHandle::adopt_c_owner(session),
            Err(_) => std::ptr::null_mut(),
        }
    })
}

/// Shuts down a session made by `orc_rt_Session_create` and waits for the
/// shutdown to complete, then releases it; `S` is invalid afterwards. Called
/// from inside the session's own work (a wrapper function it runs), it only
/// requests the shutdown, which completes when that work returns.
///
/// # Safety
/// `s` must be NULL or a live reference from `orc_rt_Session_create`,
/// destroyed at most once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_Session_destroy(s: orc_rt_SessionRef) {
    guard(
        || (),
        || {
            // SAFETY: (caller) NULL or live.
            if let Some(h) = unsafe { handle(s) } {
                drop(h.take_c_owner());
            }
        },
    );
}

/// Requests shutdown and returns at once (any thread, any number of times).
///
/// # Safety
/// `s` must be NULL or a live session reference.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_Session_shutdown(s: orc_rt_SessionRef) {
    // SAFETY: (caller) NULL or live.
    guard(|| (), || unsafe { handle(s) }.map_or((), |h| h.shutdown()));
}

/// Requests detach from the controller and returns at once.
///
/// # Safety
/// `s` must be NULL or a live session reference.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_Session_detach(s: orc_rt_SessionRef) {
    // SAFETY: (caller) NULL or live.
    guard(|| (), || unsafe { handle(s) }.map_or((), |h| h.detach()));
}

/// Enters the session's execution scope: hold the token while running
/// JIT'd code. Returns NULL once shutdown has begun; then do not enter.
///
/// # Safety
/// `s` must be NULL or a live session reference.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_Session_enterScope(
    s: orc_rt_SessionRef,
) -> orc_rt_ExecutionScopeToken {
    guard(std::ptr::null_mut, || {
        // SAFETY: (caller) NULL or live.
        match unsafe { handle(s) } {
            // The token is the session reference itself: no allocation.
            Some(h) if h.scope().retain_raw() => s.cast(),
            _ => std::ptr::null_mut(),
        }
    })
}

/// Leaves the execution scope entered with `Token` (NULL: nothing). A leave
/// without a matching enter is reported to the session, not applied.
///
/// # Safety
/// `token` must be NULL or a token from `orc_rt_Session_enterScope` not
/// left yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_Session_leaveScope(token: orc_rt_ExecutionScopeToken) {
    guard(
        || (),
        || {
            // SAFETY: a live token is its session's reference, alive while
            // the token is held (the held count keeps shutdown waiting).
            if let Some(h) = unsafe { handle(token.cast()) }
                && !h.scope().release_raw()
            {
                h.report_error(Error::new(
                    ErrorKind::InvalidArgument,
                    "orc_rt_Session_leaveScope without a matching enterScope",
                ));
            }
        },
    );
}

/// Calls the controller's handler `Tag` with `ArgBytes` (owned). `Return`
/// runs exactly once with `(S, ResultBytes, Ctx)`: possibly before this
/// function returns, possibly on another thread; an out-of-band error
/// `"disconnected"` or `"no controller attached"` if the controller is gone.
/// With a NULL `S`, `Return` is not called and `ArgBytes` is freed.
///
/// # Safety
/// `s` must be NULL or a live session reference; `arg_bytes` a valid owned
/// buffer; `ret` callable from any thread with `ctx`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_Session_callController(
    s: orc_rt_SessionRef,
    tag: orc_rt_ControllerHandlerTag,
    arg_bytes: orc_rt_WrapperFunctionBuffer,
    ret: orc_rt_Session_CallControllerReturn,
    ctx: *mut c_void,
) {
    // SAFETY: (caller) a valid owned buffer.
    let args = unsafe { WrapperFunctionBuffer::from_raw(arg_bytes) };
    guard(
        || (),
        move || {
            // SAFETY: (caller) NULL or live.
            let Some(h) = (unsafe { handle(s) }) else {
                return;
            };
            let (s_out, ctx) = (Ctx(s.cast()), Ctx(ctx));
            h.call_controller(
                ExecutorAddr::from_ptr(tag.cast_const()),
                args,
                move |result| {
                    let (s_out, ctx) = (&s_out, &ctx);
                    // SAFETY: (caller) `ret` accepts these arguments from any
                    // thread; ownership of `result` passes to it.
                    unsafe { ret(s_out.0.cast(), result.into_raw(), ctx.0) }
                },
            );
        },
    );
}

/// Reports `Err` (owned; NULL is success and does nothing) through the
/// session's error reporter.
///
/// # Safety
/// `s` must be NULL or a live session reference; `err` NULL or a live error
/// handle, consumed here.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_Session_reportError(s: orc_rt_SessionRef, err: orc_rt_ErrorRef) {
    // SAFETY: (caller) NULL or a live handle, consumed here.
    let err = unsafe { Error::from_c(err) };
    guard(
        || (),
        move || {
            // SAFETY: (caller) NULL or live.
            if let (Some(h), Err(e)) = (unsafe { handle(s) }, err) {
                h.report_error(e);
            }
        },
    );
}

/// Registers `Fn` as an asynchronous wrapper function of the session: a
/// controller call to `Fn`'s address runs it with the
/// `orc_rt_WrapperFunction` ABI. Returns 0 on success, -1 for a NULL `S`.
///
/// # Safety
/// `s` must be NULL or a live session reference; `f` must keep the
/// `orc_rt_WrapperFunction` contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_Session_registerAsyncWrapperFunction(
    s: orc_rt_SessionRef,
    f: orc_rt_WrapperFunction,
) -> i32 {
    guard(
        || -1,
        || {
            // SAFETY: (caller) NULL or live.
            match unsafe { handle(s) } {
                Some(h) => {
                    h.register_async_wrapper(f);
                    0
                }
                None => -1,
            }
        },
    )
}

#[cfg(all(test, not(orc_rt_loom)))]
mod tests {
    use super::*;
    use std::sync::Mutex;

    unsafe extern "C" fn collect(ctx: *mut c_void, err: orc_rt_ErrorRef) {
        // SAFETY: the tests pass a `Mutex<Vec<String>>` as the context.
        let seen = unsafe { &*ctx.cast::<Mutex<Vec<String>>>() };
        // SAFETY: the session hands over an owned handle.
        let e = unsafe { Error::from_c(err) }.unwrap_err();
        seen.lock().unwrap().push(e.message().to_owned());
    }

    unsafe extern "C" fn on_result(
        _: orc_rt_SessionRef,
        result: orc_rt_WrapperFunctionBuffer,
        ctx: *mut c_void,
    ) {
        // SAFETY: the test passes a `Mutex<Vec<String>>`; the buffer is owned.
        let (seen, result) = unsafe {
            (
                &*ctx.cast::<Mutex<Vec<String>>>(),
                WrapperFunctionBuffer::from_raw(result),
            )
        };
        let msg = result
            .error_message()
            .map(|m| m.to_string_lossy().into_owned());
        seen.lock().unwrap().push(msg.unwrap_or_default());
    }

    #[test]
    fn scope_calls_reports_and_shutdown_from_c() {
        let seen = Mutex::new(Vec::<String>::new());
        let ctx = std::ptr::from_ref(&seen).cast_mut().cast::<c_void>();
        // SAFETY: `collect` and `on_result` accept `ctx`; `seen` outlives
        // the session (destroyed below); every handle is used while live.
        unsafe {
            let s = orc_rt_Session_create(Some(collect), ctx);
            assert!(!s.is_null());
            let t1 = orc_rt_Session_enterScope(s);
            let t2 = orc_rt_Session_enterScope(s);
            assert!(!t1.is_null() && !t2.is_null());
            orc_rt_Session_leaveScope(t2);
            orc_rt_Session_leaveScope(t1);
            orc_rt_Session_leaveScope(s.cast()); // unbalanced: reported
            orc_rt_Session_callController(
                s,
                std::ptr::null_mut(),
                WrapperFunctionBuffer::empty().into_raw(),
                on_result,
                ctx,
            );
            orc_rt_Session_reportError(s, Error::msg("from C").into_c());
            orc_rt_Session_shutdown(s);
            assert!(orc_rt_Session_enterScope(s).is_null());
            orc_rt_Session_destroy(s);
            // NULL is tolerated everywhere.
            orc_rt_Session_shutdown(std::ptr::null_mut());
            assert!(orc_rt_Session_enterScope(std::ptr::null_mut()).is_null());
            orc_rt_Session_leaveScope(std::ptr::null_mut());
            orc_rt_Session_destroy(std::ptr::null_mut());
        }
        assert_eq!(
            *seen.lock().unwrap(),
            [
                "orc_rt_Session_leaveScope without a matching enterScope",
                "no controller attached",
                "from C"
            ]
        );
    }
}
