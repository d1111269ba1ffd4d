//! Wrapper functions written in Rust (upstream `WrapperFunction.h`,
//! `SPSWrapperFunction.h`): handlers over typed SPS arguments whose decoding
//! and encoding are done for you, with an asynchronous return that happens
//! exactly once; and the caller side, for executor-to-controller calls.
//!
//! ```
//! use orc_rt::wrapper::{SpsWrapperFunction, WrapperFunctionBuffer, WrapperReturn};
//! type Add = SpsWrapperFunction<fn(u32, u32) -> u64>;
//!
//! // Handler side: decode (u32, u32), run, encode the u64.
//! let args = Add::encode_args(&(2, 40)).unwrap();
//! let (tx, rx) = std::sync::mpsc::channel();
//! let ret = WrapperReturn::new(move |result| tx.send(result).unwrap());
//! Add::handle_sync(args, ret, |(a, b)| u64::from(a + b));
//! let result = rx.recv().unwrap();
//!
//! // Caller side: decode the result.
//! assert_eq!(Add::decode_result(result).unwrap(), 42);
//! ```
//!
//! Error strings are exactly upstream's (spec 2), because
//! the peer may match on them.

use std::fmt;
use std::marker::PhantomData;

use super::WrapperFunctionBuffer;
use crate::addr::ExecutorAddr;
use crate::error::{Error, ErrorKind};
use crate::session::SessionHandle;
use crate::sps::{self, SpsAs, SpsDecode, SpsEncode};

/// Handler side: the argument bytes did not decode.
pub const ARG_DECODE_ERROR: &str = "Could not deserialize wrapper function arg data";
/// Handler side: the result did not encode.
pub const RESULT_ENCODE_ERROR: &str = "Could not serialize wrapper function result data";
/// Caller side: the arguments did not encode (nothing was called).
pub const CALL_ARGS_ENCODE_ERROR: &str = "Could not serialize wrapper function call arguments";
/// Caller side: the result bytes did not decode.
pub const RESULT_DECODE_ERROR: &str = "Could not deserialize result";
/// A [`WrapperReturn`] was dropped without sending anything.
pub const RETURN_DROPPED_ERROR: &str =
    "wrapper function dropped its Return without sending a result";

type ReturnFn = Box<dyn FnOnce(WrapperFunctionBuffer) + Send + 'static>;

/// Where a wrapper function's result goes (the `(Session, CallId, Return)`
/// contract in Rust form). Consumed by [`send`](Self::send), so a result is
/// sent at most once; dropping it unsent sends the out-of-band error
/// [`RETURN_DROPPED_ERROR`], so it is sent at least once too. May be moved
/// to, and sent from, any thread.
#[must_use = "a wrapper function must send exactly one result"]
pub struct WrapperReturn {
    f: Option<ReturnFn>,
}

impl WrapperReturn {
    /// A return that hands the result to `f`.
    pub fn new(f: impl FnOnce(WrapperFunctionBuffer) + Send + 'static) -> Self {
        WrapperReturn {
            f: Some(Box::new(f)),
        }
    }

    /// Sends the result bytes (possibly an out-of-band error).
    pub fn send(mut self, result: WrapperFunctionBuffer) {
        if let Some(f) = self.f.take() {
            f(result);
        }
    }

    /// Sends `err` as an out-of-band error.
    pub fn send_error(self, err: &Error) {
        self.send(WrapperFunctionBuffer::from_error(err));
    }

    /// A return that calls a C `orc_rt_WrapperFunctionReturn` with the
    /// session reference and call id a C-ABI wrapper received.
    ///
    /// # Safety
    /// `ret`, `s` and `call_id` must be exactly what the session passed to
    /// an `orc_rt_WrapperFunction`, and no other return may be sent for
    /// that call.
    #[allow(unsafe_code, reason = "wraps a C return callback")]
    pub unsafe fn from_c(
        s: crate::session::orc_rt_SessionRef,
        call_id: u64,
        ret: crate::session::orc_rt_WrapperFunctionReturn,
    ) -> Self {
        struct SendPtr(crate::session::orc_rt_SessionRef);
        // SAFETY: a session reference may be used from any thread (the
        // session's shared state is Sync).
        unsafe impl Send for SendPtr {}
        let s = SendPtr(s);
        WrapperReturn::new(move |result| {
            let s = s;
            // SAFETY: (caller) `ret` is the session's return for this call;
            // ownership of `result` passes to it.
            unsafe { ret(s.0, call_id, result.into_raw()) }
        })
    }
}

