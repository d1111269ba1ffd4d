//! The session's lifecycle rules as one checker, for every harness that
//! drives a session: orc-sim's runs, the `session_ops` fuzz oracle, and
//! tests of your own resource managers.
//!
//! The harness records what it saw, in the order it saw it (a manager's
//! `detach` was called, it completed, a callback ran, the disconnect was
//! reported, ...), and asks [`Lifecycle::violations`] at any point for the
//! rules a prefix of a run can already break, and
//! [`Lifecycle::end_violations`] once the run is over for the rules about
//! what must have happened. The rules (`docs/runtime.md`):
//!
//! - at most once: each manager's `detach` and `shutdown` and their
//!   completions, each callback, the disconnect report, each result of an
//!   incoming call, each completion of a controller call, each dispatched
//!   task (spec 6, 7.5, 8.6, 8.7, 9);
//! - a completion only for a call made; a manager's `shutdown` only after
//!   its own `detach` completed (spec 8.7, "managers added late"); a call
//!   the access refused is never answered, a task `dispatch` refused never
//!   runs;
//! - with an on-disconnect handler: the report before any `detach`, and
//!   nothing reaches the controller after it (spec 7.4, 8.6 step 2);
//! - managers in the detach snapshot: `detach` newest first, each after
//!   the newer one completed; `shutdown` the same, and only once every
//!   `detach` of the snapshot completed (spec 8.6 step 4, 8.7 step 3);
//! - callbacks added before their phase began: newest first, after every
//!   snapshot manager completed the phase; on-detach callbacks before any
//!   `shutdown` (spec 8.6 step 5, 8.7 step 4);
//! - at the end: a detached session reported its disconnect once and ran
//!   every on-detach callback; a shut-down session called and completed
//!   every manager's `detach` and `shutdown` once, ran every on-shutdown
//!   callback, completed every controller call and ran every dispatched
//!   task (unless its dispatcher may drop queued work); an access that
//!   promises it answered every call it did not refuse.
//!
//! What a harness cannot know for sure it declares conservatively: a
//! manager added while the session may already be detaching is not
//! `in_snapshot`; a callback added while its phase may already be running
//! is not `ordered`. Such entries are still checked for "at most once" and
//! "exactly once at the end".
//!
//! ```
//! use orc_sim::lifecycle::{End, Lifecycle, Phase};
//!
//! let mut l = Lifecycle::new(true);
//! let older = l.manager_added("older", true);
//! let newer = l.manager_added("newer", true);
//! l.disconnect_reported();
//! l.manager_called(older, Phase::Detach); // the wrong one first
//! assert!(l.violations()[0].contains("older: detach called before newer"));
//! # let _ = (newer, End::default());
//! ```

use std::collections::HashMap;

/// A manager's two calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// `ResourceManager::detach` and the on-detach callbacks.
    Detach,
    /// `ResourceManager::shutdown` and the on-shutdown callbacks.
    Shutdown,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Detach => "detach",
            Phase::Shutdown => "shutdown",
        }
    }
}

/// A resource manager, as [`Lifecycle::manager_added`] numbered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ManagerId(usize);

/// An on-detach or on-shutdown callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallbackId(usize);

/// A call from the controller to the executor the session accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IncomingId(usize);

/// A call from the executor to the controller (`call_controller`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControllerCallId(usize);

/// A task handed to `dispatch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskId(usize);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Event {
    Called(ManagerId, Phase),
    Completed(ManagerId, Phase),
    Ran(CallbackId),
    Disconnect,
    Answered(IncomingId),
    Refused(IncomingId),
    /// A controller call reached the controller.
    Reached(ControllerCallId),
    CallCompleted(ControllerCallId),
    TaskRan(TaskId),
    TaskRefused(TaskId),
}

#[derive(Debug)]
struct Manager {
    name: String,
    in_snapshot: bool,
}

#[derive(Debug)]
struct Callback {
    name: String,
    phase: Phase,
    ordered: bool,
}

/// How a run ended, for [`Lifecycle::end_violations`].
#[derive(Debug, Clone, Copy, Default)]
pub struct End {
    /// The session reached `Detached` (or later).
    pub detached: bool,
    /// The session reached `ShutDown` and ran its on-shutdown callbacks.
    pub shut_down: bool,
    /// The dispatcher may discard queued tasks at shutdown, so a task (and
    /// a controller call whose continuation was such a task) may never
    /// run.
    pub tasks_may_be_dropped: bool,
    /// The controller access answers every call it delivered (with the
    /// result or an error), as the in-process access does at disconnect.
    pub incoming_all_answered: bool,
}

