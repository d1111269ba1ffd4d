//! The executor services of `llvm-jitlink-executor`, installed in a
//! session: each service is a resource manager the session owns, and its
//! binding's wrapper functions are registered with the session and
//! published under their bootstrap names: LLVM 22's and LLVM main's
//! `orc_rt_ci_*` ones, side by side (each generation's controller looks up
//! only its own), with one service instance behind both. Every service
//! runs on the [`Os`] backend of the options: the real process by default,
//! a [`SimulatedOs`](crate::os::SimulatedOs) in a simulation.

use std::sync::Arc;

use orc_rt::addr::ExecutorAddr;
use orc_rt::controller_access::{BootstrapInfo, SymbolTable};
use orc_rt::error::Error;
use orc_rt::resource_manager::{OnComplete, ResourceManager};
use orc_rt::session::SessionHandle;
use orc_rt::wrapper::{WrapperFunctionBuffer, WrapperTable};

use super::alloc_actions::ActionCaller;
use super::dylib_manager::{self, DylibManager};
use super::memory_access::{self, MemoryAccess};
use super::memory_manager::{self, MemoryManager};
use super::shared_memory::{self, SharedMemoryMapper};
use super::{ci_names, names, registrars, run_code};
use crate::call::{LegacyWrapperFn, entry_points};
use crate::os::{Os, RealOs};

/// The installed services, for inspection (tests count their resources).
#[derive(Debug, Clone)]
pub struct ExecutorServices<O: Os = RealOs> {
    /// The memory manager (reservations for JIT'd code).
    pub memory_manager: Arc<MemoryManager<O>>,
    /// Memory reads and writes for the controller.
    pub memory_access: Arc<MemoryAccess<O>>,
    /// Libraries opened for the controller.
    pub dylib_manager: Arc<DylibManager<O>>,
    /// Shared-memory reservations (`-use-memmgr=shared`).
    pub shared_memory: Arc<SharedMemoryMapper<O>>,
}

/// What the installed services run on and how much they may do beyond
/// managing memory. The defaults are LLVM 22's executor: the real OS,
/// everything allowed. Fuzzing and tests that feed untrusted requests turn
/// off what would run arbitrary code; a simulation starts from
/// [`new_in`](Self::new_in) with its [`SimulatedOs`](crate::os::SimulatedOs).
#[derive(Debug, Clone)]
pub struct ServiceOptions<O: Os = RealOs> {
    /// The OS backend every service uses (default: [`RealOs`]).
    pub os: O,
    /// How alloc actions are called (default: the legacy wrapper ABI at the
    /// action's address, through [`os`](Self::os)).
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
            // The same calls as `through(RealOs)`, without the indirection.
            actions: ActionCaller::legacy(),
            ..ServiceOptions::new_in(RealOs)
        }
    }
}

