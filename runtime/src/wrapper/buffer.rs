//! `WrapperFunctionBuffer`: the owned byte buffer that carries wrapper-function
//! arguments and results across the C ABI (upstream `WrapperFunction.h`,
//! C struct `orc_rt_WrapperFunctionBuffer`), and LLVM 22's legacy
//! `CWrapperFunctionResult`, which has the same layout.

use std::ffi::{CStr, c_char};
use std::fmt;
use std::mem::{ManuallyDrop, size_of};
use std::ptr;

use crate::error::{Error, ErrorKind};

/// Inline capacity: results up to one pointer wide need no allocation.
pub const INLINE_CAPACITY: usize = size_of::<*mut c_char>();

/// The storage word of a buffer: a heap pointer, or the bytes themselves.
#[repr(C)]
#[derive(Clone, Copy)]
pub union orc_rt_WrapperFunctionBufferDataUnion {
    /// Heap storage (`size > INLINE_CAPACITY`) or an out-of-band error message (`size == 0`).
    pub value_ptr: *mut c_char,
    /// Inline storage (`1 <= size <= INLINE_CAPACITY`).
    pub value: [c_char; INLINE_CAPACITY],
}

/// The C struct, bit for bit. Prefer [`WrapperFunctionBuffer`], which owns it.
///
/// States: empty (`size == 0`, null pointer), out-of-band error (`size == 0`,
/// pointer to a `malloc`'d NUL-terminated message), small (`1..=8` bytes
/// inline), large (`size > 8`, pointer to `malloc`'d bytes).
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(
    non_camel_case_types,
    reason = "the C name, so both codebases can be grepped"
)]
pub struct orc_rt_WrapperFunctionBuffer {
    /// Inline bytes or a heap pointer, depending on `size`.
    pub data: orc_rt_WrapperFunctionBufferDataUnion,
    /// Number of bytes; 0 for empty and for an out-of-band error.
    pub size: usize,
}

/// LLVM 22's `CWrapperFunctionResult` (`llvm/ExecutionEngine/Orc/Shared/
/// WrapperFunctionUtils.h`): the same layout and the same four states, kept
/// as its own type because it belongs to a different ABI (the synchronous
/// `CWrapperFunctionResult fn(const char *, size_t)` convention).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct CWrapperFunctionResult {
    /// Inline bytes or a heap pointer, depending on `size`.
    pub data: orc_rt_WrapperFunctionBufferDataUnion,
    /// Number of bytes; 0 for empty and for an out-of-band error.
    pub size: usize,
}

impl orc_rt_WrapperFunctionBuffer {
    /// The empty buffer: zero size, null pointer.
    pub const EMPTY: Self = orc_rt_WrapperFunctionBuffer {
        data: orc_rt_WrapperFunctionBufferDataUnion {
            value_ptr: ptr::null_mut(),
        },
        size: 0,
    };
}

