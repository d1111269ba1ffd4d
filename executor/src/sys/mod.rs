//! The operating-system boundary: the only code in the crate that calls the
//! OS (mmap/mprotect/munmap, instruction-cache flushes, process-memory copies,
//! dlopen/dlsym, the unwinder's frame registry, the GDB JIT interface).
//!
//! Everything here exposes a safe interface whose checks are local: memory
//! is only touched through a [`memory::Region`] this module mapped (directly
//! only where it set the pages writable itself), or through the kernel's
//! fault-checked process-memory copies.

pub(crate) mod dylib;
pub(crate) mod eh_frame;
pub(crate) mod fd;
pub mod gdb_jit;
pub(crate) mod live;
pub(crate) mod memory;
pub(crate) mod no_unwind;
pub(crate) mod signals;

use orc_rt::dispatcher::ThreadSpawner;
use orc_rt::session::ProcessInfo;

/// The process facts an LLVM 22 controller expects: the process triple as
/// LLVM spells it and the page size.
pub fn host_process_info() -> ProcessInfo {
    ProcessInfo::new(process_triple(), page_size() as usize)
}

/// Gives the process the signal dispositions of a C program, which JIT'd
/// programs expect (Rust's runtime ignores SIGPIPE and handles SIGSEGV and
/// SIGBUS; LLVM's executor, a C++ program, does neither): a program writing
/// to a closed pipe dies of SIGPIPE, one raising SIGSEGV or overflowing its
/// stack dies of SIGSEGV. The runtime's own writes to the controller stay
/// safe (they block SIGPIPE). Call it early in an executor's `main`.
pub fn use_c_signal_dispositions() {
    signals::restore_default_sigpipe();
    signals::restore_default_fault_signals();
}

/// How the executor starts the threads JIT'd code runs on: a C program's
/// stack size, C's SIGPIPE (the transport's reader, which may start them,
/// keeps it blocked), and counted in the live-resource census.
pub fn call_thread_spawner() -> ThreadSpawner {
    ThreadSpawner::default()
        .stack_size(default_thread_stack_size())
        .around(|work| {
            live::DISPATCH_THREADS.up();
            signals::with_program_sigpipe(|| {
                signals::unblock_inherited_sigpipe();
                work()
            });
            live::DISPATCH_THREADS.down();
        })
}

/// The text of an OS error as `strerror` gives it (what LLVM's
/// `errorCodeToError` shows), without Rust's " (os error N)" suffix.
pub(crate) fn error_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match (e.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(i)) => text[..i].to_owned(),
        _ => text,
    }
}

/// Writes out what JIT'd code left in C stdio's buffers (`fflush(NULL)`).
///
/// Called when a call into JIT'd code returns, before its result goes to the
/// controller: llvm-jitlink exits as soon as it has the program's result,
/// without waiting for the executor, so output still buffered (stdout to a
/// file or pipe is fully buffered) would only reach its file when the
/// executor exits, after whoever ran llvm-jitlink may already have read it.
/// LLVM's executor has that race (seen under load).
///
/// **A deliberate difference from LLVM's executor** (protocol 5.5): when the
/// process later ends without flushing (JIT'd code calls `abort()` or
/// `_exit()`, or is killed by a signal), what earlier, completed calls
/// printed is already out with ours and lost with LLVM's, whose buffers die
/// with the process (e.g. `clang-repl`: `printf("a\n");` then `abort();`
/// prints `a` only with ours). Output of the call that ends the process is
/// lost with both: it never returns here. When the process exits normally,
/// the bytes and their order are the same either way. We keep the flush:
/// losing a program's output is never what its user wants.
pub fn flush_c_stdio() {
    // SAFETY: fflush(NULL) flushes every open output stream; it takes each
    // stream's lock, so it is safe while other threads use them.
    unsafe { libc::fflush(std::ptr::null_mut()) };
}

/// The page size of this process.
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as u64 } else { 4096 }
}

/// The stack size of a new pthread in a C program: the soft
/// `RLIMIT_STACK`, or 8 MiB when it is unlimited (glibc's rule), clamped to
/// [2 MiB, 256 MiB]. JIT'd programs expect C-sized stacks, not Rust's 2 MiB.
pub(crate) fn default_thread_stack_size() -> usize {
    const MIB: u64 = 1 << 20;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut lim) };
    let size = if rc != 0 || lim.rlim_cur == libc::RLIM_INFINITY {
        8 * MIB
    } else {
        #[allow(clippy::unnecessary_cast, reason = "rlim_t is not u64 on every target")]
        let cur = lim.rlim_cur as u64;
        cur
    };
    size.clamp(2 * MIB, 256 * MIB) as usize
}

/// The target triple LLVM's `sys::getProcessTriple()` reports for this
/// process (Debian's LLVM uses the `pc` vendor on x86-64).
pub fn process_triple() -> String {
    let arch = std::env::consts::ARCH;
    let vendor = match arch {
        "x86_64" | "x86" => "pc",
        _ => "unknown",
    };
    let os = std::env::consts::OS;
    let env = if cfg!(target_env = "gnu") {
        "-gnu"
    } else if cfg!(target_env = "musl") {
        "-musl"
    } else {
        ""
    };
    format!("{arch}-{vendor}-{os}{env}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn page_size_is_a_power_of_two() {
        assert!(super::page_size().is_power_of_two());
    }

    #[test]
    #[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
    fn triple_matches_llvm_on_x86_64_linux() {
        assert_eq!(super::process_triple(), "x86_64-pc-linux-gnu");
    }
}
