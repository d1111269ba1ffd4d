//! `orc-sim replay`: finds scenario files, runs each under one or many
//! seeds (in parallel), shows progress, prints a summary table and the
//! seed of every failing run, and writes pictures of a run on request.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::scenario::{Scenario, parse};
use crate::sim::{RunConfig, RunOutcome, run};

/// What `replay` should do.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Files and directories (directories: every `*.scn` inside, sorted).
    pub paths: Vec<PathBuf>,
    /// The seed (with `seeds`: the first seed).
    pub seed: Option<u64>,
    /// Run each scenario under this many seeds (`seed`, `seed + 1`, ...).
    pub seeds: Option<u64>,
    /// Only scenarios whose name contains this.
    pub filter: Option<String>,
    /// Worker threads running scenarios side by side.
    pub jobs: usize,
    /// Print every run's transcript.
    pub print: bool,
    /// Run every seed twice and require identical transcripts.
    pub verify_determinism: bool,
    /// Write a Mermaid diagram of the run here (`{name}`, `{seed}` expand).
    pub mermaid: Option<String>,
    /// Write a Chrome/Perfetto trace of the run here.
    pub trace_json: Option<String>,
    /// Hang timeout per run (real time).
    pub hang_timeout: Duration,
    /// No progress output.
    pub quiet: bool,
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
        }
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

/// How one scenario did over its seeds.
#[derive(Debug)]
pub struct ScenarioReport {
    /// Its name.
    pub name: String,
    /// Its file.
    pub path: PathBuf,
    /// Seeds run.
    pub seeds: Vec<u64>,
    /// Runs that failed.
    pub failed: Vec<RunOutcome>,
    /// Seeds whose two runs differed (with `verify_determinism`).
    pub nondeterministic: Vec<u64>,
    /// A parse or read error, if it did not run.
    pub error: Option<String>,
    /// Total run time (summed over seeds).
    pub time: Duration,
    /// Total scheduler steps.
    pub steps: u64,
}

impl ScenarioReport {
    /// True if every seed passed.
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.failed.is_empty() && self.nondeterministic.is_empty()
    }
}

/// The overall result.
#[derive(Debug)]
pub struct Summary {
    /// One report per scenario, in file order.
    pub scenarios: Vec<ScenarioReport>,
    /// Wall-clock time of the whole replay.
    pub wall: Duration,
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
}

fn expand(pattern: &str, name: &str, seed: u64) -> String {
    pattern
        .replace("{name}", name)
        .replace("{seed}", &seed.to_string())
}

