//! Shrinking: turns a failing run into the smallest scenario that still
//! fails the same way, and writes it out as a `.scn` that replays.
//!
//! ```text
//! orc-sim shrink FILE --seed N [--out OUT]
//! ```
//!
//! runs FILE under seed N (which must fail), then removes and simplifies
//! what the failure does not need (script steps, expectations, faults,
//! managers, JIT'd functions and their operations, handlers, probes, header
//! settings), shortens waits, simplifies values, tries smaller seeds, and
//! writes the result to OUT (default: `NAME.shrunk.scn` next to FILE) with
//! its header `seed` set to the seed it fails under, so that
//! `orc-sim replay OUT` reproduces the failure on its own. The CLI calls
//! [`shrink_file`], which returns the report to print; [`shrink`] is the
//! library entry point. (A shrunk file written into `scenarios/` is picked
//! up by `tests/scenarios.rs`, which wants a snapshot for it: move it, or
//! write it elsewhere with `--out`.)
//!
//! # Failing "the same way"
//!
//! Each message of a run (each violation and each failure of its
//! [`RunOutcome`]) has a *kind* ([`failure_kind`]): the message with its
//! volatile parts taken out, so that the kind stays the same when the
//! scenario around it shrinks:
//!
//! - a violation (`invariant: ...`): quoted strings (transcript lines) and a
//!   trailing parenthesised detail (`(1 guard held by ...)`) are dropped,
//!   and numbers are masked (below);
//! - a failed expectation (`expect (line N): ...`): `expect` and the
//!   expectation as written (found through its line in the scenario that
//!   ran, so the line number itself is not part of it), then how it
//!   failed: for `expect H ...` what the call got instead (`no result`,
//!   `ok` with the exact bytes, or `error "MSG"` with numbers masked: a
//!   different value is a different failure, so a simpler value in the
//!   script cannot stand in for a corrupted one); for `expect order` which
//!   pair was out of order, or which pattern matched nothing and which of
//!   its patterns did match; for `expect count` how many it found if fewer,
//!   or that it found more; for `expect state` the state it got;
//! - any other failure (`check state`, `script stuck`, `no progress
//!   possible`, ...): the message with numbers masked.
//!
//! Masking numbers: a word made of decimal digits becomes `#`, a `0x...`
//! hex word `0x#`, and a message tag `[m12]` `[m#]`; words that merely
//! contain digits (`c2`, `rm m1`) stay, since they are names.
//!
//! The *primary* failure is the original run's first violation, or its
//! first failure if no invariant broke (or, with
//! [`ShrinkOptions::target`], the first message containing that text). A
//! candidate fails the same way when its run has a message of the primary
//! kind **and** every kind of its run already occurred in the original run
//! (unless [`ShrinkOptions::allow_new_failures`]): a candidate that passes,
//! fails differently, or fails the same way plus some new way (a script now
//! stuck, another invariant broken) is rejected. Kinds of the original run
//! may disappear.
//!
//! # The reduction
//!
//! Every candidate is printed ([`Scenario::to_scn`]), parsed back (one that
//! no longer parses or validates, e.g. an `await` of a call that is gone,
//! is simply rejected without a run) and run under the seed. Candidates
//! are tried greedily. First removals, repeated until nothing goes:
//! expectations, faults, script steps, managers, handlers, JIT'd functions,
//! probes (ddmin-style: the whole list, then halves, quarters, ..., single
//! items; after a success, coarser again), then each JIT'd function's
//! operations and each handler's call-backs (the same way). Then
//! simplifications: header settings back to their defaults (`dispatcher`,
//! `on-disconnect`, `pipe`, `wire` with its `# deviation:` lines,
//! `services`, `latency`), manager behaviours (to `ok`, else without each
//! of their parts), waits (`tick`, `work`, `after`, `return-later`,
//! `keepalive`, `fault delay`, `stall-reader`, a non-default `latency`: to
//! 0, to 1, or halved, as far as it goes), and values (to `empty`, else 0
//! or `""`); if any held, removals again. When nothing changes any more,
//! smaller seeds are tried (0 up to [`ShrinkOptions::seeds_to_try`] and the
//! scenario's own `seed`, smallest first): if one fails the same way,
//! everything starts again under it. A candidate must be strictly smaller
//! than the current scenario (fewer items, then smaller waits, then
//! simpler values and settings; or the same with a smaller seed), so the
//! process ends; [`ShrinkOptions::max_runs`] bounds it. The same input
//! gives the same output: every choice is made in a fixed order, and a run
//! is a function of its scenario and seed (only a hang, detected in real
//! time, could differ).
//!
//! `# rule:` lines are kept; the written file starts with a comment saying
//! where it was shrunk from.

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::scenario::{
    Behaviour, ExpectKind, FaultKind, ManagerDecl, Op, Outcome, Reply, ResultExpect, Scenario,
    StepKind, SvcOp, Value, parse,
};
use crate::transcript::Transcript;
use crate::{ParseError, RunConfig, RunOutcome, run};

/// How hard [`shrink`] tries.
#[derive(Debug, Clone)]
pub struct ShrinkOptions {
    /// The most runs (the original run included); once spent, the smallest
    /// scenario found so far is the result.
    pub max_runs: usize,
    /// Seeds `0..seeds_to_try` (and the scenario's own) are tried once the
    /// scenario cannot shrink further.
    pub seeds_to_try: u64,
    /// [`RunConfig::hang_timeout`] of every run.
    pub hang_timeout: Duration,
    /// [`RunConfig::max_steps`] of every run.
    pub max_steps: u64,
    /// [`RunConfig::liveness_ticks`] of every run.
    pub liveness_ticks: u64,
    /// The failure to keep: the first violation or failure whose message
    /// contains this text (default: the first violation, else the first
    /// failure).
    pub target: Option<String>,
    /// Accept a candidate that fails in ways the original did not, as long
    /// as it also fails the primary way (default: reject it).
    pub allow_new_failures: bool,
}

