//! The spec's rules, checked on every run whatever the script says
//! (invariants), and the script's own `expect` lines.
//!
//! Some invariants are checked where they could break (a manager shut down
//! while a guard is live, a guard granted after one was denied); the
//! ordering ones are checked here, on the records of the whole run. On the
//! wire, the checker tells what the executor did from what the transport
//! did: it counts the calls the executor read and the results it wrote per
//! sequence number, so a message the transport duplicated is not blamed on
//! the runtime.

use std::collections::BTreeMap;

use orc_rt::SessionState;

use super::Parts;
use crate::lifecycle::{CallbackId, End, Lifecycle};
use crate::scenario::{ExpectKind, ResultExpect, Scenario, StateName};
use crate::services::Res;

/// What the checks need to know about one session.
#[derive(Debug, Default)]
pub(crate) struct SessionChecks {
    /// The session's lifecycle (managers, callbacks, the disconnect
    /// report, controller calls), checked by the shared rules.
    pub(crate) lifecycle: Lifecycle,
    /// The simulation's own on-shutdown callback, registered first so it
    /// runs last: it marks the very end of shutdown.
    pub(crate) watcher: Option<CallbackId>,
    /// A guard was denied (the scope is closed for good).
    pub(crate) denied_seen: bool,
    pub(crate) rm_shutdown_started: bool,
}

/// What the checks need to know about a run.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    /// Each session's checks (0: the default session, then the scenario's
    /// `session` lines in order): their lifecycles are independent.
    pub(crate) sessions: Vec<SessionChecks>,
    /// `shutdown_then` callbacks of `shutdown-threads`.
    pub(crate) thread_callbacks: u32,
    /// Per sequence number of the controller's calls: (handle, times the
    /// executor read it, read once the scope was closed, results the
    /// executor wrote).
    wire: BTreeMap<u64, WireCall>,
    /// The executor wrote its Hangup.
    pub(crate) hangup_written: bool,
}

#[derive(Debug, Default)]
struct WireCall {
    handle: String,
    reads: u32,
    read_closed: bool,
    results: u32,
}

impl Checker {
    /// `disconnect_handler`: the script installs an on-disconnect handler
    /// on the default session; `others`: the further sessions, each with
    /// the simulation's own handler.
    pub(crate) fn new(disconnect_handler: bool, others: usize) -> Self {
        let session = |handler| SessionChecks {
            lifecycle: Lifecycle::new(handler),
            ..SessionChecks::default()
        };
        Checker {
            sessions: std::iter::once(session(disconnect_handler))
                .chain((0..others).map(|_| session(true)))
                .collect(),
            ..Checker::default()
        }
    }

    /// The checks of the default session.
    pub(crate) fn default_session(&mut self) -> &mut SessionChecks {
        &mut self.sessions[0]
    }

    /// The executor read the controller's call `seq` (`closed`: its scope
    /// was already closed).
    pub(crate) fn call_read(&mut self, seq: u64, handle: &str, closed: bool) {
        let c = self.wire.entry(seq).or_default();
        c.handle = handle.to_owned();
        c.reads += 1;
        c.read_closed |= closed;
    }

    /// The executor wrote a Result for sequence number `seq`; a violation
    /// if it answered a call more often than it read it.
    pub(crate) fn result_written(&mut self, seq: u64) -> Option<String> {
        let c = self.wire.entry(seq).or_default();
        c.results += 1;
        (c.results > c.reads).then(|| {
            let name = if c.handle.is_empty() {
                format!("seq {seq}")
            } else {
                c.handle.clone()
            };
            if c.reads == 0 {
                format!("the executor sent a Result for {name}, a call it never read")
            } else {
                format!(
                    "the executor answered {name} {} times but read it {} time(s)",
                    c.results, c.reads
                )
            }
        })
    }
}

/// How a session ended: shut down (and its callbacks ran), and its state
/// (`None` if it was never built).
pub(crate) type SessionEnd = (bool, Option<SessionState>);

