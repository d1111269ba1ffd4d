//! Signal dispositions: JIT'd programs expect a C process's (SIGPIPE kills),
//! while the runtime's own writes to the controller must never die of one.

use std::sync::atomic::{AtomicBool, Ordering};

/// Set once SIGPIPE is back to its default (killing) disposition.
static SIGPIPE_KILLS: AtomicBool = AtomicBool::new(false);

/// Gives SIGPIPE its default disposition, as in a C program (Rust's runtime
/// ignores it): a JIT'd program writing to a closed pipe then dies of it,
/// exactly as under LLVM's executor.
pub(crate) fn restore_default_sigpipe() {
    // SAFETY: installing SIG_DFL has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    SIGPIPE_KILLS.store(true, Ordering::Release);
}

/// Gives SIGSEGV and SIGBUS their default (killing) dispositions, as in a
/// C program. Rust's runtime installs handlers for them to report stack
/// overflows; such a handler changes what JIT'd programs see: a
/// `raise(SIGSEGV)` returns and the program carries on (the handler only
/// resets the disposition), and a stack overflow in JIT'd code prints
/// Rust's "has overflowed its stack" and dies of SIGABRT. Under LLVM's
/// executor both kill the process with SIGSEGV, silently.
pub(crate) fn restore_default_fault_signals() {
    for signal in [libc::SIGSEGV, libc::SIGBUS] {
        // SAFETY: installing SIG_DFL has no preconditions.
        unsafe { libc::signal(signal, libc::SIG_DFL) };
    }
}

/// Runs `f` (which writes to the controller) with SIGPIPE blocked on this
/// thread, so a closed pipe is an `EPIPE` error for us, not our death, and
/// discards a SIGPIPE `f` raised before unblocking. A no-op while SIGPIPE
/// is ignored anyway.
pub(crate) fn without_sigpipe<R>(f: impl FnOnce() -> R) -> R {
    if !SIGPIPE_KILLS.load(Ordering::Acquire) {
        return f();
    }
    // SAFETY: plain signal-set manipulation on local sets.
    let (block, mut old) = unsafe {
        let mut block: libc::sigset_t = std::mem::zeroed();
        let old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut block);
        libc::sigaddset(&mut block, libc::SIGPIPE);
        (block, old)
    };
    // SAFETY: valid sets; changes only this thread's mask.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut old) };
    // SAFETY: `old` was filled in by pthread_sigmask.
    let was_blocked = unsafe { libc::sigismember(&old, libc::SIGPIPE) } == 1;
    let result = f();
    if !was_blocked {
        // SAFETY: local sets; sigtimedwait with a zero timeout only takes a
        // SIGPIPE that is already pending (ours), never waits.
        unsafe {
            let mut pending: libc::sigset_t = std::mem::zeroed();
            libc::sigpending(&mut pending);
            if libc::sigismember(&pending, libc::SIGPIPE) == 1 {
                let zero = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                libc::sigtimedwait(&block, std::ptr::null_mut(), &zero);
            }
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    #[test]
    fn writes_to_a_closed_pipe_are_errors_even_when_sigpipe_kills() {
        super::restore_default_sigpipe();
        let (r, mut w) = std::io::pipe().unwrap();
        drop(r);
        let err = super::without_sigpipe(|| w.write_all(b"x")).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
        // Still alive, and the signal did not stay pending.
        let err = super::without_sigpipe(|| w.write_all(b"y")).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
        // Back to the test harness's disposition (other tests write pipes).
        // SAFETY: installing SIG_IGN has no preconditions.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        super::SIGPIPE_KILLS.store(false, std::sync::atomic::Ordering::Release);
    }
}