impl Default for ShrinkOptions {
    fn default() -> Self {
        let cfg = RunConfig::new(0);
        ShrinkOptions {
            max_runs: 2000,
            seeds_to_try: 64,
            hang_timeout: Duration::from_secs(5),
            max_steps: cfg.max_steps,
            liveness_ticks: cfg.liveness_ticks,
            target: None,
            allow_new_failures: false,
        }
    }
}

/// How a run failed, as far as shrinking cares (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureSignature {
    /// The kind of the primary failure: what a candidate must show.
    pub primary: String,
    /// The kinds of every violation and failure of the run.
    pub kinds: BTreeSet<String>,
    /// The run's messages as they were (violations, then failures).
    pub messages: Vec<String>,
}

impl FailureSignature {
    /// The signature of `outcome`, a run of `sc`; `target` picks the
    /// primary failure (the first message containing it). `Err` if the run
    /// passed or no message contains `target`.
    pub fn of(
        sc: &Scenario,
        outcome: &RunOutcome,
        target: Option<&str>,
    ) -> Result<FailureSignature, String> {
        if outcome.passed() {
            return Err(format!(
                "{} passes under seed {}: nothing to shrink",
                sc.file, outcome.seed
            ));
        }
        let all = messages(outcome);
        let primary = match target {
            Some(t) => all.iter().find(|(m, _)| m.contains(t)).ok_or_else(|| {
                format!(
                    "no violation or failure of {} under seed {} contains {t:?}",
                    sc.file, outcome.seed
                )
            })?,
            None => &all[0],
        };
        Ok(FailureSignature {
            primary: failure_kind(sc, &outcome.transcript, &primary.0, primary.1),
            kinds: kinds(sc, outcome),
            messages: all.iter().map(|(m, _)| m.clone()).collect(),
        })
    }

    /// True if `outcome`, a run of `sc`, fails the same way: it shows the
    /// primary kind, and (unless `allow_new`) no kind this signature lacks.
    pub fn matches(&self, sc: &Scenario, outcome: &RunOutcome, allow_new: bool) -> bool {
        if outcome.passed() {
            return false;
        }
        let got = kinds(sc, outcome);
        got.contains(&self.primary) && (allow_new || got.is_subset(&self.kinds))
    }
}

/// The messages of a run, each with `true` for a violation.
fn messages(outcome: &RunOutcome) -> Vec<(String, bool)> {
    let v = outcome.violations.iter().map(|m| (m.clone(), true));
    let f = outcome.failures.iter().map(|m| (m.clone(), false));
    v.chain(f).collect()
}

fn kinds(sc: &Scenario, outcome: &RunOutcome) -> BTreeSet<String> {
    messages(outcome)
        .iter()
        .map(|(m, v)| failure_kind(sc, &outcome.transcript, m, *v))
        .collect()
}

/// The kind of one message of a run of `sc` whose transcript is
/// `transcript` (`violation`: the message is one of
/// [`RunOutcome::violations`], else of [`RunOutcome::failures`]): the rule
/// of the module docs.
pub fn failure_kind(
    sc: &Scenario,
    transcript: &Transcript,
    message: &str,
    violation: bool,
) -> String {
    if violation {
        return format!(
            "invariant: {}",
            mask_numbers(&strip_detail(&mask_quotes(message)))
        );
    }
    if let Some((line, rest)) = expect_line(message)
        && let Some(e) = sc.expects.iter().find(|e| e.pos.line == line)
    {
        return format!(
            "expect {}: {}",
            expect_text(&e.kind),
            expect_mode(&e.kind, rest, transcript)
        );
    }
    format!("failure: {}", mask_numbers(message))
}

/// `expect (line N): REST` as (N, REST).
fn expect_line(m: &str) -> Option<(usize, &str)> {
    let (n, rest) = m.strip_prefix("expect (line ")?.split_once("): ")?;
    Some((n.parse().ok()?, rest))
}

/// How an expectation failed, from the rest of its failure message.
fn expect_mode(k: &ExpectKind, rest: &str, transcript: &Transcript) -> String {
    match k {
        ExpectKind::Result(..) => {
            let got = rest
                .find(" should be ")
                .and_then(|at| rest[at..].split_once(", got "))
                .map_or(rest, |(_, got)| got);
            if got.starts_with("error ") {
                format!("got {}", mask_numbers(got))
            } else {
                // `no result`, or `ok` and the bytes: a different value is
                // a different failure (a simpler script value must not
                // stand in for a corrupted one).
                format!("got {got}")
            }
        }
        ExpectKind::Order(ps) => {
            if rest.starts_with("order: no event matches ") {
                // Anchored by the patterns that do match: removing what
                // makes *every* event happen must not pass for the same
                // failure.
                let matching: Vec<String> = ps
                    .iter()
                    .filter(|p| transcript.events.iter().any(|e| e.matches(p)))
                    .map(|p| format!("{p:?}"))
                    .collect();
                format!("{rest}; matching: [{}]", matching.join(", "))
            } else {
                match find_unquoted(rest, ": ") {
                    Some(at) => format!("{}: out of order", &rest[..at]),
                    None => mask_numbers(rest),
                }
            }
        }
        ExpectKind::Count(_, n) => {
            let found = rest
                .rsplit_once("found ")
                .and_then(|(_, f)| f.trim().parse::<u64>().ok());
            match found {
                Some(f) if f < *n => format!("found {f}, fewer"),
                Some(_) => "found more".to_owned(),
                None => mask_numbers(rest),
            }
        }
        ExpectKind::State(..) => mask_numbers(rest),
    }
}

/// An expectation as written (after `expect`).
fn expect_text(k: &ExpectKind) -> String {
    match k {
        ExpectKind::Result(h, r) => match r {
            ResultExpect::Ok(None) => format!("{h} ok"),
            ResultExpect::Ok(Some(v)) => format!("{h} ok {v}"),
            ResultExpect::Error(None) => format!("{h} error"),
            ResultExpect::Error(Some(m)) => format!("{h} error {m:?}"),
            ResultExpect::Done => format!("{h} done"),
            ResultExpect::None => format!("{h} none"),
        },
        ExpectKind::Order(ps) => {
            let ps: Vec<String> = ps.iter().map(|p| format!("{p:?}")).collect();
            format!("order {}", ps.join(" < "))
        }
        ExpectKind::Count(p, n) => format!("count {p:?} {n}"),
        ExpectKind::State(session, s) => {
            format!("state{} {s}", crate::scenario::after_space(session))
        }
    }
}