/// The end-of-run rules of each session on its own: the lifecycle rules
/// (`crate::lifecycle`, spec 6 to 8) on the session's own records, and
/// every task its dispatcher accepted ran or was dropped (spec 9).
/// `names`: the further sessions' names; `ends` and `queued` (tasks still
/// counted as queued): one entry per session, the default one first. A
/// further session's violations name it; the default session's read as
/// they always did.
fn session_violations(
    sessions: &[SessionChecks],
    names: &[&str],
    ends: &[SessionEnd],
    queued: &[u64],
) -> Vec<String> {
    let mut v = Vec::new();
    for (s, (checks, &(shut_down, state))) in sessions.iter().zip(ends).enumerate() {
        let prefix = match s {
            0 => String::new(),
            s => format!("session {}: ", names[s - 1]),
        };
        let detached = state.is_some_and(|s| s >= SessionState::Detached);
        let lifecycle = checks.lifecycle.end_violations(End {
            detached,
            shut_down,
            tasks_may_be_dropped: false,
            incoming_all_answered: false,
        });
        v.extend(lifecycle.into_iter().map(|l| format!("{prefix}{l}")));
        let queued = queued.get(s).copied().unwrap_or(0);
        if shut_down && queued > 0 {
            v.push(format!(
                "{prefix}{queued} dispatched task(s) neither ran nor were dropped"
            ));
        }
    }
    v
}

