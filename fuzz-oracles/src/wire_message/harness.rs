//! The harness: a live session with every executor service behind the wire
//! access on a socket pair; it applies the [`WireOp`]s, waits for answers
//! (bounded) and runs the end-of-run checks.

use std::collections::HashMap;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use orc_executor::services::alloc_actions::ActionCaller;
use orc_executor::services::{ExecutorServices, ServiceOptions};
use orc_executor::wire::{HEADER_SIZE, Opcode, WireControllerAccess, WireOptions};
use orc_rt::addr::ExecutorAddr;
use orc_rt::dispatcher::{ThreadPerTaskDispatcher, ThreadSpawner};
use orc_rt::error::ErrorKind;
use orc_rt::session::Session;

use super::calls::build;
use super::controller::{Log, Shared, controller_reader};
use super::framer::{Delivered, Framer, calls_per_seqno, message, raw_frame, raw_header};
use super::input::{WireInput, WireOp, hangup_reason};
use super::model::{Ending, Model};
use super::targets::{Known, TARGETS, Target};
use super::{FOREIGN_SEQNO, PATIENCE};
use crate::harmless::{self, Action};

pub(super) struct Harness {
    pub(super) shared: Arc<Shared>,
    session: Option<Session>,
    pub(super) services: ExecutorServices,
    pub(super) known: Arc<Known>,
    sock: UnixStream,
    reader: Option<std::thread::JoinHandle<()>>,
    pub(super) model: Model,
    /// Answers processed so far, per seqno.
    consumed: HashMap<u64, usize>,
    /// Calls sent to be waited for, by seqno: how many executor calls the
    /// controller had seen when they were sent.
    pub(super) controller_calls_before: HashMap<u64, usize>,
    /// Hangups carry their bytes as a reason (the input's options).
    hangup_reasons: bool,
    /// Delivered calls processed so far.
    processed: usize,
    next_seqno: u64,
    /// The executor side ended the connection (detach, shutdown, or the
    /// controller stopped reading): answers may be dropped.
    pub(super) executor_ended: bool,
    /// A reserve or release ran concurrently with other calls: the order of
    /// their effects is unknown (a range released by one may be handed to
    /// the other), so the reservation model is no longer exact and only the
    /// end-of-run checks apply.
    pub(super) model_lost: bool,
    /// A header claimed more payload than followed it: every later byte
    /// (our frames and our answers to the executor's calls alike) is read
    /// as that payload, so calls waiting for an answer may wait until the
    /// end. The executor cannot tell a broken peer from a slow one here;
    /// only the end-of-run checks apply.
    stream_desynchronized: bool,
}

impl Drop for Harness {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // A check failed: dropping the session would wait for a
            // shutdown that a broken session may never complete.
            std::mem::forget(self.session.take());
            let _ = self.sock.shutdown(Shutdown::Both);
        }
    }
}

/// The error of a hung wait: nothing can be cleaned up (threads are stuck),
/// so the session is leaked on purpose and the run fails.
pub(super) fn hang(what: &str, session: &mut Option<Session>) -> ! {
    std::mem::forget(session.take());
    panic!("hang: {what} did not happen within {PATIENCE:?}");
}

