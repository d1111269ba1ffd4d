//! One line in a downstream crate's tests gives a test over every scenario
//! of a folder: each file is run under its own seed, must pass (the panic
//! names the file, the seed and the command that reproduces it), and its
//! transcript is snapshot-checked with insta, one snapshot per file.
//!
//! ```text
//! // tests/scenarios.rs of your crate: every scenarios/*.scn of the crate
//! // (the base directory is relative to this file; insta's globs cannot
//! // climb out of it with `..`); snapshots land in tests/snapshots/.
//! orc_sim::scenario_tests!(scenarios, "..", "scenarios/*.scn", |b| {
//!     my_service::install(b)
//! });
//! // Scenarios below tests/ need no base: ("scn/*.scn", ...).
//! ```
//!
//! `ORC_SIM_SEEDS=N` also runs every scenario under seeds `0..N` (all must
//! pass; only the own-seed run is snapshotted): the same test, as an
//! exploration in CI. `ORC_SIM_SEED=N` runs seed N too (the reproduce line
//! of a failure), and with `ORC_SIM_SHRINK=1` a failure is shrunk
//! ([`Simulation::shrink`]) with your services into `shrunk/NAME.scn` next
//! to the file ([`shrunk_test_path`]).
//!
//! The macro expands to [`check_file`] inside `insta::glob!`; call that
//! directly for a harness of your own:
//!
//! ```
//! use orc_rt::wrapper::{WrapperEntry, WrapperFunction};
//! let dir = std::env::temp_dir().join(format!("orc-sim-harness-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let file = dir.join("negate.scn");
//! std::fs::write(&file, "# rule: example: negate\n---\nattach\ncall c1 negate bool true\n\
//!                        await c1 done\nexpect c1 ok bool false\n").unwrap();
//! let text = orc_sim::harness::check_file(&file, |b| {
//!     b.service(&["negate"], |ctx| {
//!         ctx.register("negate", WrapperEntry::from_fn(|a| WrapperFunction::handle_sps(a, |x: bool| !x)))
//!     })
//! });
//! assert!(text.contains("ctl: c1 → ok 00"), "{text}");
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::path::Path;

use crate::simulation::{Simulation, SimulationBuilder};

/// Runs the scenario at `path` with what `provide` adds to the builder:
/// under its own seed, then under `ORC_SIM_SEED` and `0..ORC_SIM_SEEDS` if
/// set. Returns the own-seed run's snapshot text; panics, naming the file,
/// the seed and the reproduce command (and, with `ORC_SIM_SHRINK`, the
/// shrunk script), if a run fails or the file does not parse.
pub fn check_file(path: &Path, provide: impl Fn(SimulationBuilder) -> SimulationBuilder) -> String {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let sim = provide(Simulation::builder().script(&name, &text))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let fail = |o: &crate::RunOutcome| -> ! {
        let shrunk = if std::env::var_os("ORC_SIM_SHRINK").is_some() {
            shrink_failure(&sim, path, o.seed)
        } else {
            format!(
                "shrink:    ORC_SIM_SHRINK=1 ORC_SIM_SEED={} cargo test (this test) writes {}",
                o.seed,
                shrunk_test_path(path).display()
            )
        };
        panic!(
            "{name} failed under seed {}:\n{}\nreproduce: ORC_SIM_SEED={} cargo test (this test), or `Simulation::run({})` with this program's builder\n{shrunk}",
            o.seed,
            o.render(),
            o.seed,
            o.seed,
        )
    };
    let own = sim.run_own_seed();
    if !own.passed() {
        fail(&own);
    }
    let env_u64 = |var: &str| std::env::var(var).ok().and_then(|s| s.parse::<u64>().ok());
    if let Some(seed) = env_u64("ORC_SIM_SEED") {
        let o = sim.run(seed);
        if !o.passed() {
            fail(&o);
        }
    }
    for seed in 0..env_u64("ORC_SIM_SEEDS").unwrap_or(0) {
        let o = sim.run(seed);
        if !o.passed() {
            fail(&o);
        }
    }
    own.render()
}

/// Defines test `$name` over the scenario files matching `$glob` (under
/// `$base` if given; relative to the calling file), each run with what
/// `$provide` (a `Fn(SimulationBuilder) -> SimulationBuilder`) adds; see
/// the module docs.
#[macro_export]
macro_rules! scenario_tests {
    ($name:ident, $base:literal, $glob:literal, $provide:expr) => {
        #[test]
        fn $name() {
            let provide = $provide;
            $crate::__insta::glob!($base, $glob, |path| {
                let text = $crate::harness::check_file(path, &provide);
                $crate::__insta::assert_snapshot!(text);
            });
        }
    };
    ($name:ident, $glob:literal, $provide:expr) => {
        #[test]
        fn $name() {
            let provide = $provide;
            $crate::__insta::glob!($glob, |path| {
                let text = $crate::harness::check_file(path, &provide);
                $crate::__insta::assert_snapshot!(text);
            });
        }
    };
}

/// Where a failing test's scenario at `path` is shrunk to: `shrunk/NAME.scn`
/// next to it, out of reach of the test's own `*.scn` glob (the CLI's
/// `orc-sim shrink` writes [`crate::shrink::shrunk_path`] instead).
pub fn shrunk_test_path(path: &Path) -> std::path::PathBuf {
    let dir = path.parent().unwrap_or(Path::new(".")).join("shrunk");
    dir.join(path.file_name().unwrap_or_default())
}

/// Shrinks the failure of `sim` under `seed` and writes the smaller script
/// to [`shrunk_test_path`]; returns the lines to print.
fn shrink_failure(sim: &Simulation, path: &Path, seed: u64) -> String {
    let opts = crate::shrink::ShrinkOptions::default();
    let shrunk = match sim.shrink(seed, &opts) {
        Ok(shrunk) => shrunk,
        Err(e) => return format!("shrink: {e}"),
    };
    let dest = shrunk_test_path(path);
    let written = std::fs::create_dir_all(dest.parent().unwrap_or(Path::new(".")))
        .and_then(|()| std::fs::write(&dest, shrunk.to_scn()));
    if let Err(e) = written {
        return format!("shrink: {}: {e}", dest.display());
    }
    // The report's replay line names `orc-sim`, which has none of this
    // program's services: the program's own builder replays it.
    let report: String = crate::shrink::report(&shrunk, &dest)
        .lines()
        .filter(|l| !l.starts_with("replay: "))
        .map(|l| format!("{l}\n"))
        .collect();
    format!(
        "{report}replay: check_file({}) with this program's builder (seed {})",
        dest.display(),
        shrunk.seed
    )
}
