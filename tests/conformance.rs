//! The conformance corpus against LLVM 22 (issues 4 and 6): our
//! `tests/conformance/run_corpus.sh` runs every case of
//! `tests/conformance/cases` through `llvm-jitlink -oop-executor=<release
//! orc-executor>` and compares stdout, stderr and exit statuses with what
//! LLVM 22's own `llvm-jitlink-executor` gave (the recorded `expected_*`
//! files). Every case must pass, and the runner must report exactly the
//! cases on disk.
//!
//! When the team's shared corpus is around (`$SHARED/conformance/cases`, else
//! `shared/conformance/cases` next to the repository), the same runner runs
//! it too and all of its cases must pass; nothing requires it.
//!
//! Needs LLVM 22 (`llvm-jitlink`, clang, the ORC runtime); without it the
//! corpus tests skip with a message, unless `ORC_RT_REQUIRE_LLVM=1` (set by
//! `scripts/test.sh`), which makes them fail. `LLVM_BIN` points at LLVM,
//! `ORC_EXECUTOR` at a prebuilt executor.

mod executor_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Fewer cases than this in `tests/conformance/cases` means some went missing.
const OUR_CASES: usize = 52;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn our_cases() -> PathBuf {
    repo().join("tests/conformance/cases")
}

/// The shared corpus's case folder, if there is one.
fn shared_cases() -> Option<PathBuf> {
    let shared = std::env::var_os("SHARED").map_or_else(
        || {
            repo()
                .parent()
                .expect("the repository has a parent")
                .join("shared")
        },
        PathBuf::from,
    );
    Some(shared.join("conformance/cases")).filter(|c| c.is_dir())
}

/// The case folders of `cases` (those with a `case.toml`), sorted.
fn case_names(cases: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(cases)
        .unwrap_or_else(|e| panic!("{}: {e}", cases.display()))
        .filter_map(Result::ok)
        .filter(|e| e.path().join("case.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Runs our runner over `cases` with the release executor and checks that
/// it passed every case on disk, each with its own PASS line: a case that
/// is skipped or missing counts as a failure.
fn assert_corpus_passes(cases: &Path) {
    // One corpus at a time: some cases measure timing-sensitive behaviour
    // (a dying executor, flushes at exit) and CI has two cores.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let Some(llvm) = executor_support::llvm_bin() else {
        return;
    };
    let executor = executor_support::executor_binary("release");
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let out = Command::new("bash")
        .arg(repo().join("tests/conformance/run_corpus.sh"))
        .arg(&executor)
        .arg(cases)
        .env("LLVM_BIN", &llvm)
        .output()
        .expect("running run_corpus.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let names = case_names(cases);
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(
        out.status.success() && summary == format!("{} passed, 0 failed", names.len()),
        "{}: {summary}\n{stdout}\n{stderr}",
        cases.display()
    );
    let passed: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("PASS "))
        .collect();
    assert_eq!(passed, names, "{stdout}");
}

#[test]
fn every_case_of_ours_passes_with_orc_executor() {
    assert_corpus_passes(&our_cases());
}

#[test]
fn every_shared_case_passes_with_orc_executor() {
    match shared_cases() {
        Some(cases) => assert_corpus_passes(&cases),
        None => eprintln!("no shared corpus (SHARED or ../shared): nothing extra to run"),
    }
}

/// The recorded expectations are complete: every case has its stdout and
/// exit status, every TCP case the executor's exit status, and every case
/// that asks for stderr comparison has it recorded. Runs without LLVM.
#[test]
fn every_case_has_its_recorded_expectations() {
    let names = case_names(&our_cases());
    assert!(
        names.len() >= OUR_CASES,
        "only {} cases: {names:?}",
        names.len()
    );
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
