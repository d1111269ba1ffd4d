//! Simple Packed Serialization (upstream `SimplePackedSerialization.h`),
//! byte-identical to LLVM 22: little-endian, no padding, no type tags.
//!
//! Rust types map onto SPS types directly: integers, `bool`, `char` (as
//! `u8`), `String`/`&str` (SPSString), `Vec<T>`/`&[T]` (SPSSequence),
//! tuples, `Option<T>` (SPSOptional), `ExecutorAddr`, `ExecutorAddrRange`,
//! `Result<(), Error>` (SPSError) and `Result<T, Error>` (SPSExpected<T>).
//! Decoding borrows from the input where it can (`&'de [u8]`, `&'de str`)
//! and never panics or allocates for an untrusted length.

mod impls;

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
    /// A value that is well-formed bytes but not a valid value of the type
    /// (an address range with end < start, a duplicate map key, ...).
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
}

impl From<EncodeError> for crate::Error {
    fn from(err: EncodeError) -> Self {
        crate::Error::with_source(crate::ErrorKind::Encode, err)
    }
}

/// A bounds-checked cursor over the input; reads borrow from it.
#[derive(Debug, Clone)]
pub struct Reader<'de> {
    input: &'de [u8],
}

impl<'de> Reader<'de> {
    /// A reader over `input`.
    #[inline]
    pub fn new(input: &'de [u8]) -> Self {
        Reader { input }
    }

    /// Bytes not read yet.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.input.len()
    }

    /// The unread rest of the input.
    #[inline]
    pub fn rest(&self) -> &'de [u8] {
        self.input
    }

    /// Takes the next `n` bytes.
    #[inline]
    pub fn take(&mut self, n: usize) -> Result<&'de [u8], DecodeError> {
        match self.input.split_at_checked(n) {
            Some((head, tail)) => {
                self.input = tail;
                Ok(head)
            }
            None => Err(DecodeError::Truncated {
                needed: n,
                remaining: self.input.len(),
            }),
        }
    }

    /// Takes the next `N` bytes as an array.
    #[inline]
    pub fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        match self.input.split_first_chunk::<N>() {
            Some((head, tail)) => {
                self.input = tail;
                Ok(*head)
            }
            None => Err(DecodeError::Truncated {
                needed: N,
                remaining: self.input.len(),
            }),
        }
    }

    /// Reads a u64 length prefix and checks that `len * min_element_size`
    /// bytes remain (each element is counted as at least one byte, so a
    /// count can never make a decoder loop or allocate beyond the input).
    #[inline]
    pub fn take_len(&mut self, min_element_size: usize) -> Result<usize, DecodeError> {
        let claimed = u64::from_le_bytes(self.take_array::<8>()?);
        let remaining = self.input.len();
        let per = min_element_size.max(1) as u64;
        match claimed.checked_mul(per) {
            Some(total) if total <= remaining as u64 => Ok(claimed as usize),
            _ => Err(DecodeError::LengthExceedsInput { claimed, remaining }),
        }
    }
}

/// A bounds-checked cursor over a pre-sized output buffer.
#[derive(Debug)]
pub struct Writer<'a> {
    out: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    /// A writer filling `out` from its start.
    #[inline]
    pub fn new(out: &'a mut [u8]) -> Self {
        Writer { out, pos: 0 }
    }

    /// Bytes written so far.
    #[inline]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Appends `bytes`.
    #[inline]
    pub fn put(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let remaining = self.out.len() - self.pos;
        match self.out.get_mut(self.pos..self.pos + bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.pos += bytes.len();
                Ok(())
            }
            None => Err(EncodeError::BufferTooSmall {
                needed: bytes.len(),
                remaining,
            }),
        }
    }

    /// Appends a fixed-size array (the integer fast path).
    #[inline]
    pub fn put_array<const N: usize>(&mut self, bytes: [u8; N]) -> Result<(), EncodeError> {
        self.put(&bytes)
    }

    /// Appends a u64 length prefix.
    #[inline]
    pub fn put_len(&mut self, len: usize) -> Result<(), EncodeError> {
        self.put_array((len as u64).to_le_bytes())
    }
}

/// A value with an SPS encoding.
pub trait SpsEncode {
    /// True only for `()`: lets `Result<(), Error>` encode as SPSError
    /// while `Result<T, Error>` encodes as SPSExpected<T>.
    #[doc(hidden)]
    const IS_UNIT: bool = false;

    /// The exact number of bytes [`encode`](Self::encode) writes.
    fn encoded_size(&self) -> usize;

    /// Writes the encoding.
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError>;

    /// Encodes a slice of `Self` as sequence elements; `u8` overrides this
    /// with one copy.
    #[doc(hidden)]
    #[inline]
    fn encode_slice(items: &[Self], w: &mut Writer<'_>) -> Result<(), EncodeError>
    where
        Self: Sized,
    {
        items.iter().try_for_each(|item| item.encode(w))
    }

    /// The encoded size of a slice of `Self` (without the count).
    #[doc(hidden)]
    #[inline]
    fn slice_encoded_size(items: &[Self]) -> usize
    where
        Self: Sized,
    {
        items.iter().map(Self::encoded_size).sum()
    }
}

/// A value that decodes from SPS bytes, possibly borrowing them for `'de`.
pub trait SpsDecode<'de>: Sized {
    /// The smallest number of bytes any value of the type takes; bounds
    /// the element count a length prefix may claim.
    const MIN_ENCODED_SIZE: usize;

    /// Reads one value.
    fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError>;

    /// Reads `count` values into a vector; `u8` overrides this with one copy.
    #[doc(hidden)]
    #[inline]
    fn decode_vec(r: &mut Reader<'de>, count: usize) -> Result<Vec<Self>, DecodeError> {
        // `take_len` has checked `count` against the input, so this capacity
        // is bounded by the bytes we were given.
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(Self::decode(r)?);
        }
        Ok(items)
    }
}

/// Encodes `value` into a new vector.
pub fn to_vec<T: SpsEncode + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = vec![0u8; value.encoded_size()];
    let written = encode_into(value, &mut out).expect("encoded_size is exact");
    debug_assert_eq!(written, out.len());
    out
}

/// Encodes `value` into `out`, returning the number of bytes written.
pub fn encode_into<T: SpsEncode + ?Sized>(value: &T, out: &mut [u8]) -> Result<usize, EncodeError> {
    let mut w = Writer::new(out);
    value.encode(&mut w)?;
    Ok(w.position())
}

/// Encodes `value` into a new wrapper-function buffer.
pub fn to_buffer<T: SpsEncode + ?Sized>(value: &T) -> Result<WrapperFunctionBuffer, EncodeError> {
    let size = value.encoded_size();
    let mut buf = WrapperFunctionBuffer::allocate(size);
    let out = buf.as_bytes_mut().expect("a fresh buffer is not an error");
    let written = encode_into(value, out)?;
    if written != size {
        return Err(EncodeError::BufferTooSmall {
            needed: size,
            remaining: written,
        });
    }
    Ok(buf)
}

/// Decodes one `T` that must span all of `input`.
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
pub fn from_prefix<'de, T: SpsDecode<'de>>(
    input: &'de [u8],
) -> Result<(T, &'de [u8]), DecodeError> {
    let mut r = Reader::new(input);
    let value = T::decode(&mut r)?;
    Ok((value, r.rest()))
}
