//! The controller's model of the executor: of its services (the
//! reservations it got and, while untouched, their bytes, the empty
//! reservation at address 0, the keys and the library handles), and of the wire rules that decide how a session ends
//! ([`Ending`]: what a Hangup's payload and a Result's kind mean, protocol
//! 3.1 and 10).

use orc_rt::addr::ExecutorAddr;

use super::input::Addr;

/// How the executor's input ended (the first terminal event in stream
/// order), hence how its session must end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ending {
    /// End of stream at a frame boundary, or a Hangup saying success: an
    /// orderly end.
    Orderly(&'static str),
    /// A Hangup carrying an SPS `Error` failure: the session ends with the
    /// controller's reason, an `ErrorKind::Remote` error with this message.
    Remote(String),
    /// A protocol error: what happened, and the executor's message where
    /// the model knows it exactly.
    Protocol(&'static str, Option<String>),
}

/// The protocol error `what`, its message not predicted.
pub(super) fn protocol(what: &'static str) -> Ending {
    Ending::Protocol(what, None)
}

/// How a Hangup from the controller carrying `payload` ends the session
/// (protocol 10). The payload is the controller's reason as an SPS `Error`:
/// `00` (LLVM main's orderly disconnect) or nothing (an LLVM 22 peer) is an
/// orderly end; `01` then a string is the reason; anything else (another
/// flag, a string cut short or followed by more bytes) is a protocol error.
pub(super) fn hangup_ending(payload: &[u8]) -> Ending {
    let reason = match payload {
        [1, string @ ..] => sps_string(string),
        _ => None,
    };
    match (payload, reason) {
        ([] | [0], _) => Ending::Orderly("Hangup"),
        // Messages from LLVM need not be UTF-8: kept, invalid bytes
        // replaced.
        (_, Some(reason)) => Ending::Remote(String::from_utf8_lossy(reason).into_owned()),
        _ => Ending::Protocol(
            "malformed Hangup payload",
            Some("Could not deserialize hangup info".into()),
        ),
    }
}

/// What a Result with tag `kind` and sequence number `seqno` does
/// (protocol 3.1, 11): `None` when it completes a call (kind 0, a value,
/// or 1, an out-of-band error, and `answers_a_call`), else the protocol
/// error that ends the session. The kind is checked first: an invalid kind
/// is the error even for a seqno that no call has.
pub(super) fn result_ending(kind: u64, seqno: u64, answers_a_call: bool) -> Option<Ending> {
    match kind {
        0 | 1 if answers_a_call => None,
        0 | 1 => Some(Ending::Protocol(
            "Result for no call",
            Some(format!("No call for sequence number {seqno}")),
        )),
        _ => Some(Ending::Protocol(
            "invalid result kind",
            Some(format!("Malformed result message: invalid kind {kind}")),
        )),
    }
}

/// The message of the out-of-band error a kind 1 Result with `payload`
/// completes its call with (protocol 3.1), as the caller reads it: the SPS
/// string's bytes, invalid UTF-8 replaced and cut at the first NUL (a C
/// string); if the payload is not exactly one SPS string, a message saying
/// so (the call fails, the session goes on).
pub(super) fn out_of_band_message(payload: &[u8]) -> String {
    let Some(message) = sps_string(payload) else {
        return "Malformed result message: could not deserialize out-of-band error".into();
    };
    let mut message = String::from_utf8_lossy(message).into_owned();
    if let Some(nul) = message.find('\0') {
        message.truncate(nul);
    }
    message
}

/// `bytes` as exactly one SPS string: a little-endian `u64` length, then
/// that many bytes, nothing after.
fn sps_string(bytes: &[u8]) -> Option<&[u8]> {
    let (len, rest) = bytes.split_first_chunk::<8>()?;
    (u64::from_le_bytes(*len) == rest.len() as u64).then_some(rest)
}

#[derive(Debug)]
pub(super) struct Reservation {
    pub(super) base: u64,
    pub(super) size: u64,
    /// A shared-memory mapper reservation (else the memory manager's).
    pub(super) shared: bool,
    /// Never touched by an initialize or an unpredictable write: its bytes
    /// are `bytes` and it is writable.
    fresh: bool,
    pub(super) bytes: Vec<u8>,
}

impl Reservation {
    fn contains(&self, addr: u64, len: u64) -> bool {
        addr >= self.base
            && addr
                .checked_add(len)
                .is_some_and(|end| end <= self.base + self.size)
    }

    /// Whether it shares a byte with `[start, end)`.
    fn overlaps(&self, start: u64, end: u64) -> bool {
        start < self.base + self.size && self.base < end
    }

    /// Whether it may hold an initialized region, whose dealloc actions
    /// its release runs (and which may fail): touched, or holding a key an
    /// initialize returned (its end included: a region may be empty).
    fn may_hold_regions(&self, keys: &[u64]) -> bool {
        !self.fresh
            || keys
                .iter()
                .any(|&k| self.base <= k && k <= self.base + self.size)
    }
}

#[derive(Debug, Default)]
pub(super) struct Model {
    pub(super) live: Vec<Reservation>,
    /// The memory manager's empty reservation at address 0 is live:
    /// reserve(0) maps nothing and answers address 0, and releasing address
    /// 0 then succeeds once, as LLVM 22 (protocol 5.2). However often it
    /// was reserved, there is one.
    pub(super) zero_reserved: bool,
    pub(super) keys: Vec<u64>,
    pub(super) handles: Vec<ExecutorAddr>,
}

/// What the model says of a memory manager release.
pub(super) struct Released {
    /// `Some(true)`: it succeeds; `Some(false)`: it fails (a base names no
    /// reservation, or one this call released already); `None`: unknown (a
    /// reservation released may hold regions whose dealloc actions fail).
    pub(super) outcome: Option<bool>,
    /// The reservations it unmapped.
    pub(super) gone: Vec<Reservation>,
}

impl Model {
    /// Applies a memory manager release of `bases` with the right
    /// instance, last base first as the executor does: each base is the
    /// empty reservation at 0 (taken once) or a live reservation's base,
    /// else an error; every base is processed either way.
    pub(super) fn release(&mut self, bases: &[ExecutorAddr]) -> Released {
        let mut released = Released {
            outcome: Some(true),
            gone: Vec::new(),
        };
        let mut failed = false;
        for base in bases.iter().rev() {
            if base.is_null() && std::mem::take(&mut self.zero_reserved) {
                continue;
            }
            match self
                .live
                .iter()
                .position(|r| r.base == base.value() && !r.shared)
            {
                Some(i) => {
                    let gone = self.live.remove(i);
                    if gone.may_hold_regions(&self.keys) {
                        released.outcome = None;
                    }
                    released.gone.push(gone);
                }
                None => failed = true,
            }
        }
        if failed {
            // Whatever the dealloc actions did: the errors are joined.
            released.outcome = Some(false);
        }
        released
    }

    pub(super) fn find(&self, addr: u64, len: u64) -> Option<usize> {
        self.live.iter().position(|r| r.contains(addr, len))
    }

    /// Marks every reservation overlapping `[addr, addr + len)` as touched.
    pub(super) fn touch(&mut self, addr: u64, len: u64) {
        let end = addr.saturating_add(len.max(1));
        for r in &mut self.live {
            if r.overlaps(addr, end) {
                r.fresh = false;
            }
        }
    }

    /// Records a reservation the executor granted: a memory manager's is
    /// fresh (zeros), a shared one opaque (the controller owns its
    /// contents). With `exact` (nothing else in flight) overlapping a live
    /// one is an error; otherwise the live one was released by a call whose
    /// answer comes later, and is forgotten.
    pub(super) fn add_reservation(
        &mut self,
        base: ExecutorAddr,
        size: u64,
        shared: bool,
        exact: bool,
    ) -> Result<(), String> {
        let (start, end) = (base.value(), base.value().saturating_add(size));
        if exact && self.live.iter().any(|r| r.overlaps(start, end)) {
            let what = if shared {
                "shared reservation"
            } else {
                "reservation"
            };
            return Err(format!("{what} {base} overlaps a live one"));
        }
        self.live.retain(|r| !r.overlaps(start, end));
        self.live.push(Reservation {
            base: start,
            size,
            shared,
            fresh: !shared,
            bytes: if shared {
                Vec::new()
            } else {
                vec![0; size as usize]
            },
        });
        Ok(())
    }

    /// A segment's address and size: the size modulo that of the
    /// reservation it starts in (a page if none) plus 17, so that it may
    /// run past the end.
    pub(super) fn segment(&self, addr: &Addr, size: u32) -> (ExecutorAddr, u64) {
        let addr = self.resolve(addr);
        let room = self
            .find(addr.value(), 0)
            .map_or(orc_executor::sys::page_size(), |i| self.live[i].size);
        (addr, u64::from(size) % (room + 17))
    }

    pub(super) fn resolve(&self, a: &Addr) -> ExecutorAddr {
        ExecutorAddr::new(match a {
            Addr::Null => 0,
            Addr::Raw(v) => *v,
            Addr::InReservation { index, offset } => match self.live.len() {
                0 => u64::from(*offset),
                n => {
                    let r = &self.live[*index as usize % n];
                    r.base + u64::from(*offset) % (r.size + 16)
                }
            },
            Addr::Key(i) => match self.keys.len() {
                0 => 0,
                n => self.keys[*i as usize % n],
            },
        })
    }

    /// All of `[addr, addr + len)` in one fresh reservation: its index.
    pub(super) fn fresh_at(&self, addr: u64, len: u64) -> Option<usize> {
        self.find(addr, len).filter(|&i| self.live[i].fresh)
    }
}

/// Every page of `[base, base + size)` is unmapped.
#[allow(unsafe_code, reason = "mincore probes")]
pub(super) fn unmapped(base: u64, size: u64) -> bool {
    let page = orc_executor::sys::page_size();
    let mut vec = [0u8; 1];
    (0..size.div_ceil(page)).all(|i| {
        // SAFETY: mincore only queries the kernel about the page; `vec` has
        // room for the one page asked about.
        let rc = unsafe {
            libc::mincore(
                (base + i * page) as usize as *mut libc::c_void,
                page as usize,
                vec.as_mut_ptr(),
            )
        };
        rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOMEM)
    })
}

