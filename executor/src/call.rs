//! Calling code at an executor address, and being called from it.
//!
//! Outgoing: LLVM 22's legacy synchronous wrapper ABI
//! (`CWrapperFunctionResult fn(const char *, size_t)`), and the plain C entry
//! points the run-code service needs (`int main(int, char **)`,
//! `int fn(void)`, `int fn(int)`, `void fn(void)`).
//!
//! Incoming: [`legacy_entry`] adapts a safe Rust function on bytes into the
//! legacy ABI for functions whose addresses we publish (alloc actions).
//!
//! Every call into JIT'd code goes through [`no_unwind::call`]: a C++
//! exception it does not catch terminates the process as under LLVM's
//! executor, instead of reaching Rust's `catch_unwind`.
//!
//! **Trust boundary.** The controller names code by address; by the
//! protocol it vouches that the address is a function of the named ABI,
//! JIT-linked by itself or published by us. We refuse what we can check
//! (null) and otherwise call as told, as LLVM's executor does.

use std::ffi::{CString, c_char, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::sys::no_unwind;
use orc_rt::addr::ExecutorAddr;
use orc_rt::error::{Error, ErrorKind};
use orc_rt::wrapper::{CWrapperFunctionResult, WrapperFunctionBuffer};

/// LLVM 22's wrapper-function ABI.
pub type LegacyWrapperFn = unsafe extern "C" fn(*const c_char, usize) -> CWrapperFunctionResult;

pub(crate) fn null_error(what: &str) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        format!("refusing to call {what} at address 0x0"),
    )
}

/// Calls the legacy wrapper function at `addr` on `args`; returns its result
/// buffer (bytes, empty, or an out-of-band error).
pub fn call_legacy_wrapper(addr: ExecutorAddr, args: &[u8]) -> WrapperFunctionBuffer {
    if addr.is_null() {
        return WrapperFunctionBuffer::from_error(&null_error("a wrapper function"));
    }
    // SAFETY: trust boundary (module docs): the controller vouches that
    // `addr` is a function with the legacy wrapper ABI. The argument pointer
    // and length describe a live slice for the duration of the call.
    let result = no_unwind::call(|| unsafe {
        let f: LegacyWrapperFn =
            std::mem::transmute::<usize, LegacyWrapperFn>(addr.value() as usize);
        f(args.as_ptr().cast::<c_char>(), args.len())
    });
    // SAFETY: the callee returns ownership of a result in one of the four
    // valid states, heap storage from C malloc (the ABI's contract).
    unsafe { WrapperFunctionBuffer::from_legacy(result) }
}

/// How the executor runs a controller call to an address nothing is
/// registered at (`SessionBuilder::call_unregistered_with`): as LLVM 22
/// does, a legacy wrapper function there (the ORC runtime's, such as
/// `__orc_rt_run_program_wrapper`, which runs the program's main). C stdio
/// is flushed before the result leaves: see [`crate::sys::flush_c_stdio`].
pub fn call_unregistered(addr: ExecutorAddr, args: &[u8]) -> WrapperFunctionBuffer {
    let result = call_legacy_wrapper(addr, args);
    crate::sys::flush_c_stdio();
    result
}

/// Calls `int main(int argc, char **argv)` at `addr` with `args` as argv
/// (NUL-terminated copies, followed by a null pointer).
pub fn run_as_main(addr: ExecutorAddr, args: &[&[u8]]) -> Result<i32, Error> {
    if addr.is_null() {
        return Err(null_error("main"));
    }
    let owned: Vec<CString> = args
        .iter()
        .map(|a| {
            CString::new(*a).map_err(|_| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    "program argument contains a NUL byte",
                )
            })
        })
        .collect::<Result<_, _>>()?;
    let mut argv: Vec<*mut c_char> = owned.iter().map(|s| s.as_ptr().cast_mut()).collect();
    argv.push(std::ptr::null_mut());
    let argc = c_int::try_from(owned.len())
        .map_err(|_| Error::new(ErrorKind::InvalidArgument, "too many program arguments"))?;
    type MainFn = unsafe extern "C" fn(c_int, *mut *mut c_char) -> c_int;
    // SAFETY: trust boundary (module docs): `addr` is the program's main.
    // argv holds argc valid C strings and a null terminator, all alive until
    // main returns (`owned` outlives the call).
    let status = no_unwind::call(|| unsafe {
        let f = std::mem::transmute::<usize, MainFn>(addr.value() as usize);
        f(argc, argv.as_mut_ptr())
    });
    crate::sys::flush_c_stdio();
    Ok(status)
}

