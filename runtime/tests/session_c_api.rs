//! The session C API from C: compiles `tests/c/session.c` against
//! `include/orc-rt-c/orc-rt.h` with `cc -Wall -Wextra -Werror`, links it
//! statically with the library, runs it and checks its summary.
//!
//! The library is built as in `c_api.rs` (a nested `cargo rustc
//! --crate-type staticlib` into the same directory under
//! `CARGO_TARGET_TMPDIR`, so the two tests share one build). `CC` overrides
//! the C compiler.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

fn show(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Builds the static library; returns its directory and the native libraries
/// a static link needs.
fn library() -> (PathBuf, Vec<String>) {
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c-api");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.args(["rustc", "--lib", "--crate-type", "staticlib,cdylib"])
        .arg("--manifest-path")
        .arg(Path::new(MANIFEST_DIR).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .arg("--no-default-features")
        .args(["--", "--print", "native-static-libs"]);
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
    ] {
        cmd.env_remove(var);
    }
    let output = run(&mut cmd);
    assert!(
        output.status.success(),
        "building the library failed\n{}",
        show(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let libs = stderr
        .lines()
        .find_map(|l| l.split_once("native-static-libs:").map(|(_, libs)| libs))
        .unwrap_or_else(|| panic!("no native-static-libs note\n{}", show(&output)))
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    (target_dir.join("debug"), libs)
}

#[test]
fn c_program_drives_a_session() {
    let (dir, native_libs) = library();
    let exe = Path::new(env!("CARGO_TARGET_TMPDIR")).join("session_c_api");
    let tmp = exe.with_extension(format!("{}.tmp", std::process::id()));
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let output = run(Command::new(cc)
        .args([
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-Wstrict-prototypes",
            "-pthread",
        ])
        .arg("-I")
        .arg(Path::new(MANIFEST_DIR).join("include"))
        .arg(Path::new(MANIFEST_DIR).join("tests/c/session.c"))
        .arg("-o")
        .arg(&tmp)
        .arg(dir.join("liborc_rt.a"))
        .args(&native_libs));
    assert!(
        output.status.success(),
        "compiling session.c failed\n{}",
        show(&output)
    );
    std::fs::rename(&tmp, &exe).unwrap();

    let output = run(&mut Command::new(&exe));
    assert!(output.status.success(), "{}", show(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout.lines().last().unwrap_or_default();
    let counts: Vec<u32> = summary
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(
        matches!(counts[..], [passed, total] if passed == total && total >= 20),
        "unexpected summary {summary:?}\n{}",
        show(&output)
    );
}
