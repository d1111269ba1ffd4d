//! The simulation: the real executor stack (session, `orc-executor`'s
//! controller access and services) driven by a simulated controller over a
//! simulated byte pipe, under a deterministic scheduler. The services run
//! on a `SimulatedOs` of the run's own: addresses come from the seed, and
//! runs made in parallel share no memory.
//!
//! One [`World`] per run. Its parts own their state and change it through
//! their methods: the [`Schedule`](schedule::Schedule) (virtual time,
//! timers, the seeded choice), the [`Log`](log::Log) (transcript,
//! violations, failures), the [`Pipe`](pipe::Pipe) (bytes on their way,
//! faults), the [`Controller`](controller::Controller), the executor side's
//! [`Book`](executor::Book) and the [`Checker`](check::Checker). They live
//! under one mutex (only one simulated thread runs at a time); the world
//! wires them together and runs the scheduler loop: gather what is ready (a
//! script step, a message at the head of a pipe direction, a task in the
//! session's queue, a timer), let the seed pick one, run it on a simulated
//! thread (see [`threads`]).
//!
//! Lock discipline: the world's mutex is never held while calling into the
//! session, the controller access or the services — they may run callbacks
//! that log, which locks it.

pub(crate) mod addresses;
pub(crate) mod check;
pub(crate) mod controller;
mod executor;
mod log;
pub(crate) mod pipe;
mod schedule;
mod swarm;
pub(crate) mod threads;

pub use swarm::SwarmPlan;

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use orc_executor::os::SimulatedOs;
use orc_executor::transport::Readiness;
use orc_executor::wire::Opcode;
use orc_rt::dispatcher::{QueuedAtShutdown, QueueingDispatcher};
use orc_rt::{Session, SessionHandle, SessionHooks, SessionState};

use crate::scenario::{Action, AwaitCond, FaultKind, QueuePolicy, Scenario, StateName, StepKind};
use crate::transcript::{Shape, Transcript};

use check::Checker;
use controller::{Controller, Reaction, Step, Wait};
use executor::{Book, PipeWait};
use log::Log;
use pipe::{Dir, Label, Message, Packet, Pipe, ReadOutcome, opcode_name};
use schedule::{Ev, Schedule};
use threads::{Hang, ParkError, Pool};

pub use addresses::{JIT_BASE, STRIDE, TAG_BASE};

/// What an embedding program provides to every run
/// ([`Simulation`](crate::simulation::Simulation)).
#[derive(Default)]
pub(crate) struct Provided {
    /// Sets the program's services up in a run's session, once it is
    /// built; returns the bootstrap symbols they publish.
    pub(crate) install: Option<Arc<InstallFn>>,
    pub(crate) handlers: Arc<controller::ProvidedHandlers>,
    pub(crate) process: Option<orc_rt::session::ProcessInfo>,
}

/// See [`Provided::install`].
pub(crate) type InstallFn = dyn Fn(&Arc<World>, &SessionHandle) -> Result<Vec<(String, orc_rt::ExecutorAddr)>, orc_rt::Error>
    + Send
    + Sync;

/// Knobs of one run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The seed of the scheduler's choices.
    pub seed: u64,
    /// How long a simulated thread may keep the baton (real time) before the
    /// run is declared hung (a deadlock in the runtime).
    pub hang_timeout: Duration,
    /// The most scheduler steps a run may take (a livelock guard).
    pub max_steps: u64,
    /// Virtual ticks the session has to reach its end once the script is
    /// over and shutdown was requested (the liveness bound).
    pub liveness_ticks: u64,
    /// Swarm testing: the seed also picks transport faults
    /// ([`SwarmPlan::for_seed`]), on top of the scenario's own.
    pub swarm: bool,
    /// The scheduler's first decisions, one byte each (see
    /// [`Rng::with_choices`](crate::rng::Rng::with_choices)); then the
    /// seed's. Empty by default.
    pub choices: std::sync::Arc<[u8]>,
}

impl RunConfig {
    /// Defaults for `seed`: 10 s hang timeout, 100 000 steps, 100 000
    /// ticks to shut down.
    pub fn new(seed: u64) -> Self {
        RunConfig {
            seed,
            hang_timeout: Duration::from_secs(10),
            max_steps: 100_000,
            liveness_ticks: 100_000,
            swarm: false,
            choices: std::sync::Arc::from(Vec::new()),
        }
    }
}

/// The result of one run.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The scenario's name.
    pub scenario: String,
    /// The seed it ran under.
    pub seed: u64,
    /// What happened.
    pub transcript: Transcript,
    /// Broken invariants of the runtime (the spec's rules).
    pub violations: Vec<String>,
    /// Failed expectations and script problems.
    pub failures: Vec<String>,
    /// Expectations that were checked.
    pub expectations: usize,
    /// Scheduler steps taken.
    pub steps: u64,
    /// The scenario's probes (`reach "PATTERN"`) that an event or a
    /// runtime probe matched.
    pub reached: Vec<String>,
    /// The runtime's own probes (`orc_rt::probe`) this run reached.
    pub runtime_probes: Vec<String>,
    /// How many bytes of [`RunConfig::choices`] the scheduler's decisions
    /// took ([`Rng::choices_taken`](crate::rng::Rng::choices_taken)): that
    /// prefix (at least one byte) replays the run.
    pub choices_taken: usize,
}

impl RunOutcome {
    /// True if no invariant broke and every expectation held.
    pub fn passed(&self) -> bool {
        self.violations.is_empty() && self.failures.is_empty()
    }

    /// The snapshot text: a header, the transcript, the outcome.
    pub fn render(&self) -> String {
        let mut out = format!("# scenario {} (seed {})\n", self.scenario, self.seed);
        out.push_str(&self.transcript.render());
        if self.passed() {
            out.push_str(&format!(
                "# outcome: pass ({} expectations hold, no invariant broken, {} steps)\n",
                self.expectations, self.steps
            ));
        } else {
            out.push_str(&format!("# outcome: FAIL ({} steps)\n", self.steps));
            for v in &self.violations {
                out.push_str(&format!("#   invariant: {v}\n"));
            }
            for f in &self.failures {
                out.push_str(&format!("#   {f}\n"));
            }
        }
        out
    }
}

/// Runs `sc` once under `cfg`.
pub fn run(sc: &Scenario, cfg: &RunConfig) -> RunOutcome {
    run_provided(sc, cfg, Arc::default())
}

/// [`run`] with what an embedding program provides
/// ([`Simulation`](crate::simulation::Simulation)).
pub(crate) fn run_provided(sc: &Scenario, cfg: &RunConfig, provided: Arc<Provided>) -> RunOutcome {
    executor::managers::quiet_injected_panics();
    let world = World::new(sc, cfg, provided);
    let looper: threads::Looper = {
        let w = world.clone();
        Arc::new(move || {
            w.hook_this_thread();
            w.sched_loop();
            // The thread goes back to the pool, and may serve the next run:
            // no hook of this one may outlive it there.
            World::unhook_this_thread();
        })
    };
    // Simulated threads are reused from run to run on the same thread (a
    // run costs far fewer steps than thread spawns otherwise).
    thread_local! {
        static POOL: std::cell::RefCell<Option<Pool>> = const { std::cell::RefCell::new(None) };
    }
    let mut pool = match POOL.with(|p| p.borrow_mut().take()) {
        Some(mut p) => {
            p.reset(cfg.hang_timeout, Some(looper));
            p
        }
        None => Pool::new(cfg.hang_timeout, looper),
    };
    let sessions = match executor::build_sessions(&world) {
        Ok(s) => Some(s),
        Err(e) => {
            world.failure(format!(
                "the session could not be built: {}: {}",
                e.kind(),
                e.message()
            ));
            None
        }
    };
    if let Some(plan) = &world.swarm {
        world.note("sim", format!("swarm plan of seed {}: {plan}", cfg.seed));
    }
    if let Some(sessions) = &sessions {
        world.drive(&mut pool, sessions, cfg.liveness_ticks);
    }
    // A session whose shutdown never completed would block in `drop`: it
    // is kept, never dropped, where leak checkers see it is still reachable.
    for session in sessions.into_iter().flatten() {
        if session.is_shut_down() && !pool.hung {
            drop(session);
        } else {
            ABANDONED
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(session);
        }
    }
    // The loop holds the world: let go of it, and keep healthy threads.
    pool.reset(cfg.hang_timeout, None);
    if pool.hung {
        drop(pool);
    } else {
        POOL.with(|p| *p.borrow_mut() = Some(pool));
    }
    let mut outcome = world.finish();
    outcome.seed = cfg.seed;
    outcome
}

