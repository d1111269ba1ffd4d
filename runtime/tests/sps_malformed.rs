//! Malformed input: one row per way bytes can be wrong, each asserting the
//! exact `DecodeError`. Decoding never panics.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use orc_rt::sps::memory::{AllocAction, AllocActionPair, AllocGroup, MemLifetime, MemProt};
use orc_rt::sps::{self, DecodeError, ExecutorSpan, SpsDecode};
use orc_rt::{Error, ExecutorAddr, ExecutorAddrRange, WrapperFunctionBuffer};

/// Decodes `bytes` as `T` with `from_bytes` and checks the error.
#[track_caller]
fn check<'a, T: SpsDecode<'a> + std::fmt::Debug>(bytes: &'a [u8], expected: DecodeError) {
    let got = sps::from_bytes::<T>(bytes);
    assert_eq!(
        got.as_ref().err(),
        Some(&expected),
        "decoding {bytes:02x?} as {} gave {got:?}",
        std::any::type_name::<T>()
    );
    // The runtime error keeps the decode error as its typed source.
    let err: Error = expected.clone().into();
    assert_eq!(err.kind(), orc_rt::ErrorKind::Decode);
    assert_eq!(err.downcast_ref::<DecodeError>(), Some(&expected));
}

/// A u64 length prefix followed by `rest`.
fn len(n: u64, rest: &[u8]) -> Vec<u8> {
    let mut v = n.to_le_bytes().to_vec();
    v.extend_from_slice(rest);
    v
}

fn truncated(needed: usize, remaining: usize) -> DecodeError {
    DecodeError::Truncated { needed, remaining }
}

fn too_long(claimed: u64, remaining: usize) -> DecodeError {
    DecodeError::LengthExceedsInput { claimed, remaining }
}

#[test]
fn truncated_input() {
    check::<bool>(&[], truncated(1, 0));
    check::<u32>(&[1, 2, 3], truncated(4, 3));
    check::<u64>(&[0; 7], truncated(8, 7));
    check::<ExecutorAddr>(&[], truncated(8, 0));
    // A fixed-size value (range, tuple of scalars) checks its whole size once.
    check::<ExecutorAddrRange>(&[0; 15], truncated(16, 15));
    check::<(u8, u32, bool)>(&[1, 2, 3], truncated(6, 3));
    // A length prefix cut short.
    check::<String>(&[3, 0, 0, 0, 0], truncated(8, 5));
    check::<Vec<u8>>(&[], truncated(8, 0));
    // The value after a present-flag is missing.
    check::<Option<u16>>(&[1, 0xff], truncated(2, 1));
    check::<Result<u32, Error>>(&[1], truncated(4, 0));
    // The second field of a variable-size tuple.
    check::<(String, u64)>(&len(1, b"a"), truncated(8, 0));
    check::<AllocAction>(&[0; 12], truncated(8, 4));
}

#[test]
fn bad_bool() {
    check::<bool>(&[2], DecodeError::BadBool(2));
    check::<(u8, bool)>(&[0, 0xff], DecodeError::BadBool(0xff));
    // Presence flags and error flags are bools too.
    check::<Option<u8>>(&[7, 0], DecodeError::BadBool(7));
    check::<Result<(), Error>>(&[0x80], DecodeError::BadBool(0x80));
    check::<Result<u64, Error>>(&[2], DecodeError::BadBool(2));
}

#[test]
fn bad_utf8_where_a_string_is_asked_for() {
    let bytes = len(3, &[b'a', 0xff, b'b']);
    check::<String>(&bytes, DecodeError::BadUtf8 { offset: 1 });
    check::<&str>(&bytes, DecodeError::BadUtf8 { offset: 1 });
    check::<Cow<'_, str>>(&bytes, DecodeError::BadUtf8 { offset: 1 });
    // A truncated multi-byte sequence at the end ("é" cut in half).
    check::<String>(&len(2, &[b'x', 0xc3]), DecodeError::BadUtf8 { offset: 1 });
    // The same bytes are fine where bytes are asked for.
    assert_eq!(
        sps::from_bytes::<&[u8]>(&bytes),
        Ok(&[b'a', 0xff, b'b'][..])
    );
}