/// Runs the replay, writing the table and failures to `out` and progress
/// to stderr. Returns the summary; the exit code is 0 if it passed.
pub fn replay(opts: &ReplayOptions, out: &mut dyn Write) -> Result<Summary, String> {
    let files = collect(&opts.paths)?;
    let mut loaded: Vec<(PathBuf, Result<Scenario, String>)> = Vec::new();
    for f in files {
        let name = f.display().to_string();
        let r = std::fs::read_to_string(&f)
            .map_err(|e| format!("{name}: error: {e}"))
            .and_then(|t| parse(&name, &t).map_err(|e| e.to_string()));
        if let Some(filter) = &opts.filter {
            let stem = f
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !stem.contains(filter.as_str()) {
                continue;
            }
        }
        loaded.push((f, r));
    }
    if loaded.is_empty() {
        return Err("no scenario to run (check the paths and --filter)".into());
    }
    let seeds_of = |sc: &Scenario| -> Vec<u64> {
        match opts.seeds {
            Some(k) => {
                let base = opts.seed.unwrap_or(0);
                (0..k).map(|i| base.wrapping_add(i)).collect()
            }
            None => vec![opts.seed.unwrap_or(sc.seed)],
        }
    };
    // One job per (scenario, seed).
    let mut jobs: Vec<(usize, u64)> = Vec::new();
    let mut reports: Vec<ScenarioReport> = Vec::new();
    for (i, (path, r)) in loaded.iter().enumerate() {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut rep = ScenarioReport {
            name,
            path: path.clone(),
            seeds: Vec::new(),
            failed: Vec::new(),
            nondeterministic: Vec::new(),
            error: None,
            time: Duration::ZERO,
            steps: 0,
        };
        match r {
            Ok(sc) => {
                for s in seeds_of(sc) {
                    jobs.push((i, s));
                }
            }
            Err(e) => rep.error = Some(e.clone()),
        }
        reports.push(rep);
    }
    let pictures = opts.mermaid.is_some() || opts.trace_json.is_some();
    if pictures && jobs.len() > 1 {
        for p in opts.mermaid.iter().chain(opts.trace_json.iter()) {
            let varies_by_name = loaded.len() == 1 || p.contains("{name}");
            let varies_by_seed = jobs.len() == loaded.len() || p.contains("{seed}");
            if !varies_by_name || !varies_by_seed {
                return Err(format!(
                    "{p}: several runs would write the same file; use {{name}} and {{seed}} in it, or narrow with --filter / --seed"
                ));
            }
        }
    }
    let total = jobs.len();
    let jobs = Arc::new(jobs);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let steps_done = Arc::new(AtomicU64::new(0));
    type Slot = Option<(RunOutcome, Option<RunOutcome>, Duration)>;
    let results: Arc<Mutex<Vec<Slot>>> = Arc::new(Mutex::new((0..total).map(|_| None).collect()));
    let scenarios: Arc<Vec<Option<Scenario>>> = Arc::new(
        loaded
            .iter()
            .map(|(_, r)| r.as_ref().ok().cloned())
            .collect(),
    );
    let start = Instant::now();
    let workers = opts.jobs.clamp(1, total.max(1));
    let keep_all = opts.print || pictures;
    std::thread::scope(|s| {
        for _ in 0..workers {
            let (jobs, next, done, results, scenarios, steps_done) = (
                jobs.clone(),
                next.clone(),
                done.clone(),
                results.clone(),
                scenarios.clone(),
                steps_done.clone(),
            );
            s.spawn(move || {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(i, seed)) = jobs.get(k) else { break };
                    let sc = scenarios[i].as_ref().expect("parsed");
                    let mut cfg = RunConfig::new(seed);
                    cfg.hang_timeout = opts.hang_timeout;
                    let t = Instant::now();
                    let a = run(sc, &cfg);
                    let b = opts.verify_determinism.then(|| run(sc, &cfg));
                    let dt = t.elapsed();
                    steps_done.fetch_add(a.steps, Ordering::Relaxed);
                    results.lock().unwrap_or_else(|e| e.into_inner())[k] = Some((a, b, dt));
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        if !opts.quiet && total > 1 {
            progress(&done, total, start);
        }
    });
    let wall = start.elapsed();
    let results = Arc::try_unwrap(results)
        .map_err(|_| "worker threads still hold the results")?
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    for (k, slot) in results.into_iter().enumerate() {
        let (i, seed) = jobs[k];
        let Some((a, b, dt)) = slot else { continue };
        let rep = &mut reports[i];
        rep.seeds.push(seed);
        rep.time += dt;
        rep.steps += a.steps;
        if let Some(b) = &b
            && b.render() != a.render()
        {
            rep.nondeterministic.push(seed);
        }
        if opts.print {
            let _ = writeln!(out, "{}", a.render());
        }
        if let Some(p) = &opts.mermaid {
            let f = expand(p, &rep.name, seed);
            std::fs::write(&f, crate::render::mermaid(&a)).map_err(|e| format!("{f}: {e}"))?;
        }
        if let Some(p) = &opts.trace_json {
            let f = expand(p, &rep.name, seed);
            std::fs::write(&f, crate::render::trace_json(&a)).map_err(|e| format!("{f}: {e}"))?;
        }
        if !a.passed() {
            rep.failed.push(a);
        } else if keep_all {
            drop(a);
        }
    }
    let summary = Summary {
        scenarios: reports,
        wall,
    };
    print_summary(&summary, out);
    Ok(summary)
}

fn progress(done: &AtomicUsize, total: usize, start: Instant) {
    let tty = std::io::stderr().is_terminal();
    let mut last_line = Instant::now();
    loop {
        let d = done.load(Ordering::Relaxed);
        if d >= total {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        let d = done.load(Ordering::Relaxed);
        let el = start.elapsed().as_secs_f64();
        if tty {
            eprint!("\r  {d}/{total} runs, {el:.1} s   ");
        } else if last_line.elapsed() >= Duration::from_secs(5) {
            eprintln!("  {d}/{total} runs, {el:.1} s");
            last_line = Instant::now();
        }
    }
    if tty {
        eprint!("\r{}\r", " ".repeat(40));
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn print_summary(s: &Summary, out: &mut dyn Write) {
    let width = s
        .scenarios
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let _ = writeln!(
        out,
        "{:<width$}  {:>5}  {:<6}  {:>9}  {:>9}",
        "scenario", "seeds", "result", "time", "steps"
    );
    for r in &s.scenarios {
        let result = if r.error.is_some() {
            "ERROR".to_owned()
        } else if !r.nondeterministic.is_empty() {
            "NONDET".to_owned()
        } else if r.failed.is_empty() {
            "pass".to_owned()
        } else {
            format!("FAIL {}", r.failed.len())
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:>5}  {:<6}  {:>9}  {:>9}",
            r.name,
            r.seeds.len(),
            result,
            secs(r.time),
            r.steps
        );
    }
    let wall = s.wall.as_secs_f64().max(1e-9);
    let runs = s.runs();
    let steps = s.steps();
    let _ = writeln!(
        out,
        "{} scenarios, {runs} runs, {steps} steps in {:.2} s: {:.1} scenarios/s, {:.0} runs/s, {:.0} steps/s",
        s.scenarios.len(),
        wall,
        s.scenarios.len() as f64 / wall,
        runs as f64 / wall,
        steps as f64 / wall
    );
    for r in &s.scenarios {
        if let Some(e) = &r.error {
            let _ = writeln!(out, "\n{e}");
        }
        for seed in &r.nondeterministic {
            let _ = writeln!(
                out,
                "\n{} seed {seed}: two runs gave different transcripts\n  reproduce: orc-sim replay {} --seed {seed} --verify-determinism",
                r.name,
                r.path.display()
            );
        }
        for f in &r.failed {
            let _ = writeln!(out, "\n{} failed with seed {}:", r.name, f.seed);
            for v in &f.violations {
                let _ = writeln!(out, "  invariant: {v}");
            }
            for x in &f.failures {
                let _ = writeln!(out, "  {x}");
            }
            let _ = writeln!(
                out,
                "  reproduce: orc-sim replay {} --seed {} --print",
                r.path.display(),
                f.seed
            );
        }
    }
}

/// Runs one scenario file under one seed (a convenience for tools).
pub fn run_file(path: &Path, seed: Option<u64>) -> Result<RunOutcome, String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
    let sc = parse(&name, &text).map_err(|e| e.to_string())?;
    Ok(run(&sc, &RunConfig::new(seed.unwrap_or(sc.seed))))
}
