//! The executor services of `llvm-jitlink-executor`, installed in a
//! session: each service is a resource manager the session owns, and its
//! binding's wrapper functions are registered with the session and
//! published under their bootstrap names: LLVM 22's and LLVM main's
//! `orc_rt_ci_*` ones, side by side (each generation's controller looks up
//! only its own), with one service instance behind both.

use std::sync::Arc;

use orc_rt::addr::ExecutorAddr;
use orc_rt::controller_access::BootstrapInfo;
use orc_rt::error::Error;
use orc_rt::resource_manager::{OnComplete, ResourceManager};
use orc_rt::session::SessionHandle;
use orc_rt::wrapper::WrapperTable;

use super::alloc_actions::ActionCaller;
use super::dylib_manager::{self, DylibManager};
use super::memory_access::{self, MemoryAccess};
use super::memory_manager::{self, MemoryManager};
use super::shared_memory::{self, SharedMemoryMapper};
use super::{ci_names, names, run_code};
use crate::call::entry_points;

/// The installed services, for inspection (tests count their resources).
#[derive(Debug, Clone)]
pub struct ExecutorServices {
    /// The memory manager (reservations for JIT'd code).
    pub memory_manager: Arc<MemoryManager>,
    /// Memory reads and writes for the controller.
    pub memory_access: Arc<MemoryAccess>,
    /// Libraries opened for the controller.
    pub dylib_manager: Arc<DylibManager>,
    /// Shared-memory reservations (`-use-memmgr=shared`).
    pub shared_memory: Arc<SharedMemoryMapper>,
}

/// How much the installed services may do beyond managing memory. The
/// defaults are LLVM 22's executor: everything. Fuzzing and tests that feed
/// untrusted requests turn off what would run arbitrary code.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// How alloc actions are called (default: the legacy wrapper ABI at the
    /// action's address).
    pub actions: ActionCaller,
    /// Whether `run_as_main`/`run_as_void`/`run_as_int` run code (default
    /// true); when false they answer with an out-of-band error.
    pub run_code: bool,
    /// Whether the dylib manager opens libraries by name (default true);
    /// when false only the process itself (empty path) can be opened.
    pub open_libraries: bool,
    /// The largest reservation the memory manager grants (default: no
    /// limit beyond the OS's).
    pub max_reservation: u64,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            actions: ActionCaller::legacy(),
            run_code: true,
            open_libraries: true,
            max_reservation: u64::MAX,
        }
    }
}

/// A service's shutdown as a resource manager: JIT'd code may still run in
/// its memory after detach, so only shutdown releases anything.
struct ShutdownOnly<F> {
    name: &'static str,
    shutdown: F,
}

impl<F: FnMut() -> Result<(), Error> + Send + 'static> ResourceManager for ShutdownOnly<F> {
    fn name(&self) -> &str {
        self.name
    }
    fn detach(&mut self, done: OnComplete, _shutdown_requested: bool) {
        done.ok();
    }
    fn shutdown(&mut self, done: OnComplete) {
        done.complete((self.shutdown)());
    }
}

impl ExecutorServices {
    /// Creates the services, adds them to `session` as resource managers
    /// (the dylib manager first, so it shuts down last, after the memory
    /// that may refer to its libraries), registers their wrapper functions,
    /// and returns the bootstrap symbols to announce.
    pub fn install(session: &SessionHandle) -> Result<(ExecutorServices, BootstrapInfo), Error> {
        ExecutorServices::install_with(session, ServiceOptions::default())
    }