/// Calls `int fn(void)` at `addr`.
pub fn run_as_void(addr: ExecutorAddr) -> Result<i32, Error> {
    if addr.is_null() {
        return Err(null_error("a function"));
    }
    type VoidFn = unsafe extern "C" fn() -> c_int;
    // SAFETY: trust boundary (module docs).
    let status = no_unwind::call(|| unsafe {
        std::mem::transmute::<usize, VoidFn>(addr.value() as usize)()
    });
    crate::sys::flush_c_stdio();
    Ok(status)
}

/// Calls `void fn(void)` at `addr` (LLVM main's `orc_rt_ci_sps_call_void_void`).
pub fn run_void_void(addr: ExecutorAddr) -> Result<(), Error> {
    if addr.is_null() {
        return Err(null_error("a function"));
    }
    type VoidVoidFn = unsafe extern "C" fn();
    // SAFETY: trust boundary (module docs).
    no_unwind::call(|| unsafe {
        std::mem::transmute::<usize, VoidVoidFn>(addr.value() as usize)()
    });
    crate::sys::flush_c_stdio();
    Ok(())
}

/// Calls `int fn(int)` at `addr`.
pub fn run_as_int(addr: ExecutorAddr, arg: i32) -> Result<i32, Error> {
    if addr.is_null() {
        return Err(null_error("a function"));
    }
    type IntFn = unsafe extern "C" fn(c_int) -> c_int;
    // SAFETY: trust boundary (module docs).
    let status = no_unwind::call(|| unsafe {
        std::mem::transmute::<usize, IntFn>(addr.value() as usize)(arg)
    });
    crate::sys::flush_c_stdio();
    Ok(status)
}

/// The body of a legacy-ABI entry point: turns `(ptr, len)` into a slice
/// (accepting `(NULL, 0)`), runs `body`, and turns a panic into an
/// out-of-band error instead of unwinding into C.
///
/// # Safety
/// `data` must be null with `len == 0`, or point to `len` readable bytes
/// that stay valid and unmodified for the call.
pub unsafe fn legacy_entry(
    data: *const c_char,
    len: usize,
    body: impl FnOnce(&[u8]) -> WrapperFunctionBuffer,
) -> CWrapperFunctionResult {
    let args: &[u8] = if data.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }
    };
    catch_unwind(AssertUnwindSafe(|| body(args)))
        .unwrap_or_else(|payload| {
            WrapperFunctionBuffer::from_error(&Error::from_panic(
                "wrapper function",
                payload.as_ref(),
            ))
        })
        .into_legacy()
}

/// The C entry points whose addresses we publish as bootstrap symbols:
/// legacy-ABI shims around safe functions on bytes.
pub mod entry_points {
    use std::ffi::{c_char, c_void};

    use std::sync::{Arc, Mutex};

    use orc_rt::addr::ExecutorAddr;
    use orc_rt::sync::lock;
    use orc_rt::wrapper::{CWrapperFunctionResult, WrapperFunctionBuffer};

    use super::legacy_entry;
    use crate::os::RealOs;
    use crate::services::registrars;

    /// `llvm_orc_registerEHFrameAllocAction`.
    ///
    /// # Safety
    /// `data` is null with `len == 0`, or points to `len` readable bytes
    /// (LLVM's legacy wrapper ABI).
    pub unsafe extern "C" fn register_eh_frame(
        data: *const c_char,
        len: usize,
    ) -> CWrapperFunctionResult {
        // SAFETY: callers pass a valid (pointer, length) pair (legacy ABI).
        unsafe {
            legacy_entry(data, len, |args| {
                registrars::register_eh_frame(&RealOs, args)
            })
        }
    }

    /// `llvm_orc_deregisterEHFrameAllocAction`.
    ///
    /// # Safety
    /// `data` is null with `len == 0`, or points to `len` readable bytes
    /// (LLVM's legacy wrapper ABI).
    pub unsafe extern "C" fn deregister_eh_frame(
        data: *const c_char,
        len: usize,
    ) -> CWrapperFunctionResult {
        // SAFETY: as above.
        unsafe {
            legacy_entry(data, len, |args| {
                registrars::deregister_eh_frame(&RealOs, args)
            })
        }
    }

    /// `llvm_orc_registerJITLoaderGDBAllocAction`.
    ///
    /// # Safety
    /// `data` is null with `len == 0`, or points to `len` readable bytes
    /// (LLVM's legacy wrapper ABI).
    pub unsafe extern "C" fn register_jit_loader_gdb(
        data: *const c_char,
        len: usize,
    ) -> CWrapperFunctionResult {
        // SAFETY: as above.
        unsafe {
            legacy_entry(data, len, |args| {
                registrars::register_jit_loader_gdb(&RealOs, args)
            })
        }
    }

