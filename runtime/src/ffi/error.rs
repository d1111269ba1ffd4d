//! Errors across the C ABI (`Error.h`): an owned opaque handle, null for
//! success, with type ids that are stable per [`ErrorKind`].

use std::ffi::{c_char, c_void};
use std::io::Write;
use std::ptr;

use super::{cstr_from_ptr, guard, malloc_c_string};
use crate::error::{Error, ErrorKind};

/// The C handle's target: a boxed [`Error`]. Only ever used behind a pointer.
#[repr(C)]
#[allow(
    non_camel_case_types,
    reason = "the C name, so both codebases can be grepped"
)]
pub struct orc_rt_OpaqueError {
    _private: [u8; 0],
    _marker: std::marker::PhantomData<(*mut u8, std::marker::PhantomPinned)>,
}

/// `orc_rt_ErrorRef`: an owned error, or null for success. Whoever holds a
/// non-null handle must consume it exactly once (`orc_rt_Error_consume`,
/// `orc_rt_Error_toString`, `orc_rt_Error_cantFail`, or [`Error::from_c`]).
#[allow(
    non_camel_case_types,
    reason = "the C name, so both codebases can be grepped"
)]
pub type orc_rt_ErrorRef = *mut orc_rt_OpaqueError;

/// `orc_rt_Error_TypeId`: identifies an error's kind; compare for equality.
#[allow(
    non_camel_case_types,
    reason = "the C name, so both codebases can be grepped"
)]
pub type orc_rt_Error_TypeId = *const c_void;

/// One element per kind; a kind's type id is the address of its element,
/// which is distinct per kind (the elements are one byte each) and stable
/// for the life of the process.
static TYPE_IDS: [ErrorKind; 12] = [
    ErrorKind::Decode,
    ErrorKind::Encode,
    ErrorKind::Protocol,
    ErrorKind::Detached,
    ErrorKind::ShuttingDown,
    ErrorKind::NotFound,
    ErrorKind::InvalidArgument,
    ErrorKind::Service,
    ErrorKind::Io,
    ErrorKind::Panic,
    ErrorKind::Remote,
    ErrorKind::Message,
];

/// The index of `kind` in [`TYPE_IDS`]. Exhaustive, so a new kind does not
/// compile until it has a type id.
fn type_id_index(kind: ErrorKind) -> usize {
    match kind {
        ErrorKind::Decode => 0,
        ErrorKind::Encode => 1,
        ErrorKind::Protocol => 2,
        ErrorKind::Detached => 3,
        ErrorKind::ShuttingDown => 4,
        ErrorKind::NotFound => 5,
        ErrorKind::InvalidArgument => 6,
        ErrorKind::Service => 7,
        ErrorKind::Io => 8,
        ErrorKind::Panic => 9,
        ErrorKind::Remote => 10,
        ErrorKind::Message => 11,
    }
}

/// The C type id of errors of `kind`.
pub fn type_id(kind: ErrorKind) -> orc_rt_Error_TypeId {
    ptr::from_ref(&TYPE_IDS[type_id_index(kind)]).cast()
}

/// The kind whose type id is `id`, if any.
pub fn kind_of_type_id(id: orc_rt_Error_TypeId) -> Option<ErrorKind> {
    TYPE_IDS.iter().copied().find(|&k| type_id(k) == id)
}

impl Error {
    /// Hands the error to C as an owned handle (never null).
    pub fn into_c(self) -> orc_rt_ErrorRef {
        Box::into_raw(Box::new(self)).cast()
    }

    /// `Ok(())` as the null handle, `Err(e)` as `e`'s handle.
    pub fn result_into_c(result: Result<(), Error>) -> orc_rt_ErrorRef {
        result.err().map_or(ptr::null_mut(), Error::into_c)
    }

