//! Scenario scripts: the data model of a `.scn` file (the format is
//! documented in `scenarios/README.md`), its parser ([`parse`]) and its
//! printer ([`Scenario::to_scn`]).
//!
//! A scenario has a header (the world: managers, JIT'd functions, controller
//! handlers, faults) and, after a `---` line, a body (the controller's
//! script and the expectations checked at the end of the run). `repeat`
//! blocks are expanded by the parser: the model holds none.

mod lex;
mod parse;
mod print;

pub(crate) use print::behaviour as behaviour_text;

use std::fmt;

pub use parse::{parse, parse_with};

/// Where something was written: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub col: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A scenario that does not parse: names the file, line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The file (or the name given to [`parse`]).
    pub file: String,
    /// Where the problem is.
    pub pos: Pos,
    /// What is wrong, and usually what was expected.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: error: {}", self.file, self.pos, self.message)
    }
}

impl std::error::Error for ParseError {}

/// A parsed scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The file name without `.scn` (or the name given to [`parse`]).
    pub name: String,
    /// The file path as given.
    pub file: String,
    /// The spec rules the scenario checks (`# rule: ...` lines).
    pub rules: Vec<String>,
    /// Known, deliberate differences from LLVM 22's executor
    /// (`# deviation: ...` lines): over the wire, only the first executor
    /// must pass, and the transcripts may differ.
    pub deviations: Vec<String>,
    /// The seed whose transcript is the snapshot (`seed N`, default 0).
    pub seed: u64,
    /// Message latency range in ticks (`latency MIN MAX`, default 1 3).
    pub latency: (u64, u64),
    /// How the session dispatches its tasks.
    pub dispatcher: DispatcherDecl,
    /// What the session's on-disconnect handler does.
    pub on_disconnect: OnDisconnect,
    /// Further sessions in the same process (`session NAME`), in
    /// declaration order. The default session, the one the controller
    /// attaches to, has no name.
    pub sessions: Vec<SessionDecl>,
    /// Resource managers, in registration order.
    pub managers: Vec<ManagerDecl>,
    /// Simulated JIT'd functions, in registration order.
    pub jits: Vec<JitDecl>,
    /// Controller-side handlers that executor code calls by tag.
    pub handlers: Vec<HandlerDecl>,
    /// Install the real executor services (`services`): memory manager,
    /// memory access, dylib manager, running code.
    pub services: bool,
    /// A protocol-level scenario (`wire`): also played over LLVM 22's wire
    /// protocol against executor processes by `orc-sim differential`.
    pub wire: bool,
    /// Which controller access the executor side uses (`access real|model`,
    /// default real: the executor's own SimpleRemoteEPC access over the
    /// simulated byte pipe).
    pub access: AccessKind,
    /// Bytes the simulated pipe holds per direction before a writer must
    /// wait (`pipe BYTES`, default 65536, a Linux pipe's).
    pub pipe_capacity: u64,
    /// Rare situations that must happen in at least one seed of a replay
    /// (`reach "PATTERN"`): coverage probes.
    pub probes: Vec<Probe>,
    /// Faults to inject.
    pub faults: Vec<Fault>,
    /// The controller's script.
    pub steps: Vec<Step>,
    /// Checked once the run is over.
    pub expects: Vec<Expect>,
    /// Wrapper functions the embedding program provides, which `call H
    /// NAME` may name ([`parse_with`]).
    pub provided_wrappers: Vec<String>,
}

impl Scenario {
    /// The JIT'd function called `name`.
    pub fn jit(&self, name: &str) -> Option<&JitDecl> {
        self.jits.iter().find(|j| j.name == name)
    }

    /// The index of a session as the simulation numbers them: 0 for the
    /// default session (`None`), 1 and up for the `session` lines in
    /// order; `None` if no such session is declared.
    pub fn session_index(&self, name: Option<&str>) -> Option<usize> {
        match name {
            None => Some(0),
            Some(n) => self
                .sessions
                .iter()
                .position(|s| s.name == n)
                .map(|i| i + 1),
        }
    }
}

/// `session NAME`: a further session in the same process, with no
/// controller (it never attaches: its disconnect report is `Ok`, spec 8.6
/// step 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDecl {
    /// How scripts name it.
    pub name: String,
    /// Where it was declared.
    pub pos: Pos,
}

