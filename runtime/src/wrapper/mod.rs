//! Wrapper functions and their byte buffers (upstream `WrapperFunction.h`).

mod buffer;

pub use buffer::{
    BufferView, CWrapperFunctionResult, INLINE_CAPACITY, WrapperFunctionBuffer,
    orc_rt_WrapperFunctionBuffer, orc_rt_WrapperFunctionBufferDataUnion,
};
