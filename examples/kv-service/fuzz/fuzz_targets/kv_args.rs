//! Arbitrary bytes as the arguments of kv_put, kv_get and kv_wait; see
//! `kv::fuzzing::kv_args`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| kv::fuzzing::kv_args(data));
