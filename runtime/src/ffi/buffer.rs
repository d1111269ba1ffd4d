//! `orc_rt_WrapperFunctionBuffer` helpers (`WrapperFunction.h`).
//!
//! Upstream has these as `static inline` functions in its header; here they
//! are exported functions over [`WrapperFunctionBuffer`], with the same
//! names and the same ownership rules, so C code written against upstream's
//! header compiles against ours. Two deliberate differences, both safer:
//! reading the data or size of an out-of-band error gives `NULL`/0 instead
//! of an assertion, and `Dispose` leaves the empty buffer behind, so a
//! second `Dispose` is harmless.

use std::ffi::{CStr, c_char};
use std::ptr;

use super::{cstr_from_ptr, guard, slice_from_raw_parts};
use crate::wrapper::{INLINE_CAPACITY, WrapperFunctionBuffer, orc_rt_WrapperFunctionBuffer};

/// A zero-filled buffer of `size` bytes, or an out-of-band error if the
/// heap storage cannot be allocated (C callers can ask for any size).
fn try_allocate(size: usize) -> WrapperFunctionBuffer {
    if size <= INLINE_CAPACITY {
        return WrapperFunctionBuffer::allocate(size);
    }
    // No allocation can exceed isize::MAX bytes, and the byte slices we
    // hand out could not describe one; refuse before asking the allocator.
    if size > isize::MAX as usize {
        return WrapperFunctionBuffer::out_of_band_error(&format!(
            "cannot allocate a wrapper-function buffer of {size} bytes: too large"
        ));
    }
    // SAFETY: calloc with non-zero count and size has no preconditions.
    let p = unsafe { libc::calloc(size, 1) }.cast::<c_char>();
    if p.is_null() {
        return WrapperFunctionBuffer::out_of_band_error(&format!(
            "cannot allocate a wrapper-function buffer of {size} bytes"
        ));
    }
    let mut raw = orc_rt_WrapperFunctionBuffer::EMPTY;
    raw.data.value_ptr = p;
    raw.size = size;
    // SAFETY: a large buffer whose storage we just allocated with the C
    // allocator and own alone.
    unsafe { WrapperFunctionBuffer::from_raw(raw) }
}

/// A copy of `bytes`, or an out-of-band error if allocation fails.
fn try_copy_from(bytes: &[u8]) -> WrapperFunctionBuffer {
    let mut buf = try_allocate(bytes.len());
    if let Some(dst) = buf.as_bytes_mut() {
        dst.copy_from_slice(bytes);
    }
    buf
}

/// The fallback value of a buffer-returning function that panicked.
fn panicked(function: &str) -> orc_rt_WrapperFunctionBuffer {
    WrapperFunctionBuffer::out_of_band_error(&format!("{function} panicked")).into_raw()
}

/// Borrows the buffer C points to, without taking ownership; `None` for null.
///
/// # Safety
/// A non-null `b` must point to a valid buffer (one of the four states) that
/// stays alive and unmodified for `'a`.
unsafe fn borrow<'a>(b: *const orc_rt_WrapperFunctionBuffer) -> Option<&'a WrapperFunctionBuffer> {
    // SAFETY: `WrapperFunctionBuffer` is `repr(transparent)` over the C
    // struct, and the caller guarantees the pointee is valid for 'a.
    unsafe { b.cast::<WrapperFunctionBuffer>().as_ref() }
}

/// Sets `*b` to the empty buffer (zero size, null pointer). Does not free
/// anything `*b` held. Null is a no-op.
///
/// # Safety
/// A non-null `b` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_WrapperFunctionBufferInit(b: *mut orc_rt_WrapperFunctionBuffer) {
    guard(
        || (),
        || {
            if !b.is_null() {
                // SAFETY: non-null and writable (the caller's contract);
                // `write` does not read or drop the old contents.
                unsafe { b.write(orc_rt_WrapperFunctionBuffer::EMPTY) };
            }
        },
    )
}

/// A buffer of `size` zero bytes: empty for 0, inline up to 8 bytes, else
/// `malloc`'d. If the storage cannot be allocated, an out-of-band error.
#[unsafe(no_mangle)]
pub extern "C" fn orc_rt_WrapperFunctionBufferAllocate(
    size: usize,
) -> orc_rt_WrapperFunctionBuffer {
    guard(
        || panicked("orc_rt_WrapperFunctionBufferAllocate"),
        || try_allocate(size).into_raw(),
    )
}

