//! `#[derive(Sps)]`: a struct encodes exactly as the tuple of its fields,
//! for named, tuple and unit structs, with lifetimes (borrowing decode),
//! type parameters and a renamed crate path.

use std::borrow::Cow;
use std::fmt::Debug;

use orc_rt::sps::memory::{AllocAction, AllocActionPair, AllocGroup, MemLifetime, MemProt};
use orc_rt::sps::{self, DecodeError, Sps, SpsDecode, SpsEncode};
use orc_rt::{ExecutorAddr, WrapperFunctionBuffer};
use proptest::prelude::*;

#[derive(Sps, Debug, Clone, Copy, PartialEq, Default)]
struct Scalars {
    a: u8,
    b: u16,
    c: u32,
    d: u64,
    e: bool,
    f: ExecutorAddr,
}

#[derive(Sps, Debug, Clone, PartialEq)]
struct Tuple(String, Option<u32>, Vec<ExecutorAddr>);

#[derive(Sps, Debug, Clone, Copy, PartialEq)]
struct Unit;

#[derive(Sps, Debug, Clone, PartialEq)]
struct Empty {}

/// The shape of LLVM 22's `tpctypes::SegFinalizeRequest`, borrowing the
/// content from the request buffer.
#[derive(Sps, Debug, Clone, PartialEq)]
struct Segment<'a> {
    group: AllocGroup,
    addr: ExecutorAddr,
    size: u64,
    content: &'a [u8],
}

#[derive(Sps, Debug, Clone, PartialEq)]
struct Request<'a> {
    segments: Vec<Segment<'a>>,
    actions: Vec<AllocActionPair>,
}

#[derive(Sps, Debug, Clone, PartialEq)]
struct TwoLifetimes<'a, 'b> {
    name: &'a str,
    data: Cow<'b, [u8]>,
}

#[derive(Sps, Debug, Clone, PartialEq)]
struct Generic<K, V>
where
    K: Ord,
{
    pairs: Vec<(K, V)>,
}

#[derive(Sps, Debug, Clone, PartialEq)]
struct GenericBorrowing<'a, T> {
    label: &'a str,
    value: T,
}

mod renamed {
    pub(crate) use orc_rt::sps as wire;
}

#[derive(Sps, Debug, Clone, PartialEq)]
#[sps(crate = "renamed::wire")]
struct ThroughReexport {
    x: u32,
}

/// `value` encodes as `tuple` does, byte for byte, with the same size
/// facts, and decodes back.
#[track_caller]
fn same_as_tuple<'a, S, T>(value: &S, tuple: &T, bytes: &'a [u8])
where
    S: SpsEncode + SpsDecode<'a> + PartialEq + Debug,
    T: SpsEncode + SpsDecode<'a>,
{
    assert_eq!(
        bytes,
        sps::to_vec(tuple).as_slice(),
        "struct and tuple bytes differ"
    );
    assert_eq!(value.encoded_size(), tuple.encoded_size());
    assert_eq!(<S as SpsEncode>::FIXED_SIZE, <T as SpsEncode>::FIXED_SIZE);
    assert_eq!(<S as SpsDecode>::FIXED_SIZE, <T as SpsDecode>::FIXED_SIZE);
    assert_eq!(
        <S as SpsDecode>::MIN_ENCODED_SIZE,
        <T as SpsDecode>::MIN_ENCODED_SIZE
    );
    assert_eq!(&sps::from_bytes::<S>(bytes).expect("decodes"), value);
}

#[test]
fn named_struct_is_its_tuple() {
    let v = Scalars {
        a: 1,
        b: 0x0203,
        c: 0x0405_0607,
        d: 0x0809_0a0b_0c0d_0e0f,
        e: true,
        f: ExecutorAddr::new(0x1000),
    };
    let bytes = sps::to_vec(&v);
    same_as_tuple(&v, &(v.a, v.b, v.c, v.d, v.e, v.f), &bytes);
    assert_eq!(<Scalars as SpsEncode>::FIXED_SIZE, Some(24));
    assert_eq!(
        bytes,
        [
            1, 3, 2, 7, 6, 5, 4, 0xf, 0xe, 0xd, 0xc, 0xb, 0xa, 9, 8, 1, 0, 0x10, 0, 0, 0, 0, 0, 0
        ]
    );
}

#[test]
fn tuple_and_unit_structs() {
    let v = Tuple("abc".into(), Some(7), vec![ExecutorAddr::new(1)]);
    let bytes = sps::to_vec(&v);
    same_as_tuple(&v, &(v.0.clone(), v.1, v.2.clone()), &bytes);
    assert_eq!(<Tuple as SpsEncode>::FIXED_SIZE, None);

    // A unit struct is SPSEmpty, like ().
    let bytes = sps::to_vec(&Unit);
    same_as_tuple(&Unit, &(), &bytes);
    assert!(bytes.is_empty());
    assert_eq!(sps::from_bytes::<Empty>(&[]), Ok(Empty {}));
    assert_eq!(
        sps::from_bytes::<Unit>(&[0]),
        Err(DecodeError::TrailingBytes(1))
    );
}

