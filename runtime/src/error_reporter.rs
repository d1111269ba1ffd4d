//! Where errors go that have no caller to return to: the [`ReportError`]
//! sink that helpers such as
//! [`run_dealloc_actions`](crate::alloc_action::run_dealloc_actions) take,
//! and [`ReportErrorsViaSession`] (upstream's functor of that name), which
//! hands them to a session's error reporter.

use std::fmt;

use crate::error::Error;
use crate::session::SessionHandle;

/// A sink for errors nobody returns to. Any `FnMut(Error)` is one.
pub trait ReportError {
    /// Takes one error.
    fn report(&mut self, err: Error);
}

impl<F: FnMut(Error)> ReportError for F {
    fn report(&mut self, err: Error) {
        self(err);
    }
}

/// Reports errors through a session's error reporter (upstream
/// `ReportErrorsViaSession`). Holds a [`SessionHandle`], so it may be kept,
/// cloned and sent to other threads.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use orc_rt::{Error, ReportError, Session, dispatcher::InlineDispatcher};
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let s = seen.clone();
/// let session = Session::builder()
///     .dispatcher(InlineDispatcher)
///     .error_reporter(move |e| s.lock().unwrap().push(e.to_string()))
///     .build()
///     .unwrap();
/// let mut report = session.error_reporter();
/// report.report(Error::msg("foo"));
/// assert_eq!(*seen.lock().unwrap(), ["foo"]);
/// ```
#[derive(Clone)]
pub struct ReportErrorsViaSession {
    session: SessionHandle,
}

impl ReportErrorsViaSession {
    /// A sink for `session`'s error reporter.
    pub fn new(session: &SessionHandle) -> Self {
        ReportErrorsViaSession {
            session: session.clone(),
        }
    }

    /// Reports `err` (callable through a shared reference, unlike
    /// [`ReportError::report`]).
    pub fn report_error(&self, err: Error) {
        self.session.report_error(err);
    }
}

impl ReportError for ReportErrorsViaSession {
    fn report(&mut self, err: Error) {
        self.report_error(err);
    }
}

impl fmt::Debug for ReportErrorsViaSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReportErrorsViaSession")
            .finish_non_exhaustive()
    }
}

impl SessionHandle {
    /// A sink that reports errors through this session's error reporter
    /// (upstream `ReportErrorsViaSession(S)`).
    pub fn error_reporter(&self) -> ReportErrorsViaSession {
        ReportErrorsViaSession::new(self)
    }
}
