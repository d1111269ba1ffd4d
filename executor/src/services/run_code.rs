//! Running JIT'd code on the controller's request: the LLVM 22
//! `__llvm_orc_bootstrap_run_as_*` wrapper functions (protocol 5.5) and
//! LLVM main's `orc_rt_ci_sps_call_*` ones (protocol 5.8). The calls
//! themselves are the [`Os`] backend's: [`crate::call`] for
//! [`RealOs`](crate::os::RealOs), registered Rust functions for a
//! [`SimulatedOs`](crate::os::SimulatedOs).

use orc_rt::addr::ExecutorAddr;
use orc_rt::wrapper::{WrapperEntry, WrapperFunction, WrapperFunctionBuffer, WrapperTable};

use super::{ci_names, names};
use crate::os::Os;

/// A run-code handler: decodes its arguments and calls through the backend.
type Handler<O> = fn(&O, &[u8]) -> WrapperFunctionBuffer;

/// Adds `f` under `name`, or the refusal when running code is disabled.
fn add<O: Os>(table: &mut WrapperTable, os: &O, enabled: bool, name: &str, f: Handler<O>) {
    if enabled {
        let os = os.clone();
        table.add(name, WrapperEntry::from_fn(move |args| f(&os, args)));
    } else {
        table.add(name, WrapperEntry::from_fn(refuse));
    }
}

/// `i64(Addr main, sequence<string> args)`: `main(argc, argv)`.
fn main<O: Os>(os: &O, args: &[u8]) -> WrapperFunctionBuffer {
    WrapperFunction::handle_sps_oob(args, |(main, argv): (ExecutorAddr, Vec<&[u8]>)| {
        os.run_main(main, &argv).map(i64::from)
    })
}

/// `i32(Addr fn)`: `fn()`.
fn int_void<O: Os>(os: &O, args: &[u8]) -> WrapperFunctionBuffer {
    WrapperFunction::handle_sps_oob(args, |f: ExecutorAddr| os.run_int_void(f))
}

/// `i32(Addr fn, i32 arg)`: `fn(arg)`.
fn int_int<O: Os>(os: &O, args: &[u8]) -> WrapperFunctionBuffer {
    WrapperFunction::handle_sps_oob(args, |(f, arg): (ExecutorAddr, i32)| os.run_int_int(f, arg))
}

/// `void(Addr fn)`: `fn()`.
fn void_void<O: Os>(os: &O, args: &[u8]) -> WrapperFunctionBuffer {
    WrapperFunction::handle_sps_oob(args, |f: ExecutorAddr| os.run_void_void(f))
}

/// The run-code wrapper functions (each runs JIT'd code: a dispatched task
/// of its own), calling code through `os`. With `enabled` false they answer
/// with an out-of-band error instead (executors that must not run code:
/// fuzzing).
pub fn wrapper_functions<O: Os>(os: &O, enabled: bool) -> WrapperTable {
    let mut table = WrapperTable::new();
    add(&mut table, os, enabled, names::RUN_AS_MAIN, main::<O>);
    add(&mut table, os, enabled, names::RUN_AS_VOID, int_void::<O>);
    add(&mut table, os, enabled, names::RUN_AS_INT, int_int::<O>);
    table
}

/// The run-code wrapper functions under LLVM main's names (its
/// `SimpleRemoteEPC` needs `call_main` at Setup; the others are resolved on
/// demand). Same threads and `enabled` rule as [`wrapper_functions`].
pub fn ci_wrapper_functions<O: Os>(os: &O, enabled: bool) -> WrapperTable {
    let mut table = WrapperTable::new();
    add(&mut table, os, enabled, ci_names::CALL_MAIN, main::<O>);
    add(
        &mut table,
        os,
        enabled,
        ci_names::CALL_VOID_VOID,
        void_void::<O>,
    );
    add(
        &mut table,
        os,
        enabled,
        ci_names::CALL_INT32_VOID,
        int_void::<O>,
    );
    add(
        &mut table,
        os,
        enabled,
        ci_names::CALL_INT32_INT32,
        int_int::<O>,
    );
    table
}

fn refuse(_: &[u8]) -> WrapperFunctionBuffer {
    WrapperFunctionBuffer::out_of_band_error("running code is disabled in this executor")
}
