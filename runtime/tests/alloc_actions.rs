//! Allocation actions run in this process (spec 11.1): real `extern "C"`
//! action functions, called through `AllocAction::call`, the finalize and
//! dealloc sequences, and the SPS action helper and macro. Each test names
//! the upstream orc-rt unit test (`AllocActionTest`, `SPSAllocActionTest`)
//! it ports.
#![allow(unsafe_code, reason = "action functions are extern \"C\"")]

use std::ffi::c_char;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use orc_rt::alloc_action::{
    ARG_DECODE_ERROR, AllocActionFunction, action_result, run_dealloc_actions, run_finalize_actions,
};
use orc_rt::sps::memory::{AllocAction, AllocActionPair};
use orc_rt::wrapper::orc_rt_WrapperFunctionBuffer;
use orc_rt::{Error, ErrorKind, ExecutorAddr, WrapperFunctionBuffer, sps};

orc_rt::sps_alloc_action! {
    /// Adds one to the `AtomicI32` at the address.
    fn increment = |(p,): (ExecutorAddr,)| {
        // SAFETY: the tests pass the address of a live `AtomicI32`.
        unsafe { &*p.to_ptr::<AtomicI32>() }.fetch_add(1, Ordering::SeqCst);
    }
}

orc_rt::sps_alloc_action! {
    /// Subtracts one from the `AtomicI32` at the address.
    fn decrement = |(p,): (ExecutorAddr,)| {
        // SAFETY: the tests pass the address of a live `AtomicI32`.
        unsafe { &*p.to_ptr::<AtomicI32>() }.fetch_sub(1, Ordering::SeqCst);
    }
}

// Upstream `ORC_RT_SPS_ALLOC_ACTION(macro_defined_allocaction, (int32_t,
// int32_t), check_values_equal)`.
orc_rt::sps_alloc_action! {
    fn check_values_equal = |(x, y): (i32, i32)| {
        if x == y { Ok(()) } else { Err(Error::msg("X and Y differ")) }
    }
}

// Arguments may borrow from the action's argument bytes.
orc_rt::sps_alloc_action! {
    fn store_name_len = |(p, name): (ExecutorAddr, &str)| {
        // SAFETY: the tests pass the address of a live `AtomicI32`.
        let val = unsafe { &*p.to_ptr::<AtomicI32>() };
        val.store(name.len() as i32, Ordering::SeqCst);
    }
}

orc_rt::sps_alloc_action! {
    fn panics = |(): ()| -> Result<(), Error> { panic!("action body panicked") }
}

unsafe extern "C" fn noop(_: *const c_char, _: usize) -> orc_rt_WrapperFunctionBuffer {
    WrapperFunctionBuffer::empty().into_raw()
}

unsafe extern "C" fn fail(_: *const c_char, _: usize) -> orc_rt_WrapperFunctionBuffer {
    WrapperFunctionBuffer::out_of_band_error("failed").into_raw()
}

unsafe extern "C" fn fail_2(_: *const c_char, _: usize) -> orc_rt_WrapperFunctionBuffer {
    WrapperFunctionBuffer::out_of_band_error("failed_2").into_raw()
}

/// An LLVM 22 style action: answers with an SPS `Error`.
unsafe extern "C" fn llvm_style_fail(_: *const c_char, _: usize) -> orc_rt_WrapperFunctionBuffer {
    sps::to_buffer(&Err::<(), _>(Error::msg("llvm says no")))
        .unwrap()
        .into_raw()
}

fn on(f: orc_rt::alloc_action::AllocActionFn, val: &AtomicI32) -> AllocAction {
    AllocAction::from_fn(f, sps::to_buffer(&(ExecutorAddr::from_ptr(val),)).unwrap())
}

fn bare(f: orc_rt::alloc_action::AllocActionFn) -> AllocAction {
    AllocAction::from_fn(f, WrapperFunctionBuffer::empty())
}

/// The in-process runner (every function here has the action ABI).
fn run(a: &AllocAction) -> Result<(), Error> {
    // SAFETY: every action in these tests names one of the functions above.
    unsafe { a.run() }
}

fn no_errors(e: Error) {
    panic!("unexpected reported error: {e}");
}

fn collect() -> (Arc<Mutex<Vec<String>>>, impl FnMut(Error)) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    (seen, move |e: Error| s.lock().unwrap().push(e.to_string()))
}

