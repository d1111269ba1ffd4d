//! `orc_sim::shrink`: a failing scenario shrinks to a smaller one that
//! still fails the same way, and the written `.scn` replays on its own.

use orc_sim::shrink::{ShrinkOptions, Shrunk, shrink, shrink_file};
use orc_sim::{RunConfig, RunOutcome, Scenario, parse, run};

/// A wrong expectation (`slow` returns 2, not 3) among calls, managers,
/// callbacks, a handler and faults that have nothing to do with it.
const WRONG_EXPECTATION: &str = r#"# rule: spec 8.7 shutdown waits for JIT'd code in the execution scope
# rule: spec 7.5 a result that arrives completes the call
seed 3
latency 2 4
manager a
manager b detach ok after 2
manager c shutdown ok after 3
jit quick: return u64 1
jit slow: enter, work 7, leave, return u64 2
jit chat: call log u64 5, return u64 3
handler log: reply empty after 4
fault delay call c1 6
fault delay result c3 5
---
on-detach d1
on-shutdown s1
attach
call c1 quick
call c2 slow
call c3 chat
tick 10
await c2 done
call c4 quick
tick 5
shutdown
expect c1 ok u64 1
expect c2 ok u64 3
expect c3 ok u64 3
expect order "rm c: detach" < "rm c: shutdown"
expect state shut-down
"#;

/// `c2` fails because its result is dropped; the other faults only move
/// things around.
const DROPPED_RESULT: &str = r#"# rule: fault: drop a message
seed 5
manager a
manager b
jit quick: return u64 1
jit two: work 2, return u64 2
fault delay call c1 4
fault drop result c2
fault reorder call c3
fault delay result c4 3
---
attach
call c1 quick
call c2 two
call c3 quick
call c4 two
tick 20
shutdown
expect c1 ok u64 1
expect c2 ok u64 2
expect c3 ok u64 1
expect c4 ok u64 2
"#;

fn opts() -> ShrinkOptions {
    ShrinkOptions {
        seeds_to_try: 8,
        ..ShrinkOptions::default()
    }
}

fn sc(text: &str) -> Scenario {
    parse("t.scn", text).unwrap_or_else(|e| panic!("{e}"))
}

