//! Every scenario of `scenarios/`, with the kv service, under the
//! scheduler: each under its own seed, its transcript snapshot-checked in
//! `tests/snapshots/` (`ORC_SIM_SEEDS=N` also runs seeds `0..N`, which
//! must all pass). A failure names the file, the seed and the transcript;
//! `cargo run -p orc-rt-example-kv --example replay -- FILE --seed N`
//! replays one seed.

use std::path::{Path, PathBuf};

use orc_sim::simulation::Simulation;

// Every scenario of `scenarios/` (the base, relative to this file), its
// snapshot in `tests/snapshots/`.
orc_sim::scenario_tests!(scenarios, "..", "scenarios/*.scn", kv::simulate);

/// The scenario files, sorted.
fn scenario_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "scn"))
        .collect();
    files.sort();
    files
}

/// Seeds each probe must be reached within.
const PROBE_SEEDS: u64 = 64;

/// Every probe (`reach "PATTERN"`) is reached by some seed of
/// `0..PROBE_SEEDS`: the races the scenarios set up really go both ways.
/// (`orc-sim replay` checks probes across its seeds; the harness macro runs
/// one seed at a time and does not, so this test counts them.)
#[test]
fn every_probe_is_reached_by_some_seed() {
    let mut probes = 0;
    for path in scenario_files() {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let sim = kv::simulate(Simulation::builder().script(&name, &text))
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        for probe in &sim.scenario().probes {
            probes += 1;
            let reached =
                (0..PROBE_SEEDS).any(|seed| sim.run(seed).reached.contains(&probe.pattern));
            assert!(
                reached,
                "{name}:{}: no seed of 0..{PROBE_SEEDS} reached `{}`",
                probe.pos, probe.pattern
            );
        }
    }
    assert!(probes >= 2, "the race scenarios declare their probes");
}
