//! Signal dispositions: JIT'd programs expect a C process's (SIGPIPE kills),
//! while the runtime's own writes to the controller must never die of one.

use std::cell::Cell;
use std::io;
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

thread_local! {
    /// This thread keeps SIGPIPE blocked (see [`block_sigpipe_for_this_thread`]).
    static SIGPIPE_BLOCKED_HERE: Cell<bool> = const { Cell::new(false) };
}

fn sigpipe_set() -> libc::sigset_t {
    // SAFETY: plain signal-set manipulation on a local set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        set
    }
}

/// Takes the SIGPIPE a failed write just raised on this thread (blocked,
/// hence pending) so that it never fires later. Never waits.
fn discard_pending_sigpipe() {
    let set = sigpipe_set();
    // SAFETY: local sets; sigtimedwait with a zero timeout only takes a
    // SIGPIPE that is already pending, never waits.
    unsafe {
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut pending);
        if libc::sigismember(&pending, libc::SIGPIPE) == 1 {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            libc::sigtimedwait(&set, std::ptr::null_mut(), &zero);
        }
    }
}

/// Keeps SIGPIPE blocked on this thread from now on, for a thread that
/// writes to the controller often and never runs JIT'd code (the wire
/// reader): its writes then need no mask change each. Threads it starts
/// inherit the mask; those that may run JIT'd code call
/// [`unblock_inherited_sigpipe`] first.
pub(crate) fn block_sigpipe_for_this_thread() {
    if !SIGPIPE_KILLS.load(Ordering::Acquire) || SIGPIPE_BLOCKED_HERE.get() {
        return;
    }
    let set = sigpipe_set();
    // SAFETY: a valid set; changes only this thread's mask.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    SIGPIPE_BLOCKED_HERE.set(true);
}

/// Gives a new runtime thread that may run JIT'd code C's SIGPIPE again if
/// it inherited a block from the thread that started it.
pub(crate) fn unblock_inherited_sigpipe() {
    if !SIGPIPE_KILLS.load(Ordering::Acquire) {
        return;
    }
    let set = sigpipe_set();
    // SAFETY: a valid set; changes only this thread's mask.
    unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
}

/// Runs `task` (JIT'd code, on a thread that may keep SIGPIPE blocked)
/// with SIGPIPE as the program expects it.
pub(crate) fn with_program_sigpipe<R>(task: impl FnOnce() -> R) -> R {
    if !SIGPIPE_BLOCKED_HERE.get() {
        return task();
    }
    let set = sigpipe_set();
    // SAFETY: a valid set; changes only this thread's mask.
    unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
    let result = task();
    // SAFETY: as above.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    result
}

/// Runs `write` (which writes to the controller) with SIGPIPE blocked on
/// this thread, so a closed pipe is an `EPIPE` error for us, not our death,
/// and discards the SIGPIPE a failed write raised. Costs nothing while
/// SIGPIPE is ignored or on a thread that keeps it blocked, and one mask
/// change each way otherwise.
pub(crate) fn without_sigpipe<R>(write: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
    if !SIGPIPE_KILLS.load(Ordering::Acquire) {
        return write();
    }
    let broke = |r: &io::Result<R>| matches!(r, Err(e) if e.kind() == io::ErrorKind::BrokenPipe);
    if SIGPIPE_BLOCKED_HERE.get() {
        let result = write();
        if broke(&result) {
            discard_pending_sigpipe();
        }
        return result;
    }
    let block = sigpipe_set();
    // SAFETY: a zeroed set is valid storage for the old mask.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid sets; changes only this thread's mask.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut old) };
    // SAFETY: `old` was filled in by pthread_sigmask.
    let was_blocked = unsafe { libc::sigismember(&old, libc::SIGPIPE) } == 1;
    let result = write();
    if !was_blocked {
        if broke(&result) {
            discard_pending_sigpipe();
        }
        // SAFETY: `old` is the mask pthread_sigmask returned.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    }
    result
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    fn sigpipe_blocked() -> bool {
        // SAFETY: queries this thread's mask into a local set.
        unsafe {
            let mut mask: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut mask);
            libc::sigismember(&mask, libc::SIGPIPE) == 1
        }
    }

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
        // The same on a thread that keeps SIGPIPE blocked; the threads it
        // starts get C's SIGPIPE back, and so does JIT'd code run on it.
        std::thread::spawn(move || {
            super::block_sigpipe_for_this_thread();
            assert!(sigpipe_blocked());
            for _ in 0..2 {
                let err = super::without_sigpipe(|| w.write_all(b"z")).unwrap_err();
                assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
            }
            assert!(super::with_program_sigpipe(|| !sigpipe_blocked()));
            assert!(sigpipe_blocked());
            let child = std::thread::spawn(|| {
                let inherited = sigpipe_blocked();
                super::unblock_inherited_sigpipe();
                (inherited, sigpipe_blocked())
            });
            assert_eq!(child.join().unwrap(), (true, false));
        })
        .join()
        .unwrap();
        // Back to the test harness's disposition (other tests write pipes).
        // SAFETY: installing SIG_IGN has no preconditions.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        super::SIGPIPE_KILLS.store(false, std::sync::atomic::Ordering::Release);
    }
}
