//! The wire controller access against a hand-driven controller over a
//! Unix socket pair, with a real session.

use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::Duration;

use super::*;
use crate::call::entry_points::{DISPATCH_SHUT_DOWN, call_dispatch_fn};
use crate::services::names;
use crate::transport::FdTransport;
use crate::wire::write_message;
use crate::wire::{FrameReader, SetupInfo};
use orc_rt::dispatcher::{ThreadPerTaskDispatcher, ThreadSpawner};
use orc_rt::session::{ProcessInfo, Session};
use orc_rt::wrapper::WrapperEntry;
use std::io::Write;

const T: Duration = Duration::from_secs(10);

struct Controller {
    frames: FrameReader<UnixStream>,
    out: UnixStream,
    setup: SetupInfo,
}

impl Controller {
    fn recv(&mut self) -> Message {
        self.frames.read_message().unwrap().expect("a message")
    }
    fn send(&mut self, op: Opcode, seq: u64, tag: ExecutorAddr, payload: &[u8]) {
        write_message(&mut self.out, op, seq, tag, payload).unwrap();
    }
    fn sym(&self, name: &str) -> ExecutorAddr {
        self.setup.bootstrap_symbols[name]
    }
}

/// A session with one echo wrapper, attached over a socket pair; returns
/// the session, our controller end, and the channel that gets the
/// disconnect result.
fn connect() -> (Session, Controller, mpsc::Receiver<Result<(), Error>>) {
    connect_counting_writes(false, Arc::default())
}

/// A wrapper `connect_with` publishes: its bootstrap name and address.
type Published = (&'static str, ExecutorAddr);

/// Counts the writes the access makes.
struct Counting<T>(T, Arc<std::sync::atomic::AtomicUsize>);

impl<T: Transport> Transport for Counting<T> {
    fn read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
    fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.0.try_write(buf)
    }
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> std::io::Result<usize> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.0.try_write_vectored(bufs)
    }
    fn wait_writable(&self) -> std::io::Result<()> {
        self.0.wait_writable()
    }
    fn wait(&self, output_pending: bool) -> std::io::Result<crate::transport::Readiness> {
        self.0.wait(output_pending)
    }
    fn wake(&self) {
        self.0.wake()
    }
    fn close(&self) {
        self.0.close()
    }
    fn read_fd(&self) -> Option<std::os::fd::RawFd> {
        self.0.read_fd()
    }
}

/// As `connect`, counting the access's writes in `writes`; with
/// `inline_echo`, echo calls run on the reader thread.
fn connect_counting_writes(
    inline_echo: bool,
    writes: Arc<std::sync::atomic::AtomicUsize>,
) -> (Session, Controller, mpsc::Receiver<Result<(), Error>>) {
    connect_with(
        |session| {
            let echo = WrapperEntry::new(|args, ret| ret.send(args));
            let echo = session.register(if inline_echo { echo.inline() } else { echo });
            vec![("echo", echo)]
        },
        writes,
    )
}

/// A session with the wrappers `register` adds, attached over a socket
/// pair, the access's writes counted in `writes`.
fn connect_with(
    register: impl FnOnce(&Session) -> Vec<Published>,
    writes: Arc<std::sync::atomic::AtomicUsize>,
) -> (Session, Controller, mpsc::Receiver<Result<(), Error>>) {
    let session = Session::builder()
        .process_info(ProcessInfo::new("x86_64-test-linux", 4096))
        .dispatcher(ThreadPerTaskDispatcher::new(
            ThreadSpawner::default().stack_size(256 * 1024),
        ))
        .build()
        .unwrap();
    let published = register(&session);
    let mut bootstrap = BootstrapInfo::new();
    bootstrap
        .symbols
        .add_unique(published.iter().copied())
        .unwrap();
    crate::publish_jit_dispatch(&session, &mut bootstrap).unwrap();
    bootstrap.values.insert("key".into(), "value".into());
    let (tx, rx) = mpsc::channel();
    session
        .set_on_disconnect(move |r| {
            let _ = tx.send(r);
        })
        .unwrap();
    let (ours, theirs) = UnixStream::pair().unwrap();
    let transport = FdTransport::from_unix_stream(theirs, Duration::ZERO).unwrap();
    let transport: Arc<dyn Transport> = Arc::new(Counting(transport, writes));
    session
        .attach_with(bootstrap, |hooks| {
            Ok(WireControllerAccess::new(
                hooks,
                transport,
                WireOptions::default(),
            ))
        })
        .unwrap();
    let out = ours.try_clone().unwrap();
    let mut c = Controller {
        frames: FrameReader::new(ours),
        out,
        setup: SetupInfo::default(),
    };
    let setup = c.recv();
    assert_eq!(
        (setup.opcode, setup.seqno, setup.tag),
        (Opcode::Setup, 0, ExecutorAddr::NULL)
    );
    c.setup = SetupInfo::from_bytes(setup.payload.bytes()).unwrap();
    (session, c, rx)
}

