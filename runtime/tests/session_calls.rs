//! Calls through a session (spec 7–9): incoming calls by address
//! (Rust handlers, asynchronous C wrappers, LLVM 22 legacy wrappers),
//! executor-to-controller calls by tag, and what happens to calls in flight
//! at detach and shutdown (the table of 8.8), including contract violations
//! of a controller access.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use orc_rt::controller_access::{ControllerReply, InProcessControllerAccess};
use orc_rt::dispatcher::{InlineDispatcher, QueuedAtShutdown, QueueingDispatcher};
use orc_rt::session::{WrapperKind, orc_rt_SessionRef, orc_rt_WrapperFunctionReturn};
use orc_rt::wrapper::{
    RETURN_DROPPED_ERROR, SpsWrapperFunction, WrapperReturn, orc_rt_WrapperFunctionBuffer,
};
use orc_rt::{
    BootstrapInfo, ControllerAccess, ControllerCallReturn, Error, ErrorKind, ExecutorAddr, Session,
    SessionHooks, WrapperFunctionBuffer,
};

const TIMEOUT: Duration = Duration::from_secs(10);

type Errors = Arc<Mutex<Vec<Error>>>;

/// A session; with `fallback`, calls to unregistered addresses return the
/// argument bytes reversed (an executor calls JIT'd code there instead).
fn session_with(errors: &Errors, fallback: bool) -> Session {
    let e = errors.clone();
    let builder = Session::builder()
        .dispatcher(InlineDispatcher)
        .error_reporter(move |err| e.lock().unwrap().push(err));
    let builder = if fallback {
        builder.call_unregistered_with(|_addr, args| {
            let mut v = args.to_vec();
            v.reverse();
            WrapperFunctionBuffer::copy_from(&v)
        })
    } else {
        builder
    };
    builder.build().unwrap()
}

fn echo_controller(_: ExecutorAddr, args: WrapperFunctionBuffer, reply: ControllerReply) {
    reply.send(args);
}

/// Calls `addr` as the controller and waits for the result.
fn call(
    ca: &InProcessControllerAccess,
    addr: ExecutorAddr,
    args: WrapperFunctionBuffer,
) -> WrapperFunctionBuffer {
    let (tx, rx) = mpsc::channel();
    ca.call_executor(addr, args, move |r| tx.send(r).unwrap())
        .unwrap();
    rx.recv_timeout(TIMEOUT).expect("a result")
}

fn oob(b: &WrapperFunctionBuffer) -> String {
    b.error_message()
        .expect("an out-of-band error")
        .to_string_lossy()
        .into_owned()
}

type Add = SpsWrapperFunction<fn(u32, u32) -> u64>;

#[test]
fn a_registered_sps_handler_answers_the_controller() {
    let errors = Errors::default();
    let s = session_with(&errors, false);
    let addr = s.register_wrapper(Add::handler(|(a, b)| u64::from(a) + u64::from(b)));
    assert_eq!(s.wrapper_kind(addr), WrapperKind::Rust);
    let ca = InProcessControllerAccess::attach(&s, BootstrapInfo::new(), echo_controller).unwrap();
    let r = call(&ca, addr, Add::encode_args(&(40, 2)).unwrap());
    assert_eq!(Add::decode_result(r).unwrap(), 42);
    // Garbage arguments: the exact upstream error, handler not called.
    let r = call(&ca, addr, WrapperFunctionBuffer::copy_from(&[1]));
    assert_eq!(oob(&r), "Could not deserialize wrapper function arg data");
    assert!(errors.lock().unwrap().is_empty());
}

