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
    let a = attach(register, writes);
    (a.session, a.c, a.rx)
}

/// What [`attach`] returns.
struct Attached {
    session: Session,
    c: Controller,
    /// Gets the disconnect result.
    rx: mpsc::Receiver<Result<(), Error>>,
    /// How many of our calls were pending when the session was told.
    pending_when_told: Arc<std::sync::Mutex<Option<usize>>>,
    /// The seqnos of the results reported lost.
    lost: Arc<std::sync::Mutex<Vec<u64>>>,
    wire: Arc<WireControllerAccess>,
}

/// [`connect_with`], with what the tests of the end look at.
fn attach(
    register: impl FnOnce(&Session) -> Vec<Published>,
    writes: Arc<std::sync::atomic::AtomicUsize>,
) -> Attached {
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
    let access: Arc<std::sync::Mutex<Option<Arc<WireControllerAccess>>>> = Arc::default();
    let pending_when_told = Arc::new(std::sync::Mutex::new(None));
    let (a, p) = (access.clone(), pending_when_told.clone());
    session
        .set_on_disconnect(move |r| {
            if let Some(wire) = a.lock().unwrap().as_ref() {
                *p.lock().unwrap() = Some(wire.pending_calls());
            }
            let _ = tx.send(r);
        })
        .unwrap();
    let lost = Arc::new(std::sync::Mutex::new(Vec::new()));
    let lost_log = lost.clone();
    let options = WireOptions {
        on_lost_result: Some(Arc::new(move |seqno| lost_log.lock().unwrap().push(seqno))),
        ..WireOptions::default()
    };
    let (ours, theirs) = UnixStream::pair().unwrap();
    let transport = FdTransport::from_unix_stream(theirs, Duration::ZERO).unwrap();
    let transport: Arc<dyn Transport> = Arc::new(Counting(transport, writes));
    let wire = session
        .attach_with(bootstrap, |hooks| {
            Ok(WireControllerAccess::new(hooks, transport, options))
        })
        .unwrap();
    *access.lock().unwrap() = Some(wire.clone());
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
    Attached {
        session,
        c,
        rx,
        pending_when_told,
        lost,
        wire,
    }
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
    // Refused: by the session (no controller attached) until its detach
    // has run the on-detach callbacks, which take the entry point down.
    let deadline = std::time::Instant::now() + T;
    loop {
        let late = call_dispatch_fn(f, ctx, ExecutorAddr::new(1), b"q");
        let message = late.error_message().unwrap().to_str().unwrap().to_owned();
        if message == DISPATCH_SHUT_DOWN {
            break;
        }
        assert_eq!(message, "no controller attached");
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(1));
    }
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

/// A wrapper that says it started on `started`, then waits for `release`
/// before it answers (echo).
fn held(session: &Session, started: mpsc::Sender<()>, release: mpsc::Receiver<()>) -> ExecutorAddr {
    let channels = std::sync::Mutex::new((started, release));
    session.register_wrapper(move |args, ret| {
        let channels = channels.lock().unwrap();
        let _ = channels.0.send(());
        let _ = channels.1.recv_timeout(T);
        ret.send(args)
    })
}

/// The completions of one call of ours (they must be one).
type Completions = Arc<std::sync::Mutex<Vec<WrapperFunctionBuffer>>>;

/// Calls the controller through the session, keeping every completion.
fn call_counting(session: &Session, tag: u64) -> Completions {
    let done: Completions = Arc::default();
    let d = done.clone();
    session.call_controller(
        ExecutorAddr::new(tag),
        WrapperFunctionBuffer::copy_from(b"q"),
        move |r| d.lock().unwrap().push(r),
    );
    done
}

/// Waits (bounded) until `done` holds a completion, then a little longer
/// for a second one that must not come.
fn completed_once(done: &Completions) -> WrapperFunctionBuffer {
    let deadline = std::time::Instant::now() + T;
    while done.lock().unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "never completed");
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(20));
    let mut done = done.lock().unwrap();
    assert_eq!(done.len(), 1, "completed more than once");
    done.pop().unwrap()
}

fn disconnected(r: &WrapperFunctionBuffer) -> bool {
    r.error_message()
        .is_some_and(|m| m.to_str().unwrap() == "disconnected")
}

