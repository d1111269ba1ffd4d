//! Replays the `kv_args` fuzz target's inputs through the oracle it runs
//! (`kv::fuzzing::kv_args`): the checked-in seeds and regressions
//! (`fuzz/seeds/kv_args/`, `fuzz/regressions/kv_args/`), and libFuzzer's
//! working corpus (`fuzz/corpus/kv_args/`, not checked in) when a fuzzing
//! run left one. So `cargo test` exercises the oracle, and a past finding
//! cannot come back unnoticed.
#![cfg(not(orc_rt_loom))]

use std::path::{Path, PathBuf};

fn dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join("kv_args")
}

/// The input files in `dir` (not README.md or dot files), sorted; none if
/// `dir` does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            !name.starts_with('.') && !name.ends_with(".md")
        })
        .collect();
    files.sort();
    files
}

/// Runs every input of `dir`; returns how many there were.
fn replay(dir: &Path) -> usize {
    let files = inputs(dir);
    for file in &files {
        let data = std::fs::read(file).unwrap();
        let result = std::panic::catch_unwind(|| kv::fuzzing::kv_args(&data));
        assert!(
            result.is_ok(),
            "{} fails; reproduce with `cd examples/kv-service/fuzz && cargo +nightly fuzz run kv_args {}`",
            file.display(),
            file.display()
        );
    }
    files.len()
}

#[test]
fn every_input_replays_cleanly() {
    let seeds = replay(&dir("seeds"));
    // A misplaced directory would make this test vacuous.
    assert!(
        seeds >= 5,
        "only {seeds} seeds in {}",
        dir("seeds").display()
    );
    assert!(dir("regressions").join("README.md").is_file());
    replay(&dir("regressions"));
    // Exists only after fuzzing; may be large.
    replay(&dir("corpus"));
}
