//! The GDB JIT interface (issue 6): with llvm-jitlink's debugger support
//! (its default) the controller attaches an in-memory ELF debug object to
//! each linked graph and has the executor register it through
//! `llvm_orc_registerJITLoaderGDBAllocAction`, which links a
//! `jit_code_entry` into `__jit_debug_descriptor` and calls
//! `__jit_debug_register_code`, where gdb has its breakpoint. gdb then
//! knows the JIT'd functions by name, with their source lines.
//!
//! The test runs gdb in batch mode on `llvm-jitlink -oop-executor=<release
//! orc-executor>` following the fork into the executor, sets a pending
//! breakpoint on a JIT'd function by name and checks that gdb stops there,
//! in the in-memory object, with the argument and the JIT'd caller in the
//! backtrace. A control run with `-debugger-support=false` shows that the
//! breakpoint is due to the registration (gdb never stops there), and a
//! run with a stripped executor that gdb finds the interface's symbols in
//! the dynamic symbol table.
//!
//! Skips when gdb is missing; without LLVM it skips too, unless
//! `ORC_RT_REQUIRE_LLVM=1`, which makes it fail. `GDB` overrides the gdb
//! binary, `LLVM_BIN` the LLVM folder.

mod executor_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PROGRAM: &str = r#"#include <stdio.h>
int jit_target_function(int x) {
  int y = x * 2;
  printf("in jit_target_function(%d)\n", x);
  return y + 1;
}
int main(void) {
  int r = jit_target_function(20);
  printf("result %d\n", r);
  return r;
}
"#;

fn gdb() -> Option<PathBuf> {
    let gdb = PathBuf::from(std::env::var_os("GDB").unwrap_or_else(|| "gdb".into()));
    let ok = Command::new(&gdb)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: gdb not found (set GDB)");
    }
    ok.then_some(gdb)
}

/// Everything the tests need: gdb, LLVM, the release executor and the
/// program compiled with debug information into a fresh folder.
struct Setup {
    gdb: PathBuf,
    llvm: PathBuf,
    executor: PathBuf,
    dir: PathBuf,
    object: PathBuf,
}

fn setup(name: &str) -> Option<Setup> {
    let llvm = executor_support::llvm_bin()?;
    let gdb = gdb()?;
    let executor = executor_support::executor_binary("release");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("prog.c");
    std::fs::write(&source, PROGRAM).unwrap();
    let object = dir.join("prog.o");
    let status = Command::new(llvm.join("clang"))
        .args(["-c", "-g", "-O0"])
        .arg(&source)
        .arg("-o")
        .arg(&object)
        .status()
        .expect("running clang");
    assert!(status.success(), "clang failed");
    Some(Setup {
        gdb,
        llvm,
        executor,
        dir,
        object,
    })
}

/// Runs gdb in batch mode on llvm-jitlink (following the fork into the
/// executor) with `jitlink_flags`, breaking on `jit_target_function`;
/// returns gdb's stdout and stderr together. Kills gdb after a minute.
fn run_gdb(s: &Setup, jitlink_flags: &[&str]) -> String {
    let out_path = s.dir.join("gdb.out");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = Command::new(&s.gdb)
        .args(["-batch", "-nx"])
        .args(["-iex", "set debuginfod enabled off"])
        .args(["-ex", "set breakpoint pending on"])
        .args(["-ex", "set follow-fork-mode child"])
        .args(["-ex", "break jit_target_function"])
        .args(["-ex", "run"])
        .args(["-ex", "bt 2"])
        .args(["-ex", "info symbol $pc"])
        .args(["-ex", "print x"])
        .args(["-ex", "continue"])
        .arg("--args")
        .arg(s.llvm.join("llvm-jitlink"))
        .arg(format!("-oop-executor={}", s.executor.display()))
        .args(jitlink_flags)
        .arg(&s.object)
        .current_dir(&s.dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("starting gdb");
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "gdb did not finish within a minute:\n{}",
                std::fs::read_to_string(&out_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::read_to_string(&out_path).unwrap()
}

#[test]
fn gdb_breaks_in_a_jitd_function_by_name() {
    let Some(s) = setup("gdb_jit_break") else {
        return;
    };
    let out = run_gdb(&s, &[]);
    // Stopped in the JIT'd function, with its argument and source line.
    assert!(
        out.contains("hit Breakpoint 1, jit_target_function (x=20) at ")
            && out.contains("prog.c:3"),
        "gdb did not stop in jit_target_function:\n{out}"
    );
    // The code lives in the in-memory object the executor registered.
    assert!(
        out.contains("jit_target_function + ") && out.contains("of <in-memory@0x"),
        "{out}"
    );
    assert!(out.contains("$1 = 20"), "{out}");
    // The caller is JIT'd code too, found by gdb's unwinder.
    assert!(
        out.lines().any(|l| l.starts_with("#1 ")
            && l.contains(" in main () at ")
            && l.contains("prog.c:")),
        "{out}"
    );
    // The program then ran to completion under gdb.
    assert!(out.contains("result 41"), "{out}");
    let _ = std::fs::remove_dir_all(&s.dir);
}

/// gdb finds `__jit_debug_register_code` and `__jit_debug_descriptor` by
/// name; in a stripped executor only the dynamic symbol table has them (as
/// in LLVM's, which is linked `-rdynamic`).
#[test]
fn gdb_breaks_in_jitd_code_of_a_stripped_executor() {
    let Some(mut s) = setup("gdb_jit_stripped") else {
        return;
    };
    let stripped = s.dir.join("orc-executor-stripped");
    let status = Command::new(s.llvm.join("llvm-strip"))
        .arg(&s.executor)
        .arg("-o")
        .arg(&stripped)
        .status()
        .expect("running llvm-strip");
    assert!(status.success(), "llvm-strip failed");
    s.executor = stripped;
    let out = run_gdb(&s, &[]);
    assert!(
        out.contains("hit Breakpoint 1, jit_target_function (x=20) at "),
        "gdb did not stop in jit_target_function:\n{out}"
    );
    assert!(out.contains("result 41"), "{out}");
    let _ = std::fs::remove_dir_all(&s.dir);
}

#[test]
fn without_debugger_support_gdb_never_stops_in_jitd_code() {
    let Some(s) = setup("gdb_jit_off") else {
        return;
    };
    let out = run_gdb(&s, &["-debugger-support=false"]);
    assert!(out.contains("result 41"), "the program did not run:\n{out}");
    assert!(
        !out.contains("hit Breakpoint 1"),
        "gdb stopped without a registered debug object:\n{out}"
    );
    let _ = std::fs::remove_dir_all(&s.dir);
}
