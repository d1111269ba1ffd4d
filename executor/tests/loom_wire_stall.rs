//! loom model: a stalled result write on the real wire controller access
//! (issue 14, class 7), over the in-memory transport with a tiny capacity
//! and a real `Session`.
//!
//! The controller (the model's main thread) sends two calls and reads
//! nothing: the first call's result is larger than the transport holds, so
//! its write stalls. Checked in every interleaving: the reader (a second
//! thread, `serve`) still delivers the second call; `detach` returns while
//! the result is stalled; once the controller reads, it gets the stalled
//! result, the second result, the Hangup, and then the end of the stream:
//! nothing follows the Hangup.
//!
//! Bug it catches: a reader that waits for room to write its own results
//! (`--cfg orc_rt_loom_bug="wire_reader_waits_for_writer"`): it stops
//! reading while the controller is not reading, the second call is never
//! delivered, and loom reports the deadlock.
//!
//! Run: `RUSTFLAGS="--cfg orc_rt_loom" LOOM_MAX_PREEMPTIONS=3
//! CARGO_TARGET_DIR=target/loom cargo test -p orc-executor --release
//! --no-default-features --test loom_wire_stall`.
#![cfg(orc_rt_loom)]

use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use orc_rt::sync::model;

use orc_executor::transport::{MemoryTransport, memory_pair};
use orc_executor::wire::{
    FrameReader, Message, Opcode, WireControllerAccess, WireOptions, write_message,
};
use orc_rt::dispatcher::InlineDispatcher;
use orc_rt::session::ProcessInfo;
use orc_rt::{BootstrapInfo, ExecutorAddr, Session, WrapperFunctionBuffer, WrapperReturn};

/// Bytes each direction of the transport holds: the Setup fits (it is
/// written before the controller reads), a large result does not.
const CAPACITY: usize = 80;
/// The large result's payload.
const LARGE: usize = 100;

fn recv(frames: &mut FrameReader<&MemoryTransport>) -> Option<Message> {
    frames.read_message().expect("well-formed frames")
}

#[test]
fn detach_returns_and_the_reader_reads_on_while_a_result_write_stalls() {
    model(|| {
        let session = Session::builder()
            .process_info(ProcessInfo::new("t", 4096))
            .dispatcher(InlineDispatcher)
            .error_reporter(|e| panic!("unexpected error: {e}"))
            .build()
            .unwrap();
        let large = session.register_wrapper(|_: WrapperFunctionBuffer, ret: WrapperReturn| {
            ret.send(WrapperFunctionBuffer::copy_from(&[7u8; LARGE]))
        });
        let delivered = Arc::new((Mutex::new(false), Condvar::new()));
        let d = delivered.clone();
        // Says when it has answered (its result queued behind the stalled
        // one: it runs on the reader, which never waits for room).
        let small =
            session.register_wrapper(move |args: WrapperFunctionBuffer, ret: WrapperReturn| {
                ret.send(args);
                *d.0.lock().unwrap() = true;
                d.1.notify_all();
            });

        let (executor_end, controller) = memory_pair(CAPACITY);
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
        let mut frames = FrameReader::new(&controller);
        assert_eq!(recv(&mut frames).unwrap().opcode, Opcode::Setup);
        let reader = thread::spawn(move || wire.serve());

        // Two calls, nothing read: the first result stalls.
        let mut out = &controller;
        write_message(&mut out, Opcode::CallWrapper, 1, large, &[]).unwrap();
        write_message(&mut out, Opcode::CallWrapper, 2, small, b"s").unwrap();
        // The reader delivers the second call all the same.
        let mut seen = delivered.0.lock().unwrap();
        while !*seen {
            seen = delivered.1.wait(seen).unwrap();
        }
        drop(seen);
        // And detach returns without the controller reading.
        session.detach();

        let m = recv(&mut frames).expect("the stalled result");
        assert_eq!((m.opcode, m.seqno), (Opcode::Result, 1));
        assert_eq!(m.payload.bytes(), &[7u8; LARGE][..]);
        let m = recv(&mut frames).expect("the second result");
        assert_eq!(
            (m.opcode, m.seqno, m.payload.bytes()),
            (Opcode::Result, 2, &b"s"[..])
        );
        let m = recv(&mut frames).expect("the Hangup");
        assert_eq!(
            (m.opcode, m.seqno, m.tag),
            (Opcode::Hangup, 0, ExecutorAddr::NULL)
        );
        assert_eq!(m.payload.bytes(), &[0u8][..]);
        assert!(recv(&mut frames).is_none(), "nothing follows the Hangup");
        reader.join().unwrap();
    });
}
