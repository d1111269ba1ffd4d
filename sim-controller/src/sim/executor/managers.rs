//! Simulated resource managers: each logs its callbacks and completes as
//! its declaration says (ok, fail, panic, forget; now or N ticks later;
//! after requesting shutdown, adding a manager or waiting for shutdown from
//! inside the callback).

use std::sync::{Arc, Weak};

use orc_rt::{Error, ErrorKind, OnComplete, ResourceManager};

use super::super::World;
use crate::lifecycle::{ManagerId, Phase};
use crate::scenario::{Behaviour, ManagerDecl, Outcome};

/// Injected panics (`panic "..."` in scripts) are expected: keep them out
/// of stderr, and let every other panic through to the previous hook.
pub(crate) fn quiet_injected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let p = info.payload();
            let injected = p
                .downcast_ref::<String>()
                .is_some_and(|s| s.starts_with("[sim] "))
                || p.downcast_ref::<&str>()
                    .is_some_and(|s| s.starts_with("[sim] "));
            if !injected {
                prev(info);
            }
        }));
    });
}

/// Panics the way scripts ask (quietly, see [`quiet_injected_panics`]).
pub(crate) fn injected_panic(msg: &str) -> ! {
    std::panic::panic_any(format!("[sim] {msg}"))
}

/// See the module docs.
struct SimManager {
    w: Weak<World>,
    index: ManagerId,
    decl: ManagerDecl,
    /// The session it belongs to.
    s: usize,
}

/// Registers manager `m` with its session (at build, or late): the one it
/// names (`in SESSION`), else session `context` (the default one, or the
/// session of the callback that adds it).
pub(crate) fn add(w: &Arc<World>, m: &ManagerDecl, late: bool, context: usize) {
    let s = m
        .session
        .as_deref()
        .map_or(context, |n| w.session_index(Some(n)));
    let actor = w.member(s, "rm", &m.name);
    let index = {
        let mut p = w.parts();
        if late {
            p.log.note(
                "script",
                format!("add manager {}{} (late)", m.name, w.in_session(s)),
            );
        }
        p.checks.sessions[s].lifecycle.manager_added(&actor, !late)
    };
    w.session_at(s).add_resource_manager(SimManager {
        w: w.me.clone(),
        index,
        decl: m.clone(),
        s,
    });
}

impl SimManager {
    fn actor(&self, w: &World) -> String {
        w.member(self.s, "rm", &self.decl.name)
    }

    /// The session a behaviour names (`None`: the manager's own), and how
    /// the transcript calls its methods: `B.` for another session, nothing
    /// for its own.
    fn target(&self, w: &World, named: &Option<String>) -> (usize, String) {
        let t = named
            .as_deref()
            .map_or(self.s, |n| w.session_index(Some(n)));
        let prefix = if t == self.s {
            String::new()
        } else {
            w.method(t, "")
        };
        (t, prefix)
    }

    fn complete(&self, w: &Arc<World>, what: &'static str, b: &Behaviour, done: OnComplete) {
        let actor = self.actor(w);
        if let Some(named) = &b.request_shutdown {
            let (t, on) = self.target(w, named);
            let of = match named {
                Some(n) if t != self.s => format!(" of {n}"),
                _ => String::new(),
            };
            w.note(&actor, format!("requests shutdown{of} from inside {what}"));
            w.session_at(t).shutdown();
            w.note(&actor, format!("{on}shutdown() returned"));
        }
        if let Some(m) = &b.add_manager {
            w.note(
                &actor,
                format!("adds manager {} from inside {what}", m.name),
            );
            add(w, m, true, self.s);
        }
        if let Some(named) = &b.wait_shutdown {
            let (t, on) = self.target(w, named);
            w.note(
                &actor,
                format!("{on}wait_for_shutdown() from inside {what}"),
            );
            match w.session_at(t).wait_for_shutdown() {
                Ok(_) => w.note(&actor, format!("{on}wait_for_shutdown → shut down")),
                Err(e) => w.note(
                    &actor,
                    format!(
                        "{on}wait_for_shutdown → error {}: {}",
                        e.kind(),
                        e.message()
                    ),
                ),
            }
        }
        let outcome = b.outcome.clone();
        let s = self.s;
        match b.after {
            Some(n) if !matches!(outcome, Outcome::Panic(_)) => {
                w.note(&actor, format!("{what} completes in {n} ticks"));
                let idx = self.index;
                w.after(n, move |w| {
                    finish_step(w, &actor, (s, idx), what, outcome, done)
                });
            }
            _ => finish_step(w, &actor, (s, self.index), what, outcome, done),
        }
    }
}

/// Completes manager `idx` of session `s`'s step `what` as `outcome`
/// says.
fn finish_step(
    w: &Arc<World>,
    actor: &str,
    (s, idx): (usize, ManagerId),
    what: &'static str,
    outcome: Outcome,
    done: OnComplete,
) {
    let text = match &outcome {
        Outcome::Ok => format!("{what} done: ok"),
        Outcome::Fail(m) => format!("{what} done: error {m:?}"),
        Outcome::Forget => format!("{what} drops its completion without calling it"),
        Outcome::Panic(m) => format!("{what} panics: {m}"),
    };
    {
        let mut p = w.parts();
        p.log.note(actor, text);
        p.checks.sessions[s]
            .lifecycle
            .manager_completed(idx, phase(what));
    }
    match outcome {
        Outcome::Ok => done.ok(),
        Outcome::Fail(m) => done.fail(Error::new(ErrorKind::Service, m)),
        Outcome::Forget => drop(done),
        Outcome::Panic(m) => {
            drop(done);
            injected_panic(&m);
        }
    }
}

/// The lifecycle phase a step's name (`"detach"`, `"shutdown"`) stands for.
fn phase(what: &str) -> Phase {
    if what == "detach" {
        Phase::Detach
    } else {
        Phase::Shutdown
    }
}

impl ResourceManager for SimManager {
    fn name(&self) -> &str {
        &self.decl.name
    }

    fn detach(&mut self, done: OnComplete, shutdown_requested: bool) {
        let Some(w) = self.w.upgrade() else { return };
        {
            let actor = self.actor(&w);
            let mut p = w.parts();
            p.log.note(
                actor,
                format!("detach(shutdown_requested={shutdown_requested})"),
            );
            p.checks.sessions[self.s]
                .lifecycle
                .manager_called(self.index, Phase::Detach);
        }
        let b = self.decl.detach.clone();
        self.complete(&w, "detach", &b, done);
    }

    fn shutdown(&mut self, done: OnComplete) {
        let Some(w) = self.w.upgrade() else { return };
        {
            let actor = self.actor(&w);
            let mut p = w.parts();
            p.log.note(&actor, "shutdown");
            let c = &mut p.checks.sessions[self.s];
            c.lifecycle.manager_called(self.index, Phase::Shutdown);
            c.rm_shutdown_started = true;
            // Only the guards of its own session hold a manager up.
            let live = p.book.live[self.s];
            if live.total() > 0 {
                p.log.violation(format!(
                    "{actor}: shutdown called while the execution scope is still retained ({})",
                    live.describe()
                ));
            }
        }
        let b = self.decl.shutdown.clone();
        self.complete(&w, "shutdown", &b, done);
    }
}
