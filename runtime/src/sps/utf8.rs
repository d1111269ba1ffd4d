//! The one `unsafe` of SPS decoding: a `&str` from bytes already checked
//! to be ASCII, so short symbol names skip the out-of-line UTF-8 validator
//! (`std::str::from_utf8` is a call plus a result spilled through memory,
//! which costs more than the whole rest of decoding a 10-byte name).

use super::DecodeError;

/// The bytes as a `&str`, or [`DecodeError::BadUtf8`].
#[inline(always)]
pub(super) fn str_from_bytes(bytes: &[u8]) -> Result<&str, DecodeError> {
    if bytes.is_ascii() {
        // SAFETY: every ASCII byte sequence is valid UTF-8, which is all
        // `from_utf8_unchecked` requires.
        Ok(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        std::str::from_utf8(bytes).map_err(|e| bad_utf8(e.valid_up_to()))
    }
}

#[cold]
#[inline(never)]
fn bad_utf8(offset: usize) -> DecodeError {
    DecodeError::BadUtf8 { offset }
}
