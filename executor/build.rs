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

fn main() {
    for symbol in ["__jit_debug_descriptor", "__jit_debug_register_code"] {
        println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic-symbol={symbol}");
    }
    println!("cargo:rustc-link-arg-bins=-no-pie");
    println!(
        "cargo:rustc-link-arg-bins=-Wl,--push-state,--whole-archive,-l:libgcc_eh.a,--pop-state"
    );
    println!("cargo:rerun-if-changed=build.rs");
}
