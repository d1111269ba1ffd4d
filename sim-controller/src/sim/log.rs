//! What a run says: the transcript's events, the broken invariants and
//! failed expectations, and the fault triggers that fire when an event
//! matches their pattern.

use crate::scenario::Action;
use crate::transcript::{Event, Shape};

/// The run's log.
pub(crate) struct Log {
    now: u64,
    events: Vec<Event>,
    violations: Vec<String>,
    failures: Vec<String>,
    /// `fault on "PATTERN" ACTION`: pattern, action, fired.
    triggers: Vec<(String, Action, bool)>,
    /// Triggers that fired and wait to be scheduled.
    fired: Vec<(Action, String)>,
}

impl Log {
    /// An empty log with these fault triggers.
    pub(crate) fn new(triggers: Vec<(String, Action)>) -> Self {
        Log {
            now: 0,
            events: Vec::new(),
            violations: Vec::new(),
            failures: Vec::new(),
            triggers: triggers.into_iter().map(|(p, a)| (p, a, false)).collect(),
            fired: Vec::new(),
        }
    }

    /// The virtual time events are stamped with.
    pub(crate) fn set_now(&mut self, now: u64) {
        self.now = now;
    }

    /// Logs a plain event.
    pub(crate) fn note(&mut self, actor: impl Into<String>, text: impl Into<String>) {
        self.event(actor, text, Shape::Note);
    }

    /// Logs an event of a given shape; returns its index.
    pub(crate) fn event(
        &mut self,
        actor: impl Into<String>,
        text: impl Into<String>,
        shape: Shape,
    ) -> usize {
        let e = Event {
            time: self.now,
            actor: actor.into(),
            text: text.into(),
            shape,
        };
        for (p, a, fired) in &mut self.triggers {
            if !*fired && e.matches(p) {
                *fired = true;
                self.fired.push((a.clone(), format!("on {p:?}")));
            }
        }
        self.events.push(e);
        self.events.len() - 1
    }

    /// Records a broken invariant.
    pub(crate) fn violation(&mut self, text: impl Into<String>) {
        let text = text.into();
        self.event("check", format!("VIOLATION: {text}"), Shape::Failure);
        self.violations.push(text);
    }

    /// Records a failed expectation or a script problem.
    pub(crate) fn failure(&mut self, text: impl Into<String>) {
        let text = text.into();
        self.event("check", format!("FAILED: {text}"), Shape::Failure);
        self.failures.push(text);
    }

    /// Triggers that fired since the last call.
    pub(crate) fn take_fired(&mut self) -> Vec<(Action, String)> {
        std::mem::take(&mut self.fired)
    }

    /// Every event so far.
    pub(crate) fn events(&self) -> &[Event] {
        &self.events
    }

    /// The line of event `i`.
    pub(crate) fn line(&self, i: usize) -> String {
        self.events[i].line()
    }

    /// True if an event matches `pattern`.
    pub(crate) fn any(&self, pattern: &str) -> bool {
        self.events.iter().any(|e| e.matches(pattern))
    }

    /// True if an event from index `from` on matches `pattern`.
    pub(crate) fn any_since(&self, from: usize, pattern: &str) -> bool {
        self.events[from.min(self.events.len())..]
            .iter()
            .any(|e| e.matches(pattern))
    }

    /// Number of events.
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    /// The broken invariants.
    pub(crate) fn violations(&self) -> &[String] {
        &self.violations
    }

    /// The failed expectations.
    pub(crate) fn failures(&self) -> &[String] {
        &self.failures
    }
}
