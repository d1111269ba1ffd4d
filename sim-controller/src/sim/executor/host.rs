//! Host code around the session: named execution-scope guards taken,
//! cloned and released (on another thread, as host code may), on-detach
//! and on-shutdown callbacks, and a blocking wait for shutdown.

use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;

use orc_rt::ExecutionScopeGuard;

use super::super::World;
use crate::lifecycle::Phase;

/// The host program's own thread: host steps that take a guard or wait
/// for shutdown run there, whichever simulated thread plays the script
/// step, so the runtime sees one host thread (it refuses a wait for
/// shutdown on a thread that took a guard still alive). The step waits for
/// the job without yielding, so the run stays deterministic.
#[derive(Default)]
pub(crate) struct HostThread {
    thread: Mutex<Option<(Sender<HostJob>, JoinHandle<()>)>>,
}

/// A job for the host thread.
type HostJob = Box<dyn FnOnce() + Send>;

impl HostThread {
    /// Runs `f` on the host thread (started on first use) and returns its
    /// result.
    fn run<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> R {
        let (reply, result) = channel();
        {
            let mut t = self.thread.lock().unwrap_or_else(|e| e.into_inner());
            let (jobs, _) = t.get_or_insert_with(|| {
                let (tx, rx) = channel::<HostJob>();
                let h = std::thread::Builder::new()
                    .name("sim-host".into())
                    .spawn(move || {
                        for job in rx {
                            job();
                        }
                    })
                    .expect("spawning the simulation's host thread");
                (tx, h)
            });
            let job = Box::new(move || {
                let _ = reply.send(f());
            });
            jobs.send(job)
                .expect("the host thread runs until the world ends");
        }
        result.recv().expect("the host thread answers every job")
    }
}

impl Drop for HostThread {
    fn drop(&mut self) {
        let t = self.thread.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some((jobs, h)) = t.take() {
            drop(jobs);
            let _ = h.join();
        }
    }
}

/// An execution-scope guard the simulation counts (see `book::Live`).
pub(crate) struct SimGuard {
    pub(crate) g: Option<ExecutionScopeGuard>,
    w: Weak<World>,
    host: bool,
}

impl SimGuard {
    /// Counts `g` as held by host code (`host`) or JIT'd code.
    pub(crate) fn new(w: &Arc<World>, g: ExecutionScopeGuard, host: bool) -> Self {
        {
            let mut p = w.parts();
            if host {
                p.book.live.host_guards += 1;
            } else {
                p.book.live.jit_guards += 1;
            }
        }
        SimGuard {
            g: Some(g),
            w: w.me.clone(),
            host,
        }
    }
}

impl Drop for SimGuard {
    fn drop(&mut self) {
        if let Some(g) = self.g.take() {
            if let Some(w) = self.w.upgrade() {
                let mut p = w.parts();
                if self.host {
                    p.book.live.host_guards -= 1;
                } else {
                    p.book.live.jit_guards -= 1;
                }
            }
            // Released outside the lock: the last release runs the rest of
            // shutdown on this thread.
            drop(g);
        }
    }
}

/// Checks a granted guard against what the spec allows.
pub(crate) fn check_grant(w: &World, actor: &str) {
    let mut p = w.parts();
    if p.checks.denied_seen {
        p.log.violation(format!(
            "{actor}: a guard was granted after an earlier one was denied"
        ));
    }
    if p.checks.rm_shutdown_started {
        p.log.violation(format!(
            "{actor}: a guard was granted after managers began shutting down"
        ));
    }
}

/// The `enter G` step.
pub(crate) fn enter(w: &Arc<World>, name: &str) {
    let session = w.session();
    match w.host.run(move || session.try_enter_scope()) {
        Ok(g) => {
            check_grant(w, "host");
            let g = SimGuard::new(w, g, true);
            let mut p = w.parts();
            p.log.note("host", format!("enter {name}: ok"));
            p.book.keep_guard(name, g);
        }
        Err(e) => {
            let mut p = w.parts();
            p.checks.denied_seen = true;
            p.log.note(
                "host",
                format!("enter {name}: denied ({}: {})", e.kind(), e.message()),
            );
        }
    }
}