/// The records of one session's run; see the module docs.
#[derive(Debug, Default)]
pub struct Lifecycle {
    disconnect_handler: bool,
    events: Vec<Event>,
    managers: Vec<Manager>,
    callbacks: Vec<Callback>,
    incoming: usize,
    controller_calls: usize,
    tasks: usize,
}

impl Lifecycle {
    /// A new record; `disconnect_handler`: the session has an on-disconnect
    /// handler, so its report is observable.
    pub fn new(disconnect_handler: bool) -> Self {
        Lifecycle {
            disconnect_handler,
            ..Lifecycle::default()
        }
    }

    /// A manager was added; `in_snapshot`: surely before the session began
    /// to detach.
    pub fn manager_added(&mut self, name: &str, in_snapshot: bool) -> ManagerId {
        self.managers.push(Manager {
            name: name.to_owned(),
            in_snapshot,
        });
        ManagerId(self.managers.len() - 1)
    }

    /// The session called the manager's `detach` or `shutdown`.
    pub fn manager_called(&mut self, m: ManagerId, phase: Phase) {
        self.events.push(Event::Called(m, phase));
    }

    /// The manager completed (successfully or not, or dropped its
    /// completion, or panicked) the call.
    pub fn manager_completed(&mut self, m: ManagerId, phase: Phase) {
        self.events.push(Event::Completed(m, phase));
    }

    /// An on-detach or on-shutdown callback was added; `ordered`: surely
    /// before its phase began, so it runs in the phase's order.
    pub fn callback_added(&mut self, name: &str, phase: Phase, ordered: bool) -> CallbackId {
        self.callbacks.push(Callback {
            name: name.to_owned(),
            phase,
            ordered,
        });
        CallbackId(self.callbacks.len() - 1)
    }

    /// The callback ran.
    pub fn callback_ran(&mut self, c: CallbackId) {
        self.events.push(Event::Ran(c));
    }

    /// Whether the callback has run.
    pub fn has_run(&self, c: CallbackId) -> bool {
        self.events.contains(&Event::Ran(c))
    }

    /// Whether the disconnect was reported.
    pub fn disconnected(&self) -> bool {
        self.events.contains(&Event::Disconnect)
    }

    /// The on-disconnect handler ran.
    pub fn disconnect_reported(&mut self) {
        self.events.push(Event::Disconnect);
    }

    /// The controller sent an incoming call (the access may still refuse
    /// it: [`incoming_refused`](Self::incoming_refused)).
    pub fn incoming_sent(&mut self) -> IncomingId {
        self.incoming += 1;
        IncomingId(self.incoming - 1)
    }

    /// The access refused the call at once: no answer is owed.
    pub fn incoming_refused(&mut self, c: IncomingId) {
        self.events.push(Event::Refused(c));
    }

    /// The controller got the result of an incoming call.
    pub fn incoming_answered(&mut self, c: IncomingId) {
        self.events.push(Event::Answered(c));
    }

    /// The executor called the controller.
    pub fn controller_call_started(&mut self) -> ControllerCallId {
        self.controller_calls += 1;
        ControllerCallId(self.controller_calls - 1)
    }

    /// The controller's handler got the call.
    pub fn controller_call_reached(&mut self, c: ControllerCallId) {
        self.events.push(Event::Reached(c));
    }

    /// The call's continuation ran (with a result or an error).
    pub fn controller_call_completed(&mut self, c: ControllerCallId) {
        self.events.push(Event::CallCompleted(c));
    }

    /// A task was handed to `dispatch` (which may still refuse it:
    /// [`task_refused`](Self::task_refused)).
    pub fn task_submitted(&mut self) -> TaskId {
        self.tasks += 1;
        TaskId(self.tasks - 1)
    }

    /// `dispatch` refused the task: it must never run.
    pub fn task_refused(&mut self, t: TaskId) {
        self.events.push(Event::TaskRefused(t));
    }

    /// The task ran.
    pub fn task_ran(&mut self, t: TaskId) {
        self.events.push(Event::TaskRan(t));
    }

