//! What a service author gets from a session (spec 6.1, 4, 5, 14.1): typed
//! service references, errors reported through the session, a guard's
//! session, and the default bootstrap info. Each test names the upstream
//! orc-rt unit test whose spirit it ports.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use orc_rt::controller_access::{BootstrapInfo, SESSION_INSTANCE_SYMBOL, SUBTARGET_FEATURES_KEY};
use orc_rt::dispatcher::InlineDispatcher;
use orc_rt::{
    Error, ErrorKind, ExecutionScope, ExecutorAddr, OnComplete, ProcessInfo, ReportError,
    ReportErrorsViaSession, Service, Session, SessionHandle,
};

fn session() -> Session {
    Session::builder()
        .dispatcher(InlineDispatcher)
        .build()
        .unwrap()
}

/// Logs its detach and shutdown into a shared op log (upstream
/// `MockService`), and is configurable after being added (upstream
/// `ConfigurableService::doMoreConfig`).
#[derive(Debug)]
struct Recorder {
    id: usize,
    ops: Arc<Mutex<Vec<String>>>,
    config: AtomicUsize,
}

impl Recorder {
    fn new(id: usize, ops: &Arc<Mutex<Vec<String>>>) -> Self {
        Recorder {
            id,
            ops: ops.clone(),
            config: AtomicUsize::new(0),
        }
    }

    fn do_more_config(&self, n: usize) {
        self.config.store(n, Ordering::SeqCst);
    }
}

impl Service for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }

    fn detach(&self, done: OnComplete, _shutdown_requested: bool) {
        self.ops.lock().unwrap().push(format!("detach {}", self.id));
        done.ok();
    }

    fn shutdown(&self, done: OnComplete) {
        let config = self.config.load(Ordering::SeqCst);
        let op = format!("shutdown {} (config {config})", self.id);
        self.ops.lock().unwrap().push(op);
        done.ok();
    }
}

// Upstream `SessionTest.AddServiceAndUseRef` and `MultipleServices`: the
// reference stays usable, and the session still tears the services down
// exactly once each, newest first.
#[test]
fn add_service_returns_a_usable_reference_and_the_session_tears_it_down() {
    let ops = Arc::new(Mutex::new(Vec::new()));
    let s = session();
    let first = s.add_service(Recorder::new(0, &ops));
    let second = s.add_service(Recorder::new(1, &ops));
    first.do_more_config(7);
    second.do_more_config(8);
    let report = s.wait_for_shutdown().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(
        *ops.lock().unwrap(),
        [
            "detach 1",
            "detach 0",
            "shutdown 1 (config 8)",
            "shutdown 0 (config 7)"
        ]
    );
    // Still ours after shutdown.
    assert_eq!(first.config.load(Ordering::SeqCst), 7);
}

// Upstream `SessionTest.CreateServiceAndUseRef`: the constructor gets the
// session, which a service keeps to report errors.
#[test]
fn create_service_builds_from_the_session() {
    struct Reporting {
        session: SessionHandle,
    }
    impl Service for Reporting {
        fn shutdown(&self, done: OnComplete) {
            done.ok();
        }
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sn = seen.clone();
    let s = Session::builder()
        .dispatcher(InlineDispatcher)
        .error_reporter(move |e| sn.lock().unwrap().push(e.to_string()))
        .build()
        .unwrap();
    let svc = s.create_service(|session| Reporting {
        session: session.clone(),
    });
    svc.session.report_error(Error::msg("from the service"));
    assert_eq!(*seen.lock().unwrap(), ["from the service"]);
    assert_eq!(svc.name(), std::any::type_name::<Reporting>());
}

// Upstream `SessionTest.TryCreateServiceSuccess` / `TryCreateServiceFailure`:
// a failing constructor adds nothing and returns its error.
#[test]
fn try_create_service_adds_only_what_was_built() {
    let ops = Arc::new(Mutex::new(Vec::new()));
    let s = session();
    let ok = s.try_create_service(|_| Ok(Recorder::new(0, &ops)));
    assert!(ok.is_ok());
    let err = s
        .try_create_service(|_| -> Result<Recorder, Error> {
            Err(Error::new(ErrorKind::Service, "failed to create service"))
        })
        .unwrap_err();
    assert_eq!(err.message(), "failed to create service");
    s.wait_for_shutdown().unwrap();
    assert_eq!(
        *ops.lock().unwrap(),
        ["detach 0", "shutdown 0 (config 0)"],
        "only the built service was torn down"
    );
}

// A shared trait object can be added too, and a service added after
// shutdown is still detached and shut down (as any late manager).
#[test]
fn shared_and_late_services_are_torn_down() {
    trait Api: Service {
        fn id(&self) -> usize;
    }
    impl Api for Recorder {
        fn id(&self) -> usize {
            self.id
        }
    }
    let ops = Arc::new(Mutex::new(Vec::new()));
    let s = session();
    let api: Arc<dyn Api> = Arc::new(Recorder::new(3, &ops));
    let back = s.add_shared_service(api);
    assert_eq!(back.id(), 3);
    s.wait_for_shutdown().unwrap();
    let late = s.add_service(Recorder::new(4, &ops));
    assert_eq!(late.id, 4);
    assert_eq!(
        *ops.lock().unwrap(),
        [
            "detach 3",
            "shutdown 3 (config 0)",
            "detach 4",
            "shutdown 4 (config 0)"
        ]
    );
}

// Upstream `SessionTest.ReportErrorsViaSession`.
#[test]
fn errors_reported_via_the_session_reach_its_reporter() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sn = seen.clone();
    let s = Session::builder()
        .dispatcher(InlineDispatcher)
        .error_reporter(move |e| sn.lock().unwrap().push(e.to_string()))
        .build()
        .unwrap();
    let mut via = ReportErrorsViaSession::new(&s);
    via.report(Error::msg("foo"));
    // Clones and other threads report to the same place.
    let other = s.error_reporter();
    std::thread::spawn(move || other.report_error(Error::msg("bar")))
        .join()
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), ["foo", "bar"]);
}

