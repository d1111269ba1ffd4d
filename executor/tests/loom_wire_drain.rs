//! loom model: the disconnect drain of the real wire controller access,
//! over the in-memory transport and a real `Session`.
//!
//! A thread calls the controller (executor → controller) while the
//! connection ends, one of three ways: the controller hangs up, closes its
//! end (end of stream), or the session detaches. The reader runs on a
//! thread of its own (`serve`). Checked in every interleaving: the call
//! completes exactly once (with `disconnected`, the controller never
//! answers), and when the session is told, no call is pending any more
//! (spec 7.5: the drain precedes the notification).
//!
//! Bug it catches: a drain that takes the pending calls in one critical
//! section and starts refusing new ones in another
//! (`--cfg orc_rt_loom_bug="wire_drain_skips_pending"`): a call registered
//! in between stays pending, the session is told with it pending, and the
//! assertion in the disconnect handler fails.
//!
//! Run: `RUSTFLAGS="--cfg orc_rt_loom" LOOM_MAX_PREEMPTIONS=3
//! CARGO_TARGET_DIR=target/loom cargo test -p orc-executor --release
//! --no-default-features --test loom_wire_drain`.
#![cfg(orc_rt_loom)]

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;
use orc_rt::sync::model;

use orc_executor::transport::{Transport, memory_pair};
use orc_executor::wire::{FrameReader, Opcode, WireControllerAccess, WireOptions, write_message};
use orc_rt::dispatcher::InlineDispatcher;
use orc_rt::session::ProcessInfo;
use orc_rt::{BootstrapInfo, ExecutorAddr, Session, WrapperFunctionBuffer};

#[derive(Debug, Clone, Copy)]
enum End {
    Hangup,
    EndOfStream,
    Detach,
}

fn every_pending_call_is_failed_once_before_the_session_is_told(end: End) {
    model(move || {
        let session = Session::builder()
            .process_info(ProcessInfo::new("t", 4096))
            .dispatcher(InlineDispatcher)
            .error_reporter(|e| panic!("unexpected error: {e}"))
            .build()
            .unwrap();
        let access: Arc<Mutex<Option<std::sync::Arc<WireControllerAccess>>>> =
            Arc::new(Mutex::new(None));
        let told = Arc::new(AtomicUsize::new(0));
        let (a, t) = (access.clone(), told.clone());
        session
            .set_on_disconnect(move |r| {
                assert!(r.is_ok(), "{r:?}");
                let wire = a.lock().unwrap().clone().expect("attached");
                assert_eq!(
                    wire.pending_calls(),
                    0,
                    "the session was told with a call still pending"
                );
                t.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();

        // Room for the Setup, which is written before the controller reads.
        let (executor_end, controller) = memory_pair(80);
        let options = WireOptions {
            read_on_caller: true,
            ..WireOptions::default()
        };
        let wire = session
            .attach_with(BootstrapInfo::new(), |hooks| {
                Ok(WireControllerAccess::new(
                    hooks,
                    std::sync::Arc::new(executor_end),
                    options,
                ))
            })
            .unwrap();
        *access.lock().unwrap() = Some(wire.clone());
        let mut frames = FrameReader::new(&controller);
        assert_eq!(
            frames.read_message().unwrap().unwrap().opcode,
            Opcode::Setup
        );
        let reader = thread::spawn(move || wire.serve());

        let completed = Arc::new(AtomicUsize::new(0));
        let (h, c) = (session.handle(), completed.clone());
        let caller = thread::spawn(move || {
            h.call_controller(
                ExecutorAddr::new(0x10),
                WrapperFunctionBuffer::copy_from(b"q"),
                move |r| {
                    assert!(r.is_error(), "the controller never answers");
                    c.fetch_add(1, Ordering::SeqCst);
                },
            );
        });

        match end {
            End::Hangup => write_message(
                &mut &controller,
                Opcode::Hangup,
                0,
                ExecutorAddr::NULL,
                &[0],
            )
            .unwrap(),
            End::EndOfStream => controller.close(),
            End::Detach => session.detach(),
        }
        caller.join().unwrap();
        // Whatever the executor sent (its call, a Hangup), then the end.
        while let Some(m) = frames.read_message().unwrap() {
            assert_ne!(m.opcode, Opcode::Result);
        }
        reader.join().unwrap();
        assert_eq!(
            completed.load(Ordering::SeqCst),
            1,
            "the call completes exactly once"
        );
        assert_eq!(told.load(Ordering::SeqCst), 1, "the session is told once");
    });
}

#[test]
fn when_the_controller_hangs_up() {
    every_pending_call_is_failed_once_before_the_session_is_told(End::Hangup);
}

#[test]
fn at_the_end_of_the_stream() {
    every_pending_call_is_failed_once_before_the_session_is_told(End::EndOfStream);
}

#[test]
fn when_the_session_detaches() {
    every_pending_call_is_failed_once_before_the_session_is_told(End::Detach);
}
