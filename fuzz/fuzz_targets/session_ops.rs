//! Random operations against a session, the invariants checked after each
//! step; see `orc_rt_fuzz_oracles::session_ops`.
#![no_main]
use orc_rt_fuzz_oracles::{SessionOpsInput, session_ops};
libfuzzer_sys::fuzz_target!(|input: SessionOpsInput| session_ops(&input));
