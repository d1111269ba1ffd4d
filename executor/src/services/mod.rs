//! The executor services LLVM 22's controller expects (protocol 5): the
//! memory manager, memory access, the dylib manager, running code, and the
//! EH-frame / debugger registration alloc actions; plus the bootstrap
//! symbol names they are published under.
//!
//! Each service is its logic (`mod.rs`: plain Rust, no bytes) plus one
//! binding, its SPS controller interface (`sps_ci.rs`, after upstream
//! orc-rt's `*SPSCI`), which returns a [`WrapperTable`] of its wrapper
//! functions: name, handler built on the public `orc_rt::wrapper` API, and
//! the properties the transport needs (runs on the delivering thread,
//! streams its arguments). The built-in services are the worked example of
//! how a user writes a service of their own; [`ExecutorServices`] installs
//! them in a session.
//!
//! [`WrapperTable`]: orc_rt::wrapper::WrapperTable

pub mod alloc_actions;
mod bootstrap;
pub mod dylib_manager;
pub mod memory_access;
pub mod memory_manager;
pub(crate) mod registrars;
pub mod run_code;
pub mod shared_memory;
pub mod types;

pub use bootstrap::{ExecutorServices, ServiceOptions};

use orc_rt::addr::ExecutorAddr;
use orc_rt::error::{Error, ErrorKind};

/// LLVM 22's bootstrap symbol names (`OrcRTBridge.h`, protocol 5).
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
