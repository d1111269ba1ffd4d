//! Your own executor services under the scheduler: a builder that takes a
//! scenario script and what your crate provides (resource managers,
//! wrapper functions in Rust, SPS-typed or C, controller-side handlers),
//! and runs it like `orc-sim replay` runs the repository's scenarios: the
//! real session, the real SimpleRemoteEPC access over the simulated pipe,
//! faults, the lifecycle checker.
//!
//! A script calls a wrapper function you provide by the name you give it
//! (`call c1 kv_put (str "k", u64 7)`), exactly as an LLVM controller
//! calls a bootstrap symbol; your code calls a handler you provide (or one
//! the script declares) through [`ServiceContext::controller_tag`]. The
//! managers you add through [`ServiceContext::add_resource_manager`] are
//! logged as `rm NAME: ...` and checked by [`lifecycle`](crate::lifecycle)
//! with the script's own; [`ServiceContext::log`] lets your code write its
//! own events (`kv: stored "k"`) for the script's `expect` and `await`.
//!
//! Your managers are added before the script's `manager` lines, so the
//! session (newest first) detaches and shuts down the script's managers
//! before yours. A swarm run (`RunConfig::swarm`) drops, delays and splits
//! messages at random, so a script's expectations about results may fail
//! there by design: judge swarm runs by [`RunOutcome::violations`] (the
//! runtime's rules), as `orc-sim replay --swarm` is meant to be read.
//!
//! ```
//! use orc_rt::wrapper::{WrapperEntry, WrapperFunction};
//! use orc_sim::simulation::Simulation;
//!
//! let sim = Simulation::builder()
//!     .script(
//!         "double.scn",
//!         r#"
//! ## rule: example: a provided wrapper function answers through the real stack
//! ---
//! attach
//! call c1 double u64 21
//! await c1 done
//! expect c1 ok u64 42
//! "#,
//!     )
//!     .service(&["double"], |ctx| {
//!         ctx.register(
//!             "double",
//!             WrapperEntry::from_fn(|args| WrapperFunction::handle_sps(args, |x: u64| x * 2)),
//!         )
//!     })
//!     .build()
//!     .unwrap();
//! let outcome = sim.run(3);
//! assert!(outcome.passed(), "{}", outcome.render());
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use orc_rt::error::{Error, ErrorKind};
use orc_rt::session::ProcessInfo;
use orc_rt::wrapper::WrapperEntry;
use orc_rt::{ExecutorAddr, OnComplete, ResourceManager, SessionHandle};

use crate::lifecycle::{ManagerId, Phase};
use crate::scenario::{ParseError, QueuePolicy, Scenario, parse_with};
use crate::shrink::{Engine, ShrinkOptions, Shrunk, shrink_with};
use crate::sim::{Provided, RunConfig, RunOutcome, World};

pub use crate::sim::controller::HandlerFn;

/// Sets up a service in a run's session: registers its wrapper functions,
/// adds its managers.
pub type SetupFn = dyn Fn(&mut ServiceContext<'_>) -> Result<(), Error> + Send + Sync;

/// Where provided wrapper functions are registered: fake addresses, never
/// run as code, so transcripts and runs do not depend on the heap.
pub const PROVIDED_BASE: u64 = 0x4000_0000;

/// A service: the names of its wrapper functions and how to set it up.
struct Service {
    names: Vec<String>,
    setup: Arc<SetupFn>,
}

/// Every wrapper-function name of `services`, in registration order.
fn wrapper_names(services: &[Service]) -> Vec<String> {
    services
        .iter()
        .flat_map(|s| s.names.iter().cloned())
        .collect()
}

/// Sets every service up in `w`'s session; returns the bootstrap symbols
/// they publish.
fn install(
    services: &[Service],
    w: &Arc<World>,
    session: &SessionHandle,
) -> Result<Vec<(String, ExecutorAddr)>, Error> {
    let mut symbols = Vec::new();
    for s in services {
        let mut ctx = ServiceContext {
            w,
            session,
            names: &s.names,
            symbols: &mut symbols,
        };
        (s.setup)(&mut ctx)?;
    }
    Ok(symbols)
}

/// What a service's setup gets: the run's session, and the ways to put
/// its parts in.
pub struct ServiceContext<'a> {
    w: &'a Arc<World>,
    session: &'a SessionHandle,
    names: &'a [String],
    symbols: &'a mut Vec<(String, ExecutorAddr)>,
}

