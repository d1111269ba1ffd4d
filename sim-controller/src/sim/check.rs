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
use crate::scenario::{ExpectKind, OnDisconnect, ResultExpect, Scenario, StateName};
use crate::services::Res;

/// What the checks need to know about a run.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    managers: Vec<(String, bool)>,
    /// (manager, "detach" | "shutdown", event index).
    rm_calls: Vec<(usize, &'static str, usize)>,
    rm_done: Vec<(usize, &'static str)>,
    /// Events of the on-disconnect handler.
    pub(crate) disconnect_reports: Vec<usize>,
    /// The simulation's own on-shutdown watcher (runs last).
    pub(crate) shutdown_done: Vec<usize>,
    /// Callbacks: (name, on-detach?, registered late, ran at events).
    callbacks: Vec<(String, bool, bool, Vec<usize>)>,
    ccalls: BTreeMap<u64, u32>,
    /// A guard was denied (the scope is closed for good).
    pub(crate) denied_seen: bool,
    pub(crate) rm_shutdown_started: bool,
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

    pub(crate) fn add_manager(&mut self, name: &str, late: bool) -> usize {
        self.managers.push((name.to_owned(), late));
        self.managers.len() - 1
    }

    pub(crate) fn rm_called(&mut self, idx: usize, what: &'static str, event: usize) {
        self.rm_calls.push((idx, what, event));
    }

    pub(crate) fn rm_done(&mut self, idx: usize, what: &'static str) {
        self.rm_done.push((idx, what));
    }

    pub(crate) fn add_callback(&mut self, name: &str, on_detach: bool, late: bool) -> usize {
        self.callbacks
            .push((name.to_owned(), on_detach, late, Vec::new()));
        self.callbacks.len() - 1
    }

    pub(crate) fn callback_ran(&mut self, reg: usize, event: usize) {
        self.callbacks[reg].3.push(event);
    }

    pub(crate) fn ccall_issued(&mut self, flag: u64) {
        self.ccalls.insert(flag, 0);
    }

    pub(crate) fn ccall_completed(&mut self, flag: u64) -> bool {
        let c = self.ccalls.entry(flag).or_insert(0);
        *c += 1;
        *c == 1
    }
}

/// Runs the end-of-run checks and the expectations.
pub(crate) fn finish(p: &mut Parts, sc: &Scenario, shut_down: bool, state: Option<SessionState>) {
    let r = std::mem::take(&mut p.checks);
    let mut v: Vec<String> = Vec::new();
    let ev = |i: usize| p.log.line(i);

    // Each manager: detach at most once, shutdown at most once, detach
    // first; both exactly once when the session shut down (spec 6, 8.7).
    for (idx, (name, _)) in r.managers.iter().enumerate() {
        let calls: Vec<&(usize, &str, usize)> = r.rm_calls.iter().filter(|c| c.0 == idx).collect();
        let detaches: Vec<usize> = calls
            .iter()
            .filter(|c| c.1 == "detach")
            .map(|c| c.2)
            .collect();
        let shutdowns: Vec<usize> = calls
            .iter()
            .filter(|c| c.1 == "shutdown")
            .map(|c| c.2)
            .collect();
        if detaches.len() > 1 {
            v.push(format!("rm {name}: detach called {} times", detaches.len()));
        }
        if shutdowns.len() > 1 {
            v.push(format!(
                "rm {name}: shutdown called {} times",
                shutdowns.len()
            ));
        }
        if let Some(&s) = shutdowns.first() {
            match detaches.first() {
                None => v.push(format!("rm {name}: shutdown without detach")),
                Some(&d) if d > s => v.push(format!("rm {name}: shutdown before detach")),
                _ => {}
            }
        }
        if shut_down && (detaches.len() != 1 || shutdowns.len() != 1) {
            v.push(format!(
                "rm {name}: the session shut down, but detach ran {} and shutdown {} time(s)",
                detaches.len(),
                shutdowns.len()
            ));
        }
        let done = r.rm_done.iter().filter(|d| d.0 == idx).count();
        if done < calls.len() && shut_down {
            v.push(format!(
                "rm {name}: {} call(s) never completed",
                calls.len() - done
            ));
        }
    }

    // Newest first (spec 8.6 step 4, spec 8.7 step 3), for managers added before.
    for what in ["detach", "shutdown"] {
        let order: Vec<usize> = r
            .rm_calls
            .iter()
            .filter(|c| c.1 == what && !r.managers[c.0].1)
            .map(|c| c.0)
            .collect();
        if order.windows(2).any(|p| p[0] < p[1]) {
            let names: Vec<&str> = order.iter().map(|&i| r.managers[i].0.as_str()).collect();
            v.push(format!(
                "{what} order is not newest-first: {}",
                names.join(", ")
            ));
        }
    }

    // The disconnect report: exactly once, before every detach (spec 8.6 step 2).
    let installed = !matches!(sc.on_disconnect, OnDisconnect::None);
    if r.disconnect_reports.len() > 1 {
        v.push(format!(
            "the on-disconnect handler ran {} times",
            r.disconnect_reports.len()
        ));
    }
    let detached = state.is_some_and(|s| s >= SessionState::Detached);
    if installed && detached && r.disconnect_reports.is_empty() {
        v.push("the session detached but the on-disconnect handler never ran".into());
    }
    let first = |what: &str| {
        r.rm_calls
            .iter()
            .filter(|c| c.1 == what && !r.managers[c.0].1)
            .map(|c| c.2)
            .min()
    };
    let last = |what: &str| {
        r.rm_calls
            .iter()
            .filter(|c| c.1 == what && !r.managers[c.0].1)
            .map(|c| c.2)
            .max()
    };
    if let (Some(&rep), Some(d)) = (r.disconnect_reports.first(), first("detach"))
        && rep > d
    {
        v.push(format!(
            "disconnect report after a detach: {:?} after {:?}",
            ev(rep),
            ev(d)
        ));
    }

    // detach < on-detach callbacks < shutdown < on-shutdown callbacks,
    // callbacks newest first (spec 8.6 step 5, spec 8.7 step 4).
    let mut detach_cbs: Vec<(usize, usize)> = Vec::new();
    let mut shutdown_cbs: Vec<(usize, usize)> = Vec::new();
    for (reg, (name, on_detach, late, ran)) in r.callbacks.iter().enumerate() {
        if ran.len() > 1 {
            v.push(format!("callback {name} ran {} times", ran.len()));
        }
        if ran.is_empty() && ((*on_detach && detached) || (!*on_detach && shut_down)) {
            v.push(format!("callback {name} never ran"));
        }
        if let Some(&at) = ran.first()
            && !*late
        {
            if *on_detach {
                detach_cbs.push((reg, at));
            } else {
                shutdown_cbs.push((reg, at));
            }
        }
    }
    for (cbs, what) in [(&detach_cbs, "on-detach"), (&shutdown_cbs, "on-shutdown")] {
        let mut by_time = cbs.clone();
        by_time.sort_by_key(|c| c.1);
        if by_time.windows(2).any(|p| p[0].0 < p[1].0) {
            v.push(format!("{what} callbacks did not run newest-first"));
        }
    }
    let before = |a: Option<usize>, b: Option<usize>, what: &str, v: &mut Vec<String>| {
        if let (Some(a), Some(b)) = (a, b)
            && a > b
        {
            v.push(format!("{what}: {:?} comes after {:?}", ev(a), ev(b)));
        }
    };
    let dcb_first = detach_cbs.iter().map(|c| c.1).min();
    let dcb_last = detach_cbs.iter().map(|c| c.1).max();
    let scb_first = shutdown_cbs.iter().map(|c| c.1).min();
    before(
        last("detach"),
        dcb_first,
        "every detach precedes the on-detach callbacks",
        &mut v,
    );
    before(
        dcb_last,
        first("shutdown"),
        "on-detach callbacks precede every shutdown",
        &mut v,
    );
    before(
        last("detach"),
        first("shutdown"),
        "every detach precedes every shutdown",
        &mut v,
    );
    before(
        last("shutdown"),
        scb_first,
        "every shutdown precedes the on-shutdown callbacks",
        &mut v,
    );
    before(
        last("shutdown"),
        r.shutdown_done.first().copied(),
        "every shutdown precedes completion",
        &mut v,
    );
    if let (Some(&done), Some(cb)) = (
        r.shutdown_done.first(),
        shutdown_cbs.iter().map(|c| c.1).max(),
    ) && done < cb
    {
        v.push("the first-registered on-shutdown callback did not run last".into());
    }
    if r.shutdown_done.len() > 1 {
        v.push(format!(
            "shutdown completed {} times",
            r.shutdown_done.len()
        ));
    }
    if shut_down && r.shutdown_done.is_empty() {
        v.push("the session shut down without running its on-shutdown callbacks".into());
    }

    // Every executor-to-controller call completes exactly once (7.5).
    for (flag, n) in &r.ccalls {
        if *n > 1 {
            v.push(format!("controller call #{flag} completed {n} times"));
        }
        if *n == 0 && shut_down {
            v.push(format!("controller call #{flag} never completed"));
        }
    }

    // Every dispatched task ran or was dropped (spec 9).
    if shut_down && p.book.live.queued_tasks > 0 {
        v.push(format!(
            "{} dispatched task(s) neither ran nor were dropped",
            p.book.live.queued_tasks
        ));
    }

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
            ExpectKind::State(s) => {
                let ok = match s {
                    StateName::ShutDown => shut_down,
                    StateName::Start => state == Some(SessionState::Start),
                    StateName::Attached => state == Some(SessionState::Attached),
                    StateName::Detached => state == Some(SessionState::Detached),
                };
                if !ok {
                    fails.push(format!(
                        "expect (line {line}): final state {s}, got {state:?}"
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