// Upstream `AllocActionTest.DefaultConstruct`, `ConstructWithAction`,
// `RunBasicAction`.
#[test]
fn an_action_calls_its_function_on_its_arguments() {
    assert!(AllocAction::none().is_none());
    // SAFETY: no function: nothing is called.
    assert!(unsafe { AllocAction::none().call() }.is_empty());
    assert!(!bare(noop).is_none());
    let val = AtomicI32::new(0);
    let inc = on(increment, &val);
    // SAFETY: `increment` has the action ABI.
    let result = unsafe { inc.call() };
    assert!(result.is_empty() && !result.is_error());
    assert_eq!(val.load(Ordering::SeqCst), 1);
}

// Upstream `AllocActionTest.RunFinalizationActionsComplete`.
#[test]
fn finalize_then_dealloc_undoes_it() {
    let val = AtomicI32::new(0);
    let pairs = (0..2)
        .map(|_| AllocActionPair {
            finalize: on(increment, &val),
            dealloc: on(decrement, &val),
        })
        .collect();
    let deallocs = run_finalize_actions(pairs, run, no_errors).unwrap();
    assert_eq!(val.load(Ordering::SeqCst), 2);
    run_dealloc_actions(deallocs, run, no_errors);
    assert_eq!(val.load(Ordering::SeqCst), 0);
}

// Upstream `AllocActionTest.RunFinalizeActionsFail`.
#[test]
fn a_failing_finalize_unwinds_only_what_finalized() {
    let (succeeding, failing_dealloc, after) =
        (AtomicI32::new(0), AtomicI32::new(0), AtomicI32::new(0));
    let pairs = vec![
        AllocActionPair {
            finalize: on(increment, &succeeding),
            dealloc: on(increment, &succeeding),
        },
        AllocActionPair {
            finalize: bare(fail),
            dealloc: on(increment, &failing_dealloc),
        },
        AllocActionPair {
            finalize: on(increment, &after),
            dealloc: on(increment, &after),
        },
    ];
    let err = run_finalize_actions(pairs, run, no_errors).unwrap_err();
    assert_eq!((err.kind(), err.message()), (ErrorKind::Service, "failed"));
    assert_eq!(
        succeeding.load(Ordering::SeqCst),
        2,
        "finalized, then deallocated"
    );
    assert_eq!(failing_dealloc.load(Ordering::SeqCst), 0);
    assert_eq!(after.load(Ordering::SeqCst), 0);
}

// Upstream `AllocActionTest.RunFinalizeActionsNullFinalize` and
// `RunFinalizeActionsNullDealloc`.
#[test]
fn null_actions_are_skipped_and_null_deallocs_not_kept() {
    let val = AtomicI32::new(0);
    let pairs = vec![
        AllocActionPair {
            finalize: on(increment, &val),
            dealloc: on(decrement, &val),
        },
        AllocActionPair {
            finalize: AllocAction::none(),
            dealloc: on(decrement, &val),
        },
        AllocActionPair {
            finalize: on(increment, &val),
            dealloc: AllocAction::none(),
        },
    ];
    let deallocs = run_finalize_actions(pairs, run, no_errors).unwrap();
    assert_eq!(deallocs.len(), 2);
    run_dealloc_actions(deallocs, run, no_errors);
    assert_eq!(val.load(Ordering::SeqCst), 0);
}

// Upstream `AllocActionTest.RunDeallocActionsReportsError` and
// `RunDeallocActionsReportsAllErrors`.
#[test]
fn dealloc_runs_everything_newest_first_and_reports_each_failure() {
    let val = AtomicI32::new(0);
    let (seen, report) = collect();
    run_dealloc_actions(
        vec![bare(fail), on(increment, &val), bare(fail_2)],
        run,
        report,
    );
    assert_eq!(*seen.lock().unwrap(), ["failed_2", "failed"]);
    assert_eq!(val.load(Ordering::SeqCst), 1);
}

