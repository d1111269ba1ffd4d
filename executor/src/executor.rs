//! [`Executor`]: one executor process's session, services and connection
//! to the controller, as `llvm-jitlink-executor` runs them. The
//! `orc-executor` binary parses its command line into an
//! [`ExecutorBuilder`] and runs it; everything else is here.
//!
//! ```no_run
//! use orc_executor::Executor;
//! let status = Executor::builder()
//!     .connection("filedescs=3,4".parse().unwrap())
//!     .run();
//! std::process::exit(if status.is_ok() { 0 } else { 1 });
//! ```

use std::sync::{Arc, mpsc};
use std::time::Duration;

use orc_rt::addr::ExecutorAddr;
use orc_rt::controller_access::BootstrapInfo;
use orc_rt::dispatcher::ThreadPerTaskDispatcher;
use orc_rt::error::{Error, ErrorKind};
use orc_rt::resource_manager::ResourceManager;
use orc_rt::session::{Session, SessionHandle};
use orc_rt::wrapper::WrapperTable;

use crate::call::{self, entry_points};
use crate::services::{ExecutorServices, ServiceOptions, names};
use crate::sys;
use crate::transport::ConnectionSpec;
use crate::wire::{WireControllerAccess, WireOptions};

/// How long the reader polls for the next message before it blocks
/// (`ORC_RT_SPIN_US` overrides it in the binary; see `transport::FdTransport`).
pub const DEFAULT_SPIN: Duration = Duration::from_micros(100);

/// Configures an [`Executor`].
pub struct ExecutorBuilder {
    connection: Option<ConnectionSpec>,
    services: ServiceOptions,
    spin: Duration,
    result_kinds: bool,
    extra: Vec<(WrapperTable, Option<Box<dyn ResourceManager>>)>,
}

impl std::fmt::Debug for ExecutorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutorBuilder")
            .field("connection", &self.connection)
            .field("services", &self.services)
            .field("spin", &self.spin)
            .field("result_kinds", &self.result_kinds)
            .field("extra_services", &self.extra.len())
            .finish()
    }
}

/// An executor: run it to serve one controller until it leaves.
#[derive(Debug)]
pub struct Executor;

impl Executor {
    /// A builder with LLVM 22's executor's defaults: every built-in
    /// service, no connection yet.
    pub fn builder() -> ExecutorBuilder {
        ExecutorBuilder {
            connection: None,
            services: ServiceOptions::default(),
            spin: DEFAULT_SPIN,
            result_kinds: false,
            extra: Vec::new(),
        }
    }
}

impl ExecutorBuilder {
    /// Where the controller is.
    pub fn connection(mut self, spec: ConnectionSpec) -> Self {
        self.connection = Some(spec);
        self
    }

    /// What the built-in services may do.
    pub fn services(mut self, options: ServiceOptions) -> Self {
        self.services = options;
        self
    }

    /// How long the reader polls for input before blocking.
    pub fn spin(mut self, spin: Duration) -> Self {
        self.spin = spin;
        self
    }

    /// Sends out-of-band error results as LLVM main's result kind 1, so the
    /// controller sees their message (default false: LLVM 22's empty
    /// Result, which is all an LLVM 22 controller accepts; protocol 3.1).
    pub fn result_kinds(mut self, enabled: bool) -> Self {
        self.result_kinds = enabled;
        self
    }

    /// Adds a service of the user's: its wrapper functions (published under
    /// their names) and, if it holds resources, its manager.
    pub fn service(
        mut self,
        functions: WrapperTable,
        manager: Option<Box<dyn ResourceManager>>,
    ) -> Self {
        self.extra.push((functions, manager));
        self
    }

    /// Serves the controller until the connection ends, then shuts the
    /// session down (releasing everything the services hold). `Ok` for an
    /// orderly end; `Err` says why the connection failed (a transport or
    /// protocol error) or could not be opened.
    pub fn run(self) -> Result<(), Error> {
        let connection = self
            .connection
            .ok_or_else(|| Error::new(ErrorKind::InvalidArgument, "no connection spec given"))?;
        let session = Session::builder()
            .process_info(sys::host_process_info())
            // A fresh thread per call, as LLVM's executor: see
            // ThreadPerTaskDispatcher.
            .dispatcher(ThreadPerTaskDispatcher::new(sys::call_thread_spawner()))
            // The controller calls JIT'd wrapper functions (the ORC
            // runtime's) by address: LLVM 22's legacy ABI.
            .call_unregistered_with(call::call_unregistered)
            .error_reporter(|e| tracing::error!("{e}"))
            .build()?;
        let (_services, mut bootstrap) = ExecutorServices::install_with(&session, self.services)?;
        for (functions, manager) in self.extra {
            if let Some(manager) = manager {
                session.add_boxed_resource_manager(manager);
            }
            bootstrap
                .symbols
                .add_unique(session.register_table(functions).iter())?;
        }
        publish_jit_dispatch(&session, &mut bootstrap)?;
        let (ended_tx, ended_rx) = mpsc::channel();
        session.set_on_disconnect(move |result| {
            let _ = ended_tx.send(result);
        })?;

        let transport = connection
            .open(self.spin)
            .map_err(|message| Error::new(ErrorKind::Io, message))?;
        let options = WireOptions {
            // As LLVM's executor reports a result it could not send.
            on_lost_result: Some(Arc::new(|_seqno| {
                eprintln!("SimpleRemoteEPCServer FD-transport disconnected");
            })),
            // This thread only waits for the end otherwise: a reader thread
            // of its own would cost a thread and a wake-up per session. The
            // transport polls for the next call briefly before blocking, and
            // lets bulk writes stream from its descriptor into JIT memory.
            read_on_caller: true,
            result_kinds: self.result_kinds,
            ..WireOptions::default()
        };
        let wire = session.attach_with(bootstrap, |hooks| {
            Ok(WireControllerAccess::new(
                hooks,
                Arc::new(transport),
                options,
            ))
        })?;
        // Until the connection ends.
        wire.serve();

        let ended = ended_rx.recv().unwrap_or(Ok(()));
        let report = session.wait_for_shutdown()?;
        for e in &report.errors {
            tracing::error!("during shutdown: {e}");
        }
        ended
    }
}

/// Publishes the entry point JIT'd code built against LLVM's ORC runtime
/// calls the controller through (`__llvm_orc_SimpleRemoteEPC_dispatch_fn`
/// with its context): it blocks the calling thread until the answer
/// arrives. Once the session detached, calls get LLVM's "jit_dispatch not
/// available (EPC server shut down)".
pub fn publish_jit_dispatch(
    session: &SessionHandle,
    bootstrap: &mut BootstrapInfo,
) -> Result<(), Error> {
    let ctx = entry_points::DispatchContext::leak();
    let s = session.clone();
    ctx.set_target(Some(Arc::new(move |tag: ExecutorAddr, args: &[u8]| {
        s.call_controller_blocking(tag, orc_rt::WrapperFunctionBuffer::copy_from(args))
    })));
    session.add_on_detach(move || ctx.set_target(None));
    bootstrap.symbols.add_unique([
        (names::DISPATCH_CTX, ExecutorAddr::from_ptr(ctx)),
        (names::DISPATCH_FN, entry_points::jit_dispatch_addr()),
    ])
}