#[test]
fn setup_carries_the_process_info_bootstrap_and_dispatch_symbols() {
    let (session, c, rx) = connect();
    assert_eq!(c.setup.target_triple, "x86_64-test-linux");
    assert_eq!(c.setup.page_size, 4096);
    assert_eq!(c.setup.bootstrap_map["key"], b"value");
    for name in ["echo", names::DISPATCH_CTX, names::DISPATCH_FN] {
        assert!(!c.sym(name).is_null(), "{name}");
    }
    c.out.shutdown(std::net::Shutdown::Both).unwrap();
    assert!(
        rx.recv_timeout(T).unwrap().is_ok(),
        "end of stream is orderly"
    );
    drop(session);
}

#[test]
fn calls_are_answered_with_their_seqno_in_any_order() {
    let (_session, mut c, _rx) = connect();
    let echo = c.sym("echo");
    for seq in [5u64, 3, 5] {
        c.send(
            Opcode::CallWrapper,
            seq,
            echo,
            format!("hi {seq}").as_bytes(),
        );
    }
    let mut got: Vec<(u64, Vec<u8>)> = (0..3)
        .map(|_| {
            let m = c.recv();
            assert_eq!((m.opcode, m.tag), (Opcode::Result, ExecutorAddr::NULL));
            (m.seqno, m.payload.bytes().to_vec())
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (3, b"hi 3".to_vec()),
            (5, b"hi 5".to_vec()),
            (5, b"hi 5".to_vec())
        ]
    );
}

#[test]
fn results_of_calls_read_together_are_written_together_in_order() {
    let writes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (_session, mut c, _rx) = connect_counting_writes(true, writes.clone());
    let echo = c.sym("echo");
    let after_setup = writes.load(std::sync::atomic::Ordering::Relaxed);
    // 50 calls in one write: the reader gets them in one or a few reads.
    let mut batch = Vec::new();
    for seq in 1..=50u64 {
        write_message(
            &mut batch,
            Opcode::CallWrapper,
            seq,
            echo,
            &seq.to_le_bytes(),
        )
        .unwrap();
    }
    c.out.write_all(&batch).unwrap();
    for seq in 1..=50u64 {
        let m = c.recv();
        assert_eq!(
            (m.opcode, m.seqno, m.payload.bytes()),
            (Opcode::Result, seq, &seq.to_le_bytes()[..])
        );
    }
    let result_writes = writes.load(std::sync::atomic::Ordering::Relaxed) - after_setup;
    assert!(result_writes <= 5, "{result_writes} writes for 50 results");
    // A lone call is answered at once: nothing stays corked.
    c.send(Opcode::CallWrapper, 51, echo, b"alone");
    assert_eq!(c.recv().payload.bytes(), b"alone");
}

#[test]
fn an_inline_call_ending_the_connection_does_not_wait_for_a_call_thread_that_waits_for_it() {
    // A deadlock the fuzzer found: an inline call's result cannot be sent
    // (the controller stopped reading), so the reader ends the connection
    // inside the delivery; a dispatched call whose result failed just
    // before waits in `end` for the lock the delivery holds, and the reader
    // used to tell the session right there, whose detach (a shutdown was
    // requested meanwhile) joins that call's thread.
    let release = Arc::new(std::sync::Barrier::new(2));
    let (shutdown_tx, shutdown_rx) = mpsc::channel();
    let (session, mut c, rx) = connect_with(
        |session| {
            let r = release.clone();
            let slow = session.register_wrapper(move |args, ret| {
                r.wait();
                ret.send(args)
            });
            let r = release.clone();
            let gate = session.register(
                WrapperEntry::new(move |args, ret| {
                    // On the reader thread, inside the delivery: let `slow`
                    // finish and fail to send, have a shutdown requested,
                    // then answer (and fail).
                    r.wait();
                    let _ = shutdown_tx.send(());
                    std::thread::sleep(Duration::from_millis(200));
                    ret.send(args)
                })
                .inline(),
            );
            vec![("slow", slow), ("gate", gate)]
        },
        Arc::default(),
    );
    let (slow, gate) = (c.sym("slow"), c.sym("gate"));
    // From now on every write of the executor fails (EPIPE).
    c.out.shutdown(std::net::Shutdown::Read).unwrap();
    c.send(Opcode::CallWrapper, 1, slow, b"slow");
    c.send(Opcode::CallWrapper, 2, gate, b"gate");
    shutdown_rx.recv_timeout(T).unwrap();
    // The request blocks until the delivery is over: on another thread
    // (left behind if the deadlock comes back, so the test fails, not hangs).
    let session = Arc::new(session);
    let requester = session.clone();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(requester.wait_for_shutdown());
    });
    let ended = rx.recv_timeout(T).expect("the session is told");
    assert!(
        ended.is_ok(),
        "the controller going away is orderly: {ended:?}"
    );
    let report = done_rx
        .recv_timeout(T)
        .expect("the shutdown completes (no deadlock)")
        .unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
}

