//! Allocation actions run in this process (upstream `AllocAction.h`,
//! `SPSAllocAction.h`): calling one, the finalize and dealloc sequences
//! (spec 11.1), and writing an action function whose arguments are SPS.
//!
//! An action is a [`AllocAction`] (`sps::memory`): the address of a function
//! with the [`AllocActionFn`] ABI and its argument bytes. Upstream orc-rt's
//! actions return an empty buffer on success and an out-of-band error on
//! failure; LLVM 22's return an SPS `Error`. [`action_result`] accepts both.
//!
//! ```
//! use orc_rt::alloc_action::{AllocActionFunction, action_result};
//! use orc_rt::{Error, sps};
//! // The body of an action taking (i32, i32): succeeds if they are equal.
//! let check = |args: &[u8]| {
//!     AllocActionFunction::handle_sps(args, |(x, y): (i32, i32)| {
//!         if x == y { Ok(()) } else { Err(Error::msg("X and Y differ")) }
//!     })
//! };
//! assert!(action_result(&check(&sps::to_vec(&(42i32, 42i32)))).is_ok());
//! let err = action_result(&check(&sps::to_vec(&(42i32, 7i32)))).unwrap_err();
//! assert_eq!(err.message(), "X and Y differ");
//! ```

use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::addr::ExecutorAddr;
use crate::error::{Error, ErrorKind};
use crate::error_reporter::ReportError;
use crate::sps::memory::{AllocAction, AllocActionPair};
use crate::sps::{self, SpsDecode};
use crate::wrapper::{BufferView, WrapperFunctionBuffer, orc_rt_WrapperFunctionBuffer};

/// The C ABI of an allocation-action function (upstream `AllocActionFn`;
/// the same shape as LLVM 22's `CWrapperFunctionResult fn(const char *,
/// size_t)`): the argument bytes in, a result buffer out.
pub type AllocActionFn = unsafe extern "C" fn(*const c_char, usize) -> orc_rt_WrapperFunctionBuffer;

/// The out-of-band error of an action whose arguments do not decode
/// (upstream's exact text).
pub const ARG_DECODE_ERROR: &str = "Could not deserialize allocation action argument buffer";

/// The out-of-band error of an action whose Rust body panicked.
pub const PANIC_ERROR: &str = "allocation action panicked";

impl AllocAction {
    /// An action calling `f` (in this process) with `args`.
    pub fn from_fn(f: AllocActionFn, args: WrapperFunctionBuffer) -> Self {
        AllocAction::new(ExecutorAddr::new(f as usize as u64), args)
    }

    /// Calls the action's function on its arguments and returns its result
    /// buffer (upstream `AllocAction::operator()`); a null function (no
    /// action) gives the empty buffer without calling anything.
    ///
    /// # Safety
    /// `function` must be null or the address of a function in this
    /// process with the [`AllocActionFn`] ABI that does not unwind and
    /// returns a buffer in one of the four valid states (spec 1), its
    /// storage from C `malloc`. Addresses from a controller are trusted as
    /// the protocol says (spec 8.9): the controller vouches for them.
    #[allow(unsafe_code, reason = "calls code at an address")]
    pub unsafe fn call(&self) -> WrapperFunctionBuffer {
        if self.is_none() {
            return WrapperFunctionBuffer::empty();
        }
        let args = self.args.bytes();
        // SAFETY: (caller) the address is a function of this ABI; a
        // non-null address converts to a non-null function pointer.
        let f =
            unsafe { std::mem::transmute::<usize, AllocActionFn>(self.function.value() as usize) };
        // SAFETY: (caller) `f` keeps the ABI; the slice is live for the call;
        // the returned buffer's ownership passes to us.
        unsafe { WrapperFunctionBuffer::from_raw(f(args.as_ptr().cast(), args.len())) }
    }

    /// [`call`](Self::call)s the action and reads its result with
    /// [`action_result`].
    ///
    /// # Safety
    /// As for [`call`](Self::call).
    #[allow(unsafe_code, reason = "calls code at an address")]
    pub unsafe fn run(&self) -> Result<(), Error> {
        // SAFETY: (caller) as for `call`.
        action_result(&unsafe { self.call() })
    }
}

