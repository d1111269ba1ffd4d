//! The simulation: a real [`orc_rt::Session`] driven by a simulated
//! controller under a deterministic scheduler.
//!
//! One [`World`] per run holds everything the simulation knows (virtual
//! clock, random generator, transport, controller, the executor side's
//! bookkeeping, the transcript) under one mutex. The scheduler loop
//! ([`run`]) repeatedly gathers what is ready (a script step, a message at
//! the head of a channel, a task in the session's queueing dispatcher, a
//! timer, a suspended thread to resume), lets the seeded generator pick one,
//! and runs it on a worker thread (see [`workers`]), one at a time.
//!
//! Lock discipline: the world's mutex is never held while calling into the
//! session, dropping a guard, sending a wrapper result or completing a
//! manager step — those may run user callbacks that log, which locks it.

mod check;
mod controller;
mod executor;
mod workers;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use orc_rt::dispatcher::QueueingDispatcher;
use orc_rt::{Session, SessionHandle, SessionHooks, SessionState};

use crate::rng::Rng;
use crate::scenario::{Action, AwaitCond, FaultKind, MsgSel, QueuePolicy, Scenario, StateName};
use crate::transcript::{Event, Shape, Transcript};

pub(crate) use controller::{Msg, Res};
use workers::{Hang, Pool};

/// Where simulated JIT'd functions live (a fake base, so transcripts hold
/// no real address).
pub const JIT_BASE: u64 = 0x1000_0000;
/// Where the controller's handler tags live.
pub const TAG_BASE: u64 = 0x2000_0000;
/// Address stride between two functions or tags.
pub const STRIDE: u64 = 0x100;

/// Knobs of one run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The seed of the scheduler's choices.
    pub seed: u64,
    /// How long a worker may keep the baton (real time) before the run is
    /// declared hung (a deadlock in the runtime).
    pub hang_timeout: Duration,
    /// The most scheduler steps a run may take (a livelock guard).
    pub max_steps: u64,
}