/// A buffer holding a copy of `size` bytes at `data`; empty for `size == 0`
/// (even with `data == NULL`). `NULL` with a non-zero size, or a failed
/// allocation, gives an out-of-band error.
///
/// # Safety
/// If `size > 0` and `data` is not null, `data` must point to `size`
/// readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_CreateWrapperFunctionBufferFromRange(
    data: *const c_char,
    size: usize,
) -> orc_rt_WrapperFunctionBuffer {
    guard(
        || panicked("orc_rt_CreateWrapperFunctionBufferFromRange"),
        || {
            // SAFETY: `size` readable bytes at `data` unless null (the caller's contract).
            match unsafe { slice_from_raw_parts(data.cast(), size) } {
                Some(bytes) => try_copy_from(bytes),
                None => WrapperFunctionBuffer::out_of_band_error(
                    "orc_rt_CreateWrapperFunctionBufferFromRange: NULL data with a non-zero size",
                ),
            }
            .into_raw()
        },
    )
}

/// A buffer holding a copy of the string `source` **including** its
/// terminating NUL. `NULL` gives an out-of-band error.
///
/// # Safety
/// `source` must be null or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_CreateWrapperFunctionBufferFromString(
    source: *const c_char,
) -> orc_rt_WrapperFunctionBuffer {
    guard(
        || panicked("orc_rt_CreateWrapperFunctionBufferFromString"),
        || {
            // SAFETY: null or NUL-terminated (the caller's contract).
            match unsafe { cstr_from_ptr(source) } {
                Some(s) => try_copy_from(s.to_bytes_with_nul()),
                None => WrapperFunctionBuffer::out_of_band_error(
                    "orc_rt_CreateWrapperFunctionBufferFromString: NULL string",
                ),
            }
            .into_raw()
        },
    )
}

/// An out-of-band error buffer holding a `malloc`'d copy of `message` (the
/// caller keeps ownership of `message`). `NULL` gives the message `"(null)"`.
///
/// # Safety
/// `message` must be null or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_CreateWrapperFunctionBufferFromOutOfBandError(
    message: *const c_char,
) -> orc_rt_WrapperFunctionBuffer {
    guard(
        || panicked("orc_rt_CreateWrapperFunctionBufferFromOutOfBandError"),
        || {
            // SAFETY: null or NUL-terminated (the caller's contract).
            let bytes = unsafe { cstr_from_ptr(message) }.map_or(&b"(null)"[..], CStr::to_bytes);
            WrapperFunctionBuffer::out_of_band_error_bytes(bytes).into_raw()
        },
    )
}

/// Frees what `*b` owns (large storage or an error message, with `free`)
/// and leaves the empty buffer in `*b`. Null is a no-op.
///
/// # Safety
/// A non-null `b` must point to a valid buffer that owns its storage (heap
/// storage and error messages from `malloc`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_WrapperFunctionBufferDispose(b: *mut orc_rt_WrapperFunctionBuffer) {
    guard(
        || (),
        || {
            if b.is_null() {
                return;
            }
            // SAFETY: a valid, owned buffer (the caller's contract); we move
            // it out and put the empty buffer back, so ownership is not
            // duplicated.
            let owned = unsafe {
                WrapperFunctionBuffer::from_raw(b.replace(orc_rt_WrapperFunctionBuffer::EMPTY))
            };
            drop(owned);
        },
    )
}

/// The address of the buffer's bytes (inside `*b` for up to 8 bytes, so it
/// is valid only while `*b` stays where it is). `NULL` for an out-of-band
/// error or a null `b`.
///
/// # Safety
/// A non-null `b` must point to a valid buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_WrapperFunctionBufferData(
    b: *mut orc_rt_WrapperFunctionBuffer,
) -> *mut c_char {
    guard(ptr::null_mut, || {
        // SAFETY: null or valid (the caller's contract).
        match unsafe { borrow(b) } {
            None => ptr::null_mut(),
            Some(buf) if buf.is_error() => ptr::null_mut(),
            // SAFETY: a large buffer's active field is its heap pointer.
            Some(buf) if buf.size() > INLINE_CAPACITY => unsafe { (*b).data.value_ptr },
            // Empty or small: the inline bytes, inside `*b` (upstream gives
            // the same address for an empty buffer).
            // SAFETY: `b` is valid; taking a field's address reads nothing.
            Some(_) => unsafe { ptr::addr_of_mut!((*b).data.value) }.cast(),
        }
    })
}