impl Drop for WrapperReturn {
    fn drop(&mut self) {
        if let Some(f) = self.f.take() {
            f(WrapperFunctionBuffer::out_of_band_error(
                RETURN_DROPPED_ERROR,
            ));
        }
    }
}

impl fmt::Debug for WrapperReturn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrapperReturn")
            .field("sent", &self.f.is_none())
            .finish()
    }
}

/// A typed [`WrapperReturn`]: encodes an `R` (a void `()` result is the
/// empty buffer).
#[must_use = "a wrapper function must send exactly one result"]
pub struct SpsReturn<R> {
    ret: WrapperReturn,
    _result: PhantomData<fn(R)>,
}

impl<R: SpsEncode> SpsReturn<R> {
    /// Wraps an untyped return.
    pub fn new(ret: WrapperReturn) -> Self {
        SpsReturn {
            ret,
            _result: PhantomData,
        }
    }

    /// Encodes and sends `value`; an encoding failure sends
    /// [`RESULT_ENCODE_ERROR`].
    pub fn send(self, value: R) {
        self.ret.send(encode_result(&value));
    }

    /// Sends an out-of-band error instead of a value.
    pub fn send_error(self, err: &Error) {
        self.ret.send_error(err);
    }
}

impl<R> fmt::Debug for SpsReturn<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.ret.fmt(f)
    }
}

fn encode_result<R: SpsEncode + ?Sized>(value: &R) -> WrapperFunctionBuffer {
    sps::to_buffer(value)
        .unwrap_or_else(|_| WrapperFunctionBuffer::out_of_band_error(RESULT_ENCODE_ERROR))
}

/// Turns an out-of-band error result into an `Err`: `"disconnected"` and
/// `"no controller attached"` have kind [`ErrorKind::Detached`], any other
/// message [`ErrorKind::Remote`].
fn oob_to_error(result: &WrapperFunctionBuffer) -> Option<Error> {
    let msg = result.error_message()?.to_string_lossy();
    let kind = match &*msg {
        "disconnected" | "no controller attached" => ErrorKind::Detached,
        _ => ErrorKind::Remote,
    };
    Some(Error::new(kind, msg))
}

/// Untyped wrapper-function helpers: bytes in, bytes out.
#[derive(Debug)]
pub enum WrapperFunction {}

impl WrapperFunction {
    /// Runs `handler` on the argument bytes and sends its result; an
    /// out-of-band error argument goes straight back without calling it, an
    /// `Err` from it is sent as an out-of-band error.
    pub fn handle(
        args: WrapperFunctionBuffer,
        ret: WrapperReturn,
        handler: impl FnOnce(&[u8]) -> Result<WrapperFunctionBuffer, Error>,
    ) {
        if args.is_error() {
            return ret.send(args);
        }
        ret.send(WrapperFunctionBuffer::from_result(handler(args.bytes())));
    }

