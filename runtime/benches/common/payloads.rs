//! The SPS benchmark payloads P1-P4 (defined in `benches/README.md`),
//! built with our SPS. One copy of this code serves the criterion bench
//! (`benches/sps.rs`), the LLVM comparison (`benches/sps_compare.rs`) and
//! the golden test (`tests/golden_sps.rs`, through `#[path]`), so what is
//! timed is what is checked against LLVM's bytes.
#![allow(
    dead_code,
    unreachable_pub,
    reason = "included by several targets, each using a different subset"
)]

use std::hash::{BuildHasher, Hasher};

use orc_rt::ExecutorAddr;
use orc_rt::sps::{self, DecodeError, Reader, Sps, SpsDecode, SpsEncode, Writer};

/// Size and FNV-1a 64 hash of each payload, as LLVM 22's C++ SPS
/// (`sps-bench`) and `payloads_ref.py` print them.
pub const EXPECTED: [(&str, usize, u64); 4] = [
    ("P1", 24_000_000, 0xbed6_9781_3f45_a308),
    ("P2", 400_008, 0x74f2_2ba4_4dd4_f3a6),
    ("P3", 1_048_584, 0xe38d_9595_01f6_9d55),
    ("P4", 25_898, 0xf140_1ebd_2b72_1250),
];

/// FNV-1a 64 over `bytes` (PAYLOADS.md, "Hash").
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Encodes `value` into `buf` the way sps-bench does: compute the size,
/// resize the (reused) buffer only if it differs, serialize.
#[inline]
pub fn encode_one<T: SpsEncode + ?Sized>(value: &T, buf: &mut Vec<u8>) -> usize {
    let size = value.encoded_size();
    if buf.len() != size {
        buf.resize(size, 0);
    }
    let written = sps::encode_into(value, buf).expect("encoded_size is exact");
    debug_assert_eq!(written, size);
    size
}

// ---------------------------------------------------------------- P1

/// One P1 item: `SPSArgList<u8, u16, u32, u64, bool, SPSExecutorAddr>`,
/// 24 bytes. The derive gives it exactly the tuple's encoding.
#[derive(Sps, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct P1Item {
    pub a: u8,
    pub b: u16,
    pub c: u32,
    pub d: u64,
    pub e: bool,
    pub f: ExecutorAddr,
}

pub const P1_COUNT: usize = 1_000_000;

pub fn p1() -> Vec<P1Item> {
    (0..P1_COUNT as u64)
        .map(|i| P1Item {
            a: (i & 0xff) as u8,
            b: ((i * 7) & 0xffff) as u16,
            c: i.wrapping_mul(2_654_435_761) as u32,
            d: i.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            e: i % 3 == 0,
            f: ExecutorAddr::new(0x7f00_0000_0000 + i * 16),
        })
        .collect()
}

/// The concatenation of the items' encodings (no outer count), one encode
/// call per item into a running writer, as sps-bench does. (`encode_all`
/// would check the bounds once for all items, but for this 24-byte layout
/// it measured slower than the per-item loop; see the bench notes.)
pub fn encode_p1(items: &[P1Item], buf: &mut Vec<u8>) -> usize {
    let size: usize = items.iter().map(SpsEncode::encoded_size).sum();
    if buf.len() != size {
        buf.resize(size, 0);
    }
    let mut w = Writer::new(buf);
    for item in items {
        item.encode(&mut w).expect("encoded_size is exact");
    }
    size
}

/// Decodes into a pre-sized, reused array, one decode call per item;
/// `decode_into` checks the input bounds once for all of them.
pub fn decode_p1(buf: &[u8], out: &mut [P1Item]) -> Result<(), DecodeError> {
    Reader::new(buf).decode_into(out)
}

/// The same, item by item from a running reader (a bounds check per item):
/// what a caller without `decode_into` would write.
pub fn decode_p1_per_call(buf: &[u8], out: &mut [P1Item]) -> Result<(), DecodeError> {
    let mut r = Reader::new(buf);
    for slot in out.iter_mut() {
        *slot = P1Item::decode(&mut r)?;
    }
    Ok(())
}

// ---------------------------------------------------------------- P2

pub const P2_COUNT: usize = 10_000;

/// `SPSSequence<SPSTuple<SPSExecutorAddr, uint64_t, SPSString>>`.
pub fn p2() -> Vec<(ExecutorAddr, u64, String)> {
    (0..P2_COUNT as u64)
        .map(|i| {
            (
                ExecutorAddr::new(0x1_0000_0000 + i * 0x1000),
                (i * 37) % 4096 + 1,
                format!("sym_{i:012}"),
            )
        })
        .collect()
}

/// The borrowing native form of P2.
pub type P2Borrowed<'a> = Vec<(ExecutorAddr, u64, &'a str)>;
/// The owned native form of P2 (as the C++ bench's `std::string`).
pub type P2Owned = Vec<(ExecutorAddr, u64, String)>;

// ---------------------------------------------------------------- P3

pub const P3_COUNT: usize = 1 << 20;

/// `SPSSequence<char>`, 1 MiB.
pub fn p3() -> Vec<u8> {
    (0..P3_COUNT).map(|j| ((j * 31 + 7) & 0xff) as u8).collect()
}

// ---------------------------------------------------------------- P4