/// Waits (each wait at most [`PATIENCE`]) until `ready` finds in the log
/// what it waits for; a hang otherwise.
fn wait_log<T>(
    shared: &Shared,
    session: &mut Option<Session>,
    what: &str,
    mut ready: impl FnMut(&Log) -> Option<T>,
) -> T {
    let deadline = Instant::now() + PATIENCE;
    let mut log = shared.log();
    loop {
        if let Some(found) = ready(&log) {
            return found;
        }
        let now = Instant::now();
        if now >= deadline {
            drop(log);
            hang(what, session);
        }
        log = shared
            .changed
            .wait_timeout(log, deadline - now)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}

impl Harness {
    pub(super) fn start(input: &WireInput) -> Harness {
        harmless::forget_eh_section();
        let shared = Arc::new(Shared {
            log: Mutex::new(Log::default()),
            changed: Condvar::new(),
            framer: Mutex::new(None),
            replies: input.replies.clone(),
            reply_kind: input.reply_kind(),
        });
        let reported = shared.clone();
        let session = Session::builder()
            .process_info(orc_executor::sys::host_process_info())
            .dispatcher(ThreadPerTaskDispatcher::new(
                ThreadSpawner::default().stack_size(2 << 20),
            ));
        let session = if input.legacy_fallback {
            session.call_unregistered_with(orc_executor::call::call_unregistered)
        } else {
            session
        };
        let session = session
            .error_reporter(move |e| {
                reported.note(|l| l.reported.push(format!("{:?}: {e}", e.kind())))
            })
            .build()
            .expect("session");
        // The services as orc-executor installs them, except that alloc
        // actions are called through a guard: the framer only lets harmless
        // functions through, and should one slip past it, the guard refuses
        // to call it (a contained panic, reported: a finding in the harness)
        // instead of jumping to an arbitrary address.
        let services_options = ServiceOptions {
            actions: ActionCaller::new(|f, args| {
                assert!(
                    Action::ALL.iter().any(|a| a.addr() == f),
                    "the framer let alloc action {f} through"
                );
                orc_executor::call::call_legacy_wrapper(f, args)
            }),
            ..ServiceOptions::default()
        };
        let (services, mut bootstrap) =
            ExecutorServices::install_with(&session, services_options).expect("services");
        orc_executor::publish_jit_dispatch(&session, &mut bootstrap).expect("dispatch symbols");
        let on_disconnect = shared.clone();
        session
            .set_on_disconnect(move |r| {
                on_disconnect.note(|l| {
                    if l.disconnect.replace(r).is_some() {
                        l.violations.push("disconnect reported twice".into());
                    }
                })
            })
            .expect("before attach");
        let (executor_end, controller_end) = UnixStream::pair().expect("socketpair");
        let transport =
            orc_executor::transport::FdTransport::from_unix_stream(executor_end, Duration::ZERO)
                .expect("transport");
        let lost = shared.clone();
        let options = WireOptions {
            reader_thread_name: "fuzz-wire-reader".into(),
            on_lost_result: Some(Arc::new(move |seqno| {
                lost.note(|l| *l.lost.entry(seqno).or_default() += 1)
            })),
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
        let reader_sock = controller_end.try_clone().expect("dup");
        let reader_shared = shared.clone();
        let reader = std::thread::Builder::new()
            .name("fuzz-controller".into())
            .spawn(move || controller_reader(reader_shared, reader_sock))
            .expect("controller thread");
        let mut session = Some(session);
        let setup = wait_log(&shared, &mut session, "the Setup message", |log| {
            if log.setup.is_none() {
                assert!(log.violations.is_empty(), "{:?}", log.violations);
            }
            log.setup.clone()
        });
        let known = Arc::new(Known::from_setup(&setup, &services, input.legacy_fallback));
        *shared.framer() = Some(Framer::new(
            controller_end.try_clone().expect("dup"),
            known.clone(),
        ));
        Harness {
            shared,
            session,
            services,
            known,
            sock: controller_end,
            reader: Some(reader),
            model: Model::default(),
            consumed: HashMap::new(),
            controller_calls_before: HashMap::new(),
            hangup_reasons: input.hangup_reasons(),
            processed: 0,
            next_seqno: 1,
            executor_ended: false,
            model_lost: false,
            stream_desynchronized: false,
        }
    }

    fn feed(&self, bytes: &[u8]) {
        if let Some(f) = self.shared.framer().as_mut() {
            f.feed(bytes, false);
        }
    }

    fn delivered(&self) -> Vec<Delivered> {
        self.shared
            .framer()
            .as_ref()
            .map(|f| f.delivered.clone())
            .unwrap_or_default()
    }

    pub(super) fn apply(&mut self, op: &WireOp) {
        match op {
            WireOp::Call { call, wait } => {
                self.process_answers();
                let (target, payload) = build(call, &self.known, &self.model);
                self.send_call(self.known.tag(target), &payload, *wait);
            }
            WireOp::RawCall {
                target,
                tag,
                args,
                wait,
            } => {
                let i = *target as usize % (TARGETS.len() + 2);
                let tag = match i {
                    _ if i < TARGETS.len() => self.known.tag(TARGETS[i].0),
                    _ if i == TARGETS.len() => harmless::echo_addr(),
                    _ => ExecutorAddr::new(*tag),
                };
                self.send_call(tag, args, *wait);
            }
            WireOp::Frame {
                opcode,
                seqno,
                tag,
                payload,
            } => {
                let opcode = u64::from(*opcode);
                let seqno = if Opcode::from_raw(opcode) == Some(Opcode::Result) {
                    seqno | FOREIGN_SEQNO
                } else {
                    *seqno
                };
                self.feed(&raw_frame(opcode, seqno, *tag, payload));
            }
            WireOp::Bytes(bytes) => self.feed(bytes),
            WireOp::Claim {
                opcode,
                claim,
                sent,
            } => {
                let mut bytes = raw_header(*claim, u64::from(*opcode), FOREIGN_SEQNO, 0).to_vec();
                bytes.extend_from_slice(sent);
                if claim.saturating_sub(HEADER_SIZE as u64) > sent.len() as u64 {
                    self.stream_desynchronized = true;
                }
                self.feed(&bytes);
            }
            WireOp::Sync => self.wait_answered(usize::MAX),
            WireOp::Hangup(bytes) => {
                let payload = if self.hangup_reasons {
                    hangup_reason(bytes)
                } else {
                    bytes.clone()
                };
                self.feed(&message(Opcode::Hangup, 0, ExecutorAddr::NULL, &payload))
            }
            WireOp::EndOfStream => {
                if let Some(f) = self.shared.framer().as_mut() {
                    f.close();
                }
            }
            WireOp::StopReading => {
                let _ = self.sock.shutdown(Shutdown::Read);
                self.executor_ended = true;
            }
            WireOp::ExecutorDetach => {
                self.executor_ended = true;
                if let Some(s) = &self.session {
                    s.detach();
                }
            }
            WireOp::ExecutorShutdown => {
                self.executor_ended = true;
                if let Some(s) = &self.session {
                    s.shutdown();
                }
            }
        }
    }

    /// Sends one CallWrapper; with `wait`, alone and waited for.
    fn send_call(&mut self, tag: ExecutorAddr, payload: &[u8], wait: bool) {
        let seqno = self.next_seqno;
        self.next_seqno += 1;
        let bytes = message(Opcode::CallWrapper, seqno, tag, payload);
        if wait {
            let seen = self.shared.log().controller_calls.len();
            self.controller_calls_before.insert(seqno, seen);
        }
        let before;
        {
            let mut framer = self.shared.framer();
            let Some(f) = framer.as_mut() else { return };
            before = f.delivered.len();
            let all_answered =
                self.processed == before && self.shared.log().all_answered(&f.delivered);
            f.quiescent_next = wait && all_answered && !self.executor_ended;
            f.feed(&bytes, false);
            f.quiescent_next = false;
        }
        if wait {
            let delivered_now = self
                .delivered()
                .get(before..)
                .is_some_and(|d| d.iter().any(|c| c.seqno == seqno));
            if delivered_now {
                self.wait_answered(before + 1);
            }
        }
    }

    /// Waits until the first `upto` delivered calls are answered (or can no
    /// longer be: the executor is gone, or a call waits on an ignored
    /// controller call), then processes the answers.
    fn wait_answered(&mut self, upto: usize) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let delivered = self.delivered();
            let n = upto.min(delivered.len());
            {
                let log = self.shared.log();
                let done = log.all_answered(&delivered[..n]);
                // Answers may never come once the executor ended the
                // connection itself (its Hangup, a detach or shutdown, or it
                // cannot write to us any more).
                let gone =
                    log.eof || log.hangup || self.executor_ended || self.stream_desynchronized;
                if done || gone || log.ignored > 0 || !log.violations.is_empty() {
                    break;
                }
                let now = Instant::now();
                if now >= deadline {
                    drop(log);
                    hang("the answers to the calls in flight", &mut self.session);
                }
                let _unused = self
                    .shared
                    .changed
                    .wait_timeout(log, (deadline - now).min(Duration::from_millis(200)))
                    .unwrap_or_else(|p| p.into_inner());
            }
        }
        self.process_answers();
    }

    /// Checks and models every delivered call whose answer has arrived, in
    /// delivery order; stops at the first unanswered one.
    fn process_answers(&mut self) {
        let delivered = self.delivered();
        while self.processed < delivered.len() {
            let d = &delivered[self.processed];
            let k = self.consumed.get(&d.seqno).copied().unwrap_or(0);
            let answer = {
                let log = self.shared.log();
                match log.results.get(&d.seqno).and_then(|v| v.get(k)) {
                    Some(a) => Some(a.clone()),
                    None if log.lost.get(&d.seqno).copied().unwrap_or(0) > 0 => None,
                    None => return,
                }
            };
            *self.consumed.entry(d.seqno).or_default() += 1;
            self.processed += 1;
            let d = d.clone();
            match answer {
                Some(a) => self.check_answer(&d, &a),
                None => self.unknown_effects(&d),
            }
        }
    }

    /// A call whose outcome is not known: forget what it may have changed.
    fn unknown_effects(&mut self, d: &Delivered) {
        let everything = (0, u64::MAX);
        match d.target {
            Some(Target::Release | Target::Reserve | Target::SmRelease | Target::SmReserve) => {
                // Reservation set unknown from here: checked at the end only.
                self.model_lost = true;
            }
            Some(Target::Initialize)
            | Some(Target::SmInitialize)
            | Some(Target::Write(_))
            | Some(Target::WriteBuffers)
            | Some(Target::Deinitialize) => self.model.touch(everything.0, everything.1),
            _ => {}
        }
    }

    // ---- the end ----

    pub(super) fn finish(mut self) {
        // 1. The controller is done: end its stream (a partial frame stays
        //    partial), then wait until the executor has closed its side.
        self.process_answers();
        if let Some(f) = self.shared.framer().as_mut() {
            f.close();
        }
        let what = "the executor closing its end of the connection";
        wait_log(&self.shared, &mut self.session, what, |l| {
            l.eof.then_some(())
        });
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        // 2. Shut the session down; it must complete.
        let (tx, rx) = mpsc::channel();
        let session = self.session.as_ref().expect("session");
        session.shutdown_then(move |report| {
            let _ = tx.send(report.clone());
        });
        let report = match rx.recv_timeout(PATIENCE) {
            Ok(r) => r,
            Err(_) => hang("session shutdown", &mut self.session),
        };
        // The on-shutdown callbacks run just before the session marks itself
        // shut down (on the thread that ran them).
        let deadline = Instant::now() + PATIENCE;
        while !self.session.as_ref().is_some_and(|s| s.is_shut_down()) {
            if Instant::now() >= deadline {
                hang("the session marking itself shut down", &mut self.session);
            }
            std::thread::yield_now();
        }
        drop(self.session.take());
        self.process_answers();

        // 3. The properties.
        let log = self.shared.log();
        assert!(
            log.violations.is_empty(),
            "executor stream: {:?}",
            log.violations
        );
        assert!(
            log.reported.is_empty(),
            "the session reported errors: {:?}",
            log.reported
        );
        for e in &report.errors {
            assert_ne!(
                e.kind(),
                ErrorKind::Panic,
                "contained panic during shutdown: {e}"
            );
        }
        let framer = self.shared.framer();
        let framer = framer.as_ref().expect("framer");
        let delivered = calls_per_seqno(&framer.delivered);
        for seqno in log.results.keys().chain(log.lost.keys()) {
            let answered = log.answers(*seqno);
            let calls = delivered.get(seqno).copied().unwrap_or(0);
            assert!(
                answered <= calls,
                "seqno {seqno}: {answered} answers for {calls} delivered calls"
            );
        }
        if !self.executor_ended {
            for (seqno, calls) in &delivered {
                let answered = log.answers(*seqno);
                assert_eq!(
                    answered, *calls,
                    "seqno {seqno}: {answered} answers for {calls} delivered calls"
                );
            }
            assert!(!log.hangup, "the executor hung up by itself");
            let expected = framer.ending.clone().expect("closed above");
            let ended_as_expected = match (&expected, &log.disconnect) {
                (Ending::Orderly(_), Some(Ok(()))) => true,
                (Ending::Remote(reason), Some(Err(e))) => {
                    e.kind() == ErrorKind::Remote && e.message() == reason.as_str()
                }
                (Ending::Protocol(_, message), Some(Err(e))) => {
                    e.kind() == ErrorKind::Protocol
                        && message.as_deref().is_none_or(|m| e.message() == m)
                }
                _ => false,
            };
            assert!(
                ended_as_expected,
                "the stream ended with {expected:?}, the session saw {:?}",
                log.disconnect
            );
        }
        assert!(
            log.disconnect.is_some(),
            "the disconnect was never reported"
        );
        drop(log);

        // 4. Nothing left behind.
        let mm = &self.services.memory_manager;
        assert_eq!(mm.reservation_count(), 0, "reservations survive shutdown");
        assert_eq!(
            self.services.shared_memory.reservation_count(),
            0,
            "shared-memory reservations survive shutdown"
        );
        assert_eq!(
            self.services.dylib_manager.open_count(),
            0,
            "libraries stay open"
        );
        assert_eq!(
            orc_executor::testing::live_resources().regions,
            0,
            "mappings survive shutdown (the memory manager holds none)"
        );
        harmless::set_dispatch(None);
        harmless::forget_eh_section();
    }
}