/// The byte offset of the first `pat` outside double quotes.
fn find_unquoted(s: &str, pat: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if quoted {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
        } else if c == '"' {
            quoted = true;
        } else if s[i..].starts_with(pat) {
            return Some(i);
        }
    }
    None
}

/// Splits at `sep` outside double quotes.
fn split_unquoted<'a>(s: &'a str, sep: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(at) = find_unquoted(rest, sep) {
        out.push(&rest[..at]);
        rest = &rest[at + sep.len()..];
    }
    out.push(rest);
    out
}

/// Every double-quoted string becomes `"..."`.
fn mask_quotes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut quoted = false;
    let mut escaped = false;
    for c in s.chars() {
        if quoted {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    quoted = false;
                    out.push_str("...\"");
                }
                _ => {}
            }
        } else {
            if c == '"' {
                quoted = true;
            }
            out.push(c);
        }
    }
    if quoted {
        out.push_str("...\"");
    }
    out
}

/// Drops a trailing ` (...)`.
fn strip_detail(s: &str) -> String {
    let t = s.trim_end();
    if !t.ends_with(')') {
        return t.to_owned();
    }
    let mut depth = 0usize;
    for (i, c) in t.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    return if t[..i].ends_with(' ') {
                        t[..i].trim_end().to_owned()
                    } else {
                        t.to_owned()
                    };
                }
            }
            _ => {}
        }
    }
    t.to_owned()
}

/// Masks the numbers of a message: a decimal word becomes `#`, a `0x`
/// word `0x#`, a message tag `[mN]` `[m#]`.
fn mask_numbers(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut word = String::new();
    let mut prev: Option<char> = None;
    let flush = |word: &mut String, out: &mut String, before: Option<char>| {
        if word.is_empty() {
            return;
        }
        let w = word.as_str();
        if w.bytes().all(|b| b.is_ascii_digit()) {
            out.push('#');
        } else if w.len() > 2
            && w.starts_with("0x")
            && w[2..].bytes().all(|b| b.is_ascii_hexdigit() || b == b'_')
        {
            out.push_str("0x#");
        } else if before == Some('[')
            && w.len() > 1
            && w.starts_with('m')
            && w[1..].bytes().all(|b| b.is_ascii_digit())
        {
            out.push_str("m#");
        } else {
            out.push_str(w);
        }
        word.clear();
    };
    let mut before = None;
    for c in s.chars() {
        if c.is_alphanumeric() || c == '_' {
            if word.is_empty() {
                before = prev;
            }
            word.push(c);
        } else {
            flush(&mut word, &mut out, before);
            out.push(c);
        }
        prev = Some(c);
    }
    flush(&mut word, &mut out, before);
    out
}

/// How big a scenario is, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Size {
    /// Script steps.
    pub steps: usize,
    /// Expectations.
    pub expects: usize,
    /// Faults.
    pub faults: usize,
    /// Managers, nested ones (added from callbacks, JIT'd code or the
    /// script) included.
    pub managers: usize,
    /// JIT'd functions.
    pub jits: usize,
    /// Operations of all JIT'd functions.
    pub ops: usize,
    /// Controller handlers.
    pub handlers: usize,
    /// Lines of its `.scn` text.
    pub lines: usize,
}

impl Size {
    /// The size of `sc`.
    pub fn of(sc: &Scenario) -> Size {
        Size {
            steps: sc.steps.len(),
            expects: sc.expects.len(),
            faults: sc.faults.len(),
            managers: count_managers(sc),
            jits: sc.jits.len(),
            ops: sc.jits.iter().map(|j| j.ops.len()).sum(),
            handlers: sc.handlers.len(),
            lines: sc.to_scn().lines().count(),
        }
    }
}

/// What [`shrink`] found.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The smallest scenario found, as parsed from [`Shrunk::to_scn`]; its
    /// header `seed` is [`Shrunk::seed`].
    pub scenario: Scenario,
    /// The seed it fails under.
    pub seed: u64,
    /// The original run's failure signature.
    pub signature: FailureSignature,
    /// The shrunk scenario's messages, replayed as `orc-sim replay` would
    /// (its own seed, [`RunConfig::new`]).
    pub messages: Vec<String>,
    /// The replay failed the same way (it should; `false` means a run
    /// setting of the [`ShrinkOptions`] mattered, or a hang timed
    /// differently).
    pub replays: bool,
    /// Runs made (the original and the final replay included).
    pub runs: usize,
    /// [`ShrinkOptions::max_runs`] ran out before a fixpoint.
    pub exhausted: bool,
    /// What was removed or simplified, in order, human-readable.
    pub removed: Vec<String>,
    /// The file it was shrunk from.
    pub from_file: String,
    /// The seed of the original run.
    pub from_seed: u64,
    /// The original's size.
    pub before: Size,
    /// The shrunk scenario's size.
    pub after: Size,
}

impl Shrunk {
    /// The `.scn` text to write: a comment saying where it comes from, then
    /// the scenario (it replays under its own seed).
    pub fn to_scn(&self) -> String {
        let mut out = format!(
            "# shrunk by orc-sim from {} (seed {}) in {} runs; fails with: {}\n",
            self.from_file,
            self.from_seed,
            self.runs,
            self.signature.primary.replace('\n', " ")
        );
        out.push_str(&self.scenario.to_scn());
        out
    }
}

/// How the shrinker parses and runs its candidates: orc-sim's own world
/// ([`shrink`]), or a program's [`Simulation`](crate::simulation::Simulation)
/// with its services and handlers (`Simulation::shrink`).
pub(crate) struct Engine<'a> {
    pub(crate) parse: &'a dyn Fn(&str, &str) -> Result<Scenario, ParseError>,
    pub(crate) run: &'a dyn Fn(&Scenario, &RunConfig) -> RunOutcome,
}