/// Reads an action's result under both conventions (spec 11.1): an
/// out-of-band error is a failure with its message; the empty buffer is
/// success (upstream orc-rt); other bytes must decode as an SPS `Error`
/// (LLVM 22), whose failure message is passed through unchanged. Failures
/// have kind [`ErrorKind::Service`].
pub fn action_result(result: &WrapperFunctionBuffer) -> Result<(), Error> {
    let fail = |msg: &str| Err(Error::new(ErrorKind::Service, msg));
    match result.view() {
        BufferView::Error(msg) => fail(&msg.to_string_lossy()),
        BufferView::Empty => Ok(()),
        BufferView::Bytes(bytes) => match sps::from_prefix::<Result<(), Error>>(bytes) {
            Ok((Ok(()), _)) => Ok(()),
            Ok((Err(e), _)) => fail(e.message()),
            Err(e) => fail(&format!(
                "could not deserialize an allocation action's result: {e}"
            )),
        },
    }
}

/// Runs each pair's finalize action in order (upstream
/// `runFinalizeActions`), through `run` (e.g. `|a| unsafe { a.run() }` in
/// process, or an executor's caller), and returns the dealloc actions to
/// keep: the non-null ones of the pairs, in order (also when the pair's
/// finalize action is null). On the first failure the kept dealloc actions
/// run, newest first, their errors go to `report`, and the finalize error
/// is returned; the failing pair's dealloc and later pairs never run.
pub fn run_finalize_actions(
    pairs: Vec<AllocActionPair>,
    mut run: impl FnMut(&AllocAction) -> Result<(), Error>,
    mut report: impl ReportError,
) -> Result<Vec<AllocAction>, Error> {
    let mut deallocs = Vec::new();
    for pair in pairs {
        if !pair.finalize.is_none()
            && let Err(err) = run(&pair.finalize)
        {
            run_dealloc_actions(deallocs, run, |e| report.report(e));
            return Err(err);
        }
        if !pair.dealloc.is_none() {
            deallocs.push(pair.dealloc);
        }
    }
    Ok(deallocs)
}

/// Runs dealloc actions newest first (upstream `runDeallocActions`); every
/// one runs, and each failure goes to `report`.
pub fn run_dealloc_actions(
    actions: Vec<AllocAction>,
    mut run: impl FnMut(&AllocAction) -> Result<(), Error>,
    mut report: impl ReportError,
) {
    for action in actions.iter().rev().filter(|a| !a.is_none()) {
        if let Err(err) = run(action) {
            report.report(err);
        }
    }
}

/// What an action body may return (upstream `AllocActionSPSSerializer`):
/// `Result<(), Error>` (success → empty buffer, failure → out-of-band
/// error with the message), `()` (always success) or a raw result buffer.
pub trait AllocActionReturn {
    /// The result buffer the action function returns.
    fn into_action_result(self) -> WrapperFunctionBuffer;
}

impl AllocActionReturn for Result<(), Error> {
    fn into_action_result(self) -> WrapperFunctionBuffer {
        match self {
            Ok(()) => WrapperFunctionBuffer::empty(),
            Err(e) => WrapperFunctionBuffer::out_of_band_error(e.message()),
        }
    }
}

impl AllocActionReturn for () {
    fn into_action_result(self) -> WrapperFunctionBuffer {
        WrapperFunctionBuffer::empty()
    }
}

impl AllocActionReturn for WrapperFunctionBuffer {
    fn into_action_result(self) -> WrapperFunctionBuffer {
        self
    }
}

/// Helpers for writing allocation-action functions (upstream
/// `AllocActionFunction`, `SPSAllocActionFunction`); see also
/// [`sps_alloc_action!`](crate::sps_alloc_action).
#[derive(Debug)]
pub enum AllocActionFunction {}

