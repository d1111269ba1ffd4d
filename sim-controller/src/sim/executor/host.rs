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
    /// The session whose scope it holds.
    pub(crate) s: usize,
}

impl SimGuard {
    /// Counts `g`, a guard of session `s`, as held by host code (`host`)
    /// or JIT'd code.
    pub(crate) fn new(w: &Arc<World>, s: usize, g: ExecutionScopeGuard, host: bool) -> Self {
        {
            let mut p = w.parts();
            if host {
                p.book.live[s].host_guards += 1;
            } else {
                p.book.live[s].jit_guards += 1;
            }
        }
        SimGuard {
            g: Some(g),
            w: w.me.clone(),
            host,
            s,
        }
    }
}

impl Drop for SimGuard {
    fn drop(&mut self) {
        if let Some(g) = self.g.take() {
            if let Some(w) = self.w.upgrade() {
                let mut p = w.parts();
                if self.host {
                    p.book.live[self.s].host_guards -= 1;
                } else {
                    p.book.live[self.s].jit_guards -= 1;
                }
            }
            // Released outside the lock: the last release runs the rest of
            // shutdown on this thread.
            drop(g);
        }
    }
}

/// Checks a guard of session `s` just granted against what the spec
/// allows (each session's scope on its own).
pub(crate) fn check_grant(w: &World, s: usize, actor: &str) {
    let mut p = w.parts();
    let c = &p.checks.sessions[s];
    let (denied, shutting_down) = (c.denied_seen, c.rm_shutdown_started);
    let of = match s {
        0 => String::new(),
        s => format!(" of session {}", w.sc.sessions[s - 1].name),
    };
    if denied {
        p.log.violation(format!(
            "{actor}: a guard{of} was granted after an earlier one was denied"
        ));
    }
    if shutting_down {
        p.log.violation(format!(
            "{actor}: a guard{of} was granted after managers began shutting down"
        ));
    }
}

/// The `enter G [in SESSION]` step.
pub(crate) fn enter(w: &Arc<World>, name: &str, s: usize) {
    let session = w.session_at(s);
    let what = format!("enter {name}{}", w.in_session(s));
    match w.host.run(move || session.try_enter_scope()) {
        Ok(g) => {
            check_grant(w, s, "host");
            let g = SimGuard::new(w, s, g, true);
            let mut p = w.parts();
            p.log.note("host", format!("{what}: ok"));
            p.book.keep_guard(name, g);
        }
        Err(e) => {
            let mut p = w.parts();
            p.checks.sessions[s].denied_seen = true;
            p.log.note(
                "host",
                format!("{what}: denied ({}: {})", e.kind(), e.message()),
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
        .and_then(|g| Some((g.s, g.g.as_ref().cloned()?)));
    match cloned {
        Some((s, g)) if g.is_held() => {
            check_grant(w, s, "host");
            let g = SimGuard::new(w, s, g, true);
            let mut p = w.parts();
            p.log.note("host", format!("clone {from} as {to}: held"));
            p.book.keep_guard(to, g);
        }
        Some((s, _)) => {
            let mut p = w.parts();
            p.checks.sessions[s].denied_seen = true;
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

/// The `wait-shutdown [SESSION]` step: host code blocks in the session's
/// `wait_for_shutdown`. Holding a guard of that session, the wait could
/// never end: the runtime must refuse it. A guard of another session does
/// not hold this one up: the wait must be granted (it blocks for real, so
/// the session's shutdown must complete on the spot).
pub(crate) fn wait_shutdown(w: &Arc<World>, s: usize) {
    let holds: u64 = w.parts().book.live.iter().map(|l| l.host_guards).sum();
    let call = w.method(s, "wait_for_shutdown");
    w.note("host", format!("{call}() (holding {holds} guard(s))"));
    let session = w.session_at(s);
    match w.host.run(move || session.wait_for_shutdown()) {
        Ok(r) => w.note(
            "host",
            format!("{call} → shut down ({} errors)", r.errors.len()),
        ),
        Err(e) => w.note(
            "host",
            format!("{call} → error {}: {}", e.kind(), e.message()),
        ),
    }
}

/// Registers an on-detach callback of session `s` that logs.
pub(crate) fn on_detach(w: &Arc<World>, name: &str, s: usize) {
    let session = w.session_at(s);
    let late = session.state() >= orc_rt::SessionState::Detached;
    let actor = w.member(s, "cb", name);
    let reg = {
        let mut p = w.parts();
        p.log.note(
            "script",
            format!("{}({name})", w.method(s, "add_on_detach")),
        );
        p.checks.sessions[s]
            .lifecycle
            .callback_added(&actor, Phase::Detach, !late)
    };
    let weak = w.me.clone();
    session.add_on_detach(move || {
        if let Some(w) = weak.upgrade() {
            let mut p = w.parts();
            p.log.note(actor, "on-detach");
            p.checks.sessions[s].lifecycle.callback_ran(reg);
        }
    });
}

/// Registers an on-shutdown callback of session `s` that logs.
pub(crate) fn on_shutdown(w: &Arc<World>, name: &str, s: usize) {
    let session = w.session_at(s);
    let late = session.is_shut_down();
    let actor = w.member(s, "cb", name);
    let reg = {
        let mut p = w.parts();
        p.log.note(
            "script",
            format!("{}({name})", w.method(s, "add_on_shutdown")),
        );
        p.checks.sessions[s]
            .lifecycle
            .callback_added(&actor, Phase::Shutdown, !late)
    };
    let weak = w.me.clone();
    session.add_on_shutdown(move |_| {
        if let Some(w) = weak.upgrade() {
            let mut p = w.parts();
            p.log.note(actor, "on-shutdown");
            p.checks.sessions[s].lifecycle.callback_ran(reg);
        }
    });
}