/// Shrinks `sc`, which fails under `seed`, to the smallest scenario found
/// that fails the same way (see the module docs). `Err` if it passes under
/// `seed`, or if its printed form does not parse back (a printer bug).
/// A scenario that calls a program's own services is shrunk with
/// `Simulation::shrink` instead.
pub fn shrink(sc: &Scenario, seed: u64, opts: &ShrinkOptions) -> Result<Shrunk, String> {
    let engine = Engine {
        parse: &|file, text| parse(file, text),
        run: &|sc, cfg| run(sc, cfg),
    };
    shrink_with(&engine, sc, seed, opts)
}

/// [`shrink`] with the given engine.
pub(crate) fn shrink_with(
    engine: &Engine<'_>,
    sc: &Scenario,
    seed: u64,
    opts: &ShrinkOptions,
) -> Result<Shrunk, String> {
    let text = sc.to_scn();
    let canon = (engine.parse)(&sc.file, &text).map_err(|e| {
        format!(
            "{}: the scenario does not print back to one that parses: {e}",
            sc.file
        )
    })?;
    let mut s = Shrinker {
        engine,
        file: sc.file.clone(),
        opts,
        signature: FailureSignature {
            primary: String::new(),
            kinds: BTreeSet::new(),
            messages: Vec::new(),
        },
        runs: 1,
        exhausted: false,
        tried: HashSet::new(),
        cur_measure: measure(&canon),
        cur: canon,
        seed,
        removed: Vec::new(),
    };
    let out = (engine.run)(&s.cur, &s.config(seed));
    s.signature = FailureSignature::of(&s.cur, &out, opts.target.as_deref())?;
    // Structure first (no run is spent simplifying what goes anyway), then
    // the details; a detail simplified may let more structure go, and a
    // smaller seed may let both shrink further.
    loop {
        while !s.exhausted && s.remove_pass() {}
        if s.exhausted {
            break;
        }
        if s.simplify_pass() {
            continue;
        }
        if s.exhausted || !s.seeds_pass() {
            break;
        }
    }
    let mut scenario = s.cur.clone();
    scenario.seed = s.seed;
    let mut shrunk = Shrunk {
        after: Size::of(&scenario),
        scenario,
        seed: s.seed,
        signature: s.signature.clone(),
        messages: Vec::new(),
        replays: false,
        runs: s.runs + 1,
        exhausted: s.exhausted,
        removed: s.removed,
        from_file: sc.file.clone(),
        from_seed: seed,
        before: Size::of(sc),
    };
    // Replay the text to be written, exactly as `orc-sim replay` would.
    let text = shrunk.to_scn();
    let replayed = (engine.parse)(&sc.file, &text)
        .map_err(|e| format!("the shrunk scenario does not parse: {e}\n{text}"))?;
    let out = (engine.run)(&replayed, &RunConfig::new(replayed.seed));
    shrunk.replays = shrunk
        .signature
        .matches(&replayed, &out, opts.allow_new_failures);
    shrunk.messages = messages(&out).into_iter().map(|(m, _)| m).collect();
    // Positions of the written text.
    shrunk.scenario = replayed;
    Ok(shrunk)
}

/// What the CLI's `orc-sim shrink FILE --seed N [--out OUT]` does: shrinks
/// the scenario at `path` under `seed`, writes the result to `out` (default
/// [`shrunk_path`]`(path)`) and returns the result with the report to
/// print. `Err` (a message to print) if the file cannot be read, parsed or
/// written, or if it passes under `seed` (`None`: its own).
pub fn shrink_file(
    path: &Path,
    seed: Option<u64>,
    out: Option<&Path>,
    opts: &ShrinkOptions,
) -> Result<(Shrunk, String), String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: error: {e}"))?;
    let sc = parse(&name, &text).map_err(|e| e.to_string())?;
    let shrunk = shrink(&sc, seed.unwrap_or(sc.seed), opts)?;
    let dest = out.map_or_else(|| shrunk_path(path), Path::to_path_buf);
    std::fs::write(&dest, shrunk.to_scn())
        .map_err(|e| format!("{}: error: {e}", dest.display()))?;
    let text = report(&shrunk, &dest);
    Ok((shrunk, text))
}

/// Where [`shrink_file`] writes by default: `NAME.shrunk.scn` next to
/// `NAME.scn`.
pub fn shrunk_path(path: &Path) -> PathBuf {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = file.strip_suffix(".scn").unwrap_or(&file);
    path.with_file_name(format!("{stem}.shrunk.scn"))
}

/// The report [`shrink_file`] returns.
pub fn report(s: &Shrunk, dest: &Path) -> String {
    let mut r = String::new();
    let _ = writeln!(
        r,
        "shrunk {} (seed {}) to {} (seed {}) in {} runs{}",
        s.from_file,
        s.from_seed,
        dest.display(),
        s.seed,
        s.runs,
        if s.exhausted {
            " (the run budget ran out: it may shrink further)"
        } else {
            ""
        }
    );
    let _ = writeln!(r, "still fails with: {}", s.signature.primary);
    let (b, a) = (s.before, s.after);
    let _ = writeln!(
        r,
        "steps {} -> {}, expectations {} -> {}, faults {} -> {}, managers {} -> {}, \
         JIT'd functions {} -> {} ({} -> {} ops), handlers {} -> {}, lines {} -> {}",
        b.steps,
        a.steps,
        b.expects,
        a.expects,
        b.faults,
        a.faults,
        b.managers,
        a.managers,
        b.jits,
        a.jits,
        b.ops,
        a.ops,
        b.handlers,
        a.handlers,
        b.lines,
        a.lines
    );
    if !s.removed.is_empty() {
        let _ = writeln!(r, "removed or simplified:");
        for x in &s.removed {
            let _ = writeln!(r, "  - {x}");
        }
    }
    if s.replays {
        let _ = writeln!(r, "replay: orc-sim replay {} --print", dest.display());
    } else {
        let _ = writeln!(
            r,
            "warning: replayed under its own seed with the default settings, it does not fail the same way:"
        );
        for m in &s.messages {
            let _ = writeln!(r, "  {m}");
        }
    }
    r
}

