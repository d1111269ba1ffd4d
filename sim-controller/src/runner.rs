//! `orc-sim replay` as a library: finds scenario files, runs each under one
//! or many seeds (in parallel), shows progress, and returns a [`Summary`]
//! (printed as a table, the probes reached, and the seed and reproduce line
//! of every failing run).
//!
//! - [`replay`]: the whole command: [`load`] the files, then
//!   [`replay_loaded`]. Downstream tools that build scenarios themselves
//!   call [`replay_loaded`] with [`Loaded::given`].
//! - [`plan`]: the runs a replay makes, in order, without running them
//!   ([`ReplayOptions::shard`] splits this list).
//! - [`Journal`]: each run's reproduce line is written before the run
//!   starts, so that a replay that hangs or aborts still says which run it
//!   was in ([`Journal::unfinished`]).
//!
//! A replay fails if a run fails (a broken invariant or expectation), if a
//! scenario does not parse, if `verify_determinism` finds two transcripts of
//! one seed that differ, or if a probe (`reach "PATTERN"`) of a scenario was
//! reached by none of its seeds.
//!
//! ```
//! use orc_sim::runner::{Loaded, ReplayOptions, replay_loaded};
//!
//! let script = "# rule: spec 8.7 shutdown waits for JIT'd code
//! manager m
//! jit busy: enter, work 3, leave
//! ---
//! spawn t busy
//! await \"jit t: enter: ok\"
//! shutdown
//! expect order \"jit t: leave\" < \"rm m: shutdown\"
//! ";
//! let sc = orc_sim::parse("mine.scn", script).unwrap();
//! let opts = ReplayOptions {
//!     seeds: Some(10),
//!     swarm: false,
//!     quiet: true,
//!     ..Default::default()
//! };
//! let mut out = Vec::new(); // the table and the failures, as `orc-sim replay` prints them
//! let summary = replay_loaded(&[Loaded::given("mine.scn", sc)], &opts, &mut out).unwrap();
//! assert!(summary.passed(), "{}", String::from_utf8_lossy(&out));
//! assert_eq!(summary.runs(), 10);
//! ```

use std::fmt;
use std::fs::File;
use std::io::{IsTerminal, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::scenario::{Scenario, parse};
use crate::sim::{RunConfig, RunOutcome, SwarmPlan, run};

/// What [`replay`] should do. `ReplayOptions::default()` replays
/// `scenarios/` once, each scenario under its own seed.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Files and directories (directories: every `*.scn` inside, sorted).
    pub paths: Vec<PathBuf>,
    /// The seed (with `seeds` or `duration`: the first seed).
    pub seed: Option<u64>,
    /// Run each scenario under this many seeds (`seed`, `seed + 1`, ...);
    /// with `duration`, at most this many.
    pub seeds: Option<u64>,
    /// Only scenarios whose file name contains this.
    pub filter: Option<String>,
    /// Worker threads running scenarios side by side.
    pub jobs: usize,
    /// Print every run's transcript (with `swarm`, its fault plan first).
    pub print: bool,
    /// Run every seed twice in the pool, and once more alone on a fresh
    /// thread after the parallel pass, and require identical transcripts.
    /// Keeps every transcript until the end of the replay.
    pub verify_determinism: bool,
    /// Write a Mermaid diagram of each run here (`{name}`, `{seed}` expand).
    pub mermaid: Option<String>,
    /// Write a Chrome/Perfetto trace of each run here.
    pub trace_json: Option<String>,
    /// Hang timeout per run (real time).
    pub hang_timeout: Duration,
    /// No progress output.
    pub quiet: bool,
    /// Swarm testing: every run also injects its seed's transport faults
    /// ([`SwarmPlan::for_seed`]); reproduce lines say `--swarm`.
    pub swarm: bool,
    /// Exploration: run fresh seeds (round after round: every scenario
    /// under `seed`, then `seed + 1`, ...) until this much time has passed.
    /// Without `seed`, the first seed is random (and printed).
    pub duration: Option<Duration>,
    /// Run only this shard of the runs (see [`plan`] and [`Shard`]).
    pub shard: Option<Shard>,
    /// The scheduler's first decisions in every run, one byte each
    /// ([`RunConfig::choices`]): how the `interleavings` fuzz target's
    /// finding is replayed. Empty: the seed decides everything.
    pub choices: std::sync::Arc<[u8]>,
    /// Record each run's reproduce line here before it starts (see
    /// [`Journal`]); `None`: no journal.
    pub journal: Option<PathBuf>,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            paths: vec![PathBuf::from("scenarios")],
            seed: None,
            seeds: None,
            filter: None,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            print: false,
            verify_determinism: false,
            mermaid: None,
            trace_json: None,
            hang_timeout: Duration::from_secs(10),
            quiet: false,
            swarm: false,
            duration: None,
            shard: None,
            choices: std::sync::Arc::from(Vec::new()),
            journal: None,
        }
    }
}

/// Shard `index` of `count` (`--shard I/N`, 0-based): run `k` of the
/// unsharded list of runs belongs to shard `k % count`, so the `count`
/// shards of one command together make each of its runs exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, `0..count`.
    pub index: u64,
    /// How many shards.
    pub count: u64,
}

impl Shard {
    /// Shard `index` of `count`; `index < count` is required.
    pub fn new(index: u64, count: u64) -> Result<Shard, String> {
        if count == 0 {
            return Err("a shard count of 0 (I/N needs N >= 1)".into());
        }
        if index >= count {
            return Err(format!(
                "shard {index} of {count} (I/N counts from 0: I < N)"
            ));
        }
        Ok(Shard { index, count })
    }