impl AllocActionFunction {
    /// Decodes the SPS argument tuple `A` (which may borrow from `args`;
    /// trailing bytes ignored), runs `f`, and turns its return into the
    /// action's result. Undecodable arguments give the out-of-band error
    /// [`ARG_DECODE_ERROR`] without calling `f`.
    pub fn handle_sps<'a, A, R>(args: &'a [u8], f: impl FnOnce(A) -> R) -> WrapperFunctionBuffer
    where
        A: SpsDecode<'a>,
        R: AllocActionReturn,
    {
        match sps::from_prefix::<A>(args) {
            Ok((a, _trailing)) => f(a).into_action_result(),
            Err(_) => WrapperFunctionBuffer::out_of_band_error(ARG_DECODE_ERROR),
        }
    }

    /// The body of an `extern "C"` action function: runs `f` on the
    /// argument bytes and hands its result to C; a panic becomes the
    /// out-of-band error [`PANIC_ERROR`] (it must not unwind into C).
    ///
    /// # Safety
    /// `(data, size)` must be the argument bytes the action was called with:
    /// `size` readable bytes at `data` (any `data` if `size` is 0), alive
    /// for the call.
    #[allow(unsafe_code, reason = "reads the C caller's argument bytes")]
    pub unsafe fn call_from_c(
        data: *const c_char,
        size: usize,
        f: impl FnOnce(&[u8]) -> WrapperFunctionBuffer,
    ) -> orc_rt_WrapperFunctionBuffer {
        let args: &[u8] = if size == 0 {
            &[]
        } else {
            // SAFETY: (caller) `size` bytes at `data`, alive for this call;
            // `f` cannot keep them (its argument's lifetime is this call's).
            unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size) }
        };
        catch_unwind(AssertUnwindSafe(|| f(args)))
            .unwrap_or_else(|_| WrapperFunctionBuffer::out_of_band_error(PANIC_ERROR))
            .into_raw()
    }
}

/// Defines an allocation-action function with SPS arguments (upstream
/// `ORC_RT_SPS_ALLOC_ACTION`): an `unsafe extern "C"` function of the
/// [`AllocActionFn`](crate::alloc_action::AllocActionFn) ABI whose body
/// decodes the argument tuple and runs the handler (see
/// [`AllocActionFunction::handle_sps`](crate::alloc_action::AllocActionFunction::handle_sps)).
/// The expansion holds an `unsafe` block, as any exported C function does.
///
/// ```
/// use orc_rt::alloc_action::action_result;
/// use orc_rt::sps::memory::AllocAction;
/// use orc_rt::{Error, sps};
///
/// orc_rt::sps_alloc_action! {
///     /// Succeeds if both arguments are equal.
///     pub fn check_values_equal = |(x, y): (i32, i32)| {
///         if x == y { Ok(()) } else { Err(Error::msg("X and Y differ")) }
///     }
/// }
///
/// let action = AllocAction::from_fn(check_values_equal, sps::to_buffer(&(42i32, 7i32)).unwrap());
/// // SAFETY: the action's function is `check_values_equal`, of the right ABI.
/// let err = action_result(&unsafe { action.call() }).unwrap_err();
/// assert_eq!(err.message(), "X and Y differ");
/// ```
#[macro_export]
macro_rules! sps_alloc_action {
    ($(#[$attr:meta])* $vis:vis fn $name:ident = $handler:expr $(;)?) => {
        $(#[$attr])*
        ///
        /// # Safety
        /// An allocation-action function: `(data, size)` must be its
        /// argument bytes, alive for the call.
        $vis unsafe extern "C" fn $name(
            data: *const ::std::ffi::c_char,
            size: usize,
        ) -> $crate::wrapper::orc_rt_WrapperFunctionBuffer {
            // The handler is built outside the `unsafe` block: its body is
            // the caller's safe code.
            let handler = $handler;
            let body = move |args: &[u8]| {
                $crate::alloc_action::AllocActionFunction::handle_sps(args, handler)
            };
            // SAFETY: (caller) the action's argument bytes.
            unsafe { $crate::alloc_action::AllocActionFunction::call_from_c(data, size, body) }
        }
    };
}