    /// A typed SPS handler whose arguments may borrow from the argument
    /// bytes (`&[u8]`, `&str`, request views): decodes the argument tuple
    /// `A` (trailing bytes ignored, as LLVM's decoders do), runs `f`, and
    /// encodes its result. Undecodable arguments give the out-of-band error
    /// [`ARG_DECODE_ERROR`], an unencodable result [`RESULT_ENCODE_ERROR`].
    /// (For arguments that own their data,
    /// [`SpsWrapperFunction`] names the whole signature in one type.)
    ///
    /// ```
    /// use orc_rt::wrapper::WrapperFunction;
    /// let args = orc_rt::sps::to_vec(&("hello", 2u64));
    /// let result = WrapperFunction::handle_sps(&args, |(s, n): (&str, u64)| s.len() as u64 * n);
    /// assert_eq!(result.bytes(), 10u64.to_le_bytes());
    /// ```
    pub fn handle_sps<'a, A, R>(args: &'a [u8], f: impl FnOnce(A) -> R) -> WrapperFunctionBuffer
    where
        A: SpsDecode<'a>,
        R: SpsEncode,
    {
        match sps::from_prefix::<A>(args) {
            Ok((a, _trailing)) => encode_result(&f(a)),
            Err(_) => WrapperFunctionBuffer::out_of_band_error(ARG_DECODE_ERROR),
        }
    }

    /// [`handle_sps`](Self::handle_sps) for signatures whose result has no
    /// error channel (`void`, sequences, integers): an `Err` from `f` is
    /// sent as an out-of-band error.
    pub fn handle_sps_oob<'a, A, R>(
        args: &'a [u8],
        f: impl FnOnce(A) -> Result<R, Error>,
    ) -> WrapperFunctionBuffer
    where
        A: SpsDecode<'a>,
        R: SpsEncode,
    {
        match sps::from_prefix::<A>(args) {
            Ok((a, _trailing)) => match f(a) {
                Ok(r) => encode_result(&r),
                Err(e) => WrapperFunctionBuffer::from_error(&e),
            },
            Err(_) => WrapperFunctionBuffer::out_of_band_error(ARG_DECODE_ERROR),
        }
    }

    /// [`handle_sps`](Self::handle_sps) for a quick path
    /// ([`WrapperEntry::with_quick_path`](super::WrapperEntry::with_quick_path)):
    /// `f` may decline (`None`); undecodable arguments are answered here.
    pub fn quick_sps<'a, A, R>(
        args: &'a [u8],
        f: impl FnOnce(A) -> Option<R>,
    ) -> Option<WrapperFunctionBuffer>
    where
        A: SpsDecode<'a>,
        R: SpsEncode,
    {
        match sps::from_prefix::<A>(args) {
            Ok((a, _trailing)) => f(a).map(|r| encode_result(&r)),
            Err(_) => Some(WrapperFunctionBuffer::out_of_band_error(ARG_DECODE_ERROR)),
        }
    }

    /// Calls through `caller` (which sends `args` and later hands the result
    /// bytes to the continuation it got) and gives `on_result` the bytes, or
    /// an error for an out-of-band result.
    pub fn call<C>(
        caller: C,
        args: WrapperFunctionBuffer,
        on_result: impl FnOnce(Result<WrapperFunctionBuffer, Error>) + Send + 'static,
    ) where
        C: FnOnce(WrapperFunctionBuffer, Box<dyn FnOnce(WrapperFunctionBuffer) + Send>),
    {
        caller(
            args,
            Box::new(move |result| match oob_to_error(&result) {
                Some(err) => on_result(Err(err)),
                None => on_result(Ok(result)),
            }),
        );
    }
}

/// A function signature, `fn(A, B, ..) -> R`, naming a wrapper function's
/// SPS argument list and result. The SPS types are the Rust types
/// (`String` is SPSString, `Result<T, Error>` is `SPSExpected<T>`, ...).
pub trait Signature {
    /// The arguments, as a tuple (`()` for none).
    type Args;
    /// The result (`()` for void).
    type Ret;
}

macro_rules! signature {
    ($($arg:ident)*) => {
        impl<R, $($arg),*> Signature for fn($($arg),*) -> R {
            type Args = ($($arg,)*);
            type Ret = R;
        }
    };
}
signature!();
signature!(A);
signature!(A B);
signature!(A B C);
signature!(A B C D);
signature!(A B C D E);
signature!(A B C D E F);
signature!(A B C D E F G);
signature!(A B C D E F G H);

/// A signature whose first argument is the target object's address:
/// `fn(ExecutorAddr, A, ..) -> R` (upstream's method wrappers).
pub trait MethodSignature: Signature {
    /// The arguments after the address.
    type Rest;
    /// Splits the argument tuple into the address and the rest.
    fn split(args: Self::Args) -> (ExecutorAddr, Self::Rest);
}

macro_rules! method_signature {
    ($($arg:ident)*) => {
        #[allow(non_snake_case, reason = "macro-generated bindings")]
        impl<R, $($arg),*> MethodSignature for fn(ExecutorAddr, $($arg),*) -> R {
            type Rest = ($($arg,)*);
            fn split((addr, $($arg,)*): Self::Args) -> (ExecutorAddr, Self::Rest) {
                (addr, ($($arg,)*))
            }
        }
    };
}
method_signature!();
method_signature!(A);
method_signature!(A B);
method_signature!(A B C);
method_signature!(A B C D);
method_signature!(A B C D E);
method_signature!(A B C D E F);
method_signature!(A B C D E F G);

