/*===-- orc-rt-c/Session.h - Sessions in the orc-rt C API -----------------===*
 *
 * Part of orc-rt, a Rust implementation of the LLVM ORC executor runtime.
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 *===----------------------------------------------------------------------===*
 *
 * A session is the runtime's root object: it owns the services, the
 * connection to the controller and the execution scope of the JIT'd code it
 * manages. JIT'd code and C hosts use it through an orc_rt_SessionRef:
 *
 *  - Execution scope: hold a token from orc_rt_Session_enterScope while
 *    running JIT'd code (or code loaded for it). Shutdown waits until every
 *    token is left; once shutdown has begun, entering fails (NULL) and the
 *    caller must not run the code.
 *  - Calls to the controller by tag: orc_rt_Session_callController.
 *  - Wrapper functions the controller calls by address: a function
 *    registered with orc_rt_Session_registerAsyncWrapperFunction is called
 *    with the asynchronous orc_rt_WrapperFunction ABI (WrapperFunction.h).
 *
 * A reference is valid from orc_rt_Session_create to orc_rt_Session_destroy
 * (or while the Rust Session owner lives), and inside a wrapper-function
 * call that received it. Every function accepts NULL for S (and does
 * nothing). No function unwinds or throws. Context pointers (Ctx) may be
 * used from any thread.
 *
 *===----------------------------------------------------------------------===*/

#ifndef ORC_RT_C_SESSION_H
#define ORC_RT_C_SESSION_H

#include "orc-rt-c/Compiler.h"
#include "orc-rt-c/CoreTypes.h"
#include "orc-rt-c/WrapperFunction.h"

#include <stdint.h>

ORC_RT_C_EXTERN_C_BEGIN

/**
 * Proof of one entry into a session's execution scope, or NULL when entry
 * was refused (the session is shutting down).
 */
typedef struct orc_rt_OpaqueExecutionScopeToken *orc_rt_ExecutionScopeToken;

/**
 * Receives errors a session cannot return to anyone; owns Err (consume it).
 * May be called from several threads at once.
 */
typedef void (*orc_rt_Session_ErrorReporter)(void *Ctx, orc_rt_ErrorRef Err);

/**
 * Receives the result of orc_rt_Session_callController, exactly once; owns
 * ResultBytes (dispose of it).
 */
typedef void (*orc_rt_Session_CallControllerReturn)(
    orc_rt_SessionRef S, orc_rt_WrapperFunctionBuffer ResultBytes, void *Ctx);

/**
 * Creates a session (tasks run on a thread pool, one worker per CPU). Report
 * receives errors with ReportCtx; NULL logs them instead. Returns NULL if the
 * session cannot be created.
 */
orc_rt_SessionRef orc_rt_Session_create(orc_rt_Session_ErrorReporter Report,
                                        void *ReportCtx) ORC_RT_C_NOTHROW;

/**
 * Shuts down a session made by orc_rt_Session_create, waits until the
 * shutdown completed (every execution-scope token left, every service shut
 * down), and releases it: S is invalid afterwards. From inside the session's
 * own work (a wrapper function it runs) it only requests the shutdown, which
 * completes when that work returns.
 */
void orc_rt_Session_destroy(orc_rt_SessionRef S) ORC_RT_C_NOTHROW;

/** Requests shutdown and returns at once; any thread, any number of times. */
void orc_rt_Session_shutdown(orc_rt_SessionRef S) ORC_RT_C_NOTHROW;

/** Requests detach from the controller and returns at once. */
void orc_rt_Session_detach(orc_rt_SessionRef S) ORC_RT_C_NOTHROW;

/**
 * Enters the execution scope. Returns a token to pass to
 * orc_rt_Session_leaveScope, or NULL once shutdown has begun (then do not run
 * the JIT'd code). Entries nest; each needs its own leave. A token covers one
 * synchronous span: work deferred to later or to another thread enters again.
 */
orc_rt_ExecutionScopeToken orc_rt_Session_enterScope(orc_rt_SessionRef S)
    ORC_RT_C_NOTHROW;

/**
 * Leaves the execution scope entered with Token (NULL: nothing). Any thread.
 * A leave without a matching enter is reported to the session, not applied.
 */
void orc_rt_Session_leaveScope(orc_rt_ExecutionScopeToken Token)
    ORC_RT_C_NOTHROW;

/**
 * Calls the controller's handler for Tag with ArgBytes (ownership passes
 * here). Return runs exactly once with (S, ResultBytes, Ctx): possibly before
 * this function returns, possibly on another thread. If the controller is
 * gone, ResultBytes is the out-of-band error "disconnected" or "no controller
 * attached". With a NULL S, Return is not called and ArgBytes is freed.
 */
void orc_rt_Session_callController(orc_rt_SessionRef S,
                                   orc_rt_ControllerHandlerTag Tag,
                                   orc_rt_WrapperFunctionBuffer ArgBytes,
                                   orc_rt_Session_CallControllerReturn Return,
                                   void *Ctx) ORC_RT_C_NOTHROW;

/**
 * Reports Err through the session's error reporter; consumes Err (NULL does
 * nothing).
 */
void orc_rt_Session_reportError(orc_rt_SessionRef S, orc_rt_ErrorRef Err)
    ORC_RT_C_NOTHROW;

/**
 * Registers Fn as an asynchronous wrapper function: a controller call to
 * Fn's address runs it with the orc_rt_WrapperFunction ABI (S, CallId,
 * Return, ArgBytes) instead of LLVM 22's synchronous one. Returns 0, or -1
 * for a NULL S.
 */
int32_t orc_rt_Session_registerAsyncWrapperFunction(orc_rt_SessionRef S,
                                                    orc_rt_WrapperFunction Fn)
    ORC_RT_C_NOTHROW;

ORC_RT_C_EXTERN_C_END

#endif /* ORC_RT_C_SESSION_H */