impl ServiceContext<'_> {
    /// The run's session.
    pub fn session(&self) -> &SessionHandle {
        self.session
    }

    /// The run's OS: the backend the built-in services use in this run
    /// (deterministic, placed by the seed, shared with no other run). A
    /// service built on `orc_executor::os::Os` takes it to be simulated
    /// the same way; a service may also define functions or libraries in
    /// it for the controller to find.
    pub fn os(&self) -> &orc_executor::os::SimulatedOs {
        &self.w.os
    }

    /// Registers `entry` as wrapper function `name` (one of the names the
    /// service declared) and publishes it in the Setup message.
    pub fn register(&mut self, name: &str, entry: WrapperEntry) -> Result<(), Error> {
        let addr = self.address_of(name)?;
        self.session.register_at(addr, entry)?;
        self.symbols.push((name.to_owned(), addr));
        Ok(())
    }

    /// Registers a C wrapper function with the asynchronous ABI as `name`.
    pub fn register_async_c(
        &mut self,
        name: &str,
        f: orc_rt::session::orc_rt_WrapperFunction,
    ) -> Result<(), Error> {
        self.address_of(name)?;
        let addr = self.session.register_async_wrapper(f);
        self.symbols.push((name.to_owned(), addr));
        Ok(())
    }

    /// Adds `rm` to the session, logged as `rm NAME: ...` in the
    /// transcript and checked by the lifecycle rules.
    pub fn add_resource_manager(&mut self, rm: impl ResourceManager + 'static) {
        let name = rm.name().to_owned();
        let id = self
            .w
            .parts()
            .checks
            .default_session()
            .lifecycle
            .manager_added(&format!("rm {name}"), true);
        self.session.add_resource_manager(Recorded {
            w: self.w.me.clone(),
            actor: format!("rm {name}"),
            id,
            inner: rm,
        });
    }

    /// The tag of controller handler `name` (declared by the script or
    /// provided with [`SimulationBuilder::handler`]), for
    /// `SessionHandle::call_controller`.
    pub fn controller_tag(&self, name: &str) -> Option<ExecutorAddr> {
        self.w
            .sc
            .handlers
            .iter()
            .position(|h| h.name == name)
            .map(|i| ExecutorAddr::new(crate::TAG_BASE + i as u64 * crate::STRIDE))
    }

    /// A handle your code keeps to log its own events into the transcript.
    pub fn log(&self) -> SimLog {
        SimLog {
            w: self.w.me.clone(),
        }
    }

    fn address_of(&self, name: &str) -> Result<ExecutorAddr, Error> {
        let all = &self.w.sc.provided_wrappers;
        match (
            self.names.iter().any(|n| n == name),
            all.iter().position(|n| n == name),
        ) {
            (true, Some(i)) => Ok(ExecutorAddr::new(PROVIDED_BASE + i as u64 * crate::STRIDE)),
            _ => Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "`{name}` is not one of this service's names {:?}",
                    self.names
                ),
            )),
        }
    }
}

/// Writes events into a run's transcript from the embedding program's own
/// code (any thread of the run).
#[derive(Clone)]
pub struct SimLog {
    w: Weak<World>,
}

impl SimLog {
    /// Logs `actor: text` (a no-op once the run is over).
    pub fn note(&self, actor: &str, text: impl Into<String>) {
        if let Some(w) = self.w.upgrade() {
            w.note(actor, text);
        }
    }
}

/// A provided manager, its calls and completions logged and recorded for
/// the lifecycle checker.
struct Recorded<R> {
    w: Weak<World>,
    actor: String,
    id: ManagerId,
    inner: R,
}

