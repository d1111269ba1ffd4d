//! A barrier that C++ exceptions thrown by JIT'd code cannot cross.
//!
//! Under LLVM's executor (a C++ program) an exception that escapes JIT'd
//! code finds no handler: the unwinder's search reaches the end of the
//! stack, `__cxa_throw` calls `std::terminate`, and libstdc++ prints
//! `terminate called after throwing an instance of 'T'` / `what():  ...`
//! and aborts. In a Rust process the search would instead stop at Rust's
//! `catch_unwind` (every Rust thread has one), which aborts with "Rust
//! cannot catch foreign exceptions" after unwinding the JIT'd frames.
//!
//! [`call`] runs a closure below a frame (a few instructions of assembly)
//! whose personality routine ends the search phase with
//! `_URC_FATAL_PHASE1_ERROR`: the throw fails exactly as with no handler at
//! all, so the thrower's runtime terminates the way a C++ executor would,
//! before any JIT'd frame is unwound. Forced unwinds (`pthread_exit`) pass
//! through unchanged.

use std::ffi::{c_int, c_void};

const URC_FATAL_PHASE1_ERROR: c_int = 3;
const URC_CONTINUE_UNWIND: c_int = 8;
const UA_SEARCH_PHASE: c_int = 1;

/// The personality routine of the barrier frame (Itanium ABI signature).
extern "C" fn barrier_personality(
    _version: c_int,
    actions: c_int,
    _exception_class: u64,
    _exception: *mut c_void,
    _context: *mut c_void,
) -> c_int {
    if actions & UA_SEARCH_PHASE != 0 {
        URC_FATAL_PHASE1_ERROR
    } else {
        URC_CONTINUE_UNWIND
    }
}

// `orc_rt_no_unwind_call(thunk, ctx)`: calls `thunk(ctx)` in a frame whose
// CIE names `barrier_personality` (through a pointer in .data.rel.ro,
// encoding 0x9b = indirect | pcrel | sdata4, as compilers emit it).
#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
    ".pushsection .data.rel.ro,\"aw\",@progbits",
    ".p2align 3",
    ".Lorc_rt_barrier_personality_ref:",
    ".quad {personality}",
    ".popsection",
    ".text",
    ".p2align 4",
    // Global (the Rust declaration may be in another codegen unit) but
    // hidden: not part of the executable's dynamic symbols.
    ".globl orc_rt_no_unwind_call",
    ".hidden orc_rt_no_unwind_call",
    ".type orc_rt_no_unwind_call,@function",
    "orc_rt_no_unwind_call:",
    ".cfi_startproc",
    ".cfi_personality 0x9b, .Lorc_rt_barrier_personality_ref",
    "push rbp",
    ".cfi_def_cfa_offset 16",
    ".cfi_offset rbp, -16",
    "mov rbp, rsp",
    ".cfi_def_cfa_register rbp",
    "mov rax, rdi",
    "mov rdi, rsi",
    "call rax",
    "pop rbp",
    ".cfi_def_cfa rsp, 8",
    "ret",
    ".cfi_endproc",
    ".size orc_rt_no_unwind_call, . - orc_rt_no_unwind_call",
    personality = sym barrier_personality,
);

#[cfg(target_arch = "x86_64")]
unsafe extern "C" {
    fn orc_rt_no_unwind_call(thunk: unsafe extern "C" fn(*mut c_void), ctx: *mut c_void);
}

/// Runs `f` (which calls JIT'd code) behind the barrier: an exception the
/// JIT'd code does not catch terminates the process as in a C++ executor.
pub(crate) fn call<F: FnOnce() -> R, R>(f: F) -> R {
    struct Slot<F, R> {
        f: Option<F>,
        result: Option<R>,
    }
    unsafe extern "C" fn thunk<F: FnOnce() -> R, R>(ctx: *mut c_void) {
        // SAFETY: `ctx` is the `Slot` that `call` passed, alive and not
        // otherwise borrowed until `orc_rt_no_unwind_call` returns.
        let slot = unsafe { &mut *ctx.cast::<Slot<F, R>>() };
        if let Some(f) = slot.f.take() {
            slot.result = Some(f());
        }
    }
    let mut slot: Slot<F, R> = Slot {
        f: Some(f),
        result: None,
    };
    let ctx = (&raw mut slot).cast::<c_void>();
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the trampoline calls `thunk(ctx)` once and returns; `thunk`
    // matches the slot's types.
    unsafe {
        orc_rt_no_unwind_call(thunk::<F, R>, ctx)
    };
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: as above, without the barrier.
    unsafe {
        thunk::<F, R>(ctx)
    };
    match slot.result {
        Some(r) => r,
        // The thunk always stores a result unless `f` unwound, and an
        // unwind cannot come back through the barrier.
        None => unreachable!("the no-unwind barrier returned without a result"),
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::c_int;

    #[test]
    fn the_barrier_passes_results_through() {
        assert_eq!(super::call(|| 6 * 7), 42);
        let s = String::from("kept");
        assert_eq!(super::call(move || s.len()), 4);
    }

    /// The unwinder's exception header (`struct _Unwind_Exception`).
    #[repr(C, align(16))]
    struct UnwindException {
        class: u64,
        cleanup: Option<unsafe extern "C" fn(c_int, *mut UnwindException)>,
        private: [usize; 2],
    }

    unsafe extern "C-unwind" {
        fn _Unwind_RaiseException(exception: *mut UnwindException) -> c_int;
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn a_foreign_exception_finds_no_handler_beyond_the_barrier() {
        // What a C++ throw does: raise, and terminate if that returns.
        // Behind the barrier the search fails at once (Rust's catch_unwind
        // of this test thread is never reached), so the raise returns
        // _URC_FATAL_PHASE1_ERROR and nothing is unwound.
        let mut exception = UnwindException {
            class: u64::from_be_bytes(*b"TESTC++\0"),
            cleanup: None,
            private: [0; 2],
        };
        // SAFETY: a well-formed exception header that outlives the call;
        // the search phase only reads it and fails before any unwinding.
        let code = super::call(|| unsafe { _Unwind_RaiseException(&raw mut exception) });
        assert_eq!(code, super::URC_FATAL_PHASE1_ERROR);
    }
}
