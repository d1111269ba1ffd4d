//! Simple Packed Serialization (upstream `SimplePackedSerialization.h`),
//! byte-identical to LLVM 22: little-endian, no padding, no type tags.
//!
//! Rust types map onto SPS types directly:
//!
//! | SPS type | Rust types |
//! |---|---|
//! | `bool` | `bool` (decoding rejects bytes other than 0 and 1) |
//! | `char`, `int8_t`..`uint64_t` | `u8` (also for C `char`), `i8`, `u16`..`u64`, `i16`..`i64` |
//! | `SPSSize` | `usize` (a u64; decoding fails if it does not fit) |
//! | `SPSEmpty` | `()` |
//! | `SPSTuple<..>`, argument lists | tuples up to 12 fields, `#[derive(Sps)]` structs |
//! | `SPSSequence<T>` | `Vec<T>`, `[T]`, `[T; N]`; `&'de [u8]` borrows |
//! | `SPSString` | `String`, `str`, `&'de str` (borrows), `Cow<'de, str>` |
//! | `SPSOptional<T>` | `Option<T>` |
//! | `SPSMap<K, V>` | `HashMap`, `BTreeMap` (decoding rejects a duplicate key) |
//! | `SPSExecutorAddr`, `SPSExecutorAddrRange` | [`ExecutorAddr`](crate::ExecutorAddr), [`ExecutorAddrRange`](crate::ExecutorAddrRange), [`ExecutorSpan<T>`] |
//! | `SPSError`, `SPSExpected<T>` | `Result<(), Error>`, `Result<T, Error>` |
//! | `SPSSequence<char>` as a buffer | [`WrapperFunctionBuffer`] |
//! | `SPSRemoteAllocGroup`, `SPSWrapperFunctionCall`, `SPSAllocActionCallPair` | [`memory::AllocGroup`], [`memory::AllocAction`], [`memory::AllocActionPair`] |
//!
//! Decoding borrows from the input where it can (`&'de [u8]`, `&'de str`),
//! never panics, and never reserves memory for a length the input could not
//! hold: every count is checked against the bytes that remain first.
//!
//! ```
//! use orc_rt::sps;
//! let bytes = sps::to_vec(&(true, 42i32, "foo"));
//! assert_eq!(bytes, b"\x01\x2a\0\0\0\x03\0\0\0\0\0\0\0foo");
//! let (flag, n, s): (bool, i32, &str) = sps::from_bytes(&bytes).unwrap();
//! assert_eq!((flag, n, s), (true, 42, "foo"));
//! ```

mod impls;
pub mod memory;
mod reader;
mod span;
mod sps_as;
#[allow(
    unsafe_code,
    reason = "from_utf8_unchecked after an ASCII check: the string-decoding hot path"
)]
mod utf8;
mod writer;

pub use reader::Reader;
pub use span::ExecutorSpan;
pub use sps_as::SpsAs;
pub use writer::Writer;

/// `#[derive(Sps)]`: gives a struct the SPS encoding of the tuple of its
/// fields, in declaration order (`SpsEncode` and `SpsDecode<'de>`).
///
/// Structs with one lifetime parameter decode borrowing from the input
/// (`&'a str`, `&'a [u8]` fields). Type parameters get `SpsEncode` /
/// `SpsDecode<'de>` bounds. `#[sps(crate = "path")]` names the `sps`
/// module when `orc_rt` is re-exported under another name.
///
/// ```
/// use orc_rt::sps::{self, Sps};
/// #[derive(Sps, Debug, PartialEq)]
/// struct Symbol<'a> {
///     name: &'a str,
///     addr: orc_rt::ExecutorAddr,
/// }
/// let sym = Symbol { name: "main", addr: orc_rt::ExecutorAddr::new(0x1000) };
/// let bytes = sps::to_vec(&sym);
/// assert_eq!(bytes, sps::to_vec(&("main", orc_rt::ExecutorAddr::new(0x1000))));
/// assert_eq!(sps::from_bytes::<Symbol<'_>>(&bytes).unwrap(), sym);
/// ```
#[cfg(feature = "derive")]
pub use orc_rt_derive::Sps;

use crate::wrapper::WrapperFunctionBuffer;