/// What a buffer holds, without the contract violations of reading bytes
/// out of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferView<'a> {
    /// Success with no bytes.
    Empty,
    /// One or more bytes.
    Bytes(&'a [u8]),
    /// An out-of-band error message.
    Error(&'a CStr),
}

/// An owned `orc_rt_WrapperFunctionBuffer`; frees its storage with C `free`.
#[repr(transparent)]
pub struct WrapperFunctionBuffer {
    raw: orc_rt_WrapperFunctionBuffer,
}

// SAFETY: the buffer exclusively owns its heap storage (or none); nothing in
// it is tied to a thread.
unsafe impl Send for WrapperFunctionBuffer {}
// SAFETY: shared access only reads the storage.
unsafe impl Sync for WrapperFunctionBuffer {}

/// `malloc(size)`, aborting like Rust's allocator on exhaustion. `size > 0`.
fn c_malloc(size: usize) -> *mut c_char {
    debug_assert!(size > 0);
    // SAFETY: malloc with a non-zero size has no preconditions.
    let p = unsafe { libc::malloc(size) }.cast::<c_char>();
    if p.is_null() {
        std::alloc::handle_alloc_error(std::alloc::Layout::array::<u8>(size).expect("size fits"));
    }
    p
}

impl WrapperFunctionBuffer {
    /// The empty buffer (success, no bytes).
    #[inline]
    pub const fn empty() -> Self {
        WrapperFunctionBuffer {
            raw: orc_rt_WrapperFunctionBuffer::EMPTY,
        }
    }

    /// A zero-filled buffer of `size` bytes, inline when it fits.
    pub fn allocate(size: usize) -> Self {
        let mut raw = orc_rt_WrapperFunctionBuffer::EMPTY;
        raw.size = size;
        if size > INLINE_CAPACITY {
            // SAFETY: calloc with non-zero count and size has no preconditions.
            let p = unsafe { libc::calloc(size, 1) }.cast::<c_char>();
            if p.is_null() {
                std::alloc::handle_alloc_error(
                    std::alloc::Layout::array::<u8>(size).expect("size fits"),
                );
            }
            raw.data.value_ptr = p;
        } else {
            raw.data.value = [0; INLINE_CAPACITY];
        }
        WrapperFunctionBuffer { raw }
    }

    /// Grows the buffer to `new_size` bytes, keeping its bytes and zeroing
    /// the new ones (an out-of-band error is replaced). A heap buffer grows
    /// with `realloc`, which extends it in place or remaps it when it can,
    /// instead of always copying. Smaller sizes leave the buffer unchanged.
    pub fn grow_zeroed(&mut self, new_size: usize) {
        let old = self.raw.size;
        if new_size <= old {
            return;
        }
        if old <= INLINE_CAPACITY {
            let mut bigger = WrapperFunctionBuffer::allocate(new_size);
            if let Some(dst) = bigger.as_bytes_mut() {
                dst[..old].copy_from_slice(self.bytes());
            }
            *self = bigger;
            return;
        }
        // SAFETY: `old > INLINE_CAPACITY`, so the pointer is our own malloc'd
        // storage of `old` bytes; realloc keeps those bytes (or fails and
        // leaves the old block alone, which we then still own).
        let p = unsafe { libc::realloc(self.raw.data.value_ptr.cast(), new_size) }.cast::<u8>();
        if p.is_null() {
            std::alloc::handle_alloc_error(
                std::alloc::Layout::array::<u8>(new_size).expect("size fits"),
            );
        }
        // SAFETY: `p` holds `new_size` bytes; the tail past `old` is ours to
        // initialise.
        unsafe { ptr::write_bytes(p.add(old), 0, new_size - old) };
        self.raw.data.value_ptr = p.cast();
        self.raw.size = new_size;
    }

    /// A buffer holding a copy of `bytes` (empty for an empty slice).
    pub fn copy_from(bytes: &[u8]) -> Self {
        let mut raw = orc_rt_WrapperFunctionBuffer::EMPTY;
        raw.size = bytes.len();
        if bytes.len() > INLINE_CAPACITY {
            let p = c_malloc(bytes.len());
            // SAFETY: `p` is a fresh allocation of `bytes.len()` bytes that
            // cannot overlap `bytes`.
            unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), p.cast::<u8>(), bytes.len()) };
            raw.data.value_ptr = p;
        } else {
            let mut inline = [0 as c_char; INLINE_CAPACITY];
            for (dst, src) in inline.iter_mut().zip(bytes) {
                *dst = *src as c_char;
            }
            raw.data.value = inline;
        }
        WrapperFunctionBuffer { raw }
    }

    /// A buffer holding `s` and its terminating NUL (upstream `copyFrom(const char*)`).
    pub fn copy_from_c_str(s: &CStr) -> Self {
        WrapperFunctionBuffer::copy_from(s.to_bytes_with_nul())
    }

    /// An out-of-band error carrying `message`. A NUL inside `message`
    /// would truncate it in C, so the message is cut there.
    pub fn out_of_band_error(message: &str) -> Self {
        WrapperFunctionBuffer::out_of_band_error_bytes(message.as_bytes())
    }

    /// An out-of-band error carrying `bytes` exactly, cut at a NUL: C
    /// messages need not be UTF-8, and copies must not change them.
    pub(crate) fn out_of_band_error_bytes(bytes: &[u8]) -> Self {
        let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        let p = c_malloc(len + 1);
        // SAFETY: `p` holds `len + 1` bytes; we copy `len` and write the NUL.
        unsafe {
            ptr::copy_nonoverlapping(bytes.as_ptr(), p.cast::<u8>(), len);
            *p.add(len) = 0;
        }
        let mut raw = orc_rt_WrapperFunctionBuffer::EMPTY;
        raw.data.value_ptr = p;
        WrapperFunctionBuffer { raw }
    }

    /// An out-of-band error carrying `err`'s wire message.
    pub fn from_error(err: &Error) -> Self {
        WrapperFunctionBuffer::out_of_band_error(err.to_wire())
    }

    /// `Ok(buffer)` unchanged, `Err(e)` as an out-of-band error.
    pub fn from_result(result: Result<WrapperFunctionBuffer, Error>) -> Self {
        result.unwrap_or_else(|e| WrapperFunctionBuffer::from_error(&e))
    }

    /// Turns an out-of-band error into `Err` (kind [`ErrorKind::Remote`]).
    pub fn into_result(self) -> Result<WrapperFunctionBuffer, Error> {
        match self.error_message() {
            Some(msg) => Err(Error::new(ErrorKind::Remote, msg.to_string_lossy())),
            None => Ok(self),
        }
    }

    /// Number of bytes (0 for empty and for an error).
    #[inline]
    pub fn size(&self) -> usize {
        self.raw.size
    }

    /// True for the empty state only (an error is not empty).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.raw.size == 0 && !self.is_error()
    }

    /// True for an out-of-band error.
    #[inline]
    pub fn is_error(&self) -> bool {
        // SAFETY: with size 0 the pointer word is the active field (empty
        // or error); both store a pointer there.
        self.raw.size == 0 && !unsafe { self.raw.data.value_ptr }.is_null()
    }

    /// The error message of an out-of-band error.
    pub fn error_message(&self) -> Option<&CStr> {
        if !self.is_error() {
            return None;
        }
        // SAFETY: an error buffer owns a NUL-terminated string allocated by
        // `out_of_band_error` or handed to us through `from_raw`, whose
        // contract demands the same.
        Some(unsafe { CStr::from_ptr(self.raw.data.value_ptr) })
    }

    /// The bytes, or `None` for an out-of-band error.
    #[inline]
    pub fn as_bytes(&self) -> Option<&[u8]> {
        let size = self.raw.size;
        if size == 0 {
            return if self.is_error() { None } else { Some(&[]) };
        }
        let p = if size <= INLINE_CAPACITY {
            // A small buffer keeps its bytes inline; taking the address of
            // the union field reads nothing.
            ptr::addr_of!(self.raw.data.value).cast::<u8>()
        } else {
            // SAFETY: a large buffer stores its heap pointer.
            unsafe { self.raw.data.value_ptr }.cast::<u8>().cast_const()
        };
        // SAFETY: `p` points to `size` initialised bytes owned by `self`.
        Some(unsafe { std::slice::from_raw_parts(p, size) })
    }

    /// The bytes, mutably, or `None` for an out-of-band error.
    #[inline]
    pub fn as_bytes_mut(&mut self) -> Option<&mut [u8]> {
        let size = self.raw.size;
        if size == 0 {
            return if self.is_error() { None } else { Some(&mut []) };
        }
        let p = if size <= INLINE_CAPACITY {
            ptr::addr_of_mut!(self.raw.data.value).cast::<u8>()
        } else {
            // SAFETY: as in `as_bytes`.
            unsafe { self.raw.data.value_ptr }.cast::<u8>()
        };
        // SAFETY: `p` points to `size` initialised bytes owned exclusively by `self`.
        Some(unsafe { std::slice::from_raw_parts_mut(p, size) })
    }

    /// The bytes; an out-of-band error reads as no bytes. Use [`view`](Self::view)
    /// where the difference matters.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        self.as_bytes().unwrap_or(&[])
    }

    /// What the buffer holds.
    pub fn view(&self) -> BufferView<'_> {
        match (self.error_message(), self.raw.size) {
            (Some(msg), _) => BufferView::Error(msg),
            (None, 0) => BufferView::Empty,
            (None, _) => BufferView::Bytes(self.bytes()),
        }
    }

    /// Gives up ownership: the C struct, to be passed by value across the ABI.
    #[inline]
    pub fn into_raw(self) -> orc_rt_WrapperFunctionBuffer {
        ManuallyDrop::new(self).raw
    }

    /// Takes ownership of a C struct.
    ///
    /// # Safety
    /// `raw` must be in one of the four valid states, its heap storage (if
    /// any) allocated with C `malloc` and owned by nobody else, and an error
    /// message NUL-terminated.
    #[inline]
    pub unsafe fn from_raw(raw: orc_rt_WrapperFunctionBuffer) -> Self {
        WrapperFunctionBuffer { raw }
    }

    /// Gives up ownership as LLVM 22's `CWrapperFunctionResult`.
    #[inline]
    pub fn into_legacy(self) -> CWrapperFunctionResult {
        let raw = self.into_raw();
        CWrapperFunctionResult {
            data: raw.data,
            size: raw.size,
        }
    }

    /// Takes ownership of a `CWrapperFunctionResult` returned by legacy code.
    ///
    /// # Safety
    /// The same contract as [`from_raw`](Self::from_raw): LLVM 22 allocates
    /// with `malloc` and uses the same states.
    #[inline]
    pub unsafe fn from_legacy(result: CWrapperFunctionResult) -> Self {
        WrapperFunctionBuffer {
            raw: orc_rt_WrapperFunctionBuffer {
                data: result.data,
                size: result.size,
            },
        }
    }

    /// Leaves an empty buffer in place and returns the old contents
    /// (upstream `release()`).
    #[inline]
    pub fn take(&mut self) -> WrapperFunctionBuffer {
        std::mem::take(self)
    }
}

