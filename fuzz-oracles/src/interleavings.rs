//! Coverage-guided search of the scheduler's interleavings: the input picks
//! one of the repository's scenarios (`scenarios/*.scn`, embedded at build
//! time) and gives `orc-sim`'s scheduler its first decisions
//! ([`RunConfig::choices`]); the run must pass as it does under every seed.
//!
//! Input layout ([`InterleavingsInput`]): bytes 0..4 a selector (`u32`,
//! little-endian) that picks the scenario, byte 4 flags (bit 0: a swarm
//! run), bytes 5..7 the seed (`u16`, little-endian), then the decisions,
//! one byte each (a pick among N ready items takes byte mod N). Missing
//! header bytes are zeros. When the decisions run out the seed decides.
//!
//! Each scenario owns the selectors from the key of the scenario before it
//! (exclusive) up to its own key (a ring of `u32`, keys hashed from file
//! names), so adding or removing a scenario leaves every other scenario's
//! selectors, and the checked-in inputs that name it by its key, alone.
//!
//! A run fails the oracle if it breaks an invariant of the runtime (a
//! panic, a deadlock, a manager shut down under a live guard, ...) or, when
//! it is not a swarm run, an expectation of the scenario; a swarm run's
//! transport faults (lost or duplicated messages) may legitimately break
//! expectations, so there only the invariants count. The panic message
//! holds the transcript and the `orc-sim replay ... --choices HEX` line
//! that reproduces the run.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use orc_sim::{RunConfig, RunOutcome, Scenario};

include!(concat!(env!("OUT_DIR"), "/scenarios.rs"));

/// Bytes before the decisions: selector (4), flags (1), seed (2).
pub const INTERLEAVINGS_HEADER: usize = 7;

/// Real time a simulated thread may keep the baton before the run counts
/// as hung: a step takes microseconds, so this is far from any scheduling
/// noise, even under ASan on a busy machine, while a deadlock costs little.
const HANG_TIMEOUT: Duration = Duration::from_secs(5);

/// Scheduler steps per run: scenarios take tens to a few hundred (with
/// swarm faults); far more is a livelock, which the run reports.
const MAX_STEPS: u64 = 20_000;

/// One input of the `interleavings` target, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterleavingsInput {
    /// The scenario's file, as the repository names it (`scenarios/x.scn`).
    pub scenario: &'static str,
    /// A swarm run: the seed also picks transport faults.
    pub swarm: bool,
    /// The seed, for the swarm plan and the decisions after `choices`.
    pub seed: u16,
    /// The scheduler's first decisions.
    pub choices: Vec<u8>,
}

/// A scenario of the ring.
struct Entry {
    path: &'static str,
    key: u32,
    scenario: Scenario,
}

/// The scenarios, parsed once, sorted by key.
fn ring() -> &'static [Entry] {
    static RING: OnceLock<Vec<Entry>> = OnceLock::new();
    RING.get_or_init(|| {
        let mut ring: Vec<Entry> = SCENARIOS
            .iter()
            .map(|&(path, text)| Entry {
                path,
                key: scenario_key(path),
                scenario: orc_sim::parse(path, text).unwrap_or_else(|e| {
                    panic!("{e}\n(a scenario that does not parse cannot be fuzzed)")
                }),
            })
            .collect();
        assert!(!ring.is_empty(), "no scenarios/*.scn embedded");
        ring.sort_by_key(|e| (e.key, e.path));
        ring
    })
}

/// Where a scenario sits on the ring: FNV-1a of its path, then a
/// finalizer that spreads similar names apart.
pub fn scenario_key(path: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in path.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// The scenario files the target picks from (`scenarios/x.scn`), sorted
/// by name.
pub fn interleavings_scenarios() -> Vec<&'static str> {
    SCENARIOS.iter().map(|&(path, _)| path).collect()
}

/// The entry a selector picks: the first key at or after it, wrapping.
fn pick(selector: u32) -> &'static Entry {
    let ring = ring();
    let i = ring.partition_point(|e| e.key < selector);
    &ring[i % ring.len()]
}

/// Decodes raw bytes (every input is valid): the scenario and the input.
fn decode(data: &[u8]) -> (&'static Entry, InterleavingsInput) {
    let mut header = [0u8; INTERLEAVINGS_HEADER];
    let n = data.len().min(INTERLEAVINGS_HEADER);
    header[..n].copy_from_slice(&data[..n]);
    let entry = pick(u32::from_le_bytes([
        header[0], header[1], header[2], header[3],
    ]));
    let input = InterleavingsInput {
        scenario: entry.path,
        swarm: header[4] & 1 == 1,
        seed: u16::from_le_bytes([header[5], header[6]]),
        choices: data[n..].to_vec(),
    };
    (entry, input)
}

