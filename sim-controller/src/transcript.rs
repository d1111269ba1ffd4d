//! The transcript of a run: the ordered events (calls, results, scope
//! retains and releases, detach, resource-manager callbacks, shutdown
//! phases) with their virtual time. It holds no real address and nothing
//! that depends on hash order, so the same seed renders the same bytes.
//!
//! Patterns in scripts (`expect order "rm a: detach" < ...`) match the
//! *canonical line* of an event, `actor: text`, as a substring.

use std::fmt::Write as _;

/// What shape an event has in a picture of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// A plain event.
    Note,
    /// A message was sent (message number, receiving actor).
    Send(u64, String),
    /// A message arrived (message number, sending actor).
    Recv(u64, String),
    /// A message was lost (message number, intended receiver).
    Lost(u64, String),
    /// The actor starts a span of work.
    Begin,
    /// The actor ends its span of work.
    End,
    /// A broken invariant or a failed expectation.
    Failure,
    /// An event that quotes a pattern (an `await`, a `wait`, a trigger):
    /// patterns never match it, or it would satisfy itself.
    Quote,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Virtual time in ticks.
    pub time: u64,
    /// Who did it: `ctl`, `ca`, `session`, `task 3`, `jit c1`, `rm mem`, ...
    pub actor: String,
    /// What happened.
    pub text: String,
    /// How pictures draw it.
    pub shape: Shape,
}

impl Event {
    /// `actor: text`, what patterns match against.
    pub fn line(&self) -> String {
        format!("{}: {}", self.actor, self.text)
    }

    /// True if the canonical line contains `pattern` (never for failures
    /// and events that quote a pattern).
    pub fn matches(&self, pattern: &str) -> bool {
        if matches!(self.shape, Shape::Failure | Shape::Quote) {
            return false;
        }
        // Cheap check on the text alone before building the line.
        self.text.contains(pattern) || self.line().contains(pattern)
    }
}

/// The events of a run, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    /// Every event, oldest first.
    pub events: Vec<Event>,
}

impl Transcript {
    /// Renders one line per event: `  time actor: text`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for e in &self.events {
            let mark = if e.shape == Shape::Failure { "!" } else { " " };
            let _ = writeln!(out, "{mark}{:>4} {}: {}", e.time, e.actor, e.text);
        }
        out
    }

    /// Indices of the events matching `pattern`.
    pub fn find(&self, pattern: &str) -> Vec<usize> {
        self.events
            .iter()
            .enumerate()
            .filter(|(_, e)| e.matches(pattern))
            .map(|(i, _)| i)
            .collect()
    }

    /// Actors in order of first appearance.
    pub fn actors(&self) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        for e in &self.events {
            if !seen.contains(&e.actor.as_str()) {
                seen.push(&e.actor);
            }
        }
        seen
    }
}

/// Bytes as hex, shortened past 32 bytes.
pub fn hex(b: &[u8]) -> String {
    let mut s: String = b.iter().take(32).map(|x| format!("{x:02x}")).collect();
    if b.len() > 32 {
        s.push_str(&format!("...({} bytes)", b.len()));
    }
    if s.is_empty() {
        "(empty)".to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(actor: &str, text: &str) -> Event {
        Event {
            time: 3,
            actor: actor.into(),
            text: text.into(),
            shape: Shape::Note,
        }
    }

    #[test]
    fn patterns_match_the_canonical_line() {
        let t = Transcript {
            events: vec![
                ev("rm a", "detach(shutdown_requested=true)"),
                ev("rm b", "shutdown"),
            ],
        };
        assert_eq!(t.find("rm a: detach"), [0]);
        assert_eq!(t.find("shutdown"), [0, 1]);
        assert_eq!(t.find(": shutdown"), [1]);
        assert_eq!(
            t.render(),
            "    3 rm a: detach(shutdown_requested=true)\n    3 rm b: shutdown\n"
        );
        assert_eq!(t.actors(), ["rm a", "rm b"]);
    }
}