    /// `orc_rt_ci_aa_sps_GDBJITRegistrar_register` (orc-rt's action ABI:
    /// the same C signature, an empty result on success).
    ///
    /// # Safety
    /// `data` is null with `len == 0`, or points to `len` readable bytes.
    pub unsafe extern "C" fn ci_register_gdb(
        data: *const c_char,
        len: usize,
    ) -> CWrapperFunctionResult {
        // SAFETY: callers pass a valid (pointer, length) pair.
        unsafe { legacy_entry(data, len, |args| registrars::ci_register_gdb(&RealOs, args)) }
    }

    /// `orc_rt_ci_aa_sps_GDBJITRegistrar_deregister`.
    ///
    /// # Safety
    /// `data` is null with `len == 0`, or points to `len` readable bytes.
    pub unsafe extern "C" fn ci_deregister_gdb(
        data: *const c_char,
        len: usize,
    ) -> CWrapperFunctionResult {
        // SAFETY: as above.
        unsafe {
            legacy_entry(data, len, |args| {
                registrars::ci_deregister_gdb(&RealOs, args)
            })
        }
    }

    /// `orc_rt_ci_aa_sps_DWARFEHFrameRegistrar_registerSection`.
    ///
    /// # Safety
    /// `data` is null with `len == 0`, or points to `len` readable bytes.
    pub unsafe extern "C" fn ci_register_eh_frame(
        data: *const c_char,
        len: usize,
    ) -> CWrapperFunctionResult {
        // SAFETY: as above.
        unsafe {
            legacy_entry(data, len, |args| {
                registrars::ci_register_eh_frame(&RealOs, args)
            })
        }
    }

    /// `orc_rt_ci_aa_sps_DWARFEHFrameRegistrar_deregisterSection`.
    ///
    /// # Safety
    /// `data` is null with `len == 0`, or points to `len` readable bytes.
    pub unsafe extern "C" fn ci_deregister_eh_frame(
        data: *const c_char,
        len: usize,
    ) -> CWrapperFunctionResult {
        // SAFETY: as above.
        unsafe {
            legacy_entry(data, len, |args| {
                registrars::ci_deregister_eh_frame(&RealOs, args)
            })
        }
    }

    /// Where JIT'd code's calls to the controller go.
    pub(crate) type DispatchTarget =
        Arc<dyn Fn(ExecutorAddr, &[u8]) -> WrapperFunctionBuffer + Send + Sync>;

    /// The object published as `__llvm_orc_SimpleRemoteEPC_dispatch_ctx`.
    ///
    /// JIT'd code may keep its address and call after the session is gone,
    /// so a context is never freed (one small allocation per session); it
    /// then answers "EPC server shut down".
    pub(crate) struct DispatchContext {
        target: Mutex<Option<DispatchTarget>>,
    }