impl InterleavingsInput {
    /// Decodes raw bytes as the fuzz target does (every input is valid).
    pub fn from_bytes(data: &[u8]) -> InterleavingsInput {
        decode(data).1
    }

    /// The bytes that decode to this input (the selector is the
    /// scenario's key); `None` if no embedded scenario has that path.
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        let e = ring().iter().find(|e| e.path == self.scenario)?;
        let mut out = e.key.to_le_bytes().to_vec();
        out.push(u8::from(self.swarm));
        out.extend_from_slice(&self.seed.to_le_bytes());
        out.extend_from_slice(&self.choices);
        Some(out)
    }

    /// The run's configuration.
    fn config(&self) -> RunConfig {
        let mut cfg = RunConfig::new(u64::from(self.seed));
        cfg.hang_timeout = HANG_TIMEOUT;
        cfg.max_steps = MAX_STEPS;
        cfg.swarm = self.swarm;
        cfg.choices = Arc::from(self.choices.as_slice());
        cfg
    }

    /// The `orc-sim replay` command (from the repository root) that makes
    /// the same run, with the decisions it took (`taken` bytes).
    pub fn reproduce_line(&self, taken: usize) -> String {
        // The bytes taken replay the run; at least one, so that the run
        // stays one with choices given (see `Rng::choices_taken`).
        let used = &self.choices[..taken.max(1).min(self.choices.len())];
        orc_sim::runner::reproduce_line(
            std::path::Path::new(self.scenario),
            u64::from(self.seed),
            self.swarm,
            used,
        )
    }
}

/// What runs now, for the panic hook: a panic the simulation does not
/// contain aborts the fuzzer before the oracle could name the run.
static CURRENT: Mutex<Option<String>> = Mutex::new(None);

/// Installs (once) a panic hook that names the run in progress before the
/// previous hook (libFuzzer's aborts) sees a panic; the simulation's and
/// the oracles' injected panics pass silently, as before.
fn name_the_run_on_panic() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let p = info.payload();
            let injected = p.is::<super::InjectedPanic>()
                || p.downcast_ref::<String>()
                    .is_some_and(|s| s.starts_with("[sim] "))
                || p.downcast_ref::<&str>()
                    .is_some_and(|s| s.starts_with("[sim] "));
            if !injected
                && let Some(run) = CURRENT.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
            {
                use std::io::Write as _;
                let _ = writeln!(std::io::stderr(), "interleavings: panic during {run}");
            }
            if !injected {
                previous(info);
            }
        }));
    });
}

/// Runs the raw input `data`: the fuzz target and the corpus replay.
pub fn interleavings(data: &[u8]) {
    let (entry, input) = decode(data);
    name_the_run_on_panic();
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!(
        "the run `{}` (the decisions given in full)",
        input.reproduce_line(input.choices.len())
    ));
    let watchdog = super::Watchdog::start("interleavings", Duration::from_secs(60));
    let outcome = orc_sim::run(&entry.scenario, &input.config());
    drop(watchdog);
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = None;
    let failed = if input.swarm {
        !outcome.violations.is_empty()
    } else {
        !outcome.passed()
    };
    if failed {
        panic!("{}", report(&input, &outcome));
    }
}

/// The finding: the transcript, what broke, and how to replay it.
fn report(input: &InterleavingsInput, outcome: &RunOutcome) -> String {
    let mut out = outcome.render();
    out.push_str(&format!(
        "\ninterleavings: {} fails under these decisions (seed {}{}; the run took {} of the {} decision bytes given)\n",
        input.scenario,
        input.seed,
        if input.swarm { ", swarm" } else { "" },
        outcome.choices_taken,
        input.choices.len(),
    ));
    for v in &outcome.violations {
        out.push_str(&format!("  invariant: {v}\n"));
    }
    if input.swarm {
        out.push_str("  (a swarm run: only broken invariants count)\n");
    } else {
        for f in &outcome.failures {
            out.push_str(&format!("  {f}\n"));
        }
    }
    out.push_str(&format!(
        "reproduce from the repository root:\n  cargo run --release -p orc-sim -- {}\n",
        input
            .reproduce_line(outcome.choices_taken)
            .trim_start_matches("orc-sim ")
    ));
    out
}
