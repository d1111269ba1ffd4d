//! The executor services LLVM's controllers expect (protocol 5): the
//! memory manager, memory access, the dylib manager, running code, and the
//! EH-frame / debugger registration alloc actions; plus the bootstrap
//! symbol names they are published under: LLVM 22's ([`names`]) and LLVM
//! main's controller-interface names ([`ci_names`], `orc_rt_ci_*`), side by
//! side, so one executor serves both generations.
//!
//! Each service is its logic (`mod.rs`: plain Rust, no bytes) plus one
//! binding, its SPS controller interface (`sps_ci.rs`, after upstream
//! orc-rt's `*SPSCI`), which returns [`WrapperTable`]s of its wrapper
//! functions: one under LLVM 22's names and shapes, one under LLVM main's
//! (the same logic behind both): name, handler built on the public
//! `orc_rt::wrapper` API, and the properties the transport needs (runs on
//! the delivering thread, streams its arguments). The built-in services are
//! the worked example of how a user writes a service of their own;
//! [`ExecutorServices`] installs them in a session.
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

/// LLVM main's controller-interface names (upstream orc-rt's `*SPSCI`,
/// LLVM's `Shared/SPSCI/*.h`; protocol 5.8). On Linux they are published
/// as spelled (Darwin would add a leading `_`).
pub mod ci_names {
    /// Run `int main(int, char **)`: `i64(Addr, sequence<string>)`.
    pub const CALL_MAIN: &str = "orc_rt_ci_sps_call_main";
    /// Run `void fn(void)`: `void(Addr)`.
    pub const CALL_VOID_VOID: &str = "orc_rt_ci_sps_call_void_void";
    /// Run `int32_t fn(void)`: `i32(Addr)`.
    pub const CALL_INT32_VOID: &str = "orc_rt_ci_sps_call_int32_void";
    /// Run `int32_t fn(int32_t)`: `i32(Addr, i32)`.
    pub const CALL_INT32_INT32: &str = "orc_rt_ci_sps_call_int32_int32";

    /// Memory manager (`SimpleNativeMemoryMap`) instance.
    pub const MEMORY_MAP_INSTANCE: &str = "orc_rt_ci_SimpleNativeMemoryMap_Instance";
    /// Memory manager reserve.
    pub const MEMORY_MAP_RESERVE: &str = "orc_rt_ci_sps_SimpleNativeMemoryMap_reserve";
    /// Memory manager initialize.
    pub const MEMORY_MAP_INITIALIZE: &str = "orc_rt_ci_sps_SimpleNativeMemoryMap_initialize";
    /// Memory manager deinitialize (several keys).
    pub const MEMORY_MAP_DEINITIALIZE: &str =
        "orc_rt_ci_sps_SimpleNativeMemoryMap_deinitializeMultiple";
    /// Memory manager release (several bases).
    pub const MEMORY_MAP_RELEASE: &str = "orc_rt_ci_sps_SimpleNativeMemoryMap_releaseMultiple";

    /// Dylib manager (`NativeDylibManager`) instance.
    pub const DYLIB_MANAGER_INSTANCE: &str = "orc_rt_ci_NativeDylibManager_Instance";
    /// Dylib manager load.
    pub const DYLIB_MANAGER_LOAD: &str = "orc_rt_ci_sps_NativeDylibManager_load";
    /// Dylib manager lookup.
    pub const DYLIB_MANAGER_LOOKUP: &str = "orc_rt_ci_sps_NativeDylibManager_lookup";

    /// Memory writes.
    pub const WRITE_UINT8S: &str = "orc_rt_ci_sps_mem_write_uint8s";
    /// Memory writes.
    pub const WRITE_UINT16S: &str = "orc_rt_ci_sps_mem_write_uint16s";
    /// Memory writes.
    pub const WRITE_UINT32S: &str = "orc_rt_ci_sps_mem_write_uint32s";
    /// Memory writes.
    pub const WRITE_UINT64S: &str = "orc_rt_ci_sps_mem_write_uint64s";
    /// Memory writes.
    pub const WRITE_POINTERS: &str = "orc_rt_ci_sps_mem_write_pointers";
    /// Memory writes.
    pub const WRITE_BUFFERS: &str = "orc_rt_ci_sps_mem_write_buffers";
    /// Memory reads.
    pub const READ_UINT8S: &str = "orc_rt_ci_sps_mem_read_uint8s";
    /// Memory reads.
    pub const READ_UINT16S: &str = "orc_rt_ci_sps_mem_read_uint16s";
    /// Memory reads.
    pub const READ_UINT32S: &str = "orc_rt_ci_sps_mem_read_uint32s";
    /// Memory reads.
    pub const READ_UINT64S: &str = "orc_rt_ci_sps_mem_read_uint64s";
    /// Memory reads.
    pub const READ_POINTERS: &str = "orc_rt_ci_sps_mem_read_pointers";
    /// Memory reads.
    pub const READ_BUFFERS: &str = "orc_rt_ci_sps_mem_read_buffers";
    /// Memory reads.
    pub const READ_STRINGS: &str = "orc_rt_ci_sps_mem_read_strings";

    /// Alloc action (orc-rt ABI): register a debug object with the GDB JIT
    /// interface, `(ExecutorAddrRange)`.
    pub const GDB_REGISTER: &str = "orc_rt_ci_aa_sps_GDBJITRegistrar_register";
    /// Alloc action (orc-rt ABI): deregister a debug object.
    pub const GDB_DEREGISTER: &str = "orc_rt_ci_aa_sps_GDBJITRegistrar_deregister";
    /// Alloc action (orc-rt ABI): register an `.eh_frame` section.
    pub const EH_FRAME_REGISTER: &str = "orc_rt_ci_aa_sps_DWARFEHFrameRegistrar_registerSection";
    /// Alloc action (orc-rt ABI): deregister an `.eh_frame` section.
    pub const EH_FRAME_DEREGISTER: &str =
        "orc_rt_ci_aa_sps_DWARFEHFrameRegistrar_deregisterSection";

    /// Every name LLVM main's controller looks up before it can link
    /// anything (its run-as-main at Setup, the memory manager, dylib
    /// manager and memory access services; a missing one fails it).
    pub const REQUIRED: &[&str] = &[
        CALL_MAIN,
        MEMORY_MAP_INSTANCE,
        MEMORY_MAP_RESERVE,
        MEMORY_MAP_INITIALIZE,
        MEMORY_MAP_DEINITIALIZE,
        MEMORY_MAP_RELEASE,
        DYLIB_MANAGER_INSTANCE,
        DYLIB_MANAGER_LOAD,
        DYLIB_MANAGER_LOOKUP,
        WRITE_UINT8S,
        WRITE_UINT16S,
        WRITE_UINT32S,
        WRITE_UINT64S,
        WRITE_POINTERS,
        WRITE_BUFFERS,
        READ_UINT8S,
        READ_UINT16S,
        READ_UINT32S,
        READ_UINT64S,
        READ_POINTERS,
        READ_BUFFERS,
        READ_STRINGS,
    ];
}

/// Checks that an instance argument is `expected`, the address we published
/// for the service, so a stale or forged instance is an error, not a wild
/// pointer.
pub(crate) fn check_instance(
    got: ExecutorAddr,
    expected: ExecutorAddr,
    what: &str,
) -> Result<(), Error> {
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
