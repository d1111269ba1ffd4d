//! Session lifecycle (spec 8.2–8.7): the order of disconnect
//! report, detach, on-detach, shutdown and on-shutdown callbacks; errors and
//! panics of resource managers collected in the report; attach contract.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use orc_rt::controller_access::InProcessControllerAccess;
use orc_rt::dispatcher::InlineDispatcher;
use orc_rt::resource_manager::FnResourceManager;
use orc_rt::{
    BootstrapInfo, Error, ErrorKind, OnComplete, ResourceManager, Session, SessionState,
    ShutdownReport,
};

type Log = Arc<Mutex<Vec<String>>>;

fn push(log: &Log, s: impl Into<String>) {
    log.lock().unwrap().push(s.into());
}

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

fn log_manager(log: &Log, name: &'static str) -> FnResourceManager {
    let (l1, l2) = (log.clone(), log.clone());
    FnResourceManager::new(
        name,
        move |sr| {
            push(&l1, format!("{name}.detach({sr})"));
            Ok(())
        },
        move || {
            push(&l2, format!("{name}.shutdown"));
            Ok(())
        },
    )
}

/// A session with an inline dispatcher and a reporter that logs "report: …".
fn session(log: &Log) -> Session {
    let l = log.clone();
    Session::builder()
        .dispatcher(InlineDispatcher)
        .error_reporter(move |e| push(&l, format!("report: {e}")))
        .build()
        .unwrap()
}

fn observe(session: &Session, log: &Log) {
    let l = log.clone();
    session.add_on_detach(move || push(&l, "on_detach"));
    let l = log.clone();
    session.add_on_shutdown(move |r| push(&l, format!("on_shutdown errors={}", r.errors.len())));
}

fn no_controller(
    _: orc_rt::ExecutorAddr,
    _: orc_rt::WrapperFunctionBuffer,
    r: orc_rt::controller_access::ControllerReply,
) {
    r.send(orc_rt::WrapperFunctionBuffer::empty());
}

#[test]
fn never_attached_session_runs_every_step_once_in_order() {
    let log: Log = Arc::default();
    let s = session(&log);
    let l = log.clone();
    s.set_on_disconnect(move |r| push(&l, format!("on_disconnect ok={}", r.is_ok())))
        .unwrap();
    s.add_resource_manager(log_manager(&log, "a"));
    s.add_resource_manager(log_manager(&log, "b"));
    observe(&s, &log);
    let report = s.wait_for_shutdown().unwrap();
    assert!(report.is_ok());
    assert_eq!(
        entries(&log),
        [
            "on_disconnect ok=true",
            "b.detach(true)",
            "a.detach(true)",
            "on_detach",
            "b.shutdown",
            "a.shutdown",
            "on_shutdown errors=0",
        ]
    );
    assert_eq!(s.state(), SessionState::ShutDown);
    assert!(s.is_shut_down());
    // Later requests are no-ops; late callbacks run at once.
    s.shutdown();
    s.detach();
    let l = log.clone();
    s.add_on_detach(move || push(&l, "late on_detach"));
    let l = log.clone();
    s.shutdown_then(move |_| push(&l, "late on_shutdown"));
    assert_eq!(entries(&log)[7..], ["late on_detach", "late on_shutdown"]);
}

#[test]
fn detach_then_shutdown_with_an_attached_controller() {
    let log: Log = Arc::default();
    let s = session(&log);
    s.add_resource_manager(log_manager(&log, "a"));
    s.add_resource_manager(log_manager(&log, "b"));
    observe(&s, &log);
    let ca = InProcessControllerAccess::attach(&s, BootstrapInfo::new(), no_controller).unwrap();
    assert_eq!(s.state(), SessionState::Attached);
    assert!(ca.is_connected());
    s.detach();
    assert_eq!(s.state(), SessionState::Detached);
    assert!(!ca.is_connected());
    assert_eq!(
        entries(&log),
        ["b.detach(false)", "a.detach(false)", "on_detach"]
    );
    // JIT'd code can still run after detach.
    assert!(s.try_enter_scope().is_ok());
    s.wait_for_shutdown().unwrap();
    assert_eq!(
        entries(&log)[3..],
        ["b.shutdown", "a.shutdown", "on_shutdown errors=0"]
    );
}