/// A wrapper function with SPS signature `S`, e.g.
/// `SpsWrapperFunction<fn(ExecutorAddr, u64) -> Result<ExecutorAddr, Error>>`
/// (upstream `SPSWrapperFunction<SPSExpected<SPSExecutorAddr>(SPSExecutorAddr, uint64_t)>`).
///
/// Handler side: [`handle`](Self::handle) / [`handle_sync`](Self::handle_sync),
/// or [`handler`](Self::handler) / [`async_handler`](Self::async_handler) to
/// register with [`SessionHandle::register_wrapper`]. Method-style wrappers
/// take the target object's `ExecutorAddr` as their first argument.
///
/// Caller side: [`call`](Self::call) through any caller, or
/// [`call_controller`](Self::call_controller). For `Result` results the
/// caller sees a nested result: outer = transport, inner = the remote's error.
pub struct SpsWrapperFunction<S>(PhantomData<S>);

impl<S> fmt::Debug for SpsWrapperFunction<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SpsWrapperFunction")
    }
}

impl<S> SpsWrapperFunction<S>
where
    S: Signature,
    S::Args: for<'de> SpsDecode<'de>,
    S::Ret: SpsEncode,
{
    /// Decodes the arguments and runs `handler`, which sends the result
    /// through its [`SpsReturn`] now or later. An out-of-band error argument
    /// goes straight back; undecodable arguments send [`ARG_DECODE_ERROR`].
    pub fn handle(
        args: WrapperFunctionBuffer,
        ret: WrapperReturn,
        handler: impl FnOnce(S::Args, SpsReturn<S::Ret>),
    ) {
        if args.is_error() {
            return ret.send(args);
        }
        // LLVM's decoders ignore trailing bytes; so do we.
        let decoded = sps::from_prefix::<S::Args>(args.bytes()).map(|(a, _)| a);
        match decoded {
            Ok(a) => handler(a, SpsReturn::new(ret)),
            Err(_) => ret.send(WrapperFunctionBuffer::out_of_band_error(ARG_DECODE_ERROR)),
        }
    }

    /// [`handle`](Self::handle) for a handler that returns its result.
    pub fn handle_sync(
        args: WrapperFunctionBuffer,
        ret: WrapperReturn,
        handler: impl FnOnce(S::Args) -> S::Ret,
    ) {
        Self::handle(args, ret, |a, r| r.send(handler(a)));
    }

    /// A synchronous handler, ready for [`SessionHandle::register_wrapper`].
    pub fn handler(
        f: impl Fn(S::Args) -> S::Ret + Send + Sync + 'static,
    ) -> impl Fn(WrapperFunctionBuffer, WrapperReturn) + Send + Sync + 'static {
        move |args, ret| Self::handle_sync(args, ret, &f)
    }

    /// An asynchronous handler, ready for [`SessionHandle::register_wrapper`].
    pub fn async_handler(
        f: impl Fn(S::Args, SpsReturn<S::Ret>) + Send + Sync + 'static,
    ) -> impl Fn(WrapperFunctionBuffer, WrapperReturn) + Send + Sync + 'static {
        move |args, ret| Self::handle(args, ret, &f)
    }
}

