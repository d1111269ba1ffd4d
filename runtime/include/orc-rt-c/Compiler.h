/*===-- orc-rt-c/Compiler.h - Macros shared by the orc-rt C headers -------===*
 *
 * Part of orc-rt, a Rust implementation of the LLVM ORC executor runtime.
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 *===----------------------------------------------------------------------===*/

#ifndef ORC_RT_C_COMPILER_H
#define ORC_RT_C_COMPILER_H

/* Declarations between ORC_RT_C_EXTERN_C_BEGIN and ORC_RT_C_EXTERN_C_END get
   C linkage when the header is included from C++. */
#ifdef __cplusplus
#define ORC_RT_C_EXTERN_C_BEGIN extern "C" {
#define ORC_RT_C_EXTERN_C_END }
#else
#define ORC_RT_C_EXTERN_C_BEGIN
#define ORC_RT_C_EXTERN_C_END
#endif

/* The functions of the C API never throw (and never unwind: a Rust panic
   inside one is caught and becomes the function's error value). */
#if defined(__cplusplus)
#define ORC_RT_C_NOTHROW noexcept
#elif defined(__GNUC__) || defined(__clang__)
#define ORC_RT_C_NOTHROW __attribute__((nothrow))
#else
#define ORC_RT_C_NOTHROW
#endif

#endif /* ORC_RT_C_COMPILER_H */