    /// True if run `k` of the unsharded list is this shard's.
    pub fn owns(&self, k: u64) -> bool {
        k % self.count == self.index
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `I/N`.
    fn from_str(s: &str) -> Result<Shard, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not I/N (e.g. 0/4)"))?;
        let num = |x: &str| {
            x.trim()
                .parse::<u64>()
                .map_err(|_| format!("`{s}` is not I/N (e.g. 0/4)"))
        };
        Shard::new(num(i)?, num(n)?)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The `*.scn` files under `paths`, sorted within each directory.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "scn"))
                .collect();
            files.sort();
            out.extend(files);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(format!("{}: no such file or directory", p.display()));
        }
    }
    Ok(out)
}

/// A scenario to replay: its file, its name, and the scenario (or why it
/// could not be read or parsed).
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The file (what reproduce lines name).
    pub path: PathBuf,
    /// The name the summary shows (the file's stem).
    pub name: String,
    /// The parsed scenario, or the read or parse error.
    pub scenario: Result<Scenario, String>,
}

impl Loaded {
    /// Reads and parses `path`.
    pub fn read(path: &Path) -> Loaded {
        let file = path.display().to_string();
        let scenario = std::fs::read_to_string(path)
            .map_err(|e| format!("{file}: error: {e}"))
            .and_then(|t| parse(&file, &t).map_err(|e| e.to_string()));
        Loaded {
            path: path.to_owned(),
            name: stem(path),
            scenario,
        }
    }

    /// A scenario built or parsed by the caller; `path` is what reproduce
    /// lines name.
    pub fn given(path: impl Into<PathBuf>, scenario: Scenario) -> Loaded {
        let path = path.into();
        Loaded {
            name: stem(&path),
            path,
            scenario: Ok(scenario),
        }
    }
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The scenarios of `opts.paths` that pass `opts.filter` (on the file
/// name), read and parsed; an error if there is none.
pub fn load(opts: &ReplayOptions) -> Result<Vec<Loaded>, String> {
    let loaded: Vec<Loaded> = collect(&opts.paths)?
        .iter()
        .filter(|f| opts.filter.as_deref().is_none_or(|x| stem(f).contains(x)))
        .map(|f| Loaded::read(f))
        .collect();
    if loaded.is_empty() {
        return Err("no scenario to run (check the paths and --filter)".into());
    }
    Ok(loaded)
}

/// One run: a scenario (its index in the loaded list) under a seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Run {
    /// Index into the [`Loaded`] list.
    pub scenario: usize,
    /// The seed.
    pub seed: u64,
}

/// The runs a replay of `loaded` makes, in order, when it has a fixed
/// number of runs (not with `duration`): scenario by scenario, seed by
/// seed; with `opts.shard`, only the shard's runs (run `k` of the
/// unsharded list to shard `k % N`). Scenarios that did not parse have no
/// run.
pub fn plan(loaded: &[Loaded], opts: &ReplayOptions) -> Result<Vec<Run>, String> {
    if opts.duration.is_some() {
        return Err("a replay with a duration has no fixed list of runs".into());
    }
    let mut runs = Vec::new();
    for (i, l) in loaded.iter().enumerate() {
        let Ok(sc) = &l.scenario else { continue };
        match opts.seeds {
            Some(k) => {
                let base = opts.seed.unwrap_or(0);
                runs.extend((0..k).map(|n| Run {
                    scenario: i,
                    seed: base.wrapping_add(n),
                }));
            }
            None => runs.push(Run {
                scenario: i,
                seed: opts.seed.unwrap_or(sc.seed),
            }),
        }
    }
    if let Some(sh) = opts.shard {
        runs = runs
            .into_iter()
            .enumerate()
            .filter(|(k, _)| sh.owns(*k as u64))
            .map(|(_, r)| r)
            .collect();
    }
    Ok(runs)
}

/// The runs of a replay: a fixed list, or rounds of fresh seeds.
enum Jobs {
    List(Vec<Run>),
    /// Round `r` runs every scenario of `scenarios` under `base + r`.
    Rounds {
        base: u64,
        scenarios: Vec<usize>,
        rounds: Option<u64>,
        shard: Option<Shard>,
    },
}

impl Jobs {
    /// The `j`-th run of this replay (of this shard).
    fn get(&self, j: u64) -> Option<Run> {
        match self {
            Jobs::List(v) => v.get(usize::try_from(j).ok()?).copied(),
            Jobs::Rounds {
                base,
                scenarios,
                rounds,
                shard,
            } => {
                let n = scenarios.len() as u64;
                if n == 0 {
                    return None;
                }
                let k = match shard {
                    Some(s) => j.checked_mul(s.count)?.checked_add(s.index)?,
                    None => j,
                };
                let round = k / n;
                if rounds.is_some_and(|r| round >= r) {
                    return None;
                }
                Some(Run {
                    scenario: scenarios[(k % n) as usize],
                    seed: base.wrapping_add(round),
                })
            }
        }
    }

    fn len(&self) -> Option<u64> {
        match self {
            Jobs::List(v) => Some(v.len() as u64),
            Jobs::Rounds { .. } => None,
        }
    }
}

/// The command that replays `seed` of the scenario at `path` (a swarm run
/// if `swarm`, its scheduler's first decisions `choices`) and prints its
/// transcript.
pub fn reproduce_line(path: &Path, seed: u64, swarm: bool, choices: &[u8]) -> String {
    format!(
        "orc-sim replay {} --seed {seed}{} --print",
        path.display(),
        run_flags(swarm, choices)
    )
}

/// ` --swarm`, ` --choices HEX`: the flags that make a run what it was,
/// beside its file and seed.
fn run_flags(swarm: bool, choices: &[u8]) -> String {
    let mut flags = String::new();
    if swarm {
        flags.push_str(" --swarm");
    }
    if !choices.is_empty() {
        flags.push_str(" --choices ");
        flags.push_str(&to_hex(choices));
    }
    flags
}

/// `bytes` as lowercase hex, two digits each (what `--choices` reads).
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex digits, two per byte, as `--choices` takes them (an optional `0x`;
/// `_` may separate digits); an empty string is no bytes.
pub fn from_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text
        .strip_prefix("0x")
        .unwrap_or(text)
        .bytes()
        .filter(|&c| c != b'_')
        .collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("`{text}`: an odd number of hex digits"));
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| format!("`{text}` is not hex (e.g. 00ff03)"))
        })
        .collect()
}