/// As [`orc_rt_WrapperFunctionBufferData`], for a `const` buffer.
///
/// # Safety
/// A non-null `b` must point to a valid buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_WrapperFunctionBufferConstData(
    b: *const orc_rt_WrapperFunctionBuffer,
) -> *const c_char {
    // SAFETY: the same contract; the mutable pointer is never written through.
    unsafe { orc_rt_WrapperFunctionBufferData(b.cast_mut()) }.cast_const()
}

/// The number of bytes: 0 for empty, for an out-of-band error and for null.
///
/// # Safety
/// A non-null `b` must point to a valid buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_WrapperFunctionBufferSize(
    b: *const orc_rt_WrapperFunctionBuffer,
) -> usize {
    // SAFETY: null or valid (the caller's contract).
    guard(
        || 0,
        || unsafe { borrow(b) }.map_or(0, WrapperFunctionBuffer::size),
    )
}

/// 1 if the buffer is empty (zero size, null pointer, as after `Init`),
/// else 0. An out-of-band error is not empty. Null counts as empty.
///
/// # Safety
/// A non-null `b` must point to a valid buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_WrapperFunctionBufferEmpty(
    b: *const orc_rt_WrapperFunctionBuffer,
) -> i32 {
    guard(
        || 0,
        || {
            // SAFETY: null or valid (the caller's contract).
            unsafe { borrow(b) }
                .is_none_or(WrapperFunctionBuffer::is_empty)
                .into()
        },
    )
}

