//! `orc-executor`: drop-in replacement for LLVM 22's `llvm-jitlink-executor`.

fn main() {
    eprintln!("orc-executor: not built yet");
    std::process::exit(1);
}