#[test]
fn deterministic_addresses_can_be_chosen_once() {
    let errors = Errors::default();
    let s = session_with(&errors, false);
    let at = ExecutorAddr::new(0x1000);
    s.register_wrapper_at(at, Add::handler(|(a, b)| u64::from(a * b)))
        .unwrap();
    let err = s.register_wrapper_at(at, Add::handler(|_| 0)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = s
        .register_wrapper_at(ExecutorAddr::NULL, Add::handler(|_| 0))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let ca = InProcessControllerAccess::attach(&s, BootstrapInfo::new(), echo_controller).unwrap();
    assert_eq!(
        Add::decode_result(call(&ca, at, Add::encode_args(&(6, 7)).unwrap())).unwrap(),
        42
    );
}

#[test]
fn a_call_to_an_address_with_no_handler_fails_cleanly() {
    let errors = Errors::default();
    // No fallback: nothing unregistered is ever called.
    let s = session_with(&errors, false);
    let ca = InProcessControllerAccess::attach(&s, BootstrapInfo::new(), echo_controller).unwrap();
    let addr = ExecutorAddr::new(0xdead_beef);
    assert_eq!(s.wrapper_kind(addr), WrapperKind::Unhandled);
    let r = call(&ca, addr, WrapperFunctionBuffer::empty());
    assert_eq!(oob(&r), "no wrapper function registered at 0xdeadbeef");
    // With a fallback: address 0 is still refused (LLVM's executor crashes).
    let s2 = session_with(&errors, true);
    let ca2 =
        InProcessControllerAccess::attach(&s2, BootstrapInfo::new(), echo_controller).unwrap();
    assert_eq!(s2.wrapper_kind(ExecutorAddr::NULL), WrapperKind::Unhandled);
    let r = call(&ca2, ExecutorAddr::NULL, WrapperFunctionBuffer::empty());
    assert_eq!(oob(&r), "no wrapper function registered at 0x0");
}

#[test]
fn unregistered_addresses_go_to_the_sessions_fallback_when_set() {
    let errors = Errors::default();
    let s = session_with(&errors, true);
    let addr = ExecutorAddr::new(0x1234);
    assert_eq!(s.wrapper_kind(addr), WrapperKind::Unregistered);
    let ca = InProcessControllerAccess::attach(&s, BootstrapInfo::new(), echo_controller).unwrap();
    let r = call(
        &ca,
        addr,
        WrapperFunctionBuffer::copy_from(b"0123456789abc"),
    );
    assert_eq!(r.bytes(), b"cba9876543210");
}

/// The asynchronous C ABI: answers later, from another thread, with the
/// argument bytes doubled.
unsafe extern "C" fn async_double(
    s: orc_rt_SessionRef,
    call_id: u64,
    ret: orc_rt_WrapperFunctionReturn,
    args: orc_rt_WrapperFunctionBuffer,
) {
    // SAFETY: the session hands over an owned, valid buffer.
    let args = unsafe { WrapperFunctionBuffer::from_raw(args) };
    // SAFETY: `s`, `call_id` and `ret` are this call's, used once.
    let ret = unsafe { WrapperReturn::from_c(s, call_id, ret) };
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        let mut v = args.bytes().to_vec();
        v.extend_from_slice(args.bytes());
        ret.send(WrapperFunctionBuffer::copy_from(&v));
    });
}

#[test]
fn registered_async_c_wrappers_use_the_async_abi_and_return_later() {
    let errors = Errors::default();
    let s = session_with(&errors, true);
    let addr = s.register_async_wrapper(async_double);
    assert_eq!(addr, ExecutorAddr::from_ptr(async_double as *const ()));
    assert_eq!(s.wrapper_kind(addr), WrapperKind::AsyncC);
    let ca = InProcessControllerAccess::attach(&s, BootstrapInfo::new(), echo_controller).unwrap();
    let r = call(&ca, addr, WrapperFunctionBuffer::copy_from(b"ab"));
    assert_eq!(r.bytes(), b"abab");
    // The session reference stays valid however late the Return comes, even
    // if the owner is dropped meanwhile.
    let (tx, rx) = mpsc::channel();
    ca.call_executor(addr, WrapperFunctionBuffer::copy_from(b"x"), move |r| {
        tx.send(r).unwrap()
    })
    .unwrap();
    drop(s);
    // Detached before the result came: it was dropped, and the controller's
    // own call was failed by the disconnect drain.
    assert_eq!(oob(&rx.recv_timeout(TIMEOUT).unwrap()), "disconnected");
    std::thread::sleep(Duration::from_millis(50));
    assert!(errors.lock().unwrap().is_empty(), "{errors:?}");
}