    /// Takes back a handle from C: null is `Ok(())`.
    ///
    /// # Safety
    /// `handle` must be null or a handle made by [`Error::into_c`] (or an
    /// `orc_rt_*` function returning `orc_rt_ErrorRef`) that nobody has
    /// consumed yet; it is consumed now.
    pub unsafe fn from_c(handle: orc_rt_ErrorRef) -> Result<(), Error> {
        if handle.is_null() {
            return Ok(());
        }
        // SAFETY: a live handle is a `Box<Error>` from `into_c`, and the
        // caller hands us its ownership.
        Err(*unsafe { Box::from_raw(handle.cast::<Error>()) })
    }

    /// Borrows the error behind a live handle without consuming it.
    ///
    /// # Safety
    /// `handle` must be a live non-null handle (see [`from_c`](Self::from_c))
    /// that is not consumed while the borrow lasts.
    pub unsafe fn borrow_c<'a>(handle: orc_rt_ErrorRef) -> &'a Error {
        // SAFETY: a live handle points to a `Box<Error>`'s contents.
        unsafe { &*handle.cast::<Error>() }
    }
}

/// The type id of the error `err`, or null for success (null has no type).
///
/// # Safety
/// `err` must be null or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_Error_getTypeId(err: orc_rt_ErrorRef) -> orc_rt_Error_TypeId {
    guard(ptr::null, || {
        if err.is_null() {
            return ptr::null();
        }
        // SAFETY: live non-null handle (the caller's contract).
        type_id(unsafe { Error::borrow_c(err) }.kind())
    })
}

/// Disposes of `err` without looking at it. Null is a no-op.
///
/// # Safety
/// `err` must be null or a live handle; it is consumed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_Error_consume(err: orc_rt_ErrorRef) {
    guard(
        || (),
        || {
            // SAFETY: null or a live handle, consumed here (the caller's contract).
            drop(unsafe { Error::from_c(err) });
        },
    )
}

/// Asserts that `err` is success. A failure is a contract violation: the
/// message goes to stderr and the process aborts (upstream `cantFail`).
///
/// # Safety
/// `err` must be null or a live handle; it is consumed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_Error_cantFail(err: orc_rt_ErrorRef) {
    // SAFETY: null or a live handle, consumed here (the caller's contract).
    let failed = guard(
        || Some("(panic while reading the error)".to_owned()),
        || unsafe { Error::from_c(err) }.err().map(|e| e.to_string()),
    );
    if let Some(message) = failed {
        // Best effort: a closed stderr must not stop the abort.
        let _ = writeln!(
            std::io::stderr(),
            "orc_rt_Error_cantFail: unexpected failure: {message}"
        );
        std::process::abort();
    }
}

/// The message of `err` as a `malloc`'d string, consuming `err`. Success
/// gives the empty string. Free the result with
/// `orc_rt_Error_freeErrorMessage` (or `free`). Null only if memory is
/// exhausted.
///
/// # Safety
/// `err` must be null or a live handle; it is consumed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_Error_toString(err: orc_rt_ErrorRef) -> *mut c_char {
    guard(ptr::null_mut, || {
        // SAFETY: null or a live handle, consumed here (the caller's contract).
        match unsafe { Error::from_c(err) } {
            Ok(()) => malloc_c_string(""),
            Err(e) => malloc_c_string(e.message()),
        }
    })
}

/// Frees a message returned by `orc_rt_Error_toString`. Null is a no-op.
///
/// # Safety
/// `message` must be null or a string from `orc_rt_Error_toString` (any
/// `malloc`'d pointer works) that is not freed again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_Error_freeErrorMessage(message: *mut c_char) {
    // SAFETY: null or a malloc'd pointer owned by the caller.
    guard(|| (), || unsafe { libc::free(message.cast()) })
}

/// The type id of string errors (those made by `orc_rt_StringError_create`,
/// [`ErrorKind::Message`] in Rust).
#[unsafe(no_mangle)]
pub extern "C" fn orc_rt_StringError_getTypeId() -> orc_rt_Error_TypeId {
    guard(ptr::null, || type_id(ErrorKind::Message))
}

