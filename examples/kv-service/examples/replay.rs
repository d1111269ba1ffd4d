//! Replays a scenario with the kv service, as `orc-sim replay` does for the
//! repository's own scenarios (which cannot provide a service of yours):
//!
//! ```text
//! cargo run -p orc-rt-example-kv --example replay -- FILE [--seed N | --seeds N]
//! ```
//!
//! `--seed N` (default: the scenario's own) prints that run's transcript
//! and outcome; `--seeds N` runs seeds `0..N` and prints the first failing
//! run, or a summary. Exit status 1 if a run failed, 2 for a usage or
//! parse error.

use std::process::ExitCode;

use orc_sim::simulation::Simulation;

const USAGE: &str = "usage: replay FILE [--seed N | --seeds N]";

enum Mode {
    One(Option<u64>),
    Many(u64),
}

fn parse_args() -> Result<(String, Mode), String> {
    let mut args = std::env::args().skip(1);
    let file = args.next().ok_or(USAGE)?;
    let number = |v: Option<String>| -> Result<u64, String> {
        v.and_then(|v| v.parse().ok())
            .ok_or_else(|| USAGE.to_owned())
    };
    let mode = match args.next().as_deref() {
        None => Mode::One(None),
        Some("--seed") => Mode::One(Some(number(args.next())?)),
        Some("--seeds") => Mode::Many(number(args.next())?),
        Some(_) => return Err(USAGE.into()),
    };
    if args.next().is_some() {
        return Err(USAGE.into());
    }
    Ok((file, mode))
}

fn main() -> ExitCode {
    let (file, mode) = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{file}: {e}");
            return ExitCode::from(2);
        }
    };
    let sim = match kv::simulate(Simulation::builder().script(&file, &text)).build() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let reproduce =
        |seed| format!("cargo run -p orc-rt-example-kv --example replay -- {file} --seed {seed}");
    match mode {
        Mode::One(seed) => {
            let outcome = sim.run(seed.unwrap_or(sim.scenario().seed));
            print!("{}", outcome.render());
            if outcome.passed() {
                ExitCode::SUCCESS
            } else {
                println!("reproduce: {}", reproduce(outcome.seed));
                ExitCode::FAILURE
            }
        }
        Mode::Many(n) => {
            for seed in 0..n {
                let outcome = sim.run(seed);
                if !outcome.passed() {
                    print!("{}", outcome.render());
                    println!("{file}: failed under seed {seed} (of 0..{n})");
                    println!("reproduce: {}", reproduce(seed));
                    return ExitCode::FAILURE;
                }
            }
            println!("{file}: {n} seeds passed");
            ExitCode::SUCCESS
        }
    }
}