pub const P4_COUNT: usize = 1_000;

/// `SPSSequence<SPSTuple<SPSString, SPSExecutorAddr>>`, in order.
pub fn p4() -> Vec<(String, ExecutorAddr)> {
    (0..P4_COUNT as u64)
        .map(|i| {
            (
                format!("symbol_{i}"),
                ExecutorAddr::new(0x7f12_0000_0000 + i * 0x40),
            )
        })
        .collect()
}

/// The map form LLVM decodes the bootstrap-symbol map into, borrowing the
/// keys. LLVM's `StringMap` hashes with a fast non-cryptographic hash
/// (xxh3), so the like-for-like Rust map uses one too: [`FxBuildHasher`].
pub type P4Map<'a> = std::collections::HashMap<&'a str, ExecutorAddr, FxBuildHasher>;
/// The same with std's default SipHash (DoS-resistant, slower).
pub type P4MapStd<'a> = std::collections::HashMap<&'a str, ExecutorAddr>;
/// Owned keys.
pub type P4MapOwned = std::collections::HashMap<String, ExecutorAddr, FxBuildHasher>;

/// The Fx hash (rustc's): one multiply per word. Written out here so the
/// benches need no extra dependency.
#[derive(Debug, Clone, Copy, Default)]
pub struct FxBuildHasher;

impl BuildHasher for FxBuildHasher {
    type Hasher = FxHasher;
    fn build_hasher(&self) -> FxHasher {
        FxHasher(0)
    }
}

/// See [`FxBuildHasher`].
#[derive(Debug, Clone, Copy)]
pub struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, mut bytes: &[u8]) {
        while let Some((word, rest)) = bytes.split_first_chunk::<8>() {
            self.add(u64::from_le_bytes(*word));
            bytes = rest;
        }
        if let Some((word, rest)) = bytes.split_first_chunk::<4>() {
            self.add(u64::from(u32::from_le_bytes(*word)));
            bytes = rest;
        }
        for &b in bytes {
            self.add(u64::from(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

// ---------------------------------------------------------------- all

/// Every payload encoded once: (name, bytes).
pub fn encode_all() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    encode_p1(&p1(), &mut buf);
    out.push(("P1", std::mem::take(&mut buf)));
    encode_one(&p2(), &mut buf);
    out.push(("P2", std::mem::take(&mut buf)));
    encode_one(&p3(), &mut buf);
    out.push(("P3", std::mem::take(&mut buf)));
    encode_one(&p4(), &mut buf);
    out.push(("P4", std::mem::take(&mut buf)));
    out
}

/// Decodes each payload in every native form and compares it with the
/// value it was built from; `Err` says which one differs.
pub fn check_round_trips() -> Result<(), String> {
    let items = p1();
    let mut buf = Vec::new();
    encode_p1(&items, &mut buf);
    let mut out = vec![P1Item::default(); P1_COUNT];
    decode_p1(&buf, &mut out).map_err(|e| format!("P1 decode: {e}"))?;
    if out != items {
        return Err("P1 round trip mismatch".into());
    }
    let mut buf2 = vec![0u8; buf.len()];
    Writer::new(&mut buf2)
        .encode_all(&items)
        .map_err(|e| format!("P1 encode_all: {e}"))?;
    let mut out2 = vec![P1Item::default(); P1_COUNT];
    decode_p1_per_call(&buf2, &mut out2).map_err(|e| format!("P1 decode: {e}"))?;
    if buf2 != buf || out2 != items {
        return Err("P1 per-call round trip mismatch".into());
    }

    let v2 = p2();
    encode_one(&v2, &mut buf);
    let owned: P2Owned = sps::from_bytes(&buf).map_err(|e| format!("P2 decode: {e}"))?;
    let borrowed: P2Borrowed<'_> = sps::from_bytes(&buf).map_err(|e| format!("P2 decode: {e}"))?;
    let borrowed: P2Owned = borrowed
        .into_iter()
        .map(|(a, s, n)| (a, s, n.to_owned()))
        .collect();
    if owned != v2 || borrowed != v2 {
        return Err("P2 round trip mismatch".into());
    }

    let v3 = p3();
    encode_one(&v3, &mut buf);
    let owned: Vec<u8> = sps::from_bytes(&buf).map_err(|e| format!("P3 decode: {e}"))?;
    let borrowed: &[u8] = sps::from_bytes(&buf).map_err(|e| format!("P3 decode: {e}"))?;
    if owned != v3 || borrowed != v3.as_slice() {
        return Err("P3 round trip mismatch".into());
    }

    let v4 = p4();
    encode_one(&v4, &mut buf);
    let map: P4Map<'_> = sps::from_bytes(&buf).map_err(|e| format!("P4 decode: {e}"))?;
    let vec: Vec<(&str, ExecutorAddr)> =
        sps::from_bytes(&buf).map_err(|e| format!("P4 decode: {e}"))?;
    if map.len() != v4.len()
        || v4.iter().any(|(k, a)| map.get(k.as_str()) != Some(a))
        || vec.len() != v4.len()
        || !vec.iter().zip(&v4).all(|(b, o)| b.0 == o.0 && b.1 == o.1)
    {
        return Err("P4 round trip mismatch".into());
    }
    Ok(())
}
