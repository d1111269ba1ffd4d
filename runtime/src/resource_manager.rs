//! Resource managers: the services a session owns and tears down in order
//! (seed `ResourceManager.h`, newest upstream `Service`).
//!
//! **Invariant:** the session calls [`ResourceManager::detach`] exactly once
//! and always before [`ResourceManager::shutdown`], which it calls exactly
//! once, after every execution-scope guard has been released; managers are
//! visited newest first. Each call completes through its [`OnComplete`],
//! exactly once, possibly later and on another thread. An error passed to
//! it is collected in the session's [`ShutdownReport`](crate::ShutdownReport),
//! and so is a panic (as [`ErrorKind::Panic`]); the sequence goes on.

use std::fmt;

use crate::error::{Error, ErrorKind};

/// A service owned by a session.
pub trait ResourceManager: Send {
    /// A name for error messages; defaults to the type's name.
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }

    /// The controller is gone: after this no further controller requests
    /// arrive, but JIT'd code may still call the manager. Typically a no-op,
    /// or dropping book-keeping that only served the controller.
    /// `shutdown_requested` tells whether a shutdown is already pending.
    fn detach(&mut self, done: OnComplete, shutdown_requested: bool);

    /// Release everything: no JIT'd code runs any more.
    fn shutdown(&mut self, done: OnComplete);
}

/// How a step's completion ended: called with a result, or dropped uncalled.
pub(crate) enum Completion {
    Called(Result<(), Error>),
    Dropped,
}

type DoneFn = Box<dyn FnOnce(Completion) + Send + 'static>;

/// Completes one `detach` or `shutdown` call; consumed by calling it.
///
/// Dropping it without calling it completes the step with an
/// [`ErrorKind::Service`] error, so a forgotten completion is reported and
/// never stalls the session.
#[must_use = "a resource manager must complete every detach and shutdown"]
pub struct OnComplete {
    f: Option<DoneFn>,
    what: &'static str,
}

impl OnComplete {
    /// A completion that calls `f` with the result (for tests and for
    /// driving managers by hand).
    pub fn new(f: impl FnOnce(Result<(), Error>) + Send + 'static) -> Self {
        OnComplete {
            f: Some(Box::new(move |c| match c {
                Completion::Called(r) => f(r),
                Completion::Dropped => f(Err(dropped_error("operation"))),
            })),
            what: "operation",
        }
    }

    /// This completion, with `seen` called first with its outcome: the
    /// result, or `None` if it is dropped uncalled (which then still counts
    /// as dropped, not as a failure of the caller's making: the session
    /// does not report it when the manager panicked). For wrappers that
    /// watch a manager, such as a test harness.
    pub fn observed(
        mut self,
        seen: impl FnOnce(Option<&Result<(), Error>>) + Send + 'static,
    ) -> Self {
        let inner = self.f.take();
        OnComplete {
            f: Some(Box::new(move |c: Completion| {
                seen(match &c {
                    Completion::Called(r) => Some(r),
                    Completion::Dropped => None,
                });
                if let Some(inner) = inner {
                    inner(c);
                }
            })),
            what: self.what,
        }
    }

    pub(crate) fn for_step(what: &'static str, f: DoneFn) -> Self {
        OnComplete { f: Some(f), what }
    }

    /// Reports the outcome.
    pub fn complete(mut self, result: Result<(), Error>) {
        if let Some(f) = self.f.take() {
            f(Completion::Called(result));
        }
    }

    /// Reports success.
    pub fn ok(self) {
        self.complete(Ok(()));
    }

    /// Reports a failure.
    pub fn fail(self, err: Error) {
        self.complete(Err(err));
    }
}

impl Drop for OnComplete {
    fn drop(&mut self) {
        if let Some(f) = self.f.take() {
            f(Completion::Dropped);
        }
    }
}

/// The error for a completion dropped without being called.
pub(crate) fn dropped_error(what: &str) -> Error {
    Error::new(
        ErrorKind::Service,
        format!("{what} completion dropped without being called"),
    )
}

impl fmt::Debug for OnComplete {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnComplete")
            .field("what", &self.what)
            .field("pending", &self.f.is_some())
            .finish()
    }
}

type DetachFn = Box<dyn FnMut(bool) -> Result<(), Error> + Send>;
type ShutdownFn = Box<dyn FnMut() -> Result<(), Error> + Send>;

/// A manager made of two synchronous closures: handy for small services and
/// tests.
pub struct FnResourceManager {
    name: String,
    detach: DetachFn,
    shutdown: ShutdownFn,
}

impl FnResourceManager {
    /// A manager called `name` whose `detach` and `shutdown` run the closures
    /// and complete with their result.
    pub fn new(
        name: impl Into<String>,
        detach: impl FnMut(bool) -> Result<(), Error> + Send + 'static,
        shutdown: impl FnMut() -> Result<(), Error> + Send + 'static,
    ) -> Self {
        FnResourceManager {
            name: name.into(),
            detach: Box::new(detach),
            shutdown: Box::new(shutdown),
        }
    }
}

impl ResourceManager for FnResourceManager {
    fn name(&self) -> &str {
        &self.name
    }

    fn detach(&mut self, done: OnComplete, shutdown_requested: bool) {
        done.complete((self.detach)(shutdown_requested));
    }

    fn shutdown(&mut self, done: OnComplete) {
        done.complete((self.shutdown)());
    }
}

impl fmt::Debug for FnResourceManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnResourceManager")
            .field("name", &self.name)
            .finish()
    }
}

#[cfg(all(test, not(orc_rt_loom)))]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn a_dropped_completion_reports_an_error() {
        let seen = Arc::new(Mutex::new(None));
        let s = seen.clone();
        drop(OnComplete::new(move |r| *s.lock().unwrap() = Some(r)));
        let r = seen.lock().unwrap().take().unwrap();
        assert_eq!(r.unwrap_err().kind(), ErrorKind::Service);
    }

    #[test]
    fn an_observed_completion_sees_the_outcome_and_passes_it_on() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let watch = |log: &Arc<Mutex<Vec<String>>>| {
            let log = log.clone();
            move |o: Option<&Result<(), Error>>| log.lock().unwrap().push(format!("{o:?}"))
        };
        let inner = |log: &Arc<Mutex<Vec<String>>>| {
            let log = log.clone();
            OnComplete::new(move |r| log.lock().unwrap().push(format!("inner {r:?}")))
        };
        inner(&seen).observed(watch(&seen)).ok();
        drop(inner(&seen).observed(watch(&seen)));
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0], "Some(Ok(()))");
        assert_eq!(seen[1], "inner Ok(())");
        assert_eq!(seen[2], "None", "dropped, not called");
        assert!(seen[3].starts_with("inner Err("), "{seen:?}");
        assert_eq!(seen.len(), 4);
    }

    #[test]
    fn fn_manager_passes_results_through() {
        let mut m = FnResourceManager::new(
            "m",
            |sr| if sr { Ok(()) } else { Err(Error::msg("no")) },
            || Ok(()),
        );
        assert_eq!(m.name(), "m");
        let seen = Arc::new(Mutex::new(Vec::new()));
        for sr in [true, false] {
            let s = seen.clone();
            m.detach(
                OnComplete::new(move |r| s.lock().unwrap().push(r.is_ok())),
                sr,
            );
        }
        assert_eq!(*seen.lock().unwrap(), [true, false]);
    }
}
