//! spec 8.7 "blocking wait": a thread holding a guard it took with
//! `try_enter_scope` must not wait for shutdown (it would wait for itself);
//! guards from the scope source count for no thread.

use orc_rt::Session;
use orc_rt::dispatcher::InlineDispatcher;
use orc_rt::error::ErrorKind;

fn session() -> Session {
    Session::builder()
        .dispatcher(InlineDispatcher)
        .build()
        .unwrap()
}

#[test]
fn a_thread_holding_its_guard_is_refused_then_waits_once_it_let_go() {
    let s = session();
    let g = s.try_enter_scope().unwrap();
    let clone = g.clone();
    let e = s.wait_for_shutdown().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("took an execution-scope guard"), "{e}");
    drop(g);
    assert!(
        s.wait_for_shutdown().is_err(),
        "a clone of its guard still counts"
    );
    drop(clone);
    s.wait_for_shutdown().expect("no guard left: the wait ends");
    assert!(s.is_shut_down());
}

#[test]
fn a_guard_dropped_on_another_thread_stops_counting() {
    let s = session();
    let g = s.try_enter_scope().unwrap();
    std::thread::spawn(move || drop(g)).join().unwrap();
    s.wait_for_shutdown().expect("the guard is gone");
}

#[test]
fn another_thread_may_wait_while_this_one_holds_a_guard() {
    let s = session();
    let g = s.try_enter_scope().unwrap();
    let h = s.handle();
    let waiter = std::thread::spawn(move || h.wait_for_shutdown().map(|_| ()));
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(!waiter.is_finished(), "it waits for the guard");
    drop(g);
    waiter.join().unwrap().expect("then it ends");
}

#[test]
fn guards_of_another_session_do_not_count() {
    let (a, b) = (session(), session());
    let _g = a.try_enter_scope().unwrap();
    b.wait_for_shutdown()
        .expect("b's scope holds nothing of this thread");
}

#[test]
fn a_guard_from_the_scope_source_may_be_handed_to_a_worker_while_this_thread_waits() {
    let s = Session::builder().thread_pool_size(1).build().unwrap();
    let g = s.scope_source().try_enter().unwrap();
    let (go, wait_go) = std::sync::mpsc::channel::<()>();
    let worker = std::thread::spawn(move || {
        wait_go.recv().unwrap();
        drop(g);
    });
    let h = s.handle();
    let waiter = std::thread::spawn(move || h.wait_for_shutdown().map(|_| ()));
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(
        !waiter.is_finished(),
        "the worker's guard holds shutdown up"
    );
    go.send(()).unwrap();
    worker.join().unwrap();
    waiter
        .join()
        .unwrap()
        .expect("the wait ends with the worker's guard");
    // And on this thread too: its own count was never touched.
    let s = session();
    let g = s.scope_source().try_enter().unwrap();
    let worker = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(20));
        drop(g);
    });
    s.wait_for_shutdown()
        .expect("a source guard counts for no thread");
    worker.join().unwrap();
}