/// The state of one shrink.
struct Shrinker<'a> {
    engine: &'a Engine<'a>,
    file: String,
    opts: &'a ShrinkOptions,
    signature: FailureSignature,
    runs: usize,
    exhausted: bool,
    /// Candidates (text, seed) that ran and did not fail the same way.
    tried: HashSet<(String, u64)>,
    /// The smallest scenario so far, parsed from its own `to_scn` text (so
    /// positions are lines of that text).
    cur: Scenario,
    /// [`measure`] of `cur`.
    cur_measure: (usize, u128, usize),
    seed: u64,
    removed: Vec<String>,
}

/// A list of the scenario that ddmin removes items from.
#[derive(Debug, Clone, Copy)]
enum List {
    Expects,
    Steps,
    Faults,
    Managers,
    Handlers,
    Jits,
    Probes,
    /// The operations of the JIT'd function at this index.
    Ops(usize),
    /// The call-backs of the handler at this index.
    Calls(usize),
}

/// How many handlers at the start of `sc.handlers` the program provides
/// (a `Simulation`'s): not the script's, so never removed (the re-parsed
/// script would get them back, and each round would look like progress).
fn provided_handlers(sc: &Scenario) -> usize {
    sc.handlers
        .iter()
        .take_while(|h| h.reply == Reply::Provided)
        .count()
}

impl List {
    fn len(self, sc: &Scenario) -> usize {
        match self {
            List::Expects => sc.expects.len(),
            List::Steps => sc.steps.len(),
            List::Faults => sc.faults.len(),
            List::Managers => sc.managers.len(),
            List::Handlers => sc.handlers.len() - provided_handlers(sc),
            List::Jits => sc.jits.len(),
            List::Probes => sc.probes.len(),
            List::Ops(j) => sc.jits.get(j).map_or(0, |j| j.ops.len()),
            List::Calls(h) => sc.handlers.get(h).map_or(0, |h| h.calls_back.len()),
        }
    }

    /// `sc` without the items at indices `from..to`.
    fn without(self, sc: &Scenario, from: usize, to: usize) -> Scenario {
        let mut c = sc.clone();
        match self {
            List::Expects => drop(c.expects.drain(from..to)),
            List::Steps => drop(c.steps.drain(from..to)),
            List::Faults => drop(c.faults.drain(from..to)),
            List::Managers => drop(c.managers.drain(from..to)),
            List::Handlers => {
                let k = provided_handlers(sc);
                drop(c.handlers.drain(k + from..k + to));
            }
            List::Jits => drop(c.jits.drain(from..to)),
            List::Probes => drop(c.probes.drain(from..to)),
            List::Ops(j) => drop(c.jits[j].ops.drain(from..to)),
            List::Calls(h) => drop(c.handlers[h].calls_back.drain(from..to)),
        }
        c
    }

    /// Item `i` in words, from the text `sc` was parsed from.
    fn describe(self, sc: &Scenario, text: &str, i: usize) -> String {
        let line = |n: usize| text.lines().nth(n.wrapping_sub(1)).unwrap_or("?").trim();
        // The comma-separated parts of a `jit` or `handler` line.
        let parts = |n: usize| -> Vec<String> {
            let l = line(n);
            let body = l.split_once(": ").map_or(l, |(_, b)| b);
            split_unquoted(body, ", ")
                .into_iter()
                .map(str::to_owned)
                .collect()
        };
        match self {
            List::Expects => format!("`{}`", line(sc.expects[i].pos.line)),
            List::Steps => format!("step `{}`", line(sc.steps[i].pos.line)),
            List::Faults => format!("`{}`", line(sc.faults[i].pos.line)),
            List::Managers => format!("`{}`", line(sc.managers[i].pos.line)),
            List::Handlers => format!(
                "`{}`",
                line(sc.handlers[provided_handlers(sc) + i].pos.line)
            ),
            List::Jits => format!("`{}`", line(sc.jits[i].pos.line)),
            List::Probes => format!("`{}`", line(sc.probes[i].pos.line)),
            List::Ops(j) => {
                let p = parts(sc.jits[j].pos.line);
                let op = p.get(i).map_or("?", String::as_str);
                format!("`{op}` from jit `{}`", sc.jits[j].name)
            }
            List::Calls(h) => {
                let p = parts(sc.handlers[h].pos.line);
                let call = p.get(i).map_or("?", String::as_str);
                format!("`{call}` from handler `{}`", sc.handlers[h].name)
            }
        }
    }
}

/// Visits every site of one sort (a wait, a value, a behaviour) of a
/// scenario in a fixed order, with a label saying where it is.
type Visitor<T> = fn(&mut Scenario, &mut dyn FnMut(String, &mut T));

/// The sites `visit` visits, with their values.
fn sites<T: Clone>(sc: &Scenario, visit: Visitor<T>) -> Vec<(String, T)> {
    let mut c = sc.clone();
    let mut out = Vec::new();
    visit(&mut c, &mut |label, v| out.push((label, v.clone())));
    out
}

/// `sc` with site `k` of `visit` set to `new`.
fn with_site<T>(sc: &Scenario, visit: Visitor<T>, k: usize, new: T) -> Scenario {
    let mut c = sc.clone();
    let mut i = 0;
    let mut new = Some(new);
    visit(&mut c, &mut |_, v| {
        if i == k
            && let Some(n) = new.take()
        {
            *v = n;
        }
        i += 1;
    });
    c
}

