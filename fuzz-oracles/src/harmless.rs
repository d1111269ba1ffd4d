//! Functions the fuzzers let the executor call.
//!
//! A controller may legitimately ask the executor to run code at any address
//! (run-as-main, alloc actions, unregistered wrapper tags with the legacy
//! fallback on). A fuzzer must not: it would crash on its own request, not on
//! a bug. The `wire_message` harness rewrites every such address to one of
//! these functions, which have exactly the ABI the executor calls them with
//! and do nothing dangerous.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::{Mutex, OnceLock};

use orc_executor::testing::legacy_entry;
use orc_rt::addr::{ExecutorAddr, ExecutorAddrRange};
use orc_rt::error::Error;
use orc_rt::sps;
use orc_rt::wrapper::{CWrapperFunctionResult, WrapperFunctionBuffer};

/// `int main(int argc, char **argv)`: checks argv's shape and returns
/// `(argc + total string length) & 0x7f`.
pub(crate) extern "C" fn main_fn(argc: c_int, argv: *mut *mut c_char) -> c_int {
    let mut total: usize = 0;
    for i in 0..argc.max(0) as usize {
        // SAFETY: run_as_main passes argc valid C strings and a null
        // terminator, alive for the call.
        let s = unsafe { CStr::from_ptr(*argv.add(i)) };
        total += s.to_bytes().len();
    }
    // SAFETY: as above: argv[argc] exists and is null.
    if !unsafe { *argv.add(argc.max(0) as usize) }.is_null() {
        return -1;
    }
    ((argc as usize + total) & 0x7f) as c_int
}

/// The value [`main_fn`] returns for these arguments.
pub(crate) fn expected_main(argv: &[&[u8]]) -> i32 {
    ((argv.len() + argv.iter().map(|a| a.len()).sum::<usize>()) & 0x7f) as i32
}

/// `int fn(void)`: 7.
pub(crate) extern "C" fn void_fn() -> c_int {
    7
}

/// `int fn(int)`: `x * 3` (wrapping).
pub(crate) extern "C" fn int_fn(x: c_int) -> c_int {
    x.wrapping_mul(3)
}

/// Where [`calls_controller_fn`] finds the session's published dispatch
/// context and function (the `wire_message` harness sets them from the
/// Setup message; harness runs are serialised, so one slot is enough).
static DISPATCH: Mutex<Option<(u64, u64)>> = Mutex::new(None);

/// Publishes (or clears) the dispatch context and function that
/// [`calls_controller_fn`] calls through.
pub(crate) fn set_dispatch(target: Option<(ExecutorAddr, ExecutorAddr)>) {
    *DISPATCH.lock().unwrap_or_else(|p| p.into_inner()) =
        target.map(|(ctx, f)| (ctx.value(), f.value()));
}

/// What the last call of [`calls_controller_fn`] got back: the answer's
/// bytes, or the out-of-band error's message (harness runs are serialised:
/// one slot is enough).
static CONTROLLER_ANSWER: Mutex<Option<Result<Vec<u8>, Vec<u8>>>> = Mutex::new(None);

/// Takes what the last call of [`calls_controller_fn`] got back (`None`:
/// none since the last take).
pub(crate) fn take_controller_answer() -> Option<Result<Vec<u8>, Vec<u8>>> {
    CONTROLLER_ANSWER
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
}

/// LLVM 22's `__llvm_orc_SimpleRemoteEPC_dispatch_fn` signature.
type DispatchFn = unsafe extern "C" fn(
    *mut c_void,
    *const c_void,
    *const c_char,
    usize,
) -> CWrapperFunctionResult;

/// `int fn(int x)`: what JIT'd code compiled against the ORC runtime does to
/// reach the controller: calls the published dispatch function with the
/// published context, tag `x` and argument bytes `x` (little-endian), and
/// blocks for the answer. Returns the answer's length, -1 for an error,
/// -2 if no dispatch function is known; keeps the answer for
/// [`take_controller_answer`].
pub(crate) extern "C" fn calls_controller_fn(x: c_int) -> c_int {
    let Some((ctx, f)) = *DISPATCH.lock().unwrap_or_else(|p| p.into_inner()) else {
        return -2;
    };
    if f != orc_executor::call::entry_points::jit_dispatch_addr().value() {
        // Only ever our own dispatch function.
        return -2;
    }
    let args = x.to_le_bytes();
    // SAFETY: `f` is our own `jit_dispatch` (checked above), whose
    // signature is `DispatchFn`; `ctx` is the context the session published
    // with it (contexts are never freed); the argument slice is live.
    let result = unsafe {
        let f = std::mem::transmute::<usize, DispatchFn>(f as usize);
        f(
            ctx as usize as *mut c_void,
            x as isize as *const c_void,
            args.as_ptr().cast(),
            args.len(),
        )
    };
    // SAFETY: jit_dispatch returns an owned result (legacy ABI contract).
    let result = unsafe { WrapperFunctionBuffer::from_legacy(result) };
    let (answer, value) = match result.error_message() {
        Some(message) => (Err(message.to_bytes().to_vec()), -1),
        None => (
            Ok(result.bytes().to_vec()),
            result.bytes().len().min(i32::MAX as usize) as c_int,
        ),
    };
    *CONTROLLER_ANSWER.lock().unwrap_or_else(|p| p.into_inner()) = Some(answer);
    value
}