// Upstream `AllocActionTest.RunFinalizeActionsFailReportsCleanupErrors`.
#[test]
fn cleanup_errors_are_reported_and_the_finalize_error_returned() {
    let val = AtomicI32::new(0);
    let pairs = vec![
        AllocActionPair {
            finalize: on(increment, &val),
            dealloc: on(decrement, &val),
        },
        AllocActionPair {
            finalize: on(increment, &val),
            dealloc: bare(fail),
        },
        AllocActionPair {
            finalize: bare(fail_2),
            dealloc: AllocAction::none(),
        },
    ];
    let (seen, report) = collect();
    let err = run_finalize_actions(pairs, run, report).unwrap_err();
    assert_eq!(err.message(), "failed_2");
    assert_eq!(*seen.lock().unwrap(), ["failed"]);
    assert_eq!(
        val.load(Ordering::SeqCst),
        1,
        "cleanup went on past the failure"
    );
}

// Errors can go to a session's reporter (upstream `ReportErrorsViaSession`
// as the `ReportErrorFn`).
#[test]
fn cleanup_errors_can_go_to_the_session() {
    let (seen, report) = collect();
    let report = Mutex::new(report);
    let s = orc_rt::Session::builder()
        .dispatcher(orc_rt::dispatcher::InlineDispatcher)
        .error_reporter(move |e| (report.lock().unwrap())(e))
        .build()
        .unwrap();
    run_dealloc_actions(vec![bare(fail)], run, s.error_reporter());
    assert_eq!(*seen.lock().unwrap(), ["failed"]);
}

// Upstream `SPSAllocActionTest.RunActionWithErrorSuccessReturn`,
// `RunActionWithErrorFailureReturn`, and the two `RunMacroDefinedAllocAction`
// tests: success is the empty buffer, failure an out-of-band error.
#[test]
fn sps_actions_answer_empty_or_out_of_band() {
    let args = |x: i32, y: i32| sps::to_buffer(&(x, y)).unwrap();
    let ok = AllocAction::from_fn(check_values_equal, args(42, 42));
    // SAFETY: `check_values_equal` has the action ABI.
    let b = unsafe { ok.call() };
    assert!(b.is_empty() && !b.is_error());
    let bad = AllocAction::from_fn(check_values_equal, args(42, 7));
    // SAFETY: as above.
    let b = unsafe { bad.call() };
    assert_eq!(
        b.error_message().unwrap().to_str().unwrap(),
        "X and Y differ"
    );
}

// Upstream `SPSAllocActionTest.RunActionWithUndecodableArgs`.
#[test]
fn undecodable_arguments_give_upstreams_error_without_running() {
    let val = AtomicI32::new(0);
    let short = AllocAction::from_fn(increment, WrapperFunctionBuffer::copy_from(&[1]));
    // SAFETY: `increment` has the action ABI.
    let b = unsafe { short.call() };
    assert_eq!(
        b.error_message().unwrap().to_str().unwrap(),
        ARG_DECODE_ERROR
    );
    assert_eq!(val.load(Ordering::SeqCst), 0);
}

#[test]
fn a_macro_action_can_borrow_its_arguments() {
    let val = AtomicI32::new(0);
    let args = sps::to_buffer(&(ExecutorAddr::from_ptr(&val), "five!")).unwrap();
    run(&AllocAction::from_fn(store_name_len, args)).unwrap();
    assert_eq!(val.load(Ordering::SeqCst), 5);
}

// Ours: a panicking body answers with an error instead of unwinding into C.
#[test]
fn a_panicking_action_body_becomes_an_error() {
    let a = bare(panics);
    let err = run(&a).unwrap_err();
    assert_eq!(err.message(), orc_rt::alloc_action::PANIC_ERROR);
}

// The result rule reads both conventions: upstream orc-rt's (empty /
// out-of-band) and LLVM 22's (an SPS `Error`).
#[test]
fn results_of_both_conventions_are_understood() {
    assert!(action_result(&WrapperFunctionBuffer::empty()).is_ok());
    let ok = sps::to_buffer(&Ok::<(), Error>(())).unwrap();
    assert!(action_result(&ok).is_ok());
    let err = run(&bare(llvm_style_fail)).unwrap_err();
    assert_eq!(
        (err.kind(), err.message()),
        (ErrorKind::Service, "llvm says no")
    );
    let garbage = action_result(&WrapperFunctionBuffer::copy_from(&[7])).unwrap_err();
    assert!(
        garbage.message().contains("could not deserialize"),
        "{garbage}"
    );
    // The handler side, without C: the same body as the macro's.
    let b = AllocActionFunction::handle_sps(&sps::to_vec(&(1i32, 1i32)), |(x, y): (i32, i32)| {
        assert_eq!(x, y);
    });
    assert!(b.is_empty());
}