impl Default for WrapperFunctionBuffer {
    fn default() -> Self {
        WrapperFunctionBuffer::empty()
    }
}

impl Drop for WrapperFunctionBuffer {
    fn drop(&mut self) {
        if self.raw.size > INLINE_CAPACITY || self.is_error() {
            // SAFETY: large and error buffers own a malloc'd pointer.
            unsafe { libc::free(self.raw.data.value_ptr.cast()) };
        }
    }
}

impl Clone for WrapperFunctionBuffer {
    fn clone(&self) -> Self {
        match self.view() {
            BufferView::Empty => WrapperFunctionBuffer::empty(),
            BufferView::Bytes(b) => WrapperFunctionBuffer::copy_from(b),
            BufferView::Error(msg) => {
                WrapperFunctionBuffer::out_of_band_error_bytes(msg.to_bytes())
            }
        }
    }
}

impl PartialEq for WrapperFunctionBuffer {
    fn eq(&self, other: &Self) -> bool {
        self.view() == other.view()
    }
}

impl Eq for WrapperFunctionBuffer {}

impl fmt::Debug for WrapperFunctionBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.view() {
            BufferView::Empty => f.write_str("WrapperFunctionBuffer(empty)"),
            BufferView::Bytes(b) => write!(f, "WrapperFunctionBuffer({b:02x?})"),
            BufferView::Error(m) => write!(f, "WrapperFunctionBuffer(error {m:?})"),
        }
    }
}