/// Sessions of runs that ended before their shutdown completed (a hang,
/// a livelock, the step budget): dropping one would wait for it forever.
static ABANDONED: Mutex<Vec<Session>> = Mutex::new(Vec::new());

/// The script's cursor.
#[derive(Default)]
struct Script {
    pc: usize,
    ready_at: u64,
    waiting: Option<ScriptWait>,
    done: bool,
    /// A step is running (its thread may be switched out inside the
    /// runtime, at a schedule point): the next waits for it.
    running: bool,
}

#[derive(Debug, Clone)]
enum ScriptWait {
    /// An `await` (condition, step index).
    Cond(AwaitCond, usize),
    /// A controller step that cannot run yet.
    Controller(Wait),
}

/// Everything mutable, under the world's one mutex: the parts.
pub(crate) struct Parts {
    pub(crate) sched: Schedule,
    pub(crate) log: Log,
    pub(crate) pipe: Pipe,
    pub(crate) ctl: Controller,
    pub(crate) book: Book,
    pub(crate) checks: Checker,
    script: Script,
    /// Threads parked on the pipe: (thread, what for, flag).
    pipe_waiters: Vec<(usize, PipeWait, u64)>,
    /// Threads parked until an event matches: (thread, pattern, flag).
    pattern_waiters: Vec<(usize, String, u64)>,
    /// Events already scanned for pattern waits.
    scanned: usize,
    /// The step limit was hit, or the liveness bound: nothing more runs.
    stopped: bool,
    /// The liveness bound, once the owner requested shutdown.
    deadline: Option<u64>,
    /// The runtime's probes reached (`orc_rt::probe`).
    probes: std::collections::BTreeSet<&'static str>,
}

impl Parts {
    /// Schedules the fault triggers the log fired.
    fn schedule_fired(&mut self) {
        for (a, why) in self.log.take_fired() {
            self.sched.urgent(Ev::Act(a, why));
        }
    }

    /// Wakes the threads parked on the pipe whose condition holds now.
    fn wake_pipe_waiters(&mut self) {
        let mut i = 0;
        while i < self.pipe_waiters.len() {
            let (_, what, flag) = self.pipe_waiters[i];
            let holds = match what {
                PipeWait::Readable => self.pipe.exec_readable(),
                PipeWait::Writable => self.pipe.exec_writable(),
                PipeWait::Any { output } => {
                    self.pipe.exec_readable() || (output && self.pipe.exec_writable())
                }
            };
            if holds {
                self.pipe_waiters.remove(i);
                self.sched.set_flag(flag);
            } else {
                i += 1;
            }
        }
    }

    /// Wakes a thread parked in `Transport::wait`.
    fn wake_waiting(&mut self) {
        let mut i = 0;
        while i < self.pipe_waiters.len() {
            if matches!(self.pipe_waiters[i].1, PipeWait::Any { .. }) {
                let (_, _, flag) = self.pipe_waiters.remove(i);
                self.sched.set_flag(flag);
            } else {
                i += 1;
            }
        }
    }

    fn latency(&mut self, sc: &Scenario) -> u64 {
        let (lo, hi) = sc.latency;
        self.sched.rng().range_inclusive(lo, hi)
    }
}

/// The simulation of one run.
pub(crate) struct World {
    pub(crate) sc: Arc<Scenario>,
    parts: Mutex<Parts>,
    pub(crate) me: Weak<World>,
    pub(crate) session: OnceLock<SessionHandle>,
    /// The further sessions (`session NAME`), in declaration order: index
    /// `s - 1` is session `s`.
    pub(crate) others: OnceLock<Vec<SessionHandle>>,
    pub(crate) hooks: OnceLock<SessionHooks>,
    /// Each session's dispatcher queue (0: the default session's), drained
    /// by the scheduler.
    pub(crate) queues: Vec<QueueingDispatcher>,
    /// The real executor services, when the scenario installs them, and
    /// the bootstrap symbols they publish.
    pub(crate) services: OnceLock<(
        orc_executor::services::ExecutorServices<SimulatedOs>,
        orc_rt::BootstrapInfo,
    )>,
    /// This run's OS: the services' memory, libraries and published
    /// addresses, chosen by the run's seed and shared with no other run.
    pub(crate) os: SimulatedOs,
    /// The model controller access, when the scenario uses it.
    pub(crate) model: OnceLock<Arc<executor::model::ModelAccess>>,
    /// The addresses of the `async-c` JIT'd functions: (index, address).
    pub(crate) async_c_addrs: OnceLock<Vec<(usize, orc_rt::ExecutorAddr)>>,
    /// What the embedding program provides, and the bootstrap symbols its
    /// services published in this run.
    pub(crate) provided: Arc<Provided>,
    pub(crate) provided_symbols: OnceLock<Vec<(String, orc_rt::ExecutorAddr)>>,
    /// The host program's thread (`enter`, `wait-shutdown`).
    pub(crate) host: executor::HostThread,
    max_steps: u64,
    /// A simulated thread kept the baton too long (a deadlock).
    hung: std::sync::atomic::AtomicBool,
    /// The swarm plan of this run, if it is one.
    swarm: Option<SwarmPlan>,
}

/// What a parked thread waits for.
pub(crate) enum WakeOn {
    /// Just yield: resume as soon as the scheduler picks it.
    Now,
    /// N ticks of virtual time.
    Ticks(u64),
    /// A flag set by a completion (flag, what it is for the report).
    Flag(u64, String),
    /// An event matching the pattern.
    Pattern(String),
}

impl World {
    fn new(sc: &Scenario, cfg: &RunConfig, provided: Arc<Provided>) -> Arc<World> {
        let mut triggers = Vec::new();
        let mut sched = Schedule::new(crate::rng::Rng::with_choices(cfg.seed, cfg.choices.clone()));
        for f in &sc.faults {
            match &f.kind {
                FaultKind::On(p, a) => triggers.push((p.clone(), a.clone())),
                // Just before step N: an urgent event queued when step N-1 ran.
                FaultKind::AtStep(..) => {}
                FaultKind::StallReader(_, until) => {
                    sched.at(
                        *until,
                        Ev::Do(Box::new(|w: &Arc<World>| w.controller_resumes_reading())),
                    );
                }
                _ => {}
            }
        }
        let policy = match sc.dispatcher.at_shutdown {
            QueuePolicy::Run => QueuedAtShutdown::Run,
            QueuePolicy::Keep => QueuedAtShutdown::Keep,
            QueuePolicy::Drop => QueuedAtShutdown::Drop,
        };
        let sc = Arc::new(sc.clone());
        let queues = (0..=sc.sessions.len())
            .map(|_| QueueingDispatcher::with_policy(policy))
            .collect();
        Arc::new_cyclic(|me| World {
            parts: Mutex::new(Parts {
                sched,
                log: Log::new(triggers),
                pipe: Pipe::new(sc.pipe_capacity),
                ctl: Controller::new(sc.clone(), provided.handlers.clone()),
                book: Book::new(1 + sc.sessions.len()),
                checks: Checker::new(
                    !matches!(sc.on_disconnect, crate::scenario::OnDisconnect::None),
                    sc.sessions.len(),
                ),
                script: Script::default(),
                pipe_waiters: Vec::new(),
                pattern_waiters: Vec::new(),
                scanned: 0,
                stopped: false,
                deadline: None,
                probes: Default::default(),
            }),
            sc,
            me: me.clone(),
            session: OnceLock::new(),
            others: OnceLock::new(),
            hooks: OnceLock::new(),
            queues,
            services: OnceLock::new(),
            os: executor::simulated_process(cfg.seed),
            model: OnceLock::new(),
            async_c_addrs: OnceLock::new(),
            provided,
            provided_symbols: OnceLock::new(),
            host: executor::HostThread::default(),
            max_steps: cfg.max_steps,
            hung: std::sync::atomic::AtomicBool::new(false),
            swarm: cfg.swarm.then(|| SwarmPlan::for_seed(cfg.seed)),
        })
    }

