//! The C API (`extern "C"`, names `orc_rt_*`), declared by the headers in
//! `runtime/include/orc-rt-c/`.
//!
//! Everything here is a thin shell over the Rust API: it checks what C hands
//! in, converts it, and calls the safe code. Three rules hold for every
//! exported function:
//!
//! - Its body runs inside `guard`, so no panic unwinds into C; a panic
//!   becomes the function's error value (an out-of-band error buffer, an
//!   error handle of kind [`Panic`](crate::ErrorKind::Panic), or nothing for
//!   `void` functions).
//! - Pointer-and-length pairs go through `slice_from_raw_parts`, which
//!   accepts `(NULL, 0)`; C strings go through `cstr_from_ptr`, which
//!   accepts `NULL`.
//! - Memory that C frees is allocated with the C allocator (`malloc`), and
//!   memory C hands us is freed with `free`.
//!
//! Modules: [`error`] (`Error.h`) and [`buffer`] (`WrapperFunction.h`).
//! The session API (`Session.h`: sessions, execution scopes,
//! `callController`) lives in its own module, `session`, next to these.

use std::ffi::{CStr, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

pub mod buffer;
pub mod error;
pub mod session;

pub use crate::wrapper::{orc_rt_WrapperFunctionBuffer, orc_rt_WrapperFunctionBufferDataUnion};
pub use error::{orc_rt_Error_TypeId, orc_rt_ErrorRef, orc_rt_OpaqueError};

/// The C handle's target: a session. Only ever used behind a pointer.
#[repr(C)]
#[allow(
    non_camel_case_types,
    reason = "the C name, so both codebases can be grepped"
)]
pub struct orc_rt_OpaqueSession {
    _private: [u8; 0],
    // Neither Send, Sync nor Unpin: the pointee is owned elsewhere.
    _marker: std::marker::PhantomData<(*mut u8, std::marker::PhantomPinned)>,
}

/// `orc_rt_SessionRef`: an opaque reference to a session.
#[allow(
    non_camel_case_types,
    reason = "the C name, so both codebases can be grepped"
)]
pub type orc_rt_SessionRef = *mut orc_rt_OpaqueSession;

/// `orc_rt_ControllerHandlerTag`: identifies a handler in the controller
/// that executor code can call.
#[allow(
    non_camel_case_types,
    reason = "the C name, so both codebases can be grepped"
)]
pub type orc_rt_ControllerHandlerTag = *mut c_void;

/// `orc_rt_WrapperFunctionReturn`: how a wrapper function hands back its
/// result, exactly once per call. The order `(S, CallId, ResultBytes)` is
/// pinned (spec 2); newest upstream puts `CallId` last.
#[allow(
    non_camel_case_types,
    reason = "the C name, so both codebases can be grepped"
)]
pub type orc_rt_WrapperFunctionReturn = unsafe extern "C" fn(
    s: orc_rt_SessionRef,
    call_id: u64,
    result_bytes: orc_rt_WrapperFunctionBuffer,
);

/// `orc_rt_WrapperFunction`: a wrapper function. It owns `arg_bytes` and
/// must call `ret` exactly once, synchronously or later, from any thread.
/// The order `(S, CallId, Return, ArgBytes)` is pinned (spec 2).
#[allow(
    non_camel_case_types,
    reason = "the C name, so both codebases can be grepped"
)]
pub type orc_rt_WrapperFunction = unsafe extern "C" fn(
    s: orc_rt_SessionRef,
    call_id: u64,
    ret: orc_rt_WrapperFunctionReturn,
    arg_bytes: orc_rt_WrapperFunctionBuffer,
);

/// Runs `body`; a panic becomes `on_panic()` instead of unwinding into C.
///
/// Every exported function's body goes through here. The panic hook still
/// prints the panic, so a contained panic is not silent.
pub(crate) fn guard<R>(on_panic: impl FnOnce() -> R, body: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| on_panic())
}