#[test]
fn jit_dispatch_blocks_until_the_controller_answers() {
    let (_session, mut c, _rx) = connect();
    let (f, ctx) = (c.sym(names::DISPATCH_FN), c.sym(names::DISPATCH_CTX));
    let tag = ExecutorAddr::new(0x7a90);
    let caller = std::thread::spawn(move || call_dispatch_fn(f, ctx, tag, b"question"));
    let m = c.recv();
    assert_eq!((m.opcode, m.seqno, m.tag), (Opcode::CallWrapper, 1, tag));
    assert_eq!(m.payload.bytes(), b"question");
    c.send(Opcode::Result, 1, ExecutorAddr::NULL, b"a longer answer");
    assert_eq!(caller.join().unwrap().bytes(), b"a longer answer");
    // The next call gets the next seqno.
    let caller = std::thread::spawn(move || call_dispatch_fn(f, ctx, tag, b""));
    assert_eq!(c.recv().seqno, 2);
    c.send(Opcode::Result, 2, ExecutorAddr::NULL, b"");
    assert!(caller.join().unwrap().is_empty());
}

#[test]
fn a_pending_jit_dispatch_fails_when_the_controller_goes_and_later_ones_are_refused() {
    let (session, mut c, rx) = connect();
    let (f, ctx) = (c.sym(names::DISPATCH_FN), c.sym(names::DISPATCH_CTX));
    let caller = std::thread::spawn(move || call_dispatch_fn(f, ctx, ExecutorAddr::new(1), b"q"));
    assert_eq!(c.recv().opcode, Opcode::CallWrapper);
    c.out.shutdown(std::net::Shutdown::Both).unwrap();
    let r = caller.join().unwrap();
    assert_eq!(r.error_message().unwrap().to_str().unwrap(), "disconnected");
    assert!(rx.recv_timeout(T).unwrap().is_ok());
    let late = call_dispatch_fn(f, ctx, ExecutorAddr::new(1), b"q");
    assert_eq!(
        late.error_message().unwrap().to_str().unwrap(),
        DISPATCH_SHUT_DOWN
    );
    drop(session);
}

#[test]
fn a_result_for_no_pending_call_ends_the_session_with_a_protocol_error() {
    let (_session, mut c, rx) = connect();
    c.send(Opcode::Result, 77, ExecutorAddr::NULL, &[]);
    let err = rx.recv_timeout(T).unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert_eq!(err.message(), "No call for sequence number 77");
    // And the executor closed its side.
    assert!(c.frames.read_message().unwrap().is_none());
}

#[test]
fn the_session_ending_sends_hangup_and_closes() {
    let (session, mut c, rx) = connect();
    session.shutdown();
    let m = c.recv();
    assert_eq!(
        (m.opcode, m.seqno, m.payload.bytes()),
        (Opcode::Hangup, 0, &[0u8][..])
    );
    assert!(c.frames.read_message().unwrap().is_none());
    assert!(rx.recv_timeout(T).unwrap().is_ok());
}

#[test]
fn results_of_calls_in_flight_are_sent_after_the_controller_stops_writing() {
    let (session, mut c, rx) = connect();
    let gate = std::sync::Arc::new(std::sync::Barrier::new(2));
    let g = gate.clone();
    let slow = session.register_wrapper(move |args, ret| {
        g.wait();
        ret.send(args)
    });
    c.send(Opcode::CallWrapper, 9, slow, b"late");
    c.out.shutdown(std::net::Shutdown::Write).unwrap();
    // The session is not told before the call is done.
    assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
    gate.wait();
    let m = c.recv();
    assert_eq!((m.seqno, m.payload.bytes()), (9, &b"late"[..]));
    assert!(rx.recv_timeout(T).unwrap().is_ok());
}
