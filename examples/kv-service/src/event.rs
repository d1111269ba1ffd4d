//! What the service tells an observer: one [`Event`] per thing it did, one
//! line each (`Display` is the line orc-sim shows after `kv: `). Every
//! answer to a `kv_wait` that reached the service is one
//! [`Event::Answered`] line, `answer to wait "KEY": ...`, whichever way it
//! was answered, so a scenario checks "exactly once" with
//! `expect once "kv: answer to wait \"KEY\""`.

use std::fmt;
use std::sync::Arc;

use crate::error::KvError;

/// Told of every [`Event`], on the thread that caused it, with no lock of
/// the service held (so it may call the service). The events of one call
/// come in order; those of calls on different threads interleave as the
/// threads do.
pub type Observer = Arc<dyn Fn(&Event) + Send + Sync>;

/// How a `kv_wait` was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// With a value of `len` bytes: at once (it was there), or from the
    /// put that stored it.
    Value {
        /// The value's length.
        len: usize,
        /// True if the value was there when the wait arrived.
        at_once: bool,
    },
    /// With an error: a bad key, a wait after detach, or shutdown.
    Error(KvError),
}

/// Something the service did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// `key` was put (`len` bytes); its waiters' answers follow.
    Put {
        /// The key.
        key: String,
        /// The value's length.
        len: usize,
    },
    /// `key` was read: `len` bytes, or no value.
    Got {
        /// The key.
        key: String,
        /// The value's length, if there was one.
        len: Option<usize>,
    },
    /// A wait for `key` was parked; `waiting` waiters wait on it now.
    Parked {
        /// The key.
        key: String,
        /// Waiters on the key.
        waiting: usize,
    },
    /// A wait for `key` was answered (exactly once per wait).
    Answered {
        /// The key.
        key: String,
        /// How.
        answer: Answer,
    },
    /// A `put` or `get` of `key` was refused with `error`.
    Refused {
        /// `put` or `get`.
        op: &'static str,
        /// The key.
        key: String,
        /// Why.
        error: KvError,
    },
    /// The service was detached; `waiting` waiters stay parked.
    Detached {
        /// Parked waiters.
        waiting: usize,
    },
    /// The service was shut down (its waiters' answers came before).
    ShutDown {
        /// Values dropped.
        values: usize,
        /// Waiters failed.
        failed: usize,
    },
}

/// A key as transcripts show it: quoted, cut after 32 characters.
struct Key<'a>(&'a str);

impl fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(32) {
            Some((cut, _)) => write!(f, "{:?}… ({} bytes)", &self.0[..cut], self.0.len()),
            None => write!(f, "{:?}", self.0),
        }
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Value { len, at_once: true } => write!(f, "{len} bytes, at once"),
            Answer::Value {
                len,
                at_once: false,
            } => write!(f, "{len} bytes, from a put"),
            Answer::Error(e) => write!(f, "error: {e}"),
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Put { key, len } => write!(f, "put {}: {len} bytes", Key(key)),
            Event::Got {
                key,
                len: Some(len),
            } => write!(f, "get {}: {len} bytes", Key(key)),
            Event::Got { key, len: None } => write!(f, "get {}: none", Key(key)),
            Event::Parked { key, waiting } => {
                write!(f, "wait {}: parked ({waiting} waiting)", Key(key))
            }
            Event::Answered { key, answer } => {
                write!(f, "answer to wait {}: {answer}", Key(key))
            }
            Event::Refused { op, key, error } => {
                write!(f, "{op} {}: refused: {error}", Key(key))
            }
            Event::Detached { waiting } => {
                write!(f, "detached: no new waits ({waiting} waiting)")
            }
            Event::ShutDown { values, failed } => write!(
                f,
                "shut down: {values} value(s) dropped, {failed} waiter(s) failed"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_as_one_line_each() {
        let cases = [
            (
                Event::Put {
                    key: "k".into(),
                    len: 3,
                },
                r#"put "k": 3 bytes"#,
            ),
            (
                Event::Got {
                    key: "k".into(),
                    len: None,
                },
                r#"get "k": none"#,
            ),
            (
                Event::Parked {
                    key: "k".into(),
                    waiting: 2,
                },
                r#"wait "k": parked (2 waiting)"#,
            ),
            (
                Event::Answered {
                    key: "k".into(),
                    answer: Answer::Value {
                        len: 4,
                        at_once: false,
                    },
                },
                r#"answer to wait "k": 4 bytes, from a put"#,
            ),
            (
                Event::Answered {
                    key: "x".repeat(40),
                    answer: Answer::Error(KvError::Detached),
                },
                r#"answer to wait "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"… (40 bytes): error: kv: detached, no new waits"#,
            ),
            (
                Event::Refused {
                    op: "put",
                    key: "k\"q".into(),
                    error: KvError::ShutDown,
                },
                r#"put "k\"q": refused: kv: shut down"#,
            ),
            (
                Event::ShutDown {
                    values: 1,
                    failed: 2,
                },
                "shut down: 1 value(s) dropped, 2 waiter(s) failed",
            ),
        ];
        for (event, line) in cases {
            assert_eq!(event.to_string(), line);
        }
    }
}