/// The bytes C passed as `(ptr, len)`; `None` for a null pointer with a
/// non-zero length or a length no allocation can have.
///
/// `(NULL, 0)` and `(anything, 0)` are the empty slice: C code commonly
/// passes a null pointer for "no bytes", and `std::slice::from_raw_parts`
/// would be undefined behaviour on it.
///
/// # Safety
/// If `len > 0` and `ptr` is not null, `ptr` must point to `len` readable
/// bytes that stay valid and unmodified for `'a`.
pub(crate) unsafe fn slice_from_raw_parts<'a>(ptr: *const u8, len: usize) -> Option<&'a [u8]> {
    if len == 0 {
        return Some(&[]);
    }
    if ptr.is_null() || len > isize::MAX as usize {
        return None;
    }
    // SAFETY: non-null, `len` readable bytes valid for 'a (the caller's
    // contract), and `len <= isize::MAX`.
    Some(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// The C string at `ptr`, or `None` for `NULL`.
///
/// # Safety
/// A non-null `ptr` must point to a NUL-terminated string that stays valid
/// and unmodified for `'a`.
pub(crate) unsafe fn cstr_from_ptr<'a>(ptr: *const c_char) -> Option<&'a CStr> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated (the caller's contract).
    Some(unsafe { CStr::from_ptr(ptr) })
}

/// A `malloc`'d NUL-terminated copy of `s`, cut at its first NUL (C would
/// stop reading there anyway); null if `malloc` fails. C frees it with
/// `free`.
pub(crate) fn malloc_c_string(s: &str) -> *mut c_char {
    let bytes = s.as_bytes();
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    // SAFETY: malloc with a non-zero size has no preconditions.
    let p = unsafe { libc::malloc(len + 1) }.cast::<u8>();
    if p.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: `p` is a fresh allocation of `len + 1` bytes; we copy `len`
    // bytes from `s` (which cannot overlap it) and write the NUL.
    unsafe {
        ptr::copy_nonoverlapping(bytes.as_ptr(), p, len);
        *p.add(len) = 0;
    }
    p.cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_turns_a_panic_into_the_fallback() {
        assert_eq!(guard(|| 1, || 2), 2);
        assert_eq!(guard(|| 1, || panic!("contained")), 1);
    }

    #[test]
    fn slices_accept_null_with_zero_length_only() {
        // SAFETY: zero lengths and null pointers read nothing.
        unsafe {
            assert_eq!(slice_from_raw_parts(ptr::null(), 0), Some(&[][..]));
            assert_eq!(slice_from_raw_parts(8 as *const u8, 0), Some(&[][..]));
            assert_eq!(slice_from_raw_parts(ptr::null(), 1), None);
            assert_eq!(slice_from_raw_parts(8 as *const u8, usize::MAX), None);
        }
        let bytes = [1u8, 2, 3];
        // SAFETY: `bytes` holds 3 readable bytes.
        let slice = unsafe { slice_from_raw_parts(bytes.as_ptr(), 3) };
        assert_eq!(slice, Some(&bytes[..]));
    }

    #[test]
    fn c_strings_from_null_and_from_text() {
        // SAFETY: null is accepted; the literal is NUL-terminated.
        unsafe {
            assert_eq!(cstr_from_ptr(ptr::null()), None);
            assert_eq!(cstr_from_ptr(c"abc".as_ptr()), Some(c"abc"));
        }
    }

    #[test]
    fn malloc_c_string_cuts_at_nul_and_is_freeable() {
        for (input, expected) in [("", c""), ("hello", c"hello"), ("a\0b", c"a")] {
            let p = malloc_c_string(input);
            assert!(!p.is_null());
            // SAFETY: `p` is a fresh NUL-terminated malloc'd string.
            unsafe {
                assert_eq!(CStr::from_ptr(p), expected);
                libc::free(p.cast());
            }
        }
    }
}
