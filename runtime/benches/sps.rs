//! Criterion bench of SPS on the sps-bench payloads P1-P4 (PAYLOADS.md),
//! encode and decode, reported in bytes per second. Decoding borrows
//! strings and bytes from the input where the payload has them (P2, P4
//! keys) and also runs the owned forms. Throughput is in decimal MB/s, as
//! sps-bench reports it. The LLVM comparison in one run is
//! `benches/compare-sps.sh` (it uses `sps_compare`, timed like sps-bench).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use orc_rt::ExecutorAddr;
use orc_rt::sps;

#[path = "common/payloads.rs"]
mod payloads;
use payloads::*;

fn p1(c: &mut Criterion) {
    let items = payloads::p1();
    let mut buf = Vec::new();
    encode_p1(&items, &mut buf);
    let mut out = vec![P1Item::default(); P1_COUNT];
    let mut g = c.benchmark_group("sps/P1");
    g.throughput(Throughput::BytesDecimal(buf.len() as u64));
    g.bench_function("encode", |b| {
        b.iter(|| encode_p1(black_box(&items), &mut buf))
    });
    g.bench_function("decode", |b| {
        b.iter(|| decode_p1(black_box(&buf), &mut out).expect("decodes"))
    });
    g.finish();
}

fn p2(c: &mut Criterion) {
    let v = payloads::p2();
    let mut buf = Vec::new();
    encode_one(&v, &mut buf);
    let mut g = c.benchmark_group("sps/P2");
    g.throughput(Throughput::BytesDecimal(buf.len() as u64));
    g.bench_function("encode", |b| b.iter(|| encode_one(black_box(&v), &mut buf)));
    g.bench_function(BenchmarkId::new("decode", "borrowed"), |b| {
        b.iter(|| sps::from_bytes::<P2Borrowed<'_>>(black_box(&buf)).expect("decodes"))
    });
    g.bench_function(BenchmarkId::new("decode", "owned"), |b| {
        b.iter(|| sps::from_bytes::<P2Owned>(black_box(&buf)).expect("decodes"))
    });
    g.finish();
}

fn p3(c: &mut Criterion) {
    let v = payloads::p3();
    let mut buf = Vec::new();
    encode_one(&v, &mut buf);
    let mut g = c.benchmark_group("sps/P3");
    g.throughput(Throughput::BytesDecimal(buf.len() as u64));
    g.bench_function("encode", |b| {
        b.iter(|| encode_one(black_box(v.as_slice()), &mut buf))
    });
    g.bench_function(BenchmarkId::new("decode", "owned"), |b| {
        b.iter(|| sps::from_bytes::<Vec<u8>>(black_box(&buf)).expect("decodes"))
    });
    g.bench_function(BenchmarkId::new("decode", "borrowed"), |b| {
        b.iter(|| sps::from_bytes::<&[u8]>(black_box(&buf)).expect("decodes"))
    });
    g.finish();
}

fn p4(c: &mut Criterion) {
    let v = payloads::p4();
    let mut buf = Vec::new();
    encode_one(&v, &mut buf);
    let mut g = c.benchmark_group("sps/P4");
    g.throughput(Throughput::BytesDecimal(buf.len() as u64));
    g.bench_function("encode", |b| b.iter(|| encode_one(black_box(&v), &mut buf)));
    g.bench_function(BenchmarkId::new("decode", "map_borrowed"), |b| {
        b.iter(|| sps::from_bytes::<P4Map<'_>>(black_box(&buf)).expect("decodes"))
    });
    g.bench_function(BenchmarkId::new("decode", "map_owned"), |b| {
        b.iter(|| sps::from_bytes::<P4MapOwned>(black_box(&buf)).expect("decodes"))
    });
    g.bench_function(BenchmarkId::new("decode", "vec_borrowed"), |b| {
        b.iter(|| sps::from_bytes::<Vec<(&str, ExecutorAddr)>>(black_box(&buf)).expect("decodes"))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    // Short by default: the machine is shared; pass --measurement-time to
    // criterion for steadier figures.
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1))
        .sample_size(20);
    targets = p1, p2, p3, p4
}
criterion_main!(benches);