impl<S> SpsWrapperFunction<S>
where
    S: Signature,
    S::Ret: SpsEncode,
{
    /// [`handle`](Self::handle) with arguments that borrow from the
    /// argument bytes (upstream handlers taking `span<const char>` for an
    /// `SPSString`): `A` is any view of the signature's arguments
    /// ([`SpsAs`]), e.g. `(&str,)` or `(&[u8],)` for `fn(String) -> R`, so
    /// nothing is copied. The handler runs now, while `args` is borrowed; it
    /// may send its result later through the [`SpsReturn`], but the
    /// compiler keeps the borrowed arguments from outliving this call
    /// (upstream's spans dangle if kept).
    ///
    /// ```
    /// use orc_rt::wrapper::{SpsWrapperFunction, WrapperReturn};
    /// type Len = SpsWrapperFunction<fn(String) -> u64>;
    /// let args = Len::encode_borrowed_args(&("hello",)).unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let ret = WrapperReturn::new(move |r| tx.send(r).unwrap());
    /// Len::handle_borrowed(&args, ret, |(s,): (&[u8],), r| r.send(s.len() as u64));
    /// assert_eq!(Len::decode_result(rx.recv().unwrap()).unwrap(), 5);
    /// ```
    pub fn handle_borrowed<'a, A>(
        args: &'a WrapperFunctionBuffer,
        ret: WrapperReturn,
        handler: impl FnOnce(A, SpsReturn<S::Ret>),
    ) where
        A: SpsDecode<'a> + SpsAs<S::Args>,
    {
        if args.is_error() {
            return ret.send(args.clone());
        }
        match sps::from_prefix::<A>(args.bytes()) {
            Ok((a, _trailing)) => handler(a, SpsReturn::new(ret)),
            Err(_) => ret.send(WrapperFunctionBuffer::out_of_band_error(ARG_DECODE_ERROR)),
        }
    }

    /// [`handle_borrowed`](Self::handle_borrowed) for a handler that
    /// returns its result.
    pub fn handle_borrowed_sync<'a, A>(
        args: &'a WrapperFunctionBuffer,
        ret: WrapperReturn,
        handler: impl FnOnce(A) -> S::Ret,
    ) where
        A: SpsDecode<'a> + SpsAs<S::Args>,
    {
        Self::handle_borrowed(args, ret, |a, r| r.send(handler(a)));
    }
}

impl<S> SpsWrapperFunction<S>
where
    S: Signature,
{
    /// Encodes arguments given as any view of the signature's ([`SpsAs`]),
    /// e.g. `(&str,)` for `fn(String) -> R` (upstream `call` with a
    /// `string_view`); an encoding failure is [`CALL_ARGS_ENCODE_ERROR`].
    pub fn encode_borrowed_args<A>(args: &A) -> Result<WrapperFunctionBuffer, Error>
    where
        A: SpsEncode + SpsAs<S::Args>,
    {
        sps::to_buffer(args).map_err(|_| Error::new(ErrorKind::Encode, CALL_ARGS_ENCODE_ERROR))
    }
}

impl<S> SpsWrapperFunction<S>
where
    S: Signature,
    S::Args: SpsEncode,
    S::Ret: for<'de> SpsDecode<'de>,
{
    /// [`call`](Self::call) with arguments given as a view of the
    /// signature's (see [`encode_borrowed_args`](Self::encode_borrowed_args)).
    pub fn call_borrowed<C, A>(
        caller: C,
        args: &A,
        on_result: impl FnOnce(Result<S::Ret, Error>) + Send + 'static,
    ) where
        C: FnOnce(WrapperFunctionBuffer, Box<dyn FnOnce(WrapperFunctionBuffer) + Send>),
        A: SpsEncode + SpsAs<S::Args>,
    {
        match Self::encode_borrowed_args(args) {
            Ok(bytes) => caller(
                bytes,
                Box::new(move |result| on_result(Self::decode_result(result))),
            ),
            Err(e) => on_result(Err(e)),
        }
    }
}

impl<S> SpsWrapperFunction<S>
where
    S: MethodSignature,
    S::Args: for<'de> SpsDecode<'de>,
    S::Ret: SpsEncode,
{
    /// A method wrapper (upstream `handleWithSyncMethod`): the first
    /// argument names the target object, which `resolve` looks up (a table
    /// of live instances, never a cast of an untrusted address); an unknown
    /// address sends the out-of-band error `"no object at <addr>"`.
    pub fn handle_with_sync_method<T>(
        args: WrapperFunctionBuffer,
        ret: WrapperReturn,
        resolve: impl FnOnce(ExecutorAddr) -> Option<T>,
        method: impl FnOnce(T, S::Rest) -> S::Ret,
    ) {
        Self::handle_with_async_method(args, ret, resolve, |obj, rest, r| {
            r.send(method(obj, rest))
        });
    }

    /// A method wrapper whose method returns through its [`SpsReturn`]
    /// (upstream `handleWithAsyncMethod`).
    pub fn handle_with_async_method<T>(
        args: WrapperFunctionBuffer,
        ret: WrapperReturn,
        resolve: impl FnOnce(ExecutorAddr) -> Option<T>,
        method: impl FnOnce(T, S::Rest, SpsReturn<S::Ret>),
    ) {
        Self::handle(args, ret, |a, r| {
            let (addr, rest) = S::split(a);
            match resolve(addr) {
                Some(obj) => method(obj, rest, r),
                None => r.send_error(&Error::new(
                    ErrorKind::NotFound,
                    format!("no object at {addr}"),
                )),
            }
        });
    }
}

