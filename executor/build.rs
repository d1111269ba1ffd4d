//! Exports the GDB JIT interface from the executable's dynamic symbol
//! table, as LLVM's llvm-jitlink-executor does (it is linked with
//! `-rdynamic`): JIT'd code that names `__jit_debug_descriptor` or
//! `__jit_debug_register_code` resolves them through the process handle
//! (`dlsym`), and debuggers find them even in a stripped binary.

fn main() {
    for symbol in ["__jit_debug_descriptor", "__jit_debug_register_code"] {
        println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic-symbol={symbol}");
    }
    // Position-dependent: no start-up relocations of our own image (session
    // set-up is a measured figure; SECURITY.md says why that costs nothing).
    println!("cargo:rustc-link-arg-bins=-no-pie");
    println!("cargo:rerun-if-changed=build.rs");
}