/// The `clone G G2` step.
pub(crate) fn clone(w: &Arc<World>, from: &str, to: &str) {
    let cloned = w
        .parts()
        .book
        .guard(from)
        .and_then(|g| g.g.as_ref().cloned());
    match cloned {
        Some(g) if g.is_held() => {
            check_grant(w, "host");
            let g = SimGuard::new(w, g, true);
            let mut p = w.parts();
            p.log.note("host", format!("clone {from} as {to}: held"));
            p.book.keep_guard(to, g);
        }
        Some(_) => {
            let mut p = w.parts();
            p.checks.denied_seen = true;
            p.log.note(
                "host",
                format!("clone {from} as {to}: empty (the scope is closed)"),
            );
        }
        None => w.note("host", format!("clone {from}: it is not held")),
    }
}

/// The `leave G` step.
pub(crate) fn leave(w: &Arc<World>, name: &str) {
    let g = {
        let mut p = w.parts();
        let g = p.book.take_guard(name);
        let text = if g.is_some() {
            format!("leave {name} (released on another thread)")
        } else {
            format!("leave {name}: it was not held")
        };
        p.log.note("host", text);
        g
    };
    // Guards are Send: release it on another thread, as host code may.
    if let Some(g) = g
        && std::thread::spawn(move || drop(g)).join().is_err()
    {
        w.violation("releasing a guard on another thread panicked");
    }
}

/// The `wait-shutdown` step: host code blocks in `wait_for_shutdown`.
/// Holding a guard, the wait could never end: the runtime must refuse it.
pub(crate) fn wait_shutdown(w: &Arc<World>) {
    let holds = w.parts().book.live.host_guards;
    w.note(
        "host",
        format!("wait_for_shutdown() (holding {holds} guard(s))"),
    );
    let session = w.session();
    match w.host.run(move || session.wait_for_shutdown()) {
        Ok(r) => w.note(
            "host",
            format!("wait_for_shutdown → shut down ({} errors)", r.errors.len()),
        ),
        Err(e) => w.note(
            "host",
            format!("wait_for_shutdown → error {}: {}", e.kind(), e.message()),
        ),
    }
}

/// Registers an on-detach callback that logs.
pub(crate) fn on_detach(w: &Arc<World>, name: &str) {
    let late = w.session().state() >= orc_rt::SessionState::Detached;
    let reg = {
        let mut p = w.parts();
        p.log.note("script", format!("add_on_detach({name})"));
        p.checks
            .lifecycle
            .callback_added(&format!("cb {name}"), Phase::Detach, !late)
    };
    let weak = w.me.clone();
    let name = name.to_owned();
    w.session().add_on_detach(move || {
        if let Some(w) = weak.upgrade() {
            let mut p = w.parts();
            p.log.note(format!("cb {name}"), "on-detach");
            p.checks.lifecycle.callback_ran(reg);
        }
    });
}

/// Registers an on-shutdown callback that logs.
pub(crate) fn on_shutdown(w: &Arc<World>, name: &str) {
    let late = w.session().is_shut_down();
    let reg = {
        let mut p = w.parts();
        p.log.note("script", format!("add_on_shutdown({name})"));
        p.checks
            .lifecycle
            .callback_added(&format!("cb {name}"), Phase::Shutdown, !late)
    };
    let weak = w.me.clone();
    let name = name.to_owned();
    w.session().add_on_shutdown(move |_| {
        if let Some(w) = weak.upgrade() {
            let mut p = w.parts();
            p.log.note(format!("cb {name}"), "on-shutdown");
            p.checks.lifecycle.callback_ran(reg);
        }
    });
}