#[test]
fn length_prefix_larger_than_the_input() {
    // A 2^63 length in an 8-byte input: rejected before any allocation
    // (tests/sps_alloc_bound.rs checks the allocator).
    let huge = len(1 << 63, &[]);
    check::<Vec<u8>>(&huge, too_long(1 << 63, 0));
    check::<String>(&huge, too_long(1 << 63, 0));
    check::<&[u8]>(&huge, too_long(1 << 63, 0));
    check::<Vec<String>>(&huge, too_long(1 << 63, 0));
    check::<HashMap<String, u64>>(&huge, too_long(1 << 63, 0));
    check::<BTreeMap<u8, u8>>(&huge, too_long(1 << 63, 0));
    check::<WrapperFunctionBuffer>(&huge, too_long(1 << 63, 0));
    // Counts are checked against the smallest element size: 2 u64s need 16
    // bytes; 2^62 strings need 2^65 (the multiplication overflows).
    check::<Vec<u64>>(&len(2, &[0; 15]), too_long(2, 15));
    check::<Vec<String>>(&len(1 << 62, &[0; 64]), too_long(1 << 62, 64));
    check::<Vec<(u32, u32)>>(&len(3, &[0; 20]), too_long(3, 20));
    check::<String>(&len(4, b"ab"), too_long(4, 2));
    // Nested: the inner length is checked against what remains.
    check::<Vec<Vec<u8>>>(&len(1, &len(u64::MAX, &[1, 2])), too_long(u64::MAX, 2));
    check::<Vec<AllocActionPair>>(&len(1, &[0; 31]), too_long(1, 31));
}

#[test]
fn duplicate_map_key() {
    let mut bytes = len(2, &len(1, b"a"));
    bytes.push(1);
    bytes.extend(len(1, b"a"));
    bytes.push(2);
    check::<HashMap<String, u8>>(&bytes, DecodeError::DuplicateKey);
    check::<HashMap<&str, u8>>(&bytes, DecodeError::DuplicateKey);
    check::<BTreeMap<String, u8>>(&bytes, DecodeError::DuplicateKey);
    // As a plain sequence the same bytes are fine.
    assert_eq!(
        sps::from_bytes::<Vec<(&str, u8)>>(&bytes),
        Ok(vec![("a", 1), ("a", 2)])
    );
}

#[test]
fn trailing_bytes() {
    check::<u8>(&[1, 2], DecodeError::TrailingBytes(1));
    check::<()>(&[0, 0, 0], DecodeError::TrailingBytes(3));
    check::<Result<(), Error>>(&[0, 0], DecodeError::TrailingBytes(1));
    check::<String>(&len(1, b"ab"), DecodeError::TrailingBytes(1));
    // from_prefix is LLVM's behaviour: the rest is handed back.
    assert_eq!(sps::from_prefix::<u8>(&[1, 2]), Ok((1, &[2u8][..])));
}

#[test]
fn invalid_values() {
    let range = |s: u64, e: u64| {
        sps::to_vec(&ExecutorAddrRange::new(
            ExecutorAddr::new(s),
            ExecutorAddr::new(e),
        ))
    };
    let invalid = DecodeError::InvalidValue;
    check::<ExecutorSpan<u32>>(
        &range(0x1010, 0x1000),
        invalid("address range ends before it starts"),
    );
    check::<ExecutorSpan<u32>>(
        &range(0x1000, 0x1006),
        invalid("address range size is not a multiple of the element size"),
    );
    check::<ExecutorSpan<u32>>(
        &range(0x1001, 0x1005),
        invalid("address range start is not aligned for the element type"),
    );
    check::<ExecutorSpan<u8>>(
        &range(0, u64::MAX),
        invalid("address range does not fit this process's address space"),
    );
    check::<ExecutorSpan<()>>(
        &range(0, 8),
        invalid("non-empty address range for a zero-sized element type"),
    );
    // A plain ExecutorAddrRange, like LLVM's, takes any pair.
    assert!(sps::from_bytes::<ExecutorAddrRange>(&range(0x1010, 0x1000)).is_ok());
    // Alloc-group bits above bit 3 (LLVM ignores them; its encoder never sets them).
    check::<AllocGroup>(&[0x10], invalid("alloc group has bits above bit 3"));
    check::<MemProt>(&[0x08], invalid("memory protection has unknown bits"));
    check::<MemLifetime>(&[2], invalid("unknown memory lifetime"));
    check::<[u8; 4]>(
        &len(3, &[1, 2, 3]),
        invalid("sequence length differs from the array length"),
    );
}

#[test]
fn arbitrary_garbage_never_panics() {
    // Every prefix of a mixed buffer, decoded as several types: errors only.
    let mut bytes = len(3, b"abc");
    bytes.extend_from_slice(&[2, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x40]);
    bytes.extend(len(u64::MAX, &[]));
    for cut in 0..=bytes.len() {
        let b = &bytes[..cut];
        let _ = sps::from_bytes::<(String, bool, u64)>(b);
        let _ = sps::from_bytes::<Vec<Option<AllocActionPair>>>(b);
        let _ = sps::from_bytes::<HashMap<&str, Vec<ExecutorSpan<u16>>>>(b);
        let _ = sps::from_bytes::<Result<Vec<String>, Error>>(b);
        let _ = sps::from_prefix::<(AllocGroup, ExecutorAddr, u64, &[u8])>(b);
    }
    // The loop above must reach the end without a panic; the last decode of
    // the whole buffer as a string is a typed error.
    check::<String>(&bytes, DecodeError::TrailingBytes(bytes.len() - 11));
}
