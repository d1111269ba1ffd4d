//! `orc_sim::run` itself, below the runner: how a run ends when threads
//! are stuck.

use std::time::Duration;

use orc_sim::{RunConfig, parse, run};

/// `t1` waits for something that never happens; `t2` waits for `t1` to
/// leave. At the end both are stuck, but aborting `t1` makes it leave, so
/// `t2` finishes on its own: the simulation must not then resume `t2` as
/// if it were still parked (it used to, and waited for it until the hang
/// timeout, reporting a deadlock that was its own).
const ABORT_FREES_ANOTHER: &str = "# rule: spec 8.7 test
manager m
jit holder: enter, wait \"never happens\", leave
jit second: wait \"jit t1: leave\", work 1
---
spawn t1 holder
spawn t2 second
";

#[test]
fn aborting_a_stuck_thread_may_free_another() {
    let sc = parse("abort.scn", ABORT_FREES_ANOTHER).unwrap();
    let mut freed = 0;
    for seed in 0..10 {
        let mut cfg = RunConfig::new(seed);
        cfg.hang_timeout = Duration::from_secs(2);
        let out = run(&sc, &cfg);
        let text = out.render();
        assert!(out.violations.is_empty(), "seed {seed}:\n{text}");
        // Both were stuck when the script ended: the run still fails.
        assert!(
            out.failures
                .iter()
                .any(|f| f.starts_with("no progress possible: jit t2")),
            "seed {seed}:\n{text}"
        );
        // Which thread is aborted first depends on the seed; the case
        // in question is `t1` first.
        if !text.contains("aborting jit t2") {
            assert!(text.contains("jit t2: end"), "seed {seed}:\n{text}");
            freed += 1;
        }
    }
    assert!(freed > 0, "no seed aborted t1 first");
}

/// The script ends stuck while the host holds a guard: the simulation drops
/// the guard at the end, and dropping it logs. It used to do so with the
/// world locked, and the run never returned.
const STUCK_WITH_A_GUARD: &str = "# rule: spec 8.7 test
---
attach
enter h1
await \"this never happens\"
leave h1
";

#[test]
fn a_run_stuck_while_holding_a_guard_ends() {
    let sc = parse("guard.scn", STUCK_WITH_A_GUARD).unwrap();
    let (done, ended) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut cfg = RunConfig::new(0);
        cfg.hang_timeout = Duration::from_secs(2);
        let _ = done.send(run(&sc, &cfg));
    });
    let out = ended
        .recv_timeout(Duration::from_secs(60))
        .expect("the run never returned");
    let text = out.render();
    assert!(
        out.failures
            .iter()
            .any(|f| f.starts_with("script stuck at line 5")),
        "{text}"
    );
}
