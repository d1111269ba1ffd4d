//! `orc_sim::simulation`: a crate's own service under the scheduler.

use std::sync::{Arc, Mutex};

use orc_rt::error::Error;
use orc_rt::wrapper::{WrapperEntry, WrapperFunction, WrapperFunctionBuffer, WrapperReturn};
use orc_rt::{OnComplete, ResourceManager};
use orc_sim::simulation::Simulation;

/// A counter service: `count_add (str NAME, u64 N)` adds N to a named
/// counter and answers the new total, asynchronously (from a dispatched
/// task); `count_report` tells the controller's `report` handler the
/// total; the manager forgets everything at shutdown.
fn counter(b: orc_sim::simulation::SimulationBuilder) -> orc_sim::simulation::SimulationBuilder {
    b.service(&["count_add", "count_report"], |ctx| {
        let totals: Arc<Mutex<u64>> = Arc::default();
        let log = ctx.log();
        let session = ctx.session().clone();
        let t = totals.clone();
        ctx.register(
            "count_add",
            WrapperEntry::new(move |args: WrapperFunctionBuffer, ret: WrapperReturn| {
                let (t, log) = (t.clone(), log.clone());
                let dispatched = session.dispatch(move || {
                    let r = WrapperFunction::handle_sps(args.bytes(), |(name, n): (&str, u64)| {
                        let mut total = t.lock().unwrap();
                        *total += n;
                        log.note("counter", format!("{name} += {n} → {}", *total));
                        *total
                    });
                    ret.send(r);
                });
                assert!(dispatched.is_ok(), "dispatch refused");
            }),
        )?;
        let tag = ctx.controller_tag("report").expect("the provided handler");
        let session = ctx.session().clone();
        let t = totals.clone();
        ctx.register(
            "count_report",
            WrapperEntry::new(move |_args: WrapperFunctionBuffer, ret: WrapperReturn| {
                let total = *t.lock().unwrap();
                session.call_controller(tag, orc_rt::sps::to_vec(&total).into(), move |reply| {
                    ret.send(reply)
                });
            }),
        )?;
        ctx.add_resource_manager(Counter { totals });
        Ok(())
    })
    .handler("report", |args| {
        let total: u64 = orc_rt::sps::from_prefix(args).map_err(|e| e.to_string())?.0;
        Ok(orc_rt::sps::to_vec(&(total * 10)))
    })
}

struct Counter {
    totals: Arc<Mutex<u64>>,
}

impl ResourceManager for Counter {
    fn name(&self) -> &str {
        "counter"
    }
    fn detach(&mut self, done: OnComplete, _shutdown_requested: bool) {
        done.ok();
    }
    fn shutdown(&mut self, done: OnComplete) {
        *self.totals.lock().unwrap() = 0;
        done.ok();
    }
}

const SCRIPT: &str = r#"
# rule: example: a provided service answers SPS tuples asynchronously and calls the controller
manager m
---
attach
call c1 count_add (str "a", u64 2)
await c1 done
call c2 count_add (str "b", u64 5)
await c2 done
call c3 count_report
await c3 done
expect c1 ok u64 2
expect c2 ok u64 7
expect c3 ok u64 70
expect order "counter: a += 2 → 2" < "counter: b += 5 → 7"
expect order "rm m: shutdown done" < "rm counter: shutdown"
"#;

#[test]
fn a_provided_service_runs_under_the_scheduler_with_every_seed() {
    let sim = counter(Simulation::builder().script("counter.scn", SCRIPT))
        .build()
        .unwrap();
    for seed in 0..50 {
        let o = sim.run(seed);
        assert!(o.passed(), "seed {seed}:\n{}", o.render());
        let text = o.transcript.render();
        assert!(
            text.contains("setup received [m1]; provided count_add, count_report"),
            "{text}"
        );
        assert!(text.contains("rm counter: detach(shutdown_requested=true)"));
    }
}