/// How often one probe of a scenario was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeCount {
    /// The probe's pattern (`reach "PATTERN"`).
    pub pattern: String,
    /// Its line in the scenario.
    pub line: usize,
    /// Seeds whose run reached it.
    pub reached: u64,
}

/// Which second run of a seed gave a different transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rerun {
    /// The second run in the worker pool, right after the first.
    InPool,
    /// The run made alone on a fresh thread after the parallel pass.
    Alone,
}

/// Two runs of one seed that gave different transcripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nondeterminism {
    /// The seed.
    pub seed: u64,
    /// Which run differed from the first run made in the pool.
    pub rerun: Rerun,
    /// The first line (1-based) of the rendered transcripts that differs.
    pub line: usize,
    /// That line in the first run (`(end)` if it had no more lines).
    pub first: String,
    /// That line in the other run.
    pub other: String,
}

/// The first line where `a` and `b` differ: (1-based number, `a`'s, `b`'s).
fn first_difference(a: &str, b: &str) -> Option<(usize, String, String)> {
    let (mut x, mut y) = (a.lines(), b.lines());
    for n in 1.. {
        match (x.next(), y.next()) {
            (None, None) => return None,
            (p, q) if p == q => {}
            (p, q) => {
                let s = |l: Option<&str>| l.unwrap_or("(end)").to_owned();
                return Some((n, s(p), s(q)));
            }
        }
    }
    None
}

/// At most this many failing runs are kept per scenario
/// ([`ScenarioReport::failed`]); all of their seeds are kept.
pub const KEPT_FAILURES: usize = 100;

/// How one scenario did over its seeds.
#[derive(Debug, Clone)]
pub struct ScenarioReport {
    /// Its name.
    pub name: String,
    /// Its file.
    pub path: PathBuf,
    /// The spec rules it checks (`# rule:` lines).
    pub rules: Vec<String>,
    /// Seeds run, in the order of the runs.
    pub seeds: Vec<u64>,
    /// Every failing seed, in the order of the runs.
    pub failed_seeds: Vec<u64>,
    /// The failing runs (the first [`KEPT_FAILURES`] of them).
    pub failed: Vec<RunOutcome>,
    /// Seeds whose runs gave different transcripts (with
    /// `verify_determinism`).
    pub nondeterministic: Vec<Nondeterminism>,
    /// Its probes and how many seeds reached each.
    pub probes: Vec<ProbeCount>,
    /// A parse or read error, if it did not run.
    pub error: Option<String>,
    /// Total run time (summed over seeds).
    pub time: Duration,
    /// Total scheduler steps.
    pub steps: u64,
}

impl ScenarioReport {
    fn new(l: &Loaded) -> ScenarioReport {
        let (rules, probes, error) = match &l.scenario {
            Ok(sc) => (
                sc.rules.clone(),
                sc.probes
                    .iter()
                    .map(|p| ProbeCount {
                        pattern: p.pattern.clone(),
                        line: p.pos.line,
                        reached: 0,
                    })
                    .collect(),
                None,
            ),
            Err(e) => (Vec::new(), Vec::new(), Some(e.clone())),
        };
        ScenarioReport {
            name: l.name.clone(),
            path: l.path.clone(),
            rules,
            seeds: Vec::new(),
            failed_seeds: Vec::new(),
            failed: Vec::new(),
            nondeterministic: Vec::new(),
            probes,
            error,
            time: Duration::ZERO,
            steps: 0,
        }
    }

    /// Probes that none of the seeds run reached (none if no seed ran).
    pub fn unreached_probes(&self) -> impl Iterator<Item = &ProbeCount> {
        self.probes
            .iter()
            .filter(|p| p.reached == 0 && !self.seeds.is_empty())
    }

    /// True if it parsed, every seed passed and gave one transcript, and
    /// every probe was reached.
    pub fn passed(&self) -> bool {
        self.error.is_none()
            && self.failed_seeds.is_empty()
            && self.nondeterministic.is_empty()
            && self.unreached_probes().next().is_none()
    }

    /// The summary table's word for it: `pass`, `FAIL n`, `NONDET`,
    /// `PROBE` (a probe never reached) or `ERROR`.
    pub fn verdict(&self) -> String {
        if self.error.is_some() {
            "ERROR".into()
        } else if !self.nondeterministic.is_empty() {
            "NONDET".into()
        } else if !self.failed_seeds.is_empty() {
            format!("FAIL {}", self.failed_seeds.len())
        } else if self.unreached_probes().next().is_some() {
            "PROBE".into()
        } else {
            "pass".into()
        }
    }
}

/// The overall result of a replay.
#[derive(Debug, Clone)]
pub struct Summary {
    /// One report per scenario, in file order.
    pub scenarios: Vec<ScenarioReport>,
    /// Wall-clock time of the whole replay.
    pub wall: Duration,
    /// Runs were swarm runs (reproduce lines say `--swarm`).
    pub swarm: bool,
    /// The scheduler's first decisions in every run (reproduce lines say
    /// `--choices HEX`).
    pub choices: std::sync::Arc<[u8]>,
    /// The first seed of an exploration (`duration`).
    pub base_seed: Option<u64>,
    /// The shard this replay ran.
    pub shard: Option<Shard>,
    /// The runs a previous replay started and never finished, from the
    /// journal (reproduce lines).
    pub previous_unfinished: Vec<String>,
    /// With `verify_determinism`: the runs whose seed was run twice in the
    /// pool and once alone, and compared.
    pub verified: u64,
}

impl Summary {
    /// True if everything passed.
    pub fn passed(&self) -> bool {
        !self.scenarios.is_empty() && self.scenarios.iter().all(ScenarioReport::passed)
    }

