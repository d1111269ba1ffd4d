//! The sps-bench payloads P1-P4 (`shared/bench/sps-bench/PAYLOADS.md`)
//! encoded by our SPS have the sizes and FNV-1a 64 hashes of LLVM 22's C++
//! SPS: against the figures recorded from `sps-bench` and `payloads_ref.py`,
//! and, when the tools are here (always with `ORC_RT_REQUIRE_LLVM=1`, as
//! `scripts/test.sh` sets it), against a live run of both.
//!
//! The payload builders are the ones the benches time
//! (`runtime/benches/common/payloads.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../runtime/benches/common/payloads.rs"]
mod payloads;

fn require_tools() -> bool {
    std::env::var("ORC_RT_REQUIRE_LLVM").is_ok_and(|v| v == "1")
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `SHARED`, else the `shared` folder next to the repository.
fn shared() -> PathBuf {
    std::env::var_os("SHARED").map_or_else(
        || {
            repo()
                .parent()
                .expect("the repo has a parent")
                .join("shared")
        },
        PathBuf::from,
    )
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
    let src = shared().join("bench/sps-bench");
    let build = src.join("build.sh");
    if !build.exists() {
        assert!(
            !require_tools(),
            "ORC_RT_REQUIRE_LLVM=1 but {} is missing (set SHARED)",
            build.display()
        );
        eprintln!("skipping the live comparison: no {}", build.display());
        return;
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo().join("target"), PathBuf::from);
    let out_dir = target.join("sps-bench-llvm-test");
    let status = Command::new("sh").arg(&build).arg(&out_dir).status();
    match status {
        Ok(s) if s.success() => {}
        other => {
            assert!(!require_tools(), "building sps-bench failed: {other:?}");
            eprintln!("skipping the live comparison: sps-bench did not build ({other:?})");
            return;
        }
    }
    let bench = out_dir.join("sps-bench");
    let out = Command::new(&bench)
        .args(["--reps", "1", "--min-ms", "1"])
        .output()
        .expect("sps-bench runs");
    assert!(out.status.success(), "sps-bench failed: {out:?}");
    let llvm = parse_identity(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(llvm, ours(), "LLVM's sizes and hashes differ from ours");
}

#[test]
fn payloads_match_the_python_reference() {
    let script = shared().join("bench/sps-bench/payloads_ref.py");
    let out = if script.exists() {
        Command::new("python3").arg(&script).output()
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no payloads_ref.py",
        ))
    };
    match out {
        Ok(out) if out.status.success() => {
            let reference = parse_identity(&String::from_utf8_lossy(&out.stdout));
            assert_eq!(reference, ours(), "payloads_ref.py differs from ours");
        }
        other => {
            assert!(
                !require_tools(),
                "ORC_RT_REQUIRE_LLVM=1 but {} did not run: {other:?}",
                Path::new(&script).display()
            );
            eprintln!("skipping the Python reference: {other:?}");
        }
    }
}
