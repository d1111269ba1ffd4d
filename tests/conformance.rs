//! The LLVM 22 conformance corpus (issue 4): `run_corpus.sh` runs every case
//! through `llvm-jitlink -oop-executor=<release orc-executor>` and compares
//! stdout, stderr and exit codes with what LLVM's own executor gave. Every
//! case must pass.
//!
//! Needs LLVM 22 (`llvm-jitlink`, clang) and the shared corpus; without them
//! the test skips with a message, unless `ORC_RT_REQUIRE_LLVM=1` (CI), which
//! makes it fail. `SHARED` points at the shared folder (default: the first
//! `shared/` next to an ancestor of this repository), `LLVM_BIN` at LLVM.

mod executor_support;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The shared folder holding `conformance/run_corpus.sh`.
fn shared_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SHARED") {
        return Some(PathBuf::from(dir));
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("shared"))
        .find(|s| s.join("conformance/run_corpus.sh").is_file())
}

#[test]
fn every_corpus_case_passes_with_orc_executor() {
    let Some(_llvm) = executor_support::llvm_bin() else {
        return;
    };
    let Some(shared) = shared_dir() else {
        let required = std::env::var("ORC_RT_REQUIRE_LLVM").is_ok_and(|v| v == "1");
        assert!(!required, "conformance corpus not found (set SHARED)");
        eprintln!("skipped: conformance corpus not found (set SHARED to the shared folder)");
        return;
    };
    let executor = executor_support::executor_binary("release");
    let script = shared.join("conformance/run_corpus.sh");
    let cases = shared.join("conformance/cases");
    let out = Command::new("bash")
        .arg(&script)
        .arg(&executor)
        .arg(&cases)
        .output()
        .expect("running run_corpus.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary = stdout.lines().last().unwrap_or_default();
    let counts: Vec<u64> = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    assert!(
        out.status.success() && counts.len() == 2 && counts[0] > 0 && counts[1] == 0,
        "corpus failed ({summary}):\n{stdout}\n{stderr}"
    );
    // The corpus must not be silently empty or partial.
    let cases_on_disk = std::fs::read_dir(&cases)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().join("case.toml").is_file())
        })
        .count() as u64;
    assert_eq!(counts[0], cases_on_disk, "{stdout}");
}
