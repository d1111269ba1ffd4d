//! SimpleRemoteEPC frames fed to a live session with every executor service
//! registered; see `orc_rt::fuzzing::wire_message`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| orc_rt::fuzzing::wire_message(data));