#[test]
fn a_panicking_handler_is_reported_and_the_controller_still_gets_an_answer() {
    let errors = Errors::default();
    let s = session_with(&errors, false);
    let addr = s.register_wrapper(|_, _| panic!("handler bug"));
    let ca = InProcessControllerAccess::attach(&s, BootstrapInfo::new(), echo_controller).unwrap();
    let r = call(&ca, addr, WrapperFunctionBuffer::empty());
    assert_eq!(oob(&r), RETURN_DROPPED_ERROR);
    let errors = errors.lock().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].kind(), ErrorKind::Panic);
    assert!(
        errors[0].message().ends_with("panicked: handler bug"),
        "{}",
        errors[0]
    );
}

#[test]
fn calls_to_the_controller_by_tag_typed_and_untyped() {
    let errors = Errors::default();
    let s = session_with(&errors, false);
    let tag = ExecutorAddr::new(0x7a9);
    let seen_tag = Arc::new(Mutex::new(None));
    let st = seen_tag.clone();
    InProcessControllerAccess::attach(
        &s,
        BootstrapInfo::new(),
        move |tag: ExecutorAddr, args: WrapperFunctionBuffer, reply: ControllerReply| {
            *st.lock().unwrap() = Some(tag);
            // The controller's handler: add.
            Add::handle_sync(
                args,
                WrapperReturn::new(move |r| reply.send(r)),
                |(a, b)| u64::from(a) + u64::from(b),
            );
        },
    )
    .unwrap();
    let (tx, rx) = mpsc::channel();
    Add::call_controller(&s, tag, &(1, 2), move |r| tx.send(r).unwrap());
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap().unwrap(), 3);
    assert_eq!(*seen_tag.lock().unwrap(), Some(tag));
}

#[test]
fn a_continuation_completes_even_when_the_dispatcher_drops_its_task() {
    // The controller answers at once; the continuation is queued; shutdown
    // drops what is queued. The caller still hears back, exactly once.
    let errors = Errors::default();
    let queue = QueueingDispatcher::with_policy(QueuedAtShutdown::Drop);
    let s = Session::builder()
        .shared_dispatcher(Arc::new(queue.clone()))
        .error_reporter({
            let e = errors.clone();
            move |err| e.lock().unwrap().push(err)
        })
        .build()
        .unwrap();
    InProcessControllerAccess::attach(&s, BootstrapInfo::new(), echo_controller).unwrap();
    let answers = Arc::new(AtomicUsize::new(0));
    let a = answers.clone();
    s.call_controller(
        ExecutorAddr::new(0x7a9),
        WrapperFunctionBuffer::copy_from(b"x"),
        move |r| {
            assert_eq!(r.bytes(), b"x");
            a.fetch_add(1, Ordering::SeqCst);
        },
    );
    assert_eq!(queue.len(), 1, "the continuation waits in the queue");
    assert_eq!(answers.load(Ordering::SeqCst), 0);
    s.wait_for_shutdown().unwrap();
    assert_eq!(answers.load(Ordering::SeqCst), 1);
    assert!(errors.lock().unwrap().is_empty());
}

#[test]
fn without_a_controller_calls_fail_inline_with_a_detached_error() {
    let errors = Errors::default();
    let s = session_with(&errors, false);
    let (tx, rx) = mpsc::channel();
    Add::call_controller(&s, ExecutorAddr::new(1), &(1, 2), move |r| {
        tx.send(r).unwrap()
    });
    let err = rx.try_recv().expect("completed inline").unwrap_err();
    assert_eq!(
        (err.kind(), err.message()),
        (ErrorKind::Detached, "no controller attached")
    );
}