#[test]
fn a_result_for_an_unknown_seqno_with_calls_pending_completes_none_of_them() {
    let Attached {
        session,
        mut c,
        rx,
        pending_when_told,
        ..
    } = attach(|_| Vec::new(), Arc::default());
    let first = call_counting(&session, 0x70);
    let second = call_counting(&session, 0x71);
    let seqs: Vec<u64> = (0..2).map(|_| c.recv().seqno).collect();
    let unknown = seqs.iter().max().unwrap() + 1;
    c.send(Opcode::Result, unknown, ExecutorAddr::NULL, b"not yours");
    let err = rx.recv_timeout(T).unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert_eq!(
        err.message(),
        format!("No call for sequence number {unknown}")
    );
    assert_eq!(*pending_when_told.lock().unwrap(), Some(0));
    for done in [&first, &second] {
        let r = completed_once(done);
        assert!(disconnected(&r), "failed by the drain, not answered: {r:?}");
    }
    assert!(c.frames.read_message().unwrap().is_none());
}

/// How the controller ends the connection in the tests of the end.
#[derive(Debug, Clone, Copy)]
enum RemoteEnd {
    Hangup,
    EndOfStream,
}

fn calls_pending_and_in_flight_when_the_controller_ends(end: RemoteEnd) {
    let (release_tx, release_rx) = mpsc::channel();
    let (started_tx, started_rx) = mpsc::channel();
    let a = attach(
        |session| vec![("held", held(session, started_tx, release_rx))],
        Arc::default(),
    );
    let held_fn = a.c.sym("held");
    let Attached {
        session,
        mut c,
        rx,
        pending_when_told,
        ..
    } = a;
    // Ours, pending: two through the session, one from JIT'd code.
    let first = call_counting(&session, 0x70);
    let second = call_counting(&session, 0x71);
    let (f, ctx) = (c.sym(names::DISPATCH_FN), c.sym(names::DISPATCH_CTX));
    let jit = std::thread::spawn(move || call_dispatch_fn(f, ctx, ExecutorAddr::new(0x72), b"q"));
    for _ in 0..3 {
        assert_eq!(c.recv().opcode, Opcode::CallWrapper);
    }
    // Theirs, in flight.
    c.send(Opcode::CallWrapper, 9, held_fn, b"late");
    started_rx.recv_timeout(T).unwrap();
    match end {
        RemoteEnd::Hangup => c.send(Opcode::Hangup, 0, ExecutorAddr::NULL, &[0]),
        RemoteEnd::EndOfStream => c.out.shutdown(std::net::Shutdown::Write).unwrap(),
    }
    // Each pending call is failed once, now...
    for done in [&first, &second] {
        assert!(disconnected(&completed_once(done)), "{end:?}");
    }
    let r = jit.join().unwrap();
    assert_eq!(r.error_message().unwrap().to_str().unwrap(), "disconnected");
    // ...but the session is told only once the call in flight is done,
    // whose result still goes out.
    assert!(
        rx.recv_timeout(Duration::from_millis(100)).is_err(),
        "{end:?}"
    );
    release_tx.send(()).unwrap();
    let m = c.recv();
    assert_eq!(
        (m.opcode, m.seqno, m.payload.bytes()),
        (Opcode::Result, 9, &b"late"[..])
    );
    assert!(rx.recv_timeout(T).unwrap().is_ok(), "{end:?}");
    assert_eq!(*pending_when_told.lock().unwrap(), Some(0), "{end:?}");
    assert!(c.frames.read_message().unwrap().is_none(), "{end:?}");
    drop(session);
}

#[test]
fn a_hangup_with_calls_pending_and_in_flight_fails_each_pending_call_once_before_telling() {
    calls_pending_and_in_flight_when_the_controller_ends(RemoteEnd::Hangup);
}

#[test]
fn the_end_of_the_stream_with_calls_pending_and_in_flight_fails_each_pending_call_once_before_telling()
 {
    calls_pending_and_in_flight_when_the_controller_ends(RemoteEnd::EndOfStream);
}

#[test]
fn nothing_follows_our_hangup() {
    let (release_tx, release_rx) = mpsc::channel();
    let (started_tx, started_rx) = mpsc::channel();
    let a = attach(
        |session| vec![("held", held(session, started_tx, release_rx))],
        Arc::default(),
    );
    let held_fn = a.c.sym("held");
    let Attached {
        session,
        mut c,
        rx,
        pending_when_told,
        lost,
        wire,
    } = a;
    let pending = call_counting(&session, 0x70);
    assert_eq!(c.recv().opcode, Opcode::CallWrapper);
    c.send(Opcode::CallWrapper, 9, held_fn, b"late");
    // Running when we detach.
    started_rx.recv_timeout(T).unwrap();
    session.detach();
    assert!(rx.recv_timeout(T).unwrap().is_ok());
    assert_eq!(*pending_when_told.lock().unwrap(), Some(0));
    assert!(disconnected(&completed_once(&pending)));
    // The call still running finishes after the Hangup (the session,
    // detached, frees its result); a result or a call that still reaches
    // the access is refused: the result reported lost, the call failed at
    // once.
    release_tx.send(()).unwrap();
    wire.send_wrapper_result(9, WrapperFunctionBuffer::copy_from(b"late"));
    assert_eq!(*lost.lock().unwrap(), [9]);
    let refused: Completions = Arc::default();
    let r = refused.clone();
    wire.call_controller(
        ExecutorAddr::new(0x71),
        WrapperFunctionBuffer::copy_from(b"q"),
        ControllerCallReturn::from_fn(move |b| r.lock().unwrap().push(b)),
    );
    assert!(disconnected(&completed_once(&refused)));
    let m = c.recv();
    assert_eq!(
        (m.opcode, m.seqno, m.payload.bytes()),
        (Opcode::Hangup, 0, &[0u8][..])
    );
    assert!(
        c.frames.read_message().unwrap().is_none(),
        "nothing after the Hangup"
    );
    drop(session);
}