    /// Runs done.
    pub fn runs(&self) -> u64 {
        self.scenarios.iter().map(|s| s.seeds.len() as u64).sum()
    }

    /// Scheduler steps taken.
    pub fn steps(&self) -> u64 {
        self.scenarios.iter().map(|s| s.steps).sum()
    }

    /// The reproduce line of `seed` of scenario `r`.
    pub fn reproduce(&self, r: &ScenarioReport, seed: u64) -> String {
        reproduce_line(&r.path, seed, self.swarm, &self.choices)
    }

    /// Writes the summary table, the probe table, and every error, failing
    /// run (with its reproduce line), nondeterministic seed and unreached
    /// probe.
    pub fn print(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let width = self
            .scenarios
            .iter()
            .map(|r| r.name.len())
            .max()
            .unwrap_or(8)
            .max(8);
        writeln!(
            out,
            "{:<width$}  {:>5}  {:<6}  {:>9}  {:>9}",
            "scenario", "seeds", "result", "time", "steps"
        )?;
        for r in &self.scenarios {
            writeln!(
                out,
                "{:<width$}  {:>5}  {:<6}  {:>9}  {:>9}",
                r.name,
                r.seeds.len(),
                r.verdict(),
                secs(r.time),
                r.steps
            )?;
        }
        let wall = self.wall.as_secs_f64().max(1e-9);
        let runs = self.runs();
        let steps = self.steps();
        writeln!(
            out,
            "{} scenarios, {runs} runs, {steps} steps in {:.2} s: {:.1} scenarios/s, {:.0} runs/s, {:.0} steps/s",
            self.scenarios.len(),
            wall,
            self.scenarios.len() as f64 / wall,
            runs as f64 / wall,
            steps as f64 / wall
        )?;
        if let Some(sh) = self.shard {
            writeln!(
                out,
                "shard {sh}: the runs k of the whole command with k mod {} = {}",
                sh.count, sh.index
            )?;
        }
        if self.verified > 0 {
            let differ: usize = self
                .scenarios
                .iter()
                .map(|r| r.nondeterministic.len())
                .sum();
            writeln!(
                out,
                "determinism: {} seeds run twice in parallel and once alone: {}",
                self.verified,
                if differ == 0 {
                    "the same transcripts".to_owned()
                } else {
                    format!("{differ} differences (below)")
                }
            )?;
        }
        self.print_probes(out)?;
        for r in &self.scenarios {
            self.print_problems(r, out)?;
        }
        Ok(())
    }

    fn print_probes(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let rows: Vec<(&ScenarioReport, &ProbeCount)> = self
            .scenarios
            .iter()
            .flat_map(|r| r.probes.iter().map(move |p| (r, p)))
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        let quoted = |p: &ProbeCount| format!("{:?}", p.pattern);
        let w1 = rows
            .iter()
            .map(|(r, _)| r.name.len())
            .max()
            .unwrap_or(0)
            .max(8);
        let w2 = rows
            .iter()
            .map(|(_, p)| quoted(p).len())
            .max()
            .unwrap_or(0)
            .max(5);
        writeln!(out, "\n{:<w1$}  {:<w2$}  reached", "scenario", "probe")?;
        for (r, p) in rows {
            let n = r.seeds.len();
            let never = if p.reached == 0 && n > 0 {
                "  NEVER REACHED"
            } else {
                ""
            };
            writeln!(
                out,
                "{:<w1$}  {:<w2$}  {}/{n} seeds{never}",
                r.name,
                quoted(p),
                p.reached
            )?;
        }
        Ok(())
    }