/// Which `ControllerAccess` the simulated executor uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessKind {
    /// `orc-executor`'s `WireControllerAccess`, reading and writing real
    /// SimpleRemoteEPC frames through the simulated pipe.
    #[default]
    Real,
    /// A model of the access's obligations (spec 7) inside the simulation,
    /// for scenarios about the session core alone (it can break an
    /// obligation on purpose: `fault ca-delivers-late`).
    Model,
}

/// `reach "PATTERN"`: an event matching the pattern must happen in at least
/// one of the seeds a replay runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// Matched against each event's `actor: text` line.
    pub pattern: String,
    /// Where it was written.
    pub pos: Pos,
}

/// `dispatcher KIND [POLICY]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatcherDecl {
    /// Whether the dispatcher holds one execution-scope guard for all its
    /// work (the seed's pattern).
    pub holding_guard: bool,
    /// What happens to tasks still queued when the session shuts the
    /// dispatcher down.
    pub at_shutdown: QueuePolicy,
}

impl Default for DispatcherDecl {
    fn default() -> Self {
        DispatcherDecl {
            holding_guard: false,
            at_shutdown: QueuePolicy::Keep,
        }
    }
}

/// What the queueing dispatcher does with queued tasks at shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueuePolicy {
    /// Run them on the thread that shuts it down.
    Run,
    /// Keep them: the scheduler runs them later, interleaved with the rest.
    Keep,
    /// Drop them (and the guards they own).
    Drop,
}

/// `on-disconnect ...`: the session's on-disconnect handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnDisconnect {
    /// Logs the result (the default).
    Log,
    /// No handler: an abnormal disconnect goes to the error reporter.
    None,
    /// Logs, then requests shutdown from inside the handler.
    Shutdown,
    /// Panics with the message.
    Panic(String),
}

/// How a manager's `detach` or `shutdown` completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behaviour {
    /// The outcome.
    pub outcome: Outcome,
    /// Complete asynchronously, this many ticks later (0 = inline).
    pub after: Option<u64>,
    /// Request shutdown from inside the callback first: of the manager's
    /// own session (`Some(None)`) or of the named one.
    pub request_shutdown: Option<Option<String>>,
    /// Add this manager to the session from inside the callback first.
    pub add_manager: Option<Box<ManagerDecl>>,
    /// Wait (blocking, as host code would) for a session to shut down from
    /// inside the callback: for the manager's own session (`Some(None)`)
    /// the runtime must refuse instead of deadlocking; another one
    /// (`Some(Some(NAME))`) is waited for.
    pub wait_shutdown: Option<Option<String>>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            outcome: Outcome::Ok,
            after: None,
            request_shutdown: None,
            add_manager: None,
            wait_shutdown: None,
        }
    }
}

/// The result a manager callback reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `done(Ok)`.
    Ok,
    /// `done(Err(msg))`.
    Fail(String),
    /// Panics inside the callback.
    Panic(String),
    /// Drops the completion without calling it.
    Forget,
}

/// `manager NAME [in SESSION] [detach B] [shutdown B]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerDecl {
    /// Its name in the transcript.
    pub name: String,
    /// `in SESSION`: the session it belongs to. `None`: the default
    /// session; for a manager a callback adds, the callback's session.
    pub session: Option<String>,
    /// What `detach` does.
    pub detach: Behaviour,
    /// What `shutdown` does.
    pub shutdown: Behaviour,
    /// Where it was declared.
    pub pos: Pos,
}

/// `jit NAME [ABI]: OP, OP, ...`: a simulated JIT'd function.
#[derive(Debug, Clone, PartialEq)]
pub struct JitDecl {
    /// Its name (the bootstrap symbol the controller calls it by).
    pub name: String,
    /// How the session calls it.
    pub abi: JitAbi,
    /// Its body.
    pub ops: Vec<Op>,
    /// Where it was declared.
    pub pos: Pos,
}

/// The calling convention of a simulated JIT'd function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JitAbi {
    /// A Rust handler registered with the session (`register_wrapper_at`).
    #[default]
    Rust,
    /// `async-c`: an `orc_rt_WrapperFunction` registered with
    /// `register_async_wrapper` (result through the C `Return`).
    AsyncC,
    /// `legacy-c`: not registered; LLVM 22's synchronous
    /// `CWrapperFunctionResult fn(const char *, size_t)`, reached through
    /// the session's handler for unregistered addresses.
    LegacyC,
}