    impl DispatchContext {
        /// A new context that lives as long as the process. Every context
        /// stays listed in a registry, so it is never unreachable memory
        /// (leak checkers stay quiet) and never reused for another session.
        pub(crate) fn leak() -> &'static DispatchContext {
            static ALL: Mutex<Vec<&'static DispatchContext>> = Mutex::new(Vec::new());
            let ctx: &'static DispatchContext = Box::leak(Box::new(DispatchContext {
                target: Mutex::new(None),
            }));
            lock(&ALL).push(ctx);
            ctx
        }

        /// Routes calls to `target` (or, with `None`, refuses them).
        pub(crate) fn set_target(&self, target: Option<DispatchTarget>) {
            *lock(&self.target) = target;
        }

        fn target(&self) -> Option<DispatchTarget> {
            lock(&self.target).clone()
        }
    }

    /// The out-of-band error for calls after the session ended (LLVM's text).
    pub(crate) const DISPATCH_SHUT_DOWN: &str = "jit_dispatch not available (EPC server shut down)";

    /// `__llvm_orc_SimpleRemoteEPC_dispatch_fn`: `CWrapperFunctionBuffer
    /// fn(void *ctx, const void *tag, const char *arg, size_t len)`. Blocks
    /// until the controller answers.
    ///
    /// # Safety
    /// `ctx` is null or the context we published; `data` is null with
    /// `len == 0`, or points to `len` readable bytes.
    pub unsafe extern "C" fn jit_dispatch(
        ctx: *mut c_void,
        tag: *const c_void,
        data: *const c_char,
        len: usize,
    ) -> CWrapperFunctionResult {
        // SAFETY: callers pass a valid (pointer, length) pair (legacy ABI).
        unsafe {
            legacy_entry(data, len, |args| {
                if ctx.is_null() {
                    return WrapperFunctionBuffer::out_of_band_error(
                        "jit_dispatch called with a null context",
                    );
                }
                // SAFETY: a non-null ctx is the DispatchContext we published
                // (the controller hands JIT'd code our bootstrap value), and
                // contexts are never freed.
                let ctx = &*(ctx as *const DispatchContext);
                match ctx.target() {
                    Some(f) => f(ExecutorAddr::from_ptr(tag), args),
                    None => WrapperFunctionBuffer::out_of_band_error(DISPATCH_SHUT_DOWN),
                }
            })
        }
    }

    /// The address of a legacy-ABI entry point.
    pub fn addr_of(
        f: unsafe extern "C" fn(*const c_char, usize) -> CWrapperFunctionResult,
    ) -> ExecutorAddr {
        ExecutorAddr::from_ptr(f as *const ())
    }

    /// The address of the dispatch entry point.
    pub fn jit_dispatch_addr() -> ExecutorAddr {
        ExecutorAddr::from_ptr(jit_dispatch as *const ())
    }

    /// Calls the dispatch function at `f` the way JIT'd code does,
    /// `f(ctx, tag, args, len)` (for tests of the executor-to-controller path).
    #[cfg(test)]
    pub(crate) fn call_dispatch_fn(
        f: ExecutorAddr,
        ctx: ExecutorAddr,
        tag: ExecutorAddr,
        args: &[u8],
    ) -> WrapperFunctionBuffer {
        type DispatchFn = unsafe extern "C" fn(
            *mut c_void,
            *const c_void,
            *const c_char,
            usize,
        ) -> CWrapperFunctionResult;
        assert!(!f.is_null());
        // SAFETY: tests pass the published dispatch function; args is live.
        unsafe {
            let f = std::mem::transmute::<usize, DispatchFn>(f.value() as usize);
            WrapperFunctionBuffer::from_legacy(f(
                ctx.to_ptr(),
                tag.to_ptr::<c_void>(),
                args.as_ptr().cast(),
                args.len(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "C" fn echo(data: *const c_char, len: usize) -> CWrapperFunctionResult {
        // SAFETY: forwarded from our own caller.
        unsafe { legacy_entry(data, len, WrapperFunctionBuffer::copy_from) }
    }

    unsafe extern "C" fn panics(data: *const c_char, len: usize) -> CWrapperFunctionResult {
        // SAFETY: forwarded from our own caller.
        unsafe { legacy_entry(data, len, |_| panic!("boom")) }
    }

    extern "C" fn count_args(argc: c_int, argv: *mut *mut c_char) -> c_int {
        // SAFETY: run_as_main passes argc strings and a null terminator.
        let last = unsafe { *argv.add(argc as usize) };
        assert!(last.is_null());
        // SAFETY: as above.
        let first = unsafe { std::ffi::CStr::from_ptr(*argv) };
        argc * 10 + first.to_bytes().len() as c_int
    }

    fn addr_of(f: *const ()) -> ExecutorAddr {
        ExecutorAddr::from_ptr(f)
    }

    extern "C" fn seven() -> c_int {
        7
    }

    extern "C" fn nothing() {}

    extern "C" fn double(x: c_int) -> c_int {
        x * 2
    }

    #[test]
    fn legacy_calls_round_trip_bytes_and_errors() {
        let r = call_legacy_wrapper(addr_of(echo as *const ()), b"0123456789abc");
        assert_eq!(r.bytes(), b"0123456789abc");
        let r = call_legacy_wrapper(addr_of(echo as *const ()), b"");
        assert!(r.is_empty() && !r.is_error());
        let r = call_legacy_wrapper(addr_of(panics as *const ()), b"x");
        let msg = r.error_message().unwrap().to_str().unwrap().to_owned();
        assert_eq!(msg, "wrapper function panicked: boom");
        let r = call_legacy_wrapper(ExecutorAddr::NULL, b"x");
        assert!(r.is_error());
    }

    #[test]
    fn run_code_entry_points() {
        let main = addr_of(count_args as *const ());
        assert_eq!(run_as_main(main, &[b"prog", b"a"]).unwrap(), 24);
        assert!(run_as_main(main, &[b"a\0b"]).is_err());
        assert_eq!(run_as_void(addr_of(seven as *const ())).unwrap(), 7);
        assert_eq!(run_as_int(addr_of(double as *const ()), 21).unwrap(), 42);
        run_void_void(addr_of(nothing as *const ())).unwrap();
        assert!(run_void_void(ExecutorAddr::NULL).is_err());
        assert_eq!(
            run_as_void(ExecutorAddr::NULL).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
}
