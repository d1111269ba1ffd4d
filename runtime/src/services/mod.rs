//! The executor services LLVM 22's controller expects (protocol §5): the
//! memory manager, memory access, the dylib manager, running code, and the
//! EH-frame / debugger registration alloc actions; plus the bootstrap
//! symbol names they are published under.
//!
//! Each service is plain Rust logic (`mod.rs`) plus SPS wrapper functions
//! over bytes (`wire.rs`), so the same logic can be bound to other
//! interfaces (upstream orc-rt's `sps_ci` names) later.

pub mod alloc_actions;
mod bootstrap;
pub mod dispatcher;
pub mod dylib_manager;
mod live;
pub mod memory_access;
pub mod memory_manager;
pub(crate) mod registrars;
pub mod run_code;
pub mod shared_memory;
pub mod types;

pub use bootstrap::{
    ExecutorServices, ServiceOptions, gdb_jit_last_entry, host_process_info,
    use_c_signal_dispositions,
};
pub use live::{LiveResources, live_resources};

use crate::addr::ExecutorAddr;
use crate::error::{Error, ErrorKind};
use crate::sps::{self, SpsDecode, SpsEncode};
use crate::wrapper::WrapperFunctionBuffer;

/// LLVM 22's bootstrap symbol names (`OrcRTBridge.h`, protocol §5).
pub mod names {
    /// Dispatch context handed back to the dispatch function.
    pub const DISPATCH_CTX: &str = "__llvm_orc_SimpleRemoteEPC_dispatch_ctx";
    /// Executor→controller call entry for JIT'd code.
    pub const DISPATCH_FN: &str = "__llvm_orc_SimpleRemoteEPC_dispatch_fn";

    /// Memory manager instance.
    pub const MEMORY_MANAGER_INSTANCE: &str = "__llvm_orc_SimpleExecutorMemoryManager_Instance";
    /// Memory manager reserve.
    pub const MEMORY_MANAGER_RESERVE: &str =
        "__llvm_orc_SimpleExecutorMemoryManager_reserve_wrapper";
    /// Memory manager initialize.
    pub const MEMORY_MANAGER_INITIALIZE: &str =
        "__llvm_orc_SimpleExecutorMemoryManager_initialize_wrapper";
    /// Memory manager deinitialize.
    pub const MEMORY_MANAGER_DEINITIALIZE: &str =
        "__llvm_orc_SimpleExecutorMemoryManager_deinitialize_wrapper";
    /// Memory manager release.
    pub const MEMORY_MANAGER_RELEASE: &str =
        "__llvm_orc_SimpleExecutorMemoryManager_release_wrapper";

    /// Dylib manager instance.
    pub const DYLIB_MANAGER_INSTANCE: &str = "__llvm_orc_SimpleExecutorDylibManager_Instance";
    /// Dylib manager open.
    pub const DYLIB_MANAGER_OPEN: &str = "__llvm_orc_SimpleExecutorDylibManager_open_wrapper";
    /// Dylib manager resolve.
    pub const DYLIB_MANAGER_RESOLVE: &str = "__llvm_orc_SimpleExecutorDylibManager_resolve_wrapper";

    /// Memory writes.
    pub const WRITE_UINT8S: &str = "__llvm_orc_bootstrap_mem_write_uint8s_wrapper";
    /// Memory writes.
    pub const WRITE_UINT16S: &str = "__llvm_orc_bootstrap_mem_write_uint16s_wrapper";
    /// Memory writes.
    pub const WRITE_UINT32S: &str = "__llvm_orc_bootstrap_mem_write_uint32s_wrapper";
    /// Memory writes.
    pub const WRITE_UINT64S: &str = "__llvm_orc_bootstrap_mem_write_uint64s_wrapper";
    /// Memory writes.
    pub const WRITE_POINTERS: &str = "__llvm_orc_bootstrap_mem_write_pointers_wrapper";
    /// Memory writes.
    pub const WRITE_BUFFERS: &str = "__llvm_orc_bootstrap_mem_write_buffers_wrapper";
    /// Memory reads.
    pub const READ_UINT8S: &str = "__llvm_orc_bootstrap_mem_read_uint8s_wrapper";
    /// Memory reads.
    pub const READ_UINT16S: &str = "__llvm_orc_bootstrap_mem_read_uint16s_wrapper";
    /// Memory reads.
    pub const READ_UINT32S: &str = "__llvm_orc_bootstrap_mem_read_uint32s_wrapper";
    /// Memory reads.
    pub const READ_UINT64S: &str = "__llvm_orc_bootstrap_mem_read_uint64s_wrapper";
    /// Memory reads.
    pub const READ_POINTERS: &str = "__llvm_orc_bootstrap_mem_read_pointers_wrapper";
    /// Memory reads.
    pub const READ_BUFFERS: &str = "__llvm_orc_bootstrap_mem_read_buffers_wrapper";
    /// Memory reads.
    pub const READ_STRINGS: &str = "__llvm_orc_bootstrap_mem_read_strings_wrapper";

    /// Run `int main(int, char **)`.
    pub const RUN_AS_MAIN: &str = "__llvm_orc_bootstrap_run_as_main_wrapper";
    /// Run `int fn(void)`.
    pub const RUN_AS_VOID: &str = "__llvm_orc_bootstrap_run_as_void_function_wrapper";
    /// Run `int fn(int)`.
    pub const RUN_AS_INT: &str = "__llvm_orc_bootstrap_run_as_int_function_wrapper";