#[cfg(test)]
mod tests {
    use orc_executor::wire::kinds;
    use orc_rt::error::ErrorKind;

    use super::*;
    use crate::wire_message::input::{ReplyKind, WireInput, hangup_reason};

    fn string(bytes: &[u8]) -> Vec<u8> {
        let mut out = (bytes.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(bytes);
        out
    }

    fn with(mut a: Vec<u8>, b: &[u8]) -> Vec<u8> {
        a.extend_from_slice(b);
        a
    }

    /// The model reads a Hangup `payload` as `expected`, and so does the
    /// executor (`wire::kinds`).
    fn check_hangup(payload: &[u8], expected: Ending) {
        assert_eq!(hangup_ending(payload), expected, "payload {payload:?}");
        let executor = match kinds::decode_hangup(payload) {
            Ok(Ok(())) => Ending::Orderly("Hangup"),
            Ok(Err(e)) => {
                assert_eq!(e.kind(), ErrorKind::Remote);
                Ending::Remote(e.message().to_owned())
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Protocol);
                Ending::Protocol("malformed Hangup payload", Some(e.message().to_owned()))
            }
        };
        assert_eq!(
            executor, expected,
            "the executor reads {payload:?} otherwise"
        );
    }

    #[test]
    fn hangup_payloads_are_sps_errors() {
        let bad = || {
            Ending::Protocol(
                "malformed Hangup payload",
                Some("Could not deserialize hangup info".into()),
            )
        };
        let remote = |m: &str| Ending::Remote(m.into());
        check_hangup(&[], Ending::Orderly("Hangup"));
        check_hangup(&[0], Ending::Orderly("Hangup"));
        check_hangup(&with(vec![1], &string(b"bye")), remote("bye"));
        check_hangup(&with(vec![1], &string(b"")), remote(""));
        check_hangup(&with(vec![1], &string(b"\xffa\0b")), remote("\u{fffd}a\0b"));
        check_hangup(&[0, 0], bad());
        check_hangup(&[1], bad());
        check_hangup(&[2], bad());
        check_hangup(&[1, 4, 0, 0, 0, 0, 0, 0, 0, b'a'], bad());
        check_hangup(&with(with(vec![1], &string(b"bye")), b"!"), bad());
        assert_eq!(hangup_reason(b"bye"), with(vec![1], &string(b"bye")));
    }

