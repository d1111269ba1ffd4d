//! Session lifecycle: ordering of detach/shutdown, reports, scope draining.

use std::sync::{Arc, Mutex};

use orc_rt::dispatcher::InlineDispatcher;
use orc_rt::resource_manager::FnResourceManager;
use orc_rt::{Error, ErrorKind, Session};

type Log = Arc<Mutex<Vec<String>>>;

fn log_manager(log: &Log, name: &'static str) -> FnResourceManager {
    let (l1, l2) = (log.clone(), log.clone());
    FnResourceManager::new(
        name,
        move |sr| {
            l1.lock().unwrap().push(format!("{name}.detach({sr})"));
            Ok(())
        },
        move || {
            l2.lock().unwrap().push(format!("{name}.shutdown"));
            Ok(())
        },
    )
}

#[test]
fn never_attached_session_shuts_down_in_order() {
    let log: Log = Arc::default();
    let session = Session::builder()
        .dispatcher(InlineDispatcher)
        .build()
        .unwrap();
    session.add_resource_manager(log_manager(&log, "a"));
    session.add_resource_manager(log_manager(&log, "b"));
    let l = log.clone();
    session.add_on_detach(move || l.lock().unwrap().push("on_detach".into()));
    let l = log.clone();
    session.add_on_shutdown(move |r| {
        l.lock()
            .unwrap()
            .push(format!("on_shutdown ok={}", r.is_ok()))
    });
    let report = session.wait_for_shutdown().unwrap();
    assert!(report.is_ok());
    assert_eq!(
        *log.lock().unwrap(),
        [
            "b.detach(true)",
            "a.detach(true)",
            "on_detach",
            "b.shutdown",
            "a.shutdown",
            "on_shutdown ok=true"
        ]
    );
    assert_eq!(
        session.try_enter_scope().unwrap_err().kind(),
        ErrorKind::ShuttingDown
    );
    let _ = Error::msg("unused");
}
