//! The execution scope of a session and shutdown across threads
//! (spec 5, 8.7, 9): shutdown waits for the last guard, wherever
//! it is dropped; no new guard after shutdown began; shutdown requested from
//! inside the session's own work does not deadlock; both ways of covering
//! dispatched work (a guard per task, one guard held by the dispatcher) work.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use orc_rt::dispatcher::{InlineDispatcher, QueuedAtShutdown, QueueingDispatcher, Task};
use orc_rt::resource_manager::FnResourceManager;
use orc_rt::{
    ErrorKind, ExecutionScopeGuard, OnComplete, ResourceManager, Session, SessionState,
    TaskDispatcher, ThreadPoolDispatcher,
};

const TIMEOUT: Duration = Duration::from_secs(10);

/// Records the thread its `shutdown` ran on.
fn thread_recorder() -> (FnResourceManager, Arc<Mutex<Option<thread::ThreadId>>>) {
    let at = Arc::new(Mutex::new(None));
    let a = at.clone();
    let m = FnResourceManager::new(
        "recorder",
        |_| Ok(()),
        move || {
            *a.lock().unwrap() = Some(thread::current().id());
            Ok(())
        },
    );
    (m, at)
}

#[test]
fn shutdown_waits_for_a_guard_and_completes_on_the_thread_that_drops_it() {
    let s = Session::builder()
        .dispatcher(InlineDispatcher)
        .build()
        .unwrap();
    let (m, shutdown_thread) = thread_recorder();
    s.add_resource_manager(m);
    let guard = s.try_enter_scope().unwrap();
    let clone = guard.clone();
    drop(guard);
    s.shutdown();
    assert_eq!(s.state(), SessionState::Detached, "draining, not shut down");
    assert_eq!(
        s.try_enter_scope().unwrap_err().kind(),
        ErrorKind::ShuttingDown,
        "no new guard after shutdown began"
    );
    assert!(!clone.clone().is_held(), "not even by cloning a live one");
    assert_eq!(s.call_with_keepalive(|| ()), None);
    let dropper = thread::spawn(move || {
        drop(clone);
        thread::current().id()
    });
    let dropper_id = dropper.join().unwrap();
    assert!(s.is_shut_down());
    assert_eq!(*shutdown_thread.lock().unwrap(), Some(dropper_id));
}

#[test]
fn wait_for_shutdown_blocks_until_the_last_guard_is_released() {
    let s = Session::builder().thread_pool_size(2).build().unwrap();
    let released = Arc::new(AtomicBool::new(false));
    let (r, h) = (released.clone(), s.handle());
    let (entered, is_entered) = mpsc::channel();
    let t = thread::spawn(move || {
        let guard = h.try_enter_scope().unwrap();
        entered.send(()).unwrap();
        thread::sleep(Duration::from_millis(50));
        r.store(true, Ordering::SeqCst);
        drop(guard);
    });
    is_entered.recv().unwrap();
    s.wait_for_shutdown().unwrap();
    assert!(released.load(Ordering::SeqCst));
    t.join().unwrap();
}

#[test]
fn a_thread_that_handed_its_guard_away_may_not_wait_while_it_lives() {
    // The guard counts for the thread that took it until it is dropped:
    // the runtime cannot tell it was handed on, and refuses rather than
    // risk a wait for itself (spec 8.7, "blocking wait").
    let s = Session::builder().thread_pool_size(2).build().unwrap();
    let guard = s.try_enter_scope().unwrap();
    let (go, wait_go) = mpsc::channel::<()>();
    let t = thread::spawn(move || {
        wait_go.recv().unwrap();
        drop(guard);
    });
    let e = s.wait_for_shutdown().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    go.send(()).unwrap();
    t.join().unwrap();
    s.wait_for_shutdown()
        .expect("once it is dropped, the wait ends");
}

