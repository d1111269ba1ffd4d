//! Wrapper functions and their byte buffers (upstream `WrapperFunction.h`).

mod buffer;
mod function;
mod table;

pub use buffer::{
    BufferView, CWrapperFunctionResult, INLINE_CAPACITY, WrapperFunctionBuffer,
    orc_rt_WrapperFunctionBuffer, orc_rt_WrapperFunctionBufferDataUnion,
};
pub use function::{
    ARG_DECODE_ERROR, CALL_ARGS_ENCODE_ERROR, MethodSignature, RESULT_DECODE_ERROR,
    RESULT_ENCODE_ERROR, RETURN_DROPPED_ERROR, Signature, SpsReturn, SpsWrapperFunction,
    WrapperFunction, WrapperReturn,
};
pub(crate) use table::Runs;
pub use table::{ArgumentSource, Handler, QuickPath, StreamedArgs, WrapperEntry, WrapperTable};
