//! `lli --remote-mcjit` with `orc-executor` as its child process, against
//! LLVM 22's `lli-child-target` (issue 16): lli starts its child with two
//! bare descriptor numbers (`IN OUT`) and links through LLVM 22's memory
//! manager names; exit status, stdout and stderr must be the same. (At
//! shutdown lli asks for an empty reservation; it ignores the answer, so
//! `llvm22_differential.rs` checks that one on the wire.)
//!
//! Needs LLVM 22 (`lli`, `lli-child-target`, clang); skips without it
//! unless `ORC_RT_REQUIRE_LLVM=1`.

mod executor_support;

use std::path::Path;
use std::process::{Command, Output};

use executor_support::executor_binary;

fn lli(bin: &Path, child: &Path, module: &Path) -> Output {
    Command::new(bin.join("lli"))
        .args(["--jit-kind=mcjit", "--remote-mcjit"])
        .arg(format!("--mcjit-remote-process={}", child.display()))
        .arg(module)
        .output()
        .expect("running lli")
}

#[test]
fn lli_remote_mcjit_runs_a_program_as_with_lli_child_target() {
    let Some(bin) = executor_support::llvm_bin() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("orc-rt-lli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("main.c");
    std::fs::write(
        &source,
        "#include <stdio.h>\n\
         static int twice(int x) { return 2 * x; }\n\
         int main(void) { printf(\"twice 21 = %d\\n\", twice(21)); fprintf(stderr, \"to stderr\\n\"); return 7; }\n",
    )
    .unwrap();
    let module = dir.join("main.ll");
    let status = Command::new(bin.join("clang"))
        .args(["-S", "-emit-llvm", "-O0", "-o"])
        .arg(&module)
        .arg(&source)
        .status()
        .expect("running clang");
    assert!(status.success(), "compiling the module");

    let theirs = lli(&bin, &bin.join("lli-child-target"), &module);
    let ours = lli(&bin, &executor_binary("release"), &module);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(theirs.status.code(), Some(7), "{theirs:?}");
    assert_eq!(ours.status.code(), theirs.status.code(), "{ours:?}");
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&theirs.stdout)
    );
    assert_eq!(
        String::from_utf8_lossy(&ours.stderr),
        String::from_utf8_lossy(&theirs.stderr)
    );
}
