//! Running JIT'd code on the controller's request (LLVM 22
//! `__llvm_orc_bootstrap_run_as_*` wrappers, protocol §5.5).

use crate::addr::ExecutorAddr;
use crate::call;
use crate::wrapper::WrapperFunctionBuffer;

use super::handle_oob;

/// `i64(Addr main, sequence<string> args)`: `main(argc, argv)`.
pub(crate) fn run_as_main(args: &[u8]) -> WrapperFunctionBuffer {
    handle_oob(args, |(main, argv): (ExecutorAddr, Vec<&[u8]>)| {
        call::run_as_main(main, &argv).map(i64::from)
    })
}

/// `i32(Addr fn)`: `fn()`.
pub(crate) fn run_as_void(args: &[u8]) -> WrapperFunctionBuffer {
    handle_oob(args, |f: ExecutorAddr| call::run_as_void(f))
}

/// `i32(Addr fn, i32 arg)`: `fn(arg)`.
pub(crate) fn run_as_int(args: &[u8]) -> WrapperFunctionBuffer {
    handle_oob(args, |(f, arg): (ExecutorAddr, i32)| {
        call::run_as_int(f, arg)
    })
}
