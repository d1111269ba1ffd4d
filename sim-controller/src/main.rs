//! The `orc-sim` command: `orc-sim replay [PATHS] [--seed N] [--seeds K] ...`
//! (`orc-sim --help`). Its arguments are parsed by hand in [`cli`], so that
//! the library does not depend on an argument parser.

mod cli;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use cli::Command;

fn main() -> ExitCode {
    let mut args = Vec::new();
    for a in std::env::args_os().skip(1) {
        match a.into_string() {
            Ok(a) => args.push(a),
            Err(a) => {
                eprintln!(
                    "orc-sim: an argument is not valid UTF-8: {}",
                    a.to_string_lossy()
                );
                return ExitCode::from(2);
            }
        }
    }
    let cmd = match cli::parse(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match cmd {
        Command::Help(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("orc-sim {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Differential(w) => match differential(
            &w.paths,
            &w.executors,
            w.filter.as_deref(),
            w.print,
            w.timeout,
        ) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("orc-sim: {e}");
                ExitCode::from(2)
            }
        },
        Command::Replay(r) => {
            let (opts, list) = r.resolve();
            if list {
                list_runs(&opts)
            } else {
                replay(&opts, None)
            }
        }
        Command::Report(r, out) => replay(&r.resolve().0, Some(&out)),
        Command::Shrink(a) => shrink(&a),
    }
}

/// `orc-sim shrink`.
fn shrink(a: &cli::ShrinkArgs) -> ExitCode {
    match orc_sim::shrink::shrink_file(&a.path, a.seed, a.out.as_deref(), &a.opts) {
        Ok((shrunk, report)) => {
            print!("{report}");
            if shrunk.replays {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("orc-sim shrink: {e}");
            ExitCode::from(1)
        }
    }
}

/// `orc-sim replay` (and with `report`, `orc-sim report`).
fn replay(opts: &orc_sim::runner::ReplayOptions, report: Option<&Path>) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let summary = match orc_sim::runner::replay(opts, &mut out) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("orc-sim: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = report {
        if let Err(e) = std::fs::write(path, orc_sim::report::html(&summary)) {
            eprintln!("orc-sim: {}: {e}", path.display());
            return ExitCode::from(2);
        }
        let _ = writeln!(out, "\nwrote {}", path.display());
    }
    if summary.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `orc-sim replay --list`: the runs, one `FILE --seed N` a line.
fn list_runs(opts: &orc_sim::runner::ReplayOptions) -> ExitCode {
    let runs = orc_sim::runner::load(opts)
        .and_then(|loaded| Ok((orc_sim::runner::plan(&loaded, opts)?, loaded)));
    match runs {
        Ok((runs, loaded)) => {
            let mut out = std::io::stdout().lock();
            for r in runs {
                let _ = writeln!(
                    out,
                    "{} --seed {}",
                    loaded[r.scenario].path.display(),
                    r.seed
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("orc-sim: {e}");
            ExitCode::from(2)
        }
    }
}

/// `orc-sim differential`: each protocol-level scenario against each executor; the
/// transcripts of two executors must be identical.
fn differential(
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
        if orc_sim::differential::not_playable(&sc).is_some() {
            skipped += 1;
            continue;
        }
        ran += 1;
        let outs: Vec<orc_sim::differential::ProcessOutcome> = executors
            .iter()
            .map(|e| orc_sim::differential::run(&sc, e, timeout))
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
            .find_map(|p| orc_sim::differential::compare(&p[0], &p[1]));
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
            for note in orc_sim::differential::symbol_differences(&p[0], &p[1]) {
                println!("  note: {note}");
            }
        }
    }
    println!(
        "{ran} protocol-level scenario(s) played, {skipped} skipped (they need the in-process session)"
    );
    Ok(ok && ran > 0)
}