impl<S> SpsWrapperFunction<S>
where
    S: Signature,
    S::Args: SpsEncode,
    S::Ret: for<'de> SpsDecode<'de>,
{
    /// Encodes the arguments (an encoding failure is
    /// [`CALL_ARGS_ENCODE_ERROR`]).
    pub fn encode_args(args: &S::Args) -> Result<WrapperFunctionBuffer, Error> {
        sps::to_buffer(args).map_err(|_| Error::new(ErrorKind::Encode, CALL_ARGS_ENCODE_ERROR))
    }

    /// Decodes a result: an out-of-band error becomes `Err` with its message
    /// (kind [`ErrorKind::Detached`] for a disconnection, else
    /// [`ErrorKind::Remote`]); undecodable bytes are [`RESULT_DECODE_ERROR`].
    pub fn decode_result(result: WrapperFunctionBuffer) -> Result<S::Ret, Error> {
        if let Some(err) = oob_to_error(&result) {
            return Err(err);
        }
        sps::from_prefix::<S::Ret>(result.bytes())
            .map(|(r, _)| r)
            .map_err(|_| Error::new(ErrorKind::Decode, RESULT_DECODE_ERROR))
    }

    /// Encodes `args`, calls through `caller` (which sends the bytes and
    /// later hands the result bytes to the continuation it got), and gives
    /// `on_result` the decoded result, exactly once. If the arguments do not
    /// encode, `on_result` gets the error at once and nothing is called.
    pub fn call<C>(
        caller: C,
        args: &S::Args,
        on_result: impl FnOnce(Result<S::Ret, Error>) + Send + 'static,
    ) where
        C: FnOnce(WrapperFunctionBuffer, Box<dyn FnOnce(WrapperFunctionBuffer) + Send>),
    {
        match Self::encode_args(args) {
            Ok(bytes) => caller(
                bytes,
                Box::new(move |result| on_result(Self::decode_result(result))),
            ),
            Err(e) => on_result(Err(e)),
        }
    }

    /// Calls the controller's handler `tag` through `session`.
    pub fn call_controller(
        session: &SessionHandle,
        tag: ExecutorAddr,
        args: &S::Args,
        on_result: impl FnOnce(Result<S::Ret, Error>) + Send + 'static,
    ) {
        Self::call(
            |bytes, k| session.call_controller(tag, bytes, k),
            args,
            on_result,
        );
    }
}