impl<R: ResourceManager> Recorded<R> {
    fn called(&self, phase: Phase, text: String) {
        if let Some(w) = self.w.upgrade() {
            let mut p = w.parts();
            p.log.note(self.actor.clone(), text);
            p.checks
                .default_session()
                .lifecycle
                .manager_called(self.id, phase);
        }
    }

    /// `done`, with its completion logged and recorded first.
    fn recording(&self, phase: Phase, done: OnComplete) -> OnComplete {
        let (w, actor, id) = (self.w.clone(), self.actor.clone(), self.id);
        let what = if phase == Phase::Detach {
            "detach"
        } else {
            "shutdown"
        };
        // Observed, not re-wrapped: a completion the manager drops (say,
        // as it panics) reaches the session as dropped, which reports the
        // panic alone, as for the script's managers.
        done.observed(move |outcome| {
            if let Some(w) = w.upgrade() {
                let text = match outcome {
                    Some(Ok(())) => format!("{what} done: ok"),
                    Some(Err(e)) => format!("{what} done: error {:?}", e.message()),
                    None => format!("{what} drops its completion"),
                };
                let mut p = w.parts();
                p.log.note(actor, text);
                p.checks
                    .default_session()
                    .lifecycle
                    .manager_completed(id, phase);
            }
        })
    }
}

impl<R: ResourceManager> ResourceManager for Recorded<R> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn detach(&mut self, done: OnComplete, shutdown_requested: bool) {
        self.called(
            Phase::Detach,
            format!("detach(shutdown_requested={shutdown_requested})"),
        );
        let done = self.recording(Phase::Detach, done);
        self.inner.detach(done, shutdown_requested);
    }

    fn shutdown(&mut self, done: OnComplete) {
        self.called(Phase::Shutdown, "shutdown".to_owned());
        let done = self.recording(Phase::Shutdown, done);
        self.inner.shutdown(done);
    }
}

/// A scenario script with what the embedding program provides; see the
/// module docs.
pub struct Simulation {
    scenario: Scenario,
    provided: Arc<Provided>,
    /// The names scripts may use, to parse candidates while shrinking.
    wrapper_names: Vec<String>,
    handler_names: Vec<String>,
}

impl Simulation {
    /// Starts a builder.
    pub fn builder() -> SimulationBuilder {
        SimulationBuilder::default()
    }

    /// The parsed script, with the builder's settings applied.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// One run under `seed`, with the default limits.
    pub fn run(&self, seed: u64) -> RunOutcome {
        self.run_with(&RunConfig::new(seed))
    }

    /// One run under the script's own seed (or the builder's).
    pub fn run_own_seed(&self) -> RunOutcome {
        self.run(self.scenario.seed)
    }

    /// One run under `cfg`.
    pub fn run_with(&self, cfg: &RunConfig) -> RunOutcome {
        crate::sim::run_provided(&self.scenario, cfg, self.provided.clone())
    }

    /// Shrinks the script, which fails under `seed`, with this program's
    /// services and handlers, as `orc-sim shrink` does for the repository's
    /// own scenarios (see [`crate::shrink`]); `Shrunk::to_scn` is the
    /// smaller script, which this simulation's builder replays.
    pub fn shrink(&self, seed: u64, opts: &ShrinkOptions) -> Result<Shrunk, String> {
        let engine = Engine {
            parse: &|file, text| parse_with(file, text, &self.wrapper_names, &self.handler_names),
            run: &|sc, cfg| crate::sim::run_provided(sc, cfg, self.provided.clone()),
        };
        shrink_with(&engine, &self.scenario, seed, opts)
    }
}

/// Builds a [`Simulation`].
#[derive(Default)]
pub struct SimulationBuilder {
    script: Option<(String, String)>,
    seed: Option<u64>,
    latency: Option<(u64, u64)>,
    faults: Vec<String>,
    dispatcher: Option<QueuePolicy>,
    executor_services: Option<bool>,
    services: Vec<Service>,
    handlers: BTreeMap<String, Arc<HandlerFn>>,
    process: Option<ProcessInfo>,
}

impl SimulationBuilder {
    /// The scenario script (`file` names it in errors and transcripts).
    pub fn script(mut self, file: &str, text: &str) -> Self {
        self.script = Some((file.to_owned(), text.to_owned()));
        self
    }

