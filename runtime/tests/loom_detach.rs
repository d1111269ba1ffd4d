//! loom model (b): detach racing calls in flight, on a real `Session` with
//! the in-process controller access.
//!
//! One thread calls the controller (executor → controller, by tag), one
//! thread is the controller calling an executor wrapper function (by
//! address), and the main thread detaches. Checked in every interleaving:
//! each call gets exactly one result (a value or `"disconnected"` / "no
//! controller attached"); nothing reaches the controller after the session
//! was told it disconnected.
//!
//! Bug it catches: a controller access whose "am I disconnecting?" check in
//! `call_controller` is not serialised with the disconnect drain
//! (`--cfg orc_rt_loom_bug="ca_drain_unserialised"`, spec 7.5). A
//! call slipping in between is never completed: the model's exactly-once
//! assertion fails.
//!
//! Run: `RUSTFLAGS="--cfg orc_rt_loom" LOOM_MAX_PREEMPTIONS=3
//! CARGO_TARGET_DIR=target/loom cargo test -p orc-rt --release
//! --test loom_detach`.
#![cfg(orc_rt_loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;
use orc_rt::sync::model;

use orc_rt::controller_access::{ControllerReply, InProcessControllerAccess};
use orc_rt::dispatcher::InlineDispatcher;
use orc_rt::{BootstrapInfo, ExecutorAddr, Session, WrapperFunctionBuffer, WrapperReturn};

#[test]
fn every_call_in_flight_at_detach_gets_exactly_one_result() {
    model(|| {
        let session = Session::builder()
            .dispatcher(InlineDispatcher)
            .error_reporter(|e| panic!("unexpected error: {e}"))
            .build()
            .unwrap();
        let disconnected = Arc::new(AtomicBool::new(false));
        let d = disconnected.clone();
        session
            .set_on_disconnect(move |r| {
                assert!(r.is_ok());
                d.store(true, Ordering::SeqCst);
            })
            .unwrap();

        // An executor wrapper function: answers at once.
        let addr = session
            .register_wrapper(|args: WrapperFunctionBuffer, ret: WrapperReturn| ret.send(args));

        // The controller: answers the executor's calls at once; must never
        // see one after the session was told it disconnected.
        let d = disconnected.clone();
        let ca = InProcessControllerAccess::attach(
            &session,
            BootstrapInfo::new(),
            move |_: ExecutorAddr, args: WrapperFunctionBuffer, reply: ControllerReply| {
                assert!(
                    !d.load(Ordering::SeqCst),
                    "a call reached the controller after disconnect"
                );
                reply.send(args);
            },
        )
        .unwrap();

        // Executor → controller.
        let to_controller = Arc::new(AtomicUsize::new(0));
        let (h, n) = (session.handle(), to_controller.clone());
        let caller = thread::spawn(move || {
            h.call_controller(
                ExecutorAddr::new(0x10),
                WrapperFunctionBuffer::copy_from(b"q"),
                move |r| {
                    assert!(r.is_error() || r.bytes() == b"q");
                    n.fetch_add(1, Ordering::SeqCst);
                },
            );
        });

        // Controller → executor.
        let to_executor = Arc::new(AtomicUsize::new(0));
        let (c, n, d) = (ca.clone(), to_executor.clone(), disconnected.clone());
        let controller = thread::spawn(move || {
            let d2 = d.clone();
            c.call_executor(addr, WrapperFunctionBuffer::copy_from(b"a"), move |r| {
                if !r.is_error() {
                    assert!(
                        !d2.load(Ordering::SeqCst),
                        "a result reached the controller after disconnect"
                    );
                }
                n.fetch_add(1, Ordering::SeqCst);
            })
            .is_ok()
        });

        session.detach();
        caller.join().unwrap();
        let issued = controller.join().unwrap();
        assert!(disconnected.load(Ordering::SeqCst));
        assert_eq!(
            to_controller.load(Ordering::SeqCst),
            1,
            "executor call: exactly one result"
        );
        assert_eq!(
            to_executor.load(Ordering::SeqCst),
            usize::from(issued),
            "controller call: exactly one result"
        );
        assert_eq!(ca.pending_calls(), 0);
    });
}