impl RunConfig {
    /// Defaults for `seed`: 10 s hang timeout, 100 000 steps.
    pub fn new(seed: u64) -> Self {
        RunConfig {
            seed,
            hang_timeout: Duration::from_secs(10),
            max_steps: 100_000,
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
    executor::quiet_injected_panics();
    let world = World::new(sc, cfg);
    let looper: workers::Looper = {
        let w = world.clone();
        Arc::new(move || w.sched_loop())
    };
    // Worker threads are reused from run to run on the same thread (a run
    // costs far fewer steps than thread spawns otherwise).
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
    let session = match executor::build_session(&world) {
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
    if let Some(session) = &session {
        world.drive(&mut pool, session);
    }
    // A session whose shutdown never completed would block in `drop`.
    if let Some(session) = session {
        if session.is_shut_down() && !pool.hung {
            drop(session);
        } else {
            std::mem::forget(session);
        }
    }
    // The loop holds the world: let go of it, and keep healthy workers.
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

/// A timer: something to do at a virtual time.
struct Timer {
    due: u64,
    ev: Ev,
}

/// A closure run on a worker.
pub(crate) type DoFn = Box<dyn FnOnce(&Arc<World>) + Send>;

/// Something the scheduler can run.
pub(crate) enum Ev {
    /// Resume a suspended worker.
    Resume(usize),
    /// Start a JIT thread (name, function index).
    StartThread(String, usize),
    /// Run a closure on a worker.
    Do(DoFn),
    /// A fault's action (action, why).
    Act(Action, String),
}

/// One candidate for the next step.
#[derive(Debug, Clone, Copy)]
enum Cand {
    Urgent,
    Script,
    Timer(usize),
    Chan(usize, usize),
    Task(usize),
}

/// A message in flight.
pub(crate) struct Packet {
    pub(crate) no: u64,
    pub(crate) due: u64,
    pub(crate) msg: Msg,
    /// May be overtaken by the next message of its channel.
    pub(crate) reorder: bool,
}

/// The script's cursor.
#[derive(Default)]
struct Script {
    pc: usize,
    ready_at: u64,
    waiting: Option<Wait>,
    done: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Wait {
    Cond(AwaitCond, usize),
    /// A `call` waits for the controller's setup.
    Setup,
    /// A service step waits for the result of the `reserve` of its region.
    Result(String),
}

/// A suspended simulated thread.
pub(crate) struct Parked {
    pub(crate) actor: String,
    pub(crate) what: String,
}

/// Who holds the execution scope, as far as the simulation knows: each
/// count here is a live guard, so no manager may shut down while any is
/// non-zero.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Live {
    pub(crate) queued_tasks: u64,
    pub(crate) bodies: u64,
    pub(crate) jit_guards: u64,
    pub(crate) host_guards: u64,
    pub(crate) dispatcher_guard: bool,
}

impl Live {
    fn total(&self) -> u64 {
        self.queued_tasks
            + self.bodies
            + self.jit_guards
            + self.host_guards
            + u64::from(self.dispatcher_guard)
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.queued_tasks > 0 {
            parts.push(format!("{} queued task(s)", self.queued_tasks));
        }
        if self.bodies > 0 {
            parts.push(format!("{} running wrapper body(ies)", self.bodies));
        }
        if self.jit_guards > 0 {
            parts.push(format!("{} guard(s) held by JIT'd code", self.jit_guards));
        }
        if self.host_guards > 0 {
            parts.push(format!("{} host guard(s)", self.host_guards));
        }
        if self.dispatcher_guard {
            parts.push("the dispatcher's guard".to_owned());
        }
        parts.join(", ")
    }
}

/// Everything mutable, under the world's one mutex.
pub(crate) struct St {
    pub(crate) now: u64,
    pub(crate) step: u64,
    pub(crate) rng: Rng,
    pub(crate) events: Vec<Event>,
    pub(crate) violations: Vec<String>,
    pub(crate) failures: Vec<String>,
    timers: Vec<Timer>,
    urgent: VecDeque<Ev>,
    pub(crate) chans: [VecDeque<Packet>; 2],
    pub(crate) chan_last_due: [u64; 2],
    pub(crate) next_msg: u64,
    pub(crate) net_closed: bool,
    triggers: Vec<(String, Action, bool)>,
    at_steps: Vec<(u64, Action, bool)>,
    pub(crate) ctl: controller::Ctl,
    pub(crate) ca: executor::CaSt,
    pub(crate) live: Live,
    pub(crate) checks: check::Records,
    script: Script,
    /// Suspended workers and what they wait for.
    pub(crate) parked: BTreeMap<usize, Parked>,
    pattern_waiters: Vec<(usize, String)>,
    flag_waiters: BTreeMap<u64, usize>,
    flags: BTreeSet<u64>,
    next_flag: u64,
    /// Events already scanned for pattern waits.
    scanned: usize,
    pub(crate) running: BTreeSet<String>,
    pub(crate) next_task: u64,
    pub(crate) next_thread: u64,
    pub(crate) host_guards: BTreeMap<String, executor::SimGuard>,
    /// The step limit was hit: nothing more runs.
    stopped: bool,
}

/// The simulation of one run.
pub(crate) struct World {
    pub(crate) sc: Arc<Scenario>,
    st: Mutex<St>,
    pub(crate) me: Weak<World>,
    pub(crate) session: OnceLock<SessionHandle>,
    pub(crate) hooks: OnceLock<SessionHooks>,
    pub(crate) queue: QueueingDispatcher,
    /// The real executor services, when the scenario installs them, and
    /// the bootstrap symbols they publish.
    pub(crate) services: OnceLock<(
        orc_executor::services::ExecutorServices,
        orc_rt::BootstrapInfo,
    )>,
    max_steps: u64,
}

impl World {
    fn new(sc: &Scenario, cfg: &RunConfig) -> Arc<World> {
        let mut triggers = Vec::new();
        let mut at_steps = Vec::new();
        for f in &sc.faults {
            match &f.kind {
                FaultKind::On(p, a) => triggers.push((p.clone(), a.clone(), false)),
                FaultKind::AtStep(n, a) => at_steps.push((*n, a.clone(), false)),
                _ => {}
            }
        }
        let policy = match sc.dispatcher.at_shutdown {
            QueuePolicy::Run => orc_rt::dispatcher::QueuedAtShutdown::Run,
            QueuePolicy::Keep => orc_rt::dispatcher::QueuedAtShutdown::Keep,
            QueuePolicy::Drop => orc_rt::dispatcher::QueuedAtShutdown::Drop,
        };
        Arc::new_cyclic(|me| World {
            sc: Arc::new(sc.clone()),
            st: Mutex::new(St {
                now: 0,
                step: 0,
                rng: Rng::new(cfg.seed),
                events: Vec::new(),
                violations: Vec::new(),
                failures: Vec::new(),
                timers: Vec::new(),
                urgent: VecDeque::new(),
                chans: [VecDeque::new(), VecDeque::new()],
                chan_last_due: [0, 0],
                next_msg: 0,
                net_closed: false,
                triggers,
                at_steps,
                ctl: controller::Ctl::default(),
                ca: executor::CaSt::default(),
                live: Live::default(),
                checks: check::Records::default(),
                script: Script::default(),
                parked: BTreeMap::new(),
                pattern_waiters: Vec::new(),
                flag_waiters: BTreeMap::new(),
                flags: BTreeSet::new(),
                next_flag: 0,
                scanned: 0,
                running: BTreeSet::new(),
                next_task: 0,
                next_thread: 0,
                host_guards: BTreeMap::new(),
                stopped: false,
            }),
            me: me.clone(),
            session: OnceLock::new(),
            hooks: OnceLock::new(),
            queue: orc_rt::dispatcher::QueueingDispatcher::with_policy(policy),
            services: OnceLock::new(),
            max_steps: cfg.max_steps,
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, St> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn session(&self) -> SessionHandle {
        self.session.get().expect("the session is built").clone()
    }

    pub(crate) fn hooks(&self) -> SessionHooks {
        self.hooks.get().expect("the session is built").clone()
    }

    /// Logs a plain event.
    pub(crate) fn log(&self, actor: impl Into<String>, text: impl Into<String>) {
        self.lock().log(actor, text, Shape::Note);
    }

    /// Logs an event of a given shape.
    pub(crate) fn log_shape(
        &self,
        actor: impl Into<String>,
        text: impl Into<String>,
        shape: Shape,
    ) {
        self.lock().log(actor, text, shape);
    }

    /// Records a broken invariant.
    pub(crate) fn violation(&self, text: impl Into<String>) {
        self.lock().violation(text);
    }

    /// Records a failed expectation or a script problem.
    pub(crate) fn failure(&self, text: impl Into<String>) {
        self.lock().failure(text);
    }

    /// Runs `f` on a worker `ticks` from now.
    pub(crate) fn after(&self, ticks: u64, f: impl FnOnce(&Arc<World>) + Send + 'static) {
        let mut st = self.lock();
        let due = st.now + ticks;
        st.timers.push(Timer {
            due,
            ev: Ev::Do(Box::new(f)),
        });
    }

    /// Starts JIT thread `name` running function `func` (as soon as the
    /// scheduler picks it).
    pub(crate) fn start_thread(&self, name: String, func: usize) {
        let mut st = self.lock();
        let due = st.now;
        st.timers.push(Timer {
            due,
            ev: Ev::StartThread(name, func),
        });
    }

    /// A fresh flag id (for waking a thread when something completes).
    pub(crate) fn new_flag(&self) -> u64 {
        let mut st = self.lock();
        st.next_flag += 1;
        st.next_flag
    }

    /// Sets a flag; wakes the thread waiting for it.
    pub(crate) fn set_flag(&self, flag: u64) {
        let mut st = self.lock();
        st.flags.insert(flag);
        if let Some(w) = st.flag_waiters.remove(&flag) {
            let due = st.now;
            st.timers.push(Timer {
                due,
                ev: Ev::Resume(w),
            });
        }
    }

    /// Suspends the calling simulated thread until `wake`.
    pub(crate) fn suspend(&self, actor: &str, wake: WakeOn) -> Result<(), workers::ParkError> {
        let me = workers::current().ok_or(workers::ParkError::NotAWorker)?;
        {
            let mut st = self.lock();
            let what = match &wake {
                WakeOn::Now => "its turn".to_owned(),
                WakeOn::Ticks(n) => {
                    let due = st.now + n;
                    st.timers.push(Timer {
                        due,
                        ev: Ev::Resume(me),
                    });
                    format!("t={due}")
                }
                WakeOn::Flag(f, what) => {
                    if st.flags.remove(f) {
                        return Ok(());
                    }
                    st.flag_waiters.insert(*f, me);
                    what.clone()
                }
                WakeOn::Pattern(p) => {
                    if st.events.iter().any(|e| e.matches(p)) {
                        return Ok(());
                    }
                    st.pattern_waiters.push((me, p.clone()));
                    format!("an event matching {p:?}")
                }
            };
            if matches!(wake, WakeOn::Now) {
                let due = st.now;
                st.timers.push(Timer {
                    due,
                    ev: Ev::Resume(me),
                });
            }
            st.parked.insert(
                me,
                Parked {
                    actor: actor.to_owned(),
                    what,
                },
            );
        }
        let r = workers::park();
        self.lock().parked.remove(&me);
        r
    }

    /// Scheduler: runs the script, then the epilogue. On the scheduler
    /// thread; never calls session code itself except read-only queries.
    fn drive(self: &Arc<Self>, pool: &mut Pool, session: &Session) {
        let progress = || self.progress();
        // Phase 1: the script and everything it causes.
        if self.settle(pool.run(Box::new(|| {}), progress)).is_err() {
            return;
        }
        self.script_leftovers();
        // Phase 2: the owner lets go of the session: shutdown.
        if !session.is_shut_down() && !self.lock().stopped {
            self.log("sim", "end of script: shutting the session down");
            let w = self.clone();
            let r = pool.run(Box::new(move || w.session().shutdown()), progress);
            if self.settle(r).is_err() {
                return;
            }
        }
        // Phase 3: threads still suspended are stuck; abort them so that
        // their guards are released, and report it.
        for w in pool.parked() {
            let (actor, what) = {
                let mut st = self.lock();
                st.pattern_waiters.retain(|(x, _)| *x != w);
                st.flag_waiters.retain(|_, x| *x != w);
                st.timers
                    .retain(|t| !matches!(t.ev, Ev::Resume(x) if x == w));
                st.parked
                    .get(&w)
                    .map(|p| (p.actor.clone(), p.what.clone()))
                    .unwrap_or_default()
            };
            self.failure(format!("{actor} never resumed: it was waiting for {what}"));
            self.log(
                "sim",
                format!("aborting {actor} (stuck waiting for {what})"),
            );
            if self.settle(pool.resume(w, false, progress)).is_err() {
                return;
            }
        }
        if !session.is_shut_down() {
            let live = self.lock().live;
            self.violation(format!(
                "shutdown never completed (the simulation knows of: {})",
                if live.total() == 0 {
                    "no live guard".to_owned()
                } else {
                    live.describe()
                }
            ));
        }
    }

    /// Something that changes with every step, or `None` if the world is
    /// locked just now (no information).
    fn progress(&self) -> Option<u64> {
        let st = self.st.try_lock().ok()?;
        Some(
            st.step
                .wrapping_mul(1 << 20)
                .wrapping_add(st.events.len() as u64),
        )
    }

    fn settle(&self, r: Result<(), Hang>) -> Result<(), Hang> {
        if r.is_err() {
            self.violation("hang: the simulated thread holding the baton made no progress in time (a deadlock in the runtime?)");
        }
        r
    }

    fn script_leftovers(&self) {
        let mut st = self.lock();
        if st.script.done {
            return;
        }
        let pc = st.script.pc;
        let left = self.sc.steps.len().saturating_sub(pc);
        if let Some(w) = st.script.waiting.clone() {
            let line = match &w {
                Wait::Cond(_, idx) => self.sc.steps[*idx].pos.line,
                Wait::Setup | Wait::Result(_) => {
                    self.sc.steps[pc.min(self.sc.steps.len() - 1)].pos.line
                }
            };
            let what = match w {
                Wait::Cond(c, _) => describe_await(&c),
                Wait::Setup => "the controller's setup message".to_owned(),
                Wait::Result(h) => format!("the result of {h}"),
            };
            st.failure(format!(
                "script stuck at line {line}: waited for {what} until nothing was left to run"
            ));
        }
        if left > 0 {
            st.log("script", format!("{left} step(s) not run"), Shape::Note);
        }
        st.script.done = true;
    }

    /// Steps until nothing is ready and no timer is pending.
    /// The scheduling loop, on the worker holding the baton: pick the
    /// next step and run it here, until nothing is left (then tell the
    /// run's thread) or a parked thread must resume (then hand it the
    /// baton and return).
    pub(crate) fn sched_loop(self: &Arc<Self>) {
        loop {
            let pick = {
                let mut st = self.lock();
                if st.stopped {
                    None
                } else if st.step >= self.max_steps {
                    let n = self.max_steps;
                    st.violation(format!("no end after {n} steps (a livelock?)"));
                    st.stopped = true;
                    None
                } else {
                    // A fault scheduled for the coming step.
                    let next = st.step + 1;
                    let mut due_actions = Vec::new();
                    for (n, a, fired) in &mut st.at_steps {
                        if *n == next && !*fired {
                            *fired = true;
                            due_actions.push(a.clone());
                        }
                    }
                    for a in due_actions {
                        st.urgent.push_back(Ev::Act(a, format!("at step {next}")));
                    }
                    self.update_waits(&mut st);
                    match self.choose(&mut st) {
                        Some(c) => {
                            st.step += 1;
                            Some(self.take(&mut st, c))
                        }
                        None => None,
                    }
                }
            };
            match pick {
                None => {
                    workers::quiet();
                    return;
                }
                Some(Work::Run(job)) => {
                    if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)) {
                        let m = workers::panic_message(p.as_ref());
                        self.violation(format!("a panic escaped into the simulation: {m}"));
                    }
                }
                Some(Work::Resume(id)) => {
                    workers::resume(id);
                    return;
                }
            }
        }
    }

    fn update_waits(&self, st: &mut St) {
        let from = st.scanned;
        let to = st.events.len();
        if from < to && !st.pattern_waiters.is_empty() {
            let mut woken = Vec::new();
            st.pattern_waiters.retain(|(w, p)| {
                let hit = st.events[from..to].iter().any(|e| e.matches(p));
                if hit {
                    woken.push(*w);
                }
                !hit
            });
            for w in woken {
                let due = st.now;
                st.timers.push(Timer {
                    due,
                    ev: Ev::Resume(w),
                });
            }
        }
        st.scanned = to;
        if let Some(w) = st.script.waiting.clone() {
            let ok = match &w {
                Wait::Setup => st.ctl.setup || st.ctl.ended.is_some(),
                Wait::Result(h) => st.ctl.calls.get(h).is_some_and(|c| c.result.is_some()),
                Wait::Cond(c, _) => self.cond_holds(st, c),
            };
            if ok {
                st.script.waiting = None;
                st.script.ready_at = st.now;
            }
        }
    }

    fn cond_holds(&self, st: &St, c: &AwaitCond) -> bool {
        match c {
            AwaitCond::Sent(h) => st.ctl.calls.get(h).is_some_and(|c| c.sent),
            AwaitCond::Running(h) => st.running.contains(h),
            AwaitCond::Done(h) => st.ctl.calls.get(h).is_some_and(|c| c.result.is_some()),
            AwaitCond::Pattern(p) => st.events.iter().any(|e| e.matches(p)),
            AwaitCond::State(s) => {
                let session = self.session();
                match s {
                    StateName::ShutDown => session.is_shut_down(),
                    s => session.state() >= state_of(*s),
                }
            }
            // Decided in `choose`: nothing else is ready or pending.
            AwaitCond::Idle => false,
        }
    }

    fn choose(&self, st: &mut St) -> Option<Cand> {
        loop {
            if !st.urgent.is_empty() {
                return Some(Cand::Urgent);
            }
            let now = st.now;
            let mut cands = Vec::new();
            let script_ready =
                !st.script.done && st.script.waiting.is_none() && st.script.ready_at <= now;
            if script_ready {
                cands.push(Cand::Script);
            }
            for (i, t) in st.timers.iter().enumerate() {
                if t.due <= now {
                    cands.push(Cand::Timer(i));
                }
            }
            for d in 0..2 {
                let ch = &st.chans[d];
                if let Some(h) = ch.front() {
                    if h.reorder {
                        if let Some(s) = ch.get(1)
                            && s.due <= now
                        {
                            cands.push(Cand::Chan(d, 1));
                        }
                    } else if h.due <= now {
                        cands.push(Cand::Chan(d, 0));
                    }
                }
            }
            for i in 0..self.queue.len() {
                cands.push(Cand::Task(i));
            }
            if !cands.is_empty() {
                let pick = st.rng.below(cands.len() as u64) as usize;
                return Some(cands[pick]);
            }
            // Nothing ready now: the earliest future thing.
            let mut next: Option<u64> = None;
            let mut bump = |t: u64| next = Some(next.map_or(t, |n: u64| n.min(t)));
            for t in &st.timers {
                bump(t.due);
            }
            for ch in &st.chans {
                if let Some(h) = ch.front() {
                    if h.reorder {
                        if let Some(s) = ch.get(1) {
                            bump(s.due);
                        }
                    } else {
                        bump(h.due);
                    }
                }
            }
            if !st.script.done && st.script.waiting.is_none() {
                bump(st.script.ready_at);
            }
            if let Some(t) = next {
                st.now = t.max(now);
                continue;
            }
            // Quiet. A message held for reordering that nothing overtook
            // goes now; an `await idle` is satisfied; else we are done.
            let mut released = false;
            for d in 0..2 {
                if let Some(h) = st.chans[d].front_mut()
                    && h.reorder
                {
                    h.reorder = false;
                    let no = h.no;
                    st.log(
                        "net",
                        format!("m{no} released: nothing overtook it"),
                        Shape::Note,
                    );
                    released = true;
                }
            }
            if released {
                continue;
            }
            if let Some(Wait::Cond(AwaitCond::Idle, _)) = st.script.waiting {
                st.script.waiting = None;
                st.script.ready_at = now;
                continue;
            }
            return None;
        }
    }

    fn take(self: &Arc<Self>, st: &mut St, c: Cand) -> Work {
        let ev = match c {
            Cand::Urgent => st.urgent.pop_front().expect("urgent event"),
            Cand::Timer(i) => st.timers.remove(i).ev,
            Cand::Script => {
                let w = self.clone();
                return Work::Run(Box::new(move || w.script_step()));
            }
            Cand::Chan(d, i) => {
                let p = st.chans[d].remove(i).expect("packet");
                if i == 1
                    && let Some(h) = st.chans[d].front_mut()
                {
                    // It was overtaken: it goes next.
                    h.reorder = false;
                }
                let w = self.clone();
                return Work::Run(Box::new(move || {
                    if d == 0 {
                        executor::deliver(&w, p);
                    } else {
                        controller::deliver(&w, p);
                    }
                }));
            }
            Cand::Task(i) => {
                let q = self.queue.clone();
                return Work::Run(Box::new(move || {
                    q.run_at(i);
                }));
            }
        };
        let w = self.clone();
        match ev {
            Ev::Resume(id) => Work::Resume(id),
            Ev::StartThread(name, func) => {
                Work::Run(Box::new(move || executor::thread_main(&w, name, func)))
            }
            Ev::Do(f) => Work::Run(Box::new(move || f(&w))),
            Ev::Act(a, why) => {
                Work::Run(Box::new(move || {
                    // The trigger quotes its pattern: a line of its own that
                    // patterns never match.
                    w.log_shape("fault", format!("{a} ({why})"), Shape::Quote);
                    w.act(&a, "fault", "");
                }))
            }
        }
    }

    /// Performs a session or transport action.
    pub(crate) fn act(self: &Arc<Self>, a: &Action, actor: &str, why: &str) {
        match a {
            Action::Detach => {
                self.log(actor, format!("detach(){why}"));
                self.session().detach();
            }
            Action::Shutdown => {
                self.log(actor, format!("shutdown(){why}"));
                self.session().shutdown();
            }
            Action::ShutdownThreads(n) => {
                self.log(
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
                                    w.lock().checks.thread_callbacks += 1;
                                    w.log("session", "shutdown_then callback");
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
                self.log(actor, format!("all {n} threads returned"));
            }
            Action::Hangup => {
                self.log(actor, format!("hangup{why}"));
                controller::hangup(self, "");
            }
            Action::Close => {
                self.log(actor, format!("close{why}"));
                controller::close(self, "");
            }
        }
    }

    /// Runs the script's next step (on a worker).
    fn script_step(self: &Arc<Self>) {
        use crate::scenario::StepKind as K;
        let (idx, step) = {
            let st = self.lock();
            if st.script.pc >= self.sc.steps.len() {
                drop(st);
                self.lock().script.done = true;
                return;
            }
            (st.script.pc, self.sc.steps[st.script.pc].clone())
        };
        let mut wait: Option<Wait> = None;
        match &step.kind {
            K::Attach(fail) => executor::attach(self, fail.clone()),
            K::Call {
                handle,
                target,
                arg,
            } => {
                wait = controller::call(self, handle, target, arg);
            }
            K::Act(a) => self.act(a, "script", ""),
            K::Tick(n) => {
                self.log("script", format!("tick {n}"));
                let mut st = self.lock();
                st.script.ready_at = st.now + n;
            }
            K::Await(c) => {
                self.log_shape(
                    "script",
                    format!("await {}", describe_await(c)),
                    Shape::Quote,
                );
                self.lock().script.waiting = Some(Wait::Cond(c.clone(), idx));
            }
            K::Spawn(t, f) => {
                let func = self
                    .sc
                    .jits
                    .iter()
                    .position(|j| &j.name == f)
                    .expect("validated");
                self.log("script", format!("spawn thread {t} running {f}"));
                self.start_thread(format!("jit {t}"), func);
            }
            K::AddManager(m) => executor::add_manager(self, m, true),
            K::OnDetach(n) => executor::on_detach(self, n),
            K::OnShutdown(n) => executor::on_shutdown(self, n),
            K::Enter(g) => executor::host_enter(self, g),
            K::Leave(g) => executor::host_leave(self, g),
            K::Service(h, op) => wait = controller::service(self, h, op),
            K::CloneGuard(..) | K::WaitShutdown | K::CheckState(_) => {
                self.failure(format!("line {}: step needs the new engine", step.pos.line));
            }
        }
        let mut st = self.lock();
        match wait {
            None => {
                st.script.pc += 1;
                if st.script.pc >= self.sc.steps.len() && st.script.waiting.is_none() {
                    st.script.done = true;
                }
            }
            // The step runs again once the controller is ready for it.
            Some(w) => st.script.waiting = Some(w),
        }
    }

    /// Final checks and the outcome.
    fn finish(self: &Arc<Self>) -> RunOutcome {
        let shut_down = self.session.get().is_some_and(|s| s.is_shut_down());
        let state = self.session.get().map(|s| s.state());
        check::finish(self, shut_down, state);
        let st = self.lock();
        RunOutcome {
            scenario: self.sc.name.clone(),
            seed: 0,
            transcript: Transcript {
                events: st.events.clone(),
            },
            violations: st.violations.clone(),
            failures: st.failures.clone(),
            expectations: self.sc.expects.len(),
            steps: st.step,
        }
    }
}

enum Work {
    Run(workers::Job),
    Resume(usize),
}

/// What a suspended thread waits for.
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

impl St {
    pub(crate) fn log(&mut self, actor: impl Into<String>, text: impl Into<String>, shape: Shape) {
        let e = Event {
            time: self.now,
            actor: actor.into(),
            text: text.into(),
            shape,
        };
        if !self.triggers.is_empty() {
            let mut fire = Vec::new();
            for (p, a, fired) in &mut self.triggers {
                if !*fired && e.matches(p) {
                    *fired = true;
                    fire.push((a.clone(), format!("on {p:?}")));
                }
            }
            for (a, why) in fire {
                self.urgent.push_back(Ev::Act(a, why));
            }
        }
        self.events.push(e);
    }

    pub(crate) fn violation(&mut self, text: impl Into<String>) {
        let text = text.into();
        self.log("check", format!("VIOLATION: {text}"), Shape::Failure);
        self.violations.push(text);
    }

    pub(crate) fn failure(&mut self, text: impl Into<String>) {
        let text = text.into();
        self.log("check", format!("FAILED: {text}"), Shape::Failure);
        self.failures.push(text);
    }
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
        AwaitCond::State(s) => format!("state {s}"),
        AwaitCond::Idle => "idle".to_owned(),
    }
}

/// Which selector names a message (for faults).
pub(crate) fn selects(sel: &MsgSel, no: u64, msg: &Msg) -> bool {
    match (sel, msg) {
        (MsgSel::Nth(n), _) => *n == no,
        (MsgSel::Setup, Msg::Setup { .. }) => true,
        (MsgSel::Hangup, Msg::Hangup) => true,
        (MsgSel::Call(h), Msg::Call { handle, .. }) => h == handle,
        (MsgSel::Result(h), Msg::Result { handle, .. }) => h == handle,
        (MsgSel::CallTag(t, n), Msg::CallTag { tag, n: k, .. }) => t == tag && n == k,
        (MsgSel::Reply(t, n), Msg::Reply { tag, n: k, .. }) => t == tag && n == k,
        _ => false,
    }
}
