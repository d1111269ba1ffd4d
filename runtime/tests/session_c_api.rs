//! The session C API from C: compiles `tests/c/session.c` against
//! `include/orc-rt-c/orc-rt.h` with `cc -Wall -Wextra -Werror`, links it
//! statically with the library, runs it and checks its summary.
//!
//! The library is built as in `c_api.rs` (a nested `cargo rustc
//! --crate-type staticlib` into the same directory under
//! `CARGO_TARGET_TMPDIR`, so the two tests share one build). `CC` overrides
//! the C compiler.

use std::path::Path;
use std::process::Command;

mod common {
    pub(crate) mod c_build;
}
use common::c_build::{MANIFEST_DIR, cc, library, run, show};

#[test]
fn c_program_drives_a_session() {
    let lib = library();
    let exe = Path::new(env!("CARGO_TARGET_TMPDIR")).join("session_c_api");
    let tmp = exe.with_extension(format!("{}.tmp", std::process::id()));
    let output = run(cc()
        .arg("-pthread")
        .arg(Path::new(MANIFEST_DIR).join("tests/c/session.c"))
        .arg("-o")
        .arg(&tmp)
        .arg(lib.dir.join("liborc_rt.a"))
        .args(&lib.native_static_libs));
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