/// One operation of a JIT'd function's body.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Take an execution-scope guard (of the named session, else of the
    /// default one); if denied, stop and return an error.
    Enter(Option<String>),
    /// Release the newest guard this body holds.
    Leave,
    /// Clone the newest guard (an independent retain, which may be empty).
    Clone,
    /// Run for N ticks of virtual time (suspends this thread).
    Work(u64),
    /// Call the controller's handler TAG and wait for the result.
    Call(String, Value),
    /// Call the controller's handler TAG without waiting.
    CallAsync(String, Value),
    /// Send the wrapper's result now.
    Return(Value),
    /// Send the wrapper's result N ticks later, from a timer (no guard).
    ReturnLater(u64, Value),
    /// `session.shutdown()` (of the named session, else of the default
    /// one).
    Shutdown(Option<String>),
    /// `session.detach()`.
    Detach(Option<String>),
    /// `session.wait_for_shutdown()`.
    WaitShutdown(Option<String>),
    /// Suspend until an event matching the pattern has been logged.
    Wait(String),
    /// Start a JIT thread named T running FN.
    Spawn(String, String),
    /// `session.dispatch(task running FN)`, on the named session's
    /// dispatcher (`dispatch FN in SESSION`), else the default one's.
    Dispatch(String, Option<String>),
    /// Panic with the message.
    Panic(String),
    /// `keepalive N`: `session.call_with_keepalive` around N ticks of work.
    Keepalive(u64),
    /// `add-manager NAME ...`: add a manager from JIT'd code.
    AddManager(Box<ManagerDecl>),
}

/// `handler TAG: [calls FN VALUE,] REPLY [after N]`: a controller-side
/// handler.
#[derive(Debug, Clone, PartialEq)]
pub struct HandlerDecl {
    /// The tag's name.
    pub name: String,
    /// Calls the controller makes into the executor (JIT'd function,
    /// argument) and waits for before it replies: re-entrancy.
    pub calls_back: Vec<(String, Value)>,
    /// What the controller does when called.
    pub reply: Reply,
    /// Reply this many ticks after the call arrives.
    pub after: u64,
    /// Where it was declared.
    pub pos: Pos,
}

/// What a controller handler answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// This value.
    Value(Value),
    /// The call's own argument bytes.
    Echo,
    /// Never answers.
    Never,
    /// Hangs up (orderly) instead of answering.
    Hangup,
    /// Closes the transport (the controller disappears) instead.
    Close,
    /// Answered by a handler the embedding program provides
    /// ([`SimulationBuilder::handler`](crate::simulation::SimulationBuilder::handler)).
    Provided,
}

/// A value carried by a call or a result, SPS-encoded on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// No bytes.
    Empty,
    /// SPS `u64`.
    U64(u64),
    /// SPS `u32`.
    U32(u32),
    /// SPS `bool`.
    Bool(bool),
    /// SPS string.
    Str(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// An out-of-band error with this message.
    Error(String),
    /// Several values one after the other: the arguments of an SPS
    /// function of several parameters (`(str "k", u64 7)`).
    Tuple(Vec<Value>),
}

impl Value {
    /// The bytes on the wire (`None` for an out-of-band error).
    pub fn encode(&self) -> Option<Vec<u8>> {
        use orc_rt::sps;
        Some(match self {
            Value::Empty => Vec::new(),
            Value::U64(v) => sps::to_vec(v),
            Value::U32(v) => sps::to_vec(v),
            Value::Bool(v) => sps::to_vec(v),
            Value::Str(s) => sps::to_vec(&s.as_str()),
            Value::Bytes(b) => b.clone(),
            Value::Tuple(vs) => {
                let mut out = Vec::new();
                for v in vs {
                    out.extend(v.encode()?);
                }
                out
            }
            Value::Error(_) => return None,
        })
    }
}