    /// The rules a run can break at any point, as messages naming the
    /// managers and callbacks; empty if none is broken.
    pub fn violations(&self) -> Vec<String> {
        let mut v = Vec::new();
        let mut index: HashMap<Event, (usize, usize)> = HashMap::with_capacity(self.events.len());
        for (i, e) in self.events.iter().enumerate() {
            index.entry(*e).or_insert((i, 0)).1 += 1;
        }
        let pos = |e: Event| index.get(&e).map(|&(p, _)| p);
        for (e, &(_, n)) in &index {
            if n > 1 {
                v.push(format!("{} {n} times", self.describe(*e)));
            }
        }
        let disconnect = pos(Event::Disconnect);

        for (i, m) in self.managers.iter().enumerate() {
            let id = ManagerId(i);
            for phase in [Phase::Detach, Phase::Shutdown] {
                if let Some(done) = pos(Event::Completed(id, phase))
                    && pos(Event::Called(id, phase)).is_none_or(|c| c > done)
                {
                    v.push(format!(
                        "{}: completed a {} never called",
                        m.name,
                        phase.name()
                    ));
                }
            }
            if let Some(s) = pos(Event::Called(id, Phase::Shutdown))
                && pos(Event::Completed(id, Phase::Detach)).is_none_or(|d| d > s)
            {
                v.push(format!(
                    "{}: shutdown called before its detach completed",
                    m.name
                ));
            }
            if self.disconnect_handler
                && let Some(d) = pos(Event::Called(id, Phase::Detach))
                && disconnect.is_none_or(|r| r > d)
            {
                v.push(format!(
                    "{}: detach called before the disconnect report",
                    m.name
                ));
            }
        }

        // After the report the controller hears nothing (spec 7.4).
        if self.disconnect_handler
            && let Some(d) = disconnect
        {
            for e in &self.events[d..] {
                if matches!(e, Event::Answered(_) | Event::Reached(_)) {
                    v.push(format!("{} after the disconnect report", self.describe(*e)));
                }
            }
        }

        // A refused call or task goes no further.
        for c in 0..self.incoming {
            if pos(Event::Refused(IncomingId(c))).is_some()
                && pos(Event::Answered(IncomingId(c))).is_some()
            {
                v.push(format!("incoming call #{c} was refused but answered"));
            }
        }
        for t in 0..self.tasks {
            if pos(Event::TaskRefused(TaskId(t))).is_some()
                && pos(Event::TaskRan(TaskId(t))).is_some()
            {
                v.push(format!("task #{t} was refused but ran"));
            }
        }

        // The snapshot: newest first, each after the newer one completed.
        let snapshot: Vec<ManagerId> = (0..self.managers.len())
            .filter(|&i| self.managers[i].in_snapshot)
            .map(ManagerId)
            .collect();
        for phase in [Phase::Detach, Phase::Shutdown] {
            for pair in snapshot.windows(2) {
                let (older, newer) = (pair[0], pair[1]);
                if let Some(c) = pos(Event::Called(older, phase))
                    && pos(Event::Completed(newer, phase)).is_none_or(|d| d > c)
                {
                    v.push(format!(
                        "{}: {} called before {} (newer) completed its {}",
                        self.managers[older.0].name,
                        phase.name(),
                        self.managers[newer.0].name,
                        phase.name()
                    ));
                }
            }
        }
        // Where the snapshot finished a phase, if it did.
        let phase_done = |phase: Phase| -> Option<usize> {
            snapshot
                .iter()
                .map(|&m| pos(Event::Completed(m, phase)))
                .try_fold(None, |acc: Option<usize>, p| p.map(|p| acc.max(Some(p))))
                .map(|p| p.unwrap_or(0))
        };
        let detach_done = phase_done(Phase::Detach);
        let shutdown_done = phase_done(Phase::Shutdown);
        for &m in &snapshot {
            if let Some(s) = pos(Event::Called(m, Phase::Shutdown))
                && detach_done.is_none_or(|d| d > s)
            {
                v.push(format!(
                    "{}: shutdown called before every detach completed",
                    self.managers[m.0].name
                ));
            }
        }

        // Ordered callbacks: after their phase's managers, newest first;
        // the on-detach ones before any shutdown.
        let first_shutdown = snapshot
            .iter()
            .filter_map(|&m| pos(Event::Called(m, Phase::Shutdown)))
            .min();
        for phase in [Phase::Detach, Phase::Shutdown] {
            let done = if phase == Phase::Detach {
                detach_done
            } else {
                shutdown_done
            };
            let ordered: Vec<usize> = (0..self.callbacks.len())
                .filter(|&i| self.callbacks[i].ordered && self.callbacks[i].phase == phase)
                .collect();
            for &c in &ordered {
                let cb = &self.callbacks[c];
                let ran = pos(Event::Ran(CallbackId(c)));
                if let Some(r) = ran
                    && done.is_none_or(|d| d > r)
                {
                    v.push(format!(
                        "{} ({}) ran before every manager's {} completed",
                        cb.name,
                        phase_callbacks(phase),
                        phase.name()
                    ));
                }
                if phase == Phase::Detach
                    && let Some(s) = first_shutdown
                    && ran.is_none_or(|r| r > s)
                {
                    v.push(format!(
                        "{} (on-detach) had not run when the first shutdown was called",
                        cb.name
                    ));
                }
            }
            for pair in ordered.windows(2) {
                let (older, newer) = (pair[0], pair[1]);
                if let Some(o) = pos(Event::Ran(CallbackId(older)))
                    && pos(Event::Ran(CallbackId(newer))).is_none_or(|n| n > o)
                {
                    v.push(format!(
                        "{} ran before {} ({} callbacks run newest first)",
                        self.callbacks[older].name,
                        self.callbacks[newer].name,
                        phase_callbacks(phase)
                    ));
                }
            }
        }
        v.sort();
        v
    }