/// Every manager, nested ones included, in a fixed order.
fn visit_managers(sc: &mut Scenario, f: &mut dyn FnMut(&mut ManagerDecl)) {
    fn walk(m: &mut ManagerDecl, f: &mut dyn FnMut(&mut ManagerDecl)) {
        f(m);
        for b in [&mut m.detach, &mut m.shutdown] {
            if let Some(n) = &mut b.add_manager {
                walk(n, f);
            }
        }
    }
    for m in &mut sc.managers {
        walk(m, f);
    }
    for j in &mut sc.jits {
        for o in &mut j.ops {
            if let Op::AddManager(m) = o {
                walk(m, f);
            }
        }
    }
    for s in &mut sc.steps {
        if let StepKind::AddManager(m) = &mut s.kind {
            walk(m, f);
        }
    }
}

fn count_managers(sc: &Scenario) -> usize {
    let mut n = 0;
    visit_managers(&mut sc.clone(), &mut |_| n += 1);
    n
}

fn visit_behaviours(sc: &mut Scenario, f: &mut dyn FnMut(String, &mut Behaviour)) {
    visit_managers(sc, &mut |m| {
        f(format!("manager `{}` detach", m.name), &mut m.detach);
        f(format!("manager `{}` shutdown", m.name), &mut m.shutdown);
    });
}

fn visit_waits(sc: &mut Scenario, f: &mut dyn FnMut(String, &mut u64)) {
    // A latency that is not the default (which is left alone: a header
    // line less beats shorter messages).
    if sc.latency != (1, 3) {
        f("latency min".into(), &mut sc.latency.0);
        f("latency max".into(), &mut sc.latency.1);
    }
    visit_managers(sc, &mut |m| {
        for (which, b) in [("detach", &mut m.detach), ("shutdown", &mut m.shutdown)] {
            if let Some(n) = &mut b.after {
                f(format!("`after` of manager `{}` {which}", m.name), n);
            }
        }
    });
    for j in &mut sc.jits {
        for o in &mut j.ops {
            let (what, n) = match o {
                Op::Work(n) => ("work", n),
                Op::ReturnLater(n, _) => ("return-later", n),
                Op::Keepalive(n) => ("keepalive", n),
                _ => continue,
            };
            f(format!("`{what}` in jit `{}`", j.name), n);
        }
    }
    for h in &mut sc.handlers {
        f(format!("`after` of handler `{}`", h.name), &mut h.after);
    }
    for (i, fault) in sc.faults.iter_mut().enumerate() {
        match &mut fault.kind {
            FaultKind::Delay(_, n) => f(format!("delay of fault {}", i + 1), n),
            FaultKind::StallReader(_, until) => f(format!("end of stall fault {}", i + 1), until),
            _ => {}
        }
    }
    for (i, s) in sc.steps.iter_mut().enumerate() {
        if let StepKind::Tick(n) = &mut s.kind {
            f(format!("`tick` (step {})", i + 1), n);
        }
    }
}

fn visit_values(sc: &mut Scenario, f: &mut dyn FnMut(String, &mut Value)) {
    for j in &mut sc.jits {
        for o in &mut j.ops {
            match o {
                Op::Call(t, v) | Op::CallAsync(t, v) => {
                    f(format!("argument of `call {t}` in jit `{}`", j.name), v);
                }
                Op::Return(v) | Op::ReturnLater(_, v) => {
                    f(format!("result of jit `{}`", j.name), v);
                }
                _ => {}
            }
        }
    }
    for h in &mut sc.handlers {
        for (target, v) in &mut h.calls_back {
            f(
                format!("argument of `calls {target}` in handler `{}`", h.name),
                v,
            );
        }
        if let Reply::Value(v) = &mut h.reply {
            f(format!("reply of handler `{}`", h.name), v);
        }
    }
    for s in &mut sc.steps {
        match &mut s.kind {
            StepKind::Call { handle, arg, .. } => f(format!("argument of call `{handle}`"), arg),
            StepKind::Service(h, SvcOp::Write(_, _, v)) => f(format!("value of write `{h}`"), v),
            StepKind::Service(h, SvcOp::Initialize(_, segs, _)) => {
                for g in segs {
                    f(
                        format!("segment content of initialize `{h}`"),
                        &mut g.content,
                    );
                }
            }
            _ => {}
        }
    }
}

/// Shorter waits: 0, 1, half.
fn shorter(n: &u64) -> Vec<u64> {
    let mut out: Vec<u64> = [0, 1, n / 2].into_iter().filter(|x| x < n).collect();
    out.dedup();
    out
}

/// Simpler behaviours: the default, then without each part.
fn simpler_behaviours(b: &Behaviour) -> Vec<Behaviour> {
    let mut out = Vec::new();
    if *b != Behaviour::default() {
        out.push(Behaviour::default());
    }
    let mut push = |edit: &dyn Fn(&mut Behaviour)| {
        let mut c = b.clone();
        edit(&mut c);
        if c != *b && !out.contains(&c) {
            out.push(c);
        }
    };
    push(&|c| c.add_manager = None);
    push(&|c| c.request_shutdown = None);
    push(&|c| c.wait_shutdown = None);
    push(&|c| c.after = None);
    push(&|c| {
        c.outcome = Outcome::Ok;
    });
    out
}

/// Simpler values: `empty`, then a zero of the same type.
fn simpler_values(v: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    if value_detail(v) > 0 {
        out.push(Value::Empty);
    }
    match v {
        Value::U64(n) if *n != 0 => out.push(Value::U64(0)),
        Value::U32(n) if *n != 0 => out.push(Value::U32(0)),
        Value::Str(s) if !s.is_empty() => out.push(Value::Str(String::new())),
        Value::Error(m) if !m.is_empty() => out.push(Value::Error(String::new())),
        _ => {}
    }
    out
}

fn value_detail(v: &Value) -> usize {
    match v {
        Value::Empty => 0,
        Value::Bytes(b) if b.is_empty() => 0,
        Value::U64(0) | Value::U32(0) | Value::Bool(_) => 1,
        Value::Str(s) | Value::Error(s) if s.is_empty() => 1,
        _ => 2,
    }
}

fn behaviour_detail(b: &Behaviour) -> usize {
    usize::from(b.outcome != Outcome::Ok)
        + usize::from(b.after.is_some())
        + usize::from(b.request_shutdown.is_some())
        + usize::from(b.wait_shutdown.is_some())
}

