//! Resource accounting and shutdown under load, in process (issue 7 item 5,
//! issue 6 item 3): a real `Session` with the executor services installed
//! (as `orc-executor` builds it: a thread per call, quick calls on the
//! reader thread, the legacy ABI for unregistered addresses) behind the
//! wire access over a socket pair, driven with hand-made frames.
//!
//! Counting is exact here: `orc_executor::services::live_resources()` (mappings,
//! shared-memory objects, library handles, EH frames, dispatcher threads),
//! `/proc/self/maps` regions inside the reservations we were given,
//! `/dev/shm` entries under the names we were given, and the runtime's
//! named threads (`/proc/self/task/*/comm`). The tests of this file run one
//! at a time (one lock), since those counts are process-wide.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use orc_executor::services::types::{
    AllocGroup, ExecutorSymbolDef, FinalizeRequest, SegmentRequest,
};
use orc_executor::services::{ExecutorServices, names};
use orc_executor::sys::{call_thread_spawner, host_process_info};
use orc_executor::testing::{LiveResources, live_resources};
use orc_executor::transport::FdTransport;
use orc_executor::wire::{
    FrameReader, Message, Opcode, SetupInfo, WireControllerAccess, WireOptions,
};
use orc_rt::dispatcher::ThreadPerTaskDispatcher;
use orc_rt::sps::memory::{AllocAction, AllocActionPair};
use orc_rt::{
    Error, ErrorKind, ExecutorAddr, ExecutorAddrRange, Session, ShutdownReport,
    WrapperFunctionBuffer, sps,
};

/// How long any one expectation may take before the test calls it a hang.
const DEADLINE: Duration = Duration::from_secs(20);
const PAGE: u64 = 4096;

/// The counts are process-wide: one test at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// `base + off`.
fn at(base: ExecutorAddr, off: u64) -> ExecutorAddr {
    ExecutorAddr::new(base.value() + off)
}

fn args<T: sps::SpsEncode>(value: &T) -> Vec<u8> {
    sps::to_vec(value)
}

/// Threads of this process the runtime named (`orc-rt-call`,
/// `orc-rt-wire-reader`, `orc-rt-worker`; comm is cut at 15 bytes).
fn runtime_threads() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.starts_with("orc-rt-"))
        .count()
}

/// Mappings of this process (`/proc/self/maps` lines) overlapping `ranges`.
fn maps_overlapping(ranges: &[ExecutorAddrRange]) -> usize {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
    maps.lines()
        .filter(|line| {
            let span = line.split_whitespace().next().unwrap_or_default();
            let (s, e) = span.split_once('-').unwrap_or(("0", "0"));
            let (s, e) = (
                u64::from_str_radix(s, 16).unwrap_or(0),
                u64::from_str_radix(e, 16).unwrap_or(0),
            );
            ranges
                .iter()
                .any(|r| s < r.end.value() && r.start.value() < e)
        })
        .count()
}

/// An in-process executor and our (controller) end of its socket.
struct InProc {
    session: Option<Session>,
    services: ExecutorServices,
    out: UnixStream,
    msgs: Receiver<Message>,
    reader: Option<JoinHandle<()>>,
    ended: Receiver<Result<(), Error>>,
    lost: Arc<Mutex<Vec<u64>>>,
    symbols: BTreeMap<String, ExecutorAddr>,
}

impl Drop for InProc {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // A failed test must not hang in the session's drop (which waits
            // for shutdown): leak it.
            std::mem::forget(self.session.take());
        }
    }
}