/// The out-of-band error message, or `NULL` if `*b` is not an error (or `b`
/// is null). The buffer keeps ownership of the message.
///
/// # Safety
/// A non-null `b` must point to a valid buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn orc_rt_WrapperFunctionBufferGetOutOfBandError(
    b: *const orc_rt_WrapperFunctionBuffer,
) -> *const c_char {
    guard(ptr::null, || {
        // SAFETY: null or valid (the caller's contract).
        unsafe { borrow(b) }
            .and_then(WrapperFunctionBuffer::error_message)
            .map_or(ptr::null(), |m| m.as_ptr())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wrapper::BufferView;
    use std::ffi::CStr;

    /// Takes a buffer returned by the C API back into Rust.
    fn own(raw: orc_rt_WrapperFunctionBuffer) -> WrapperFunctionBuffer {
        // SAFETY: every buffer the C API returns is valid and owned.
        unsafe { WrapperFunctionBuffer::from_raw(raw) }
    }

    fn error_text(b: &WrapperFunctionBuffer) -> String {
        b.error_message()
            .expect("an error buffer")
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn constructors_give_the_right_states() {
        assert_eq!(
            own(orc_rt_WrapperFunctionBufferAllocate(0)).view(),
            BufferView::Empty
        );
        assert_eq!(
            own(orc_rt_WrapperFunctionBufferAllocate(3)).view(),
            BufferView::Bytes(&[0; 3])
        );
        assert_eq!(
            own(orc_rt_WrapperFunctionBufferAllocate(100)).bytes(),
            &[0; 100][..]
        );
        let huge = own(orc_rt_WrapperFunctionBufferAllocate(usize::MAX));
        assert!(error_text(&huge).contains("cannot allocate"), "{huge:?}");

        // SAFETY: each pointer/length pair and string below is valid or null.
        unsafe {
            let b = own(orc_rt_CreateWrapperFunctionBufferFromRange(ptr::null(), 0));
            assert_eq!(b.view(), BufferView::Empty);
            let b = own(orc_rt_CreateWrapperFunctionBufferFromRange(ptr::null(), 5));
            assert!(error_text(&b).contains("NULL data"));
            let src = [5u8; 20];
            let b = own(orc_rt_CreateWrapperFunctionBufferFromRange(
                src.as_ptr().cast(),
                20,
            ));
            assert_eq!(b.bytes(), &src);
            let b = own(orc_rt_CreateWrapperFunctionBufferFromString(c"hi".as_ptr()));
            assert_eq!(b.bytes(), b"hi\0");
            let b = own(orc_rt_CreateWrapperFunctionBufferFromString(ptr::null()));
            assert!(error_text(&b).contains("NULL string"));
            let b = own(orc_rt_CreateWrapperFunctionBufferFromOutOfBandError(
                c"bad".as_ptr(),
            ));
            assert_eq!(b.view(), BufferView::Error(c"bad"));
            let b = own(orc_rt_CreateWrapperFunctionBufferFromOutOfBandError(
                ptr::null(),
            ));
            assert_eq!(b.view(), BufferView::Error(c"(null)"));
        }
    }

    #[test]
    fn accessors_in_every_state() {
        // (buffer, size, empty, bytes, error)
        type Case = (
            WrapperFunctionBuffer,
            usize,
            i32,
            Option<&'static [u8]>,
            Option<&'static CStr>,
        );
        let cases: [Case; 4] = [
            (WrapperFunctionBuffer::empty(), 0, 1, Some(b""), None),
            (
                WrapperFunctionBuffer::copy_from(b"abc"),
                3,
                0,
                Some(b"abc"),
                None,
            ),
            (
                WrapperFunctionBuffer::copy_from(&[7; 12]),
                12,
                0,
                Some(&[7; 12]),
                None,
            ),
            (
                WrapperFunctionBuffer::out_of_band_error("no"),
                0,
                0,
                None,
                Some(c"no"),
            ),
        ];
        for (buf, size, empty, bytes, error) in cases {
            let mut raw = buf.into_raw();
            let p = ptr::addr_of_mut!(raw);
            // SAFETY: `p` points to a valid owned buffer until disposed.
            unsafe {
                assert_eq!(orc_rt_WrapperFunctionBufferSize(p), size);
                assert_eq!(orc_rt_WrapperFunctionBufferEmpty(p), empty);
                let data = orc_rt_WrapperFunctionBufferData(p);
                assert_eq!(data.cast_const(), orc_rt_WrapperFunctionBufferConstData(p));
                match bytes {
                    Some(expected) => {
                        assert!(!data.is_null());
                        assert_eq!(
                            std::slice::from_raw_parts(data.cast::<u8>(), size),
                            expected
                        );
                    }
                    None => assert!(data.is_null()),
                }
                let oob = orc_rt_WrapperFunctionBufferGetOutOfBandError(p);
                assert_eq!((!oob.is_null()).then(|| CStr::from_ptr(oob)), error);

                orc_rt_WrapperFunctionBufferDispose(p);
                assert_eq!(orc_rt_WrapperFunctionBufferEmpty(p), 1);
                orc_rt_WrapperFunctionBufferDispose(p); // harmless twice
            }
        }
    }

    #[test]
    fn inline_data_points_into_the_struct() {
        let mut raw = WrapperFunctionBuffer::copy_from(b"xy").into_raw();
        let p = ptr::addr_of_mut!(raw);
        // SAFETY: `p` is valid; writes stay within the 2 bytes.
        unsafe {
            let data = orc_rt_WrapperFunctionBufferData(p);
            assert_eq!(data, p.cast::<c_char>());
            *data = b'z' as c_char;
            assert_eq!(own(raw).bytes(), b"zy");
        }
    }

    #[test]
    fn out_of_band_messages_are_copied_byte_for_byte() {
        // SAFETY: NUL-terminated.
        let raw =
            unsafe { orc_rt_CreateWrapperFunctionBufferFromOutOfBandError(c"\xff\xfe".as_ptr()) };
        assert_eq!(own(raw).view(), BufferView::Error(c"\xff\xfe"));
    }

    #[test]
    fn null_buffer_pointers_are_tolerated() {
        // SAFETY: null is accepted by every accessor.
        unsafe {
            orc_rt_WrapperFunctionBufferInit(ptr::null_mut());
            orc_rt_WrapperFunctionBufferDispose(ptr::null_mut());
            assert!(orc_rt_WrapperFunctionBufferData(ptr::null_mut()).is_null());
            assert_eq!(orc_rt_WrapperFunctionBufferSize(ptr::null()), 0);
            assert_eq!(orc_rt_WrapperFunctionBufferEmpty(ptr::null()), 1);
            assert!(orc_rt_WrapperFunctionBufferGetOutOfBandError(ptr::null()).is_null());
        }
    }

    #[test]
    fn init_overwrites_without_freeing() {
        let mut raw = orc_rt_WrapperFunctionBuffer::EMPTY;
        raw.size = 5; // garbage-looking but never read
        // SAFETY: `raw` is writable.
        unsafe { orc_rt_WrapperFunctionBufferInit(&mut raw) };
        assert_eq!(own(raw).view(), BufferView::Empty);
    }
}
