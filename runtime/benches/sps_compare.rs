//! Our side of `benches/compare-sps.sh`: the sps-bench payloads P1-P4,
//! timed exactly as LLVM's `sps-bench` times them (PAYLOADS.md, "Timing
//! rules": warm-up, then the median of `--reps` samples of at least
//! `--min-ms` each), printed in its `sps.P1.encode 14019 MB/s` format so
//! the script can pair the lines by name.
//!
//! `cargo bench -p orc-rt --bench sps_compare -- [--reps R] [--min-ms MS]`.
//! Without `--bench` (as `cargo test --all-targets` runs it) it only checks
//! the round trips and the bytes against LLVM's sizes and hashes.

use std::hint::black_box;
use std::time::Instant;

use orc_rt::ExecutorAddr;
use orc_rt::sps;

#[path = "common/payloads.rs"]
mod payloads;
use payloads::*;

struct Options {
    reps: usize,
    min_ms: f64,
    /// Payloads to run (`--only P1,P3`); empty = all.
    only: Vec<String>,
}

impl Options {
    fn wants(&self, payload: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| p == payload)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Median seconds per call of `op` (sps-bench's `timeOp`).
fn time_op(o: &Options, mut op: impl FnMut()) -> f64 {
    op();
    let t0 = Instant::now();
    op();
    let one = t0.elapsed().as_secs_f64();
    let inner = ((o.min_ms / 1e3) / one.max(1e-9)).max(1.0) as u64;
    let samples = (0..o.reps)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..inner {
                op();
            }
            t.elapsed().as_secs_f64() / inner as f64
        })
        .collect();
    median(samples)
}

