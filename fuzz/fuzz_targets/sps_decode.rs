//! Arbitrary bytes decoded as many SPS types; see `orc_rt_fuzz_oracles::sps_decode`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| orc_rt_fuzz_oracles::sps_decode(data));