    /// Shared-memory mapper instance.
    pub const SHARED_MEMORY_INSTANCE: &str =
        "__llvm_orc_ExecutorSharedMemoryMapperService_Instance";
    /// Shared-memory mapper reserve.
    pub const SHARED_MEMORY_RESERVE: &str = "__llvm_orc_ExecutorSharedMemoryMapperService_Reserve";
    /// Shared-memory mapper initialize.
    pub const SHARED_MEMORY_INITIALIZE: &str =
        "__llvm_orc_ExecutorSharedMemoryMapperService_Initialize";
    /// Shared-memory mapper deinitialize.
    pub const SHARED_MEMORY_DEINITIALIZE: &str =
        "__llvm_orc_ExecutorSharedMemoryMapperService_Deinitialize";
    /// Shared-memory mapper release.
    pub const SHARED_MEMORY_RELEASE: &str = "__llvm_orc_ExecutorSharedMemoryMapperService_Release";

    /// Alloc action: register an `.eh_frame` section.
    pub const REGISTER_EH_FRAME: &str = "llvm_orc_registerEHFrameAllocAction";
    /// Alloc action: deregister an `.eh_frame` section.
    pub const DEREGISTER_EH_FRAME: &str = "llvm_orc_deregisterEHFrameAllocAction";
    /// Alloc action: register a debug object with the GDB JIT interface.
    pub const REGISTER_JIT_LOADER_GDB: &str = "llvm_orc_registerJITLoaderGDBAllocAction";
}

// The services are not part of the loom-modelled session core: they use
// std's primitives directly, and recover poisoned locks (every critical
// section leaves its state consistent before anything can panic).

/// Locks `m`, recovering from poisoning.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Read-locks `l`, recovering from poisoning.
pub(crate) fn read<T>(l: &std::sync::RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

/// Write-locks `l`, recovering from poisoning.
pub(crate) fn write<T>(l: &std::sync::RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

/// The out-of-band error a wrapper returns for undecodable arguments.
pub(crate) const ARG_DECODE_ERROR: &str = "Could not deserialize wrapper function arg data";

/// The body of an SPS wrapper function: decodes the argument tuple `A`
/// (trailing bytes ignored, as LLVM 22 does), runs `f`, encodes its result.
/// Undecodable arguments give an out-of-band error.
pub(crate) fn handle<'a, A, R>(args: &'a [u8], f: impl FnOnce(A) -> R) -> WrapperFunctionBuffer
where
    A: SpsDecode<'a>,
    R: SpsEncode,
{
    match sps::from_prefix::<A>(args) {
        Ok((a, _trailing)) => match sps::to_buffer(&f(a)) {
            Ok(buf) => buf,
            Err(_) => WrapperFunctionBuffer::out_of_band_error(
                "Could not serialize wrapper function result data",
            ),
        },
        Err(e) => WrapperFunctionBuffer::out_of_band_error(&format!("{ARG_DECODE_ERROR}: {e}")),
    }
}

/// Like [`handle`] for a handler that may decline (`None`: the call needs
/// a thread of its own); undecodable arguments are answered here.
pub(crate) fn handle_quick<'a, A, R>(
    args: &'a [u8],
    f: impl FnOnce(A) -> Option<R>,
) -> Option<WrapperFunctionBuffer>
where
    A: SpsDecode<'a>,
    R: SpsEncode,
{
    match sps::from_prefix::<A>(args) {
        Ok((a, _trailing)) => f(a).map(|r| {
            sps::to_buffer(&r).unwrap_or_else(|_| {
                WrapperFunctionBuffer::out_of_band_error(
                    "Could not serialize wrapper function result data",
                )
            })
        }),
        Err(e) => Some(WrapperFunctionBuffer::out_of_band_error(&format!(
            "{ARG_DECODE_ERROR}: {e}"
        ))),
    }
}

/// Like [`handle`] for results without an error channel (`void`,
/// sequences, integers): an `Err` becomes an out-of-band error.
pub(crate) fn handle_oob<'a, A, R>(
    args: &'a [u8],
    f: impl FnOnce(A) -> Result<R, Error>,
) -> WrapperFunctionBuffer
where
    A: SpsDecode<'a>,
    R: SpsEncode,
{
    match sps::from_prefix::<A>(args) {
        Ok((a, _trailing)) => match f(a) {
            Ok(r) => sps::to_buffer(&r).unwrap_or_else(|_| {
                WrapperFunctionBuffer::out_of_band_error(
                    "Could not serialize wrapper function result data",
                )
            }),
            Err(e) => WrapperFunctionBuffer::from_error(&e),
        },
        Err(e) => WrapperFunctionBuffer::out_of_band_error(&format!("{ARG_DECODE_ERROR}: {e}")),
    }
}

/// Checks that an instance argument names `service` (its address is what we
/// published), so a stale or forged instance is an error, not a wild pointer.
pub(crate) fn check_instance<T>(got: ExecutorAddr, service: &T, what: &str) -> Result<(), Error> {
    let expected = ExecutorAddr::from_ptr(service as *const T);
    if got == expected {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "{:#x} is not the {what} instance (expected {:#x})",
                got.value(),
                expected.value()
            ),
        ))
    }
}
