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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
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