impl InProc {
    fn start() -> InProc {
        let session = Session::builder()
            .process_info(host_process_info())
            .dispatcher(ThreadPerTaskDispatcher::new(call_thread_spawner()))
            .call_unregistered_with(orc_executor::call::call_unregistered)
            .error_reporter(|e| eprintln!("reported: {e}"))
            .build()
            .expect("a session");
        let (services, mut bootstrap) = ExecutorServices::install(&session).expect("services");
        orc_executor::publish_jit_dispatch(&session, &mut bootstrap).expect("dispatch symbols");
        let (ended_tx, ended) = mpsc::channel();
        session
            .set_on_disconnect(move |r| {
                let _ = ended_tx.send(r);
            })
            .unwrap();
        let (ours, theirs) = UnixStream::pair().expect("a socket pair");
        let transport = FdTransport::from_unix_stream(theirs, Duration::ZERO).expect("a transport");
        let lost = Arc::new(Mutex::new(Vec::new()));
        let lost_log = lost.clone();
        let options = WireOptions {
            on_lost_result: Some(Arc::new(move |seqno| lost_log.lock().unwrap().push(seqno))),
            ..WireOptions::default()
        };
        session
            .attach_with(bootstrap, |hooks| {
                Ok(WireControllerAccess::new(
                    hooks,
                    Arc::new(transport),
                    options,
                ))
            })
            .expect("attach");
        let (tx, msgs) = mpsc::channel();
        let reader_end = ours.try_clone().unwrap();
        let reader = std::thread::spawn(move || {
            let mut frames = FrameReader::new(reader_end);
            while let Ok(Some(m)) = frames.read_message() {
                if tx.send(m).is_err() {
                    break;
                }
            }
        });
        let mut ex = InProc {
            session: Some(session),
            services,
            out: ours,
            msgs,
            reader: Some(reader),
            ended,
            lost,
            symbols: BTreeMap::new(),
        };
        let setup = ex.recv().expect("Setup");
        assert_eq!(setup.opcode, Opcode::Setup);
        ex.symbols = SetupInfo::from_bytes(setup.payload.bytes())
            .unwrap()
            .bootstrap_symbols;
        ex
    }

    fn session(&self) -> &Session {
        self.session.as_ref().unwrap()
    }

    fn sym(&self, name: &str) -> ExecutorAddr {
        self.symbols[name]
    }

    fn send(&mut self, opcode: Opcode, seqno: u64, tag: ExecutorAddr, payload: &[u8]) {
        let mut bytes = Vec::new();
        orc_executor::wire::write_message(&mut bytes, opcode, seqno, tag, payload).unwrap();
        self.out.write_all(&bytes).expect("the executor reads");
    }

    /// The next message, or `None` at end of stream.
    fn recv(&self) -> Option<Message> {
        match self.msgs.recv_timeout(DEADLINE) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!("nothing from the executor: hang"),
        }
    }

    fn call(&mut self, seqno: u64, tag: ExecutorAddr, a: &[u8]) -> Vec<u8> {
        self.send(Opcode::CallWrapper, seqno, tag, a);
        let m = self.recv().expect("a Result");
        assert_eq!((m.opcode, m.seqno), (Opcode::Result, seqno));
        m.payload.bytes().to_vec()
    }

    fn reserve(&mut self, seqno: u64, size: u64) -> ExecutorAddr {
        let mm = self.sym(names::MEMORY_MANAGER_INSTANCE);
        let r = self.call(
            seqno,
            self.sym(names::MEMORY_MANAGER_RESERVE),
            &args(&(mm, size)),
        );
        sps::from_bytes::<Result<ExecutorAddr, Error>>(&r)
            .unwrap()
            .expect("reserve")
    }

    fn open(&mut self, seqno: u64, path: &str) -> ExecutorAddr {
        let dm = self.sym(names::DYLIB_MANAGER_INSTANCE);
        let r = self.call(
            seqno,
            self.sym(names::DYLIB_MANAGER_OPEN),
            &args(&(dm, path, 0u64)),
        );
        sps::from_bytes::<Result<ExecutorAddr, Error>>(&r)
            .unwrap()
            .expect("open")
    }

    fn resolve(&mut self, seqno: u64, handle: ExecutorAddr, name: &str) -> ExecutorAddr {
        let r = self.call(
            seqno,
            self.sym(names::DYLIB_MANAGER_RESOLVE),
            &args(&(handle, vec![(name, false)])),
        );
        let defs = sps::from_bytes::<Result<Vec<Option<ExecutorSymbolDef>>, Error>>(&r)
            .unwrap()
            .unwrap();
        defs[0].expect("symbol found").addr
    }

    /// Waits for the end of the connection and the session's shutdown;
    /// returns how the connection ended, the shutdown report, and every
    /// message the executor sent meanwhile (up to its end of stream).
    fn finish(mut self) -> (Result<(), Error>, ShutdownReport, Vec<Message>) {
        let ended = match self.ended.recv_timeout(DEADLINE) {
            Ok(ended) => ended,
            Err(_) => {
                let got = self.msgs.try_iter().count();
                let lost = self.lost.lock().unwrap().len();
                panic!(
                    "the connection did not end within {DEADLINE:?} ({got} messages received, {lost} results lost, {:?})",
                    live_resources()
                )
            }
        };
        let session = self.session.take().unwrap();
        let report = session.wait_for_shutdown().expect("shutdown");
        drop(session);
        let _ = self.out.shutdown(std::net::Shutdown::Both);
        let mut rest = Vec::new();
        while let Some(m) = self.recv() {
            rest.push(m);
        }
        self.reader.take().unwrap().join().unwrap();
        assert!(
            report.errors.iter().all(|e| e.kind() != ErrorKind::Panic),
            "{:?}",
            report.errors
        );
        (ended, report, rest)
    }
}

