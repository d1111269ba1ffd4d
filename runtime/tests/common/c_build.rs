//! Building the library for C programs, shared by the C-API tests.
//!
//! A C program cannot link an rlib, so the tests run `cargo rustc
//! --crate-type staticlib,cdylib` on this crate into their own target
//! directory under `CARGO_TARGET_TMPDIR` (a nested cargo on the outer target
//! directory would wait forever for the outer cargo's lock). The first run
//! compiles the crate once more; later runs are no-ops. `CC` overrides the C
//! compiler.
#![allow(dead_code, reason = "each test binary uses a different part")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub(crate) const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// Where the library was built, and what a static link of it needs.
pub(crate) struct Library {
    /// `<target>/debug`, holding `liborc_rt.a` and `liborc_rt.so`.
    pub(crate) dir: PathBuf,
    /// `-l...` flags from rustc's `native-static-libs` note.
    pub(crate) native_static_libs: Vec<String>,
}

pub(crate) fn c_compiler() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".to_owned())
}

pub(crate) fn show(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub(crate) fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Builds the library once per test process (the nested cargo also locks
/// its target directory, so concurrent test processes are safe).
pub(crate) fn library() -> &'static Library {
    static LIBRARY: OnceLock<Library> = OnceLock::new();
    LIBRARY.get_or_init(|| {
        let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c-api");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut cmd = Command::new(cargo);
        cmd.args(["rustc", "--lib", "--crate-type", "staticlib,cdylib"])
            .arg("--manifest-path")
            .arg(Path::new(MANIFEST_DIR).join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target_dir)
            // The derive macro is not part of the C API.
            .arg("--no-default-features")
            .args(["--", "--print", "native-static-libs"]);
        // Flags meant for the outer build (sanitizers, --cfg loom) would
        // need their own target triple and are not wanted in a library that
        // plain `cc` links.
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
            "building the C library failed\n{}",
            show(&output)
        );
        // rustc prints the note when it links the staticlib; cargo replays
        // it from its cache when the crate is fresh.
        let stderr = String::from_utf8_lossy(&output.stderr);
        let native_static_libs = stderr
            .lines()
            .find_map(|l| l.split_once("native-static-libs:").map(|(_, libs)| libs))
            .unwrap_or_else(|| panic!("no native-static-libs note\n{}", show(&output)))
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        Library {
            dir: target_dir.join("debug"),
            native_static_libs,
        }
    })
}

/// `cc` with the flags every compile here uses.
pub(crate) fn cc() -> Command {
    let mut cmd = Command::new(c_compiler());
    cmd.args([
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pedantic",
        "-Wstrict-prototypes",
    ])
    .arg("-I")
    .arg(Path::new(MANIFEST_DIR).join("include"));
    cmd
}
