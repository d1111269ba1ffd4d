//! The `orc-sim` command: exit codes, the summary table, the seed and the
//! reproduce line of a failing run, parse errors with their position,
//! determinism checking and the pictures; help and usage errors; shards,
//! the journal, swarm runs, explorations and the HTML report.

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

#[test]
fn help_version_and_usage_errors_that_name_the_flag() {
    let dir = scratch("help", &[]);
    let o = orc_sim(&["--help"], &dir);
    assert_eq!(o.status.code(), Some(0));
    let out = text(&o);
    for cmd in ["replay", "report", "differential"] {
        assert!(out.contains(&format!("\n  {cmd} ")), "{out}");
    }
    let o = orc_sim(&["replay", "--help"], &dir);
    assert_eq!(o.status.code(), Some(0));
    let out = text(&o);
    for flag in [
        "--seed N",
        "--seeds K",
        "--for DURATION",
        "--swarm",
        "--shard I/N",
        "--journal FILE",
        "--verify-determinism",
        "--list",
    ] {
        assert!(out.contains(flag), "{flag}: {out}");
    }
    assert!(text(&orc_sim(&["report", "--help"], &dir)).contains("--out FILE.html"));
    let o = orc_sim(&["--version"], &dir);
    assert_eq!(text(&o), format!("orc-sim {}\n", env!("CARGO_PKG_VERSION")));
    let o = orc_sim(&["replay", "--seeds", "2", "--frobnicate"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        text(&o),
        "orc-sim replay: unknown option `--frobnicate`\n(see `orc-sim replay --help`)\n"
    );
    let o = orc_sim(&["replay", "--for", "soon"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("`--for`: `soon` is not a duration"));
    let o = orc_sim(&["report", "scenarios"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("`--out FILE.html` is required"));
    let o = orc_sim(&["wire", "--executor", "x"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("is now `orc-sim differential`"));
}

/// The runs `--list` prints.
fn listed(dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["replay", "--seeds", "7", "--list"];
    args.extend_from_slice(extra);
    let o = orc_sim(&args, dir);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn shards_split_the_runs_of_the_whole_command_exactly_once() {
    let dir = scratch(
        "shard",
        &[("a.scn", PASSING), ("b.scn", PASSING), ("c.scn", PASSING)],
    );
    let all = listed(&dir, &[]);
    assert_eq!(all.len(), 21);
    assert_eq!(all[0], "scenarios/a.scn --seed 0");
    let s0 = listed(&dir, &["--shard", "0/2"]);
    let s1 = listed(&dir, &["--shard=1/2"]);
    assert!(s0.iter().all(|r| !s1.contains(r)), "{s0:?}\n{s1:?}");
    let mut union: Vec<String> = s0.iter().chain(&s1).cloned().collect();
    union.sort();
    let mut want = all.clone();
    want.sort();
    assert_eq!(union, want);
    // Running the shards makes those runs.
    let o = orc_sim(&["replay", "--seeds", "7", "--shard", "1/2", "-q"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("3 scenarios, {} runs", s1.len())),
        "{}",
        text(&o)
    );
    let o = orc_sim(&["replay", "--shard", "2/2"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("`--shard`: shard 2 of 2"), "{}", text(&o));
}

#[test]
fn the_journal_names_the_run_a_previous_replay_stopped_in() {
    let dir = scratch("journal", &[("a.scn", PASSING)]);
    // Without target/ there is no journal by default.
    let o = orc_sim(&["replay", "-q"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!dir.join("target").exists());
    // A journal left by a replay that was killed during a run.
    let journal = dir.join("target/orc-sim/journal.txt");
    std::fs::create_dir_all(journal.parent().unwrap()).unwrap();
    let stuck = "orc-sim replay scenarios/a.scn --seed 12 --print";
    std::fs::write(
        &journal,
        format!("# orc-sim journal\nidle\nrun {stuck}           \nidle\n"),
    )
    .unwrap();
    let o = orc_sim(&["replay", "--seeds", "4", "-q"], &dir);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).starts_with(&format!("the previous replay stopped during: {stuck}\n")),
        "{}",
        text(&o)
    );
    // This replay finished every run it started: nothing in flight.
    let after = std::fs::read_to_string(&journal).unwrap();
    assert!(
        after.lines().skip(1).all(|l| l.trim_end() == "idle"),
        "{after}"
    );
    let o = orc_sim(&["replay", "-q"], &dir);
    assert!(!text(&o).contains("stopped during"), "{}", text(&o));
    // --journal FILE and --no-journal.
    std::fs::write(dir.join("j.txt"), format!("run {stuck}\n")).unwrap();
    let o = orc_sim(&["replay", "-q", "--no-journal"], &dir);
    assert!(!text(&o).contains("stopped during"), "{}", text(&o));
    let o = orc_sim(&["replay", "-q", "--journal", "j.txt"], &dir);
    assert!(text(&o).contains("stopped during: orc-sim replay scenarios/a.scn --seed 12"));
}

#[test]
fn swarm_runs_print_their_plan_and_reproduce_with_swarm() {
    let dir = scratch(
        "swarm",
        &[("a.scn", PASSING), ("flaky.scn", SEED_DEPENDENT)],
    );
    let o = orc_sim(
        &[
            "replay",
            "scenarios/a.scn",
            "--seed",
            "3",
            "--swarm",
            "--print",
        ],
        &dir,
    );
    let plan = orc_sim::SwarmPlan::for_seed(3).to_string();
    let out = text(&o);
    assert!(
        out.starts_with(&format!(
            "# swarm plan of seed 3: {plan}\n# scenario a (seed 3)\n"
        )),
        "{out}"
    );
    let o = orc_sim(
        &[
            "replay",
            "scenarios/flaky.scn",
            "--seeds",
            "30",
            "--swarm",
            "-q",
        ],
        &dir,
    );
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
            "  swarm plan: {}\n  reproduce: orc-sim replay scenarios/flaky.scn --seed {seed} --swarm --print\n",
            orc_sim::SwarmPlan::for_seed(seed)
        )),
        "{out}"
    );
}

#[test]
fn choices_decide_the_run_whatever_the_seed_and_reproduce_it() {
    // The first decision: the thread enters (1) or the script's shutdown
    // comes first (0), which the scenario's expectation does not allow.
    let dir = scratch("choices", &[("flaky.scn", SEED_DEPENDENT)]);
    let run = |choices: &str| {
        let o = orc_sim(
            &["replay", "--seeds", "20", "--choices", choices, "-q"],
            &dir,
        );
        (o.status.code(), text(&o))
    };
    let (code, out) = run("01");
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run("00");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("flaky ") && l.contains("FAIL 20")),
        "{out}"
    );
    assert!(
        out.contains(
            "  reproduce: orc-sim replay scenarios/flaky.scn --seed 7 --choices 00 --print\n"
        ),
        "{out}"
    );
    assert!(
        !out.contains("shrink:"),
        "the shrinker cannot keep the choices:\n{out}"
    );
    // The reproduce line fails the same way.
    let o = orc_sim(
        &[
            "replay",
            "scenarios/flaky.scn",
            "--seed",
            "7",
            "--choices",
            "00",
            "--print",
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAILED: expect (line 7)"), "{}", text(&o));
    let o = orc_sim(&["replay", "--choices", "0x1"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("an odd number of hex digits"),
        "{}",
        text(&o)
    );
}

#[test]
fn an_exploration_prints_its_first_seed() {
    let dir = scratch("explore", &[("a.scn", PASSING)]);
    let o = orc_sim(&["replay", "--for", "1s", "-q"], &dir);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let first = out.lines().next().unwrap();
    let seed = first
        .strip_prefix("exploring for 1s from seed ")
        .and_then(|r| r.split(' ').next())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(first.ends_with(&format!("(the same seeds again: --seed {seed})")));
    let o = orc_sim(&["replay", "--for", "1s", "--shard", "0/2"], &dir);
    assert_eq!(o.status.code(), Some(2));
    let o = orc_sim(&["replay", "--for", "1s", "--list"], &dir);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn report_writes_one_html_page_and_exits_like_replay() {
    let dir = scratch(
        "report",
        &[("a.scn", PASSING), ("flaky.scn", SEED_DEPENDENT)],
    );
    let o = orc_sim(&["report", "--seeds", "30", "-q", "--out", "r.html"], &dir);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("scenario  seeds  result"), "{out}");
    assert!(out.ends_with("\nwrote r.html\n"), "{out}");
    let html = std::fs::read_to_string(dir.join("r.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for part in [
        "<h2 id=\"summary\">Summary</h2>",
        "<h2 id=\"probes\">Probes</h2>",
        "<section id=\"scenario-a\">",
        "<section id=\"scenario-flaky\">",
        "<pre class=\"mermaid\">",
        "data:application/json;base64,",
        "Reproduce: <code>orc-sim replay scenarios/flaky.scn --seed ",
    ] {
        assert!(html.contains(part), "no {part:?}");
    }
    let o = orc_sim(
        &["report", "scenarios/a.scn", "-q", "--out", "pass.html"],
        &dir,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let html = std::fs::read_to_string(dir.join("pass.html")).unwrap();
    assert!(html.contains("<title>orc-sim report: pass</title>"));
    assert!(!html.contains("<pre class=\"mermaid\">"));
}
