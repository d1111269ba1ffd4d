//! The `orc-sim` command: `orc-sim replay [PATHS] [--seed N] [--seeds K] ...`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "orc-sim",
    version,
    about = "Simulated ORC controller: deterministic scenario replay with fault injection"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Replay scenario scripts against the real orc-rt session.
    Replay {
        /// Scenario files or directories (default: scenarios/).
        paths: Vec<PathBuf>,
        /// The seed (with --seeds, the first of the range); default: each
        /// scenario's own `seed`.
        #[arg(long)]
        seed: Option<u64>,
        /// Run each scenario under K seeds: SEED, SEED+1, ... (SEED default 0).
        #[arg(long, value_name = "K")]
        seeds: Option<u64>,
        /// Only scenarios whose file name contains this text.
        #[arg(long)]
        filter: Option<String>,
        /// Runs in parallel (default: available CPUs).
        #[arg(long, short = 'j')]
        jobs: Option<usize>,
        /// Print each run's transcript.
        #[arg(long)]
        print: bool,
        /// Run each seed twice and fail if the transcripts differ.
        #[arg(long)]
        verify_determinism: bool,
        /// Write a Mermaid sequence diagram of the run ({name} and {seed} expand).
        #[arg(long, value_name = "FILE")]
        mermaid: Option<String>,
        /// Write a Chrome/Perfetto trace JSON of the run ({name} and {seed} expand).
        #[arg(long, value_name = "FILE")]
        trace_json: Option<String>,
        /// Seconds a simulated thread may run without yielding before the run
        /// counts as hung.
        #[arg(long, default_value_t = 10)]
        hang_timeout: u64,
        /// No progress output.
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// Play protocol-level scenarios over LLVM 22's wire protocol against
    /// executor processes and compare their transcripts.
    Wire {
        /// Scenario files or directories (default: scenarios/); scenarios that
        /// need the in-process session are skipped.
        paths: Vec<PathBuf>,
        /// An executor binary (`orc-executor`, `llvm-jitlink-executor`); give
        /// two to compare them.
        #[arg(long = "executor", required = true)]
        executors: Vec<PathBuf>,
        /// Only scenarios whose file name contains this text.
        #[arg(long)]
        filter: Option<String>,
        /// Print each transcript.
        #[arg(long)]
        print: bool,
        /// Seconds to wait for any one message.
        #[arg(long, default_value_t = 20)]
        timeout: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Wire {
            paths,
            executors,
            filter,
            print,
            timeout,
        } => {
            let paths = if paths.is_empty() {
                vec![PathBuf::from("scenarios")]
            } else {
                paths
            };
            match wire(
                &paths,
                &executors,
                filter.as_deref(),
                print,
                Duration::from_secs(timeout),
            ) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::from(1),
                Err(e) => {
                    eprintln!("orc-sim: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Cmd::Replay {
            paths,
            seed,
            seeds,
            filter,
            jobs,
            print,
            verify_determinism,
            mermaid,
            trace_json,
            hang_timeout,
            quiet,
        } => {
            let mut opts = orc_sim::runner::ReplayOptions {
                seed,
                seeds,
                filter,
                print,
                verify_determinism,
                mermaid,
                trace_json,
                hang_timeout: Duration::from_secs(hang_timeout),
                quiet,
                ..Default::default()
            };
            if !paths.is_empty() {
                opts.paths = paths;
            }
            if let Some(j) = jobs {
                opts.jobs = j;
            }
            let mut out = std::io::stdout().lock();
            match orc_sim::runner::replay(&opts, &mut out) {
                Ok(s) if s.passed() => ExitCode::SUCCESS,
                Ok(_) => ExitCode::from(1),
                Err(e) => {
                    eprintln!("orc-sim: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

/// `orc-sim wire`: each protocol-level scenario against each executor; the
/// transcripts of two executors must be identical.
fn wire(
    paths: &[PathBuf],
    executors: &[PathBuf],
    filter: Option<&str>,
    print: bool,
    timeout: Duration,
) -> Result<bool, String> {
    let files = orc_sim::runner::collect(paths)?;
    let mut ok = true;
    let mut ran = 0;
    let mut skipped = 0;
    println!(
        "{:<36}  {}",
        "scenario",
        executors
            .iter()
            .map(|e| e.display().to_string())
            .collect::<Vec<_>>()
            .join("  |  ")
    );
    for f in files {
        let name = f.display().to_string();
        if filter.is_some_and(|x| !name.contains(x)) {
            continue;
        }
        let text = std::fs::read_to_string(&f).map_err(|e| format!("{name}: {e}"))?;
        let sc = orc_sim::parse(&name, &text).map_err(|e| e.to_string())?;
        if orc_sim::wire::not_wire_capable(&sc).is_some() {
            skipped += 1;
            continue;
        }
        ran += 1;
        let outs: Vec<orc_sim::wire::WireOutcome> = executors
            .iter()
            .map(|e| orc_sim::wire::run(&sc, e, timeout))
            .collect();
        // A declared deviation: only the first executor (ours) must pass,
        // and a difference is expected.
        let deviates = !sc.deviations.is_empty();
        let mut cells: Vec<String> = outs
            .iter()
            .map(|o| {
                if o.passed() {
                    "pass".into()
                } else {
                    "FAIL".into()
                }
            })
            .collect();
        let diff = outs
            .windows(2)
            .find_map(|p| orc_sim::wire::compare(&p[0], &p[1]));
        if diff.is_some() && deviates {
            cells.push("different (declared deviation)".into());
        } else if diff.is_some() {
            cells.push("DIFFERENT".into());
        } else if outs.len() > 1 {
            cells.push("same".into());
        }
        println!("{:<36}  {}", sc.name, cells.join("  |  "));
        for (i, o) in outs.iter().enumerate() {
            if print || !o.passed() {
                println!("{}", o.render());
                if !o.stderr.is_empty() {
                    println!("# stderr of {}:\n{}", o.executor, o.stderr.trim_end());
                }
            }
            ok &= o.passed() || (deviates && i > 0);
        }
        if let Some(d) = diff {
            println!("  transcripts differ at {d}");
            if deviates {
                for dev in &sc.deviations {
                    println!("  declared deviation: {dev}");
                }
            } else {
                ok = false;
            }
        }
        for p in outs.windows(2) {
            for note in orc_sim::wire::symbol_differences(&p[0], &p[1]) {
                println!("  note: {note}");
            }
        }
    }
    println!(
        "{ran} protocol-level scenario(s) played, {skipped} skipped (they need the in-process session)"
    );
    Ok(ok && ran > 0)
}
