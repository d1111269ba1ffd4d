//! Random session scenarios with the invariants checked after every step;
//! see `orc_rt_fuzz_oracles::scenario`.
#![no_main]
use orc_rt_fuzz_oracles::{ScenarioInput, scenario};
libfuzzer_sys::fuzz_target!(|input: ScenarioInput| scenario(&input));
