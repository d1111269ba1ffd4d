/*===-- orc-rt-c/orc-rt.h - The orc-rt C API ------------------------------===*
 *
 * Part of orc-rt, a Rust implementation of the LLVM ORC executor runtime.
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 *===----------------------------------------------------------------------===*
 *
 * Include this header to get the whole C API. Link with the orc-rt library
 * (the `orc-rt` crate built as a staticlib or cdylib).
 *
 * Conventions: names start with orc_rt_; types are PascalCase; functions are
 * Type_method (camelBack), except the wrapper-function buffer helpers, which
 * keep upstream LLVM's names; asynchronous functions take the handle, then
 * inputs, then the callback, then its context. No function unwinds or
 * throws.
 *
 *===----------------------------------------------------------------------===*/

#ifndef ORC_RT_C_ORC_RT_H
#define ORC_RT_C_ORC_RT_H

#include "orc-rt-c/Compiler.h"
#include "orc-rt-c/CoreTypes.h"
#include "orc-rt-c/Error.h"
#include "orc-rt-c/WrapperFunction.h"
#include "orc-rt-c/Session.h"

#endif /* ORC_RT_C_ORC_RT_H */