#[test]
fn a_remote_hangup_detaches_and_its_error_reaches_the_handler_once() {
    let log: Log = Arc::default();
    let s = session(&log);
    let l = log.clone();
    let s2 = s.handle();
    s.set_on_disconnect(move |r| {
        push(
            &l,
            format!("on_disconnect {:?}", r.map_err(|e| e.message().to_owned())),
        );
        // The usual reaction: shut down. It is scheduled, not waited for.
        s2.shutdown();
    })
    .unwrap();
    s.add_resource_manager(log_manager(&log, "a"));
    observe(&s, &log);
    let ca = InProcessControllerAccess::attach(&s, BootstrapInfo::new(), no_controller).unwrap();
    ca.hangup(Err(Error::new(ErrorKind::Io, "peer vanished")));
    ca.hangup(Ok(())); // a second hangup is a no-op
    assert!(s.is_shut_down());
    assert_eq!(
        entries(&log),
        [
            "on_disconnect Err(\"peer vanished\")",
            // The handler's shutdown came after step 1 took its snapshot.
            "a.detach(false)",
            "on_detach",
            "a.shutdown",
            "on_shutdown errors=0",
        ]
    );
    let report = s.wait_for_shutdown().unwrap();
    assert_eq!(report.disconnect_error.unwrap().message(), "peer vanished");
}

#[test]
fn an_abnormal_disconnect_without_handler_goes_to_the_reporter() {
    let log: Log = Arc::default();
    let s = session(&log);
    let ca = InProcessControllerAccess::attach(&s, BootstrapInfo::new(), no_controller).unwrap();
    ca.hangup(Err(Error::msg("EOF without hangup")));
    assert_eq!(entries(&log), ["report: EOF without hangup"]);
    // An orderly one is not reported.
    let log2: Log = Arc::default();
    let s2 = session(&log2);
    let ca2 = InProcessControllerAccess::attach(&s2, BootstrapInfo::new(), no_controller).unwrap();
    ca2.hangup(Ok(()));
    assert_eq!(entries(&log2), Vec::<String>::new());
}

#[test]
fn a_failed_connect_is_reported_before_attach_returns() {
    let log: Log = Arc::default();
    let s = session(&log);
    let l = log.clone();
    s.set_on_disconnect(move |r| push(&l, format!("on_disconnect {}", r.unwrap_err())))
        .unwrap();
    s.add_resource_manager(log_manager(&log, "a"));
    s.attach_with(BootstrapInfo::new(), |hooks| {
        Ok(Arc::new(
            InProcessControllerAccess::new(hooks, no_controller)
                .fail_connect_with(Error::new(ErrorKind::Io, "connection refused")),
        ))
    })
    .unwrap();
    assert_eq!(s.state(), SessionState::Detached);
    assert_eq!(
        entries(&log),
        ["on_disconnect connection refused", "a.detach(false)"]
    );
}

#[test]
fn attach_is_once_and_only_from_start() {
    let log: Log = Arc::default();
    let s = session(&log);
    InProcessControllerAccess::attach(&s, BootstrapInfo::new(), no_controller).unwrap();
    let err =
        InProcessControllerAccess::attach(&s, BootstrapInfo::new(), no_controller).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = s.set_on_disconnect(|_| {}).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);

    let s2 = session(&log);
    s2.detach();
    let err =
        InProcessControllerAccess::attach(&s2, BootstrapInfo::new(), no_controller).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn bootstrap_info_reaches_the_controller() {
    let log: Log = Arc::default();
    let s = session(&log);
    let mut bi = BootstrapInfo::new();
    bi.symbols
        .add_unique([("instance", orc_rt::ExecutorAddr::new(0x1000))])
        .unwrap();
    bi.values.insert("k".into(), "v".into());
    let ca = InProcessControllerAccess::attach(&s, bi.clone(), no_controller).unwrap();
    assert_eq!(ca.bootstrap(), Some(bi));
}

/// Fails or panics on request; counts its calls.
struct Faulty {
    name: &'static str,
    detach: Fault,
    shutdown: Fault,
    calls: Arc<AtomicUsize>,
}

#[derive(Clone, Copy)]
enum Fault {
    None,
    Fail,
    Panic,
    DropCompletion,
    /// Complete later, from another thread.
    Async,
}