#[test]
fn pending_calls_fail_with_disconnected_exactly_once_at_detach() {
    let errors = Errors::default();
    let s = session_with(&errors, false);
    // The controller never answers by itself: it keeps the replies.
    let held: Arc<Mutex<Vec<ControllerReply>>> = Arc::default();
    let h = held.clone();
    let ca = InProcessControllerAccess::attach(
        &s,
        BootstrapInfo::new(),
        move |_: ExecutorAddr, _: WrapperFunctionBuffer, reply: ControllerReply| {
            h.lock().unwrap().push(reply)
        },
    )
    .unwrap();
    let results = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..3 {
        let r = results.clone();
        s.call_controller(
            ExecutorAddr::new(5),
            WrapperFunctionBuffer::empty(),
            move |b| r.lock().unwrap().push(oob(&b)),
        );
    }
    assert_eq!(ca.pending_calls(), 3);
    s.detach();
    assert_eq!(*results.lock().unwrap(), ["disconnected"; 3]);
    // Late answers from the controller are dropped, not delivered twice.
    for reply in held.lock().unwrap().drain(..) {
        reply.send(WrapperFunctionBuffer::copy_from(b"late"));
    }
    assert_eq!(results.lock().unwrap().len(), 3);
    // New calls after detach: no controller attached, inline.
    let r = results.clone();
    s.call_controller(
        ExecutorAddr::new(5),
        WrapperFunctionBuffer::empty(),
        move |b| r.lock().unwrap().push(oob(&b)),
    );
    assert_eq!(results.lock().unwrap()[3], "no controller attached");
    assert!(errors.lock().unwrap().is_empty(), "{errors:?}");
}

#[test]
fn a_call_after_detach_is_refused_and_a_deferred_return_is_dropped() {
    let errors = Errors::default();
    let s = session_with(&errors, false);
    let stash: Arc<Mutex<Option<WrapperReturn>>> = Arc::default();
    let st = stash.clone();
    let addr = s.register_wrapper(move |_, ret| *st.lock().unwrap() = Some(ret));
    let ca = InProcessControllerAccess::attach(&s, BootstrapInfo::new(), echo_controller).unwrap();
    let got = Arc::new(AtomicUsize::new(0));
    let g = got.clone();
    ca.call_executor(addr, WrapperFunctionBuffer::empty(), move |b| {
        assert_eq!(oob(&b), "disconnected");
        g.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    // The wrapper returned without answering; its Return does not delay
    // shutdown.
    let report = s.wait_for_shutdown().unwrap();
    assert!(report.is_ok());
    assert_eq!(
        got.load(Ordering::SeqCst),
        1,
        "the controller saw its call fail once"
    );
    // The controller cannot call any more.
    let err = ca
        .call_executor(addr, WrapperFunctionBuffer::empty(), |_| {})
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Detached);
    // The late result has nowhere to go: dropped quietly.
    stash
        .lock()
        .unwrap()
        .take()
        .unwrap()
        .send(WrapperFunctionBuffer::copy_from(b"late"));
    assert_eq!(got.load(Ordering::SeqCst), 1);
    assert!(errors.lock().unwrap().is_empty(), "{errors:?}");
}

#[test]
fn incoming_calls_are_dropped_once_shutdown_began() {
    let errors = Errors::default();
    let s = session_with(&errors, false);
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let addr = s.register_wrapper(move |_, ret| {
        r.fetch_add(1, Ordering::SeqCst);
        ret.send(WrapperFunctionBuffer::empty());
    });
    let guard = s.try_enter_scope().unwrap();
    s.shutdown(); // the scope is now closed; `guard` keeps it from draining
    assert!(!s.is_shut_down());
    s.hooks()
        .handle_wrapper_call(addr, WrapperFunctionBuffer::empty(), 0);
    assert_eq!(ran.load(Ordering::SeqCst), 0, "no handler ran");
    drop(guard);
    assert!(s.is_shut_down());
}

/// A controller access that breaks its contract on request.
struct Rogue {
    hooks: SessionHooks,
    pending: Mutex<Vec<ControllerCallReturn>>,
}

impl ControllerAccess for Rogue {
    fn connect(&self, _: BootstrapInfo) {}
    fn disconnect(&self) {
        // Bug: notifies without draining the pending calls first.
        self.hooks.notify_disconnected(Ok(()));
    }
    fn call_controller(
        &self,
        _: ExecutorAddr,
        _: WrapperFunctionBuffer,
        ret: ControllerCallReturn,
    ) {
        self.pending.lock().unwrap().push(ret);
    }
    fn send_wrapper_result(&self, _: u64, _: WrapperFunctionBuffer) {}
}

#[test]
fn contract_violations_of_a_controller_access_are_reported_not_fatal() {
    let errors = Errors::default();
    let s = session_with(&errors, false);
    let rogue = s
        .attach_with(BootstrapInfo::new(), |hooks| {
            Ok(Arc::new(Rogue {
                hooks,
                pending: Mutex::new(Vec::new()),
            }))
        })
        .unwrap();
    let results = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..2 {
        let r = results.clone();
        s.call_controller(
            ExecutorAddr::new(1),
            WrapperFunctionBuffer::empty(),
            move |b| r.lock().unwrap().push(oob(&b)),
        );
    }
    // A continuation dropped while the session is alive: completed with an
    // error and reported.
    drop(rogue.pending.lock().unwrap().pop());
    assert_eq!(
        *results.lock().unwrap(),
        ["controller call dropped without a result"]
    );
    // Shut down with the other still pending (the rogue did not drain it).
    let guard = s.try_enter_scope().unwrap();
    s.shutdown();
    // A result after the scope closed: reported, continuation not run.
    let ret = rogue.pending.lock().unwrap().pop().unwrap();
    rogue
        .hooks
        .complete_call(ret, WrapperFunctionBuffer::empty());
    assert_eq!(results.lock().unwrap().len(), 1);
    drop(guard);
    assert!(s.is_shut_down());
    // A second notify_disconnected is reported too.
    rogue.hooks.notify_disconnected(Ok(()));
    let kinds: Vec<ErrorKind> = errors.lock().unwrap().iter().map(Error::kind).collect();
    assert_eq!(kinds, [ErrorKind::InvalidArgument; 3], "{errors:?}");
}

#[test]
fn unknown_result_ids_are_reported() {
    let errors = Errors::default();
    let s = session_with(&errors, false);
    let ca = InProcessControllerAccess::attach(&s, BootstrapInfo::new(), echo_controller).unwrap();
    ca.send_wrapper_result(99, WrapperFunctionBuffer::empty());
    let errors = errors.lock().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].kind(), errors[0].message()),
        (ErrorKind::Protocol, "Invalid call id 99")
    );
}

