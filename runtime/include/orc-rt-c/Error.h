/*===-- orc-rt-c/Error.h - Errors in the orc-rt C API ---------------------===*
 *
 * Part of orc-rt, a Rust implementation of the LLVM ORC executor runtime.
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 *===----------------------------------------------------------------------===*
 *
 * Ownership: a function returning orc_rt_ErrorRef hands the caller an owned
 * error, or NULL (orc_rt_ErrorSuccess) for success. The caller must consume
 * each non-NULL error exactly once, with orc_rt_Error_consume,
 * orc_rt_Error_toString or orc_rt_Error_cantFail, or by passing it to a
 * function documented as consuming it. Using an error after that is undefined
 * behaviour. All three consuming functions accept NULL.
 *
 *===----------------------------------------------------------------------===*/

#ifndef ORC_RT_C_ERROR_H
#define ORC_RT_C_ERROR_H

#include "orc-rt-c/Compiler.h"
#include "orc-rt-c/CoreTypes.h"

ORC_RT_C_EXTERN_C_BEGIN

/** The success value. */
#define orc_rt_ErrorSuccess ((orc_rt_ErrorRef)0)

/**
 * Identifies the type (in Rust: the orc_rt::ErrorKind) of an error. Compare
 * type ids with ==; they are distinct per kind and stable for the life of the
 * process. Never dereference one.
 */
typedef const void *orc_rt_Error_TypeId;

/**
 * The type id of Err. Does not consume Err. Returns NULL for
 * orc_rt_ErrorSuccess, which has no type.
 */
orc_rt_Error_TypeId orc_rt_Error_getTypeId(orc_rt_ErrorRef Err) ORC_RT_C_NOTHROW;

/**
 * Disposes of Err without looking at it (consumes it). NULL is a no-op.
 */
void orc_rt_Error_consume(orc_rt_ErrorRef Err) ORC_RT_C_NOTHROW;

/**
 * Asserts that Err is success; consumes it. Use it only around calls that
 * cannot fail in context. A failure here is a contract violation: its
 * message is printed to stderr and the process aborts.
 */
void orc_rt_Error_cantFail(orc_rt_ErrorRef Err) ORC_RT_C_NOTHROW;

/**
 * Consumes Err and returns its message as a NUL-terminated string allocated
 * with malloc (a message containing a NUL byte is cut there). Success gives
 * the empty string. Free the result with orc_rt_Error_freeErrorMessage (or
 * free). Returns NULL only if memory is exhausted.
 */
char *orc_rt_Error_toString(orc_rt_ErrorRef Err) ORC_RT_C_NOTHROW;

/**
 * Frees a string returned by orc_rt_Error_toString. NULL is a no-op.
 */
void orc_rt_Error_freeErrorMessage(char *ErrMsg) ORC_RT_C_NOTHROW;

/**
 * The type id of string errors: those made by orc_rt_StringError_create.
 */
orc_rt_Error_TypeId orc_rt_StringError_getTypeId(void) ORC_RT_C_NOTHROW;

/**
 * Creates a string error carrying a copy of ErrMsg (the caller keeps
 * ErrMsg). Bytes that are not UTF-8 are replaced by U+FFFD; NULL gives the
 * message "(null)". Never returns NULL.
 */
orc_rt_ErrorRef orc_rt_StringError_create(const char *ErrMsg) ORC_RT_C_NOTHROW;

ORC_RT_C_EXTERN_C_END

#endif /* ORC_RT_C_ERROR_H */
