//! Random session scenarios with the invariants checked after every step;
//! see `orc_rt::fuzzing::scenario`.
#![no_main]
use orc_rt::fuzzing::{ScenarioInput, scenario};
libfuzzer_sys::fuzz_target!(|input: ScenarioInput| scenario(&input));