// Upstream `ExecutionScopeGuardTest.ConstructFromSession`, `CopyConstruction`,
// `DefaultConstruction` and `Reset`: a guard names its session; an empty
// guard, or one of a standalone scope, names none.
#[test]
fn a_guard_names_its_session() {
    let s = session();
    let guard = s.try_enter_scope().unwrap();
    let named = guard.session().expect("a session's guard");
    assert_eq!(named.as_raw(), s.as_raw());
    let copy = guard.clone();
    assert_eq!(copy.session().unwrap().as_raw(), s.as_raw());
    // Moved to another thread, it still knows.
    let raw = std::thread::spawn(move || copy.session().unwrap().as_raw() as usize)
        .join()
        .unwrap();
    assert_eq!(raw, s.as_raw() as usize);
    assert!(orc_rt::ExecutionScopeGuard::empty().session().is_none());
    let standalone = ExecutionScope::new();
    assert!(standalone.try_enter().unwrap().session().is_none());
    drop((guard, named));
    s.wait_for_shutdown().unwrap();
}

// The guard's link to its session ends with the scope: once shut down and
// dropped, the session's shared state is freed (a handler it owns only
// until then is dropped).
#[test]
fn the_guard_link_does_not_keep_a_dropped_session_alive() {
    struct DropFlag(Arc<AtomicUsize>);
    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicUsize::new(0));
    let flag = DropFlag(dropped.clone());
    let s = Session::builder()
        .dispatcher(InlineDispatcher)
        .call_unregistered_with(move |_, _| {
            let _keep = &flag;
            orc_rt::WrapperFunctionBuffer::empty()
        })
        .build()
        .unwrap();
    let guard = s.try_enter_scope().unwrap();
    assert!(guard.session().is_some());
    drop(guard);
    drop(s);
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "the shared state was freed"
    );
}

// Upstream `BootstrapInfoTest.CreateDefaultContainsSessionSymbol` and
// `CreateDefaultContainsSubtargetFeatures`.
#[test]
fn the_default_bootstrap_info_names_the_session_and_its_cpu_features() {
    let s = Session::builder()
        .dispatcher(InlineDispatcher)
        .process_info(
            ProcessInfo::new("x86_64-unknown-linux-gnu", 4096)
                .with_cpu_features(orc_rt::cpu_features::host_subtarget_features()),
        )
        .build()
        .unwrap();
    let bi = BootstrapInfo::default_for(&s);
    assert_eq!(
        bi.symbols.get(SESSION_INSTANCE_SYMBOL),
        Some(ExecutorAddr::from_ptr(s.as_raw()))
    );
    assert_eq!(bi.symbols.len(), 1);
    assert_eq!(
        bi.values.get(SUBTARGET_FEATURES_KEY),
        Some(&s.process_info().target_cpu_features)
    );
    if cfg!(target_arch = "x86_64") {
        assert!(bi.values[SUBTARGET_FEATURES_KEY].starts_with("+sse,+sse2"));
    }
    // Upstream `CreateDefaultWithNoSymbolsBuilder`: more can be added.
    let mut bi = bi;
    bi.symbols
        .add_unique([("orc_rt_X", ExecutorAddr::new(0x10))])
        .unwrap();
    bi.values.insert("key".into(), "value".into());
    assert_eq!((bi.symbols.len(), bi.values.len()), (2, 2));
    // A session without detected features announces the empty string.
    let plain = session();
    assert_eq!(
        BootstrapInfo::default_for(&plain).values[SUBTARGET_FEATURES_KEY],
        ""
    );
}
