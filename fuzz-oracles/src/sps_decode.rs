//! The `sps_decode` oracle: decode the input as many SPS types; every
//! success must re-encode to exactly the bytes it consumed (bincode's round
//! trip), every failure must be a well-formed [`DecodeError`].

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;

use orc_rt::addr::{ExecutorAddr, ExecutorAddrRange};
use orc_rt::error::{Error, ErrorKind};
use orc_rt::sps::{self, DecodeError, EncodeError, Reader, SpsDecode, SpsEncode, Writer};
use orc_rt::wrapper::WrapperFunctionBuffer;

/// `lossy::<A, M>` on `data`, then again on the re-encoding, which must be
/// canonical: it decodes completely and re-encodes to itself. (The second
/// run borrows a new buffer, hence a macro: each expansion infers its own
/// lifetimes for the types.)
macro_rules! lossy {
    ($data:expr; $a:ty, $m:ty) => {
        if let Some(encoded) = lossy::<$a, $m>($data) {
            let again = lossy::<$a, $m>(&encoded);
            assert_eq!(
                again.as_deref(),
                Some(&encoded[..]),
                "re-encoding is not canonical"
            );
            assert_eq!(
                sps::from_prefix::<$a>(&encoded).map(|(_, rest)| rest.len()),
                Ok(0),
            );
        }
    };
}

/// `map::<Map, K, V>` on `data`, then on the re-encoding, which must hold
/// the same pairs and be consumed completely.
macro_rules! map {
    ($data:expr; $map:ty, $k:ty, $v:ty) => {
        if let Some((pairs, encoded)) = map::<$map, $k, $v>($data) {
            let again = map::<$map, $k, $v>(&encoded);
            assert_eq!(again.as_ref().map(|(p, _)| p), Some(&pairs));
            assert_eq!(
                sps::from_prefix::<$map>(&encoded).map(|(_, rest)| rest.len()),
                Ok(0)
            );
        }
    };
}