fn fmt_value(v: f64) -> String {
    if v >= 1000.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn emit_rate(name: &str, bytes: usize, items: usize, secs: f64) {
    println!("sps.{name} {} MB/s", fmt_value(bytes as f64 / 1e6 / secs));
    println!(
        "sps.{name}_item {} ns/item",
        fmt_value(secs * 1e9 / items as f64)
    );
}

fn emit_identity(p: &str, buf: &[u8]) {
    println!("sps.{p}.size {} bytes", buf.len());
    println!("sps.{p}.fnv1a64 {:016x} hex", fnv1a64(buf));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = Options {
        reps: 7,
        min_ms: 50.0,
        only: Vec::new(),
    };
    let mut it = args.iter();
    let mut bench = false;
    while let Some(a) = it.next() {
        match a.as_str() {
            "--bench" => bench = true,
            "--reps" => o.reps = it.next().and_then(|v| v.parse().ok()).unwrap_or(7).max(1),
            "--min-ms" => {
                o.min_ms = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(50.0f64)
                    .max(1.0)
            }
            "--only" => {
                o.only = it
                    .next()
                    .map(|v| v.split(',').map(str::to_owned).collect())
                    .unwrap_or_default()
            }
            _ => {} // cargo passes filters and flags we do not use
        }
    }

    if let Err(e) = check_round_trips() {
        eprintln!("sps_compare: {e}");
        std::process::exit(1);
    }
    for (name, bytes) in encode_all() {
        let expected = EXPECTED
            .iter()
            .find(|e| e.0 == name)
            .expect("known payload");
        if (bytes.len(), fnv1a64(&bytes)) != (expected.1, expected.2) {
            eprintln!("sps_compare: {name} bytes differ from LLVM's");
            std::process::exit(1);
        }
    }
    if !bench {
        println!("sps_compare: round trips and LLVM hashes ok (pass --bench to time)");
        return;
    }

    println!(
        "# sps_compare reps={} min-ms={:.0} (orc-rt SPS)",
        o.reps, o.min_ms
    );

    // P1: one derive-generated encode/decode call per item. Decoding checks
    // the bounds once for all items (`Reader::decode_into`);
    // `decode_per_call` reads item by item from a running reader.
    if o.wants("P1") {
        let items = p1();
        let mut buf = Vec::new();
        encode_p1(&items, &mut buf);
        let mut out = vec![P1Item::default(); P1_COUNT];
        let enc = time_op(&o, || {
            black_box(encode_p1(black_box(&items), &mut buf));
        });
        let dec = time_op(&o, || {
            decode_p1(black_box(&buf), &mut out).expect("P1 decodes");
            black_box(out[P1_COUNT - 1].d);
        });
        let dec_call = time_op(&o, || {
            decode_p1_per_call(black_box(&buf), &mut out).expect("P1 decodes");
            black_box(out[P1_COUNT - 1].d);
        });
        // The bound of both directions: each reads 24 MB and writes 24 MB,
        // as a plain copy of the encoded bytes does.
        let mut copied = vec![0u8; buf.len()];
        let copy = time_op(&o, || {
            copied.copy_from_slice(black_box(&buf));
            black_box(copied[P1_COUNT]);
        });
        emit_identity("P1", &buf);
        emit_rate("P1.encode", buf.len(), P1_COUNT, enc);
        emit_rate("P1.decode", buf.len(), P1_COUNT, dec);
        emit_rate("P1.decode_per_call", buf.len(), P1_COUNT, dec_call);
        emit_rate("P1.copy", buf.len(), P1_COUNT, copy);
    }

    // P2: decode borrows the names (the main figure); `decode_owned`
    // allocates a String per name, as the C++ bench does.
    if o.wants("P2") {
        let v = p2();
        let mut buf = Vec::new();
        encode_one(&v, &mut buf);
        let enc = time_op(&o, || {
            black_box(encode_one(black_box(&v), &mut buf));
        });
        let dec = time_op(&o, || {
            let out: P2Borrowed<'_> = sps::from_bytes(black_box(&buf)).expect("P2 decodes");
            black_box(out[P2_COUNT - 1].1);
        });
        let dec_owned = time_op(&o, || {
            let out: P2Owned = sps::from_bytes(black_box(&buf)).expect("P2 decodes");
            black_box(out[P2_COUNT - 1].1);
        });
        emit_identity("P2", &buf);
        emit_rate("P2.encode", buf.len(), P2_COUNT, enc);
        emit_rate("P2.decode", buf.len(), P2_COUNT, dec);
        emit_rate("P2.decode_owned", buf.len(), P2_COUNT, dec_owned);
    }

    // P3: decode into a fresh Vec<u8> (the main figure, as LLVM's
    // std::vector<char>); `decode_borrowed_call` is the zero-copy &[u8].
    if o.wants("P3") {
        let v = p3();
        let mut buf = Vec::new();
        encode_one(&v, &mut buf);
        let enc = time_op(&o, || {
            black_box(encode_one(black_box(v.as_slice()), &mut buf));
        });
        let dec = time_op(&o, || {
            let out: Vec<u8> = sps::from_bytes(black_box(&buf)).expect("P3 decodes");
            black_box(out[P3_COUNT - 1]);
        });
        let dec_borrowed = time_op(&o, || {
            let out: &[u8] = sps::from_bytes(black_box(&buf)).expect("P3 decodes");
            black_box(out.len());
        });
        emit_identity("P3", &buf);
        emit_rate("P3.encode", buf.len(), P3_COUNT, enc);
        emit_rate("P3.decode", buf.len(), P3_COUNT, dec);
        println!(
            "sps.P3.decode_borrowed_call {} ns/call",
            fmt_value(dec_borrowed * 1e9)
        );
    }

    // P4: decode into a map (duplicate key = failure), borrowing the keys;
    // variants with std's SipHash, with owned keys, and into vectors.
    if o.wants("P4") {
        let v = p4();
        let mut buf = Vec::new();
        encode_one(&v, &mut buf);
        let enc = time_op(&o, || {
            black_box(encode_one(black_box(&v), &mut buf));
        });
        let dec = time_op(&o, || {
            let m: P4Map<'_> = sps::from_bytes(black_box(&buf)).expect("P4 decodes");
            black_box(m.len());
        });
        let dec_std = time_op(&o, || {
            let m: P4MapStd<'_> = sps::from_bytes(black_box(&buf)).expect("P4 decodes");
            black_box(m.len());
        });
        let dec_owned = time_op(&o, || {
            let m: P4MapOwned = sps::from_bytes(black_box(&buf)).expect("P4 decodes");
            black_box(m.len());
        });
        let dec_vec = time_op(&o, || {
            let m: Vec<(&str, ExecutorAddr)> =
                sps::from_bytes(black_box(&buf)).expect("P4 decodes");
            black_box(m.len());
        });
        let dec_vec_owned = time_op(&o, || {
            let m: Vec<(String, ExecutorAddr)> =
                sps::from_bytes(black_box(&buf)).expect("P4 decodes");
            black_box(m.len());
        });
        emit_identity("P4", &buf);
        emit_rate("P4.encode", buf.len(), P4_COUNT, enc);
        emit_rate("P4.decode", buf.len(), P4_COUNT, dec);
        emit_rate("P4.decode_std", buf.len(), P4_COUNT, dec_std);
        emit_rate("P4.decode_owned", buf.len(), P4_COUNT, dec_owned);
        emit_rate("P4.decode_vec", buf.len(), P4_COUNT, dec_vec);
        emit_rate("P4.decode_vec_owned", buf.len(), P4_COUNT, dec_vec_owned);
    }
}