    /// The model reads a Result of `kind` with `payload`, answering a call,
    /// as `expected` (`Ok`: the caller gets these bytes or this error;
    /// `Err`: the session ends with this protocol error), and so does the
    /// executor.
    fn check_result(kind: u64, payload: &[u8], expected: Result<Result<&[u8], &str>, &str>) {
        let model = match result_ending(kind, 9, true) {
            None if kind == 0 => Ok(Ok(payload.to_vec())),
            None => Ok(Err(out_of_band_message(payload))),
            Some(Ending::Protocol(_, Some(message))) => Err(message),
            Some(other) => panic!("{other:?}"),
        };
        let expected = expected
            .map(|r| r.map(<[u8]>::to_vec).map_err(str::to_owned))
            .map_err(str::to_owned);
        assert_eq!(model, expected, "kind {kind}, payload {payload:?}");
        let executor = match kinds::decode_result(ExecutorAddr::new(kind), payload.to_vec().into())
        {
            Ok(b) => Ok(match b.error_message() {
                Some(m) => Err(m.to_str().expect("UTF-8").to_owned()),
                None => Ok(b.bytes().to_vec()),
            }),
            Err(e) => Err(e.message().to_owned()),
        };
        assert_eq!(
            executor, expected,
            "the executor reads kind {kind} otherwise"
        );
    }