/// The written text, parsed and replayed as `orc-sim replay` would: under
/// its own seed, with the default settings.
fn replay(s: &Shrunk) -> (Scenario, RunOutcome) {
    let text = s.to_scn();
    let again = parse("t.scn", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(again.seed, s.seed, "{text}");
    let out = run(&again, &RunConfig::new(again.seed));
    (again, out)
}

fn steps(sc: &Scenario) -> Vec<String> {
    let text = sc.to_scn();
    let body = text.split_once("---\n").unwrap().1;
    body.lines()
        .filter(|l| !l.starts_with("expect "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_wrong_expectation_shrinks_to_a_smaller_scenario_that_still_fails_with_it() {
    let original = sc(WRONG_EXPECTATION);
    let s = shrink(&original, 3, &opts()).unwrap();
    let text = s.to_scn();
    let report = format!("{text}\nremoved: {:#?}", s.removed);
    println!("{report}");

    // The same failure: the same expectation, failing the same way.
    assert_eq!(
        s.signature.primary, "expect c2 ok u64 3: got ok 0200000000000000",
        "{report}"
    );
    assert!(s.replays, "{report}");
    let (again, out) = replay(&s);
    assert!(!out.passed(), "{report}");
    assert!(s.signature.matches(&again, &out, false), "{report}");
    assert!(
        out.failures
            .iter()
            .any(|f| f.contains("c2 should be ok u64 3, got ok 0200000000000000")),
        "{report}\n{}",
        out.render()
    );

    // Strictly smaller, and nothing the failure does not need is left.
    let (b, a) = (s.before, s.after);
    assert!(a.steps < b.steps && a.lines < b.lines, "{report}");
    assert_eq!((a.managers, a.faults, a.expects), (0, 0, 1), "{report}");
    assert_eq!(steps(&s.scenario), ["attach", "call c2 slow"], "{report}");
    assert_eq!(s.scenario.jits.len(), 1, "{report}");
    assert_eq!(s.scenario.handlers.len(), 0, "{report}");

    // The rules stay; the header says where it came from; it replays on
    // its own seed (the smallest that fails the same way).
    assert_eq!(s.scenario.rules, original.rules);
    assert!(
        text.starts_with("# shrunk by orc-sim from t.scn (seed 3) in ",),
        "{text}"
    );
    assert!(text.contains("\n# rule: spec 8.7 shutdown waits"), "{text}");
    assert!(s.seed <= 3, "{report}");
    assert!(s.runs <= opts().max_runs && !s.exhausted, "{report}");
    assert!(
        s.removed.iter().any(|r| r == "removed `manager a`"),
        "{report}"
    );
}

#[test]
fn a_passing_scenario_does_not_shrink() {
    let passing = sc(r#"# rule: spec 8.7 a call completes before shutdown
jit quick: return u64 1
---
attach
call c1 quick
await c1 done
expect c1 ok u64 1
"#);
    let err = shrink(&passing, 0, &opts()).unwrap_err();
    assert!(err.contains("passes under seed 0"), "{err}");
}

#[test]
fn a_failure_caused_by_one_fault_keeps_that_fault_and_drops_the_others() {
    let original = sc(DROPPED_RESULT);
    let s = shrink(&original, 5, &opts()).unwrap();
    let report = format!("{}\nremoved: {:#?}", s.to_scn(), s.removed);
    println!("{report}");
    assert!(
        s.signature
            .primary
            .starts_with("expect c2 ok u64 2: got error"),
        "{report}"
    );
    let faults: Vec<String> = s
        .to_scn()
        .lines()
        .filter(|l| l.starts_with("fault "))
        .map(str::to_owned)
        .collect();
    assert_eq!(faults, ["fault drop result c2"], "{report}");
    assert!(s.after.steps < s.before.steps, "{report}");
    let (again, out) = replay(&s);
    assert!(s.signature.matches(&again, &out, false), "{report}");
}

#[test]
fn shrinking_is_deterministic() {
    let original = sc(WRONG_EXPECTATION);
    let a = shrink(&original, 3, &opts()).unwrap();
    let b = shrink(&original, 3, &opts()).unwrap();
    assert_eq!(a.to_scn(), b.to_scn());
    assert_eq!(a.removed, b.removed);
    assert_eq!((a.runs, a.seed), (b.runs, b.seed));
}

#[test]
fn the_target_picks_which_failure_to_keep() {
    // Two wrong expectations; by default the first failure is kept, with a
    // target the one it names.
    let text = WRONG_EXPECTATION.replace("expect c1 ok u64 1", "expect c1 ok u64 9");
    let original = sc(&text);
    let first = shrink(&original, 3, &opts()).unwrap();
    assert!(
        first.signature.primary.starts_with("expect c1 ok u64 9"),
        "{}",
        first.signature.primary
    );
    let targeted = ShrinkOptions {
        target: Some("c2 should be".into()),
        ..opts()
    };
    let second = shrink(&original, 3, &targeted).unwrap();
    assert!(
        second.signature.primary.starts_with("expect c2 ok u64 3"),
        "{}",
        second.signature.primary
    );
    assert!(
        second.to_scn().ends_with("expect c2 ok u64 3\n"),
        "{}",
        second.to_scn()
    );
    let missing = ShrinkOptions {
        target: Some("no such failure".into()),
        ..opts()
    };
    assert!(shrink(&original, 3, &missing).is_err());
}

#[test]
fn shrink_file_writes_the_shrunk_scenario_next_to_the_input_and_reports() {
    let dir = std::env::temp_dir().join(format!("orc-sim-shrink-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("wrong.scn");
    std::fs::write(&input, WRONG_EXPECTATION).unwrap();
    let (_, report) = shrink_file(&input, Some(3), None, &opts()).unwrap();
    println!("{report}");
    let written = dir.join("wrong.shrunk.scn");
    let text = std::fs::read_to_string(&written).unwrap();
    assert!(
        report.contains("still fails with: expect c2 ok u64 3"),
        "{report}"
    );
    assert!(report.contains("removed `manager a`"), "{report}");
    assert!(report.contains("replay: orc-sim replay "), "{report}");
    // It replays as `orc-sim replay` would, from the file alone.
    let out = orc_sim::replay(&written);
    assert!(out.contains("# outcome: FAIL"), "{out}");
    assert!(out.contains("c2 should be ok u64 3"), "{out}");
    assert!(text.contains("expect c2 ok u64 3"), "{text}");

    // `out` chooses the file; a file that passes is an error.
    let other = dir.join("elsewhere.scn");
    shrink_file(&input, Some(3), Some(&other), &opts()).unwrap();
    assert!(other.exists());
    std::fs::write(&input, "# rule: spec 8.7 x\n---\n").unwrap();
    assert!(shrink_file(&input, Some(0), None, &opts()).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_broken_invariant_is_kept_ahead_of_failed_expectations() {
    // With a step budget this small the run is declared a livelock (an
    // invariant), and everything stops: expectations fail too. The
    // livelock is the primary failure; the shrunk scenario still takes
    // more steps than that, but replayed with the default settings (as
    // `orc-sim replay` does) it passes, and the result says so.
    let original = sc(WRONG_EXPECTATION);
    let tight = ShrinkOptions {
        max_steps: 12,
        ..opts()
    };
    let s = shrink(&original, 3, &tight).unwrap();
    let report = format!("{}\nremoved: {:#?}", s.to_scn(), s.removed);
    assert_eq!(
        s.signature.primary, "invariant: no end after # steps",
        "{report}"
    );
    assert!(s.after.steps < s.before.steps, "{report}");
    assert!(!s.replays, "{report}");
    let dest = std::path::Path::new("x.shrunk.scn");
    let text = orc_sim::shrink::report(&s, dest);
    assert!(
        text.contains("warning: replayed under its own seed"),
        "{text}"
    );
}

#[test]
fn a_run_that_fails_differently_does_not_count() {
    use orc_sim::shrink::FailureSignature;
    let run_of = |text: &str| {
        let s = sc(text);
        let out = run(&s, &RunConfig::new(3));
        (s, out)
    };
    let (s0, out0) = run_of(WRONG_EXPECTATION);
    assert!(out0.failures[0].starts_with("expect (line 27): c2"));
    let sig = FailureSignature::of(&s0, &out0, None).unwrap();

    // The same expectation failing the same way, on another line: the
    // same.
    let moved = WRONG_EXPECTATION.replace("---\n", "---\n# one line down\n");
    let (s, out) = run_of(&moved);
    assert!(out.failures[0].starts_with("expect (line 28): c2"));
    assert!(sig.matches(&s, &out, false));

    // A step less lets `c3` fail too (its delayed result now comes after
    // the end): the same failure plus a new one.
    let (s, out) = run_of(&WRONG_EXPECTATION.replace("tick 5\n", ""));
    assert!(!sig.matches(&s, &out, false));

    // Another expectation failing instead: different.
    let other = WRONG_EXPECTATION
        .replace("expect c2 ok u64 3", "expect c2 ok u64 2")
        .replace("expect c1 ok u64 1", "expect c1 ok u64 7");
    let (s, out) = run_of(&other);
    assert!(!out.passed());
    assert!(!sig.matches(&s, &out, false));

    // The same expectation, but the call got another value: different.
    let value = WRONG_EXPECTATION.replace("return u64 2", "return u64 4");
    let (s, out) = run_of(&value);
    assert!(!sig.matches(&s, &out, false));

    // The same failure plus a new one: rejected unless new failures are
    // allowed.
    let more = WRONG_EXPECTATION.replace("expect c3 ok u64 3", "expect c3 ok u64 8");
    let (s, out) = run_of(&more);
    assert!(!sig.matches(&s, &out, false));
    assert!(sig.matches(&s, &out, true));
}