    /// [`violations`](Self::violations) plus the rules about what must have
    /// happened by the end of a run that ended as `end` says.
    pub fn end_violations(&self, end: End) -> Vec<String> {
        let mut v = self.violations();
        let mut count: HashMap<Event, usize> = HashMap::new();
        for e in &self.events {
            *count.entry(*e).or_default() += 1;
        }
        let happened = |e: Event| count.get(&e).copied().unwrap_or(0) > 0;
        if end.detached && self.disconnect_handler && !happened(Event::Disconnect) {
            v.push("the session detached but never reported its disconnect".into());
        }
        if end.shut_down {
            for (i, m) in self.managers.iter().enumerate() {
                for phase in [Phase::Detach, Phase::Shutdown] {
                    if !happened(Event::Called(ManagerId(i), phase)) {
                        v.push(format!(
                            "{}: the session shut down without calling its {}",
                            m.name,
                            phase.name()
                        ));
                    } else if !happened(Event::Completed(ManagerId(i), phase)) {
                        v.push(format!("{}: its {} never completed", m.name, phase.name()));
                    }
                }
            }
        }
        for (i, cb) in self.callbacks.iter().enumerate() {
            let due = match cb.phase {
                Phase::Detach => end.detached,
                Phase::Shutdown => end.shut_down,
            };
            if due && !happened(Event::Ran(CallbackId(i))) {
                v.push(format!(
                    "{} ({}) never ran",
                    cb.name,
                    phase_callbacks(cb.phase)
                ));
            }
        }
        if end.incoming_all_answered {
            for c in 0..self.incoming {
                let c = IncomingId(c);
                if !happened(Event::Answered(c)) && !happened(Event::Refused(c)) {
                    v.push(format!("incoming call #{} was never answered", c.0));
                }
            }
        }
        if end.shut_down && !end.tasks_may_be_dropped {
            for c in 0..self.controller_calls {
                if !happened(Event::CallCompleted(ControllerCallId(c))) {
                    v.push(format!("controller call #{c} never completed"));
                }
            }
            for t in 0..self.tasks {
                let t = TaskId(t);
                if !happened(Event::TaskRan(t)) && !happened(Event::TaskRefused(t)) {
                    v.push(format!("task #{} never ran", t.0));
                }
            }
        }
        v
    }

    fn describe(&self, e: Event) -> String {
        match e {
            Event::Called(m, p) => format!("{}: {} called", self.managers[m.0].name, p.name()),
            Event::Completed(m, p) => {
                format!("{}: {} completed", self.managers[m.0].name, p.name())
            }
            Event::Ran(c) => {
                let cb = &self.callbacks[c.0];
                format!("{} ({}) ran", cb.name, phase_callbacks(cb.phase))
            }
            Event::Disconnect => "the disconnect was reported".into(),
            Event::Answered(c) => format!("incoming call #{} answered", c.0),
            Event::Reached(c) => format!("controller call #{} reached the controller", c.0),
            Event::CallCompleted(c) => format!("controller call #{} completed", c.0),
            Event::TaskRan(t) => format!("task #{} ran", t.0),
            Event::Refused(c) => format!("incoming call #{} refused", c.0),
            Event::TaskRefused(t) => format!("task #{} refused", t.0),
        }
    }
}

