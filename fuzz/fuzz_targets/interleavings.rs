//! One of the repository's scenarios under orc-sim, the scheduler's first
//! decisions taken from the input; see `orc_rt_fuzz_oracles::interleavings`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| orc_rt_fuzz_oracles::interleavings(data));