#[cfg(all(test, not(orc_rt_loom)))]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn collect() -> (WrapperReturn, mpsc::Receiver<WrapperFunctionBuffer>) {
        let (tx, rx) = mpsc::channel();
        (WrapperReturn::new(move |b| tx.send(b).unwrap()), rx)
    }

    fn oob(b: &WrapperFunctionBuffer) -> String {
        b.error_message()
            .expect("an out-of-band error")
            .to_str()
            .unwrap()
            .to_owned()
    }

    type Concat = SpsWrapperFunction<fn(String, u32) -> String>;
    type Void = SpsWrapperFunction<fn(u8)>;
    type Expect = SpsWrapperFunction<fn(u64) -> Result<u64, Error>>;

    #[test]
    fn typed_handler_decodes_runs_and_encodes() {
        let (ret, rx) = collect();
        let args = Concat::encode_args(&("ab".to_owned(), 3)).unwrap();
        Concat::handle_sync(args, ret, |(s, n)| s.repeat(n as usize));
        assert_eq!(Concat::decode_result(rx.recv().unwrap()).unwrap(), "ababab");
    }

    #[test]
    fn void_result_is_the_empty_buffer() {
        let (ret, rx) = collect();
        Void::handle_sync(Void::encode_args(&(7,)).unwrap(), ret, |(_,)| ());
        let b = rx.recv().unwrap();
        assert!(b.is_empty());
        Void::decode_result(b).unwrap();
    }

    #[test]
    fn bad_arguments_send_the_exact_upstream_error() {
        let (ret, rx) = collect();
        let mut called = false;
        Concat::handle_sync(WrapperFunctionBuffer::copy_from(&[1, 2]), ret, |_| {
            called = true;
            String::new()
        });
        assert!(!called);
        assert_eq!(oob(&rx.recv().unwrap()), ARG_DECODE_ERROR);
    }

    #[test]
    fn an_error_argument_goes_straight_back() {
        let (ret, rx) = collect();
        Concat::handle_sync(
            WrapperFunctionBuffer::out_of_band_error("upstream failed"),
            ret,
            |_| unreachable!("not called for an error argument"),
        );
        assert_eq!(oob(&rx.recv().unwrap()), "upstream failed");
        let (ret, rx) = collect();
        WrapperFunction::handle(WrapperFunctionBuffer::out_of_band_error("e"), ret, |_| {
            unreachable!("not called for an error argument")
        });
        assert_eq!(oob(&rx.recv().unwrap()), "e");
    }

    #[test]
    fn a_dropped_return_still_answers() {
        let (ret, rx) = collect();
        Concat::handle(
            Concat::encode_args(&("x".into(), 1)).unwrap(),
            ret,
            |_, r| drop(r),
        );
        assert_eq!(oob(&rx.recv().unwrap()), RETURN_DROPPED_ERROR);
    }

    #[test]
    fn asynchronous_return_from_another_thread() {
        let (ret, rx) = collect();
        Concat::handle(
            Concat::encode_args(&("z".into(), 2)).unwrap(),
            ret,
            |(s, n), r| {
                std::thread::spawn(move || r.send(s.repeat(n as usize)));
            },
        );
        assert_eq!(Concat::decode_result(rx.recv().unwrap()).unwrap(), "zz");
    }

    #[test]
    fn caller_side_errors_have_the_upstream_strings_and_nest_remote_errors() {
        // Result does not decode.
        let err = Concat::decode_result(WrapperFunctionBuffer::copy_from(&[9])).unwrap_err();
        assert_eq!(
            (err.kind(), err.message()),
            (ErrorKind::Decode, RESULT_DECODE_ERROR)
        );
        // Out-of-band results keep their message; disconnection is Detached.
        let err =
            Concat::decode_result(WrapperFunctionBuffer::out_of_band_error("boom")).unwrap_err();
        assert_eq!((err.kind(), err.message()), (ErrorKind::Remote, "boom"));
        let err = Concat::decode_result(WrapperFunctionBuffer::from_error(&Error::detached()))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Detached);
        // SPSExpected: outer transport Ok, inner remote error.
        let inner: Result<u64, Error> = Err(Error::msg("remote says no"));
        let nested = Expect::decode_result(sps::to_buffer(&inner).unwrap()).unwrap();
        assert_eq!(nested.unwrap_err().message(), "remote says no");
    }

    #[test]
    fn method_wrappers_resolve_their_target_by_address() {
        type Get = SpsWrapperFunction<fn(ExecutorAddr, u32) -> u64>;
        let objects = [
            (ExecutorAddr::new(0x10), 100u64),
            (ExecutorAddr::new(0x20), 200),
        ];
        let resolve = |a: ExecutorAddr| objects.iter().find(|(k, _)| *k == a).map(|(_, v)| *v);
        let (ret, rx) = collect();
        Get::handle_with_sync_method(
            Get::encode_args(&(ExecutorAddr::new(0x20), 5)).unwrap(),
            ret,
            resolve,
            |base, (n,)| base + u64::from(n),
        );
        assert_eq!(Get::decode_result(rx.recv().unwrap()).unwrap(), 205);
        let (ret, rx) = collect();
        Get::handle_with_sync_method(
            Get::encode_args(&(ExecutorAddr::new(0x30), 5)).unwrap(),
            ret,
            resolve,
            |_, _| unreachable!("no such object"),
        );
        assert_eq!(oob(&rx.recv().unwrap()), "no object at 0x30");
    }

    #[test]
    fn call_runs_the_continuation_exactly_once() {
        let (tx, rx) = mpsc::channel();
        Concat::call(
            |bytes, k| {
                let (ret, brx) = collect();
                Concat::handle_sync(bytes, ret, |(s, _)| s.to_uppercase());
                k(brx.recv().unwrap());
            },
            &("hi".into(), 0),
            move |r| tx.send(r).unwrap(),
        );
        assert_eq!(rx.recv().unwrap().unwrap(), "HI");
        assert!(rx.try_recv().is_err());
    }
}
