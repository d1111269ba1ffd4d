//! `Reader`: the bounds-checked input cursor of SPS decoding (upstream
//! `SPSInputBuffer`). Reads borrow from the input for its whole lifetime.

use super::{DecodeError, SpsDecode};

/// A bounds-checked cursor over the input; reads borrow from it for `'de`.
#[derive(Debug, Clone)]
pub struct Reader<'de> {
    input: &'de [u8],
}

impl<'de> Reader<'de> {
    /// A reader over `input`.
    #[inline(always)]
    pub fn new(input: &'de [u8]) -> Self {
        Reader { input }
    }

    /// Bytes not read yet.
    #[inline(always)]
    pub fn remaining(&self) -> usize {
        self.input.len()
    }

    /// The unread rest of the input.
    #[inline(always)]
    pub fn rest(&self) -> &'de [u8] {
        self.input
    }

    /// Takes the next `n` bytes.
    #[inline(always)]
    pub fn take(&mut self, n: usize) -> Result<&'de [u8], DecodeError> {
        if n > self.input.len() {
            return Err(truncated(n, self.input.len()));
        }
        let (head, tail) = self.input.split_at(n);
        self.input = tail;
        Ok(head)
    }

    /// Takes the next `N` bytes as an array (the integer fast path).
    #[inline(always)]
    pub fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        if self.input.len() < N {
            return Err(truncated(N, self.input.len()));
        }
        let (head, tail) = self.input.split_at(N);
        self.input = tail;
        let mut out = [0u8; N];
        out.copy_from_slice(head);
        Ok(out)
    }

    /// Takes the next byte.
    #[inline(always)]
    pub fn take_byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take_array::<1>()?[0])
    }

    /// Reads a u64 length prefix and checks that `len * min_element_size`
    /// bytes remain. Each element counts as at least one byte, so a count
    /// can never make a decoder loop or reserve memory beyond the input: a
    /// 2^63 count in an 8-byte input fails here, before anything is allocated.
    #[inline(always)]
    pub fn take_len(&mut self, min_element_size: usize) -> Result<usize, DecodeError> {
        let claimed = u64::from_le_bytes(self.take_array::<8>()?);
        let remaining = self.input.len();
        let per = min_element_size.max(1) as u64;
        match claimed.checked_mul(per) {
            // `total <= remaining` also proves `claimed` fits in a usize.
            Some(total) if total <= remaining as u64 => Ok(claimed as usize),
            _ => Err(length_exceeds(claimed, remaining)),
        }
    }

    /// Decodes `out.len()` consecutive values (no count prefix: an argument
    /// list repeated, or the elements of a sequence whose count was read
    /// already) into `out`, one [`SpsDecode::decode`] per value. For
    /// fixed-size types the bounds are checked once for all of them.
    #[inline(always)]
    pub fn decode_into<T: SpsDecode<'de>>(&mut self, out: &mut [T]) -> Result<(), DecodeError> {
        match T::FIXED_SIZE {
            Some(n) if n > 0 => {
                let total = n
                    .checked_mul(out.len())
                    .ok_or_else(|| truncated(usize::MAX, self.remaining()))?;
                for (slot, chunk) in out.iter_mut().zip(self.take(total)?.chunks_exact(n)) {
                    let mut sub = Reader::new(chunk);
                    *slot = T::decode(&mut sub)?;
                    sub.end_fixed()?;
                }
            }
            _ => {
                for slot in out {
                    *slot = T::decode(self)?;
                }
            }
        }
        Ok(())
    }

    /// A reader over exactly the next `n` bytes, for a value of fixed size
    /// `n`: one bounds check for the whole value. Tuples and structs whose
    /// fields all have a fixed size decode their fields from it, and after
    /// inlining the compiler folds every per-field check against the known
    /// length. Finish with [`end_fixed`](Self::end_fixed).
    #[inline(always)]
    pub fn fixed(&mut self, n: usize) -> Result<Reader<'de>, DecodeError> {
        self.take(n).map(Reader::new)
    }

    /// Checks that a reader made by [`fixed`](Self::fixed) was read to its
    /// end (a hand-written `FIXED_SIZE` larger than what `decode` reads
    /// would otherwise skip input silently).
    #[inline(always)]
    pub fn end_fixed(&self) -> Result<(), DecodeError> {
        if self.input.is_empty() {
            Ok(())
        } else {
            Err(fixed_size_mismatch())
        }
    }
}

// The error constructors are out of line and cold, so the hot paths stay a
// compare and a branch.
#[cold]
#[inline(never)]
fn truncated(needed: usize, remaining: usize) -> DecodeError {
    DecodeError::Truncated { needed, remaining }
}

#[cold]
#[inline(never)]
fn length_exceeds(claimed: u64, remaining: usize) -> DecodeError {
    DecodeError::LengthExceedsInput { claimed, remaining }
}

#[cold]
#[inline(never)]
fn fixed_size_mismatch() -> DecodeError {
    DecodeError::InvalidValue("a decoder read fewer bytes than its FIXED_SIZE")
}
