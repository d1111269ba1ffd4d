/*===-- orc-rt-c/WrapperFunction.h - Wrapper-function buffers and types ---===*
 *
 * Part of orc-rt, a Rust implementation of the LLVM ORC executor runtime.
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 *===----------------------------------------------------------------------===*
 *
 * orc_rt_WrapperFunctionBuffer carries the serialized (SPS) arguments and
 * results of wrapper functions. Its layout matches LLVM's exactly: 16 bytes,
 * alignment 8, on 64-bit targets. It is always in one of four states:
 *
 *   state               Size      Data                 ownership
 *   empty               0         ValuePtr == NULL     nothing
 *   out-of-band error   0         ValuePtr != NULL     ValuePtr: malloc'd
 *                                                      NUL-terminated message
 *   small               1..8      bytes in Value[]     inline, nothing to free
 *   large               > 8       ValuePtr             malloc'd Size bytes
 *
 * Passing a buffer by value transfers ownership. Whoever owns a buffer must
 * eventually dispose of it: orc_rt_WrapperFunctionBufferDispose, or free() of
 * ValuePtr in the large and error states. Storage is always malloc'd, so C
 * code may build buffers by hand with malloc and the runtime frees them with
 * free, and the other way round.
 *
 * The helper functions below have the names of upstream LLVM's (which are
 * static inline there), so C code written for upstream compiles against this
 * header. Differences, all safer: Allocate zero-fills; a failed allocation
 * or a NULL argument gives an out-of-band error instead of a broken buffer;
 * Data and Size of an out-of-band error give NULL and 0 instead of an
 * assertion; Dispose leaves the empty buffer behind; NULL buffer pointers
 * are accepted everywhere (as an empty buffer).
 *
 *===----------------------------------------------------------------------===*/

#ifndef ORC_RT_C_WRAPPERFUNCTION_H
#define ORC_RT_C_WRAPPERFUNCTION_H

#include "orc-rt-c/Compiler.h"
#include "orc-rt-c/CoreTypes.h"

#include <stddef.h>
#include <stdint.h>

ORC_RT_C_EXTERN_C_BEGIN

/** The storage word: inline bytes or a pointer, depending on the state. */
typedef union {
  char *ValuePtr;
  char Value[sizeof(char *)];
} orc_rt_WrapperFunctionBufferDataUnion;

/** A wrapper-function buffer; see the state table at the top of this file. */
typedef struct {
  orc_rt_WrapperFunctionBufferDataUnion Data;
  size_t Size;
} orc_rt_WrapperFunctionBuffer;

/**
 * Hands a wrapper function's result back to the runtime. Call it exactly
 * once per call, with the CallId the wrapper function received; it takes
 * ownership of ResultBytes (which may be empty or an out-of-band error).
 *
 * Parameter order: (S, CallId, ResultBytes). Newest upstream LLVM puts
 * CallId last; this runtime pins the order below, and C would not warn if
 * the two were mixed up, so declare implementations with exactly this type.
 */
typedef void (*orc_rt_WrapperFunctionReturn)(
    orc_rt_SessionRef S, uint64_t CallId,
    orc_rt_WrapperFunctionBuffer ResultBytes);

/**
 * A wrapper function: takes ownership of ArgBytes (the SPS-serialized
 * arguments) and must call Return exactly once, with S and CallId, either
 * before it returns or later from any thread. An incoming out-of-band error
 * in ArgBytes is passed straight back to Return.
 *
 * Parameter order: (S, CallId, Return, ArgBytes), pinned as above.
 */
typedef void (*orc_rt_WrapperFunction)(orc_rt_SessionRef S, uint64_t CallId,
                                       orc_rt_WrapperFunctionReturn Return,
                                       orc_rt_WrapperFunctionBuffer ArgBytes);

/**
 * Sets *B to the empty buffer. Frees nothing: use it on uninitialized
 * storage, not on a buffer that owns memory.
 */
void orc_rt_WrapperFunctionBufferInit(orc_rt_WrapperFunctionBuffer *B)
    ORC_RT_C_NOTHROW;

/**
 * Returns a buffer of Size zero bytes: empty for 0, small up to 8, large
 * (malloc'd) beyond. Write the bytes through orc_rt_WrapperFunctionBufferData.
 * If the storage cannot be allocated, returns an out-of-band error.
 */
orc_rt_WrapperFunctionBuffer
orc_rt_WrapperFunctionBufferAllocate(size_t Size) ORC_RT_C_NOTHROW;

/**
 * Returns a buffer holding a copy of the Size bytes at Data. Size 0 gives
 * the empty buffer (Data may then be NULL); NULL Data with a non-zero Size
 * gives an out-of-band error.
 */
orc_rt_WrapperFunctionBuffer
orc_rt_CreateWrapperFunctionBufferFromRange(const char *Data,
                                            size_t Size) ORC_RT_C_NOTHROW;

/**
 * Returns a buffer holding a copy of the string Source INCLUDING its
 * terminating NUL (so Size is strlen(Source) + 1). NULL gives an out-of-band
 * error.
 */
orc_rt_WrapperFunctionBuffer
orc_rt_CreateWrapperFunctionBufferFromString(const char *Source)
    ORC_RT_C_NOTHROW;

/**
 * Returns an out-of-band error buffer holding a malloc'd copy of ErrMsg, byte
 * for byte; the caller keeps ownership of ErrMsg. NULL gives the message
 * "(null)".
 */
orc_rt_WrapperFunctionBuffer
orc_rt_CreateWrapperFunctionBufferFromOutOfBandError(const char *ErrMsg)
    ORC_RT_C_NOTHROW;

/**
 * Frees what *B owns, in any state, and leaves the empty buffer in *B (so
 * disposing twice is harmless). NULL is a no-op.
 */
void orc_rt_WrapperFunctionBufferDispose(orc_rt_WrapperFunctionBuffer *B)
    ORC_RT_C_NOTHROW;

/**
 * Returns the address of the bytes of *B. For empty and small buffers this
 * points inside *B itself, so it is valid only while *B is not moved or
 * copied. Returns NULL for an out-of-band error (upstream asserts instead).
 */
char *orc_rt_WrapperFunctionBufferData(orc_rt_WrapperFunctionBuffer *B)
    ORC_RT_C_NOTHROW;

/** As orc_rt_WrapperFunctionBufferData, for a const buffer. */
const char *
orc_rt_WrapperFunctionBufferConstData(const orc_rt_WrapperFunctionBuffer *B)
    ORC_RT_C_NOTHROW;

/**
 * Returns the number of bytes in *B: 0 for empty and for an out-of-band
 * error (upstream asserts on the latter).
 */
size_t orc_rt_WrapperFunctionBufferSize(const orc_rt_WrapperFunctionBuffer *B)
    ORC_RT_C_NOTHROW;

/**
 * Returns 1 if *B is empty (as left by Init or Dispose), else 0. An
 * out-of-band error is not empty.
 */
int orc_rt_WrapperFunctionBufferEmpty(const orc_rt_WrapperFunctionBuffer *B)
    ORC_RT_C_NOTHROW;

/**
 * Returns the out-of-band error message of *B, or NULL if *B is not an
 * error. *B keeps ownership of the message: copy it to keep it.
 */
const char *orc_rt_WrapperFunctionBufferGetOutOfBandError(
    const orc_rt_WrapperFunctionBuffer *B) ORC_RT_C_NOTHROW;

ORC_RT_C_EXTERN_C_END

#endif /* ORC_RT_C_WRAPPERFUNCTION_H */