    fn print_problems(&self, r: &ScenarioReport, out: &mut dyn Write) -> std::io::Result<()> {
        if let Some(e) = &r.error {
            writeln!(out, "\n{e}")?;
        }
        for p in r.unreached_probes() {
            writeln!(
                out,
                "\n{}: probe {:?} (line {}) was reached by none of the {} seed(s) run: \
                 the situation it declares never happened (run more seeds, or check the pattern)",
                r.name,
                p.pattern,
                p.line,
                r.seeds.len()
            )?;
        }
        for n in &r.nondeterministic {
            let (what, first, other) = match n.rerun {
                Rerun::InPool => ("two runs in parallel gave", "first run", "second run"),
                Rerun::Alone => (
                    "the run made alone and the run made in parallel gave",
                    "in parallel",
                    "alone",
                ),
            };
            writeln!(
                out,
                "\n{} seed {}: {what} different transcripts, from line {}:\n  {first}: {}\n  {other}: {}\n  reproduce: orc-sim replay {} --seed {}{} --verify-determinism",
                r.name,
                n.seed,
                n.line,
                n.first,
                n.other,
                r.path.display(),
                n.seed,
                run_flags(self.swarm, &self.choices),
            )?;
        }
        const DETAILED: usize = 10;
        for f in r.failed.iter().take(DETAILED) {
            writeln!(out, "\n{} failed with seed {}:", r.name, f.seed)?;
            for v in &f.violations {
                writeln!(out, "  invariant: {v}")?;
            }
            for x in &f.failures {
                writeln!(out, "  {x}")?;
            }
            if self.swarm {
                writeln!(out, "  swarm plan: {}", SwarmPlan::for_seed(f.seed))?;
            }
            writeln!(out, "  reproduce: {}", self.reproduce(r, f.seed))?;
            // The shrinker changes the script, which the given decisions
            // (and a swarm plan's draws) would no longer fit.
            if !self.swarm && self.choices.is_empty() {
                writeln!(
                    out,
                    "  shrink:    orc-sim shrink {} --seed {} --out FILE",
                    r.path.display(),
                    f.seed
                )?;
            }
        }
        if r.failed_seeds.len() > DETAILED {
            let rest = &r.failed_seeds[DETAILED..];
            let shown: Vec<String> = rest.iter().take(50).map(u64::to_string).collect();
            writeln!(
                out,
                "\n{} failed with {} more seed(s): {}{}",
                r.name,
                rest.len(),
                shown.join(", "),
                if rest.len() > 50 { ", ..." } else { "" }
            )?;
        }
        Ok(())
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn expand(pattern: &str, name: &str, seed: u64) -> String {
    pattern
        .replace("{name}", name)
        .replace("{seed}", &seed.to_string())
}

/// The journal: one fixed-width line per worker, overwritten in place.
/// Before a run starts its worker's line becomes `run REPRODUCE-LINE`,
/// after it ends `idle`; so the file stays small however long a replay
/// runs, and after a hang, an abort or a kill it names the runs that were
/// in flight ([`Journal::unfinished`]).
///
/// Writes are best effort: a replay does not fail because its journal
/// cannot be written (creating it can fail).
#[derive(Debug)]
pub struct Journal {
    file: Mutex<File>,
    /// Bytes per line, newline excluded.
    width: usize,
}

const JOURNAL_HEADER: &str =
    "# orc-sim journal: one line per worker; `run CMD` was running when last written, `idle` not\n";

impl Journal {
    /// Creates (or empties) the journal at `path` with `slots` lines for
    /// reproduce lines of at most `longest` bytes; creates its directory.
    pub fn create(path: &Path, slots: usize, longest: usize) -> std::io::Result<Journal> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)?;
        }
        let width = longest + "run ".len();
        let mut text = String::from(JOURNAL_HEADER);
        for _ in 0..slots {
            text.push_str(&format!("{:<width$}\n", "idle"));
        }
        let mut file = File::create(path)?;
        file.write_all(text.as_bytes())?;
        Ok(Journal {
            file: Mutex::new(file),
            width,
        })
    }

    fn put(&self, slot: usize, text: &str) {
        let mut line = format!("{text:<w$}", w = self.width);
        line.truncate(self.width);
        line.push('\n');
        let at = JOURNAL_HEADER.len() + slot * (self.width + 1);
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let _ = f
            .seek(SeekFrom::Start(at as u64))
            .and_then(|_| f.write_all(line.as_bytes()));
    }

    /// Worker `slot` starts the run `reproduce` (before it starts).
    pub fn start(&self, slot: usize, reproduce: &str) {
        self.put(slot, &format!("run {reproduce}"));
    }

    /// Worker `slot`'s run ended.
    pub fn finish(&self, slot: usize) {
        self.put(slot, "idle");
    }

    /// The runs the journal at `path` shows in flight (their reproduce
    /// lines): those a replay started and never finished. Empty if there
    /// is no journal.
    pub fn unfinished(path: &Path) -> Vec<String> {
        let Ok(text) = std::fs::read_to_string(path) else {
            return Vec::new();
        };
        text.lines()
            .filter_map(|l| l.strip_prefix("run "))
            .map(|l| l.trim_end().to_owned())
            .collect()
    }
}

/// A first seed nobody chose (for an exploration without `--seed`).
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(now);
    h.write_u32(std::process::id());
    // Short enough to type.
    h.finish() >> 32
}

/// Runs the replay of the files `opts` names: [`load`], then
/// [`replay_loaded`].
pub fn replay(opts: &ReplayOptions, out: &mut dyn Write) -> Result<Summary, String> {
    let loaded = load(opts)?;
    replay_loaded(&loaded, opts, out)
}

/// What the workers gather, under one lock.
#[derive(Default)]
struct Gathered {
    /// Per scenario: (run number, seed) of each run.
    seeds: Vec<Vec<(u64, u64)>>,
    failed: Vec<Vec<(u64, RunOutcome)>>,
    failed_seeds: Vec<Vec<(u64, u64)>>,
    nondet: Vec<Vec<(u64, Nondeterminism)>>,
    time: Vec<Duration>,
    steps: Vec<u64>,
    reached: Vec<Vec<u64>>,
    /// Transcripts to print, by run number.
    printed: Vec<(u64, String)>,
    /// With `verify_determinism`: each run and its first transcript.
    texts: Vec<(u64, Run, String)>,
    /// The first error writing a picture.
    error: Option<String>,
}

impl Gathered {
    fn new(n: usize) -> Gathered {
        Gathered {
            seeds: vec![Vec::new(); n],
            failed: (0..n).map(|_| Vec::new()).collect(),
            failed_seeds: vec![Vec::new(); n],
            nondet: vec![Vec::new(); n],
            time: vec![Duration::ZERO; n],
            steps: vec![0; n],
            reached: vec![Vec::new(); n],
            ..Default::default()
        }
    }
}