    #[test]
    fn result_kinds_are_values_errors_or_fatal() {
        let malformed = "Malformed result message: could not deserialize out-of-band error";
        check_result(0, b"", Ok(Ok(b"")));
        check_result(0, &string(b"x"), Ok(Ok(&string(b"x"))));
        check_result(1, &string(b"no such symbol"), Ok(Err("no such symbol")));
        check_result(1, &string(b"cut\0here"), Ok(Err("cut")));
        check_result(1, &string(b"\xff!"), Ok(Err("\u{fffd}!")));
        check_result(1, b"", Ok(Err(malformed)));
        check_result(1, &with(string(b"x"), b"y"), Ok(Err(malformed)));
        check_result(2, b"", Err("Malformed result message: invalid kind 2"));
        let max = format!("Malformed result message: invalid kind {}", u64::MAX);
        check_result(u64::MAX, &string(b"x"), Err(&max));
        // A seqno with no call: the kind is checked first.
        assert_eq!(
            result_ending(0, 5, false),
            Some(Ending::Protocol(
                "Result for no call",
                Some("No call for sequence number 5".into())
            ))
        );
        assert_eq!(result_ending(7, 5, false), result_ending(7, 5, true));
    }

    #[test]
    fn releases_succeed_when_every_base_is_live_and_address_0_once() {
        let a = |v: u64| ExecutorAddr::new(v);
        let mut m = Model::default();
        for base in [0x10000, 0x20000, 0x30000] {
            m.add_reservation(a(base), 0x1000, false, true).unwrap();
        }
        m.add_reservation(a(0x40000), 0x1000, true, true).unwrap();
        m.zero_reserved = true;
        let check = |m: &mut Model, bases: &[u64], outcome: Option<bool>, gone: &[u64]| {
            let bases: Vec<ExecutorAddr> = bases.iter().map(|&b| a(b)).collect();
            let r = m.release(&bases);
            let got: Vec<u64> = r.gone.iter().map(|g| g.base).collect();
            assert_eq!((r.outcome, &got[..]), (outcome, gone), "release {bases:?}");
        };
        check(&mut m, &[0], Some(true), &[]);
        check(&mut m, &[0], Some(false), &[]);
        check(&mut m, &[0x10000, 0x10000], Some(false), &[0x10000]);
        // A shared-memory reservation is not the memory manager's.
        check(&mut m, &[0x40000], Some(false), &[]);
        check(&mut m, &[0x20001], Some(false), &[]);
        m.zero_reserved = true;
        check(&mut m, &[0x20000, 0, 0], Some(false), &[0x20000]);
        assert!(!m.zero_reserved);
        // Possibly holding regions: their dealloc actions decide.
        m.touch(0x30010, 1);
        check(&mut m, &[0x30000], None, &[0x30000]);
        m.add_reservation(a(0x50000), 0x1000, false, true).unwrap();
        m.keys.push(0x51000);
        check(&mut m, &[0x50000], None, &[0x50000]);
        assert!(m.live.iter().all(|r| r.shared));
    }

    #[test]
    fn options_written_before_the_new_bits_run_as_before() {
        let input = |options| WireInput {
            legacy_fallback: true,
            options,
            replies: vec![],
            ops: vec![],
        };
        // The options of every input checked in before (seeds and
        // regressions): no hangup reasons, value replies.
        for old in [0, 3, 7] {
            assert!(!input(old).hangup_reasons());
            assert_eq!(input(old).reply_kind(), ReplyKind::Value);
        }
        assert!(input(WireInput::HANGUP_REASONS).hangup_reasons());
        let kinds = [0x00, 0x10, 0x20, 0x30].map(|o| input(o | 7).reply_kind());
        assert_eq!(
            kinds,
            [
                ReplyKind::Value,
                ReplyKind::OutOfBandError,
                ReplyKind::RawOutOfBandError,
                ReplyKind::Invalid
            ]
        );
        assert_eq!(ReplyKind::Value.result(b"ab"), (0, b"ab".to_vec()));
        assert_eq!(ReplyKind::OutOfBandError.result(b"ab"), (1, string(b"ab")));
        assert_eq!(
            ReplyKind::RawOutOfBandError.result(b"ab"),
            (1, b"ab".to_vec())
        );
        assert_eq!(ReplyKind::Invalid.result(&[]), (2, vec![]));
        assert_eq!(ReplyKind::Invalid.result(&[1]), (2, vec![1]));
        assert_eq!(ReplyKind::Invalid.result(&[7, 1]), (0x107, vec![7, 1]));
        assert_eq!(ReplyKind::Invalid.result(&[0xff; 9]).0, u64::MAX);
    }
}