/// A legacy wrapper function (`CWrapperFunctionResult(const char *,
/// size_t)`) that returns its argument bytes.
pub(crate) unsafe extern "C" fn echo_fn(data: *const c_char, len: usize) -> CWrapperFunctionResult {
    // SAFETY: the legacy ABI's (pointer, length) contract, passed on.
    unsafe { legacy_entry(data, len, WrapperFunctionBuffer::copy_from) }
}

/// Alloc action that succeeds (SPS `Error` success).
pub(crate) unsafe extern "C" fn action_ok(
    data: *const c_char,
    len: usize,
) -> CWrapperFunctionResult {
    // SAFETY: as above.
    unsafe {
        legacy_entry(data, len, |_| {
            WrapperFunctionBuffer::from(sps::to_vec(&Ok::<(), Error>(())))
        })
    }
}

/// Alloc action that fails with an SPS error naming its argument length.
pub(crate) unsafe extern "C" fn action_fail(
    data: *const c_char,
    len: usize,
) -> CWrapperFunctionResult {
    // SAFETY: as above.
    unsafe {
        legacy_entry(data, len, |args| {
            WrapperFunctionBuffer::from(sps::to_vec(&Err::<(), Error>(Error::msg(format!(
                "fuzz action failed ({} argument bytes)",
                args.len()
            )))))
        })
    }
}

/// Alloc action that returns an out-of-band error.
pub(crate) unsafe extern "C" fn action_oob(
    data: *const c_char,
    len: usize,
) -> CWrapperFunctionResult {
    // SAFETY: as above.
    unsafe {
        legacy_entry(data, len, |_| {
            WrapperFunctionBuffer::out_of_band_error("fuzz action out-of-band error")
        })
    }
}

/// A valid, empty `.eh_frame` section (just the zero terminator) that lives
/// as long as the process: the only section the fuzzers register with the
/// unwinder (registering arbitrary bytes is the controller's right and a
/// crash waiting for the next unwind).
static EH_SECTION: [u64; 2] = [0, 0];

/// The range of [`EH_SECTION`].
pub(crate) fn eh_section() -> ExecutorAddrRange {
    let start = ExecutorAddr::from_ptr(EH_SECTION.as_ptr());
    ExecutorAddrRange::new(start, ExecutorAddr::new(start.value() + 8))
}

/// Undoes a registration of [`EH_SECTION`] a run may have left behind, so
/// every run starts from the same unwinder state.
pub(crate) fn forget_eh_section() {
    let _ = orc_executor::testing::deregister_eh_frame(eh_section());
}

/// What a harmless alloc-action function is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Ok,
    Fail,
    Oob,
    Echo,
    RegisterEh,
    DeregisterEh,
    RegisterGdb,
}

impl Action {
    pub(crate) const ALL: [Action; 7] = [
        Action::Ok,
        Action::Fail,
        Action::Oob,
        Action::Echo,
        Action::RegisterEh,
        Action::DeregisterEh,
        Action::RegisterGdb,
    ];

    /// The function's address (the same wherever it is asked for).
    pub(crate) fn addr(self) -> ExecutorAddr {
        let i = Action::ALL.iter().position(|a| *a == self);
        addrs().actions[i.expect("every action is in ALL")]
    }

    /// Takes the function's address (once: see [`addrs`]).
    fn take_addr(self) -> ExecutorAddr {
        use orc_executor::call::entry_points as ep;
        match self {
            Action::Ok => ep::addr_of(action_ok),
            Action::Fail => ep::addr_of(action_fail),
            Action::Oob => ep::addr_of(action_oob),
            Action::Echo => ep::addr_of(echo_fn),
            Action::RegisterEh => ep::addr_of(ep::register_eh_frame),
            Action::DeregisterEh => ep::addr_of(ep::deregister_eh_frame),
            Action::RegisterGdb => ep::addr_of(ep::register_jit_loader_gdb),
        }
    }