/// The header settings [`Shrinker::header_pass`] resets, one at a time:
/// `sc` with setting `k` at its default, and what changed (`None` if it
/// already is).
fn header_default(sc: &Scenario, k: usize) -> Option<(Scenario, String)> {
    let mut c = sc.clone();
    let what = match k {
        0 if c.dispatcher != Default::default() => {
            c.dispatcher = Default::default();
            "reset `dispatcher` to the default (queue keep)"
        }
        1 if c.on_disconnect != crate::scenario::OnDisconnect::Log => {
            c.on_disconnect = crate::scenario::OnDisconnect::Log;
            "reset `on-disconnect` to the default (log)"
        }
        2 if c.pipe_capacity != 65536 => {
            c.pipe_capacity = 65536;
            "reset `pipe` to the default (65536)"
        }
        3 if c.wire => {
            c.wire = false;
            c.deviations.clear();
            "removed `wire` (and its `# deviation:` lines)"
        }
        4 if c.services => {
            c.services = false;
            "removed `services`"
        }
        5 if c.latency != (1, 3) => {
            c.latency = (1, 3);
            "reset `latency` to the default (1 3)"
        }
        _ => return None,
    };
    Some((c, what.to_owned()))
}
const HEADER_SETTINGS: usize = 6;

/// The measure every accepted candidate decreases: items, then the sum of
/// the waits, then the details (settings, behaviours, values).
fn measure(sc: &Scenario) -> (usize, u128, usize) {
    let items = sc.steps.len()
        + sc.expects.len()
        + sc.faults.len()
        + count_managers(sc)
        + sc.jits.len()
        + sc.jits.iter().map(|j| j.ops.len()).sum::<usize>()
        + sc.handlers.len()
        + sc.handlers
            .iter()
            .map(|h| h.calls_back.len())
            .sum::<usize>()
        + sc.probes.len()
        + sc.deviations.len();
    let waits = sites(sc, visit_waits)
        .iter()
        .map(|(_, n)| u128::from(*n))
        .sum();
    let header = usize::from(sc.dispatcher != Default::default())
        + usize::from(sc.on_disconnect != crate::scenario::OnDisconnect::Log)
        + usize::from(sc.pipe_capacity != 65536)
        + usize::from(sc.wire)
        + usize::from(sc.services);
    let behaviours: usize = sites(sc, visit_behaviours)
        .iter()
        .map(|(_, b)| behaviour_detail(b))
        .sum();
    let values: usize = sites(sc, visit_values)
        .iter()
        .map(|(_, v)| value_detail(v))
        .sum();
    (items, waits, header + behaviours + values)
}

