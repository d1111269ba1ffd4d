//! The operating-system boundary: the only code in the crate that calls the
//! OS (mmap/mprotect/munmap, instruction-cache flushes, process-memory copies,
//! dlopen/dlsym, the unwinder's frame registry, the GDB JIT interface).
//!
//! Everything here exposes a safe interface whose checks are local: memory
//! is only touched through a [`memory::Region`] this module mapped, or
//! through the kernel's fault-checked process-memory copies.

pub(crate) mod dylib;
pub(crate) mod eh_frame;
pub(crate) mod fd;
pub(crate) mod gdb_jit;
pub(crate) mod live;
pub(crate) mod memory;
pub(crate) mod no_unwind;
pub(crate) mod signals;

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
/// LLVM's executor has that race (seen under load); the bytes and their
/// order are the same either way.
pub(crate) fn flush_c_stdio() {
    // SAFETY: fflush(NULL) flushes every open output stream; it takes each
    // stream's lock, so it is safe while other threads use them.
    unsafe { libc::fflush(std::ptr::null_mut()) };
}

/// The page size of this process.
pub(crate) fn page_size() -> u64 {
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
pub(crate) fn process_triple() -> String {
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