#[test]
fn many_calls_racing_detach_each_get_exactly_one_result() {
    for _ in 0..20 {
        let errors = Errors::default();
        let s = Session::builder()
            .thread_pool_size(2)
            .error_reporter({
                let e = errors.clone();
                move |err| e.lock().unwrap().push(err)
            })
            .build()
            .unwrap();
        let addr = s.register_wrapper(Add::handler(|(a, b)| u64::from(a + b)));
        let ca =
            InProcessControllerAccess::attach(&s, BootstrapInfo::new(), echo_controller).unwrap();
        let results = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..2)
            .map(|_| {
                let (ca, s, results) = (ca.clone(), s.handle(), results.clone());
                std::thread::spawn(move || {
                    let mut issued = 0;
                    for i in 0..50 {
                        let r = results.clone();
                        if ca
                            .call_executor(addr, Add::encode_args(&(i, 1)).unwrap(), move |_| {
                                r.fetch_add(1, Ordering::SeqCst);
                            })
                            .is_ok()
                        {
                            issued += 1;
                        }
                        let r = results.clone();
                        s.call_controller(
                            ExecutorAddr::new(9),
                            WrapperFunctionBuffer::empty(),
                            move |_| {
                                r.fetch_add(1, Ordering::SeqCst);
                            },
                        );
                        issued += 1;
                    }
                    issued
                })
            })
            .collect();
        std::thread::sleep(Duration::from_micros(200));
        s.detach();
        let issued: usize = callers.into_iter().map(|t| t.join().unwrap()).sum();
        s.wait_for_shutdown().unwrap();
        assert_eq!(results.load(Ordering::SeqCst), issued);
        assert!(errors.lock().unwrap().is_empty(), "{errors:?}");
    }
}
