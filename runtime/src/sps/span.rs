//! `ExecutorSpan<T>`: a typed slice of executor memory carried as an
//! SPSExecutorAddrRange (upstream `ExecutorAddrRange::toSpan<T>()` and the
//! `span<T>` serialization of orc-rt).

use std::fmt;
use std::marker::PhantomData;

use super::{DecodeError, EncodeError, Reader, SpsDecode, SpsEncode, Writer};
use crate::addr::{ExecutorAddr, ExecutorAddrRange};

/// `len` values of type `T` at `start` in this process, validated when
/// decoded from an SPSExecutorAddrRange: `start <= end`, neither bound is
/// `usize::MAX` or above, the byte size is a multiple of `size_of::<T>()`,
/// and `start` is aligned for `T` (upstream only asserts the multiple in
/// debug builds; we check all four, so a bad range is a typed error).
///
/// Decoding never dereferences: turning the span into a Rust slice is the
/// caller's `unsafe` step (`std::slice::from_raw_parts(span.as_ptr(),
/// span.len())`), justified by whatever made the memory live. A sequence of
/// spans (`Vec<ExecutorSpan<T>>`) decodes from `SPSSequence<SPSExecutorAddrRange>`.
pub struct ExecutorSpan<T> {
    start: ExecutorAddr,
    len: usize,
    // `fn() -> T`: a span owns no `T`, so it is Send, Sync and Copy
    // whatever `T` is.
    _elem: PhantomData<fn() -> T>,
}

impl<T> ExecutorSpan<T> {
    /// The span covering `slice`.
    pub fn from_slice(slice: &[T]) -> Self {
        ExecutorSpan {
            start: ExecutorAddr::from_ptr(slice.as_ptr()),
            len: slice.len(),
            _elem: PhantomData,
        }
    }

    /// Validates `range` as a span of `T`s (see the type's docs).
    pub fn from_range(range: ExecutorAddrRange) -> Result<Self, DecodeError> {
        let (start, end) = (range.start.value(), range.end.value());
        if end < start {
            return Err(DecodeError::InvalidValue(
                "address range ends before it starts",
            ));
        }
        if end >= usize::MAX as u64 {
            return Err(DecodeError::InvalidValue(
                "address range does not fit this process's address space",
            ));
        }
        let bytes = (end - start) as usize;
        let len = match size_of::<T>() {
            0 if bytes == 0 => 0,
            0 => {
                return Err(DecodeError::InvalidValue(
                    "non-empty address range for a zero-sized element type",
                ));
            }
            size if !bytes.is_multiple_of(size) => {
                return Err(DecodeError::InvalidValue(
                    "address range size is not a multiple of the element size",
                ));
            }
            size => bytes / size,
        };
        if !start.is_multiple_of(align_of::<T>() as u64) {
            return Err(DecodeError::InvalidValue(
                "address range start is not aligned for the element type",
            ));
        }
        Ok(ExecutorSpan {
            start: range.start,
            len,
            _elem: PhantomData,
        })
    }

    /// The address of the first element.
    pub fn start(&self) -> ExecutorAddr {
        self.start
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if the span has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first element as a pointer (never dereferenced here).
    pub fn as_ptr(&self) -> *const T {
        self.start.to_ptr::<T>().cast_const()
    }

    /// The byte range `[start, start + len * size_of::<T>())`.
    pub fn range(&self) -> ExecutorAddrRange {
        // `from_range`/`from_slice` guarantee the end fits a usize.
        let bytes = (self.len * size_of::<T>()) as u64;
        ExecutorAddrRange::new(self.start, ExecutorAddr::new(self.start.value() + bytes))
    }
}

impl<T> Clone for ExecutorSpan<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for ExecutorSpan<T> {}

impl<T> PartialEq for ExecutorSpan<T> {
    fn eq(&self, other: &Self) -> bool {
        self.start == other.start && self.len == other.len
    }
}

impl<T> Eq for ExecutorSpan<T> {}

impl<T> fmt::Debug for ExecutorSpan<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ExecutorSpan<{}>({:#x}, len {})",
            std::any::type_name::<T>(),
            self.start.value(),
            self.len
        )
    }
}

/// SPSExecutorAddrRange: start ‖ end.
impl<T> SpsEncode for ExecutorSpan<T> {
    const FIXED_SIZE: Option<usize> = Some(16);
    #[inline]
    fn encoded_size(&self) -> usize {
        16
    }
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.range().encode(w)
    }
}

impl<T> SpsDecode<'_> for ExecutorSpan<T> {
    const MIN_ENCODED_SIZE: usize = 16;
    const FIXED_SIZE: Option<usize> = Some(16);
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        ExecutorSpan::from_range(ExecutorAddrRange::decode(r)?)
    }
}
