//! `orc_sim::scenario_tests!` over a folder of scenarios using a provided
//! wrapper function, as a downstream crate would write it.

use orc_rt::wrapper::{WrapperEntry, WrapperFunction};
use orc_sim::simulation::SimulationBuilder;

fn echo_twice(b: SimulationBuilder) -> SimulationBuilder {
    b.service(&["echo_twice"], |ctx| {
        ctx.register(
            "echo_twice",
            WrapperEntry::from_fn(|args| {
                WrapperFunction::handle_sps(args, |s: String| format!("{s}{s}"))
            }),
        )
    })
}

orc_sim::scenario_tests!(harness_scenarios, "harness_scenarios/*.scn", echo_twice);