    /// The parts, locked; the log is stamped with the current time.
    pub(crate) fn parts(&self) -> MutexGuard<'_, Parts> {
        let mut p = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        let now = p.sched.now();
        p.log.set_now(now);
        p
    }

    pub(crate) fn session(&self) -> SessionHandle {
        self.session.get().expect("the session is built").clone()
    }

    /// Session `s`: 0 is the default one, 1 and up the scenario's
    /// `session` lines in order.
    pub(crate) fn session_at(&self, s: usize) -> SessionHandle {
        match s {
            0 => self.session(),
            s => self.others.get().expect("the sessions are built")[s - 1].clone(),
        }
    }

    /// The number of the session a script names (`None`: the default one;
    /// names are validated by the parser).
    pub(crate) fn session_index(&self, name: Option<&str>) -> usize {
        self.sc.session_index(name).expect("validated")
    }

    /// The name of session `s`, `None` for the default one.
    pub(crate) fn session_name(&self, s: usize) -> Option<&str> {
        s.checked_sub(1).map(|i| self.sc.sessions[i].name.as_str())
    }

    /// The transcript's actor `actor` of session `s`: as it is for the
    /// default session, `actor (S)` for session S.
    pub(crate) fn scoped(&self, s: usize, actor: &str) -> String {
        match self.session_name(s) {
            None => actor.to_owned(),
            Some(n) => format!("{actor} ({n})"),
        }
    }

    /// The actor `KIND NAME` of session `s` (`rm a`, `cb d1`, `task 3`):
    /// `KIND NAME (S)` for session S.
    pub(crate) fn member(&self, s: usize, kind: &str, name: impl std::fmt::Display) -> String {
        self.scoped(s, &format!("{kind} {name}"))
    }

    /// How the transcript calls session `s`'s method `m`: `m` for the
    /// default session, `S.m` for session S.
    pub(crate) fn method(&self, s: usize, m: &str) -> String {
        match self.session_name(s) {
            None => m.to_owned(),
            Some(n) => format!("{n}.{m}"),
        }
    }

    /// ` in S` after a step of session S, nothing for the default one.
    pub(crate) fn in_session(&self, s: usize) -> String {
        self.session_name(s)
            .map_or_else(String::new, |n| format!(" in {n}"))
    }

    /// What session `s`'s dispatcher does with queued tasks at shutdown
    /// (every session's dispatcher follows the scenario's `dispatcher`
    /// line).
    pub(crate) fn queue_policy(&self, _s: usize) -> QueuePolicy {
        self.sc.dispatcher.at_shutdown
    }

    pub(crate) fn hooks(&self) -> SessionHooks {
        self.hooks.get().expect("the session is built").clone()
    }

    /// Logs a plain event.
    pub(crate) fn note(&self, actor: impl Into<String>, text: impl Into<String>) {
        let mut p = self.parts();
        p.log.note(actor, text);
        p.schedule_fired();
    }

    /// Records a broken invariant.
    pub(crate) fn violation(&self, text: impl Into<String>) {
        self.parts().log.violation(text);
    }

    /// Records a failed expectation or a script problem.
    pub(crate) fn failure(&self, text: impl Into<String>) {
        self.parts().log.failure(text);
    }

    /// Installs this run's probe recorder on the calling thread: the
    /// runtime's probes reached here are noted for the run's outcome and
    /// logged (`wire: the controller hung up` as actor `wire`), so that
    /// scripts can await and expect them.
    /// Installs this run's hooks on the calling thread (see
    /// [`Self::schedule_here`], [`Self::record_probes_here`]), replacing any
    /// a previous run on this pooled thread left.
    fn hook_this_thread(&self) {
        self.record_probes_here();
        self.schedule_here();
    }

    /// Removes the hooks of [`Self::hook_this_thread`].
    fn unhook_this_thread() {
        orc_rt::probe::record_on_this_thread(None);
        orc_rt::sync::schedule_on_this_thread(None);
    }

    /// Installs this run's schedule hook on the calling thread: at each
    /// `orc_rt::sync::schedule_point` the seed decides whether another
    /// ready thread runs first.
    fn schedule_here(&self) {
        let w = self.me.clone();
        orc_rt::sync::schedule_on_this_thread(Some(Arc::new(move || {
            if let Some(w) = w.upgrade() {
                let _ = w.suspend("sched", WakeOn::Now);
            }
        })));
    }

    fn record_probes_here(&self) {
        let w = self.me.clone();
        orc_rt::probe::record_on_this_thread(Some(Arc::new(move |name| {
            if let Some(w) = w.upgrade() {
                let mut p = w.parts();
                p.probes.insert(name);
                // Which OS thread runs a simulated one depends on the pool,
                // not on the seed: a probe about thread identity is counted
                // but kept out of the transcript, which must not vary.
                if name != orc_rt::probe::LAST_GUARD_ON_ANOTHER_THREAD {
                    let (actor, text) = name.split_once(": ").unwrap_or(("probe", name));
                    p.log.note(actor, text);
                }
            }
        })));
    }

    /// The index of JIT'd function `name` (validated by the parser).
    pub(crate) fn jit_index(&self, name: &str) -> usize {
        self.sc
            .jits
            .iter()
            .position(|j| j.name == name)
            .expect("validated")
    }

    /// Runs `f` on a simulated thread `ticks` from now.
    pub(crate) fn after(&self, ticks: u64, f: impl FnOnce(&Arc<World>) + Send + 'static) {
        self.parts().sched.at(ticks, Ev::Do(Box::new(f)));
    }

    /// Starts a simulated thread running `f` (when the scheduler picks
    /// it).
    pub(crate) fn start_thread(&self, f: impl FnOnce(&Arc<World>) + Send + 'static) {
        self.parts().sched.at(0, Ev::Do(Box::new(f)));
    }

    /// Suspends the calling simulated thread until `wake`.
    pub(crate) fn suspend(&self, actor: &str, wake: WakeOn) -> Result<(), ParkError> {
        let me = threads::current().ok_or(ParkError::NotAWorker)?;
        {
            let mut p = self.parts();
            let what = match wake {
                WakeOn::Now => {
                    p.sched.at(0, Ev::Resume(me));
                    "its turn".to_owned()
                }
                WakeOn::Ticks(n) => {
                    p.sched.at(n, Ev::Resume(me));
                    format!("t={}", p.sched.later(n))
                }
                WakeOn::Flag(f, what) => {
                    if !p.sched.wait_flag(f, me) {
                        return Ok(());
                    }
                    what
                }
                WakeOn::Pattern(pat) => {
                    if p.log.any(&pat) {
                        return Ok(());
                    }
                    let f = p.sched.new_flag();
                    p.sched.wait_flag(f, me);
                    p.pattern_waiters.push((me, pat.clone(), f));
                    format!("an event matching {pat:?}")
                }
            };
            p.sched.park(me, actor, what);
        }
        let r = threads::park();
        self.parts().sched.unpark(me);
        r
    }

    // ---- the executor's end of the pipe -----------------------------------

    /// Parks the calling simulated thread until the pipe can go on.
    pub(crate) fn park_on_pipe(&self, what: PipeWait) -> Result<(), ParkError> {
        let me = threads::current().ok_or(ParkError::NotAWorker)?;
        let flag = {
            let mut p = self.parts();
            let f = p.sched.new_flag();
            p.pipe_waiters.push((me, what, f));
            // The condition may hold already.
            p.wake_pipe_waiters();
            f
        };
        let text = match what {
            PipeWait::Readable => "input from the controller",
            PipeWait::Writable => "room in the pipe to the controller",
            PipeWait::Any { output: true } => "input, room for output, or a wake-up",
            PipeWait::Any { output: false } => "input or a wake-up",
        };
        self.suspend("ca", WakeOn::Flag(flag, text.to_owned()))
    }

    /// `Transport::read` at the executor's end (never waits).
    pub(crate) fn executor_read(&self, buf: &mut [u8]) -> ReadOutcome {
        let closed = self
            .session
            .get()
            .is_some_and(|s| s.scope_source().is_closed());
        let limit = self.short_io(true);
        let mut p = self.parts();
        let r = p.pipe.exec_read(buf, limit);
        if let ReadOutcome::Data(n, done) = &r {
            if !done.is_empty() || limit.is_some() {
                p.log.note("ca", format!("reads {n} bytes"));
            }
            for (no, label, text) in done {
                p.log.event(
                    "ca",
                    format!("reads {text} [m{no}]"),
                    Shape::Recv(*no, "ctl".into()),
                );
                if let Label::Call(h) = label
                    && let Some(seq) = p.ctl.call_rec(h).and_then(|c| c.seq)
                {
                    p.checks.call_read(seq, h, closed);
                }
            }
            // Room for the controller's waiting messages.
            drop(p);
            self.flush_controller_outbox();
            let mut p = self.parts();
            p.schedule_fired();
        }
        r
    }

    /// `Transport::try_write` at the executor's end.
    pub(crate) fn executor_write(&self, buf: &[u8]) -> io::Result<usize> {
        let limit = self.short_io(false);
        let mut p = self.parts();
        if let Some(msg) = p.pipe.refused.take() {
            p.log.note("ca", format!("the connection fails: {msg}"));
            drop(p);
            self.controller_connection_failed(&msg);
            return Err(io::Error::new(io::ErrorKind::ConnectionRefused, msg));
        }
        if p.pipe.exec_write_fails() {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the controller closed its end",
            ));
        }
        let (n, out) = p.pipe.exec_write(buf, limit);
        if limit.is_some() && n < buf.len() {
            p.log.note(
                "ca",
                format!("writes {n} of {} bytes (short write)", buf.len()),
            );
        }
        for part in out {
            if part.starts {
                self.executor_message_out(&mut p, "ca", part.bytes, None, !part.ends);
            } else {
                self.executor_message_continues(&mut p, part.bytes, part.ends);
            }
        }
        p.schedule_fired();
        Ok(n)
    }

    /// Whether a write at the executor's end would take a byte (or fail).
    pub(crate) fn executor_writable(&self) -> bool {
        self.parts().pipe.exec_writable()
    }

    /// What `Transport::wait` finds, and whether a wake-up was pending.
    pub(crate) fn executor_readiness(&self, output_pending: bool) -> (Readiness, bool) {
        let mut p = self.parts();
        let ready = Readiness {
            input: p.pipe.exec_readable(),
            output: output_pending && p.pipe.exec_writable(),
        };
        (ready, p.pipe.take_woken())
    }

    /// `Transport::wake`.
    pub(crate) fn executor_wake(&self) {
        let mut p = self.parts();
        p.pipe.wake();
        p.wake_waiting();
    }

    /// `Transport::close`: the executor ends the connection.
    pub(crate) fn executor_close(&self) {
        let mut p = self.parts();
        if p.pipe.exec_closed() {
            return;
        }
        let lat = p.latency(&self.sc);
        let now = p.sched.now();
        p.pipe.exec_close(now, lat);
        p.log.note("ca", "closes the connection");
        p.wake_waiting();
        p.wake_pipe_waiters();
    }

    /// A whole message the executor sent (real access: framed from its
    /// writes; model: handed over whole), with `label` if the sender knows
    /// it.
    fn executor_message_out(
        &self,
        p: &mut Parts,
        actor: &str,
        bytes: Vec<u8>,
        label: Option<Label>,
        more_follows: bool,
    ) {
        let Some(h) = pipe::header(&bytes) else {
            p.log
                .violation("the executor wrote a message whose header does not decode");
            return;
        };
        if p.checks.hangup_written {
            p.log.violation(format!(
                "the executor sent a {} after its Hangup",
                opcode_name(h.opcode)
            ));
        }
        let size = h.payload_len;
        let (label, text) = match h.opcode {
            Opcode::Setup => (Label::Setup, "send Setup".to_owned()),
            Opcode::Hangup => {
                p.checks.hangup_written = true;
                (Label::Hangup, "send Hangup".to_owned())
            }
            Opcode::Result => {
                let handle = p.ctl.handle_of_seq(h.seqno);
                if let Some(v) = p.checks.result_written(h.seqno) {
                    p.log.violation(v);
                }
                let what = if h.tag.value() == 1 {
                    format!("an error, {size} bytes")
                } else {
                    format!("{size} bytes")
                };
                let name = handle.clone().unwrap_or_else(|| format!("seq {}", h.seqno));
                let label = label.unwrap_or(match handle {
                    Some(hd) => Label::Result(hd),
                    None => Label::Other,
                });
                (label, format!("send Result of {name} ({what})"))
            }
            Opcode::CallWrapper => {
                let tag = addresses::tag_name(&self.sc, h.tag.value());
                let label = match label {
                    Some(l) => l,
                    None => Label::CallTag(tag.clone(), p.pipe.count_ccall(&tag)),
                };
                let n = match &label {
                    Label::CallTag(_, n) => *n,
                    _ => 0,
                };
                (label, format!("call handler {tag} #{n} seq {}", h.seqno))
            }
        };
        let no = p.pipe.number();
        let lat = p.latency(&self.sc);
        let now = p.sched.now();
        let msg = Message {
            bytes,
            label: label.clone(),
            text: text.clone(),
            more_follows,
        };
        let faults = self.faults_for(p, no);
        let sent = p.pipe.send(Dir::ToController, no, msg, &faults, now, lat);
        if more_follows {
            p.pipe.exec_continuing = Some((no, label, text.clone(), sent.lost));
        }
        let to = Dir::ToController.receiver().to_owned();
        p.log.event(
            actor,
            format!("{text} [m{no}]"),
            Shape::Send(no, to.clone()),
        );
        for n in sent.notes {
            let shape = if sent.lost {
                Shape::Lost(no, to.clone())
            } else {
                Shape::Note
            };
            p.log.event("net", n, shape);
        }
    }

    /// A later part of the message whose first part went out: it follows
    /// the first part (faults act on a message where it starts), or goes
    /// where the first part went if that was lost.
    fn executor_message_continues(&self, p: &mut Parts, bytes: Vec<u8>, ends: bool) {
        let Some((no, label, text, lost)) = p.pipe.exec_continuing.clone() else {
            p.log
                .violation("the simulated pipe lost track of a message sent in parts");
            return;
        };
        if ends {
            p.pipe.exec_continuing = None;
        }
        if lost {
            p.pipe.forget_toward_controller(bytes.len() as u64);
            return;
        }
        let n = bytes.len();
        let lat = p.latency(&self.sc);
        let now = p.sched.now();
        let msg = Message {
            bytes,
            label,
            text,
            more_follows: !ends,
        };
        let sent = p.pipe.send(Dir::ToController, no, msg, &[], now, lat);
        p.log.note("net", format!("m{no}: {n} more of its bytes"));
        for n in sent.notes {
            p.log.note("net", n);
        }
    }

    /// The faults that apply to message `no`: the scenario's, and the
    /// swarm plan's draw.
    fn faults_for(&self, p: &mut Parts, no: u64) -> std::borrow::Cow<'_, [crate::scenario::Fault]> {
        match &self.swarm {
            None => std::borrow::Cow::Borrowed(&self.sc.faults),
            Some(plan) => {
                let mut all = self.sc.faults.clone();
                all.extend(plan.faults_for(no, p.sched.rng()));
                std::borrow::Cow::Owned(all)
            }
        }
    }

    /// The largest read or write of the executor (a `short-reads` or
    /// `short-writes` fault, scripted or from the swarm plan).
    fn short_io(&self, reads: bool) -> Option<u64> {
        let scripted = self.sc.faults.iter().find_map(|f| match f.kind {
            FaultKind::ShortReads(n) if reads => Some(n),
            FaultKind::ShortWrites(n) if !reads => Some(n),
            _ => None,
        });
        let swarm = self
            .swarm
            .as_ref()
            .and_then(|s| if reads { s.short_reads } else { s.short_writes });
        scripted.or(swarm)
    }

    /// The model access sends a whole message.
    pub(crate) fn executor_send_message(&self, actor: &str, msg: Message) {
        let mut p = self.parts();
        if p.pipe.exec_write_fails() {
            p.log.note(
                actor,
                format!("{}: lost, the transport is closed", msg.text),
            );
            return;
        }
        let label = msg.label.clone();
        self.executor_message_out(&mut p, actor, msg.bytes, Some(label), false);
        p.schedule_fired();
    }

    // ---- the controller's end of the pipe ---------------------------------

    /// The controller sends `msg`, now if the pipe has room, else when it
    /// has (a message larger than the pipe goes in parts).
    fn controller_send(&self, msg: Message) {
        let mut p = self.parts();
        let no = p.pipe.number();
        let to = Dir::ToExecutor.receiver().to_owned();
        p.log
            .event("ctl", format!("{} [m{no}]", msg.text), Shape::Send(no, to));
        p.pipe.ctl_hold(msg.bytes, no, msg.label, msg.text);
        drop(p);
        self.flush_controller_outbox();
    }

    /// Puts the controller's waiting messages in the pipe, as room allows.
    fn flush_controller_outbox(&self) {
        let mut p = self.parts();
        while let Some((bytes, no, label, text, more)) = p.pipe.ctl_next_outgoing() {
            let lat = p.latency(&self.sc);
            let now = p.sched.now();
            let msg = Message {
                bytes,
                label,
                text,
                more_follows: more,
            };
            let faults = self.faults_for(&mut p, no);
            let sent = p.pipe.send(Dir::ToExecutor, no, msg, &faults, now, lat);
            for n in sent.notes {
                let shape = if sent.lost {
                    Shape::Lost(no, "ca".into())
                } else {
                    Shape::Note
                };
                p.log.event("net", n, shape);
            }
        }
        if p.pipe.ctl_has_outbox() && !p.pipe.is_down() {
            p.log.note(
                "net",
                "the pipe to the executor is full: the controller waits",
            );
        }
        p.schedule_fired();
    }

    /// The controller's connection failed before Setup (model access).
    pub(crate) fn controller_connection_failed(&self, msg: &str) {
        let mut p = self.parts();
        let Parts { ctl, log, .. } = &mut *p;
        ctl.end(&format!("connection failed: {msg}"), log);
    }

    /// Whether the controller reads now (a `stall-reader` fault stops it).
    fn controller_reading(&self, now: u64) -> bool {
        !self.sc.faults.iter().any(|f| match f.kind {
            FaultKind::StallReader(from, until) => from <= now && now < until,
            _ => false,
        })
    }

    /// The end of a `stall-reader` window: what piled up is read now.
    fn controller_resumes_reading(self: &Arc<Self>) {
        let held = {
            let mut p = self.parts();
            let held = p.pipe.take_held();
            if !held.is_empty() {
                p.log.note(
                    "ctl",
                    format!("reads again ({} message(s) waiting)", held.len()),
                );
            }
            held
        };
        for packet in held {
            self.controller_receive(packet);
        }
    }

    /// A packet reaches the controller, which reads it.
    fn controller_receive(self: &Arc<Self>, packet: Packet) {
        let reactions = {
            let mut p = self.parts();
            p.pipe.consumed_by_controller(&packet);
            p.wake_pipe_waiters();
            let Parts { ctl, log, .. } = &mut *p;
            let r = ctl.receive(packet.no, &packet.bytes, packet.eof, log);
            p.schedule_fired();
            r
        };
        for r in reactions {
            match r {
                Reaction::Send(0, m) => self.controller_send(m),
                Reaction::Send(after, m) => {
                    let text = m.text.clone();
                    self.note("ctl", format!("{text}: in {after} ticks"));
                    self.after(after, move |w| {
                        let ended = w.parts().ctl.ended().map(str::to_owned);
                        if let Some(why) = ended {
                            w.note(
                                "ctl",
                                format!("does not send {text}: connection ended ({why})"),
                            );
                            return;
                        }
                        w.controller_send(m);
                    });
                }
                Reaction::Hangup => self.controller_hangup(" (handler)"),
                Reaction::Close => self.transport_closes(" (handler)"),
                Reaction::Fail(why) => {
                    let mut p = self.parts();
                    p.log.note(
                        "ctl",
                        format!("protocol error: {why}; closes the connection"),
                    );
                    let lat = p.latency(&self.sc);
                    let now = p.sched.now();
                    let Parts { ctl, log, pipe, .. } = &mut *p;
                    ctl.end(&format!("protocol error: {why}"), log);
                    pipe.ctl_close(now, lat);
                    p.wake_pipe_waiters();
                }
            }
        }
    }

    /// The controller hangs up: a Hangup, then it closes its end.
    fn controller_hangup(&self, why: &str) {
        let msg = {
            let mut p = self.parts();
            let Parts { ctl, log, .. } = &mut *p;
            ctl.hangup(why, log)
        };
        if let Some(m) = msg {
            self.controller_send(m);
            let mut p = self.parts();
            let lat = p.latency(&self.sc);
            let now = p.sched.now();
            p.pipe.ctl_close(now, lat);
            p.wake_pipe_waiters();
        }
    }

    /// The transport goes away under both sides: the controller vanished.
    fn transport_closes(&self, why: &str) {
        let mut p = self.parts();
        if p.pipe.is_down() {
            p.log.note("ctl", format!("close{why}: already closed"));
            return;
        }
        p.log.note(
            "ctl",
            format!("transport closed: the controller disappears{why}"),
        );
        for lost in p.pipe.go_down() {
            let to = if lost.eof { "ctl" } else { "ca" };
            p.log.event(
                "net",
                format!("m{} lost: the transport closed ({})", lost.no, lost.text),
                Shape::Lost(lost.no, to.into()),
            );
        }
        let Parts { ctl, log, .. } = &mut *p;
        ctl.end("the transport closed", log);
        p.wake_pipe_waiters();
        p.wake_waiting();
        let lat = p.latency(&self.sc);
        drop(p);
        // The model access notices when its reader hits the end of file.
        if self.model.get().is_some() {
            self.after(lat, |w| {
                if let Some(m) = w.model.get() {
                    m.clone().receive(w, Packet::end_of_stream());
                }
            });
        }
    }

    /// Delivers a packet.
    fn deliver(self: &Arc<Self>, dir: Dir, packet: Packet) {
        match dir {
            Dir::ToExecutor => {
                if let Some(model) = self.model.get() {
                    let close = packet.then_close;
                    model.clone().receive(self, packet);
                    if close {
                        self.transport_closes(" (fault: close mid-message)");
                    }
                    return;
                }
                let mut p = self.parts();
                if p.pipe.exec_closed() && !packet.eof && packet.ends_message {
                    // Nobody will read it: say so, rather than let it vanish.
                    p.log.note(
                        "net",
                        format!("m{} lost: the executor closed the connection", packet.no),
                    );
                }
                p.pipe.arrive_at_executor(&packet);
                p.wake_pipe_waiters();
                if packet.then_close {
                    drop(p);
                    self.transport_closes(" (fault: close mid-message)");
                }
            }
            Dir::ToController => {
                let now = self.parts().sched.now();
                if !self.controller_reading(now) {
                    let mut p = self.parts();
                    p.log.note(
                        "ctl",
                        format!("does not read m{} now (fault: stalled reader)", packet.no),
                    );
                    p.pipe.hold_at_controller(packet);
                    return;
                }
                let close = packet.then_close;
                self.controller_receive(packet);
                if close {
                    self.transport_closes(" (fault: close mid-message)");
                }
            }
        }
    }

    // ---- actions and the script --------------------------------------------

    /// Performs a session or transport action.
    pub(crate) fn act(self: &Arc<Self>, a: &Action, actor: &str, why: &str) {
        match a {
            Action::Detach(named) => {
                let s = self.session_index(named.as_deref());
                self.note(actor, format!("{}(){why}", self.method(s, "detach")));
                self.session_at(s).detach();
            }
            Action::Shutdown(named) => {
                let s = self.session_index(named.as_deref());
                self.note(actor, format!("{}(){why}", self.method(s, "shutdown")));
                self.session_at(s).shutdown();
            }
            Action::ShutdownThreads(n) => {
                self.note(
                    actor,
                    format!("shutdown_then(callback) from {n} threads at once{why}"),
                );
                let session = self.session();
                let barrier = Arc::new(std::sync::Barrier::new(*n as usize));
                let handles: Vec<_> = (0..*n)
                    .map(|_| {
                        let s = session.clone();
                        let b = barrier.clone();
                        let w = self.me.clone();
                        std::thread::spawn(move || {
                            b.wait();
                            s.shutdown_then(move |_| {
                                if let Some(w) = w.upgrade() {
                                    let mut p = w.parts();
                                    p.checks.thread_callbacks += 1;
                                    p.log.note("session", "shutdown_then callback");
                                }
                            });
                        })
                    })
                    .collect();
                for h in handles {
                    if h.join().is_err() {
                        self.violation("a thread requesting shutdown panicked");
                    }
                }
                self.note(actor, format!("all {n} threads returned"));
            }
            Action::Hangup => {
                self.note(actor, format!("hangup{why}"));
                self.controller_hangup("");
            }
            Action::Close => {
                self.note(actor, format!("close{why}"));
                self.transport_closes("");
            }
        }
    }

    /// Runs the script's next step (on a simulated thread).
    fn script_step(self: &Arc<Self>) {
        let (idx, step) = {
            let mut p = self.parts();
            if p.script.pc >= self.sc.steps.len() {
                p.script.done = true;
                return;
            }
            p.script.running = true;
            (p.script.pc, self.sc.steps[p.script.pc].clone())
        };
        let mut wait: Option<ScriptWait> = None;
        let controller_step = |s: Step| -> Option<ScriptWait> {
            match s {
                Step::Send(m) => {
                    self.controller_send(m);
                    None
                }
                Step::Wait(w) => Some(ScriptWait::Controller(w)),
                Step::Done => None,
            }
        };
        match &step.kind {
            StepKind::Attach(how) => executor::attach(self, how.clone()),
            StepKind::Call {
                handle,
                target,
                arg,
            } => {
                let s = {
                    let mut p = self.parts();
                    let Parts { ctl, log, .. } = &mut *p;
                    ctl.call(handle, target, arg, log)
                };
                wait = controller_step(s);
            }
            StepKind::Service(h, op) => {
                let s = {
                    let mut p = self.parts();
                    let Parts { ctl, log, .. } = &mut *p;
                    ctl.service(h, op, log)
                };
                wait = controller_step(s);
            }
            StepKind::Act(a) => self.act(a, "script", ""),
            StepKind::Tick(n) => {
                let mut p = self.parts();
                p.log.note("script", format!("tick {n}"));
                p.script.ready_at = p.sched.later(*n);
            }
            StepKind::Await(c) => {
                let mut p = self.parts();
                p.log.event(
                    "script",
                    format!("await {}", describe_await(c)),
                    Shape::Quote,
                );
                p.script.waiting = Some(ScriptWait::Cond(c.clone(), idx));
            }
            StepKind::Spawn(t, f) => {
                let func = self.jit_index(f);
                self.note("script", format!("spawn thread {t} running {f}"));
                let actor = format!("jit {t}");
                self.start_thread(move |w| executor::jit::thread_main(w, actor, func));
            }
            StepKind::AddManager(m) => executor::managers::add(self, m, true, 0),
            StepKind::OnDetach(n, named) => {
                executor::host::on_detach(self, n, self.session_index(named.as_deref()))
            }
            StepKind::OnShutdown(n, named) => {
                executor::host::on_shutdown(self, n, self.session_index(named.as_deref()))
            }
            StepKind::Enter(g, named) => {
                executor::host::enter(self, g, self.session_index(named.as_deref()))
            }
            StepKind::Leave(g) => executor::host::leave(self, g),
            StepKind::CloneGuard(g, g2) => executor::host::clone(self, g, g2),
            StepKind::WaitShutdown(named) => {
                executor::host::wait_shutdown(self, self.session_index(named.as_deref()))
            }
            StepKind::CheckState(named, s) => {
                let session = self.session_at(self.session_index(named.as_deref()));
                let now = session.state();
                let holds = match s {
                    StateName::ShutDown => session.is_shut_down(),
                    s => now == state_of(*s),
                };
                let which = crate::scenario::after_space(named);
                if holds {
                    self.note("script", format!("check state{which} {s}: ok"));
                } else {
                    let of = named
                        .as_ref()
                        .map_or_else(|| "the session".to_owned(), |n| format!("session {n}"));
                    self.failure(format!(
                        "check state (line {}): {of} is {now:?}, not {s}",
                        step.pos.line
                    ));
                }
            }
        }
        let mut p = self.parts();
        p.script.running = false;
        match wait {
            None => {
                p.script.pc += 1;
                if p.script.pc >= self.sc.steps.len() && p.script.waiting.is_none() {
                    p.script.done = true;
                }
            }
            // The step runs again once the controller is ready for it.
            Some(w) => p.script.waiting = Some(w),
        }
    }

    // ---- the scheduler --------------------------------------------------------

    /// Runs the script, then the owner's shutdown, then reports what is
    /// stuck. On the run's thread; never calls session code itself except
    /// read-only queries.
    /// `sessions`: the default session first, then the further ones.
    fn drive(self: &Arc<Self>, pool: &mut Pool, sessions: &[Session], liveness: u64) {
        let session = &sessions[0];
        let progress = || self.progress();
        // Phase 1: the script and everything it causes.
        if self.settle(pool.run(Box::new(|| {}), progress)).is_err() {
            return;
        }
        self.script_leftovers();
        // Phase 2: the owner lets go of its sessions: shutdown, which must
        // complete within the liveness bound.
        let pending: Vec<usize> = (0..sessions.len())
            .filter(|&s| !sessions[s].is_shut_down())
            .collect();
        if !pending.is_empty() && !self.parts().stopped {
            {
                let mut p = self.parts();
                for &s in &pending {
                    let text = match self.session_name(s) {
                        None => "end of script: shutting the session down".to_owned(),
                        Some(n) => format!("end of script: shutting session {n} down"),
                    };
                    p.log.note("sim", text);
                }
                let deadline = p.sched.later(liveness);
                p.deadline = Some(deadline);
            }
            let w = self.clone();
            let r = pool.run(
                Box::new(move || {
                    w.hook_this_thread();
                    for s in pending {
                        w.session_at(s).shutdown();
                    }
                }),
                progress,
            );
            if self.settle(r).is_err() {
                return;
            }
        }
        // Phase 3: what cannot make progress any more is stuck.
        self.report_stuck(session);
        // Aborting a thread may make it wait again on its way out (a reader
        // that fails flushes what it still has to write): abort until no
        // thread waits, a few rounds at most.
        for _ in 0..4 {
            // In the order of what they wait for, not of their ids: ids
            // follow the order real threads first ran in, which the OS
            // decides, and the order of aborts shapes the transcript.
            let mut stuck = pool.parked();
            if stuck.is_empty() {
                break;
            }
            {
                let p = self.parts();
                stuck.sort_by_cached_key(|w| {
                    p.sched
                        .parked(*w)
                        .map(|x| (x.actor.clone(), x.what.clone()))
                });
            }
            for w in stuck {
                // Aborting one thread may let another finish (it held what
                // the other waited for): resuming a thread that is no
                // longer parked would wait for it forever.
                if !pool.parked().contains(&w) {
                    continue;
                }
                let (actor, what) = {
                    let mut p = self.parts();
                    p.sched.forget(w);
                    p.pipe_waiters.retain(|(x, _, _)| *x != w);
                    p.pattern_waiters.retain(|(x, _, _)| *x != w);
                    p.sched
                        .parked(w)
                        .map(|x| (x.actor.clone(), x.what.clone()))
                        .unwrap_or_default()
                };
                self.note(
                    "sim",
                    format!("aborting {actor} (stuck waiting for {what})"),
                );
                if self.settle(pool.resume(w, false, progress)).is_err() {
                    return;
                }
            }
        }
        if !pool.parked().is_empty() {
            // Still waiting: the pool cannot serve another run.
            pool.hung = true;
        }
        // Taken out first: dropping a guard logs, which locks the parts.
        let guards = self.parts().book.take_all_guards();
        drop(guards);
        for (s, session) in sessions.iter().enumerate() {
            if !session.is_shut_down() {
                let live = self.parts().book.live[s];
                let of = self
                    .session_name(s)
                    .map_or_else(String::new, |n| format!("session {n}: "));
                self.violation(format!(
                    "{of}shutdown never completed (the simulation knows of: {})",
                    live.describe()
                ));
            }
        }
    }

    /// Names everything that waits for something that can no longer
    /// happen: parked threads, and controller calls without a result on a
    /// connection that is still up.
    fn report_stuck(&self, session: &Session) {
        let mut p = self.parts();
        // Sorted: thread ids, and so the scheduler's order, follow the
        // order the OS first ran the threads in.
        let mut parked: Vec<(String, String)> = p
            .sched
            .all_parked()
            .map(|(_, x)| (x.actor.clone(), x.what.clone()))
            .collect();
        parked.sort();
        for (actor, what) in &parked {
            p.log
                .failure(format!("no progress possible: {actor} waits for {what}"));
        }
        if p.ctl.ended().is_none() {
            let open = p.ctl.outstanding();
            if !open.is_empty() {
                let state = session.state();
                p.log.failure(format!(
                    "no progress possible: the controller waits for {} on a connection that never ends (session {state:?})",
                    open.join(", ")
                ));
            }
        }
    }

    /// Something that changes with every step, or `None` if the world is
    /// locked just now (no information).
    fn progress(&self) -> Option<u64> {
        let p = self.parts.try_lock().ok()?;
        Some(
            p.sched
                .step()
                .wrapping_mul(1 << 20)
                .wrapping_add(p.log.len() as u64),
        )
    }

    fn settle(&self, r: Result<(), Hang>) -> Result<(), Hang> {
        if r.is_err() {
            self.hung.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        r
    }

    fn script_leftovers(&self) {
        let mut p = self.parts();
        if p.script.done {
            return;
        }
        let pc = p.script.pc;
        let left = self.sc.steps.len().saturating_sub(pc);
        if let Some(w) = p.script.waiting.clone() {
            let line = match &w {
                ScriptWait::Cond(_, idx) => self.sc.steps[*idx].pos.line,
                ScriptWait::Controller(_) => {
                    self.sc.steps[pc.min(self.sc.steps.len() - 1)].pos.line
                }
            };
            let what = match w {
                ScriptWait::Cond(c, _) => describe_await(&c),
                ScriptWait::Controller(Wait::Setup) => "the executor's Setup message".to_owned(),
                ScriptWait::Controller(Wait::Result(h)) => format!("the result of {h}"),
            };
            p.log.failure(format!(
                "script stuck at line {line}: waited for {what} until nothing was left to run"
            ));
        }
        if left > 0 {
            p.log.note("script", format!("{left} step(s) not run"));
        }
        p.script.done = true;
    }

    /// The scheduling loop, on the simulated thread holding the baton: pick
    /// the next step and run it here, until nothing is left (then tell the
    /// run's thread) or a parked thread must resume (then hand it the
    /// baton and return).
    pub(crate) fn sched_loop(self: &Arc<Self>) {
        loop {
            let pick = {
                let mut p = self.parts();
                if p.stopped {
                    None
                } else if p.sched.step() >= self.max_steps {
                    let n = self.max_steps;
                    p.log
                        .violation(format!("no end after {n} steps (a livelock?)"));
                    p.stopped = true;
                    None
                } else {
                    // A fault scheduled just before the coming step.
                    let next = p.sched.step() + 1;
                    for f in &self.sc.faults {
                        if let FaultKind::AtStep(n, a) = &f.kind
                            && *n == next
                        {
                            p.sched
                                .urgent(Ev::Act(a.clone(), format!("at step {next}")));
                        }
                    }
                    // A `fault on` whose event happened since the last
                    // step runs before anything else.
                    p.schedule_fired();
                    self.update_waits(&mut p);
                    match self.choose(&mut p) {
                        Some(c) => {
                            p.sched.count_step();
                            Some(self.take(&mut p, c))
                        }
                        None => None,
                    }
                }
            };
            match pick {
                None => {
                    threads::quiet();
                    return;
                }
                Some(Work::Run(job)) => {
                    if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)) {
                        let m = threads::panic_message(p.as_ref());
                        self.violation(format!("a panic escaped into the simulation: {m}"));
                    }
                }
                Some(Work::Resume(id)) => {
                    threads::resume(id);
                    return;
                }
            }
        }
    }

    fn update_waits(&self, p: &mut Parts) {
        let from = p.scanned;
        let to = p.log.len();
        if from < to && !p.pattern_waiters.is_empty() {
            let mut i = 0;
            while i < p.pattern_waiters.len() {
                if p.log.any_since(from, &p.pattern_waiters[i].1) {
                    let (_, _, f) = p.pattern_waiters.remove(i);
                    p.sched.set_flag(f);
                } else {
                    i += 1;
                }
            }
        }
        p.scanned = to;
        if let Some(w) = p.script.waiting.clone() {
            let ok = match &w {
                ScriptWait::Controller(Wait::Setup) => p.ctl.has_setup() || p.ctl.ended().is_some(),
                ScriptWait::Controller(Wait::Result(h)) => {
                    p.ctl.call_rec(h).is_none_or(|c| c.result.is_some())
                }
                ScriptWait::Cond(c, _) => self.cond_holds(p, c),
            };
            if ok {
                p.script.waiting = None;
                p.script.ready_at = p.sched.now();
            }
        }
    }

    fn cond_holds(&self, p: &Parts, c: &AwaitCond) -> bool {
        match c {
            AwaitCond::Sent(h) => p.ctl.call_rec(h).is_some_and(|c| c.sent),
            AwaitCond::Running(h) => p.book.is_running(h),
            AwaitCond::Done(h) => p.ctl.call_rec(h).is_some_and(|c| c.result.is_some()),
            AwaitCond::Pattern(pat) => p.log.any(pat),
            AwaitCond::State(named, s) => {
                let session = self.session_at(self.session_index(named.as_deref()));
                match s {
                    StateName::ShutDown => session.is_shut_down(),
                    s => session.state() >= state_of(*s),
                }
            }
            // Decided in `choose`: nothing else is ready or pending.
            AwaitCond::Idle => false,
        }
    }

    fn choose(&self, p: &mut Parts) -> Option<Cand> {
        loop {
            if p.sched.has_urgent() {
                return Some(Cand::Urgent);
            }
            let now = p.sched.now();
            if let Some(deadline) = p.deadline
                && now > deadline
            {
                p.log.violation(format!(
                    "the session did not reach its end within {} ticks after the script",
                    deadline
                ));
                p.stopped = true;
                return None;
            }
            let mut cands = Vec::new();
            let script_ready = !p.script.done
                && !p.script.running
                && p.script.waiting.is_none()
                && p.script.ready_at <= now;
            if script_ready {
                cands.push(Cand::Script);
            }
            for i in p.sched.due_timers() {
                cands.push(Cand::Timer(i));
            }
            for (dir, i) in p.pipe.ready(now) {
                cands.push(Cand::Packet(dir, i));
            }
            for (s, q) in self.queues.iter().enumerate() {
                for i in 0..q.len() {
                    cands.push(Cand::Task(s, i));
                }
            }
            if !cands.is_empty() {
                let pick = p.sched.pick(cands.len());
                return Some(cands[pick]);
            }
            // Nothing ready now: the earliest future thing.
            let mut next: Option<u64> = None;
            let mut bump = |t: u64| next = Some(next.map_or(t, |n: u64| n.min(t)));
            if let Some(t) = p.sched.next_timer() {
                bump(t);
            }
            if let Some(t) = p.pipe.next_due() {
                bump(t);
            }
            if !p.script.done && !p.script.running && p.script.waiting.is_none() {
                bump(p.script.ready_at);
            }
            if let Some(t) = next {
                p.sched.advance_to(t);
                continue;
            }
            // Quiet. A message held for reordering that nothing overtook
            // goes now; an `await idle` is satisfied; else we are done.
            if let Some(no) = p.pipe.release_reordered() {
                p.log
                    .note("net", format!("m{no} released: nothing overtook it"));
                continue;
            }
            if let Some(ScriptWait::Cond(AwaitCond::Idle, _)) = p.script.waiting {
                p.script.waiting = None;
                p.script.ready_at = now;
                continue;
            }
            return None;
        }
    }

    fn take(self: &Arc<Self>, p: &mut Parts, c: Cand) -> Work {
        let ev = match c {
            Cand::Urgent => p.sched.take_urgent().expect("urgent event"),
            Cand::Timer(i) => p.sched.take_timer(i),
            Cand::Script => {
                let w = self.clone();
                return Work::Run(Box::new(move || w.script_step()));
            }
            Cand::Packet(dir, i) => {
                let packet = p.pipe.take(dir, i);
                let w = self.clone();
                return Work::Run(Box::new(move || w.deliver(dir, packet)));
            }
            Cand::Task(s, i) => {
                let q = self.queues[s].clone();
                return Work::Run(Box::new(move || {
                    q.run_at(i);
                }));
            }
        };
        let w = self.clone();
        match ev {
            Ev::Resume(id) => Work::Resume(id),
            Ev::Do(f) => Work::Run(Box::new(move || f(&w))),
            Ev::Act(a, why) => Work::Run(Box::new(move || {
                // The trigger quotes its pattern: a line of its own that
                // patterns never match.
                w.parts()
                    .log
                    .event("fault", format!("{a} ({why})"), Shape::Quote);
                w.act(&a, "fault", "");
            })),
        }
    }

    /// Final checks and the outcome.
    fn finish(self: &Arc<Self>) -> RunOutcome {
        const HANG: &str = "hang: the simulated thread holding the baton made no progress in time (a deadlock in the runtime?)";
        let hung = self.hung.load(std::sync::atomic::Ordering::Relaxed);
        // A thread stuck while holding the world's lock leaves nothing to
        // read: report the hang alone rather than wait for it.
        let locked = (0..100).find_map(|_| match self.parts.try_lock() {
            Ok(p) => Some(p),
            Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => {
                std::thread::sleep(Duration::from_millis(10));
                None
            }
        });
        let Some(mut p) = locked else {
            return RunOutcome {
                scenario: self.sc.name.clone(),
                seed: 0,
                transcript: Transcript::default(),
                violations: vec![format!("{HANG}, inside the simulation's own lock")],
                failures: Vec::new(),
                expectations: self.sc.expects.len(),
                steps: 0,
                reached: Vec::new(),
                runtime_probes: Vec::new(),
                choices_taken: 0,
            };
        };
        if hung {
            p.log.violation(HANG);
            return self.outcome(&p);
        }
        let end =
            |s: Option<&SessionHandle>| (s.is_some_and(|s| s.is_shut_down()), s.map(|s| s.state()));
        let mut ends = vec![end(self.session.get())];
        for i in 0..self.sc.sessions.len() {
            ends.push(end(self.others.get().map(|o| &o[i])));
        }
        check::finish(&mut p, &self.sc, &ends);
        self.outcome(&p)
    }

    fn outcome(&self, p: &Parts) -> RunOutcome {
        RunOutcome {
            scenario: self.sc.name.clone(),
            seed: 0,
            transcript: Transcript {
                events: p.log.events().to_vec(),
            },
            violations: p.log.violations().to_vec(),
            failures: p.log.failures().to_vec(),
            expectations: self.sc.expects.len(),
            steps: p.sched.step(),
            reached: self
                .sc
                .probes
                .iter()
                .filter(|pr| {
                    p.log.any(&pr.pattern) || p.probes.iter().any(|n| n.contains(&*pr.pattern))
                })
                .map(|pr| pr.pattern.clone())
                .collect(),
            runtime_probes: p.probes.iter().map(|n| (*n).to_owned()).collect(),
            choices_taken: p.sched.choices_taken(),
        }
    }
}

/// One candidate for the next step.
#[derive(Debug, Clone, Copy)]
enum Cand {
    Urgent,
    Script,
    Timer(usize),
    Packet(Dir, usize),
    /// A task queued by session `.0`'s dispatcher.
    Task(usize, usize),
}

enum Work {
    Run(threads::Job),
    Resume(usize),
}

fn state_of(s: StateName) -> SessionState {
    match s {
        StateName::Start => SessionState::Start,
        StateName::Attached => SessionState::Attached,
        StateName::Detached => SessionState::Detached,
        StateName::ShutDown => SessionState::ShutDown,
    }
}

pub(crate) fn describe_await(c: &AwaitCond) -> String {
    match c {
        AwaitCond::Sent(h) => format!("{h} sent"),
        AwaitCond::Running(h) => format!("{h} running"),
        AwaitCond::Done(h) => format!("{h} done"),
        AwaitCond::Pattern(p) => format!("{p:?}"),
        AwaitCond::State(named, s) => {
            format!("state{} {s}", crate::scenario::after_space(named))
        }
        AwaitCond::Idle => "idle".to_owned(),
    }
}
