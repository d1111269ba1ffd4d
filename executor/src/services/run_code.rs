//! Running JIT'd code on the controller's request: the LLVM 22
//! `__llvm_orc_bootstrap_run_as_*` wrapper functions (protocol 5.5) and
//! LLVM main's `orc_rt_ci_sps_call_*` ones (protocol 5.8). The calls
//! themselves are in [`crate::call`].

use orc_rt::addr::ExecutorAddr;
use orc_rt::wrapper::{WrapperEntry, WrapperFunction, WrapperFunctionBuffer, WrapperTable};

use super::{ci_names, names};
use crate::call;

/// The run-code wrapper functions (each runs JIT'd code: a dispatched task
/// of its own). With `enabled` false they answer with an out-of-band error
/// instead (executors that must not run code: fuzzing).
pub fn wrapper_functions(enabled: bool) -> WrapperTable {
    let mut table = WrapperTable::new();
    let mut add = |name: &str, f: fn(&[u8]) -> WrapperFunctionBuffer| {
        let f = if enabled { f } else { refuse };
        table.add(name, WrapperEntry::from_fn(f));
    };
    // `i64(Addr main, sequence<string> args)`: `main(argc, argv)`.
    add(names::RUN_AS_MAIN, |args| {
        WrapperFunction::handle_sps_oob(args, |(main, argv): (ExecutorAddr, Vec<&[u8]>)| {
            call::run_as_main(main, &argv).map(i64::from)
        })
    });
    // `i32(Addr fn)`: `fn()`.
    add(names::RUN_AS_VOID, |args| {
        WrapperFunction::handle_sps_oob(args, |f: ExecutorAddr| call::run_as_void(f))
    });
    // `i32(Addr fn, i32 arg)`: `fn(arg)`.
    add(names::RUN_AS_INT, |args| {
        WrapperFunction::handle_sps_oob(args, |(f, arg): (ExecutorAddr, i32)| {
            call::run_as_int(f, arg)
        })
    });
    table
}

/// The run-code wrapper functions under LLVM main's names (its
/// `SimpleRemoteEPC` needs `call_main` at Setup; the others are resolved on
/// demand). Same threads and `enabled` rule as [`wrapper_functions`].
pub fn ci_wrapper_functions(enabled: bool) -> WrapperTable {
    let mut table = WrapperTable::new();
    let mut add = |name: &str, f: fn(&[u8]) -> WrapperFunctionBuffer| {
        let f = if enabled { f } else { refuse };
        table.add(name, WrapperEntry::from_fn(f));
    };
    // `i64(Addr main, sequence<string> args)`: `main(argc, argv)`.
    add(ci_names::CALL_MAIN, |args| {
        WrapperFunction::handle_sps_oob(args, |(main, argv): (ExecutorAddr, Vec<&[u8]>)| {
            call::run_as_main(main, &argv).map(i64::from)
        })
    });
    // `void(Addr fn)`: `fn()`.
    add(ci_names::CALL_VOID_VOID, |args| {
        WrapperFunction::handle_sps_oob(args, |f: ExecutorAddr| call::run_void_void(f))
    });
    // `i32(Addr fn)`: `fn()`.
    add(ci_names::CALL_INT32_VOID, |args| {
        WrapperFunction::handle_sps_oob(args, |f: ExecutorAddr| call::run_as_void(f))
    });
    // `i32(Addr fn, i32 arg)`: `fn(arg)`.
    add(ci_names::CALL_INT32_INT32, |args| {
        WrapperFunction::handle_sps_oob(args, |(f, arg): (ExecutorAddr, i32)| {
            call::run_as_int(f, arg)
        })
    });
    table
}

fn refuse(_: &[u8]) -> WrapperFunctionBuffer {
    WrapperFunctionBuffer::out_of_band_error("running code is disabled in this executor")
}
