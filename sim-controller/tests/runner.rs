//! The replay runner as a library (`orc_sim::runner`): probes counted over
//! seeds (an unreached one fails the replay), shards that split the runs
//! exactly once, determinism checks, explorations, and the HTML report.

use std::collections::BTreeSet;
use std::time::Duration;

use orc_sim::runner::{Loaded, ReplayOptions, Shard, Summary, replay_loaded};
use orc_sim::scenario::{Pos, Probe};

const PASSING: &str = "# rule: spec 8.7 test\nmanager m\njit busy: enter, work 3, leave\n---\nspawn t busy\nawait \"jit t: enter: ok\"\nshutdown\nexpect order \"jit t: leave\" < \"rm m: shutdown\"\n";

/// Whether the thread enters before the script's shutdown depends on the
/// seed: entering is a situation only some seeds reach.
const SOMETIMES_ENTERS: &str =
    "# rule: spec 5 test\nmanager m\njit busy: enter, work 1, leave\n---\nspawn t busy\nshutdown\n";

fn with_probes(file: &str, text: &str, probes: &[&str]) -> Loaded {
    let mut sc = orc_sim::parse(file, text).unwrap();
    for (k, p) in probes.iter().enumerate() {
        sc.probes.push(Probe {
            pattern: (*p).to_owned(),
            pos: Pos {
                line: 20 + k,
                col: 1,
            },
        });
    }
    Loaded::given(file, sc)
}

fn quiet(seeds: u64) -> ReplayOptions {
    ReplayOptions {
        seeds: Some(seeds),
        quiet: true,
        jobs: 2,
        ..Default::default()
    }
}

fn replay(loaded: &[Loaded], opts: &ReplayOptions) -> (Summary, String) {
    let mut out = Vec::new();
    let s = replay_loaded(loaded, opts, &mut out).unwrap();
    (s, String::from_utf8(out).unwrap())
}

#[test]
fn a_probe_never_reached_fails_the_replay() {
    let l = [with_probes(
        "scenarios/p.scn",
        PASSING,
        &["jit t: leave", "never happens"],
    )];
    let (s, out) = replay(&l, &quiet(5));
    assert!(!s.passed(), "{out}");
    let r = &s.scenarios[0];
    assert_eq!(r.seeds.len(), 5);
    assert!(r.failed_seeds.is_empty(), "{out}");
    assert_eq!(
        r.probes.iter().map(|p| p.reached).collect::<Vec<_>>(),
        [5, 0]
    );
    assert_eq!(r.verdict(), "PROBE");
    assert!(
        out.lines()
            .any(|l| l.starts_with("p ") && l.contains("  5  PROBE")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("scenario") && l.ends_with("reached")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("\"jit t: leave\"") && l.ends_with("5/5 seeds")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("\"never happens\"") && l.ends_with("0/5 seeds  NEVER REACHED")),
        "{out}"
    );
    assert!(
        out.contains(
            "p: probe \"never happens\" (line 21) was reached by none of the 5 seed(s) run"
        ),
        "{out}"
    );
}

#[test]
fn a_probe_counts_the_seeds_that_reached_it() {
    let l = [with_probes(
        "scenarios/s.scn",
        SOMETIMES_ENTERS,
        &["jit t: enter: ok"],
    )];
    let (s, out) = replay(&l, &quiet(40));
    let reached = s.scenarios[0].probes[0].reached;
    assert!(0 < reached && reached < 40, "{reached}: {out}");
    assert!(s.passed(), "{out}");
    assert!(out.contains(&format!("{reached}/40 seeds")), "{out}");
}

#[test]
fn scenarios_without_probes_print_no_probe_table() {
    let l = [with_probes("scenarios/a.scn", PASSING, &[])];
    let (s, out) = replay(&l, &quiet(2));
    assert!(s.passed(), "{out}");
    assert!(!out.contains("probe"), "{out}");
}

/// The runs (scenario, seed) a replay made.
fn runs(s: &Summary) -> Vec<(String, u64)> {
    s.scenarios
        .iter()
        .flat_map(|r| r.seeds.iter().map(move |&x| (r.name.clone(), x)))
        .collect()
}

#[test]
fn two_shards_make_the_runs_of_the_whole_command_once() {
    let l = [
        with_probes("scenarios/a.scn", PASSING, &[]),
        with_probes("scenarios/b.scn", SOMETIMES_ENTERS, &[]),
        with_probes("scenarios/c.scn", PASSING, &[]),
    ];
    let mut opts = quiet(9);
    opts.seed = Some(100);
    let whole = runs(&replay(&l, &opts).0);
    assert_eq!(whole.len(), 27);
    let mut parts = Vec::new();
    for i in 0..2 {
        opts.shard = Some(Shard::new(i, 2).unwrap());
        let (s, out) = replay(&l, &opts);
        assert!(out.contains(&format!("shard {i}/2")), "{out}");
        parts.push(runs(&s));
    }
    let a: BTreeSet<_> = parts[0].iter().cloned().collect();
    let b: BTreeSet<_> = parts[1].iter().cloned().collect();
    assert!(a.is_disjoint(&b), "{a:?}\n{b:?}");
    assert_eq!(a.len() + b.len(), 27);
    let union: BTreeSet<_> = a.union(&b).cloned().collect();
    assert_eq!(union, whole.into_iter().collect::<BTreeSet<_>>());
    // Each shard gets its share of each scenario's seeds.
    assert!(parts[0].len().abs_diff(parts[1].len()) <= 1);
}

