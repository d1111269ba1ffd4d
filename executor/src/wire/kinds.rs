//! The payloads whose meaning LLVM main's SimpleRemoteEPC gave them after
//! LLVM 22 (protocol 3.1, 10): the Hangup reason and the kind of a Result.
//!
//! - **Hangup** carries the sender's reason as an SPS `Error`: `00` for an
//!   orderly end, `01` + string for a failure, which the receiver reports as
//!   its own disconnection error. LLVM 22 ignored the payload; we accept an
//!   empty one (LLVM 22 peers, which never sent one) as orderly too.
//! - **Result** messages use the tag field for a *result kind*: 0 = a value
//!   (the payload is the wrapper's result bytes, the only kind LLVM 22
//!   knows), 1 = an out-of-band error (the payload is its message as an SPS
//!   string). There is no negotiation: LLVM 22's controller ends the session
//!   on a Result whose tag is not 0, so we send kind 1 only when told the
//!   controller understands it ([`WireOptions::result_kinds`]), and accept
//!   both kinds always.
//!
//! [`WireOptions::result_kinds`]: super::WireOptions::result_kinds

use orc_rt::addr::ExecutorAddr;
use orc_rt::error::{Error, ErrorKind};
use orc_rt::sps;
use orc_rt::wrapper::WrapperFunctionBuffer;

/// The Hangup payload announcing an orderly end: SPS `Error` success.
pub const HANGUP_ORDERLY: [u8; 1] = [0];

/// The Hangup payload for `reason`: `00` for `Ok`, `01` + message for a
/// failure.
pub fn encode_hangup(reason: Result<(), &Error>) -> Vec<u8> {
    match reason {
        Ok(()) => HANGUP_ORDERLY.to_vec(),
        Err(e) => sps::to_vec(&Err::<(), Error>(Error::msg(e.message()))),
    }
}

/// What a Hangup from the controller says: `Ok(Ok(()))` for an orderly end
/// (`00`, or an empty payload from an LLVM 22 peer), `Ok(Err(reason))` when
/// the controller hung up because of `reason` (an [`ErrorKind::Remote`]
/// error with its message), `Err` for a payload that is neither (a protocol
/// error, LLVM main's words).
pub fn decode_hangup(payload: &[u8]) -> Result<Result<(), Error>, Error> {
    if payload.is_empty() {
        return Ok(Ok(()));
    }
    match sps::from_bytes::<Result<(), Error>>(payload) {
        Ok(Ok(())) => Ok(Ok(())),
        Ok(Err(e)) => Ok(Err(Error::remote(e.message()))),
        Err(_) => Err(Error::new(
            ErrorKind::Protocol,
            "Could not deserialize hangup info",
        )),
    }
}

/// The kind of a Result message, carried in its tag field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum ResultKind {
    /// The payload is the result's bytes (LLVM 22's only kind).
    Value = 0,
    /// The payload is an out-of-band error's message (SPS string).
    OutOfBandError = 1,
}

impl ResultKind {
    /// The tag field of a Result of this kind.
    pub fn tag(self) -> ExecutorAddr {
        ExecutorAddr::new(self as u64)
    }
}

/// The result a Result message carries: its payload for kind 0, an
/// out-of-band error for kind 1 (a payload that does not decode becomes an
/// out-of-band error saying so, as in LLVM main: the call fails, the session
/// goes on). Any other kind is a protocol error: the peer speaks a dialect
/// we do not know.
pub fn decode_result(
    tag: ExecutorAddr,
    payload: WrapperFunctionBuffer,
) -> Result<WrapperFunctionBuffer, Error> {
    match tag.value() {
        0 => Ok(payload),
        1 => Ok(match sps::from_bytes::<&[u8]>(payload.bytes()) {
            // Bytes, not checked UTF-8: a C message need not be.
            Ok(message) => {
                WrapperFunctionBuffer::out_of_band_error(&String::from_utf8_lossy(message))
            }
            Err(_) => WrapperFunctionBuffer::out_of_band_error(
                "Malformed result message: could not deserialize out-of-band error",
            ),
        }),
        kind => Err(Error::new(
            ErrorKind::Protocol,
            format!("Malformed result message: invalid kind {kind}"),
        )),
    }
}

/// The tag and payload of a Result carrying the out-of-band error
/// `message`: kind 1 with the message when the controller understands
/// result kinds, else LLVM 22's only possible answer, an empty value.
pub fn encode_out_of_band(message: &[u8], result_kinds: bool) -> (ExecutorAddr, Vec<u8>) {
    if result_kinds {
        (ResultKind::OutOfBandError.tag(), sps::to_vec(&message))
    } else {
        (ResultKind::Value.tag(), Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hangup_payloads_are_sps_errors() {
        assert_eq!(encode_hangup(Ok(())), [0]);
        let mut failure = vec![1];
        failure.extend_from_slice(&3u64.to_le_bytes());
        failure.extend_from_slice(b"bye");
        assert_eq!(encode_hangup(Err(&Error::msg("bye"))), failure);

        assert!(decode_hangup(&[0]).unwrap().is_ok());
        assert!(decode_hangup(&[]).unwrap().is_ok(), "an LLVM 22 peer");
        let reason = decode_hangup(&failure).unwrap().unwrap_err();
        assert_eq!(
            (reason.kind(), reason.message()),
            (ErrorKind::Remote, "bye")
        );
        for bad in [&[2][..], &[1, 9], &[1, 3, 0, 0, 0, 0, 0, 0, 0, b'b']] {
            let err = decode_hangup(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Protocol);
            assert_eq!(err.message(), "Could not deserialize hangup info");
        }
    }

    #[test]
    fn result_kinds_decode_and_encode() {
        let value = decode_result(ExecutorAddr::NULL, vec![1, 2].into()).unwrap();
        assert_eq!(value.bytes(), [1, 2]);
        let (tag, payload) = encode_out_of_band(b"no such thing", true);
        assert_eq!(tag, ExecutorAddr::new(1));
        let oob = decode_result(tag, payload.into()).unwrap();
        assert_eq!(
            oob.error_message().unwrap().to_str().unwrap(),
            "no such thing"
        );
        let bad = decode_result(ExecutorAddr::new(1), vec![9].into()).unwrap();
        assert_eq!(
            bad.error_message().unwrap().to_str().unwrap(),
            "Malformed result message: could not deserialize out-of-band error"
        );
        let err = decode_result(ExecutorAddr::new(2), Vec::new().into()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol);
        assert_eq!(err.message(), "Malformed result message: invalid kind 2");
        assert_eq!(
            encode_out_of_band(b"lost", false),
            (ExecutorAddr::NULL, Vec::new())
        );
    }
}
