//! `Writer`: the bounds-checked output cursor of SPS encoding (upstream
//! `SPSOutputBuffer`), over a buffer pre-sized from `encoded_size`.

use super::{EncodeError, SpsEncode};

/// A bounds-checked cursor over a pre-sized output buffer.
#[derive(Debug)]
pub struct Writer<'a> {
    /// The part of the buffer not written yet.
    rest: &'a mut [u8],
    /// The length of the whole buffer, to report the position.
    len: usize,
}

impl<'a> Writer<'a> {
    /// A writer filling `out` from its start.
    #[inline(always)]
    pub fn new(out: &'a mut [u8]) -> Self {
        let len = out.len();
        Writer { rest: out, len }
    }

    /// Bytes written so far.
    #[inline(always)]
    pub fn position(&self) -> usize {
        self.len - self.rest.len()
    }

    /// Bytes that can still be written.
    #[inline(always)]
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Claims the next `n` bytes of the output for the caller to fill.
    #[inline(always)]
    pub fn claim(&mut self, n: usize) -> Result<&'a mut [u8], EncodeError> {
        if n > self.rest.len() {
            return Err(too_small(n, self.rest.len()));
        }
        // The check above makes `split_at_mut` infallible (its own check folds).
        let (head, tail) = std::mem::take(&mut self.rest).split_at_mut(n);
        self.rest = tail;
        Ok(head)
    }

    /// Appends `bytes`.
    #[inline(always)]
    pub fn put(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        self.claim(bytes.len())?.copy_from_slice(bytes);
        Ok(())
    }

    /// Appends a fixed-size array (the integer fast path).
    #[inline(always)]
    pub fn put_array<const N: usize>(&mut self, bytes: [u8; N]) -> Result<(), EncodeError> {
        if N > self.rest.len() {
            return Err(too_small(N, self.rest.len()));
        }
        let (head, tail) = std::mem::take(&mut self.rest).split_at_mut(N);
        head.copy_from_slice(&bytes);
        self.rest = tail;
        Ok(())
    }

    /// Appends a u64 length prefix.
    #[inline(always)]
    pub fn put_len(&mut self, len: usize) -> Result<(), EncodeError> {
        self.put_array((len as u64).to_le_bytes())
    }

    /// Encodes `items` back to back (no count prefix: an argument list
    /// repeated, or the elements of a sequence). For fixed-size types the
    /// bounds are checked once for all of them.
    #[inline(always)]
    pub fn encode_all<T: SpsEncode>(&mut self, items: &[T]) -> Result<(), EncodeError> {
        T::encode_slice(items, self)
    }

    /// A writer over exactly the next `n` bytes, for a value of fixed size
    /// `n`: one bounds check for the whole value (see
    /// [`Reader::fixed`](super::Reader::fixed)). Finish with
    /// [`end_fixed`](Self::end_fixed).
    #[inline(always)]
    pub fn fixed(&mut self, n: usize) -> Result<Writer<'a>, EncodeError> {
        self.claim(n).map(Writer::new)
    }

    /// Checks that a writer made by [`fixed`](Self::fixed) was filled: a
    /// hand-written `FIXED_SIZE` larger than what `encode` writes would
    /// otherwise leave stale bytes in the output.
    #[inline(always)]
    pub fn end_fixed(&self) -> Result<(), EncodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(size_mismatch(self.len, self.position()))
        }
    }
}

#[cold]
#[inline(never)]
fn too_small(needed: usize, remaining: usize) -> EncodeError {
    EncodeError::BufferTooSmall { needed, remaining }
}

#[cold]
#[inline(never)]
fn size_mismatch(declared: usize, written: usize) -> EncodeError {
    EncodeError::SizeMismatch { declared, written }
}