/// Runs the replay of `loaded` (from [`load`], or built with
/// [`Loaded::given`]), writing the table and failures to `out` and
/// progress to stderr. `opts.paths` and `opts.filter` are not looked at.
/// Returns the summary ([`Summary::passed`] says whether the replay
/// passed); an error for a bad request (pictures several runs would write
/// to one file, a picture that cannot be written, a sharded exploration
/// without a seed). A journal that cannot be created is reported on
/// stderr and the replay goes on without it.
pub fn replay_loaded(
    loaded: &[Loaded],
    opts: &ReplayOptions,
    out: &mut dyn Write,
) -> Result<Summary, String> {
    let w = |e: std::io::Error| e.to_string();
    let runnable: Vec<usize> = (0..loaded.len())
        .filter(|&i| loaded[i].scenario.is_ok())
        .collect();
    let mut base_seed = None;
    let jobs = match opts.duration {
        None => Jobs::List(plan(loaded, opts)?),
        Some(_) => {
            if opts.shard.is_some() && opts.seed.is_none() {
                return Err(
                    "--shard with --for needs --seed, so that the shards share one list of seeds"
                        .into(),
                );
            }
            let base = opts.seed.unwrap_or_else(random_seed);
            base_seed = Some(base);
            Jobs::Rounds {
                base,
                scenarios: runnable.clone(),
                rounds: opts.seeds,
                shard: opts.shard,
            }
        }
    };
    let total = jobs.len();
    let pictures = opts.mermaid.is_some() || opts.trace_json.is_some();
    if pictures && total != Some(1) {
        let runs_per_scenario = match &jobs {
            Jobs::List(v) => runnable
                .iter()
                .map(|i| v.iter().filter(|r| r.scenario == *i).count())
                .max()
                .unwrap_or(0),
            Jobs::Rounds { .. } => 2,
        };
        for p in opts.mermaid.iter().chain(opts.trace_json.iter()) {
            let varies_by_name = runnable.len() <= 1 || p.contains("{name}");
            let varies_by_seed = runs_per_scenario <= 1 || p.contains("{seed}");
            if !varies_by_name || !varies_by_seed {
                return Err(format!(
                    "{p}: several runs would write the same file; use {{name}} and {{seed}} in it, or narrow with --filter / --seed"
                ));
            }
        }
    }
    let mut previous_unfinished = Vec::new();
    let workers = match total {
        Some(t) => opts.jobs.clamp(1, (t as usize).max(1)),
        None => opts.jobs.max(1),
    };
    let journal = match &opts.journal {
        Some(path) => {
            previous_unfinished = Journal::unfinished(path);
            let longest = runnable
                .iter()
                .map(|&i| {
                    reproduce_line(&loaded[i].path, u64::MAX, opts.swarm, &opts.choices).len()
                })
                .max()
                .unwrap_or(0);
            match Journal::create(path, workers, longest) {
                Ok(j) => Some(j),
                Err(e) => {
                    eprintln!("orc-sim: no journal: {}: {e}", path.display());
                    None
                }
            }
        }
        None => None,
    };
    for line in &previous_unfinished {
        writeln!(out, "the previous replay stopped during: {line}").map_err(w)?;
    }
    if let (Some(base), Some(d)) = (base_seed, opts.duration) {
        writeln!(
            out,
            "exploring for {} from seed {base} (the same seeds again: --seed {base})",
            human(d)
        )
        .map_err(w)?;
    }
    let plan_first = opts.swarm && opts.print && total == Some(1);
    if plan_first && let Some(r) = jobs.get(0) {
        writeln!(
            out,
            "# swarm plan of seed {}: {}",
            r.seed,
            SwarmPlan::for_seed(r.seed)
        )
        .map_err(w)?;
        out.flush().map_err(w)?;
    }

    let gathered = Mutex::new(Gathered::new(loaded.len()));
    for (i, l) in loaded.iter().enumerate() {
        if let Ok(sc) = &l.scenario {
            gathered.lock().unwrap_or_else(|e| e.into_inner()).reached[i] =
                vec![0; sc.probes.len()];
        }
    }
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let live = AtomicU64::new(workers as u64);
    let start = Instant::now();
    let deadline = opts.duration.map(|d| start + d);
    let config = |seed: u64| {
        let mut cfg = RunConfig::new(seed);
        cfg.hang_timeout = opts.hang_timeout;
        cfg.swarm = opts.swarm;
        cfg.choices = opts.choices.clone();
        cfg
    };
    std::thread::scope(|s| {
        for slot in 0..workers {
            let (jobs, next, done, live, gathered, journal, config) =
                (&jobs, &next, &done, &live, &gathered, &journal, &config);
            s.spawn(move || {
                let _live = Live(live);
                loop {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        break;
                    }
                    let j = next.fetch_add(1, Ordering::Relaxed);
                    let Some(r) = jobs.get(j) else { break };
                    let l = &loaded[r.scenario];
                    let Ok(sc) = &l.scenario else { break };
                    let cfg = config(r.seed);
                    if let Some(jn) = journal {
                        jn.start(
                            slot,
                            &reproduce_line(&l.path, r.seed, opts.swarm, &opts.choices),
                        );
                    }
                    let t = Instant::now();
                    let a = run(sc, &cfg);
                    let b = opts.verify_determinism.then(|| run(sc, &cfg));
                    let dt = t.elapsed();
                    if let Some(jn) = journal {
                        jn.finish(slot);
                    }
                    record(gathered, opts, l, r, j, a, b, dt, plan_first);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        if !opts.quiet && total != Some(1) {
            progress("", &live, &done, total, start, opts.duration);
        }
    });
    let mut g = gathered.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut verified = 0;
    if opts.verify_determinism {
        g.texts.sort_by_key(|t| t.0);
        verified = g.texts.len() as u64;
        alone_pass(&mut g, loaded, opts, journal.as_ref(), &config);
    }
    let wall = start.elapsed();
    if let Some(e) = g.error.take() {
        return Err(e);
    }
    g.printed.sort_by_key(|p| p.0);
    for (_, text) in &g.printed {
        writeln!(out, "{text}").map_err(w)?;
    }
    let mut reports: Vec<ScenarioReport> = loaded.iter().map(ScenarioReport::new).collect();
    for (i, rep) in reports.iter_mut().enumerate() {
        let by_run = |v: &mut Vec<(u64, u64)>| {
            v.sort_by_key(|x| x.0);
            v.iter().map(|x| x.1).collect::<Vec<u64>>()
        };
        rep.seeds = by_run(&mut g.seeds[i]);
        rep.failed_seeds = by_run(&mut g.failed_seeds[i]);
        let mut failed = std::mem::take(&mut g.failed[i]);
        failed.sort_by_key(|x| x.0);
        rep.failed = failed
            .into_iter()
            .map(|x| x.1)
            .take(KEPT_FAILURES)
            .collect();
        let mut nondet = std::mem::take(&mut g.nondet[i]);
        nondet.sort_by_key(|x| (x.0, x.1.rerun == Rerun::Alone));
        rep.nondeterministic = nondet.into_iter().map(|x| x.1).collect();
        rep.time = g.time[i];
        rep.steps = g.steps[i];
        for (p, n) in rep.probes.iter_mut().zip(&g.reached[i]) {
            p.reached = *n;
        }
    }
    let summary = Summary {
        scenarios: reports,
        wall,
        swarm: opts.swarm,
        choices: opts.choices.clone(),
        base_seed,
        shard: opts.shard,
        previous_unfinished,
        verified,
    };
    summary.print(out).map_err(w)?;
    Ok(summary)
}

/// Files one run's results (and its pictures) under the lock.
#[allow(clippy::too_many_arguments, reason = "the worker's locals, once")]
fn record(
    gathered: &Mutex<Gathered>,
    opts: &ReplayOptions,
    l: &Loaded,
    r: Run,
    j: u64,
    a: RunOutcome,
    b: Option<RunOutcome>,
    dt: Duration,
    plan_first: bool,
) {
    let i = r.scenario;
    let mut picture_error = None;
    if let Some(p) = &opts.mermaid {
        let f = expand(p, &l.name, r.seed);
        if let Err(e) = std::fs::write(&f, crate::render::mermaid(&a)) {
            picture_error = Some(format!("{f}: {e}"));
        }
    }
    if let Some(p) = &opts.trace_json {
        let f = expand(p, &l.name, r.seed);
        if let Err(e) = std::fs::write(&f, crate::render::trace_json(&a)) {
            picture_error = Some(format!("{f}: {e}"));
        }
    }
    let text = (opts.print || b.is_some()).then(|| a.render());
    let nondet = match (&b, &text) {
        (Some(b), Some(ta)) => {
            first_difference(ta, &b.render()).map(|(line, first, other)| Nondeterminism {
                seed: r.seed,
                rerun: Rerun::InPool,
                line,
                first,
                other,
            })
        }
        _ => None,
    };
    let mut g = gathered.lock().unwrap_or_else(|e| e.into_inner());
    if g.error.is_none() {
        g.error = picture_error;
    }
    g.seeds[i].push((j, r.seed));
    g.time[i] += dt;
    g.steps[i] += a.steps;
    if let Ok(sc) = &l.scenario {
        for (p, n) in sc.probes.iter().zip(g.reached[i].iter_mut()) {
            if a.reached.contains(&p.pattern) {
                *n += 1;
            }
        }
    }
    if let Some(n) = nondet {
        g.nondet[i].push((j, n));
    }
    if opts.print {
        let mut shown = String::new();
        if opts.swarm && !plan_first {
            shown = format!(
                "# swarm plan of seed {}: {}\n",
                r.seed,
                SwarmPlan::for_seed(r.seed)
            );
        }
        shown.push_str(text.as_deref().unwrap_or_default());
        g.printed.push((j, shown));
    }
    if b.is_some()
        && let Some(t) = text
    {
        g.texts.push((j, r, t));
    }
    if !a.passed() {
        g.failed_seeds[i].push((j, r.seed));
        let kept = &mut g.failed[i];
        kept.push((j, a));
        if kept.len() > 2 * KEPT_FAILURES {
            kept.sort_by_key(|x| x.0);
            kept.truncate(KEPT_FAILURES);
        }
    }
}

/// `verify_determinism`'s last pass: each seed once more, alone on a fresh
/// thread (no other run beside it, no thread reused from another run).
fn alone_pass(
    g: &mut Gathered,
    loaded: &[Loaded],
    opts: &ReplayOptions,
    journal: Option<&Journal>,
    config: &(dyn Fn(u64) -> RunConfig + Sync),
) {
    let texts = std::mem::take(&mut g.texts);
    let done = AtomicU64::new(0);
    let live = AtomicU64::new(1);
    let start = Instant::now();
    let total = texts.len() as u64;
    std::thread::scope(|s| {
        s.spawn(|| {
            let _live = Live(&live);
            for (j, r, first) in &texts {
                let l = &loaded[r.scenario];
                let Ok(sc) = &l.scenario else { continue };
                if let Some(jn) = journal {
                    jn.start(
                        0,
                        &reproduce_line(&l.path, r.seed, opts.swarm, &opts.choices),
                    );
                }
                let cfg = config(r.seed);
                let alone = std::thread::scope(|t| {
                    t.spawn(|| run(sc, &cfg).render())
                        .join()
                        .unwrap_or_else(|p| std::panic::resume_unwind(p))
                });
                if let Some(jn) = journal {
                    jn.finish(0);
                }
                if let Some((line, first, other)) = first_difference(first, &alone) {
                    g.nondet[r.scenario].push((
                        *j,
                        Nondeterminism {
                            seed: r.seed,
                            rerun: Rerun::Alone,
                            line,
                            first,
                            other,
                        },
                    ));
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
        if !opts.quiet && total > 1 {
            progress("alone: ", &live, &done, Some(total), start, None);
        }
    });
}

/// `30s`, `10m`, `2h`, `1h30m` style.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    if d.subsec_millis() != 0 || s == 0 {
        format!("{:.1}s", d.as_secs_f64())
    } else if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// A worker counted in `live` until it ends, even by a panic (which the
/// thread scope then carries on, after the progress display has stopped).
struct Live<'a>(&'a AtomicU64);

impl Drop for Live<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

/// Shows progress on stderr until `live` (the workers still running) is 0.
fn progress(
    what: &str,
    live: &AtomicU64,
    done: &AtomicU64,
    total: Option<u64>,
    start: Instant,
    duration: Option<Duration>,
) {
    let tty = std::io::stderr().is_terminal();
    let mut last_line = Instant::now();
    while live.load(Ordering::Acquire) > 0 {
        std::thread::sleep(Duration::from_millis(100));
        let d = done.load(Ordering::Relaxed);
        let el = start.elapsed().as_secs_f64();
        let of = match (total, duration) {
            (Some(t), _) => format!("{d}/{t} runs"),
            (None, Some(dur)) => {
                format!("{d} runs, {:.0} s to go", (dur.as_secs_f64() - el).max(0.0))
            }
            (None, None) => format!("{d} runs"),
        };
        if tty {
            eprint!("\r  {what}{of}, {el:.1} s   ");
        } else if last_line.elapsed() >= Duration::from_secs(5) {
            eprintln!("  {what}{of}, {el:.1} s");
            last_line = Instant::now();
        }
    }
    if tty {
        eprint!("\r{}\r", " ".repeat(60));
    }
}

/// Runs one scenario file under one seed (a convenience for tools).
pub fn run_file(path: &Path, seed: Option<u64>) -> Result<RunOutcome, String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
    let sc = parse(&name, &text).map_err(|e| e.to_string())?;
    Ok(run(&sc, &RunConfig::new(seed.unwrap_or(sc.seed))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSING: &str = "# rule: spec 8.7 test\nmanager m\njit busy: enter, work 3, leave\n---\nspawn t busy\nawait \"jit t: enter: ok\"\nshutdown\n";

    fn loaded(n: usize) -> Vec<Loaded> {
        (0..n)
            .map(|i| {
                let sc = parse("t.scn", PASSING).unwrap();
                Loaded::given(format!("s{i}.scn"), sc)
            })
            .collect()
    }

    #[test]
    fn shards_partition_the_runs() {
        let l = loaded(3);
        let mut opts = ReplayOptions {
            seeds: Some(7),
            seed: Some(40),
            ..Default::default()
        };
        let all = plan(&l, &opts).unwrap();
        assert_eq!(all.len(), 21);
        for n in 1..=5 {
            let mut union = Vec::new();
            for i in 0..n {
                opts.shard = Some(Shard::new(i, n).unwrap());
                let part = plan(&l, &opts).unwrap();
                assert!(part.len() >= 21 / n as usize, "{i}/{n}: {part:?}");
                union.extend(part);
            }
            opts.shard = None;
            let mut sorted = union.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), union.len(), "shards of {n} overlap");
            let mut want = all.clone();
            want.sort();
            assert_eq!(sorted, want, "shards of {n} miss runs");
        }
    }

    #[test]
    fn exploration_rounds_and_their_shards() {
        let all = Jobs::Rounds {
            base: 10,
            scenarios: vec![0, 2],
            rounds: Some(3),
            shard: None,
        };
        let runs: Vec<Run> = (0..).map_while(|j| all.get(j)).collect();
        assert_eq!(runs.len(), 6);
        assert_eq!(
            runs[0],
            Run {
                scenario: 0,
                seed: 10
            }
        );
        assert_eq!(
            runs[3],
            Run {
                scenario: 2,
                seed: 11
            }
        );
        let mut union = Vec::new();
        for i in 0..4 {
            let part = Jobs::Rounds {
                base: 10,
                scenarios: vec![0, 2],
                rounds: Some(3),
                shard: Some(Shard::new(i, 4).unwrap()),
            };
            union.extend((0..).map_while(|j| part.get(j)));
        }
        union.sort();
        let mut want = runs.clone();
        want.sort();
        assert_eq!(union, want);
    }

    #[test]
    fn shard_syntax() {
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
        assert_eq!(Shard::new(3, 4).unwrap().to_string(), "3/4");
        assert!("4/4".parse::<Shard>().unwrap_err().contains("I < N"));
        assert!("0/0".parse::<Shard>().unwrap_err().contains("N >= 1"));
        assert!("x".parse::<Shard>().unwrap_err().contains("not I/N"));
    }

    #[test]
    fn first_difference_names_the_line() {
        assert_eq!(first_difference("a\nb\n", "a\nb\n"), None);
        assert_eq!(
            first_difference("a\nb\nc\n", "a\nx\nc\n"),
            Some((2, "b".into(), "x".into()))
        );
        assert_eq!(
            first_difference("a\n", "a\nmore\n"),
            Some((2, "(end)".into(), "more".into()))
        );
    }

    #[test]
    fn the_journal_keeps_only_runs_in_flight() {
        let path = std::env::temp_dir()
            .join(format!("orc-sim-journal-{}", std::process::id()))
            .join("j.txt");
        let j = Journal::create(&path, 3, 60).unwrap();
        assert_eq!(Journal::unfinished(&path), Vec::<String>::new());
        j.start(1, "orc-sim replay a.scn --seed 5 --print");
        j.start(
            2,
            "orc-sim replay b.scn --seed 18446744073709551615 --print",
        );
        j.finish(2);
        assert_eq!(
            Journal::unfinished(&path),
            ["orc-sim replay a.scn --seed 5 --print"]
        );
        let size = std::fs::metadata(&path).unwrap().len();
        for k in 0..100 {
            j.start(0, &format!("orc-sim replay c.scn --seed {k} --print"));
            j.finish(0);
        }
        assert_eq!(std::fs::metadata(&path).unwrap().len(), size);
        j.finish(1);
        assert!(Journal::unfinished(&path).is_empty());
        assert!(Journal::unfinished(Path::new("/nonexistent/journal")).is_empty());
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn durations_read_back() {
        assert_eq!(human(Duration::from_secs(30)), "30s");
        assert_eq!(human(Duration::from_secs(600)), "10m");
        assert_eq!(human(Duration::from_secs(7200)), "2h");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn choices_read_back_and_appear_in_reproduce_lines() {
        let bytes = [0x00, 0x7f, 0xff, 0x0a];
        assert_eq!(to_hex(&bytes), "007fff0a");
        assert_eq!(from_hex("007fff0a").unwrap(), bytes);
        assert_eq!(from_hex("0x00_7F_FF_0A").unwrap(), bytes);
        assert_eq!(from_hex("").unwrap(), Vec::<u8>::new());
        assert!(from_hex("abc").unwrap_err().contains("odd number"));
        assert!(from_hex("zz").unwrap_err().contains("not hex"));
        let path = Path::new("scenarios/x.scn");
        assert_eq!(
            reproduce_line(path, 3, false, &[]),
            "orc-sim replay scenarios/x.scn --seed 3 --print"
        );
        assert_eq!(
            reproduce_line(path, 3, true, &[1, 2]),
            "orc-sim replay scenarios/x.scn --seed 3 --swarm --choices 0102 --print"
        );
    }
}
