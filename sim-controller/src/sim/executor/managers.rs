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
}

/// Registers manager `m` with the session (at build, or late).
pub(crate) fn add(w: &Arc<World>, m: &ManagerDecl, late: bool) {
    let index = {
        let mut p = w.parts();
        if late {
            p.log
                .note("script", format!("add manager {} (late)", m.name));
        }
        p.checks
            .lifecycle
            .manager_added(&format!("rm {}", m.name), !late)
    };
    w.session().add_resource_manager(SimManager {
        w: w.me.clone(),
        index,
        decl: m.clone(),
    });
}

impl SimManager {
    fn actor(&self) -> String {
        format!("rm {}", self.decl.name)
    }

    fn complete(&self, w: &Arc<World>, what: &'static str, b: &Behaviour, done: OnComplete) {
        let actor = self.actor();
        if b.request_shutdown {
            w.note(&actor, format!("requests shutdown from inside {what}"));
            w.session().shutdown();
            w.note(&actor, "shutdown() returned");
        }
        if let Some(m) = &b.add_manager {
            w.note(
                &actor,
                format!("adds manager {} from inside {what}", m.name),
            );
            add(w, m, true);
        }
        if b.wait_shutdown {
            w.note(&actor, format!("wait_for_shutdown() from inside {what}"));
            match w.session().wait_for_shutdown() {
                Ok(_) => w.note(&actor, "wait_for_shutdown → shut down"),
                Err(e) => w.note(
                    &actor,
                    format!("wait_for_shutdown → error {}: {}", e.kind(), e.message()),
                ),
            }
        }
        let outcome = b.outcome.clone();
        match b.after {
            Some(n) if !matches!(outcome, Outcome::Panic(_)) => {
                w.note(&actor, format!("{what} completes in {n} ticks"));
                let idx = self.index;
                w.after(n, move |w| finish_step(w, &actor, idx, what, outcome, done));
            }
            _ => finish_step(w, &actor, self.index, what, outcome, done),
        }
    }
}

fn finish_step(
    w: &Arc<World>,
    actor: &str,
    idx: ManagerId,
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
        p.checks.lifecycle.manager_completed(idx, phase(what));
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
            let mut p = w.parts();
            p.log.note(
                self.actor(),
                format!("detach(shutdown_requested={shutdown_requested})"),
            );
            p.checks.lifecycle.manager_called(self.index, Phase::Detach);
        }
        let b = self.decl.detach.clone();
        self.complete(&w, "detach", &b, done);
    }

    fn shutdown(&mut self, done: OnComplete) {
        let Some(w) = self.w.upgrade() else { return };
        {
            let mut p = w.parts();
            p.log.note(self.actor(), "shutdown");
            p.checks
                .lifecycle
                .manager_called(self.index, Phase::Shutdown);
            p.checks.rm_shutdown_started = true;
            if p.book.live.total() > 0 {
                let held = p.book.live.describe();
                p.log.violation(format!(
                    "rm {}: shutdown called while the execution scope is still retained ({held})",
                    self.decl.name
                ));
            }
        }
        let b = self.decl.shutdown.clone();
        self.complete(&w, "shutdown", &b, done);
    }
}