/// A new string error carrying a copy of `message` (invalid UTF-8 is
/// replaced by U+FFFD; `NULL` gives the message `"(null)"`). Never null.
///
/// # Safety
/// `message` must be null or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_StringError_create(message: *const c_char) -> orc_rt_ErrorRef {
    guard(
        || Error::new(ErrorKind::Panic, "orc_rt_StringError_create panicked").into_c(),
        || {
            // SAFETY: null or NUL-terminated (the caller's contract).
            let text = match unsafe { cstr_from_ptr(message) } {
                Some(s) => s.to_string_lossy().into_owned(),
                None => "(null)".to_owned(),
            };
            Error::msg(text).into_c()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    /// Reads and frees a message from `orc_rt_Error_toString`.
    fn to_string(err: orc_rt_ErrorRef) -> String {
        // SAFETY: `err` is live or null; the result is a malloc'd string.
        unsafe {
            let p = orc_rt_Error_toString(err);
            assert!(!p.is_null());
            let s = CStr::from_ptr(p).to_str().unwrap().to_owned();
            orc_rt_Error_freeErrorMessage(p);
            s
        }
    }

    #[test]
    fn type_ids_are_distinct_stable_and_map_back() {
        for (i, &kind) in TYPE_IDS.iter().enumerate() {
            assert_eq!(type_id_index(kind), i, "{kind}");
            assert!(!type_id(kind).is_null());
            assert_eq!(type_id(kind), type_id(kind));
            assert_eq!(kind_of_type_id(type_id(kind)), Some(kind));
            for &other in &TYPE_IDS[i + 1..] {
                assert_ne!(type_id(kind), type_id(other), "{kind} vs {other}");
            }
        }
        assert_eq!(kind_of_type_id(ptr::null()), None);
        assert_eq!(orc_rt_StringError_getTypeId(), type_id(ErrorKind::Message));
    }

    #[test]
    fn round_trip_keeps_kind_message_and_source() {
        #[derive(Debug, thiserror::Error)]
        #[error("typed {0}")]
        struct Typed(u8);

        let handle = Error::with_source(ErrorKind::Service, Typed(3)).into_c();
        assert!(!handle.is_null());
        // SAFETY: `handle` is live until `from_c` consumes it.
        unsafe {
            assert_eq!(orc_rt_Error_getTypeId(handle), type_id(ErrorKind::Service));
            let back = Error::from_c(handle).unwrap_err();
            assert_eq!(back.kind(), ErrorKind::Service);
            assert_eq!(back.downcast_ref::<Typed>().map(|t| t.0), Some(3));
        }
        assert!(Error::result_into_c(Ok(())).is_null());
        // SAFETY: null is success.
        assert!(unsafe { Error::from_c(ptr::null_mut()) }.is_ok());
    }

    #[test]
    fn string_errors_from_c() {
        // SAFETY: the arguments are NUL-terminated or null.
        let (a, b, n) = unsafe {
            (
                orc_rt_StringError_create(c"it broke".as_ptr()),
                orc_rt_StringError_create(c"\xff".as_ptr()),
                orc_rt_StringError_create(ptr::null()),
            )
        };
        for h in [a, b, n] {
            // SAFETY: live handles.
            let id = unsafe { orc_rt_Error_getTypeId(h) };
            assert_eq!(id, orc_rt_StringError_getTypeId());
        }
        assert_eq!(to_string(a), "it broke");
        assert_eq!(to_string(b), "\u{fffd}");
        assert_eq!(to_string(n), "(null)");
        assert_eq!(to_string(ptr::null_mut()), "");
    }

    #[test]
    fn success_is_null_everywhere() {
        // SAFETY: null is a valid (success) handle for each of these.
        unsafe {
            assert!(orc_rt_Error_getTypeId(ptr::null_mut()).is_null());
            orc_rt_Error_consume(ptr::null_mut());
            orc_rt_Error_cantFail(ptr::null_mut());
            orc_rt_Error_freeErrorMessage(ptr::null_mut());
        }
    }
}
