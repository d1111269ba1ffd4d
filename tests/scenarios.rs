//! Replays every scenario in `scenarios/` under its own seed and checks its
//! transcript against the snapshot in `tests/snapshots/` (insta; CI runs
//! with `INSTA_UPDATE=no`, so a changed or new transcript fails). Also:
//! determinism across seeds, and that the scenarios cover the spec.

mod executor_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use orc_sim::{RunConfig, Scenario};

const LLVM_EXECUTOR: &str = "/usr/lib/llvm-22/bin/llvm-jitlink-executor";

fn load(path: &Path) -> Scenario {
    let name = format!("scenarios/{}", path.file_name().unwrap().to_string_lossy());
    let text = std::fs::read_to_string(path).unwrap();
    orc_sim::parse(&name, &text).unwrap_or_else(|e| panic!("{e}"))
}

fn scenario_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    orc_sim::runner::collect(&[dir]).unwrap()
}

#[test]
fn replay_scenarios() {
    insta::glob!("../scenarios", "*.scn", |path| {
        let sc = load(path);
        assert!(!sc.rules.is_empty(), "{}: names no `# rule:`", sc.file);
        let outcome = orc_sim::run(&sc, &RunConfig::new(sc.seed));
        let text = outcome.render();
        assert!(outcome.passed(), "{} failed:\n{text}", sc.file);
        let script = std::fs::read_to_string(path).unwrap();
        insta::with_settings!({ description => script.as_str(), omit_expression => true }, {
            insta::assert_snapshot!(text);
        });
    });
}

/// 100 seeds of the busiest scenario: every run passes, the same seed gives
/// the same transcript byte for byte, and the seed does change the
/// interleaving.
#[test]
fn a_hundred_seeds_pass_and_replay_identically() {
    let sc = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/stress_mixed.scn"));
    let mut distinct = BTreeSet::new();
    for seed in 0..100 {
        let a = orc_sim::run(&sc, &RunConfig::new(seed));
        assert!(a.passed(), "seed {seed}:\n{}", a.render());
        let b = orc_sim::run(&sc, &RunConfig::new(seed));
        assert_eq!(a.render(), b.render(), "seed {seed} is not deterministic");
        distinct.insert(a.transcript.render());
    }
    assert!(
        distinct.len() > 50,
        "only {} distinct interleavings in 100 seeds",
        distinct.len()
    );
}

/// At least 30 scenarios, and together they name every section of the spec
/// that has runtime behaviour to check, and every fault of the fault plan.
#[test]
fn the_scenarios_cover_the_spec_and_the_fault_plan() {
    let files = scenario_files();
    assert!(files.len() >= 30, "{} scenarios", files.len());
    let all: Vec<Scenario> = files.iter().map(|f| load(f)).collect();
    let rules: Vec<String> = all.iter().flat_map(|s| s.rules.clone()).collect();
    for needed in [
        "spec 5 ",
        "spec 6 ",
        "spec 7.1",
        "spec 7.2",
        "spec 7.3",
        "spec 7.4",
        "spec 7.5",
        "spec 7.6",
        "spec 7.7",
        "spec 8.3",
        "spec 8.4",
        "spec 8.5",
        "spec 8.6",
        "spec 8.7",
        "spec 8.8",
        "spec 8.9",
        "spec 9 ",
        "spec 2 ",
        "spec 3 ",
        "spec 4 ",
        "spec 11 ",
        "spec 12 ",
        "spec 13 ",
        "spec 14 ",
        "spec 8.1 ",
        "spec 8.2 ",
        "protocol 10 ",
        "protocol 11 ",
    ] {
        assert!(
            rules.iter().any(|r| r.starts_with(needed)),
            "no scenario names a rule `{needed}...`"
        );
    }
    for fault in [
        "fault: drop",
        "fault: delay",
        "fault: reorder",
        "fault: detach at a step",
        "fault: detach with a call in flight",
        "fault: transport closed mid-call",
        "fault: manager fails in detach",
        "fault: manager panics in detach",
        "fault: manager fails in shutdown",
        "fault: manager panics in shutdown",
        "fault: memory reservation fails",
        "fault: JIT'd code holds the scope across shutdown",
        "fault: shutdown from several threads",
        "fault: shutdown from a dispatched task",
    ] {
        assert!(
            rules.iter().any(|r| r.starts_with(fault)),
            "no scenario covers `{fault}`"
        );
    }
}

/// A parse error names the file, the line and the column.
#[test]
fn a_bad_scenario_is_reported_with_its_position() {
    let err = orc_sim::parse("scenarios/bad.scn", "manager a\n---\ncall c1 nowhere\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "scenarios/bad.scn:3:1: error: `nowhere` is not a declared JIT'd function (use `0x...` for a raw address)"
    );
}

/// Protocol-level scenarios (`wire`) played over LLVM 22's wire protocol
/// against `orc-executor` and against LLVM's `llvm-jitlink-executor`:
/// ours passes; LLVM's passes too and the transcripts are identical
/// (differential testing), unless the scenario declares a `# deviation:`,
/// in which case they must differ and both transcripts are pinned by the
/// snapshot. Without LLVM 22 the LLVM half is skipped, unless
/// `ORC_RT_REQUIRE_LLVM=1`.
#[test]
fn wire_scenarios_match_llvm_executor() {
    let ours = executor_support::executor_binary(executor_support::own_profile());
    let llvm = Path::new(LLVM_EXECUTOR);
    let require = std::env::var_os("ORC_RT_REQUIRE_LLVM").is_some_and(|v| v == "1");
    assert!(
        llvm.is_file() || !require,
        "{LLVM_EXECUTOR} is missing and ORC_RT_REQUIRE_LLVM=1"
    );
    let mut played = 0;
    insta::glob!("../scenarios", "wire_*.scn", |path| {
        let sc = load(path);
        let why = orc_sim::differential::not_playable(&sc);
        assert!(why.is_none(), "{}: {why:?}", sc.file);
        let a = orc_sim::differential::run(&sc, &ours, Duration::from_secs(20));
        assert!(a.passed(), "{}", a.render());
        let mut snapshot = a.transcript();
        if llvm.is_file() {
            let b = orc_sim::differential::run(&sc, llvm, Duration::from_secs(20));
            let diff = orc_sim::differential::compare(&a, &b);
            if sc.deviations.is_empty() {
                assert!(b.passed(), "{}", b.render());
                assert_eq!(diff, None, "{} differs from LLVM's executor", sc.file);
            } else {
                assert!(
                    diff.is_some(),
                    "{}: declares a deviation but LLVM's executor agrees now",
                    sc.file
                );
                snapshot.push_str("--- llvm-jitlink-executor (declared deviation) ---\n");
                snapshot.push_str(&b.transcript());
            }
        }
        played += 1;
        insta::with_settings!({ omit_expression => true }, {
            insta::assert_snapshot!(snapshot);
        });
    });
    assert!(played >= 4, "only {played} wire scenarios");
}
