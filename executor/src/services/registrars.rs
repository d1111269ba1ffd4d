//! The alloc-action functions LLVM's controllers attach to initialize
//! requests: EH-frame registration with the unwinder and debug-object
//! registration with the GDB JIT interface (protocol 5.6), in both
//! generations: LLVM 22's (`llvm_orc_*`, an SPS `Error` result) and
//! upstream orc-rt's (`orc_rt_ci_aa_sps_*`, protocol 5.8: an empty result
//! on success, an out-of-band error on failure). Each takes the [`Os`]
//! whose registries it changes: the real process's C entry points
//! (`call::entry_points`) pass [`RealOs`](crate::os::RealOs); a backend
//! that can give Rust functions addresses ([`Os::define_wrapper`]) hosts
//! them itself.

use crate::os::Os;
use orc_rt::addr::ExecutorAddrRange;
use orc_rt::error::{Error, ErrorKind};
use orc_rt::wrapper::WrapperFunctionBuffer;

use orc_rt::sps;
use orc_rt::wrapper::WrapperFunction;

fn service(message: String) -> Error {
    Error::new(ErrorKind::Service, message)
}

/// `Error(ExecutorAddrRange eh_frame)`.
pub(crate) fn register_eh_frame<O: Os>(os: &O, args: &[u8]) -> WrapperFunctionBuffer {
    WrapperFunction::handle_sps(args, |range: ExecutorAddrRange| -> Result<(), Error> {
        os.register_eh_frame(range).map_err(service)
    })
}

/// `Error(ExecutorAddrRange eh_frame)`.
pub(crate) fn deregister_eh_frame<O: Os>(os: &O, args: &[u8]) -> WrapperFunctionBuffer {
    WrapperFunction::handle_sps(args, |range: ExecutorAddrRange| -> Result<(), Error> {
        os.deregister_eh_frame(range).map_err(service)
    })
}

/// `Error(ExecutorAddrRange object, bool auto_register)`.
pub(crate) fn register_jit_loader_gdb<O: Os>(os: &O, args: &[u8]) -> WrapperFunctionBuffer {
    WrapperFunction::handle_sps(
        args,
        |(object, notify): (ExecutorAddrRange, bool)| -> Result<(), Error> {
            os.register_debug_object(object, notify).map_err(service)
        },
    )
}

/// An action with upstream orc-rt's result convention on an
/// `ExecutorAddrRange` argument: empty on success, the failure as an
/// out-of-band error (orc-rt's words for arguments that do not decode).
fn orc_rt_action(
    args: &[u8],
    f: impl FnOnce(ExecutorAddrRange) -> Result<(), String>,
) -> WrapperFunctionBuffer {
    match sps::from_prefix::<ExecutorAddrRange>(args) {
        Ok((range, _)) => match f(range) {
            Ok(()) => WrapperFunctionBuffer::empty(),
            Err(message) => WrapperFunctionBuffer::out_of_band_error(&message),
        },
        Err(_) => WrapperFunctionBuffer::out_of_band_error(
            "Could not deserialize allocation action argument buffer",
        ),
    }
}

/// `orc_rt_ci_aa_sps_GDBJITRegistrar_register(ExecutorAddrRange object)`:
/// registers and tells an attached debugger.
pub(crate) fn ci_register_gdb<O: Os>(os: &O, args: &[u8]) -> WrapperFunctionBuffer {
    orc_rt_action(args, |object| os.register_debug_object(object, true))
}

/// `orc_rt_ci_aa_sps_GDBJITRegistrar_deregister(ExecutorAddrRange object)`.
pub(crate) fn ci_deregister_gdb<O: Os>(os: &O, args: &[u8]) -> WrapperFunctionBuffer {
    orc_rt_action(args, |object| os.deregister_debug_object(object))
}

/// `orc_rt_ci_aa_sps_DWARFEHFrameRegistrar_registerSection(ExecutorAddrRange)`.
pub(crate) fn ci_register_eh_frame<O: Os>(os: &O, args: &[u8]) -> WrapperFunctionBuffer {
    orc_rt_action(args, |section| os.register_eh_frame(section))
}

/// `orc_rt_ci_aa_sps_DWARFEHFrameRegistrar_deregisterSection(ExecutorAddrRange)`.
pub(crate) fn ci_deregister_eh_frame<O: Os>(os: &O, args: &[u8]) -> WrapperFunctionBuffer {
    orc_rt_action(args, |section| os.deregister_eh_frame(section))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::os::RealOs;

    #[test]
    fn orc_rt_actions_answer_empty_or_out_of_band() {
        // A static: registered objects must outlive their registration, and
        // a leaked box nothing points to once deregistered is a leak to
        // valgrind (scripts/asan.sh).
        static OBJECT: [u8; 5] = [0x7f, b'E', b'L', b'F', 3];
        let object: &'static [u8] = &OBJECT;
        let args = sps::to_vec(&ExecutorAddrRange::of_slice(object));
        let ok = ci_register_gdb(&RealOs, &args);
        assert!(ok.is_empty() && !ok.is_error());
        assert!(ci_deregister_gdb(&RealOs, &args).is_empty());
        let again = ci_deregister_gdb(&RealOs, &args);
        assert!(
            again
                .error_message()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("no debug object is registered at")
        );
        assert_eq!(
            ci_register_gdb(&RealOs, &[1, 2])
                .error_message()
                .unwrap()
                .to_str()
                .unwrap(),
            "Could not deserialize allocation action argument buffer"
        );
    }
}
