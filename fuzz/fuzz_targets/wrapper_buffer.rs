//! Operations on wrapper-function buffers checked against a model; see
//! `orc_rt_fuzz_oracles::wrapper_buffer`.
#![no_main]
use orc_rt_fuzz_oracles::{BufferOp, wrapper_buffer};
libfuzzer_sys::fuzz_target!(|ops: Vec<BufferOp>| wrapper_buffer(&ops));