#[test]
fn wait_for_shutdown_from_a_dispatched_task_errors_instead_of_deadlocking() {
    let s = Session::builder().thread_pool_size(2).build().unwrap();
    let (m, _) = thread_recorder();
    s.add_resource_manager(m);
    let (tx, rx) = mpsc::channel();
    let h = s.handle();
    s.dispatch(move || {
        let r = h.wait_for_shutdown();
        // Still inside the task, still holding its guard: not shut down.
        tx.send((r.map(|_| ()).map_err(|e| e.kind()), h.is_shut_down()))
            .unwrap();
    })
    .unwrap();
    let (result, shut_down_inside) = rx.recv_timeout(TIMEOUT).expect("the task returned");
    assert_eq!(result, Err(ErrorKind::InvalidArgument));
    assert!(!shut_down_inside);
    // The shutdown the task requested completes once the task returned.
    let report = s.wait_for_shutdown().unwrap();
    assert!(report.is_ok());
}

#[test]
fn shutdown_requested_from_inside_an_incoming_call_completes_after_it() {
    // Inline dispatcher: the whole call runs on the controller's thread.
    let s = Session::builder()
        .dispatcher(InlineDispatcher)
        .build()
        .unwrap();
    let h = s.handle();
    let inside = Arc::new(Mutex::new(None));
    let i = inside.clone();
    let addr = s.register_wrapper(move |_, ret| {
        h.shutdown();
        *i.lock().unwrap() = Some((h.state(), h.wait_for_shutdown().map_err(|e| e.kind()).err()));
        ret.send(orc_rt::WrapperFunctionBuffer::empty());
    });
    let ca = orc_rt::controller_access::InProcessControllerAccess::attach(
        &s,
        orc_rt::BootstrapInfo::new(),
        |_: orc_rt::ExecutorAddr, a, r: orc_rt::controller_access::ControllerReply| r.send(a),
    )
    .unwrap();
    let (tx, rx) = mpsc::channel();
    ca.call_executor(addr, orc_rt::WrapperFunctionBuffer::empty(), move |b| {
        tx.send(b).unwrap()
    })
    .unwrap();
    // The in-process access disconnects once no message is in flight: the
    // call's own result still went out, then the session detached.
    assert!(rx.try_recv().unwrap().is_empty());
    assert_eq!(
        *inside.lock().unwrap(),
        Some((SessionState::Attached, Some(ErrorKind::InvalidArgument)))
    );
    assert!(s.is_shut_down());
}

#[test]
fn wait_for_shutdown_from_a_manager_callback_errors_instead_of_deadlocking() {
    struct Waits(orc_rt::SessionHandle, Arc<Mutex<Option<ErrorKind>>>);
    impl ResourceManager for Waits {
        fn detach(&mut self, done: OnComplete, _: bool) {
            *self.1.lock().unwrap() = self.0.wait_for_shutdown().err().map(|e| e.kind());
            done.ok();
        }
        fn shutdown(&mut self, done: OnComplete) {
            done.ok();
        }
    }
    let s = Session::builder()
        .dispatcher(InlineDispatcher)
        .build()
        .unwrap();
    let seen = Arc::new(Mutex::new(None));
    s.add_resource_manager(Waits(s.handle(), seen.clone()));
    s.detach();
    assert_eq!(*seen.lock().unwrap(), Some(ErrorKind::InvalidArgument));
    assert!(s.is_shut_down(), "the shutdown it requested happened");
}

#[test]
fn dropping_the_session_inside_its_own_task_does_not_deadlock() {
    let s = Session::builder().thread_pool_size(1).build().unwrap();
    let (m, shutdown_thread) = thread_recorder();
    s.add_resource_manager(m);
    let h = s.handle();
    let (tx, rx) = mpsc::channel();
    let owner = Arc::new(Mutex::new(Some(s)));
    let o = owner.clone();
    h.dispatch(move || {
        drop(o.lock().unwrap().take());
        tx.send(thread::current().id()).unwrap();
    })
    .unwrap();
    let worker = rx.recv_timeout(TIMEOUT).expect("the drop returned");
    // Shutdown completes on the worker, once the task (and its guard) end.
    for _ in 0..1000 {
        if h.is_shut_down() {
            break;
        }
        thread::sleep(Duration::from_millis(5));
    }
    assert!(h.is_shut_down());
    assert_eq!(*shutdown_thread.lock().unwrap(), Some(worker));
}

/// The seed's pattern: a dispatcher holding one guard for all its work.
struct GuardedPool {
    pool: ThreadPoolDispatcher,
    _guard: ExecutionScopeGuard,
    dropped: Arc<AtomicBool>,
}

