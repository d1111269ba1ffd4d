//! JIT'd functions with C calling conventions: `async-c` ones are real
//! `orc_rt_WrapperFunction`s registered with `register_async_wrapper` (the
//! session hands them its C `Return`), so scenarios reach the C ABI paths
//! of the session. The entry points are a fixed set of C functions; each
//! finds its run's world through the session reference it is called with.

use std::sync::{Arc, Mutex, Weak};

use orc_rt::session::{orc_rt_SessionRef, orc_rt_WrapperFunction, orc_rt_WrapperFunctionReturn};
use orc_rt::wrapper::orc_rt_WrapperFunctionBuffer;
use orc_rt::{WrapperFunctionBuffer, WrapperReturn};

use super::super::World;

/// The most `async-c` functions a scenario may declare.
pub(crate) const MAX_ASYNC_C: usize = 4;

/// One run's session: its reference (as an integer), its world, and its
/// `async-c` functions (entry point k runs JIT'd function `funcs[k]`).
type RunEntry = (usize, Weak<World>, Vec<usize>);

/// The runs, by session reference.
static WORLDS: Mutex<Vec<RunEntry>> = Mutex::new(Vec::new());

/// Registers `w`'s `async-c` functions; returns their entry points.
pub(crate) fn register(
    w: &Arc<World>,
    s: orc_rt_SessionRef,
    funcs: Vec<usize>,
) -> Vec<orc_rt_WrapperFunction> {
    let mut worlds = WORLDS.lock().unwrap_or_else(|e| e.into_inner());
    worlds.retain(|(_, w, _)| w.strong_count() > 0);
    let n = funcs.len().min(MAX_ASYNC_C);
    worlds.push((s as usize, w.me.clone(), funcs));
    ENTRIES[..n].to_vec()
}

fn entry(
    k: usize,
    s: orc_rt_SessionRef,
    call_id: u64,
    ret: orc_rt_WrapperFunctionReturn,
    args: orc_rt_WrapperFunctionBuffer,
) {
    // SAFETY: the session passes an owned, valid buffer (the wrapper ABI).
    let args = unsafe { WrapperFunctionBuffer::from_raw(args) };
    // SAFETY: `s`, `call_id` and `ret` are this call's, used once below.
    let ret = unsafe { WrapperReturn::from_c(s, call_id, ret) };
    let found = WORLDS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(key, _, _)| *key == s as usize)
        .and_then(|(_, w, funcs)| Some((w.upgrade()?, *funcs.get(k)?)));
    let Some((w, func)) = found else {
        return ret.send(WrapperFunctionBuffer::out_of_band_error(
            "no simulation for this session",
        ));
    };
    // No panic may unwind into C: a panicking body drops `ret`, which
    // answers with an error.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        super::jit::wrapper_entry(&w, func, args.bytes(), ret)
    }));
}

macro_rules! entries {
    ($($k:literal => $name:ident),*) => {
        $(
            /// An `async-c` entry point (see the module docs).
            unsafe extern "C" fn $name(
                s: orc_rt_SessionRef,
                call_id: u64,
                ret: orc_rt_WrapperFunctionReturn,
                args: orc_rt_WrapperFunctionBuffer,
            ) {
                entry($k, s, call_id, ret, args)
            }
        )*
        const ENTRIES: [orc_rt_WrapperFunction; MAX_ASYNC_C] = [$($name),*];
    };
}

entries!(0 => async_c_0, 1 => async_c_1, 2 => async_c_2, 3 => async_c_3);