impl Shrinker<'_> {
    fn config(&self, seed: u64) -> RunConfig {
        let mut cfg = RunConfig::new(seed);
        cfg.hang_timeout = self.opts.hang_timeout;
        cfg.max_steps = self.opts.max_steps;
        cfg.liveness_ticks = self.opts.liveness_ticks;
        cfg
    }

    /// Runs `cand` under `seed` if it is smaller than the current scenario
    /// and parses; returns it (parsed from its text) if it fails the same
    /// way.
    fn attempt(&mut self, cand: &Scenario, seed: u64) -> Option<Scenario> {
        if self.exhausted {
            return None;
        }
        let (mc, mu) = (measure(cand), self.cur_measure);
        if !(mc < mu || (mc == mu && seed < self.seed)) {
            return None;
        }
        let text = cand.to_scn();
        let key = (text, seed);
        if self.tried.contains(&key) {
            return None;
        }
        let parsed = (self.engine.parse)(&self.file, &key.0).ok()?;
        if self.runs >= self.opts.max_runs {
            self.exhausted = true;
            return None;
        }
        self.runs += 1;
        let out = (self.engine.run)(&parsed, &self.config(seed));
        if self
            .signature
            .matches(&parsed, &out, self.opts.allow_new_failures)
        {
            Some(parsed)
        } else {
            self.tried.insert(key);
            None
        }
    }

    fn accept(&mut self, next: Scenario, notes: Vec<String>) {
        self.cur_measure = measure(&next);
        self.cur = next;
        self.removed.extend(notes);
    }

    /// One round of the removals; true if anything went.
    fn remove_pass(&mut self) -> bool {
        let mut changed = false;
        for l in [
            List::Expects,
            List::Faults,
            List::Steps,
            List::Managers,
            List::Handlers,
            List::Jits,
            List::Probes,
        ] {
            changed |= self.ddmin(l);
        }
        for j in 0..self.cur.jits.len() {
            changed |= self.ddmin(List::Ops(j));
        }
        for h in 0..self.cur.handlers.len() {
            changed |= self.ddmin(List::Calls(h));
        }
        changed
    }

    /// One round of the simplifications; true if anything changed.
    fn simplify_pass(&mut self) -> bool {
        let mut changed = self.header_pass();
        changed |= self.sites_pass(
            visit_behaviours,
            simpler_behaviours,
            crate::scenario::behaviour_text,
        );
        changed |= self.sites_pass(visit_waits, shorter, u64::to_string);
        changed |= self.sites_pass(visit_values, simpler_values, Value::to_string);
        changed
    }

    /// ddmin-style removal from one list: the whole list, then chunks of
    /// half, a quarter, ..., one item; after a success, coarser again.
    fn ddmin(&mut self, l: List) -> bool {
        let mut changed = false;
        let mut n = 1usize;
        loop {
            let len = l.len(&self.cur);
            if len == 0 || self.exhausted {
                return changed;
            }
            let n_eff = n.min(len);
            let chunk = len.div_ceil(n_eff);
            let mut progressed = false;
            let mut start = 0;
            while start < len {
                let end = (start + chunk).min(len);
                let cand = l.without(&self.cur, start, end);
                if let Some(next) = self.attempt(&cand, self.seed) {
                    let text = self.cur.to_scn();
                    let notes = (start..end)
                        .map(|i| format!("removed {}", l.describe(&self.cur, &text, i)))
                        .collect();
                    self.accept(next, notes);
                    progressed = true;
                    changed = true;
                    break;
                }
                if self.exhausted {
                    return changed;
                }
                start = end;
            }
            if progressed {
                n = n_eff.saturating_sub(1).max(2);
            } else if n_eff >= len {
                return changed;
            } else {
                n = (n_eff * 2).min(len);
            }
        }
    }

    fn header_pass(&mut self) -> bool {
        let mut changed = false;
        for k in 0..HEADER_SETTINGS {
            if let Some((cand, what)) = header_default(&self.cur, k)
                && let Some(next) = self.attempt(&cand, self.seed)
            {
                self.accept(next, vec![what]);
                changed = true;
            }
        }
        changed
    }

    /// Simplifies each site of `visit` in turn, as far as it goes.
    fn sites_pass<T: Clone>(
        &mut self,
        visit: Visitor<T>,
        simpler: fn(&T) -> Vec<T>,
        show: fn(&T) -> String,
    ) -> bool {
        let mut changed = false;
        let mut k = 0;
        loop {
            let all = sites(&self.cur, visit);
            let Some((label, v)) = all.get(k) else {
                return changed;
            };
            let mut accepted = false;
            for nv in simpler(v) {
                let cand = with_site(&self.cur, visit, k, nv.clone());
                if let Some(next) = self.attempt(&cand, self.seed) {
                    let note = format!("simplified {label}: {} -> {}", show(v), show(&nv));
                    self.accept(next, vec![note]);
                    accepted = true;
                    changed = true;
                    break;
                }
                if self.exhausted {
                    return changed;
                }
            }
            if !accepted {
                k += 1;
            }
        }
    }

    /// Tries smaller seeds, smallest first; true if one fails the same way.
    fn seeds_pass(&mut self) -> bool {
        let mut seeds: Vec<u64> = (0..self.opts.seeds_to_try).collect();
        seeds.push(self.cur.seed);
        seeds.sort_unstable();
        seeds.dedup();
        let current = self.seed;
        for s in seeds.into_iter().filter(|&s| s < current) {
            let cand = self.cur.clone();
            if let Some(next) = self.attempt(&cand, s) {
                let note = format!("seed {} -> {s}", self.seed);
                self.seed = s;
                self.accept(next, vec![note]);
                return true;
            }
            if self.exhausted {
                return false;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_masked_but_names_stay() {
        assert_eq!(
            mask_numbers("rm m1: 2 call(s) at 0x1f00 [m12] seq 7 c2 #3"),
            "rm m1: # call(s) at 0x# [m#] seq # c2 ##"
        );
    }

    #[test]
    fn violation_kinds_drop_transcript_lines_and_details() {
        let sc = parse("t.scn", "# rule: spec 8.7 x\n---\n").unwrap();
        let none = Transcript::default();
        assert_eq!(
            failure_kind(
                &sc,
                &none,
                "rm a: shutdown called while the execution scope is still retained (1 host guard(s))",
                true
            ),
            "invariant: rm a: shutdown called while the execution scope is still retained"
        );
        assert_eq!(
            failure_kind(
                &sc,
                &none,
                "every detach precedes every shutdown: \"rm a: detach [m3]\" comes after \"rm b: shutdown\"",
                true
            ),
            "invariant: every detach precedes every shutdown: \"...\" comes after \"...\""
        );
        assert_eq!(
            failure_kind(&sc, &none, "controller call #4 completed 2 times", true),
            "invariant: controller call ## completed # times"
        );
    }

    #[test]
    fn expectation_kinds_name_the_expectation_not_its_line() {
        let text = "# rule: spec 8.7 x\njit f: return u64 1\n---\nattach\ncall c f\n\
                    expect c ok u64 2\nexpect order \"a\" < \"b\" < \"c\"\nexpect count \"x\" 2\n";
        let sc = parse("t.scn", text).unwrap();
        let events = Transcript {
            events: vec![crate::transcript::Event {
                time: 3,
                actor: "x".into(),
                text: "c".into(),
                shape: crate::transcript::Shape::Note,
            }],
        };
        let k = |m: &str| failure_kind(&sc, &events, m, false);
        assert_eq!(
            k("expect (line 6): c should be ok u64 2, got ok 0100000000000000"),
            "expect c ok u64 2: got ok 0100000000000000"
        );
        assert_eq!(
            k("expect (line 6): c should be ok u64 2, got error \"call 3 failed\""),
            "expect c ok u64 2: got error \"call # failed\""
        );
        assert_eq!(
            k("expect (line 7): order \"b\" < \"c\": \"x: c [m2]\" comes after \"y: b\""),
            "expect order \"a\" < \"b\" < \"c\": order \"b\" < \"c\": out of order"
        );
        assert_eq!(
            k("expect (line 7): order: no event matches \"a\""),
            "expect order \"a\" < \"b\" < \"c\": order: no event matches \"a\"; matching: [\"c\"]"
        );
        assert_eq!(
            k("expect (line 8): 2 event(s) matching \"x\", found 5"),
            "expect count \"x\" 2: found more"
        );
        assert_eq!(
            k("expect (line 8): 2 event(s) matching \"x\", found 1"),
            "expect count \"x\" 2: found 1, fewer"
        );
        assert_eq!(
            k("script stuck at line 12: waited for c done until nothing was left to run"),
            "failure: script stuck at line #: waited for c done until nothing was left to run"
        );
    }

    #[test]
    fn shrunk_files_go_next_to_the_input() {
        assert_eq!(
            shrunk_path(Path::new("scenarios/x.scn")),
            PathBuf::from("scenarios/x.shrunk.scn")
        );
        assert_eq!(shrunk_path(Path::new("y")), PathBuf::from("y.shrunk.scn"));
    }

    #[test]
    fn splitting_respects_quotes() {
        assert_eq!(
            split_unquoted("wait \"a, b\", work 2", ", "),
            ["wait \"a, b\"", "work 2"]
        );
    }
}