impl Value {
    /// As a transcript shows it: long byte strings shortened (the script's
    /// own form is the `Display` one).
    pub fn brief(&self) -> String {
        match self {
            Value::Bytes(b) if b.len() > 32 => format!("bytes {}", crate::transcript::hex(b)),
            v => v.to_string(),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Empty => f.write_str("empty"),
            Value::U64(v) => write!(f, "u64 {v}"),
            Value::U32(v) => write!(f, "u32 {v}"),
            Value::Bool(v) => write!(f, "bool {v}"),
            Value::Str(s) => write!(f, "str {s:?}"),
            Value::Bytes(b) => {
                f.write_str("bytes ")?;
                for x in b {
                    write!(f, "{x:02x}")?;
                }
                Ok(())
            }
            Value::Tuple(vs) => {
                f.write_str("(")?;
                for (i, v) in vs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(")")
            }
            Value::Error(m) => write!(f, "error {m:?}"),
        }
    }
}

/// Picks one message on the simulated transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MsgSel {
    /// The executor's setup message (sent from `connect`).
    Setup,
    /// The controller's call with handle H.
    Call(String),
    /// The executor's result for the controller's call H.
    Result(String),
    /// The executor's N-th call (1-based) to the controller's handler TAG.
    CallTag(String, u64),
    /// The controller's reply to that call.
    Reply(String, u64),
    /// A hang-up message (either direction).
    Hangup,
    /// The N-th message sent (1-based, both directions).
    Nth(u64),
}

/// A field of a frame's 32-byte header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderField {
    /// The size (header included).
    Size,
    /// The opcode.
    Opcode,
    /// The sequence number.
    Seqno,
    /// The tag (an executor address).
    Tag,
}

impl fmt::Display for HeaderField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeaderField::Size => "size",
            HeaderField::Opcode => "opcode",
            HeaderField::Seqno => "seqno",
            HeaderField::Tag => "tag",
        })
    }
}

impl fmt::Display for MsgSel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MsgSel::Setup => f.write_str("setup"),
            MsgSel::Call(h) => write!(f, "call {h}"),
            MsgSel::Result(h) => write!(f, "result {h}"),
            MsgSel::CallTag(t, n) => write!(f, "ccall {t} {n}"),
            MsgSel::Reply(t, n) => write!(f, "reply {t} {n}"),
            MsgSel::Hangup => f.write_str("hangup"),
            MsgSel::Nth(n) => write!(f, "msg {n}"),
        }
    }
}

/// Something done to a session or the transport: a body step, or what a
/// fault trigger does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `session.detach()`, of the named session (else the default one).
    Detach(Option<String>),
    /// `session.shutdown()`, of the named session (else the default one).
    Shutdown(Option<String>),
    /// `session.shutdown()` from N threads at once (real threads).
    ShutdownThreads(u32),
    /// The controller hangs up (orderly remote disconnect).
    Hangup,
    /// The transport closes: the controller disappears without a word.
    Close,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Detach(s) => write!(f, "detach{}", after_space(s)),
            Action::Shutdown(s) => write!(f, "shutdown{}", after_space(s)),
            Action::ShutdownThreads(n) => write!(f, "shutdown-threads {n}"),
            Action::Hangup => f.write_str("hangup"),
            Action::Close => f.write_str("close"),
        }
    }
}

/// ` NAME` for a named session, nothing for the default one.
pub(crate) fn after_space(session: &Option<String>) -> String {
    session
        .as_ref()
        .map_or_else(String::new, |s| format!(" {s}"))
}

/// `fault ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// The message is lost.
    Drop(MsgSel),
    /// The message arrives N ticks late (the transport stays FIFO, so the
    /// messages behind it wait too).
    Delay(MsgSel, u64),
    /// The message is overtaken by the next one in the same direction.
    Reorder(MsgSel),
    /// The message arrives twice.
    Duplicate(MsgSel),
    /// Do ACTION just before scheduler step N.
    AtStep(u64, Action),
    /// Do ACTION as soon as an event matching the pattern is logged.
    On(String, Action),
    /// The controller access breaks obligation 4: it still hands incoming
    /// calls to the session after disconnecting.
    CaDeliversLate,
    /// The next memory reservation asks for more than any process can map,
    /// so the real memory manager's reservation fails.
    ReserveFails,
    /// `split MSG AT`: the message's bytes arrive in two parts, the first
    /// AT bytes, then the rest a tick later.
    Split(MsgSel, u64),
    /// `short-reads N`: every read of the executor returns at most N bytes.
    ShortReads(u64),
    /// `short-writes N`: every write of the executor takes at most N bytes.
    ShortWrites(u64),
    /// `stall-reader FROM UNTIL`: the controller reads nothing from tick
    /// FROM until tick UNTIL (its pipe fills; the executor's writes wait).
    StallReader(u64, u64),
    /// `close-mid MSG AT`: the transport closes after AT bytes of the
    /// message have gone through.
    CloseMid(MsgSel, u64),
    /// `corrupt MSG FIELD VALUE`: the message arrives with a header field
    /// replaced.
    Corrupt(MsgSel, HeaderField, u64),
}