    /// [`install`](Self::install) with explicit [`ServiceOptions`].
    pub fn install_with(
        session: &SessionHandle,
        options: ServiceOptions,
    ) -> Result<(ExecutorServices, BootstrapInfo), Error> {
        let dylib_manager = Arc::new(DylibManager::new()?);
        dylib_manager.set_open_libraries(options.open_libraries);
        let dm = dylib_manager.clone();
        session.add_resource_manager(ShutdownOnly {
            name: "dylib manager",
            shutdown: move || {
                dm.close_all();
                Ok(())
            },
        });
        let memory_manager = Arc::new(
            MemoryManager::new(options.actions.clone())
                .with_max_reservation(options.max_reservation),
        );
        let mm = memory_manager.clone();
        session.add_resource_manager(ShutdownOnly {
            name: "memory manager",
            shutdown: move || mm.release_all(),
        });
        let shared_memory = Arc::new(
            SharedMemoryMapper::new(options.actions.clone())
                .with_max_reservation(options.max_reservation),
        );
        let sm = shared_memory.clone();
        session.add_resource_manager(ShutdownOnly {
            name: "shared memory mapper",
            shutdown: move || sm.release_all(),
        });
        let memory_access = Arc::new(
            MemoryAccess::new(vec![memory_manager.clone()])
                .with_shared_memory(shared_memory.clone()),
        );

        let mut table = WrapperTable::new();
        table
            .extend(memory_manager::sps_ci::wrapper_functions(&memory_manager))
            .extend(shared_memory::sps_ci::wrapper_functions(&shared_memory))
            .extend(dylib_manager::sps_ci::wrapper_functions(&dylib_manager))
            .extend(memory_access::sps_ci::wrapper_functions(&memory_access))
            .extend(run_code::wrapper_functions(options.run_code))
            // LLVM main's names for the same services (protocol 5.8).
            .extend(memory_manager::sps_ci::ci_wrapper_functions(
                &memory_manager,
            ))
            .extend(dylib_manager::sps_ci::ci_wrapper_functions(&dylib_manager))
            .extend(memory_access::sps_ci::ci_wrapper_functions(&memory_access))
            .extend(run_code::ci_wrapper_functions(options.run_code));
        let mut bootstrap = BootstrapInfo::new();
        bootstrap.symbols = session.register_table(table);
        bootstrap.symbols.add_unique([
            (
                names::MEMORY_MANAGER_INSTANCE,
                ExecutorAddr::from_ptr(Arc::as_ptr(&memory_manager)),
            ),
            (
                names::DYLIB_MANAGER_INSTANCE,
                ExecutorAddr::from_ptr(Arc::as_ptr(&dylib_manager)),
            ),
            (
                names::SHARED_MEMORY_INSTANCE,
                ExecutorAddr::from_ptr(Arc::as_ptr(&shared_memory)),
            ),
            // Allocation-action functions: C entry points, called by address.
            (
                names::REGISTER_EH_FRAME,
                entry_points::addr_of(entry_points::register_eh_frame),
            ),
            (
                names::DEREGISTER_EH_FRAME,
                entry_points::addr_of(entry_points::deregister_eh_frame),
            ),
            (
                names::REGISTER_JIT_LOADER_GDB,
                entry_points::addr_of(entry_points::register_jit_loader_gdb),
            ),
            // LLVM main's names for the same instances.
            (
                ci_names::MEMORY_MAP_INSTANCE,
                ExecutorAddr::from_ptr(Arc::as_ptr(&memory_manager)),
            ),
            (
                ci_names::DYLIB_MANAGER_INSTANCE,
                ExecutorAddr::from_ptr(Arc::as_ptr(&dylib_manager)),
            ),
            // Upstream orc-rt's alloc actions (empty result on success).
            (
                ci_names::GDB_REGISTER,
                entry_points::addr_of(entry_points::ci_register_gdb),
            ),
            (
                ci_names::GDB_DEREGISTER,
                entry_points::addr_of(entry_points::ci_deregister_gdb),
            ),
            (
                ci_names::EH_FRAME_REGISTER,
                entry_points::addr_of(entry_points::ci_register_eh_frame),
            ),
            (
                ci_names::EH_FRAME_DEREGISTER,
                entry_points::addr_of(entry_points::ci_deregister_eh_frame),
            ),
        ])?;
        Ok((
            ExecutorServices {
                memory_manager,
                memory_access,
                dylib_manager,
                shared_memory,
            },
            bootstrap,
        ))
    }
}
