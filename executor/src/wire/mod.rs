//! LLVM's SimpleRemoteEPC wire protocol (upstream
//! `SimpleRemoteEPCUtils.h`): message framing, the Setup message, the
//! Hangup and Result payloads LLVM main gave meaning to, and the controller
//! access that speaks the protocol over a
//! [`Transport`](crate::transport::Transport).

mod access;
mod frame;
pub mod kinds;
pub mod probes;
mod setup;
mod stream;

pub use access::{LostResultFn, WireControllerAccess, WireOptions};

pub use frame::{
    EAGER_PAYLOAD_LIMIT, FrameReader, HEADER_SIZE, Header, Message, Opcode, WireError,
    write_message,
};
pub use setup::{SetupInfo, setup_payload};
pub use stream::STREAM_THRESHOLD;
