//! LLVM 22's SimpleRemoteEPC wire protocol (upstream
//! `SimpleRemoteEPCUtils.h`): message framing, the Setup message, and the
//! controller access that speaks the protocol over a byte-stream pair.

mod access;
mod frame;
mod setup;
mod spin;
mod stream;

pub use access::{CloseFn, LostResultFn, WaitFn, WireControllerAccess, WireOptions};

pub use frame::{
    EAGER_PAYLOAD_LIMIT, FrameReader, HEADER_SIZE, Header, Message, Opcode, WireError,
    write_message,
};
pub use setup::SetupInfo;
pub use spin::{SpinWait, SpinWaker};
pub(crate) use stream::Landed;
pub use stream::{PayloadSource, STREAM_THRESHOLD, StreamedCall};

/// Takes ownership of the descriptor pair `filedescs=IN,OUT` names: `IN`
/// is read from, `OUT` written to (the same descriptor may serve both).
/// Fails if either is not open.
pub fn adopt_fds(
    read_fd: std::os::fd::RawFd,
    write_fd: std::os::fd::RawFd,
) -> std::io::Result<(std::fs::File, std::fs::File)> {
    let reader = crate::sys::fd::adopt(read_fd)?;
    let writer = if write_fd == read_fd {
        reader.try_clone()?
    } else {
        crate::sys::fd::adopt(write_fd)?
    };
    Ok((std::fs::File::from(reader), std::fs::File::from(writer)))
}