/// Decodes `data` as each of a list of SPS types and checks every outcome.
pub fn sps_decode(data: &[u8]) {
    // Scalars.
    exact::<()>(data);
    exact::<bool>(data);
    exact::<u8>(data);
    exact::<i8>(data);
    exact::<u16>(data);
    exact::<i16>(data);
    exact::<u32>(data);
    exact::<i32>(data);
    exact::<u64>(data);
    exact::<i64>(data);
    exact::<usize>(data);
    exact::<ExecutorAddr>(data);
    exact::<ExecutorAddrRange>(data);
    exact::<Box<u32>>(data);

    // Strings and byte sequences (borrowed and owned), cross-checked.
    exact::<&str>(data);
    exact::<String>(data);
    exact::<&[u8]>(data);
    exact::<Vec<u8>>(data);
    exact::<WrapperFunctionBuffer>(data);
    strings_agree(data);

    // Sequences, nested.
    exact::<Vec<bool>>(data);
    exact::<Vec<u16>>(data);
    exact::<Vec<u64>>(data);
    // Elements of zero bytes are bounded as one byte each (`Reader::take_len`,
    // so a count cannot make the decoder spin), which makes `[(); n]` decode
    // only with n more bytes after it: a deliberate deviation, so the bytes
    // it consumed do not decode on their own.
    exact_in_context::<Vec<()>>(data);
    exact::<Vec<&str>>(data);
    exact::<Vec<String>>(data);
    exact::<Vec<&[u8]>>(data);
    exact::<Vec<Vec<u8>>>(data);
    exact::<Vec<Vec<&str>>>(data);
    exact::<Vec<ExecutorAddrRange>>(data);
    exact::<Vec<(ExecutorAddr, WrapperFunctionBuffer)>>(data);

    // Optionals and tuples (an argument list is a tuple).
    exact::<Option<u64>>(data);
    exact::<Option<&str>>(data);
    exact::<Option<Option<bool>>>(data);
    exact::<Vec<Option<ExecutorAddrRange>>>(data);
    exact::<(bool, i32, &str)>(data);
    exact::<(u8, (u16, u64), Option<&str>)>(data);
    exact::<(ExecutorAddr, Vec<(u32, bool)>, i64)>(data);
    exact::<(u8, u8, u8, u8, u8, u8, u8, u8, u8, u8)>(data);

    // SPSError and SPSExpected, against a plain mirror of their layout
    // (messages are decoded lossily, so bytes come back only for UTF-8).
    lossy!(data; Result<(), Error>, WireError<'_>);
    lossy!(data; Result<u32, Error>, WireExpected<'_, u32>);
    lossy!(data; Result<&str, Error>, WireExpected<'_, &str>);
    lossy!(data; Result<Vec<(u8, bool)>, Error>, WireExpected<'_, Vec<(u8, bool)>>);
    lossy!(data; Result<Option<ExecutorAddr>, Error>, WireExpected<'_, Option<ExecutorAddr>>);
    lossy!(data; Vec<Result<(), Error>>, Vec<WireError<'_>>);
    lossy!(data; Vec<Result<u64, Error>>, Vec<WireExpected<'_, u64>>);

    // Maps: sequences of pairs; order is not kept, duplicates are refused.
    map!(data; HashMap<u32, String>, u32, String);
    map!(data; HashMap<&str, (bool, u64)>, &str, (bool, u64));
    map!(data; BTreeMap<String, Vec<u8>>, String, Vec<u8>);
    map!(data; BTreeMap<u64, ()>, u64, ());
}

/// Checks a type whose decoding loses nothing: the value re-encodes to
/// exactly the bytes it consumed.
fn exact<'de, T>(data: &'de [u8])
where
    T: SpsDecode<'de> + SpsEncode + Debug,
{
    if let Some(consumed) = exact_in_context::<T>(data) {
        // The consumed bytes alone decode the same way.
        let again = sps::from_bytes::<T>(consumed)
            .unwrap_or_else(|e| panic!("{consumed:02x?} alone does not decode: {e}"));
        assert_eq!(sps::to_vec(&again), consumed);
    }
}

/// [`exact`] without decoding the consumed bytes on their own; returns them.
fn exact_in_context<'de, T>(data: &'de [u8]) -> Option<&'de [u8]>
where
    T: SpsDecode<'de> + SpsEncode + Debug,
{
    let prefix = sps::from_prefix::<T>(data);
    let whole = sps::from_bytes::<T>(data);
    match prefix {
        Ok((value, rest)) => {
            let consumed = &data[..data.len() - rest.len()];
            reencodes_to(&value, consumed);
            whole_agrees(whole.map(|_| ()), rest.len());
            Some(consumed)
        }
        Err(err) => {
            well_formed(&err, data.len());
            assert_eq!(
                whole.err(),
                Some(err),
                "from_bytes disagrees with from_prefix"
            );
            None
        }
    }
}

/// `value` encodes to `expected` through every encoding entry point.
fn reencodes_to<T: SpsEncode + Debug + ?Sized>(value: &T, expected: &[u8]) {
    assert_eq!(
        value.encoded_size(),
        expected.len(),
        "encoded_size of {value:?}"
    );
    assert_eq!(sps::to_vec(value), expected, "re-encoding {value:?}");
    let buf = sps::to_buffer(value).unwrap_or_else(|e| panic!("to_buffer({value:?}): {e}"));
    assert_eq!(buf.bytes(), expected);
    // One byte short must be a typed error, not a panic or a partial success.
    if let Some(short) = expected.len().checked_sub(1) {
        let mut out = vec![0u8; short];
        match sps::encode_into(value, &mut out) {
            Err(EncodeError::BufferTooSmall { needed, remaining }) => {
                assert!(needed > remaining, "{needed} > {remaining}")
            }
            other => panic!("encoding {value:?} into {short} bytes gave {other:?}"),
        }
    }
}

/// `from_bytes` succeeds exactly when `from_prefix` consumed everything.
fn whole_agrees(whole: Result<(), DecodeError>, rest: usize) {
    match (whole, rest) {
        (Ok(()), 0) => {}
        (Err(DecodeError::TrailingBytes(n)), rest) if n == rest && rest > 0 => {}
        (other, rest) => panic!("from_bytes gave {other:?} with {rest} trailing bytes"),
    }
}

/// A decode error must describe the input it was given, and convert into
/// a runtime error of kind `Decode` that keeps it as its typed source.
fn well_formed(err: &DecodeError, input_len: usize) {
    match *err {
        DecodeError::Truncated { needed, remaining } => {
            assert!(needed > remaining && remaining <= input_len, "{err:?}")
        }
        DecodeError::BadBool(b) => assert!(b > 1, "{err:?}"),
        DecodeError::BadUtf8 { offset } => assert!(offset < input_len, "{err:?}"),
        DecodeError::LengthExceedsInput { claimed, remaining } => {
            // The 8-byte prefix was read, and a zero count always fits.
            assert!(claimed > 0 && remaining + 8 <= input_len, "{err:?}")
        }
        DecodeError::InvalidValue(what) => assert!(!what.is_empty()),
        DecodeError::TrailingBytes(_) => panic!("from_prefix reported trailing bytes"),
        #[allow(
            unreachable_patterns,
            reason = "DecodeError is non_exhaustive: a new kind is accepted until checked here"
        )]
        _ => {}
    }
    assert!(!err.to_string().is_empty());
    let runtime: Error = err.clone().into();
    assert_eq!(runtime.kind(), ErrorKind::Decode);
    assert_eq!(runtime.downcast_ref::<DecodeError>(), Some(err));
}

/// Strings, byte slices and byte vectors share one wire form: they must
/// agree on where it ends, and a string must fail exactly on invalid UTF-8.
fn strings_agree(data: &[u8]) {
    let bytes = sps::from_prefix::<&[u8]>(data);
    let vec = sps::from_prefix::<Vec<u8>>(data);
    let text = sps::from_prefix::<&str>(data);
    match bytes {
        Ok((b, rest)) => {
            assert_eq!(vec, Ok((b.to_vec(), rest)));
            match std::str::from_utf8(b) {
                Ok(s) => assert_eq!(text, Ok((s, rest))),
                Err(e) => assert_eq!(
                    text.err(),
                    Some(DecodeError::BadUtf8 {
                        offset: e.valid_up_to()
                    })
                ),
            }
        }
        Err(e) => {
            assert_eq!(vec.err(), Some(e.clone()));
            assert_eq!(text.err(), Some(e));
        }
    }
}

/// A decoded value `A` that loses information (error messages become
/// UTF-8), checked against `M`, a mirror that decodes the same layout
/// without loss. Returns the value's re-encoding.
fn lossy<'de, A, M>(data: &'de [u8]) -> Option<Vec<u8>>
where
    A: SpsDecode<'de> + SpsEncode + Debug,
    M: SpsDecode<'de> + SpsEncode + Debug + Mirror<A>,
{
    match (sps::from_prefix::<A>(data), sps::from_prefix::<M>(data)) {
        (Ok((value, rest)), Ok((mirror, mirror_rest))) => {
            assert_eq!(rest.len(), mirror_rest.len(), "{value:?} vs {mirror:?}");
            let consumed = &data[..data.len() - rest.len()];
            reencodes_to(&mirror, consumed);
            assert!(mirror.agrees(&value), "{value:?} vs {mirror:?}");
            let encoded = sps::to_vec(&value);
            assert_eq!(encoded.len(), value.encoded_size());
            if mirror.lossless() {
                assert_eq!(encoded, consumed, "re-encoding {value:?}");
            }
            Some(encoded)
        }
        (Err(err), Err(mirror_err)) => {
            well_formed(&err, data.len());
            assert_eq!(err, mirror_err);
            None
        }
        (value, mirror) => panic!("decoder and mirror disagree: {value:?} vs {mirror:?}"),
    }
}

/// A lossless reading of the wire form of `A`.
trait Mirror<A> {
    /// `value` is what `A`'s decoder should make of the same bytes.
    fn agrees(&self, value: &A) -> bool;
    /// Re-encoding `A` gives the original bytes back (all messages UTF-8).
    fn lossless(&self) -> bool;
}

/// SPSError read plainly: flag byte 1 = failure, then the message bytes.
#[derive(Debug)]
struct WireError<'de>(Option<&'de [u8]>);

/// SPSExpected<T> read plainly: flag byte 1 = success (the opposite
/// polarity to SPSError), then the value or the message bytes.
#[derive(Debug)]
enum WireExpected<'de, T> {
    Value(T),
    Failure(&'de [u8]),
}

impl<'de> SpsDecode<'de> for WireError<'de> {
    const MIN_ENCODED_SIZE: usize = 1;
    fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError> {
        Ok(WireError(match bool::decode(r)? {
            false => None,
            true => Some(<&[u8]>::decode(r)?),
        }))
    }
}