impl Faulty {
    fn act(&self, fault: Fault, done: OnComplete, what: &str) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match fault {
            Fault::None => done.ok(),
            Fault::Fail => done.fail(Error::new(ErrorKind::Service, format!("{what} failed"))),
            Fault::Panic => panic!("{what} exploded"),
            Fault::DropCompletion => drop(done),
            Fault::Async => {
                thread::spawn(move || {
                    thread::sleep(Duration::from_millis(20));
                    done.ok();
                });
            }
        }
    }
}

impl ResourceManager for Faulty {
    fn name(&self) -> &str {
        self.name
    }
    fn detach(&mut self, done: OnComplete, _: bool) {
        self.act(self.detach, done, "detach");
    }
    fn shutdown(&mut self, done: OnComplete) {
        self.act(self.shutdown, done, "shutdown");
    }
}

fn faulty(name: &'static str, detach: Fault, shutdown: Fault) -> (Faulty, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    (
        Faulty {
            name,
            detach,
            shutdown,
            calls: calls.clone(),
        },
        calls,
    )
}

#[test]
fn manager_failures_and_panics_are_collected_and_the_sequence_goes_on() {
    let log: Log = Arc::default();
    let s = session(&log);
    s.add_resource_manager(log_manager(&log, "first"));
    let (m1, c1) = faulty("fails", Fault::Fail, Fault::Fail);
    let (m2, c2) = faulty("panics", Fault::Panic, Fault::Panic);
    let (m3, c3) = faulty("forgets", Fault::DropCompletion, Fault::None);
    s.add_resource_manager(m1);
    s.add_resource_manager(m2);
    s.add_resource_manager(m3);
    s.add_resource_manager(log_manager(&log, "last"));
    let (tx, rx) = mpsc::channel();
    s.shutdown_then(move |r: &ShutdownReport| tx.send(r.clone()).unwrap());
    let report = rx.recv().unwrap();
    let got: Vec<(ErrorKind, &str)> = report
        .errors
        .iter()
        .map(|e| (e.kind(), e.message()))
        .collect();
    assert_eq!(
        got,
        [
            (
                ErrorKind::Service,
                "resource manager 'forgets' detach: detach completion dropped without being called"
            ),
            (
                ErrorKind::Panic,
                "resource manager 'panics' detach panicked: detach exploded"
            ),
            (
                ErrorKind::Service,
                "resource manager 'fails' detach: detach failed"
            ),
            (
                ErrorKind::Panic,
                "resource manager 'panics' shutdown panicked: shutdown exploded"
            ),
            (
                ErrorKind::Service,
                "resource manager 'fails' shutdown: shutdown failed"
            ),
        ]
    );
    assert_eq!(
        entries(&log),
        [
            "last.detach(true)",
            "first.detach(true)",
            "last.shutdown",
            "first.shutdown"
        ],
        "the healthy managers ran in order despite the others"
    );
    for c in [c1, c2, c3] {
        assert_eq!(c.load(Ordering::SeqCst), 2, "detach once, shutdown once");
    }
    // The waiting form returns the same report; the aggregate names them all.
    let again = s.wait_for_shutdown().unwrap();
    assert_eq!(again, report);
    let agg = again.into_result().unwrap_err();
    assert!(
        agg.message().starts_with("5 errors during shutdown: "),
        "{agg}"
    );
}

#[test]
fn asynchronous_completions_chain_the_managers_in_order() {
    let log: Log = Arc::default();
    let s = session(&log);
    s.add_resource_manager(log_manager(&log, "a"));
    let (m, calls) = faulty("slow", Fault::Async, Fault::Async);
    s.add_resource_manager(m);
    s.add_resource_manager(log_manager(&log, "c"));
    observe(&s, &log);
    let report = s.wait_for_shutdown().unwrap();
    assert!(report.is_ok());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        entries(&log),
        [
            "c.detach(true)",
            "a.detach(true)",
            "on_detach",
            "c.shutdown",
            "a.shutdown",
            "on_shutdown errors=0"
        ]
    );
}