fn phase_callbacks(phase: Phase) -> &'static str {
    match phase {
        Phase::Detach => "on-detach",
        Phase::Shutdown => "on-shutdown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One manager and one callback per phase through a whole, correct run.
    fn correct_run() -> (Lifecycle, ManagerId, ManagerId) {
        let mut l = Lifecycle::new(true);
        let a = l.manager_added("a", true);
        let b = l.manager_added("b", true);
        let d = l.callback_added("d", Phase::Detach, true);
        let s = l.callback_added("s", Phase::Shutdown, true);
        l.disconnect_reported();
        for phase in [Phase::Detach, Phase::Shutdown] {
            for m in [b, a] {
                l.manager_called(m, phase);
                l.manager_completed(m, phase);
            }
            l.callback_ran(if phase == Phase::Detach { d } else { s });
        }
        (l, a, b)
    }

    const END: End = End {
        detached: true,
        shut_down: true,
        tasks_may_be_dropped: false,
        incoming_all_answered: true,
    };

    #[test]
    fn a_correct_run_breaks_nothing() {
        let (l, _, _) = correct_run();
        assert_eq!(l.end_violations(END), Vec::<String>::new());
    }

    #[test]
    fn twice_is_caught() {
        let (mut l, a, _) = correct_run();
        l.manager_completed(a, Phase::Shutdown);
        assert_eq!(l.violations(), ["a: shutdown completed 2 times"]);
    }

    #[test]
    fn oldest_first_is_caught() {
        let mut l = Lifecycle::new(false);
        let a = l.manager_added("a", true);
        let _b = l.manager_added("b", true);
        l.manager_called(a, Phase::Detach);
        assert_eq!(
            l.violations(),
            ["a: detach called before b (newer) completed its detach"]
        );
    }

    #[test]
    fn late_managers_are_not_ordered_but_counted() {
        let mut l = Lifecycle::new(false);
        let a = l.manager_added("a", true);
        let late = l.manager_added("late", false);
        l.manager_called(a, Phase::Detach);
        l.manager_completed(a, Phase::Detach);
        l.manager_called(late, Phase::Detach);
        assert!(l.violations().is_empty());
        let v = l.end_violations(END);
        assert!(
            v.contains(&"late: its detach never completed".to_owned()),
            "{v:?}"
        );
        assert!(v.contains(&"a: the session shut down without calling its shutdown".to_owned()));
    }

    #[test]
    fn shutdown_before_detach_completed_is_caught() {
        let mut l = Lifecycle::new(false);
        let a = l.manager_added("a", false);
        l.manager_called(a, Phase::Detach);
        l.manager_called(a, Phase::Shutdown);
        assert_eq!(
            l.violations(),
            ["a: shutdown called before its detach completed"]
        );
    }

    #[test]
    fn callbacks_wait_for_their_phase_and_run_newest_first() {
        let mut l = Lifecycle::new(false);
        let a = l.manager_added("a", true);
        let old = l.callback_added("old", Phase::Detach, true);
        let new = l.callback_added("new", Phase::Detach, true);
        l.manager_called(a, Phase::Detach);
        l.callback_ran(old);
        l.manager_completed(a, Phase::Detach);
        l.callback_ran(new);
        assert_eq!(
            l.violations(),
            [
                "old (on-detach) ran before every manager's detach completed",
                "old ran before new (on-detach callbacks run newest first)",
            ]
        );
    }

    #[test]
    fn on_detach_callbacks_precede_every_shutdown() {
        let mut l = Lifecycle::new(false);
        let a = l.manager_added("a", true);
        let d = l.callback_added("d", Phase::Detach, true);
        l.manager_called(a, Phase::Detach);
        l.manager_completed(a, Phase::Detach);
        l.manager_called(a, Phase::Shutdown);
        l.callback_ran(d);
        assert_eq!(
            l.violations(),
            ["d (on-detach) had not run when the first shutdown was called"]
        );
    }

    #[test]
    fn nothing_reaches_the_controller_after_the_report() {
        let mut l = Lifecycle::new(true);
        let c = l.incoming_sent();
        let k = l.controller_call_started();
        l.disconnect_reported();
        l.incoming_answered(c);
        l.controller_call_reached(k);
        l.controller_call_completed(k);
        assert_eq!(
            l.violations(),
            [
                "controller call #0 reached the controller after the disconnect report",
                "incoming call #0 answered after the disconnect report",
            ]
        );
    }

    #[test]
    fn the_end_wants_every_call_task_and_callback() {
        let mut l = Lifecycle::new(true);
        l.controller_call_started();
        l.task_submitted();
        l.incoming_sent();
        let refused = l.task_submitted();
        l.task_refused(refused);
        l.callback_added("s", Phase::Shutdown, false);
        let v = l.end_violations(END);
        assert_eq!(
            v,
            [
                "the session detached but never reported its disconnect",
                "s (on-shutdown) never ran",
                "incoming call #0 was never answered",
                "controller call #0 never completed",
                "task #0 never ran",
            ]
        );
        let lossy = End {
            tasks_may_be_dropped: true,
            ..END
        };
        assert_eq!(l.end_violations(lossy).len(), 3);
    }
}
