//! Frames and message sequences fed to a live session with every executor
//! service, over the wire protocol; see `orc_rt_fuzz_oracles::wire_message`.
#![no_main]
use orc_rt_fuzz_oracles::{WireInput, wire_message};
libfuzzer_sys::fuzz_target!(|input: WireInput| wire_message(&input));
