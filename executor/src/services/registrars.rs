//! The alloc-action functions LLVM 22 attaches to initialize requests:
//! EH-frame registration with the unwinder and debug-object registration
//! with the GDB JIT interface (protocol 5.6). Their C entry points (legacy
//! wrapper ABI) are in `call::entry_points`.

use crate::sys;
use orc_rt::addr::ExecutorAddrRange;
use orc_rt::error::{Error, ErrorKind};
use orc_rt::wrapper::WrapperFunctionBuffer;

use orc_rt::wrapper::WrapperFunction;

fn service(message: String) -> Error {
    Error::new(ErrorKind::Service, message)
}

/// `Error(ExecutorAddrRange eh_frame)`.
pub(crate) fn register_eh_frame(args: &[u8]) -> WrapperFunctionBuffer {
    WrapperFunction::handle_sps(args, |range: ExecutorAddrRange| -> Result<(), Error> {
        sys::eh_frame::register(range).map_err(service)
    })
}

/// `Error(ExecutorAddrRange eh_frame)`.
pub(crate) fn deregister_eh_frame(args: &[u8]) -> WrapperFunctionBuffer {
    WrapperFunction::handle_sps(args, |range: ExecutorAddrRange| -> Result<(), Error> {
        sys::eh_frame::deregister(range).map_err(service)
    })
}

/// `Error(ExecutorAddrRange object, bool auto_register)`.
pub(crate) fn register_jit_loader_gdb(args: &[u8]) -> WrapperFunctionBuffer {
    WrapperFunction::handle_sps(
        args,
        |(object, notify): (ExecutorAddrRange, bool)| -> Result<(), Error> {
            sys::gdb_jit::register(object, notify).map_err(service)
        },
    )
}