    /// The seed of [`Simulation::run_own_seed`], instead of the script's.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Message latency in ticks, instead of the script's.
    pub fn latency(mut self, min: u64, max: u64) -> Self {
        self.latency = Some((min, max));
        self
    }

    /// A fault, written as in a script without the word `fault` (`"drop
    /// result c2"`, `"stall-reader 5 40"`), added to the script's.
    pub fn fault(mut self, fault: &str) -> Self {
        self.faults.push(fault.to_owned());
        self
    }

    /// What the dispatcher does with queued tasks at shutdown, instead of
    /// the script's.
    pub fn dispatcher(mut self, policy: QueuePolicy) -> Self {
        self.dispatcher = Some(policy);
        self
    }

    /// Installs orc-executor's own services (memory manager, dylib
    /// manager, ...) too, as the script's `services` header does.
    pub fn executor_services(mut self, on: bool) -> Self {
        self.executor_services = Some(on);
        self
    }

    /// The process the executor announces (default: x86-64 Linux, 4 KiB
    /// pages).
    pub fn process_info(mut self, info: ProcessInfo) -> Self {
        self.process = Some(info);
        self
    }

    /// A service whose wrapper functions are `names`: `setup` runs in every
    /// run, once the session is built and before it attaches.
    pub fn service(
        mut self,
        names: &[&str],
        setup: impl Fn(&mut ServiceContext<'_>) -> Result<(), Error> + Send + Sync + 'static,
    ) -> Self {
        self.services.push(Service {
            names: names.iter().map(|n| (*n).to_owned()).collect(),
            setup: Arc::new(setup),
        });
        self
    }

    /// A controller-side handler `name`, answered by `f` at once (JIT'd
    /// code in the script, or your code through
    /// [`ServiceContext::controller_tag`], calls it).
    pub fn handler(
        mut self,
        name: &str,
        f: impl Fn(&[u8]) -> Result<Vec<u8>, String> + Send + Sync + 'static,
    ) -> Self {
        self.handlers.insert(name.to_owned(), Arc::new(f));
        self
    }

    /// Parses the script with the names provided and applies the settings.
    pub fn build(self) -> Result<Simulation, ParseError> {
        let (file, text) = self
            .script
            .unwrap_or_else(|| ("(no script)".to_owned(), String::new()));
        let handlers: Vec<String> = self.handlers.keys().cloned().collect();
        let wrappers = wrapper_names(&self.services);
        let mut sc = parse_with(&file, &text, &wrappers, &handlers)?;
        if !self.faults.is_empty() {
            // The faults name the script's calls and messages: parse them
            // with it (the script alone parsed, so an error is theirs).
            let lines: String = self.faults.iter().map(|f| format!("fault {f}\n")).collect();
            let with = match text.find("\n---") {
                Some(i) => format!("{}\n{lines}{}", &text[..i], &text[i..]),
                None => format!("{text}\n{lines}"),
            };
            let mut with = parse_with(&file, &with, &wrappers, &handlers).map_err(|mut e| {
                e.message = format!("in a fault given to the builder: {}", e.message);
                e
            })?;
            sc.faults = std::mem::take(&mut with.faults);
        }
        if let Some(seed) = self.seed {
            sc.seed = seed;
        }
        if let Some(l) = self.latency {
            sc.latency = l;
        }
        if let Some(p) = self.dispatcher {
            sc.dispatcher.at_shutdown = p;
        }
        if let Some(on) = self.executor_services {
            sc.services = on;
        }
        let services = self.services;
        let install: Option<Arc<crate::sim::InstallFn>> = (!services.is_empty()).then(|| {
            Arc::new(move |w: &Arc<World>, session: &SessionHandle| install(&services, w, session))
                as Arc<crate::sim::InstallFn>
        });
        Ok(Simulation {
            scenario: sc,
            wrapper_names: wrappers,
            handler_names: handlers,
            provided: Arc::new(Provided {
                install,
                handlers: Arc::new(self.handlers),
                process: self.process,
            }),
        })
    }
}
