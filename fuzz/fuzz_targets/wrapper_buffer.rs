//! Operations on wrapper-function buffers checked against a model; see
//! `orc_rt::fuzzing::wrapper_buffer`.
#![no_main]
use orc_rt::fuzzing::{BufferOp, wrapper_buffer};
libfuzzer_sys::fuzz_target!(|ops: Vec<BufferOp>| wrapper_buffer(&ops));