impl SpsEncode for WireError<'_> {
    fn encoded_size(&self) -> usize {
        1 + self.0.map_or(0, |m| m.encoded_size())
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.0.is_some().encode(w)?;
        self.0.map_or(Ok(()), |m| m.encode(w))
    }
}

impl<'de, T: SpsDecode<'de>> SpsDecode<'de> for WireExpected<'de, T> {
    const MIN_ENCODED_SIZE: usize = 1;
    fn decode(r: &mut Reader<'de>) -> Result<Self, DecodeError> {
        Ok(match bool::decode(r)? {
            true => WireExpected::Value(T::decode(r)?),
            false => WireExpected::Failure(<&[u8]>::decode(r)?),
        })
    }
}

impl<T: SpsEncode> SpsEncode for WireExpected<'_, T> {
    fn encoded_size(&self) -> usize {
        1 + match self {
            WireExpected::Value(v) => v.encoded_size(),
            WireExpected::Failure(m) => m.encoded_size(),
        }
    }
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        match self {
            WireExpected::Value(v) => {
                true.encode(w)?;
                v.encode(w)
            }
            WireExpected::Failure(m) => {
                false.encode(w)?;
                m.encode(w)
            }
        }
    }
}

/// An error that came off the wire carrying `message`.
fn is_wire_error(err: &Error, message: &[u8]) -> bool {
    err.kind() == ErrorKind::Remote && err.message() == String::from_utf8_lossy(message)
}

