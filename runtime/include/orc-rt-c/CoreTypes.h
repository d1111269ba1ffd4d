/*===-- orc-rt-c/CoreTypes.h - Handle types of the orc-rt C API -----------===*
 *
 * Part of orc-rt, a Rust implementation of the LLVM ORC executor runtime.
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 *===----------------------------------------------------------------------===*/

#ifndef ORC_RT_C_CORETYPES_H
#define ORC_RT_C_CORETYPES_H

#include "orc-rt-c/Compiler.h"

ORC_RT_C_EXTERN_C_BEGIN

/**
 * An owned error, or NULL for success (see Error.h). A non-NULL handle must be
 * consumed exactly once.
 */
typedef struct orc_rt_OpaqueError *orc_rt_ErrorRef;

/**
 * A reference to a session (the runtime's root object; a process may have
 * several). The session API (Session.h) creates and uses these.
 */
typedef struct orc_rt_OpaqueSession *orc_rt_SessionRef;

/**
 * Identifies a handler in the controller that executor code can call.
 */
typedef void *orc_rt_ControllerHandlerTag;

ORC_RT_C_EXTERN_C_END

#endif /* ORC_RT_C_CORETYPES_H */
