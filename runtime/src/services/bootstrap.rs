//! The executor services of LLVM 22's `llvm-jitlink-executor`, installed in
//! a session: each service is a resource manager the session owns, and
//! each of its wrapper functions is registered with the session (so the
//! session calls it with the asynchronous ABI) and published under LLVM
//! 22's bootstrap symbol name.

use std::sync::Arc;

use crate::addr::ExecutorAddr;
use crate::call::entry_points;
use crate::controller_access::BootstrapInfo;
use crate::error::Error;
use crate::resource_manager::{OnComplete, ResourceManager};
use crate::session::{ProcessInfo, SessionHandle};
use crate::wire::StreamedCall;
use crate::wrapper::WrapperFunctionBuffer;

use super::alloc_actions::ActionCaller;
use super::dylib_manager::{self, DylibManager};
use super::memory_access::{self, MemoryAccess};
use super::memory_manager::{self, MemoryManager};
use super::shared_memory::{self, SharedMemoryMapper};
use super::{dispatcher, names, run_code};

/// The process facts an LLVM 22 controller expects: the process triple as
/// LLVM spells it and the page size.
pub fn host_process_info() -> ProcessInfo {
    ProcessInfo::new(
        crate::sys::process_triple(),
        crate::sys::page_size() as usize,
    )
}

/// Gives the process the signal dispositions of a C program, which JIT'd
/// programs expect (Rust's runtime ignores SIGPIPE and handles SIGSEGV and
/// SIGBUS; LLVM's executor, a C++ program, does neither): a program writing
/// to a closed pipe dies of SIGPIPE, one raising SIGSEGV or overflowing its
/// stack dies of SIGSEGV. The runtime's own writes to the controller stay
/// safe (they block SIGPIPE). Call it early in an executor's `main`.
pub fn use_c_signal_dispositions() {
    crate::sys::signals::restore_default_sigpipe();
    crate::sys::signals::restore_default_fault_signals();
}

/// The last entry of the GDB JIT interface's list of debug objects (null
/// if none): what `llvm-jitlink-executor test-jitloadergdb` reports.
pub fn gdb_jit_last_entry() -> ExecutorAddr {
    crate::sys::gdb_jit::last_entry()
}

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
    /// The wrapper functions that never block and never run JIT'd code, so
    /// a transport may run them on its reader thread (see
    /// `dispatcher::with_inline_dispatch`): memory reads and writes, symbol
    /// lookup, reserve.
    pub inline_safe: Vec<ExecutorAddr>,
    /// The wrapper functions whose large payloads a transport may stream
    /// (`WireOptions::streamed_calls`): bulk memory writes.
    pub streamed_calls: Vec<(ExecutorAddr, Arc<dyn StreamedCall>)>,
}

struct MemoryManagerRm(Arc<MemoryManager>);

impl ResourceManager for MemoryManagerRm {
    fn name(&self) -> &str {
        "memory manager"
    }
    fn detach(&mut self, done: OnComplete, _shutdown_requested: bool) {
        // JIT'd code may still run in our memory: keep everything.
        done.ok();
    }
    fn shutdown(&mut self, done: OnComplete) {
        done.complete(self.0.release_all());
    }
}

struct SharedMemoryRm(Arc<SharedMemoryMapper>);

impl ResourceManager for SharedMemoryRm {
    fn name(&self) -> &str {
        "shared memory mapper"
    }
    fn detach(&mut self, done: OnComplete, _shutdown_requested: bool) {
        done.ok();
    }
    fn shutdown(&mut self, done: OnComplete) {
        done.complete(self.0.release_all());
    }
}

struct DylibManagerRm(Arc<DylibManager>);

impl ResourceManager for DylibManagerRm {
    fn name(&self) -> &str {
        "dylib manager"
    }
    fn detach(&mut self, done: OnComplete, _shutdown_requested: bool) {
        done.ok();
    }
    fn shutdown(&mut self, done: OnComplete) {
        self.0.close_all();
        done.ok();
    }
}

type Handler = Box<dyn Fn(&[u8]) -> WrapperFunctionBuffer + Send + Sync>;
type QuickHandler = Box<dyn Fn(&[u8]) -> Option<WrapperFunctionBuffer> + Send + Sync>;

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