#[test]
fn a_wrong_expectation_fails_with_the_seed_in_the_outcome() {
    let wrong = SCRIPT.replace("expect c3 ok u64 70", "expect c3 ok u64 71");
    let sim = counter(Simulation::builder().script("counter.scn", &wrong))
        .seed(9)
        .build()
        .unwrap();
    let o = sim.run_own_seed();
    assert!(!o.passed());
    assert_eq!(o.seed, 9);
    assert!(
        o.failures[0].contains("c3 should be ok u64 71, got ok 4600000000000000"),
        "{:?}",
        o.failures
    );
}

#[test]
fn names_the_service_did_not_declare_are_refused() {
    let sim = Simulation::builder()
        .script("x.scn", "# rule: example: names\n---\nattach\n")
        .service(&["a"], |ctx| {
            ctx.register(
                "b",
                WrapperEntry::from_fn(|_| WrapperFunctionBuffer::empty()),
            )
        })
        .build()
        .unwrap();
    let o = sim.run(0);
    assert!(!o.passed());
    let all = format!("{:?} {:?}", o.failures, o.violations);
    assert!(
        all.contains("`b` is not one of this service's names"),
        "{all}\n{}",
        o.render()
    );
}

#[test]
fn unknown_names_in_the_script_are_parse_errors() {
    let e = Simulation::builder()
        .script(
            "x.scn",
            "# rule: example: names\n---\nattach\ncall c1 nope\n",
        )
        .service(&["a"], |_| Ok(()))
        .build()
        .err()
        .expect("a parse error");
    assert!(
        e.to_string()
            .contains("`nope` is not a declared JIT'd function"),
        "{e}"
    );
}

#[test]
fn a_script_handler_named_like_a_provided_one_is_refused_by_name() {
    let e = Simulation::builder()
        .script(
            "x.scn",
            "# rule: example: names\nhandler report: never\n---\nattach\n",
        )
        .handler("report", |_| Ok(Vec::new()))
        .build()
        .err()
        .expect("a parse error");
    assert!(
        e.to_string().contains(
            "x.scn:2:1: error: handler `report` is provided by the program running the \
             scenario; the script cannot declare it too"
        ),
        "{e}"
    );
}

#[test]
fn builder_faults_and_settings_apply() {
    let sim = counter(Simulation::builder().script("counter.scn", SCRIPT))
        .fault("drop result c2")
        .latency(2, 2)
        .build()
        .unwrap();
    assert_eq!(sim.scenario().latency, (2, 2));
    let o = sim.run(1);
    assert!(!o.passed(), "c2's result is lost: the script cannot go on");
    assert!(
        o.render().contains("dropped (fault: drop result c2)"),
        "{}",
        o.render()
    );
}

#[test]
fn a_failing_setup_is_reported() {
    let sim = Simulation::builder()
        .script("x.scn", "# rule: example: setup\n---\nattach\n")
        .service(&["a"], |_| {
            Err(Error::new(orc_rt::error::ErrorKind::Service, "no database"))
        })
        .build()
        .unwrap();
    let o = sim.run(0);
    assert!(!o.passed());
    assert!(o.render().contains("no database"), "{}", o.render());
}

/// Mappings a service kept past its run (reachable: no leak for the
/// sanitizer, but left behind for the run).
static KEPT: Mutex<Vec<orc_executor::os::SimulatedMapping>> = Mutex::new(Vec::new());

