//! Property tests: every SPS type round-trips both ways.
//!
//! - value → bytes → value gives the value back, the byte count equals
//!   `encoded_size`, `to_buffer` writes the same bytes, trailing bytes are
//!   returned by `from_prefix` and refused by `from_bytes`, and every strict
//!   prefix of an encoding fails to decode (truncated or length error);
//! - bytes → value → bytes gives the consumed bytes back, on valid encodings
//!   with one byte overwritten (so most decode to some other value) and on
//!   arbitrary bytes.
//!
//! Exceptions, each tested on its own below: hash maps re-encode in their own
//! iteration order (compared entry by entry), and an error message that is
//! not UTF-8 decodes lossily (the error must not be lost).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;

use orc_rt::sps::memory::{AllocAction, AllocActionPair, AllocGroup, MemLifetime, MemProt};
use orc_rt::sps::{self, DecodeError, ExecutorSpan, Sps, SpsDecode, SpsEncode};
use orc_rt::{Error, ExecutorAddr, ExecutorAddrRange, WrapperFunctionBuffer};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

// ------------------------------------------------------------ strategies

fn addr() -> impl Strategy<Value = ExecutorAddr> {
    any::<u64>().prop_map(ExecutorAddr::new)
}

fn range() -> impl Strategy<Value = ExecutorAddrRange> {
    (addr(), addr()).prop_map(|(s, e)| ExecutorAddrRange::new(s, e))
}

fn remote_error() -> impl Strategy<Value = Error> {
    // Errors cross the wire as their message and come back as Remote.
    // ASCII, so the byte mutations below (ASCII too for these types) keep the
    // message UTF-8 (see `non_utf8_error_message_decodes_lossily`).
    "[ -~]{0,20}".prop_map(Error::remote)
}

fn buffer() -> impl Strategy<Value = WrapperFunctionBuffer> {
    prop::collection::vec(any::<u8>(), 0..40).prop_map(WrapperFunctionBuffer::from)
}

fn mem_prot() -> impl Strategy<Value = MemProt> {
    (0u8..8).prop_map(|b| MemProt::from_bits(b).expect("bits 0-2"))
}

fn lifetime() -> impl Strategy<Value = MemLifetime> {
    prop_oneof![Just(MemLifetime::Standard), Just(MemLifetime::Finalize)]
}

fn alloc_group() -> impl Strategy<Value = AllocGroup> {
    (mem_prot(), lifetime()).prop_map(|(p, l)| AllocGroup::new(p, l))
}

fn action() -> impl Strategy<Value = AllocAction> {
    (addr(), buffer()).prop_map(|(f, a)| AllocAction::new(f, a))
}

fn action_pair() -> impl Strategy<Value = AllocActionPair> {
    (action(), action()).prop_map(|(finalize, dealloc)| AllocActionPair { finalize, dealloc })
}

fn span_u32() -> impl Strategy<Value = ExecutorSpan<u32>> {
    (0u64..1 << 40, 0u64..1000).prop_map(|(start, len)| {
        let start = start * 4;
        ExecutorSpan::from_range(ExecutorAddrRange::new(
            ExecutorAddr::new(start),
            ExecutorAddr::new(start + len * 4),
        ))
        .expect("aligned, multiple of 4")
    })
}

// Derived structs: named, tuple, unit, borrowing, generic, nested.

#[derive(Sps, Debug, Clone, PartialEq)]
struct Segment {
    group: AllocGroup,
    addr: ExecutorAddr,
    size: u64,
    content: Vec<u8>,
}

#[derive(Sps, Debug, Clone, PartialEq)]
struct FinalizeRequest {
    segments: Vec<Segment>,
    actions: Vec<AllocActionPair>,
}

#[derive(Sps, Debug, Clone, Copy, PartialEq)]
struct Fixed(u8, u16, bool, ExecutorAddr);

#[derive(Sps, Debug, Clone, Copy, PartialEq)]
struct Unit;

#[derive(Sps, Debug, Clone, PartialEq)]
struct Borrowed<'a> {
    name: &'a str,
    bytes: &'a [u8],
    flag: Option<bool>,
}

#[derive(Sps, Debug, Clone, PartialEq)]
struct Generic<T> {
    items: Vec<T>,
    last: Option<T>,
}

fn segment() -> impl Strategy<Value = Segment> {
    (
        alloc_group(),
        addr(),
        any::<u64>(),
        prop::collection::vec(any::<u8>(), 0..20),
    )
        .prop_map(|(group, addr, size, content)| Segment {
            group,
            addr,
            size,
            content,
        })
}

