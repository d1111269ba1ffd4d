//! The sps-bench payloads P1-P4 (`runtime/benches/common/payloads.rs`)
//! encoded by our SPS have the sizes and FNV-1a 64 hashes of LLVM 22's C++
//! SPS: against the recorded figures, against a live run of our LLVM-side
//! `sps-bench` (`benches/llvm/sps_bench.cpp`, built against LLVM 22's SPS
//! headers; always with `ORC_RT_REQUIRE_LLVM=1`, as `scripts/test.sh` sets
//! it), and against the shared folder's spec-only Python encoder when that
//! folder is there (`SHARED`, else `shared` next to the repository).
//!
//! The payload builders are the ones the benches time.

use std::path::PathBuf;
use std::process::Command;

#[path = "../runtime/benches/common/payloads.rs"]
mod payloads;

fn require_tools() -> bool {
    std::env::var("ORC_RT_REQUIRE_LLVM").is_ok_and(|v| v == "1")
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `(payload, size, fnv1a64 hex)` from `sps.Pn.size` / `sps.Pn.fnv1a64` lines.
fn parse_identity(out: &str) -> Vec<(String, usize, String)> {
    let mut sizes = Vec::new();
    for line in out.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let [name, value, _unit] = parts[..] {
            if let Some(p) = name
                .strip_prefix("sps.")
                .and_then(|n| n.strip_suffix(".size"))
            {
                sizes.push((p.to_string(), value.parse().expect("size"), String::new()));
            } else if let Some(p) = name
                .strip_prefix("sps.")
                .and_then(|n| n.strip_suffix(".fnv1a64"))
            {
                let entry = sizes
                    .iter_mut()
                    .find(|e| e.0 == p)
                    .expect("size line before hash line");
                entry.2 = value.to_string();
            }
        }
    }
    sizes
}

/// Our payloads as `(name, size, hash)`.
fn ours() -> Vec<(String, usize, String)> {
    payloads::encode_all()
        .into_iter()
        .map(|(name, bytes)| {
            (
                name.to_string(),
                bytes.len(),
                format!("{:016x}", payloads::fnv1a64(&bytes)),
            )
        })
        .collect()
}

#[test]
fn payloads_match_the_recorded_llvm_figures() {
    let ours = ours();
    assert_eq!(ours.len(), 4);
    for ((name, size, hash), (e_name, e_size, e_hash)) in ours.iter().zip(payloads::EXPECTED) {
        assert_eq!(name, e_name);
        assert_eq!(*size, e_size, "{name} size");
        assert_eq!(*hash, format!("{e_hash:016x}"), "{name} FNV-1a 64");
    }
    // PAYLOADS.md gives the sizes as formulas too.
    assert_eq!(ours[1].1, 8 + 10_000 * (8 + 8 + 8 + 16));
    assert_eq!(ours[2].1, 8 + 1_048_576);
    assert_eq!(ours[3].1, 8 + 1000 * 16 + (10 * 8 + 90 * 9 + 900 * 10));
    payloads::check_round_trips().expect("every native form round-trips");
}

#[test]
fn payloads_match_a_live_llvm_sps_bench() {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo().join("target"), PathBuf::from);
    let out_dir = target.join("bench-tools");
    let status = Command::new("bash")
        .arg(repo().join("benches/llvm/build.sh"))
        .arg(&out_dir)
        .arg("sps-bench")
        .status();
    match status {
        Ok(s) if s.success() => {}
        other => {
            assert!(!require_tools(), "building sps-bench failed: {other:?}");
            eprintln!("skipping the live comparison: sps-bench did not build ({other:?})");
            return;
        }
    }
    let out = Command::new(out_dir.join("sps-bench"))
        .args(["--reps", "1", "--min-ms", "1"])
        .output()
        .expect("sps-bench runs");
    assert!(out.status.success(), "sps-bench failed: {out:?}");
    let llvm = parse_identity(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(llvm, ours(), "LLVM's sizes and hashes differ from ours");
}

/// An extra, independent check when the shared folder is around: its
/// encoder written from the payload spec alone.
#[test]
fn payloads_match_the_shared_python_reference() {
    let shared = std::env::var_os("SHARED").map_or_else(
        || {
            repo()
                .parent()
                .expect("the repo has a parent")
                .join("shared")
        },
        PathBuf::from,
    );
    let script = shared.join("bench/sps-bench/payloads_ref.py");
    if !script.is_file() {
        eprintln!("no {}: nothing extra to compare", script.display());
        return;
    }
    let out = Command::new("python3")
        .arg(&script)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "payloads_ref.py failed: {out:?}");
    let reference = parse_identity(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(reference, ours(), "payloads_ref.py differs from ours");
}
