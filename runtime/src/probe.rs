//! Coverage probes: the runtime names the rare situations it handles (a
//! continuation whose task was dropped, a manager added while the session
//! drains, ...), so that a test harness can tell whether its runs reached
//! them. A probe costs one thread-local read unless a recorder is installed
//! on the thread that reaches it.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let s = seen.clone();
//! let previous = orc_rt::probe::record_on_this_thread(Some(Arc::new(move |name| {
//!     s.lock().unwrap().push(name)
//! })));
//! orc_rt::probe::hit("example: something rare");
//! orc_rt::probe::record_on_this_thread(previous);
//! assert_eq!(*seen.lock().unwrap(), ["example: something rare"]);
//! ```

use std::cell::RefCell;
use std::sync::Arc;

/// Told the name of each probe reached on the thread it is installed on.
pub type Recorder = Arc<dyn Fn(&'static str) + Send + Sync>;

thread_local! {
    static RECORDER: RefCell<Option<Recorder>> = const { RefCell::new(None) };
}

/// Installs `recorder` on this thread (`None` removes it); returns the
/// one it replaces.
pub fn record_on_this_thread(recorder: Option<Recorder>) -> Option<Recorder> {
    RECORDER
        .try_with(|r| std::mem::replace(&mut *r.borrow_mut(), recorder))
        .unwrap_or(None)
}

/// Probe `name` was reached.
#[inline]
pub fn hit(name: &'static str) {
    let recorder = RECORDER.try_with(|r| r.borrow().clone()).unwrap_or(None);
    if let Some(r) = recorder {
        r(name);
    }
}

/// A continuation of a controller call ran because the dispatcher dropped
/// its task (it completes exactly once anyway).
pub const CONTINUATION_OF_DROPPED_TASK: &str =
    "session: a continuation ran because its task was dropped";
/// A pending controller call was failed by the disconnect drain.
pub const PENDING_CALL_FAILED_AT_DISCONNECT: &str =
    "session: a pending controller call failed at disconnect";
/// A controller call made while disconnecting failed on the caller's thread.
pub const CALL_FAILED_WHILE_DISCONNECTING: &str =
    "session: a controller call made while disconnecting failed at once";
/// A wrapper's result arrived after the controller access was gone.
pub const RESULT_AFTER_DETACH: &str = "session: a result after detach was dropped";
/// A controller call arrived after shutdown began and was dropped.
pub const CALL_AFTER_SHUTDOWN_BEGAN: &str =
    "session: an incoming call after shutdown began was dropped";
/// The on-shutdown callbacks waited for a manager added while draining.
pub const SHUTDOWN_WAITED_FOR_LATE_MANAGER: &str =
    "session: shutdown waited for a manager added late";
/// The last guard was released on another thread than the one that began
/// the drain.
pub const LAST_GUARD_ON_ANOTHER_THREAD: &str =
    "session: the last guard was released on another thread";
/// A task the dispatcher refused ran inline under its own guard.
pub const REFUSED_TASK_RAN_INLINE: &str = "session: a task the dispatcher refused ran inline";

/// Every probe the core declares.
pub const ALL: &[&str] = &[
    CONTINUATION_OF_DROPPED_TASK,
    PENDING_CALL_FAILED_AT_DISCONNECT,
    CALL_FAILED_WHILE_DISCONNECTING,
    RESULT_AFTER_DETACH,
    CALL_AFTER_SHUTDOWN_BEGAN,
    SHUTDOWN_WAITED_FOR_LATE_MANAGER,
    LAST_GUARD_ON_ANOTHER_THREAD,
    REFUSED_TASK_RAN_INLINE,
];
