//! Link settings of the `orc-executor` binary.
//!
//! - The GDB JIT interface goes into the executable's dynamic symbol table,
//!   as in LLVM's llvm-jitlink-executor (linked with `-rdynamic`): JIT'd code
//!   that names `__jit_debug_descriptor` or `__jit_debug_register_code`
//!   resolves them through the process handle (`dlsym`), and debuggers find
//!   them even in a stripped binary.
//! - Session set-up is a measured figure (issue 6), and most of it is the
//!   dynamic loader's work before `main`; SECURITY.md says why `-no-pie`
//!   does not weaken the executor:
//!   - `-no-pie`: no start-up relocations of our own image;
//!   - the unwinder for Rust panics is linked in statically (libgcc_eh,
//!     whole, so nothing is left for libgcc_s to resolve and `--as-needed`
//!     drops it): one shared library fewer to find, map and relocate.
//!     JIT'd code's exceptions use the shared libgcc_s, which
//!     `orc_rt::sys::eh_frame` loads when the first frame is registered.
//!   - the functions a session runs (`startup-order.txt`, written by
//!     `scripts/startup-order.sh`) are laid out side by side: they touch
//!     three 64 KiB stretches of text instead of seventeen, and each
//!     stretch a process touches first costs a page fault. Only with the
//!     toolchain's own linker (rust-lld, the default on x86_64 Linux): the
//!     option is lld's, and GNU ld would refuse it.

fn main() {
    for symbol in ["__jit_debug_descriptor", "__jit_debug_register_code"] {
        println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic-symbol={symbol}");
    }
    println!("cargo:rustc-link-arg-bins=-no-pie");
    println!(
        "cargo:rustc-link-arg-bins=-Wl,--push-state,--whole-archive,-l:libgcc_eh.a,--pop-state"
    );
    if links_with_rust_lld() {
        let order = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap())
            .join("startup-order.txt");
        println!(
            "cargo:rustc-link-arg-bin=orc-executor=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        // Names the binary no longer has (a new toolchain renames them)
        // are skipped; `scripts/startup-order.sh --check` counts them.
        println!("cargo:rustc-link-arg-bin=orc-executor=-Wl,--no-warn-symbol-ordering");
        println!("cargo:rerun-if-changed=startup-order.txt");
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
}

/// Whether rustc links with its own lld: x86_64 Linux with no linker
/// chosen by the user (a configured linker, or linker flags in RUSTFLAGS).
fn links_with_rust_lld() -> bool {
    let target = std::env::var("TARGET").unwrap_or_default();
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    target == "x86_64-unknown-linux-gnu"
        && std::env::var_os("RUSTC_LINKER").is_none()
        && !flags.contains("linker")
        && !flags.contains("fuse-ld")
}