/// A fault with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// What to inject.
    pub kind: FaultKind,
    /// Where it was written.
    pub pos: Pos,
}

/// What an `await` waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwaitCond {
    /// The call H was sent.
    Sent(String),
    /// The call H's wrapper started running.
    Running(String),
    /// The call H got its result (or failed at the controller).
    Done(String),
    /// An event matching the pattern was logged.
    Pattern(String),
    /// The session (the named one, else the default one) reached this
    /// state.
    State(Option<String>, StateName),
    /// Nothing is left to run but timers further than the script's own.
    Idle,
}

/// A session state, as scripts name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateName {
    /// `start`
    Start,
    /// `attached`
    Attached,
    /// `detached`
    Detached,
    /// `shut-down`
    ShutDown,
}

impl fmt::Display for StateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StateName::Start => "start",
            StateName::Attached => "attached",
            StateName::Detached => "detached",
            StateName::ShutDown => "shut-down",
        })
    }
}

/// One step of the controller's script.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// Attach the simulated controller access.
    Attach(AttachHow),
    /// The controller calls FN (a JIT'd function, or a raw address) as H.
    Call {
        /// The call's handle.
        handle: String,
        /// What is called.
        target: CallTarget,
        /// Its argument.
        arg: Value,
    },
    /// A session action.
    Act(Action),
    /// Let N ticks pass.
    Tick(u64),
    /// Wait until the condition holds.
    Await(AwaitCond),
    /// Start a JIT thread T running FN (host code, not a task).
    Spawn(String, String),
    /// Add a manager after the session started.
    AddManager(Box<ManagerDecl>),
    /// Register an on-detach callback (`in SESSION`, else with the default
    /// session).
    OnDetach(String, Option<String>),
    /// Register an on-shutdown callback.
    OnShutdown(String, Option<String>),
    /// The host takes a named execution-scope guard (of the session named
    /// after `in`, else of the default one).
    Enter(String, Option<String>),
    /// The host releases it (on another thread).
    Leave(String),
    /// The controller calls an executor service as H.
    Service(String, SvcOp),
    /// `clone G G2`: host code clones guard G (an independent retain,
    /// empty once the scope is closed) as G2.
    CloneGuard(String, String),
    /// `wait-shutdown [SESSION]`: host code blocks in the session's
    /// `wait_for_shutdown`, holding whatever guards it holds (the runtime
    /// should detect a wait that can never end).
    WaitShutdown(Option<String>),
    /// `check state [SESSION] STATE`: the session is in this state at this
    /// point.
    CheckState(Option<String>, StateName),
}

/// A request to the real executor services, by their LLVM 22 bootstrap
/// names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SvcOp {
    /// `reserve H SIZE`: the memory manager reserves SIZE bytes; H then
    /// names the region.
    Reserve(u64),
    /// `write H REGION OFFSET VALUE`: memory access writes the value's
    /// bytes at REGION + OFFSET.
    Write(String, u64, Value),
    /// `read H REGION OFFSET LEN`: memory access reads LEN bytes.
    Read(String, u64, u64),
    /// `release H REGION [REGION...]`: the memory manager releases the
    /// regions in one call (a handle may also name an unknown address:
    /// `0x...`).
    Release(Vec<String>),
    /// `initialize H REGION SEGMENT [SEGMENT...] [ACTION...]`: the memory
    /// manager finalizes segments of one reservation and runs allocation
    /// actions; H then names its key. Segment: `segment OFFSET SIZE PROT
    /// [finalize] [VALUE]` (PROT such as `r-x`; `finalize`: a
    /// finalize-lifetime segment, freed once the actions ran). Action:
    /// `action ok|fail "MSG"` (a harmless allocation action the simulation
    /// provides, with a dealloc action that logs).
    Initialize(String, Vec<SegmentDecl>, Vec<ActionDecl>),
    /// `deinitialize H INIT [INIT...]`: runs the dealloc actions of one or
    /// more initializes in one call.
    Deinitialize(Vec<String>),
    /// `open H "PATH"`: the dylib manager opens a library ("" = the
    /// process); H then names its handle.
    Open(String),
    /// `resolve H LIB "SYM" [weak] ...`: looks symbols up in an opened
    /// library (required unless `weak`).
    Resolve(String, Vec<(String, bool)>),
}