/// A service that maps memory on the run's OS and keeps it in its manager,
/// which unmaps it at shutdown unless `leak`.
fn mapping_service(leak: bool) -> Simulation {
    use orc_executor::os::Os;
    struct Holder(Option<orc_executor::os::SimulatedMapping>, bool);
    impl ResourceManager for Holder {
        fn name(&self) -> &str {
            "holder"
        }
        fn detach(&mut self, done: OnComplete, _shutdown_requested: bool) {
            done.ok();
        }
        fn shutdown(&mut self, done: OnComplete) {
            if self.1 {
                // Kept past the run, as a leaking service would.
                KEPT.lock().unwrap().extend(self.0.take());
            }
            self.0 = None;
            done.ok();
        }
    }
    Simulation::builder()
        .script(
            "map.scn",
            "# rule: example: a service's mapping is unmapped by shutdown\n---\nshutdown\n",
        )
        .service(&[], move |ctx| {
            let mapping = ctx
                .os()
                .map(8192)
                .map_err(|e| Error::new(orc_rt::ErrorKind::Io, e.to_string()))?;
            ctx.add_resource_manager(Holder(Some(mapping), leak));
            Ok(())
        })
        .build()
        .unwrap()
}

#[test]
fn what_a_service_leaves_on_the_run_os_after_shutdown_is_a_violation() {
    let o = mapping_service(false).run(0);
    assert!(o.passed(), "{:?} {:?}", o.violations, o.failures);
    let o = mapping_service(true).run(0);
    assert!(!o.passed());
    let all = o.violations.join("\n");
    assert!(
        all.contains("left OS resources behind after shutdown") && all.contains("regions: 1"),
        "{all}"
    );
}

#[test]
fn a_failure_with_a_provided_service_shrinks_to_a_script_that_replays() {
    // Only c3's expectation is wrong: the a/b calls before it and the other
    // expectations are not needed to fail the same way.
    let wrong = SCRIPT.replace("expect c3 ok u64 70", "expect c3 ok u64 71");
    let sim = counter(Simulation::builder().script("counter.scn", &wrong))
        .build()
        .unwrap();
    let shrunk = sim
        .shrink(3, &orc_sim::shrink::ShrinkOptions::default())
        .unwrap();
    assert!(shrunk.replays, "{}", shrunk.to_scn());
    // The provided `report` handler is not the script's to remove: trying
    // to (it comes back on every re-parse) used to spend the whole budget.
    assert!(
        !shrunk.exhausted && !shrunk.removed.iter().any(|r| r.contains('?')),
        "{} runs, removed {:?}",
        shrunk.runs,
        shrunk.removed
    );
    assert!(
        shrunk.after.steps < shrunk.before.steps && shrunk.after.expects < shrunk.before.expects,
        "{:?} → {:?}\n{}",
        shrunk.before,
        shrunk.after,
        shrunk.to_scn()
    );
    // The written script still fails that way with the program's service.
    let text = shrunk.to_scn();
    assert!(text.contains("count_report"), "{text}");
    let again = counter(Simulation::builder().script("counter.shrunk.scn", &text))
        .build()
        .unwrap()
        .run_own_seed();
    assert!(!again.passed());
    assert!(
        again
            .failures
            .iter()
            .any(|f| f.contains("c3 should be ok u64 71")),
        "{:?}",
        again.failures
    );
}

/// A manager that panics in `shutdown`.
struct Panicky;

impl ResourceManager for Panicky {
    fn name(&self) -> &str {
        "panicky"
    }
    fn detach(&mut self, done: OnComplete, _shutdown_requested: bool) {
        done.ok();
    }
    fn shutdown(&mut self, _done: OnComplete) {
        panic!("panicky gives up");
    }
}

#[test]
fn a_provided_manager_that_panics_is_reported_once_as_a_panic() {
    let sim = Simulation::builder()
        .script(
            "panicky.scn",
            "# rule: spec 6 a manager's panic is reported once\n---\nattach\nshutdown\n",
        )
        .service(&[], |ctx| {
            ctx.add_resource_manager(Panicky);
            Ok(())
        })
        .build()
        .unwrap();
    let o = sim.run(0);
    let text = o.transcript.render();
    assert!(
        text.contains("rm panicky: shutdown drops its completion"),
        "{text}"
    );
    assert!(text.contains("panicky gives up"), "{text}");
    assert!(
        !text.contains("completion dropped without being called"),
        "{text}"
    );
}