/// Runs the end-of-run checks and the expectations; `ends` has one entry
/// per session, the default one first.
pub(crate) fn finish(p: &mut Parts, sc: &Scenario, ends: &[SessionEnd]) {
    let r = std::mem::take(&mut p.checks);
    let mut v: Vec<String> = Vec::new();
    let ev = |i: usize| p.log.line(i);

    let names: Vec<&str> = sc.sessions.iter().map(|s| s.name.as_str()).collect();
    let queued: Vec<u64> = p.book.live.iter().map(|l| l.queued_tasks).collect();
    v.extend(session_violations(&r.sessions, &names, ends, &queued));

    // Calls read after the scope closed got no result (spec 8.7).
    for c in r.wire.values() {
        if c.read_closed && c.results > 0 {
            v.push(format!(
                "{} arrived after shutdown began but got a result from the executor",
                c.handle
            ));
        }
    }
    // The script's expectations.
    let mut fails = Vec::new();
    for e in &sc.expects {
        let line = e.pos.line;
        let matching = |pat: &str| -> Vec<usize> {
            p.log
                .events()
                .iter()
                .enumerate()
                .filter(|(_, e)| e.matches(pat))
                .map(|(i, _)| i)
                .collect()
        };
        match &e.kind {
            ExpectKind::Result(h, want) => {
                let got = p.ctl.call_rec(h).and_then(|c| c.result.clone());
                let ok = match (want, &got) {
                    (ResultExpect::None, None) => true,
                    (ResultExpect::Ok(None), Some(Res::Bytes(_))) => true,
                    (ResultExpect::Ok(Some(v)), Some(Res::Bytes(b))) => {
                        v.encode().as_deref() == Some(b.as_slice())
                    }
                    (ResultExpect::Error(None), Some(Res::Error(_))) => true,
                    (ResultExpect::Error(Some(s)), Some(Res::Error(m))) => m.contains(s.as_str()),
                    (ResultExpect::Done, Some(_)) => true,
                    _ => false,
                };
                if !ok {
                    let got = got.map_or_else(|| "no result".to_owned(), |r| r.describe());
                    let want = match want {
                        ResultExpect::None => "no result".to_owned(),
                        ResultExpect::Ok(None) => "ok".to_owned(),
                        ResultExpect::Ok(Some(v)) => format!("ok {v}"),
                        ResultExpect::Error(None) => "an error".to_owned(),
                        ResultExpect::Error(Some(s)) => format!("an error containing {s:?}"),
                        ResultExpect::Done => "done (a value or an error)".to_owned(),
                    };
                    fails.push(format!(
                        "expect (line {line}): {h} should be {want}, got {got}"
                    ));
                }
            }
            ExpectKind::Order(pats) => {
                for pair in pats.windows(2) {
                    let (a, b) = (matching(&pair[0]), matching(&pair[1]));
                    if a.is_empty() || b.is_empty() {
                        let missing = if a.is_empty() { &pair[0] } else { &pair[1] };
                        fails.push(format!(
                            "expect (line {line}): order: no event matches {missing:?}"
                        ));
                    } else if a.last() > b.first() {
                        let (la, fb) = (a[a.len() - 1], b[0]);
                        fails.push(format!(
                            "expect (line {line}): order {:?} < {:?}: {:?} comes after {:?}",
                            pair[0],
                            pair[1],
                            ev(la),
                            ev(fb)
                        ));
                    }
                }
            }
            ExpectKind::Count(p, n) => {
                let got = matching(p).len() as u64;
                if got != *n {
                    fails.push(format!(
                        "expect (line {line}): {n} event(s) matching {p:?}, found {got}"
                    ));
                }
            }
            ExpectKind::State(session, s) => {
                let i = sc.session_index(session.as_deref()).unwrap_or(0);
                let (shut_down, state) = ends.get(i).copied().unwrap_or((false, None));
                let ok = match s {
                    StateName::ShutDown => shut_down,
                    StateName::Start => state == Some(SessionState::Start),
                    StateName::Attached => state == Some(SessionState::Attached),
                    StateName::Detached => state == Some(SessionState::Detached),
                };
                if !ok {
                    fails.push(format!(
                        "expect (line {line}): final state{} {s}, got {state:?}",
                        crate::scenario::after_space(session)
                    ));
                }
            }
        }
    }
    for text in v {
        p.log.violation(text);
    }
    for f in fails {
        p.log.failure(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::Phase;

    /// A correct run of one session: managers `old` and `new` (newest
    /// first), one callback per phase; the actors name the session.
    fn correct(l: &mut Lifecycle, of: &str) {
        let old = l.manager_added(&format!("rm old{of}"), true);
        let new = l.manager_added(&format!("rm new{of}"), true);
        let d = l.callback_added(&format!("cb d{of}"), Phase::Detach, true);
        let s = l.callback_added(&format!("cb s{of}"), Phase::Shutdown, true);
        l.disconnect_reported();
        for phase in [Phase::Detach, Phase::Shutdown] {
            for m in [new, old] {
                l.manager_called(m, phase);
                l.manager_completed(m, phase);
            }
            l.callback_ran(if phase == Phase::Detach { d } else { s });
        }
    }

    const SHUT_DOWN: SessionEnd = (true, Some(SessionState::ShutDown));

    #[test]
    fn each_session_is_checked_on_its_own() {
        let mut c = Checker::new(true, 1);
        correct(&mut c.sessions[0].lifecycle, "");
        // Session B detaches its older manager first, and shuts a manager
        // down before its on-detach callback ran.
        let l = &mut c.sessions[1].lifecycle;
        let old = l.manager_added("rm old (B)", true);
        let new = l.manager_added("rm new (B)", true);
        let d = l.callback_added("cb d (B)", Phase::Detach, true);
        l.disconnect_reported();
        l.manager_called(old, Phase::Detach);
        l.manager_completed(old, Phase::Detach);
        l.manager_called(new, Phase::Detach);
        l.manager_completed(new, Phase::Detach);
        for m in [new, old] {
            l.manager_called(m, Phase::Shutdown);
            l.manager_completed(m, Phase::Shutdown);
        }
        l.callback_ran(d);
        let v = session_violations(&c.sessions, &["B"], &[SHUT_DOWN; 2], &[0, 0]);
        assert_eq!(
            v,
            [
                "session B: cb d (B) (on-detach) had not run when the first shutdown was called",
                "session B: rm old (B): detach called before rm new (B) (newer) completed its detach",
            ]
        );
    }

    #[test]
    fn interleaved_sessions_break_nothing_but_one_record_would() {
        // Session B shuts down entirely while A is between its detach and
        // its shutdown: each session's order holds.
        let mut c = Checker::new(true, 1);
        let mut both = Lifecycle::new(true);
        for l in [&mut c.sessions[1].lifecycle, &mut both] {
            correct(l, " (B)");
        }
        for l in [&mut c.sessions[0].lifecycle, &mut both] {
            correct(l, "");
        }
        let v = session_violations(&c.sessions, &["B"], &[SHUT_DOWN; 2], &[0, 0]);
        assert_eq!(v, Vec::<String>::new());
        // One record for both sessions would see A's managers detached
        // after B's were shut down.
        assert!(!both.end_violations(End::default()).is_empty());
    }

    #[test]
    fn what_a_session_left_undone_is_named() {
        let mut c = Checker::new(true, 1);
        correct(&mut c.sessions[0].lifecycle, "");
        c.sessions[1].lifecycle.manager_added("rm m (B)", true);
        c.sessions[1]
            .lifecycle
            .callback_added("cb s (B)", Phase::Shutdown, false);
        let v = session_violations(&c.sessions, &["B"], &[SHUT_DOWN, SHUT_DOWN], &[0, 2]);
        assert_eq!(
            v,
            [
                "session B: the session detached but never reported its disconnect",
                "session B: rm m (B): the session shut down without calling its detach",
                "session B: rm m (B): the session shut down without calling its shutdown",
                "session B: cb s (B) (on-shutdown) never ran",
                "session B: 2 dispatched task(s) neither ran nor were dropped",
            ]
        );
    }
}