#[test]
fn borrowing_struct_points_into_the_input() {
    let content = b"\x90\x90\xc3".to_vec();
    let req = Request {
        segments: vec![Segment {
            group: AllocGroup::new(MemProt::READ | MemProt::EXEC, MemLifetime::Standard),
            addr: ExecutorAddr::new(0x7000),
            size: 0x1000,
            content: &content,
        }],
        actions: vec![AllocActionPair {
            finalize: AllocAction::new(
                ExecutorAddr::new(0x55),
                WrapperFunctionBuffer::from(vec![1u8; 16]),
            ),
            dealloc: AllocAction::none(),
        }],
    };
    let bytes = sps::to_vec(&req);
    let as_tuple = (
        vec![(
            AllocGroup::new(MemProt::READ | MemProt::EXEC, MemLifetime::Standard),
            ExecutorAddr::new(0x7000),
            0x1000u64,
            content.as_slice(),
        )],
        vec![(
            (ExecutorAddr::new(0x55), vec![1u8; 16]),
            (ExecutorAddr::NULL, Vec::<u8>::new()),
        )],
    );
    assert_eq!(bytes, sps::to_vec(&as_tuple));
    let back: Request<'_> = sps::from_bytes(&bytes).expect("decodes");
    assert_eq!(back, req);
    // The content is a view of the request bytes, not a copy.
    // segment count 8, group 1, addr 8, size 8, content length 8.
    let at = 8 + 1 + 8 + 8 + 8;
    assert_eq!(back.segments[0].content.as_ptr(), bytes[at..].as_ptr());
}

#[test]
fn several_lifetimes_and_generics() {
    let v = TwoLifetimes {
        name: "x",
        data: Cow::Borrowed(&[1, 2, 3]),
    };
    let bytes = sps::to_vec(&v);
    same_as_tuple(&v, &("x", [1u8, 2, 3].as_slice()), &bytes);

    let g = Generic {
        pairs: vec![(1u32, "one".to_string()), (2, "two".to_string())],
    };
    let bytes = sps::to_vec(&g);
    same_as_tuple(&g, &(g.pairs.clone(),), &bytes);

    let g = GenericBorrowing {
        label: "addr",
        value: ExecutorAddr::new(9),
    };
    let bytes = sps::to_vec(&g);
    same_as_tuple(&g, &("addr", ExecutorAddr::new(9)), &bytes);

    let r = ThroughReexport { x: 5 };
    let bytes = sps::to_vec(&r);
    same_as_tuple(&r, &(5u32,), &bytes);
}

#[test]
fn truncated_struct_is_a_typed_error() {
    let bytes = sps::to_vec(&Scalars::default());
    // A fixed-size struct checks its whole size at once.
    assert_eq!(
        sps::from_bytes::<Scalars>(&bytes[..23]),
        Err(DecodeError::Truncated {
            needed: 24,
            remaining: 23
        })
    );
    let mut bad = bytes.clone();
    bad[15] = 2; // the bool
    assert_eq!(
        sps::from_bytes::<Scalars>(&bad),
        Err(DecodeError::BadBool(2))
    );
}

proptest! {
    #[test]
    fn scalars_round_trip_like_the_tuple(
        a in any::<u8>(), b in any::<u16>(), c in any::<u32>(), d in any::<u64>(),
        e in any::<bool>(), f in any::<u64>(),
    ) {
        let v = Scalars { a, b, c, d, e, f: ExecutorAddr::new(f) };
        let bytes = sps::to_vec(&v);
        prop_assert_eq!(&bytes, &sps::to_vec(&(a, b, c, d, e, ExecutorAddr::new(f))));
        prop_assert_eq!(sps::from_bytes::<Scalars>(&bytes), Ok(v));
        // Slices of fixed-size structs take the one-check paths.
        let many = vec![v; 3];
        let bytes = sps::to_vec(&many);
        prop_assert_eq!(sps::from_bytes::<Vec<Scalars>>(&bytes), Ok(many.clone()));
        let mut out = [Scalars::default(); 3];
        sps::Reader::new(&bytes[8..]).decode_into(&mut out).expect("decodes");
        prop_assert_eq!(out.as_slice(), many.as_slice());
    }

    #[test]
    fn borrowing_round_trip_like_the_tuple(
        name in ".{0,12}", data in prop::collection::vec(any::<u8>(), 0..12), value in any::<Option<u16>>(),
    ) {
        let v = GenericBorrowing { label: &name, value };
        let bytes = sps::to_vec(&v);
        prop_assert_eq!(&bytes, &sps::to_vec(&(name.as_str(), value)));
        prop_assert_eq!(sps::from_bytes::<GenericBorrowing<'_, Option<u16>>>(&bytes), Ok(v));
        let t = TwoLifetimes { name: &name, data: Cow::Borrowed(&data) };
        let bytes = sps::to_vec(&t);
        prop_assert_eq!(&bytes, &sps::to_vec(&(name.as_str(), data.as_slice())));
        prop_assert_eq!(sps::from_bytes::<TwoLifetimes<'_, '_>>(&bytes), Ok(t));
    }
}