/// Why bytes did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the value did.
    #[error("truncated input: needed {needed} bytes, {remaining} remain")]
    Truncated {
        /// Bytes the next read needed.
        needed: usize,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A bool byte other than 0 or 1.
    #[error("invalid bool byte {0:#04x}")]
    BadBool(u8),
    /// A string that is not UTF-8 where a `String`/`&str` was asked for.
    #[error("invalid UTF-8 at byte {offset} of a string")]
    BadUtf8 {
        /// Offset of the first invalid byte within the string.
        offset: usize,
    },
    /// A length prefix larger than the bytes that remain could hold.
    #[error("length {claimed} exceeds the {remaining} bytes of input that remain")]
    LengthExceedsInput {
        /// The element count or byte length the input claimed.
        claimed: u64,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A map whose encoding holds the same key twice.
    #[error("duplicate key in map")]
    DuplicateKey,
    /// Well-formed bytes that are not a valid value of the type (an address
    /// range with end < start, a size that does not fit a usize, ...).
    #[error("invalid value: {0}")]
    InvalidValue(&'static str),
    /// Bytes left over after a value that should have consumed everything.
    #[error("{0} trailing bytes after the value")]
    TrailingBytes(usize),
}

impl From<DecodeError> for crate::Error {
    fn from(err: DecodeError) -> Self {
        crate::Error::with_source(crate::ErrorKind::Decode, err)
    }
}

/// Why a value did not encode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The output buffer is smaller than the encoding (an `encoded_size`
    /// that disagrees with `encode`, or a caller-supplied buffer too small).
    #[error("output buffer too small: needed {needed} bytes, {remaining} remain")]
    BufferTooSmall {
        /// Bytes the write needed.
        needed: usize,
        /// Bytes left in the output.
        remaining: usize,
    },
    /// A hand-written `FIXED_SIZE` that disagrees with what `encode` wrote.
    #[error("encoder declared a fixed size of {declared} bytes but wrote {written}")]
    SizeMismatch {
        /// The declared `FIXED_SIZE`.
        declared: usize,
        /// Bytes actually written.
        written: usize,
    },
}

impl From<EncodeError> for crate::Error {
    fn from(err: EncodeError) -> Self {
        crate::Error::with_source(crate::ErrorKind::Encode, err)
    }
}

/// A value with an SPS encoding.
pub trait SpsEncode {
    /// True only for `()`: lets `Result<(), Error>` encode as SPSError
    /// while `Result<T, Error>` encodes as `SPSExpected<T>`.
    #[doc(hidden)]
    const IS_UNIT: bool = false;

    /// `Some(n)` if every value encodes to exactly `n` bytes (integers,
    /// addresses, tuples and structs of those). Tuples, structs and
    /// sequences of such values check the output bounds once for the whole
    /// value instead of once per field. An impl that declares a size it does
    /// not write gets [`EncodeError::SizeMismatch`], never wrong bytes.
    const FIXED_SIZE: Option<usize> = None;

    /// The exact number of bytes [`encode`](Self::encode) writes.
    fn encoded_size(&self) -> usize;

    /// Writes the encoding.
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError>;

    /// Encodes a slice of `Self` as sequence elements (without the count);
    /// `u8` overrides this with one copy.
    #[doc(hidden)]
    #[inline]
    fn encode_slice(items: &[Self], w: &mut Writer<'_>) -> Result<(), EncodeError>
    where
        Self: Sized,
    {
        match Self::FIXED_SIZE {
            Some(n) if n > 0 => {
                let total = n
                    .checked_mul(items.len())
                    .ok_or(EncodeError::BufferTooSmall {
                        needed: usize::MAX,
                        remaining: w.remaining(),
                    })?;
                let out = w.claim(total)?;
                // One bounds check for the whole slice; each element writes
                // into its own exact chunk, where the checks fold away.
                for (item, chunk) in items.iter().zip(out.chunks_exact_mut(n)) {
                    let mut sub = Writer::new(chunk);
                    item.encode(&mut sub)?;
                    sub.end_fixed()?;
                }
                Ok(())
            }
            _ => items.iter().try_for_each(|item| item.encode(w)),
        }
    }

    /// The encoded size of a slice of `Self` (without the count).
    #[doc(hidden)]
    #[inline(always)]
    fn slice_encoded_size(items: &[Self]) -> usize
    where
        Self: Sized,
    {
        match Self::FIXED_SIZE {
            Some(n) => n.saturating_mul(items.len()),
            None => items.iter().map(Self::encoded_size).sum(),
        }
    }
}

/// A value that decodes from SPS bytes, possibly borrowing them for `'de`.
pub trait SpsDecode<'de>: Sized {
    /// The smallest number of bytes any value of the type takes; bounds
    /// the element count a length prefix may claim.
    const MIN_ENCODED_SIZE: usize;

    /// `Some(n)` if every value takes exactly `n` bytes (see
    /// [`SpsEncode::FIXED_SIZE`]); then `MIN_ENCODED_SIZE == n`.
    const FIXED_SIZE: Option<usize> = None;

    /// True only for `()` (see [`SpsEncode::IS_UNIT`]).
    #[doc(hidden)]
    const IS_UNIT: bool = false;

    /// Reads one value.
    fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError>;

    /// Reads `count` values into a vector; `u8` overrides this with one
    /// copy. `count` has been checked against the input by
    /// [`Reader::take_len`] with `MIN_ENCODED_SIZE`.
    #[doc(hidden)]
    #[inline]
    fn decode_vec(r: &mut Reader<'de>, count: usize) -> Result<Vec<Self>, DecodeError> {
        let mut items = Vec::with_capacity(bounded_capacity::<Self>(count, r.remaining()));
        match Self::FIXED_SIZE {
            Some(n) if n > 0 => {
                let total = n
                    .checked_mul(count)
                    .ok_or(DecodeError::LengthExceedsInput {
                        claimed: count as u64,
                        remaining: r.remaining(),
                    })?;
                // One bounds check for the whole sequence; each element
                // reads from its own exact chunk, where the checks fold away.
                for chunk in r.take(total)?.chunks_exact(n) {
                    let mut sub = Reader::new(chunk);
                    items.push(Self::decode(&mut sub)?);
                    sub.end_fixed()?;
                }
            }
            _ => {
                for _ in 0..count {
                    items.push(Self::decode(r)?);
                }
            }
        }
        Ok(items)
    }
}

/// How many `T`s to reserve for a claimed `count` with `remaining` input
/// bytes: never more memory than the input itself takes, whatever the
/// count says (the vector grows past that only as real elements arrive).
#[inline]
pub(crate) fn bounded_capacity<T>(count: usize, remaining: usize) -> usize {
    count.min(remaining / size_of::<T>().max(1))
}

/// Encodes `value` into a new vector.
///
/// # Panics
///
/// If the value's `encoded_size` disagrees with its `encode` (a bug in a
/// hand-written [`SpsEncode`] impl; the built-in and derived ones are exact).
#[inline]
pub fn to_vec<T: SpsEncode + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = vec![0u8; value.encoded_size()];
    match encode_into(value, &mut out) {
        Ok(written) if written == out.len() => out,
        Ok(written) => panic!(
            "SpsEncode::encoded_size said {} bytes, encode wrote {written}",
            out.len()
        ),
        Err(err) => panic!("SpsEncode::encoded_size disagrees with encode: {err}"),
    }
}