fn finalize_request() -> impl Strategy<Value = FinalizeRequest> {
    (
        prop::collection::vec(segment(), 0..4),
        prop::collection::vec(action_pair(), 0..4),
    )
        .prop_map(|(segments, actions)| FinalizeRequest { segments, actions })
}

// ------------------------------------------------------------ checks

fn fail(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

/// value → bytes → value, and the byte-level facts around it.
fn value_round_trip<'a, T>(value: &T, bytes: &'a [u8]) -> Result<(), TestCaseError>
where
    T: SpsEncode + SpsDecode<'a> + PartialEq + Debug,
{
    prop_assert_eq!(bytes.len(), value.encoded_size());
    if let Some(n) = <T as SpsEncode>::FIXED_SIZE {
        prop_assert_eq!(n, bytes.len());
    }
    prop_assert!(bytes.len() >= <T as SpsDecode<'a>>::MIN_ENCODED_SIZE);
    let buffer = sps::to_buffer(value).map_err(fail)?;
    prop_assert_eq!(buffer.bytes(), bytes);

    let back: T = sps::from_bytes(bytes).map_err(fail)?;
    prop_assert_eq!(&back, value);
    // Decoding then encoding gives the consumed bytes back.
    prop_assert_eq!(sps::to_vec(&back), bytes);
    Ok(())
}

/// Trailing bytes and strict prefixes.
fn framing<T>(bytes: &[u8]) -> Result<(), TestCaseError>
where
    T: for<'a> SpsDecode<'a> + SpsEncode + Debug,
{
    let mut longer = bytes.to_vec();
    longer.extend_from_slice(&[0xab, 0xcd]);
    let (_, rest) = sps::from_prefix::<T>(&longer).map_err(fail)?;
    prop_assert_eq!(rest, &[0xab, 0xcd][..]);
    prop_assert_eq!(
        sps::from_bytes::<T>(&longer).err(),
        Some(DecodeError::TrailingBytes(2))
    );
    // Every strict prefix is a truncated encoding (sampled for long ones).
    let step = (bytes.len() / 16).max(1);
    for cut in (0..bytes.len()).step_by(step) {
        match sps::from_bytes::<T>(&bytes[..cut]) {
            Err(DecodeError::Truncated { .. }) | Err(DecodeError::LengthExceedsInput { .. }) => {}
            other => prop_assert!(false, "prefix of {cut} bytes decoded as {other:?}"),
        }
    }
    Ok(())
}

/// bytes → value → bytes on near-valid input: `bytes` with the byte at
/// `at` (modulo the length) replaced by `with`.
fn bytes_round_trip<T>(bytes: &[u8], at: usize, with: u8) -> Result<(), TestCaseError>
where
    T: for<'a> SpsDecode<'a> + SpsEncode,
{
    let mut input = bytes.to_vec();
    if !input.is_empty() {
        let i = at % input.len();
        input[i] = with;
    }
    if let Ok((value, rest)) = sps::from_prefix::<T>(&input) {
        let consumed = input.len() - rest.len();
        prop_assert_eq!(sps::to_vec(&value), &input[..consumed]);
    }
    Ok(())
}

/// All the checks for an owned type.
fn check_owned<T>(value: &T, at: usize, with: u8) -> Result<(), TestCaseError>
where
    T: for<'a> SpsDecode<'a> + SpsEncode + PartialEq + Debug,
{
    let bytes = sps::to_vec(value);
    value_round_trip(value, &bytes)?;
    framing::<T>(&bytes)?;
    bytes_round_trip::<T>(&bytes, at, with)
}

fn mutation() -> impl Strategy<Value = (usize, u8)> {
    (any::<usize>(), any::<u8>())
}

macro_rules! owned_props {
    ($($name:ident: $strategy:expr;)*) => {
        proptest! {
            $(
                #[test]
                fn $name(value in $strategy, (at, with) in mutation()) {
                    check_owned(&value, at, with)?;
                }
            )*
        }
    };
}

/// Types holding errors: mutations write ASCII bytes only, so a mutated
/// message stays UTF-8 and re-encodes byte for byte.
macro_rules! error_props {
    ($($name:ident: $strategy:expr;)*) => {
        proptest! {
            $(
                #[test]
                fn $name(value in $strategy, (at, with) in mutation()) {
                    check_owned(&value, at, with & 0x7f)?;
                }
            )*
        }
    };
}

error_props! {
    error_success: Just(Ok::<(), Error>(()));
    error_failure: remote_error().prop_map(Err::<(), Error>);
    expected_u64: prop_oneof![any::<u64>().prop_map(Ok), remote_error().prop_map(Err)];
    expected_vec: prop_oneof![
        prop::collection::vec("[ -~]{0,6}", 0..4).prop_map(Ok),
        remote_error().prop_map(Err::<Vec<String>, Error>)
    ];
    nested_results: prop::collection::vec(
        proptest::option::of(prop_oneof![
            Just(Ok::<(), Error>(())),
            remote_error().prop_map(Err::<(), Error>)
        ]),
        0..4,
    );
}

owned_props! {
    unit: Just(());
    bool_: any::<bool>();
    u8_: any::<u8>();
    i8_: any::<i8>();
    u16_: any::<u16>();
    i16_: any::<i16>();
    u32_: any::<u32>();
    i32_: any::<i32>();
    u64_: any::<u64>();
    i64_: any::<i64>();
    usize_: any::<usize>();
    executor_addr: addr();
    executor_addr_range: range();
    string: ".{0,40}";
    bytes_vec: prop::collection::vec(any::<u8>(), 0..64);
    i8_vec: prop::collection::vec(any::<i8>(), 0..64);
    u32_vec: prop::collection::vec(any::<u32>(), 0..16);
    string_vec: prop::collection::vec(".{0,8}", 0..8);
    addr_array: prop::array::uniform4(addr());
    option_u64: any::<Option<u64>>();
    option_string: proptest::option::of(".{0,8}");
    option_option: any::<Option<Option<u8>>>();
    boxed: any::<u32>().prop_map(Box::new);
    tuple1: any::<(u16,)>();
    tuple2: (any::<bool>(), ".{0,8}");
    tuple6: (any::<u8>(), any::<u16>(), any::<u32>(), any::<u64>(), any::<bool>(), addr());
    tuple12: (
        (any::<u8>(), any::<i8>(), any::<u16>(), any::<i16>(), any::<u32>(), any::<i32>()),
        (any::<u64>(), any::<i64>(), any::<bool>(), addr(), range(), ".{0,4}"),
    )
        .prop_map(|((a, b, c, d, e, f), (g, h, i, j, k, l))| (a, b, c, d, e, f, g, h, i, j, k, l));
    wrapper_buffer: buffer();
    mem_prot_: mem_prot();
    mem_lifetime: lifetime();
    alloc_group_: alloc_group();
    alloc_action: action();
    alloc_action_pair: action_pair();
    alloc_action_pairs: prop::collection::vec(action_pair(), 0..4);
    executor_span: span_u32();
    executor_spans: prop::collection::vec(span_u32(), 0..4);
    nested: prop::collection::vec(
        proptest::option::of((".{0,6}", prop::collection::vec(range(), 0..3))),
        0..4,
    );
    derived_named: segment();
    derived_nested: finalize_request();
    derived_tuple: (any::<u8>(), any::<u16>(), any::<bool>(), addr()).prop_map(|(a, b, c, d)| Fixed(a, b, c, d));
    derived_unit: Just(Unit);
    derived_generic: (prop::collection::vec(any::<u16>(), 0..6), any::<Option<u16>>())
        .prop_map(|(items, last)| Generic { items, last });
    derived_generic_nested: (prop::collection::vec(segment(), 0..3), proptest::option::of(segment()))
        .prop_map(|(items, last)| Generic { items, last });
}

proptest! {
    /// Borrowing forms: `&str`, `&[u8]`, `Cow`, a borrowing derived struct,
    /// and a map with borrowed keys; each decodes pointing into the input.
    #[test]
    fn borrowed(s in ".{0,40}", b in prop::collection::vec(any::<u8>(), 0..40), flag in any::<Option<bool>>()) {
        let bytes = sps::to_vec(s.as_str());
        value_round_trip(&s.as_str(), &bytes)?;
        let back: &str = sps::from_bytes(&bytes).map_err(fail)?;
        prop_assert_eq!(back.as_ptr(), bytes[8..].as_ptr(), "&str must borrow the input");
        let cow: Cow<'_, str> = sps::from_bytes(&bytes).map_err(fail)?;
        prop_assert!(matches!(cow, Cow::Borrowed(_)));
        value_round_trip(&cow, &bytes)?;

        let bytes = sps::to_vec(b.as_slice());
        value_round_trip(&b.as_slice(), &bytes)?;
        let back: &[u8] = sps::from_bytes(&bytes).map_err(fail)?;
        prop_assert_eq!(back.as_ptr(), bytes[8..].as_ptr(), "&[u8] must borrow the input");
        let cow: Cow<'_, [u8]> = sps::from_bytes(&bytes).map_err(fail)?;
        value_round_trip(&cow, &bytes)?;

        let value = Borrowed { name: &s, bytes: &b, flag };
        let bytes = sps::to_vec(&value);
        value_round_trip(&value, &bytes)?;
        prop_assert_eq!(&bytes, &sps::to_vec(&(s.as_str(), b.as_slice(), flag)));
    }

    /// Hash maps: the bytes of the decoded map re-encode to the same entries
    /// (in the map's own iteration order).
    #[test]
    fn hash_map(map in prop::collection::hash_map(".{0,8}", addr(), 0..8), (at, with) in mutation()) {
        let bytes = sps::to_vec(&map);
        prop_assert_eq!(bytes.len(), map.encoded_size());
        let back: HashMap<String, ExecutorAddr> = sps::from_bytes(&bytes).map_err(fail)?;
        prop_assert_eq!(&back, &map);
        let borrowed: HashMap<&str, ExecutorAddr> = sps::from_bytes(&bytes).map_err(fail)?;
        prop_assert_eq!(borrowed.len(), map.len());
        same_entries(&sps::to_vec(&back), &bytes)?;

        let mut input = bytes.clone();
        let i = at % input.len();
        input[i] = with;
        if let Ok((value, rest)) = sps::from_prefix::<HashMap<String, ExecutorAddr>>(&input) {
            same_entries(&sps::to_vec(&value), &input[..input.len() - rest.len()])?;
        }
    }

    /// BTreeMap: decoded entries come back sorted, so bytes whose keys were
    /// out of order re-encode sorted; compared entry by entry.
    #[test]
    fn btree_map(
        map in prop::collection::btree_map(any::<u32>(), prop::collection::vec(any::<u8>(), 0..6), 0..6),
        (at, with) in mutation(),
    ) {
        let bytes = sps::to_vec(&map);
        value_round_trip(&map, &bytes)?;
        framing::<BTreeMap<u32, Vec<u8>>>(&bytes)?;
        let mut input = bytes.clone();
        let i = at % input.len();
        input[i] = with;
        if let Ok((value, rest)) = sps::from_prefix::<BTreeMap<u32, Vec<u8>>>(&input) {
            let mut a: Vec<(u32, Vec<u8>)> = sps::from_bytes(&sps::to_vec(&value)).map_err(fail)?;
            let mut b: Vec<(u32, Vec<u8>)> =
                sps::from_bytes(&input[..input.len() - rest.len()]).map_err(fail)?;
            a.sort();
            b.sort();
            prop_assert_eq!(a, b);
        }
    }

    /// Arbitrary bytes: decoding never panics, and what decodes re-encodes
    /// to the bytes it consumed.
    #[test]
    fn arbitrary_bytes(input in prop::collection::vec(any::<u8>(), 0..64)) {
        fn check<T: for<'a> SpsDecode<'a> + SpsEncode>(input: &[u8]) -> Result<(), TestCaseError> {
            if let Ok((value, rest)) = sps::from_prefix::<T>(input) {
                prop_assert_eq!(sps::to_vec(&value), &input[..input.len() - rest.len()]);
            }
            Ok(())
        }
        check::<(bool, u32, String)>(&input)?;
        check::<Vec<Option<u8>>>(&input)?;
        check::<Vec<(ExecutorAddr, Vec<u8>)>>(&input)?;
        check::<Option<Vec<String>>>(&input)?;
        check::<AllocActionPair>(&input)?;
        check::<Vec<AllocGroup>>(&input)?;
        check::<FinalizeRequest>(&input)?;
        check::<Vec<ExecutorSpan<u64>>>(&input)?;
    }
}

/// Two map encodings hold the same count and the same set of entries.
fn same_entries(a: &[u8], b: &[u8]) -> Result<(), TestCaseError> {
    let mut ea: Vec<(String, ExecutorAddr)> = sps::from_bytes(a).map_err(fail)?;
    let mut eb: Vec<(String, ExecutorAddr)> = sps::from_bytes(b).map_err(fail)?;
    ea.sort();
    eb.sort();
    prop_assert_eq!(ea, eb);
    Ok(())
}

#[test]
fn non_utf8_error_message_decodes_lossily() {
    // LLVM's messages are C++ strings with no encoding promise: a message
    // that is not UTF-8 must still arrive as an error (with U+FFFD), so this
    // is the one place where decode-then-encode does not give the bytes back.
    let bytes = [1, 2, 0, 0, 0, 0, 0, 0, 0, b'o', 0xff];
    let result: Result<(), Error> = sps::from_bytes(&bytes).expect("decodes");
    let err = result.expect_err("flag 1 is a failure");
    assert_eq!(err.kind(), orc_rt::ErrorKind::Remote);
    assert_eq!(err.message(), "o\u{fffd}");
}