/// One segment of an `initialize`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentDecl {
    /// Offset in the reservation.
    pub offset: u64,
    /// Size in bytes.
    pub size: u64,
    /// Protection bits (read 1, write 2, exec 4).
    pub prot: u8,
    /// Finalize lifetime: released once the finalize actions ran.
    pub finalize: bool,
    /// Initial content (zero-filled to `size`).
    pub content: Value,
}

/// One allocation action of an `initialize`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionDecl {
    /// Succeeds (its dealloc action logs when it runs).
    Ok,
    /// Fails with this message.
    Fail(String),
}

impl SvcOp {
    /// The handle of the earlier step whose address this step uses.
    pub fn uses(&self) -> Option<&str> {
        match self {
            SvcOp::Write(r, ..) | SvcOp::Read(r, ..) | SvcOp::Initialize(r, ..) => Some(r),
            SvcOp::Release(rs) | SvcOp::Deinitialize(rs) => rs.first().map(String::as_str),
            SvcOp::Resolve(l, _) => Some(l),
            SvcOp::Reserve(_) | SvcOp::Open(_) => None,
        }
    }

    /// What kind of address this step's result names, if any.
    pub fn produces(&self) -> Option<&'static str> {
        match self {
            SvcOp::Reserve(_) => Some("region"),
            SvcOp::Initialize(..) => Some("initialized segment"),
            SvcOp::Open(_) => Some("library"),
            _ => None,
        }
    }

    /// What kind of address this step needs.
    pub fn needs(&self) -> Option<&'static str> {
        match self {
            SvcOp::Write(..) | SvcOp::Read(..) | SvcOp::Release(_) | SvcOp::Initialize(..) => {
                Some("region")
            }
            SvcOp::Deinitialize(_) => Some("initialized segment"),
            SvcOp::Resolve(..) => Some("library"),
            _ => None,
        }
    }
}

/// How `attach` goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachHow {
    /// Connects.
    Normal,
    /// `connect` fails with this message.
    Fail(String),
    /// Shutdown is requested from inside `connect` (8.3).
    ShutdownInConnect,
    /// Detach is requested from inside `connect` (8.3).
    DetachInConnect,
}

/// What a controller call names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallTarget {
    /// A JIT'd function, by its bootstrap name.
    Jit(String),
    /// A raw address.
    Addr(u64),
}

impl fmt::Display for CallTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallTarget::Jit(n) => f.write_str(n),
            CallTarget::Addr(a) => write!(f, "{a:#x}"),
        }
    }
}

/// A step with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// What to do.
    pub kind: StepKind,
    /// Where it was written.
    pub pos: Pos,
}

/// What a call handle's result must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultExpect {
    /// A value (any, or exactly this one).
    Ok(Option<Value>),
    /// An error (whose message contains the text, if given).
    Error(Option<String>),
    /// `done`: a result, value or error, either way.
    Done,
    /// No result at all.
    None,
}

/// `expect ...`, checked once the run is over.
#[derive(Debug, Clone, PartialEq)]
pub enum ExpectKind {
    /// The call H ended like this.
    Result(String, ResultExpect),
    /// Every event matching each pattern comes before every event matching
    /// the next; each pattern matches at least once.
    Order(Vec<String>),
    /// Exactly N events match.
    Count(String, u64),
    /// The session (the named one, else the default one) ended in this
    /// state.
    State(Option<String>, StateName),
}

/// An expectation with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    /// What must hold.
    pub kind: ExpectKind,
    /// Where it was written.
    pub pos: Pos,
}