fn refuse(what: &'static str) -> Handler {
    Box::new(move |_| {
        WrapperFunctionBuffer::out_of_band_error(&format!("{what} is disabled in this executor"))
    })
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
        session.add_resource_manager(DylibManagerRm(dylib_manager.clone()));
        let memory_manager = Arc::new(
            MemoryManager::new(options.actions.clone())
                .with_max_reservation(options.max_reservation),
        );
        session.add_resource_manager(MemoryManagerRm(memory_manager.clone()));
        let shared_memory = Arc::new(
            SharedMemoryMapper::new(options.actions.clone())
                .with_max_reservation(options.max_reservation),
        );
        session.add_resource_manager(SharedMemoryRm(shared_memory.clone()));
        let memory_access = Arc::new(
            MemoryAccess::new(vec![memory_manager.clone()])
                .with_shared_memory(shared_memory.clone()),
        );

        let mut symbols: Vec<(&'static str, ExecutorAddr)> = vec![
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
        ];

        let mm = |f: fn(&MemoryManager, &[u8]) -> WrapperFunctionBuffer| -> Handler {
            let svc = memory_manager.clone();
            Box::new(move |args| f(&svc, args))
        };
        let ma = |f: fn(&MemoryAccess, &[u8]) -> WrapperFunctionBuffer| -> Handler {
            let svc = memory_access.clone();
            Box::new(move |args| f(&svc, args))
        };
        let sm = |f: fn(&SharedMemoryMapper, &[u8]) -> WrapperFunctionBuffer| -> Handler {
            let svc = shared_memory.clone();
            Box::new(move |args| f(&svc, args))
        };
        let dm = |f: fn(&DylibManager, &[u8]) -> WrapperFunctionBuffer| -> Handler {
            let svc = dylib_manager.clone();
            Box::new(move |args| f(&svc, args))
        };
        let run = |f: fn(&[u8]) -> WrapperFunctionBuffer| -> Handler {
            if options.run_code {
                Box::new(f)
            } else {
                refuse("running code")
            }
        };
        let handlers: Vec<(&'static str, Handler)> = vec![
            (
                names::MEMORY_MANAGER_RESERVE,
                mm(memory_manager::wire::reserve),
            ),
            (
                names::MEMORY_MANAGER_INITIALIZE,
                mm(memory_manager::wire::initialize),
            ),
            (
                names::MEMORY_MANAGER_DEINITIALIZE,
                mm(memory_manager::wire::deinitialize),
            ),
            (
                names::MEMORY_MANAGER_RELEASE,
                mm(memory_manager::wire::release),
            ),
            (
                names::SHARED_MEMORY_RESERVE,
                sm(shared_memory::wire::reserve),
            ),
            (
                names::SHARED_MEMORY_INITIALIZE,
                sm(shared_memory::wire::initialize),
            ),
            (
                names::SHARED_MEMORY_DEINITIALIZE,
                sm(shared_memory::wire::deinitialize),
            ),
            (
                names::SHARED_MEMORY_RELEASE,
                sm(shared_memory::wire::release),
            ),
            (names::DYLIB_MANAGER_OPEN, dm(dylib_manager::wire::open)),
            (
                names::DYLIB_MANAGER_RESOLVE,
                dm(dylib_manager::wire::resolve),
            ),
            (names::WRITE_UINT8S, ma(memory_access::wire::write_uint8s)),
            (names::WRITE_UINT16S, ma(memory_access::wire::write_uint16s)),
            (names::WRITE_UINT32S, ma(memory_access::wire::write_uint32s)),
            (names::WRITE_UINT64S, ma(memory_access::wire::write_uint64s)),
            (
                names::WRITE_POINTERS,
                ma(memory_access::wire::write_pointers),
            ),
            (names::WRITE_BUFFERS, ma(memory_access::wire::write_buffers)),
            (names::READ_UINT8S, ma(memory_access::wire::read_uint8s)),
            (names::READ_UINT16S, ma(memory_access::wire::read_uint16s)),
            (names::READ_UINT32S, ma(memory_access::wire::read_uint32s)),
            (names::READ_UINT64S, ma(memory_access::wire::read_uint64s)),
            (names::READ_POINTERS, ma(memory_access::wire::read_pointers)),
            (names::READ_BUFFERS, ma(memory_access::wire::read_buffers)),
            (names::READ_STRINGS, ma(memory_access::wire::read_strings)),
            (names::RUN_AS_MAIN, run(run_code::run_as_main)),
            (names::RUN_AS_VOID, run(run_code::run_as_void)),
            (names::RUN_AS_INT, run(run_code::run_as_int)),
        ];
        // Initialize, deinitialize and release run alloc actions, which may
        // be JIT'd code: their quick forms answer the requests that have
        // none (on the reader thread, when run inline), and decline the
        // others, which then get a call thread of their own.
        let mmq = |f: fn(&MemoryManager, &[u8]) -> Option<WrapperFunctionBuffer>| -> QuickHandler {
            let svc = memory_manager.clone();
            Box::new(move |args| f(&svc, args))
        };
        let mut quick: Vec<(&'static str, QuickHandler)> = vec![
            (
                names::MEMORY_MANAGER_INITIALIZE,
                mmq(memory_manager::wire::initialize_quick),
            ),
            (
                names::MEMORY_MANAGER_DEINITIALIZE,
                mmq(memory_manager::wire::deinitialize_quick),
            ),
            (
                names::MEMORY_MANAGER_RELEASE,
                mmq(memory_manager::wire::release_quick),
            ),
        ];
        // Quick, never blocking, never running JIT'd code (open runs library
        // constructors; run_* run programs), or with a quick form above.
        const INLINE_SAFE: &[&str] = &[
            names::MEMORY_MANAGER_RESERVE,
            names::MEMORY_MANAGER_INITIALIZE,
            names::MEMORY_MANAGER_DEINITIALIZE,
            names::MEMORY_MANAGER_RELEASE,
            names::DYLIB_MANAGER_RESOLVE,
            names::WRITE_UINT8S,
            names::WRITE_UINT16S,
            names::WRITE_UINT32S,
            names::WRITE_UINT64S,
            names::WRITE_POINTERS,
            names::WRITE_BUFFERS,
            names::READ_UINT8S,
            names::READ_UINT16S,
            names::READ_UINT32S,
            names::READ_UINT64S,
            names::READ_POINTERS,
            names::READ_BUFFERS,
            names::READ_STRINGS,
        ];
        let mut inline_safe = Vec::new();
        for (name, handler) in handlers {
            let addr = match quick.iter().position(|(n, _)| *n == name) {
                Some(i) => {
                    let (_, quick) = quick.swap_remove(i);
                    let handler: Arc<Handler> = Arc::new(handler);
                    let session = session.clone();
                    session.clone().register_wrapper(move |args, ret| {
                        if !dispatcher::running_inline() {
                            return ret.send(handler(args.bytes()));
                        }
                        match quick(args.bytes()) {
                            Some(result) => ret.send(result),
                            None => {
                                // Runs JIT'd code: on a thread of its own (a
                                // dispatch from an inline task starts one).
                                // Refused only once shutdown began: then
                                // dropping `ret` answers with an error.
                                let handler = handler.clone();
                                let _ = session.dispatch(move || ret.send(handler(args.bytes())));
                            }
                        }
                    })
                }
                None => session.register_wrapper(move |args, ret| ret.send(handler(args.bytes()))),
            };
            symbols.push((name, addr));
            if INLINE_SAFE.contains(&name) {
                inline_safe.push(addr);
            }
        }

        let streamed_calls: Vec<(ExecutorAddr, Arc<dyn StreamedCall>)> = symbols
            .iter()
            .filter(|(name, _)| *name == names::WRITE_BUFFERS)
            .map(|&(_, addr)| {
                let call = memory_access::wire::StreamedWriteBuffers(memory_access.clone());
                (addr, Arc::new(call) as Arc<dyn StreamedCall>)
            })
            .collect();
        let mut bootstrap = BootstrapInfo::new();
        bootstrap.symbols.add_unique(symbols)?;
        Ok((
            ExecutorServices {
                memory_manager,
                memory_access,
                dylib_manager,
                shared_memory,
                inline_safe,
                streamed_calls,
            },
            bootstrap,
        ))
    }
}