impl Mirror<Result<(), Error>> for WireError<'_> {
    fn agrees(&self, value: &Result<(), Error>) -> bool {
        match (self.0, value) {
            (None, Ok(())) => true,
            (Some(m), Err(e)) => is_wire_error(e, m),
            _ => false,
        }
    }
    fn lossless(&self) -> bool {
        self.0.is_none_or(|m| std::str::from_utf8(m).is_ok())
    }
}

impl<T: PartialEq> Mirror<Result<T, Error>> for WireExpected<'_, T> {
    fn agrees(&self, value: &Result<T, Error>) -> bool {
        match (self, value) {
            (WireExpected::Value(a), Ok(b)) => a == b,
            (WireExpected::Failure(m), Err(e)) => is_wire_error(e, m),
            _ => false,
        }
    }
    fn lossless(&self) -> bool {
        match self {
            WireExpected::Value(_) => true,
            WireExpected::Failure(m) => std::str::from_utf8(m).is_ok(),
        }
    }
}

impl<A, M: Mirror<A>> Mirror<Vec<A>> for Vec<M> {
    fn agrees(&self, value: &Vec<A>) -> bool {
        self.len() == value.len() && self.iter().zip(value).all(|(m, a)| m.agrees(a))
    }
    fn lossless(&self) -> bool {
        self.iter().all(M::lossless)
    }
}

/// A map decodes like the sequence of its pairs, except that a duplicate
/// key is refused; it re-encodes to the same pairs, possibly reordered.
/// Returns the pairs' encodings, sorted, and the map's re-encoding.
fn map<'de, Map, K, V>(data: &'de [u8]) -> Option<(Vec<Vec<u8>>, Vec<u8>)>
where
    Map: SpsDecode<'de> + SpsEncode + Debug + PartialEq,
    K: SpsDecode<'de> + SpsEncode + Debug,
    V: SpsDecode<'de> + SpsEncode + Debug,
{
    // Keys and pairs are compared by their encodings (no Ord or Hash needed;
    // for these key types equal encodings mean equal keys).
    fn has_duplicate_key<K: SpsEncode, V>(pairs: &[(K, V)]) -> bool {
        let mut keys: Vec<Vec<u8>> = pairs.iter().map(|(k, _)| sps::to_vec(k)).collect();
        keys.sort();
        keys.windows(2).any(|w| w[0] == w[1])
    }

    let as_map = sps::from_prefix::<Map>(data);
    let as_pairs = sps::from_prefix::<Vec<(K, V)>>(data);
    match (as_map, as_pairs) {
        (Ok((map, rest)), Ok((pairs, pairs_rest))) => {
            assert_eq!(rest.len(), pairs_rest.len());
            assert!(!has_duplicate_key(&pairs), "{map:?} kept a duplicate key");
            let consumed = &data[..data.len() - rest.len()];
            let encoded = sps::to_vec(&map);
            assert_eq!(encoded.len(), consumed.len());
            assert_eq!(map.encoded_size(), consumed.len());
            let mut sorted: Vec<Vec<u8>> = pairs.iter().map(sps::to_vec).collect();
            sorted.sort();
            Some((sorted, encoded))
        }
        (Err(DecodeError::DuplicateKey), pairs) => {
            // A duplicate key, refused as soon as it is read. If every pair
            // is complete the sequence decodes and shows the duplicate;
            // otherwise it fails later, past the duplicate.
            if let Ok((pairs, _)) = pairs {
                assert!(has_duplicate_key(&pairs), "refused unique keys {pairs:?}");
            }
            None
        }
        (Err(err), Err(pairs_err)) => {
            well_formed(&err, data.len());
            assert_eq!(err, pairs_err);
            None
        }
        (map, pairs) => panic!("map and pairs disagree: {map:?} vs {pairs:?}"),
    }
}
