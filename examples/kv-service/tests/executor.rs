//! The service in a real `orc_executor::Executor` (its own session, wire
//! access, thread-per-call dispatcher and built-in services), driven over
//! LLVM's SimpleRemoteEPC protocol by a controller written by hand on the
//! other end of a socket pair: what `kv::executor_parts` promises, down to
//! a hangup while a wait is parked.

use std::collections::BTreeMap;
use std::net::Shutdown;
use std::os::fd::IntoRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kv::wire::{KvGet, KvPut, KvWait};
use orc_executor::Executor;
use orc_executor::transport::ConnectionSpec;
use orc_executor::wire::{FrameReader, Opcode, SetupInfo, kinds, write_message};
use orc_rt::wrapper::{ARG_DECODE_ERROR, WrapperFunctionBuffer};
use orc_rt::{Error, ExecutorAddr};

/// The controller's end: the executor's published symbols, and a way to
/// call them and read their results.
struct Controller {
    stream: UnixStream,
    frames: FrameReader<UnixStream>,
    symbols: BTreeMap<String, ExecutorAddr>,
}

impl Controller {
    fn call(&mut self, seqno: u64, name: &str, args: &[u8]) {
        let tag = self.symbols[name];
        write_message(&mut self.stream, Opcode::CallWrapper, seqno, tag, args).unwrap();
    }

    /// The next `n` results, by sequence number.
    fn results(&mut self, n: usize) -> BTreeMap<u64, WrapperFunctionBuffer> {
        let mut out = BTreeMap::new();
        while out.len() < n {
            let m = self.frames.read_message().unwrap().expect("a result");
            assert_eq!(m.opcode, Opcode::Result, "{m:?}");
            out.insert(m.seqno, kinds::decode_result(m.tag, m.payload).unwrap());
        }
        out
    }
}

/// Waits (up to 20 s) until `events` holds `line`.
fn await_event(events: &Mutex<Vec<String>>, line: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !events.lock().unwrap().iter().any(|e| e == line) {
        assert!(Instant::now() < deadline, "no `{line}` in {events:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_real_executor_serves_the_service_until_the_controller_leaves() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let e = events.clone();
    let kv = Arc::new(kv::Kv::with_observer(move |ev| {
        e.lock().unwrap().push(ev.to_string())
    }));
    let (functions, manager) = kv::executor_parts(&kv);
    let (executor_end, stream) = UnixStream::pair().unwrap();
    let fd = executor_end.into_raw_fd();
    let executor = std::thread::spawn(move || {
        Executor::builder()
            .connection(ConnectionSpec::SocketAdopt(fd))
            // LLVM main's result kinds: the controller sees out-of-band
            // messages (LLVM 22's wire loses them).
            .result_kinds(true)
            .service(functions, manager)
            .run()
    });

    let reading = stream.try_clone().unwrap();
    // A bug here must fail the test, not hang it.
    reading
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut frames = FrameReader::new(reading);
    let setup = frames.read_message().unwrap().expect("the Setup message");
    assert_eq!(setup.opcode, Opcode::Setup);
    let info = SetupInfo::from_bytes(setup.payload.bytes()).unwrap();
    for name in kv::wire::NAMES {
        assert!(
            info.bootstrap_symbols.contains_key(name),
            "{name} published"
        );
    }
    let mut ctl = Controller {
        stream,
        frames,
        symbols: info.bootstrap_symbols,
    };

    // A wait that parks, answered by a later put.
    let key = |k: &str| KvWait::encode_args(&(k.to_owned(),)).unwrap();
    ctl.call(1, "kv_wait", key("k").bytes());
    await_event(&events, r#"wait "k": parked (1 waiting)"#);
    let put = KvPut::encode_args(&("k".into(), b"v".to_vec())).unwrap();
    ctl.call(2, "kv_put", put.bytes());
    let mut r = ctl.results(2);
    assert_eq!(KvWait::decode_result(r.remove(&1).unwrap()).unwrap(), b"v");
    KvPut::decode_result(r.remove(&2).unwrap()).unwrap();

    // A get, and undecodable arguments (an out-of-band error).
    ctl.call(3, "kv_get", key("k").bytes());
    ctl.call(4, "kv_put", &[1, 2, 3]);
    let mut r = ctl.results(2);
    let got = KvGet::decode_result(r.remove(&3).unwrap()).unwrap();
    assert_eq!(got.as_deref(), Some(&b"v"[..]));
    let bad: Error = KvPut::decode_result(r.remove(&4).unwrap()).unwrap_err();
    assert_eq!(bad.message(), ARG_DECODE_ERROR);

    // A wait nobody has answered yet, then the controller hangs up.
    ctl.call(5, "kv_wait", key("late").bytes());
    await_event(&events, r#"wait "late": parked (1 waiting)"#);
    write_message(
        &mut ctl.stream,
        Opcode::Hangup,
        0,
        ExecutorAddr::NULL,
        &kinds::HANGUP_ORDERLY,
    )
    .unwrap();
    // As LLVM's controller does after its Hangup: no more bytes from us.
    ctl.stream.shutdown(Shutdown::Write).unwrap();

    // The executor ends on its own: kv_wait's handler returned long ago,
    // so its parked result holds nothing up (spec 8.8). The session is
    // told, detaches and shuts down; the store's shutdown fails the waiter,
    // and that result, coming after the end, is dropped: the controller
    // reads no more messages, only the end of the stream.
    let mut after_hangup = Vec::new();
    while let Some(m) = ctl.frames.read_message().unwrap() {
        after_hangup.push((m.opcode, m.seqno));
    }
    assert_eq!(after_hangup, []);
    executor.join().unwrap().unwrap();

    let events = events.lock().unwrap();
    let tail: Vec<&str> = events
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "detached: no new waits (1 waiting)",
            r#"answer to wait "late": error: kv: shut down"#,
            "shut down: 1 value(s) dropped, 1 waiter(s) failed",
        ],
        "{events:#?}"
    );
    assert!(kv.store().is_empty());
    assert_eq!(kv.store().phase(), kv::store::Phase::ShutDown);
}