/// What the services hold, with the counts the test can add.
#[derive(Debug, PartialEq)]
struct Census {
    live: LiveResources,
    threads: usize,
}

fn census() -> Census {
    Census {
        live: live_resources(),
        threads: runtime_threads(),
    }
}

/// Waits for the counts to be back to `before` (the wire reader thread is
/// not joined: it ends when it sees the socket shut down).
#[track_caller]
fn assert_back_to(before: &Census) {
    let start = Instant::now();
    loop {
        let now = census();
        if now == *before {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "leaked: before {before:?}, after {now:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn shm_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new("/dev/shm").join(name.trim_start_matches('/'))
}

fn shm_reserve_args(ex: &InProc) -> Vec<u8> {
    args(&(ex.sym(names::SHARED_MEMORY_INSTANCE), 4 * PAGE))
}

fn shm_reserved(payload: &[u8]) -> (ExecutorAddr, String) {
    let (base, name) = sps::from_bytes::<Result<(ExecutorAddr, String), Error>>(payload)
        .unwrap()
        .expect("shared reserve");
    (base, name)
}

#[test]
fn every_resource_a_session_took_is_released_at_shutdown() {
    let _serial = serial();
    let before = census();
    let mut ex = InProc::start();
    // Memory: three reservations, one initialized with an EH-frame section
    // registered by its finalize action and deregistered by its dealloc.
    let bases: Vec<ExecutorAddr> = (0..3).map(|i| ex.reserve(1 + i, 16 * PAGE)).collect();
    let section = ExecutorAddrRange::new(bases[0], at(bases[0], 8));
    let action = |name| AllocAction::new(ex.sym(name), WrapperFunctionBuffer::from(args(&section)));
    let req = FinalizeRequest {
        segments: vec![SegmentRequest {
            group: AllocGroup::from_bits(1).unwrap(),
            addr: bases[0],
            size: PAGE,
            content: &[0; 8],
        }],
        actions: vec![AllocActionPair {
            finalize: action(names::REGISTER_EH_FRAME),
            dealloc: action(names::DEREGISTER_EH_FRAME),
        }],
    };
    let mm = ex.sym(names::MEMORY_MANAGER_INSTANCE);
    let r = ex.call(
        10,
        ex.sym(names::MEMORY_MANAGER_INITIALIZE),
        &args(&(mm, req)),
    );
    assert_eq!(
        sps::from_bytes::<Result<ExecutorAddr, Error>>(&r).unwrap(),
        Ok(bases[0])
    );
    // Shared memory: two objects.
    let a = shm_reserve_args(&ex);
    let shm: Vec<(ExecutorAddr, String)> = (0..2)
        .map(|i| shm_reserved(&ex.call(20 + i, ex.sym(names::SHARED_MEMORY_RESERVE), &a)))
        .collect();
    // A library by name, and a call on a thread of its own (open is).
    let libm = ex.open(30, "libm.so.6");
    assert!(!ex.resolve(31, libm, "cos").is_null());

    let during = census();
    eprintln!("before {before:?}\nduring {during:?}");
    assert_eq!(during.live.regions, before.live.regions + 5);
    assert_eq!(during.live.shm_objects, before.live.shm_objects + 2);
    assert!(during.live.dylib_handles > before.live.dylib_handles);
    assert_eq!(during.live.eh_frames, before.live.eh_frames + 1);
    assert!(during.threads > before.threads, "the wire reader at least");
    let mut ranges: Vec<ExecutorAddrRange> = bases
        .iter()
        .map(|b| ExecutorAddrRange::new(*b, at(*b, 16 * PAGE)))
        .collect();
    ranges.extend(
        shm.iter()
            .map(|(b, _)| ExecutorAddrRange::new(*b, at(*b, 4 * PAGE))),
    );
    assert!(maps_overlapping(&ranges) >= 5);
    for (_, name) in &shm {
        assert!(shm_path(name).exists(), "{name}");
    }
    assert_eq!(ex.services.memory_manager.reservation_count(), 3);

    ex.send(Opcode::Hangup, 0, ExecutorAddr::NULL, &[0]);
    let services = ex.services.clone();
    let (ended, report, rest) = ex.finish();
    assert_eq!(ended, Ok(()));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(rest.is_empty(), "nothing after Hangup: {rest:?}");
    assert_back_to(&before);
    assert_eq!(maps_overlapping(&ranges), 0, "a mapping is left");
    for (_, name) in &shm {
        assert!(!shm_path(name).exists(), "{name} is left in /dev/shm");
    }
    assert_eq!(services.memory_manager.reservation_count(), 0);
    assert_eq!(services.shared_memory.reservation_count(), 0);
    assert_eq!(services.dylib_manager.open_count(), 0);
}

/// Our calls to the controller: completions of each, and the error
/// message of the last.
type Completions = Arc<Mutex<HashMap<usize, (usize, Option<String>)>>>;

/// What the load phase put in flight.
struct Load {
    /// Every controller call sent, by seqno (all distinct).
    sent: HashSet<u64>,
    /// The calls that sleep on a thread of their own: in flight at the end.
    slow: HashSet<u64>,
    /// Our calls to the controller: how many completions each got, and the
    /// payload of the last.
    ours: Completions,
    ours_sent: usize,
    base: ExecutorAddr,
}

/// 1,000 pipelined calls (reserve, write, resolve, read, shared-memory
/// reserve, and calls sleeping 300 ms on threads of their own), plus 50 of
/// our own calls to the controller that it never answers.
fn put_load(ex: &mut InProc) -> Load {
    let base = ex.reserve(1, 16 * PAGE);
    let process = ex.open(2, "");
    let usleep = ex.resolve(3, process, "usleep");
    let ours: Completions = Arc::default();
    let ours_sent = 50;
    let completions = Arc::new(AtomicUsize::new(0));
    for i in 0..ours_sent {
        let ours = ours.clone();
        let completions = completions.clone();
        ex.session().call_controller(
            ExecutorAddr::new(0x1000 + i as u64),
            WrapperFunctionBuffer::from(vec![i as u8]),
            move |r: WrapperFunctionBuffer| {
                let mut m = ours.lock().unwrap();
                let e = m.entry(i).or_insert((0, None));
                e.0 += 1;
                e.1 = r.error_message().map(|m| m.to_string_lossy().into_owned());
                completions.fetch_add(1, Ordering::Relaxed);
            },
        );
    }
    let mm = ex.sym(names::MEMORY_MANAGER_INSTANCE);
    let (reserve, write8, read8, resolve, shm_reserve, run_int) = (
        ex.sym(names::MEMORY_MANAGER_RESERVE),
        ex.sym(names::WRITE_UINT8S),
        ex.sym(names::READ_UINT8S),
        ex.sym(names::DYLIB_MANAGER_RESOLVE),
        ex.sym(names::SHARED_MEMORY_RESERVE),
        ex.sym(names::RUN_AS_INT),
    );
    let shm_args = shm_reserve_args(ex);
    let mut sent = HashSet::new();
    let mut slow = HashSet::new();
    let mut frames = Vec::new();
    for i in 0..1000u64 {
        let seqno = 100 + i;
        let (tag, a) = match i % 10 {
            0 | 5 => (reserve, args(&(mm, PAGE))),
            1 | 6 => (write8, args(&vec![(at(base, i % PAGE), i as u8)])),
            2 | 7 => (resolve, args(&(process, vec![("malloc", true)]))),
            3 | 8 => (read8, args(&vec![at(base, i % PAGE)])),
            4 if i % 100 == 4 => (shm_reserve, shm_args.clone()),
            9 if i % 100 == 99 => {
                slow.insert(seqno);
                (run_int, args(&(usleep, 300_000i32)))
            }
            _ => (read8, args(&vec![base])),
        };
        orc_executor::wire::write_message(&mut frames, Opcode::CallWrapper, seqno, tag, &a)
            .unwrap();
        sent.insert(seqno);
    }
    ex.out.write_all(&frames).unwrap();
    // Sent (call_controller writes the frame), none answered yet.
    assert_eq!(completions.load(Ordering::Relaxed), 0);
    Load {
        sent,
        slow,
        ours,
        ours_sent,
        base,
    }
}

/// Splits what the executor sent into Results (by seqno, counted) and its
/// own calls to us (seqnos).
fn tally(msgs: impl IntoIterator<Item = Message>) -> (HashMap<u64, usize>, Vec<u64>) {
    let mut results = HashMap::new();
    let mut calls = Vec::new();
    for m in msgs {
        match m.opcode {
            Opcode::Result => *results.entry(m.seqno).or_insert(0) += 1,
            Opcode::CallWrapper => calls.push(m.seqno),
            other => panic!("unexpected {other:?} from the executor"),
        }
    }
    (results, calls)
}

#[track_caller]
fn assert_ours_failed_once(load: &Load) {
    let ours = load.ours.lock().unwrap();
    assert_eq!(
        ours.len(),
        load.ours_sent,
        "every call to the controller completed"
    );
    for (i, (n, err)) in ours.iter() {
        assert_eq!(*n, 1, "call {i} completed {n} times");
        assert_eq!(err.as_deref(), Some("disconnected"), "call {i}");
    }
}

#[test]
fn a_hangup_with_a_thousand_calls_in_flight_answers_each_once_and_releases_everything() {
    let _serial = serial();
    let before = census();
    let mut ex = InProc::start();
    let load = put_load(&mut ex);
    ex.send(Opcode::Hangup, 0, ExecutorAddr::NULL, &[0]);
    let start = Instant::now();
    let (ended, _report, msgs) = ex.finish();
    eprintln!(
        "hangup under load: ended {ended:?} after {:?}",
        start.elapsed()
    );
    assert_eq!(ended, Ok(()));
    let (results, calls) = tally(msgs);
    assert_eq!(calls.len(), load.ours_sent, "our calls went out once each");
    assert_eq!(
        calls.iter().collect::<HashSet<_>>().len(),
        load.ours_sent,
        "distinct seqnos"
    );
    // An orderly end: every call in flight is answered, exactly once.
    let answered: HashSet<u64> = results.keys().copied().collect();
    assert_eq!(answered, load.sent, "a Result for each call");
    assert!(results.values().all(|n| *n == 1), "answered twice");
    assert_ours_failed_once(&load);
    assert_back_to(&before);
    let base = ExecutorAddrRange::new(load.base, at(load.base, 16 * PAGE));
    assert_eq!(maps_overlapping(&[base]), 0);
}

#[test]
fn a_closed_transport_with_a_thousand_calls_in_flight_completes_each_once_and_releases_everything()
{
    let _serial = serial();
    let before = census();
    let mut ex = InProc::start();
    let load = put_load(&mut ex);
    // Let the first sleeping calls (seqnos 199, 299) start, then close.
    let mut early = Vec::new();
    while !early
        .iter()
        .any(|m: &Message| m.opcode == Opcode::Result && m.seqno >= 350)
    {
        early.push(ex.recv().expect("results"));
    }
    // The controller vanishes: both directions of its socket shut. What it
    // had not read yet stays readable; later Results are refused (EPIPE).
    ex.out.shutdown(std::net::Shutdown::Both).unwrap();
    let lost = ex.lost.clone();
    let start = Instant::now();
    let (ended, _report, msgs) = ex.finish();
    eprintln!(
        "closed transport under load: ended {ended:?} after {:?}",
        start.elapsed()
    );
    assert_eq!(ended, Ok(()), "end of stream at a message boundary");
    let (results, calls) = tally(early.into_iter().chain(msgs));
    assert_eq!(calls.len(), load.ours_sent);
    let lost: Vec<u64> = lost.lock().unwrap().clone();
    let lost_set: HashSet<u64> = lost.iter().copied().collect();
    assert_eq!(lost_set.len(), lost.len(), "a Result reported lost twice");
    assert!(results.values().all(|n| *n == 1), "answered twice");
    // Each call the executor accepted completed exactly once: delivered,
    // or reported lost. It reads in order and stops at the first Result it
    // cannot send, so the accepted calls are a prefix of those sent; the
    // rest were never read (no completion is owed for them).
    let answered: HashSet<u64> = results.keys().copied().collect();
    assert!(answered.is_disjoint(&lost_set), "delivered and lost");
    let all: HashSet<u64> = answered.union(&lost_set).copied().collect();
    let accepted = all.len() as u64;
    eprintln!(
        "closed transport: {accepted} of {} calls accepted, {} delivered, {} lost",
        load.sent.len(),
        answered.len(),
        lost.len()
    );
    assert!(accepted >= 1 && all.is_subset(&load.sent));
    assert_eq!(
        all,
        (100..100 + accepted).collect::<HashSet<u64>>(),
        "a prefix"
    );
    // Accepted calls still sleeping at the close: their results are lost.
    for s in &load.slow {
        if *s < 100 + accepted {
            assert!(lost_set.contains(s), "slow call {s}");
        }
    }
    assert_ours_failed_once(&load);
    assert_back_to(&before);
}