/// Encodes `value` into `out`, returning the number of bytes written.
#[inline]
pub fn encode_into<T: SpsEncode + ?Sized>(value: &T, out: &mut [u8]) -> Result<usize, EncodeError> {
    let mut w = Writer::new(out);
    value.encode(&mut w)?;
    Ok(w.position())
}

/// Encodes `value` into a new wrapper-function buffer.
pub fn to_buffer<T: SpsEncode + ?Sized>(value: &T) -> Result<WrapperFunctionBuffer, EncodeError> {
    let size = value.encoded_size();
    let mut buf = WrapperFunctionBuffer::allocate(size);
    let out = match buf.as_bytes_mut() {
        Some(out) => out,
        // A fresh buffer holds bytes, never an out-of-band error.
        None => unreachable!("a freshly allocated buffer is not an error"),
    };
    let written = encode_into(value, out)?;
    if written != size {
        return Err(EncodeError::SizeMismatch {
            declared: size,
            written,
        });
    }
    Ok(buf)
}

/// Decodes one `T` that must span all of `input`.
#[inline]
pub fn from_bytes<'de, T: SpsDecode<'de>>(input: &'de [u8]) -> Result<T, DecodeError> {
    let mut r = Reader::new(input);
    let value = T::decode(&mut r)?;
    match r.remaining() {
        0 => Ok(value),
        n => Err(DecodeError::TrailingBytes(n)),
    }
}

/// Decodes one `T` from the front of `input`, returning it and the rest
/// (LLVM's decoders ignore trailing bytes; use this where we must too).
#[inline]
pub fn from_prefix<'de, T: SpsDecode<'de>>(
    input: &'de [u8],
) -> Result<(T, &'de [u8]), DecodeError> {
    let mut r = Reader::new(input);
    let value = T::decode(&mut r)?;
    Ok((value, r.rest()))
}

/// Support for `#[derive(Sps)]`; not a public API.
#[doc(hidden)]
pub mod __private {
    /// The fixed size of a tuple or struct: the sum of its fields' fixed
    /// sizes, or `None` if any field has a variable size.
    pub const fn fixed_sum(sizes: &[Option<usize>]) -> Option<usize> {
        let mut total = 0usize;
        let mut i = 0;
        while i < sizes.len() {
            match sizes[i] {
                Some(n) => match total.checked_add(n) {
                    Some(t) => total = t,
                    None => return None,
                },
                None => return None,
            }
            i += 1;
        }
        Some(total)
    }
}
