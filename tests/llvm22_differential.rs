//! The same hand-made frames to LLVM 22's `llvm-jitlink-executor` and to
//! `orc-executor` (issue 16): for the requests where LLVM 22's executor is
//! the reference, both must give the same answers, byte for byte (after
//! the addresses each chose).
//!
//! - `reserve` of 0 bytes (lli asks for one at shutdown) succeeds with
//!   address 0, and releasing address 0 succeeds once;
//! - the shared-memory mapper's deinitialize of a key that names no
//!   initialized allocation succeeds silently (LLVM's memory manager sends
//!   one after a failed link, `clang-repl --use-shared-memory`).
//!
//! Needs LLVM 22's executor; skips without it unless `ORC_RT_REQUIRE_LLVM=1`.

mod executor_support;

use executor_support::{Executor, args, assert_exit, executor_binary, own_profile};
use orc_executor::services::names;
use orc_rt::sps;
use orc_rt::{Error, ExecutorAddr};

/// Starts both executors on `filedescs=0,1`: LLVM's, then ours.
fn both() -> Option<[Executor; 2]> {
    let bin = executor_support::llvm_bin()?;
    Some([
        Executor::start_with(&bin.join("llvm-jitlink-executor"), &[]),
        Executor::start_with(&executor_binary(own_profile()), &[]),
    ])
}

/// Calls `name` with `(instance, rest)`; the Result's payload.
fn call<T: sps::SpsEncode>(
    ex: &mut Executor,
    seqno: u64,
    instance: &str,
    name: &str,
    rest: T,
) -> Vec<u8> {
    let a = args(&(ex.symbol(instance), rest));
    ex.call(seqno, ex.symbol(name), &a)
}

#[test]
fn an_empty_reservation_is_address_0_in_both() {
    let Some(executors) = both() else {
        return;
    };
    let mut answers = Vec::new();
    for mut ex in executors {
        let (i, r) = (
            names::MEMORY_MANAGER_INSTANCE,
            names::MEMORY_MANAGER_RELEASE,
        );
        let reserved = call(&mut ex, 1, i, names::MEMORY_MANAGER_RESERVE, 0u64);
        let released = call(&mut ex, 2, i, r, vec![ExecutorAddr::NULL]);
        let again = call(&mut ex, 3, i, r, vec![ExecutorAddr::NULL]);
        let (status, stderr) = ex.finish();
        assert_exit(status, 0, &stderr);
        answers.push((reserved, released, again));
    }
    assert_eq!(answers[0], answers[1], "LLVM's answers, then ours");
    let (reserved, released, again) = &answers[1];
    assert_eq!(
        sps::from_bytes::<Result<ExecutorAddr, Error>>(reserved)
            .unwrap()
            .unwrap(),
        ExecutorAddr::NULL
    );
    assert!(
        sps::from_bytes::<Result<(), Error>>(released)
            .unwrap()
            .is_ok()
    );
    assert_eq!(
        sps::from_bytes::<Result<(), Error>>(again)
            .unwrap()
            .unwrap_err()
            .message(),
        "In release, 0x0 is not part of any reserved address range"
    );
}

#[test]
fn shared_memory_deinitialize_of_an_unknown_key_succeeds_in_both() {
    let Some(executors) = both() else {
        return;
    };
    let mut answers = Vec::new();
    for mut ex in executors {
        let i = names::SHARED_MEMORY_INSTANCE;
        let d = names::SHARED_MEMORY_DEINITIALIZE;
        let never = call(&mut ex, 1, i, d, vec![ExecutorAddr::new(0x1000)]);
        let none = call(&mut ex, 2, i, d, Vec::<ExecutorAddr>::new());
        let (status, stderr) = ex.finish();
        assert_exit(status, 0, &stderr);
        answers.push((never, none));
    }
    assert_eq!(answers[0], answers[1], "LLVM's answers, then ours");
    assert!(
        sps::from_bytes::<Result<(), Error>>(&answers[1].0)
            .unwrap()
            .is_ok()
    );
}
