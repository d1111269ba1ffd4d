//! The C API from C: compiles `tests/c/c_api.c` against
//! `include/orc-rt-c/*.h` with `cc -Wall -Wextra -Werror`, links it with the
//! library, runs it and checks what it reports.
//!
//! How the library gets built: a C program cannot link an rlib, so this test
//! runs `cargo rustc --crate-type staticlib,cdylib` on this crate, into its
//! own target directory under `CARGO_TARGET_TMPDIR` (a nested cargo on the
//! outer target directory would wait forever for the outer cargo's lock).
//! The first run compiles the crate and its few dependencies once more
//! (about half a minute on 2 cores); later runs are no-ops. Declaring the
//! crate types in `Cargo.toml` instead would link a static and a shared
//! library on every build of every dependent, fuzz targets included.
//!
//! The program is linked twice, against the static library (with the
//! native libraries rustc reports) and against the shared one, and both
//! runs must pass. `CC` overrides the C compiler.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use orc_rt::wrapper::orc_rt_WrapperFunctionBuffer;

mod common {
    pub(crate) mod c_build;
}
use common::c_build::{MANIFEST_DIR, cc, library, run, show};

#[derive(Clone, Copy, Debug)]
enum Link {
    Static,
    Dynamic,
}

/// Compiles and links `tests/c/c_api.c` once per process; returns the
/// executable.
fn build_program(link: Link) -> &'static Path {
    static PROGRAMS: [OnceLock<PathBuf>; 2] = [OnceLock::new(), OnceLock::new()];
    PROGRAMS[link as usize].get_or_init(|| compile_program(link))
}

fn compile_program(link: Link) -> PathBuf {
    let lib = library();
    let exe = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("c_api_{link:?}"));
    // Link under a private name, then rename: another test process may be
    // running the previous executable ("text file busy" if we wrote over it).
    let tmp = exe.with_extension(format!("{}.tmp", std::process::id()));
    let mut cmd = cc();
    cmd.arg(Path::new(MANIFEST_DIR).join("tests/c/c_api.c"))
        .arg("-o")
        .arg(&tmp);
    match link {
        Link::Static => {
            cmd.arg(lib.dir.join("liborc_rt.a"))
                .args(&lib.native_static_libs);
        }
        Link::Dynamic => {
            cmd.arg("-L")
                .arg(&lib.dir)
                .arg("-lorc_rt")
                .arg(format!("-Wl,-rpath,{}", lib.dir.display()));
        }
    }
    let output = run(&mut cmd);
    assert!(
        output.status.success(),
        "compiling c_api.c ({link:?}) failed\n{}",
        show(&output)
    );
    std::fs::rename(&tmp, &exe).unwrap();
    exe
}

/// The layout line the C program prints, as Rust sees the struct.
fn expected_layout() -> String {
    use std::mem::{align_of, offset_of, size_of};
    format!(
        "layout size={} align={} data={} size_field={} inline={}",
        size_of::<orc_rt_WrapperFunctionBuffer>(),
        align_of::<orc_rt_WrapperFunctionBuffer>(),
        offset_of!(orc_rt_WrapperFunctionBuffer, data),
        offset_of!(orc_rt_WrapperFunctionBuffer, size),
        orc_rt::wrapper::INLINE_CAPACITY,
    )
}

fn check_program_passes(link: Link) {
    let exe = build_program(link);
    let output = run(&mut Command::new(exe));
    assert!(output.status.success(), "{link:?}\n{}", show(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some(expected_layout().as_str()),
        "{}",
        show(&output)
    );
    let summary = lines.next().unwrap_or_default();
    let counts: Vec<u32> = summary
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    // "passed N of N checks", and a program that checked almost nothing
    // would not be testing the API.
    assert!(
        matches!(counts[..], [passed, total] if passed == total && total >= 150),
        "unexpected summary {summary:?}\n{}",
        show(&output)
    );
}

#[test]
fn c_program_passes_linked_statically() {
    check_program_passes(Link::Static);
}

#[test]
fn c_program_passes_linked_dynamically() {
    check_program_passes(Link::Dynamic);
}

#[test]
fn cant_fail_on_a_failure_prints_and_aborts() {
    use std::os::unix::process::ExitStatusExt;
    let exe = build_program(Link::Static);
    let output = run(Command::new(exe).arg("cantFail"));
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGABRT),
        "{}",
        show(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("orc_rt_Error_cantFail: unexpected failure: deliberate failure"),
        "{}",
        show(&output)
    );
    assert!(output.stdout.is_empty(), "{}", show(&output));
}

/// Each header compiles on its own (it includes what it uses), in C.
#[test]
fn every_header_is_self_contained() {
    let dir = Path::new(MANIFEST_DIR).join("include/orc-rt-c");
    let mut headers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".h"))
        .collect();
    headers.sort();
    assert!(headers.len() >= 5, "{headers:?}");
    for header in headers {
        let mut cmd = cc();
        cmd.args(["-fsyntax-only", "-x", "c", "-"]);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("cc runs");
        {
            use std::io::Write;
            let source =
                format!("#include \"orc-rt-c/{header}\"\nint main(void) {{ return 0; }}\n");
            child
                .stdin
                .take()
                .unwrap()
                .write_all(source.as_bytes())
                .unwrap();
        }
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{header}\n{}", show(&output));
    }
}

/// Under valgrind (when installed), the program has no memory errors and
/// leaks nothing: every buffer and error the C side disposes of is really
/// freed, and nothing is freed twice or by the wrong allocator.
#[test]
fn c_program_is_clean_under_valgrind() {
    let probe = Command::new("valgrind").arg("--version").output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("valgrind not installed: memory check skipped");
        return;
    }
    for link in [Link::Static, Link::Dynamic] {
        let output = run(Command::new("valgrind")
            .args(["-q", "--leak-check=full", "--error-exitcode=97"])
            .arg(build_program(link)));
        assert!(output.status.success(), "{link:?}\n{}", show(&output));
        assert!(output.stderr.is_empty(), "{link:?}\n{}", show(&output));
    }
}