/// Issue 14, class 7, over a real socket: a 1 MiB result the controller
/// does not read, written by the reader itself (`inline`) or by a call
/// thread, while the controller sends another call.
fn a_stalled_result_neither_stops_reading_nor_holds_up_detach(inline: bool) {
    const LARGE: usize = 1 << 20;
    let (ran_tx, ran_rx) = mpsc::channel();
    let a = attach(
        |session| {
            let large = WrapperEntry::new(|_args, ret| {
                ret.send(WrapperFunctionBuffer::copy_from(&vec![0x5a; LARGE]))
            });
            let large = session.register(if inline { large.inline() } else { large });
            // On the reader thread: its result is queued behind the large
            // one, never waits for room.
            let ran_tx = std::sync::Mutex::new(ran_tx);
            let small = session.register(
                WrapperEntry::new(move |args, ret| {
                    ret.send(args);
                    let _ = ran_tx.lock().unwrap().send(());
                })
                .inline(),
            );
            vec![("large", large), ("small", small)]
        },
        Arc::default(),
    );
    let (large, small) = (a.c.sym("large"), a.c.sym("small"));
    let Attached {
        session,
        mut c,
        rx,
        lost,
        ..
    } = a;
    c.send(Opcode::CallWrapper, 1, large, b"");
    // Its result has begun to arrive (then it stalls: the socket holds far
    // less) before the other call is sent.
    let mut readable = [libc::pollfd {
        fd: std::os::fd::AsRawFd::as_raw_fd(c.frames.get_mut()),
        events: libc::POLLIN,
        revents: 0,
    }];
    assert_eq!(crate::sys::fd::poll(&mut readable, Some(T)).unwrap(), 1);
    c.send(Opcode::CallWrapper, 2, small, b"small");
    // The other call is delivered and answered while the result stalls.
    ran_rx
        .recv_timeout(T)
        .expect("the reader delivers the next call while a result write is stalled");
    // And detach returns at once.
    let start = std::time::Instant::now();
    session.detach();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "detach waited for the controller: {:?}",
        start.elapsed()
    );
    assert!(rx.recv_timeout(T).unwrap().is_ok());
    // Now the controller reads: both results (the reader's in the order it
    // read the calls; a call thread's may be overtaken), the Hangup, the
    // end of the stream.
    let mut results: Vec<Message> = (0..2).map(|_| c.recv()).collect();
    if inline {
        assert_eq!(results[0].seqno, 1, "the reader answers in order");
    }
    results.sort_by_key(|m| m.seqno);
    let (m, other) = (&results[0], &results[1]);
    assert_eq!((m.opcode, m.seqno), (Opcode::Result, 1));
    assert_eq!(m.payload.bytes().len(), LARGE);
    assert!(m.payload.bytes().iter().all(|&b| b == 0x5a));
    assert_eq!(
        (other.opcode, other.seqno, other.payload.bytes()),
        (Opcode::Result, 2, &b"small"[..])
    );
    let m = c.recv();
    assert_eq!(
        (m.opcode, m.seqno, m.payload.bytes()),
        (Opcode::Hangup, 0, &[0u8][..])
    );
    assert!(
        c.frames.read_message().unwrap().is_none(),
        "nothing after the Hangup"
    );
    assert!(lost.lock().unwrap().is_empty());
    drop(session);
}

#[test]
fn a_stalled_result_of_the_reader_neither_stops_reading_nor_holds_up_detach() {
    a_stalled_result_neither_stops_reading_nor_holds_up_detach(true);
}

#[test]
fn a_stalled_result_of_a_call_thread_neither_stops_reading_nor_holds_up_detach() {
    a_stalled_result_neither_stops_reading_nor_holds_up_detach(false);
}