    /// Arguments the action may be called with: eh-frame actions only ever
    /// see [`EH_SECTION`] (or an empty range, an error path).
    pub(crate) fn sanitize_args(self, args: &[u8]) -> Vec<u8> {
        match self {
            Action::RegisterEh | Action::DeregisterEh => {
                match sps::from_prefix::<ExecutorAddrRange>(args) {
                    Ok((range, rest)) if !range.is_empty() && !range.start.is_null() => {
                        let mut out = sps::to_vec(&eh_section());
                        out.extend_from_slice(rest);
                        out
                    }
                    // Undecodable or empty: refused before any memory access.
                    _ => args.to_vec(),
                }
            }
            _ => args.to_vec(),
        }
    }
}

/// The harmless functions' addresses, each taken once. A function has no
/// one address in Rust: a small one is copied into every codegen unit that
/// names it, so `f as *const ()` in one module may differ from the same in
/// another, and the harness compares addresses the framer took with those
/// the checks and the alloc-action guard take.
struct Addrs {
    main: ExecutorAddr,
    void: ExecutorAddr,
    int: [ExecutorAddr; 2],
    echo: ExecutorAddr,
    actions: [ExecutorAddr; Action::ALL.len()],
}

fn addrs() -> &'static Addrs {
    static ADDRS: OnceLock<Addrs> = OnceLock::new();
    ADDRS.get_or_init(|| Addrs {
        main: ExecutorAddr::from_ptr(main_fn as *const ()),
        void: ExecutorAddr::from_ptr(void_fn as *const ()),
        int: [
            ExecutorAddr::from_ptr(int_fn as *const ()),
            ExecutorAddr::from_ptr(calls_controller_fn as *const ()),
        ],
        echo: orc_executor::call::entry_points::addr_of(echo_fn),
        actions: Action::ALL.map(Action::take_addr),
    })
}

/// The functions `run_as_main` may run.
pub(crate) fn main_addr() -> ExecutorAddr {
    addrs().main
}

/// The `int fn(void)` functions `run_as_void` may run.
pub(crate) fn void_addr() -> ExecutorAddr {
    addrs().void
}

/// The `int fn(int)` functions `run_as_int` may run: `[int_fn,
/// calls_controller_fn]`.
pub(crate) fn int_addrs() -> [ExecutorAddr; 2] {
    addrs().int
}

/// The legacy wrapper function unregistered tags are redirected to.
pub(crate) fn echo_addr() -> ExecutorAddr {
    addrs().echo
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harmless_functions_do_what_they_say() {
        let argv: [&[u8]; 2] = [b"prog", b"ab"];
        assert_eq!(
            orc_executor::call::run_as_main(main_addr(), &argv).unwrap(),
            expected_main(&argv)
        );
        assert_eq!(orc_executor::call::run_as_void(void_addr()).unwrap(), 7);
        assert_eq!(
            orc_executor::call::run_as_int(int_addrs()[0], 5).unwrap(),
            15
        );
        set_dispatch(None);
        assert_eq!(
            orc_executor::call::run_as_int(int_addrs()[1], 5).unwrap(),
            -2
        );
        let r = orc_executor::call::call_legacy_wrapper(echo_addr(), b"xyz");
        assert_eq!(r.bytes(), b"xyz");
        let r = orc_executor::call::call_legacy_wrapper(Action::Ok.addr(), b"");
        assert_eq!(r.bytes(), [0]);
        let r = orc_executor::call::call_legacy_wrapper(Action::Oob.addr(), b"");
        assert!(r.is_error());
        let r = orc_executor::call::call_legacy_wrapper(Action::Fail.addr(), b"");
        assert!(
            sps::from_bytes::<Result<(), Error>>(r.bytes())
                .unwrap()
                .is_err()
        );
    }

    #[test]
    fn eh_frame_actions_only_see_the_static_section() {
        let forged = sps::to_vec(&ExecutorAddrRange::new(
            ExecutorAddr::new(0x1000),
            ExecutorAddr::new(0x2000),
        ));
        let args = Action::RegisterEh.sanitize_args(&forged);
        assert_eq!(
            sps::from_bytes::<ExecutorAddrRange>(&args).unwrap(),
            eh_section()
        );
        let empty = sps::to_vec(&ExecutorAddrRange::new(
            ExecutorAddr::new(0x1000),
            ExecutorAddr::new(0x1000),
        ));
        assert_eq!(Action::DeregisterEh.sanitize_args(&empty), empty);
        assert_eq!(Action::Ok.sanitize_args(&forged), forged);
    }
}