impl<O: Os> ServiceOptions<O> {
    /// The defaults on the backend `os`: alloc actions are called through
    /// it ([`ActionCaller::through`]); everything else as
    /// [`ServiceOptions::default`].
    pub fn new_in(os: O) -> Self {
        ServiceOptions {
            actions: ActionCaller::through(os.clone()),
            os,
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

/// Registers every entry of `table` with `session`, at addresses `os`
/// chooses (or, as `SessionHandle::register_table`, where each
/// registration lives), and returns their names and addresses.
fn register_table<O: Os>(
    session: &SessionHandle,
    os: &O,
    table: WrapperTable,
) -> Result<SymbolTable, Error> {
    let mut published = Vec::new();
    for (name, entry) in table.into_entries() {
        let addr = match os.published_address() {
            Some(addr) => {
                session.register_at(addr, entry)?;
                addr
            }
            None => session.register(entry),
        };
        published.push((name, addr));
    }
    // One batch: the duplicate check builds its index once.
    let mut symbols = SymbolTable::new();
    symbols.add_unique(published)?;
    Ok(symbols)
}

/// The address of an alloc-action registrar: a function `os` hosts, or
/// else our C entry point for it.
fn registrar<O: Os>(
    os: &O,
    function: fn(&O, &[u8]) -> WrapperFunctionBuffer,
    entry_point: LegacyWrapperFn,
) -> ExecutorAddr {
    os.define_wrapper(function)
        .unwrap_or_else(|| entry_points::addr_of(entry_point))
}

impl ExecutorServices {
    /// Creates the services on the real OS, adds them to `session` as
    /// resource managers (the dylib manager first, so it shuts down last,
    /// after the memory that may refer to its libraries), registers their
    /// wrapper functions, and returns the bootstrap symbols to announce.
    pub fn install(session: &SessionHandle) -> Result<(ExecutorServices, BootstrapInfo), Error> {
        ExecutorServices::install_with(session, ServiceOptions::default())
    }
}

impl<O: Os> ExecutorServices<O> {
    /// [`install`](ExecutorServices::install) with explicit
    /// [`ServiceOptions`], on their backend.
    pub fn install_with(
        session: &SessionHandle,
        options: ServiceOptions<O>,
    ) -> Result<(ExecutorServices<O>, BootstrapInfo), Error> {
        let os = options.os;
        let dylib_manager = Arc::new(DylibManager::new_in(os.clone())?);
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
            MemoryManager::new_in(os.clone(), options.actions.clone())
                .with_max_reservation(options.max_reservation),
        );
        let mm = memory_manager.clone();
        session.add_resource_manager(ShutdownOnly {
            name: "memory manager",
            shutdown: move || mm.release_all(),
        });
        let shared_memory = Arc::new(
            SharedMemoryMapper::new_in(os.clone(), options.actions.clone())
                .with_max_reservation(options.max_reservation),
        );
        let sm = shared_memory.clone();
        session.add_resource_manager(ShutdownOnly {
            name: "shared memory mapper",
            shutdown: move || sm.release_all(),
        });
        let memory_access = Arc::new(
            MemoryAccess::new_in(os.clone(), vec![memory_manager.clone()])
                .with_shared_memory(shared_memory.clone()),
        );

        let mut table = WrapperTable::new();
        table
            .extend(memory_manager::sps_ci::wrapper_functions(&memory_manager))
            .extend(shared_memory::sps_ci::wrapper_functions(&shared_memory))
            .extend(dylib_manager::sps_ci::wrapper_functions(&dylib_manager))
            .extend(memory_access::sps_ci::wrapper_functions(&memory_access))
            .extend(run_code::wrapper_functions(&os, options.run_code))
            // LLVM main's names for the same services (protocol 5.8).
            .extend(memory_manager::sps_ci::ci_wrapper_functions(
                &memory_manager,
            ))
            .extend(dylib_manager::sps_ci::ci_wrapper_functions(&dylib_manager))
            .extend(memory_access::sps_ci::ci_wrapper_functions(&memory_access))
            .extend(run_code::ci_wrapper_functions(&os, options.run_code));
        let mut bootstrap = BootstrapInfo::new();
        bootstrap.symbols = register_table(session, &os, table)?;
        bootstrap.symbols.add_unique([
            (names::MEMORY_MANAGER_INSTANCE, memory_manager.instance()),
            (names::DYLIB_MANAGER_INSTANCE, dylib_manager.instance()),
            (names::SHARED_MEMORY_INSTANCE, shared_memory.instance()),
            // Allocation-action functions, called by address: C entry
            // points, or functions the backend hosts.
            (
                names::REGISTER_EH_FRAME,
                registrar(
                    &os,
                    registrars::register_eh_frame,
                    entry_points::register_eh_frame,
                ),
            ),
            (
                names::DEREGISTER_EH_FRAME,
                registrar(
                    &os,
                    registrars::deregister_eh_frame,
                    entry_points::deregister_eh_frame,
                ),
            ),
            (
                names::REGISTER_JIT_LOADER_GDB,
                registrar(
                    &os,
                    registrars::register_jit_loader_gdb,
                    entry_points::register_jit_loader_gdb,
                ),
            ),
            // LLVM main's names for the same instances.
            (ci_names::MEMORY_MAP_INSTANCE, memory_manager.instance()),
            (ci_names::DYLIB_MANAGER_INSTANCE, dylib_manager.instance()),
            // Upstream orc-rt's alloc actions (empty result on success).
            (
                ci_names::GDB_REGISTER,
                registrar(
                    &os,
                    registrars::ci_register_gdb,
                    entry_points::ci_register_gdb,
                ),
            ),
            (
                ci_names::GDB_DEREGISTER,
                registrar(
                    &os,
                    registrars::ci_deregister_gdb,
                    entry_points::ci_deregister_gdb,
                ),
            ),
            (
                ci_names::EH_FRAME_REGISTER,
                registrar(
                    &os,
                    registrars::ci_register_eh_frame,
                    entry_points::ci_register_eh_frame,
                ),
            ),
            (
                ci_names::EH_FRAME_DEREGISTER,
                registrar(
                    &os,
                    registrars::ci_deregister_eh_frame,
                    entry_points::ci_deregister_eh_frame,
                ),
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