impl TaskDispatcher for GuardedPool {
    fn dispatch(&self, task: Task) {
        self.pool.dispatch(task);
    }
    fn try_dispatch(&self, task: Task) -> Result<(), Task> {
        self.pool.try_dispatch(task)
    }
    fn shutdown(&self) {
        self.pool.shutdown();
    }
}

impl Drop for GuardedPool {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_dispatcher_holding_a_guard_is_shut_down_and_dropped_before_the_drain() {
    let dropped = Arc::new(AtomicBool::new(false));
    let d = dropped.clone();
    let s = Session::builder()
        .dispatcher_holding_guard(move |guard| GuardedPool {
            pool: ThreadPoolDispatcher::new(2).unwrap(),
            _guard: guard,
            dropped: d,
        })
        .build()
        .unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..20 {
        let r = ran.clone();
        s.dispatch(move || {
            thread::sleep(Duration::from_millis(1));
            r.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    s.wait_for_shutdown().unwrap();
    assert!(dropped.load(Ordering::SeqCst));
    assert_eq!(
        ran.load(Ordering::SeqCst),
        20,
        "queued tasks ran before shutdown"
    );
}

#[test]
fn queued_tasks_hold_shutdown_until_a_scheduler_drains_them() {
    let q = QueueingDispatcher::with_policy(QueuedAtShutdown::Keep);
    let s = Session::builder()
        .shared_dispatcher(Arc::new(q.clone()))
        .build()
        .unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        let r = ran.clone();
        s.dispatch(move || {
            r.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    s.shutdown();
    assert!(!s.is_shut_down(), "each queued task holds a guard");
    assert_eq!(
        s.dispatch(|| {}).unwrap_err().kind(),
        ErrorKind::ShuttingDown
    );
    assert_eq!(q.run_all_fifo(), 3);
    assert_eq!(ran.load(Ordering::SeqCst), 3);
    assert!(s.is_shut_down());
}

#[test]
fn queued_tasks_dropped_at_shutdown_release_their_guards() {
    let q = QueueingDispatcher::with_policy(QueuedAtShutdown::Drop);
    let s = Session::builder()
        .shared_dispatcher(Arc::new(q.clone()))
        .build()
        .unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    s.dispatch(move || {
        r.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    s.wait_for_shutdown().unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert!(q.is_empty());
}

#[test]
fn guards_from_many_threads_race_shutdown() {
    for _ in 0..50 {
        let s = Session::builder()
            .dispatcher(InlineDispatcher)
            .build()
            .unwrap();
        let in_scope = Arc::new(AtomicUsize::new(0));
        let violations = Arc::new(AtomicUsize::new(0));
        let (m_in, m_viol) = (in_scope.clone(), violations.clone());
        // Shutdown of a manager must never overlap a held guard.
        s.add_resource_manager(FnResourceManager::new(
            "check",
            |_| Ok(()),
            move || {
                if m_in.load(Ordering::SeqCst) != 0 {
                    m_viol.fetch_add(1, Ordering::SeqCst);
                }
                Ok(())
            },
        ));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (src, in_scope) = (s.scope_source(), in_scope.clone());
                thread::spawn(move || {
                    for _ in 0..100 {
                        if let Ok(g) = src.try_enter() {
                            in_scope.fetch_add(1, Ordering::SeqCst);
                            let moved = g;
                            in_scope.fetch_sub(1, Ordering::SeqCst);
                            drop(moved);
                        }
                    }
                })
            })
            .collect();
        s.wait_for_shutdown().unwrap();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(violations.load(Ordering::SeqCst), 0);
    }
}

#[test]
fn wait_for_shutdown_inside_call_with_keepalive_errors_instead_of_deadlocking() {
    let s = Session::builder()
        .dispatcher(InlineDispatcher)
        .build()
        .unwrap();
    let inside = s.call_with_keepalive(|| s.wait_for_shutdown().map(|_| ()).map_err(|e| e.kind()));
    assert_eq!(inside, Some(Err(ErrorKind::InvalidArgument)));
    // The keepalive ended with the closure: the requested shutdown is done.
    assert!(s.is_shut_down());
    assert_eq!(s.call_with_keepalive(|| ()), None);
}