#[test]
fn determinism_is_checked_in_parallel_and_alone() {
    let l = [
        with_probes("scenarios/a.scn", PASSING, &[]),
        with_probes("scenarios/b.scn", SOMETIMES_ENTERS, &[]),
    ];
    let mut opts = quiet(6);
    opts.verify_determinism = true;
    let (s, out) = replay(&l, &opts);
    assert!(s.passed(), "{out}");
    assert_eq!(s.verified, 12);
    assert!(
        out.contains(
            "determinism: 12 seeds run twice in parallel and once alone: the same transcripts"
        ),
        "{out}"
    );
}

#[test]
fn an_exploration_runs_rounds_of_fresh_seeds_until_its_time_is_up() {
    let l = [
        with_probes("scenarios/a.scn", PASSING, &[]),
        with_probes("scenarios/b.scn", PASSING, &[]),
    ];
    let opts = ReplayOptions {
        duration: Some(Duration::from_millis(300)),
        seed: Some(1000),
        quiet: true,
        jobs: 2,
        ..Default::default()
    };
    let (s, out) = replay(&l, &opts);
    assert!(s.passed(), "{out}");
    assert_eq!(s.base_seed, Some(1000));
    assert!(out.contains("exploring for 0.3s from seed 1000"), "{out}");
    let a = &s.scenarios[0].seeds;
    assert!(a.len() > 2, "{out}");
    // Round after round: the seeds of a scenario are 1000, 1001, ...
    // (runs still in flight at the deadline finish, so a scenario may
    // have one more than the other).
    assert_eq!(a[..3], [1000, 1001, 1002]);
    assert!(a.len().abs_diff(s.scenarios[1].seeds.len()) <= 2);
    // At most K seeds with `seeds`.
    let opts = ReplayOptions {
        seeds: Some(3),
        duration: Some(Duration::from_secs(60)),
        ..opts
    };
    let t = std::time::Instant::now();
    let (s, out) = replay(&l, &opts);
    assert_eq!(s.runs(), 6, "{out}");
    assert!(t.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_sharded_exploration_needs_a_seed() {
    let l = [with_probes("scenarios/a.scn", PASSING, &[])];
    let opts = ReplayOptions {
        duration: Some(Duration::from_millis(10)),
        shard: Some(Shard::new(0, 2).unwrap()),
        quiet: true,
        ..Default::default()
    };
    let err = replay_loaded(&l, &opts, &mut Vec::new()).unwrap_err();
    assert!(err.contains("--shard with --for needs --seed"), "{err}");
}

#[test]
fn the_report_page_has_every_section() {
    let l = [
        with_probes(
            "scenarios/a.scn",
            PASSING,
            &["jit t: leave", "never happens"],
        ),
        with_probes("scenarios/flaky.scn", SOMETIMES_ENTERS, &[]),
    ];
    let mut text = SOMETIMES_ENTERS.to_owned();
    text.push_str("expect once \"jit t: enter: ok\"\n");
    let l = [
        l[0].clone(),
        Loaded::given(
            "scenarios/flaky.scn",
            orc_sim::parse("flaky.scn", &text).unwrap(),
        ),
    ];
    let (s, _) = replay(&l, &quiet(20));
    let failing = s.scenarios[1].failed_seeds.len();
    assert!(failing > 0 && failing < 20);
    let html = orc_sim::report::html(&s);
    assert!(
        html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"),
        "{html}"
    );
    assert!(html.ends_with("</html>\n"));
    for part in [
        "<title>orc-sim report: FAIL</title>",
        "<h2 id=\"summary\">Summary</h2>",
        "<h2 id=\"probes\">Probes</h2>",
        "<section id=\"scenario-a\">",
        "<section id=\"scenario-flaky\">",
        "<code>reach &quot;jit t: leave&quot;</code>: reached by 20 of 20 seeds",
        "never reached",
        "<pre class=\"mermaid\">sequenceDiagram\n",
        "<a class=\"perfetto\"",
        "https://ui.perfetto.dev",
        "Reproduce: <code>orc-sim replay scenarios/flaky.scn --seed ",
        "<details><summary>Transcript</summary>",
    ] {
        assert!(html.contains(part), "no {part:?} in the page");
    }
    let first = s.scenarios[1].failed_seeds[0];
    assert!(html.contains(&format!(
        "<h4 id=\"flaky-seed-{first}\">Seed {first} failed</h4>"
    )));
    // The trace is inside the page.
    let prefix = orc_sim::report::base64(b"{\"displayTimeUnit\":\"ms\",\"traceEvents\":[");
    assert_eq!(prefix.len(), 52);
    assert!(
        html.contains(&format!("data:application/json;base64,{prefix}")),
        "no embedded trace"
    );
    // Balanced markup.
    for tag in [
        "section", "table", "pre", "details", "ul", "script", "p", "h4",
    ] {
        let open =
            html.matches(&format!("<{tag}>")).count() + html.matches(&format!("<{tag} ")).count();
        let close = html.matches(&format!("</{tag}>")).count();
        assert_eq!(open, close, "<{tag}>");
    }
}
