//! Our own conformance cases (issue 6), `tests/conformance/cases/`: the
//! llvm-jitlink features the shared corpus does not cover (every
//! `-use-memmgr` flavour, `-preload`, `-L`/`-l`, `-num-threads`, `-lazy`,
//! TLS with the ORC runtime, JIT'd threads, C++ exceptions, standard
//! streams and exit statuses, signals, the GDB JIT interface, the TCP
//! transport). Same format as the shared corpus, expected results recorded
//! with LLVM 22's own `llvm-jitlink-executor`; the shared `run_corpus.sh`
//! runs them through `llvm-jitlink` against the release `orc-executor`.
//!
//! Needs LLVM 22 (`llvm-jitlink`, clang, the ORC runtime) and the shared
//! folder's `run_corpus.sh`; without them the test skips with a message,
//! unless `ORC_RT_REQUIRE_LLVM=1` (CI), which makes it fail. `SHARED`
//! points at the shared folder (default: the first `shared/` next to an
//! ancestor of this repository), `LLVM_BIN` at LLVM.

mod executor_support;

use std::path::{Path, PathBuf};
use std::process::Command;

fn llvm_required() -> bool {
    std::env::var("ORC_RT_REQUIRE_LLVM").is_ok_and(|v| v == "1")
}

/// The shared folder's `conformance/run_corpus.sh`.
fn run_corpus_script() -> Option<PathBuf> {
    let shared = match std::env::var_os("SHARED") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|a| a.join("shared"))
            .find(|s| s.join("conformance/run_corpus.sh").is_file()),
    };
    shared
        .map(|s| s.join("conformance/run_corpus.sh"))
        .filter(|s| s.is_file())
}

fn our_cases() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/cases")
}

/// The case folders on disk (those with a `case.toml`).
fn case_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(our_cases())
        .expect("tests/conformance/cases")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("case.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_case_of_ours_passes_with_orc_executor() {
    let Some(llvm) = executor_support::llvm_bin() else {
        return;
    };
    let Some(script) = run_corpus_script() else {
        assert!(
            !llvm_required(),
            "run_corpus.sh not found (set SHARED to the shared folder)"
        );
        eprintln!("skipped: run_corpus.sh not found (set SHARED to the shared folder)");
        return;
    };
    let executor = executor_support::executor_binary("release");
    let out = Command::new("bash")
        .arg(&script)
        .arg(&executor)
        .arg(our_cases())
        .env("LLVM_BIN", &llvm)
        .output()
        .expect("running run_corpus.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let names = case_names();
    // One PASS line per case on disk, and a clean summary: a case that is
    // silently skipped or missing counts as a failure.
    let passed: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("PASS "))
        .collect();
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(
        out.status.success() && summary == format!("{} passed, 0 failed", names.len()),
        "our conformance cases failed ({summary}):\n{stdout}\n{stderr}"
    );
    assert_eq!(passed, names, "{stdout}");
}

/// The recorded expectations are complete: every case has its stdout and
/// exit status, every TCP case the executor's exit status, and every case
/// that asks for stderr comparison has it recorded. Runs without LLVM.
#[test]
fn every_case_has_its_recorded_expectations() {
    let names = case_names();
    assert!(names.len() >= 20, "only {} cases: {names:?}", names.len());
    for name in &names {
        let dir = our_cases().join(name);
        let toml = std::fs::read_to_string(dir.join("case.toml")).unwrap();
        for file in ["expected_stdout", "expected_exit"] {
            assert!(dir.join(file).is_file(), "{name}: no {file}");
        }
        let exit = std::fs::read_to_string(dir.join("expected_exit")).unwrap();
        assert!(
            exit.trim().parse::<u8>().is_ok(),
            "{name}: expected_exit is {exit:?}"
        );
        let has = |key: &str| toml.lines().any(|l| l.trim_start().starts_with(key));
        if has("compare_stderr") {
            assert!(dir.join("expected_stderr").is_file(), "{name}: no stderr");
        }
        if toml.contains("transport = \"tcp\"") {
            assert!(
                dir.join("expected_executor_exit").is_file(),
                "{name}: TCP case without expected_executor_exit"
            );
        }
        assert!(has("description"), "{name}: no description");
        assert!(has("needs"), "{name}: no needs");
    }
}