impl From<&[u8]> for WrapperFunctionBuffer {
    fn from(bytes: &[u8]) -> Self {
        WrapperFunctionBuffer::copy_from(bytes)
    }
}

impl From<Vec<u8>> for WrapperFunctionBuffer {
    fn from(bytes: Vec<u8>) -> Self {
        WrapperFunctionBuffer::copy_from(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{align_of, offset_of};

    #[test]
    fn layout_matches_the_c_struct() {
        assert_eq!(size_of::<orc_rt_WrapperFunctionBuffer>(), 16);
        assert_eq!(align_of::<orc_rt_WrapperFunctionBuffer>(), 8);
        assert_eq!(offset_of!(orc_rt_WrapperFunctionBuffer, data), 0);
        assert_eq!(offset_of!(orc_rt_WrapperFunctionBuffer, size), 8);
        assert_eq!(size_of::<CWrapperFunctionResult>(), 16);
        assert_eq!(offset_of!(CWrapperFunctionResult, size), 8);
        assert_eq!(size_of::<WrapperFunctionBuffer>(), 16);
    }

    #[test]
    fn growing_keeps_the_bytes_and_zeroes_the_rest() {
        for (start, to) in [(0, 5), (3, 8), (5, 100), (100, 1 << 21), (64, 64), (64, 10)] {
            let bytes: Vec<u8> = (0..start).map(|i| i as u8 | 1).collect();
            let mut b = WrapperFunctionBuffer::copy_from(&bytes);
            b.grow_zeroed(to);
            let want = to.max(start);
            assert_eq!(b.size(), want);
            assert_eq!(&b.bytes()[..start], &bytes[..]);
            assert!(b.bytes()[start..].iter().all(|&x| x == 0));
        }
        let mut e = WrapperFunctionBuffer::out_of_band_error("gone");
        e.grow_zeroed(12);
        assert!(!e.is_error());
        assert_eq!(e.bytes(), [0; 12]);
    }

    #[test]
    fn the_four_states() {
        let empty = WrapperFunctionBuffer::empty();
        assert_eq!(empty.view(), BufferView::Empty);
        assert!(empty.is_empty() && !empty.is_error());

        let small = WrapperFunctionBuffer::copy_from(&[1, 2, 3]);
        assert_eq!(small.view(), BufferView::Bytes(&[1, 2, 3]));
        // SAFETY: reading the inline field of a small buffer.
        #[allow(unsafe_code, reason = "checking the inline representation")]
        let inline = unsafe { small.raw.data.value };
        assert_eq!(&inline[..3], &[1, 2, 3]);

        let large = WrapperFunctionBuffer::copy_from(&[7; 9]);
        assert_eq!(large.bytes(), &[7; 9]);
        assert_eq!(large.size(), 9);

        let err = WrapperFunctionBuffer::out_of_band_error("bad\0tail");
        assert_eq!(err.view(), BufferView::Error(c"bad"));
        assert!(err.is_error() && !err.is_empty());
        assert_eq!(err.as_bytes(), None);
        assert_eq!(err.into_result().unwrap_err().message(), "bad");
    }

    #[test]
    fn allocate_zero_and_empty_copies_are_empty_not_errors() {
        for b in [
            WrapperFunctionBuffer::allocate(0),
            WrapperFunctionBuffer::copy_from(&[]),
        ] {
            assert_eq!(b.view(), BufferView::Empty);
            assert!(!b.is_error());
        }
        let mut b = WrapperFunctionBuffer::allocate(100);
        assert!(b.bytes().iter().all(|&x| x == 0));
        b.as_bytes_mut().unwrap()[99] = 5;
        assert_eq!(b.bytes()[99], 5);
    }

    #[test]
    fn c_strings_keep_their_nul() {
        let b = WrapperFunctionBuffer::copy_from_c_str(c"hello, world");
        assert_eq!(b.size(), 13);
        assert_eq!(b.bytes().last(), Some(&0));
    }

    #[test]
    fn raw_and_legacy_round_trips_transfer_ownership() {
        for original in [
            WrapperFunctionBuffer::empty(),
            WrapperFunctionBuffer::copy_from(b"abc"),
            WrapperFunctionBuffer::copy_from(&[9; 40]),
            WrapperFunctionBuffer::out_of_band_error("oops"),
        ] {
            let copy = original.clone();
            // SAFETY: the raw struct came from `into_raw` just now.
            #[allow(unsafe_code, reason = "round trip through the C form")]
            let back = unsafe { WrapperFunctionBuffer::from_raw(original.into_raw()) };
            assert_eq!(back, copy);
            // SAFETY: as above, through the legacy form.
            #[allow(unsafe_code, reason = "round trip through the legacy form")]
            let back = unsafe { WrapperFunctionBuffer::from_legacy(back.into_legacy()) };
            assert_eq!(back, copy);
        }
    }

    #[test]
    fn clones_keep_error_messages_that_are_not_utf8() {
        let err = WrapperFunctionBuffer::out_of_band_error_bytes(b"bad \xff byte");
        assert_eq!(err.clone().view(), BufferView::Error(c"bad \xff byte"));
    }

    #[test]
    fn take_leaves_an_empty_buffer() {
        let mut b = WrapperFunctionBuffer::copy_from(&[1; 20]);
        let taken = b.take();
        assert!(b.is_empty());
        assert_eq!(taken.size(), 20);
    }
}
