//! The `orc-sim replay` command: exit codes, the summary table, the seed and
//! the reproduce line of a failing run, parse errors with their position,
//! determinism checking and the pictures.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn orc_sim(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orc-sim"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running orc-sim")
}

fn scratch(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("orc-sim-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    for (f, text) in files {
        std::fs::write(dir.join("scenarios").join(f), text).unwrap();
    }
    dir
}

const PASSING: &str = "# rule: spec 8.7 test\nmanager m\njit busy: enter, work 3, leave\n---\nspawn t busy\nawait \"jit t: enter: ok\"\nshutdown\nexpect order \"jit t: leave\" < \"rm m: shutdown\"\n";

/// An expectation that only some interleavings meet: whether the script's
/// shutdown comes before or after the thread enters depends on the seed.
const SEED_DEPENDENT: &str = "# rule: spec 5 test\nmanager m\njit busy: enter, work 1, leave\n---\nspawn t busy\nshutdown\nexpect once \"jit t: enter: ok\"\n";

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn passing_scenarios_exit_zero_with_a_summary_table() {
    let dir = scratch("pass", &[("a.scn", PASSING), ("b.scn", PASSING)]);
    let o = orc_sim(&["replay", "--seeds", "20", "-q"], &dir);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("scenario  seeds  result"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("a ") && l.contains("  20  pass")),
        "{out}"
    );
    assert!(out.contains("2 scenarios, 40 runs"), "{out}");
}

#[test]
fn a_failing_run_prints_its_seed_and_how_to_reproduce_it() {
    let dir = scratch("fail", &[("flaky.scn", SEED_DEPENDENT)]);
    let o = orc_sim(&["replay", "--seeds", "30", "-q"], &dir);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("flaky failed with seed "))
        .unwrap_or_else(|| panic!("no failing seed in:\n{out}"));
    let seed: u64 = line["flaky failed with seed ".len()..]
        .trim_end_matches(':')
        .parse()
        .unwrap();
    assert!(
        out.contains(&format!(
            "reproduce: orc-sim replay scenarios/flaky.scn --seed {seed} --print"
        )),
        "{out}"
    );
    // The reproduce command fails the same way, with the same transcript twice.
    let a = orc_sim(
        &[
            "replay",
            "scenarios/flaky.scn",
            "--seed",
            &seed.to_string(),
            "--print",
        ],
        &dir,
    );
    let b = orc_sim(
        &[
            "replay",
            "scenarios/flaky.scn",
            "--seed",
            &seed.to_string(),
            "--print",
        ],
        &dir,
    );
    assert_eq!(a.status.code(), Some(1));
    // The transcripts (everything before the timed summary table) match.
    let transcript = |o: &Output| {
        text(o)
            .split("\nscenario  seeds")
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(transcript(&a), transcript(&b));
    assert!(transcript(&a).starts_with(&format!("# scenario flaky (seed {seed})")));
    assert!(text(&a).contains("FAILED: expect (line 7)"), "{}", text(&a));
}

#[test]
fn parse_errors_name_file_line_and_column_and_fail() {
    let dir = scratch("bad", &[("bad.scn", "manager m\n---\ntick soon\n")]);
    let o = orc_sim(&["replay", "-q"], &dir);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("scenarios/bad.scn:3:6: error: expected a number of ticks, found `soon`"),
        "{out}"
    );
    assert!(out.contains("ERROR"), "{out}");
}

#[test]
fn usage_errors_exit_two() {
    let dir = scratch("usage", &[("a.scn", PASSING), ("b.scn", PASSING)]);
    let o = orc_sim(&["replay", "--mermaid", "one.md", "-q"], &dir);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = orc_sim(&["replay", "nowhere/"], &dir);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn pictures_and_determinism_checks() {
    let dir = scratch("pics", &[("a.scn", PASSING)]);
    let o = orc_sim(
        &[
            "replay",
            "--seeds",
            "5",
            "--verify-determinism",
            "--mermaid",
            "{name}-{seed}.md",
            "--trace-json",
            "{name}-{seed}.json",
            "-q",
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let md = std::fs::read_to_string(dir.join("a-3.md")).unwrap();
    assert!(md.starts_with("```mermaid\nsequenceDiagram\n"), "{md}");
    assert!(md.contains("participant rm_m as rm m"), "{md}");
    let json = std::fs::read_to_string(dir.join("a-4.json")).unwrap();
    assert!(json.contains("\"traceEvents\""), "{json}");
    assert!(json.contains("\"ph\":\"B\""), "{json}");
}