#[test]
fn panicking_callbacks_are_contained() {
    let log: Log = Arc::default();
    let s = session(&log);
    s.set_on_disconnect(|_| panic!("handler")).unwrap();
    s.add_on_detach(|| panic!("detach cb"));
    s.add_on_shutdown(|_| panic!("shutdown cb"));
    let l = log.clone();
    s.add_on_shutdown(move |_| push(&l, "second on_shutdown still runs"));
    let report = s.wait_for_shutdown().unwrap();
    let kinds: Vec<ErrorKind> = report.errors.iter().map(|e| e.kind()).collect();
    assert_eq!(kinds, [ErrorKind::Panic, ErrorKind::Panic]);
    assert_eq!(
        entries(&log),
        [
            "second on_shutdown still runs",
            "report: on-shutdown callback panicked: shutdown cb"
        ]
    );
}

#[test]
fn managers_added_late_are_still_detached_then_shut_down() {
    let log: Log = Arc::default();
    let s = session(&log);
    s.detach();
    s.add_resource_manager(log_manager(&log, "late"));
    assert_eq!(entries(&log), ["late.detach(false)"]);
    s.wait_for_shutdown().unwrap();
    s.add_resource_manager(log_manager(&log, "after"));
    assert_eq!(
        entries(&log),
        [
            "late.detach(false)",
            "late.shutdown",
            "after.detach(false)",
            "after.shutdown"
        ]
    );
}

/// Holds its detach completion until told to complete it.
struct HeldDetach {
    log: Log,
    held: Arc<Mutex<Option<OnComplete>>>,
}

impl ResourceManager for HeldDetach {
    fn name(&self) -> &str {
        "held"
    }
    fn detach(&mut self, done: OnComplete, _shutdown_requested: bool) {
        push(&self.log, "held.detach");
        *self.held.lock().unwrap() = Some(done);
    }
    fn shutdown(&mut self, done: OnComplete) {
        push(&self.log, "held.shutdown");
        done.ok();
    }
}

#[test]
fn a_manager_added_while_draining_is_shut_down_before_the_callbacks() {
    // Detached, shutdown requested, the scope held by a guard: the manager
    // added now completes its detach only after the last guard is gone.
    let log: Log = Arc::default();
    let s = session(&log);
    let l = log.clone();
    s.add_on_shutdown(move |_| push(&l, "on_shutdown"));
    let guard = s.try_enter_scope().unwrap();
    s.shutdown();
    let held = Arc::new(Mutex::new(None));
    s.add_resource_manager(HeldDetach {
        log: log.clone(),
        held: held.clone(),
    });
    drop(guard);
    assert_eq!(entries(&log), ["held.detach"], "shutdown waits for it");
    assert!(!s.is_shut_down());
    let done = held.lock().unwrap().take().expect("detach started");
    done.ok();
    assert_eq!(
        entries(&log),
        ["held.detach", "held.shutdown", "on_shutdown"]
    );
    assert!(s.is_shut_down());
}

#[test]
fn dropping_the_session_shuts_it_down_and_reports_unobserved_errors() {
    let log: Log = Arc::default();
    let s = session(&log);
    s.add_resource_manager(log_manager(&log, "a"));
    let (m, _) = faulty("fails", Fault::None, Fault::Fail);
    s.add_resource_manager(m);
    drop(s);
    assert_eq!(
        entries(&log),
        [
            "a.detach(true)",
            "a.shutdown",
            "report: resource manager 'fails' shutdown: shutdown failed"
        ]
    );
}

#[test]
fn shutdown_from_many_threads_happens_once_and_every_callback_runs_once() {
    for _ in 0..20 {
        let log: Log = Arc::default();
        let s = Arc::new(
            Session::builder()
                .thread_pool_size(2)
                .error_reporter(|_| {})
                .build()
                .unwrap(),
        );
        s.add_resource_manager(log_manager(&log, "a"));
        let completions = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let (s, c) = (s.clone(), completions.clone());
                thread::spawn(move || {
                    if i % 2 == 0 {
                        s.shutdown_then(move |_| {
                            c.fetch_add(1, Ordering::SeqCst);
                        });
                    } else {
                        s.detach();
                        s.wait_for_shutdown().unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        s.wait_for_shutdown().unwrap();
        assert_eq!(completions.load(Ordering::SeqCst), 2);
        let e = entries(&log);
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("a.detach("), "{e:?}");
        assert_eq!(e[1], "a.shutdown");
    }
}
