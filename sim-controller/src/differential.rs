//! Differential testing (`orc-sim differential`): the controller's script
//! played over LLVM 22's SimpleRemoteEPC protocol (the wire) against an
//! executor *process* — ours (`orc-executor`) or LLVM's
//! `llvm-jitlink-executor` — so that the two can be compared transcript to
//! transcript.
//!
//! Protocol-level scenarios only (marked `wire` in their header): the real services (`services`), `attach`,
//! `reserve`/`write`/`read`/`release`, `tick`, `await`, `hangup`, `close`,
//! the `reserve-fails` fault, and `expect H ...` on results. Calls are made
//! one at a time (each waits for its Result), so a transcript depends only
//! on what the executor answers, never on timing.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use orc_executor::services::names;
use orc_executor::wire::{FrameReader, Message, Opcode, SetupInfo, write_message};
use orc_rt::ExecutorAddr;

use crate::scenario::{
    Action, AttachHow, AwaitCond, CallTarget, ExpectKind, FaultKind, ResultExpect, Scenario,
    StepKind, SvcOp,
};
use crate::services::{self, Res};

/// Why a scenario cannot be played against an executor process, if it
/// cannot (it must be a protocol-level scenario, marked `wire`).
pub fn not_playable(sc: &Scenario) -> Option<String> {
    if !sc.wire {
        return Some("it is not marked `wire` (a protocol-level scenario)".into());
    }
    if !sc.services {
        return Some("it does not use the executor services (`services`)".into());
    }
    if !sc.jits.is_empty() || !sc.handlers.is_empty() || !sc.managers.is_empty() {
        return Some("it declares in-process JIT'd functions, handlers or managers".into());
    }
    if let Some(f) = sc.faults.iter().find(|f| f.kind != FaultKind::ReserveFails) {
        return Some(format!(
            "its fault at line {} needs the in-process transport",
            f.pos.line
        ));
    }
    for s in &sc.steps {
        let ok = match &s.kind {
            StepKind::Call {
                target: CallTarget::Jit(_),
                ..
            }
            | StepKind::Attach(AttachHow::Normal)
            | StepKind::Tick(_)
            | StepKind::Act(Action::Hangup | Action::Close) => true,
            StepKind::Await(c) => {
                matches!(c, AwaitCond::Done(_) | AwaitCond::Sent(_) | AwaitCond::Idle)
            }
            StepKind::Service(_, SvcOp::Initialize(_, _, actions)) if !actions.is_empty() => {
                return Some(format!(
                    "its step at line {} attaches allocation actions, functions only the \
                     simulated executor has",
                    s.pos.line
                ));
            }
            StepKind::Service(..) => true,
            _ => false,
        };
        if !ok {
            return Some(format!(
                "its step at line {} needs the in-process session",
                s.pos.line
            ));
        }
    }
    None
}

/// A run against one executor process.
#[derive(Debug, Clone)]
pub struct ProcessOutcome {
    /// The scenario.
    pub scenario: String,
    /// The executor's path as given.
    pub executor: String,
    /// What the controller saw, one line each.
    pub lines: Vec<String>,
    /// Failed expectations and protocol problems.
    pub failures: Vec<String>,
    /// Expectations that only make sense in process (orders, counts, states).
    pub not_applicable: usize,
    /// The executor's standard error.
    pub stderr: String,
    /// Every bootstrap symbol the executor announced (compared apart from
    /// the transcript: see [`symbol_differences`]).
    pub symbols: Vec<String>,
}

/// Bootstrap symbols one executor announces and the other does not.
pub fn symbol_differences(a: &ProcessOutcome, b: &ProcessOutcome) -> Vec<String> {
    let only = |x: &ProcessOutcome, y: &ProcessOutcome| -> Vec<String> {
        x.symbols
            .iter()
            .filter(|s| !y.symbols.contains(s))
            .cloned()
            .collect()
    };
    let mut out = Vec::new();
    for (x, y) in [(a, b), (b, a)] {
        let names = only(x, y);
        if !names.is_empty() {
            out.push(format!(
                "only {} announces: {}",
                x.executor,
                names.join(", ")
            ));
        }
    }
    out
}

/// The symbols a differential run calls.
const USED_SYMBOLS: [&str; 10] = [
    names::MEMORY_MANAGER_INSTANCE,
    names::MEMORY_MANAGER_RESERVE,
    names::MEMORY_MANAGER_INITIALIZE,
    names::MEMORY_MANAGER_DEINITIALIZE,
    names::MEMORY_MANAGER_RELEASE,
    names::WRITE_BUFFERS,
    names::READ_BUFFERS,
    names::DYLIB_MANAGER_INSTANCE,
    names::DYLIB_MANAGER_OPEN,
    names::DYLIB_MANAGER_RESOLVE,
];

impl ProcessOutcome {
    /// No failure.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The transcript (the part compared between executors).
    pub fn transcript(&self) -> String {
        let mut out = String::new();
        for l in &self.lines {
            out.push_str(l);
            out.push('\n');
        }
        out
    }

    /// Transcript plus outcome, for printing.
    pub fn render(&self) -> String {
        let mut out = format!(
            "# scenario {} played against {}\n",
            self.scenario, self.executor
        );
        out.push_str(&self.transcript());
        if self.passed() {
            out.push_str("# outcome: pass");
        } else {
            out.push_str("# outcome: FAIL");
        }
        if self.not_applicable > 0 {
            out.push_str(&format!(
                " ({} in-process expectation(s) not applicable)",
                self.not_applicable
            ));
        }
        out.push('\n');
        for f in &self.failures {
            out.push_str(&format!("#   {f}\n"));
        }
        out
    }
}

/// The first line where two transcripts differ, described.
pub fn compare(a: &ProcessOutcome, b: &ProcessOutcome) -> Option<String> {
    let n = a.lines.len().max(b.lines.len());
    for i in 0..n {
        let (x, y) = (a.lines.get(i), b.lines.get(i));
        if x != y {
            return Some(format!(
                "line {}:\n  {}: {}\n  {}: {}",
                i + 1,
                a.executor,
                x.map_or("(end)", String::as_str),
                b.executor,
                y.map_or("(end)", String::as_str)
            ));
        }
    }
    None
}

enum Incoming {
    Msg(Message),
    Eof,
    Err(String),
}

struct Conn {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<Incoming>,
    stderr: Receiver<String>,
    timeout: Duration,
}

impl Conn {
    fn spawn(path: &Path, timeout: Duration) -> Result<Conn, String> {
        let mut child = Command::new(path)
            .arg("filedescs=0,1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", path.display()))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut err = child.stderr.take().expect("piped stderr");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut reader = FrameReader::new(stdout);
            loop {
                let m = match reader.read_message() {
                    Ok(Some(m)) => Incoming::Msg(m),
                    Ok(None) => Incoming::Eof,
                    Err(e) => Incoming::Err(e.to_string()),
                };
                let stop = !matches!(m, Incoming::Msg(_));
                if tx.send(m).is_err() || stop {
                    return;
                }
            }
        });
        let (etx, erx) = channel();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            let _ = etx.send(s);
        });
        let stdin = child.stdin.take();
        Ok(Conn {
            child,
            stdin,
            rx,
            stderr: erx,
            timeout,
        })
    }

    fn recv(&self) -> Result<Incoming, String> {
        match self.rx.recv_timeout(self.timeout) {
            Ok(m) => Ok(m),
            Err(RecvTimeoutError::Timeout) => Err(format!(
                "no message from the executor in {:?}",
                self.timeout
            )),
            Err(RecvTimeoutError::Disconnected) => Ok(Incoming::Eof),
        }
    }

    fn send(
        &mut self,
        op: Opcode,
        seqno: u64,
        tag: ExecutorAddr,
        payload: &[u8],
    ) -> Result<(), String> {
        let w = self
            .stdin
            .as_mut()
            .ok_or("the controller already closed its end")?;
        write_message(w, op, seqno, tag, payload).map_err(|e| format!("write to the executor: {e}"))
    }

    /// Waits for the process to end; its exit status as text.
    fn wait_exit(&mut self) -> String {
        let deadline = Instant::now() + self.timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(st)) => {
                    return match st.code() {
                        Some(c) => format!("exited with status {c}"),
                        None => "was killed by a signal".to_owned(),
                    };
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return "did not exit: killed".to_owned();
                }
            }
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Plays `sc` against the executor at `path` over the wire.
pub fn run(sc: &Scenario, path: &Path, timeout: Duration) -> ProcessOutcome {
    let mut o = ProcessOutcome {
        scenario: sc.name.clone(),
        executor: path.display().to_string(),
        lines: Vec::new(),
        failures: Vec::new(),
        not_applicable: 0,
        stderr: String::new(),
        symbols: Vec::new(),
    };
    if let Some(why) = not_playable(sc) {
        o.failures
            .push(format!("not a protocol-level scenario: {why}"));
        return o;
    }
    let mut results: BTreeMap<String, Res> = BTreeMap::new();
    let mut conn: Option<Conn> = None;
    let mut symbols: BTreeMap<String, u64> = BTreeMap::new();
    let mut regions: BTreeMap<String, u64> = BTreeMap::new();
    let mut seqno = 0u64;
    let mut ended: Option<String> = None;
    let mut reserve_fault = sc.faults.iter().any(|f| f.kind == FaultKind::ReserveFails);
    let fail = |o: &mut ProcessOutcome, m: String| {
        o.lines.push(format!("ctl: FAILED: {m}"));
        o.failures.push(m);
    };
    for step in &sc.steps {
        match &step.kind {
            StepKind::Attach(_) => {
                if conn.is_some() {
                    o.lines.push("ctl: attach: already attached".into());
                    continue;
                }
                match Conn::spawn(path, timeout) {
                    Ok(c) => {
                        o.lines
                            .push("ctl: start the executor with filedescs=0,1".into());
                        match c.recv() {
                            Ok(Incoming::Msg(m)) if m.opcode == Opcode::Setup => {
                                match SetupInfo::from_bytes(m.payload.bytes()) {
                                    Ok(info) => {
                                        o.lines.push(format!(
                                        "ctl: setup (seqno {}, tag {:#x}): triple {}, page size {}, {} bootstrap value(s)",
                                        m.seqno,
                                        m.tag.value(),
                                        info.target_triple,
                                        info.page_size,
                                        info.bootstrap_map.len()
                                    ));
                                        o.symbols =
                                            info.bootstrap_symbols.keys().cloned().collect();
                                        let missing: Vec<&str> = USED_SYMBOLS
                                            .iter()
                                            .copied()
                                            .filter(|n| !info.bootstrap_symbols.contains_key(*n))
                                            .collect();
                                        if missing.is_empty() {
                                            o.lines.push("ctl: every bootstrap symbol the controller calls is present".into());
                                        } else {
                                            o.lines.push(format!(
                                                "ctl: missing bootstrap symbols: {}",
                                                missing.join(", ")
                                            ));
                                        }
                                        symbols = info
                                            .bootstrap_symbols
                                            .iter()
                                            .map(|(k, v)| (k.clone(), v.value()))
                                            .collect();
                                    }
                                    Err(e) => {
                                        fail(&mut o, format!("undecodable setup message: {e}"))
                                    }
                                }
                            }
                            Ok(Incoming::Msg(m)) => {
                                fail(&mut o, format!("expected Setup first, got {}", m.opcode))
                            }
                            Ok(Incoming::Eof) => fail(
                                &mut o,
                                "the executor closed before its setup message".into(),
                            ),
                            Ok(Incoming::Err(e)) | Err(e) => fail(&mut o, e),
                        }
                        conn = Some(c);
                    }
                    Err(e) => fail(&mut o, e),
                }
            }
            StepKind::Service(h, op) => {
                let Some(c) = conn.as_mut().filter(|_| ended.is_none()) else {
                    let why = ended.clone().unwrap_or_else(|| "never attached".into());
                    o.lines
                        .push(format!("ctl: {h} fails at once: not connected ({why})"));
                    results.insert(h.clone(), Res::Error(format!("not connected ({why})")));
                    continue;
                };
                let mut size = None;
                if reserve_fault && matches!(op, SvcOp::Reserve(_)) {
                    reserve_fault = false;
                    size = Some(services::IMPOSSIBLE_SIZE);
                    o.lines
                        .push(format!("fault: reserve-fails: {h} asks for 2^62 bytes"));
                }
                let enc = match services::encode(
                    h,
                    op,
                    |n| symbols.get(n).copied(),
                    |r| regions.get(r).copied(),
                    size,
                    None,
                ) {
                    Ok(e) => e,
                    Err(why) => {
                        o.lines.push(format!("ctl: {h} fails at once: {why}"));
                        results.insert(h.clone(), Res::Error(why));
                        continue;
                    }
                };
                let Some(&addr) = symbols.get(enc.symbol) else {
                    o.lines.push(format!(
                        "ctl: {h}: no symbol {} in the setup message",
                        enc.symbol
                    ));
                    results.insert(h.clone(), Res::Error(format!("no symbol {}", enc.symbol)));
                    continue;
                };
                seqno += 1;
                o.lines.push(format!("ctl: {} (seqno {seqno})", enc.text));
                if let Err(e) = c.send(
                    Opcode::CallWrapper,
                    seqno,
                    ExecutorAddr::new(addr),
                    &enc.args,
                ) {
                    fail(&mut o, e);
                    continue;
                }
                match c.recv() {
                    Ok(Incoming::Msg(m)) if m.opcode == Opcode::Result && m.seqno == seqno => {
                        let (r, text, base) =
                            services::decode(h, op, Res::Bytes(m.payload.bytes().to_vec()));
                        if let Some(b) = base {
                            regions.insert(h.clone(), b);
                        }
                        o.lines.push(format!("ctl: {h} → {text}"));
                        results.insert(h.clone(), r);
                    }
                    Ok(Incoming::Msg(m)) => fail(
                        &mut o,
                        format!(
                            "expected the Result of seqno {seqno}, got {} seqno {}",
                            m.opcode, m.seqno
                        ),
                    ),
                    Ok(Incoming::Eof) => {
                        o.lines
                            .push(format!("ctl: {h} → the executor closed the connection"));
                        results.insert(h.clone(), Res::Error("disconnected".into()));
                        ended = Some("the executor closed the connection".into());
                    }
                    Ok(Incoming::Err(e)) | Err(e) => fail(&mut o, e),
                }
            }
            StepKind::Act(Action::Hangup) => {
                if let Some(c) = conn.as_mut().filter(|_| ended.is_none()) {
                    // LLVM decodes a Hangup payload as SPS Error: success = 00.
                    o.lines.push("ctl: send Hangup (payload: success)".into());
                    if let Err(e) = c.send(Opcode::Hangup, 0, ExecutorAddr::NULL, &[0]) {
                        fail(&mut o, e);
                    }
                    ended = Some("the controller hung up".into());
                }
            }
            StepKind::Act(Action::Close) => {
                if let Some(c) = conn.as_mut().filter(|_| ended.is_none()) {
                    o.lines.push("ctl: close the pipes (end of stream)".into());
                    c.stdin = None;
                    ended = Some("the transport closed".into());
                }
            }
            StepKind::Call {
                handle: h,
                target: CallTarget::Jit(f),
                arg,
            } => {
                let Some(c) = conn.as_mut().filter(|_| ended.is_none()) else {
                    let why = ended.clone().unwrap_or_else(|| "never attached".into());
                    o.lines
                        .push(format!("ctl: {h} fails at once: not connected ({why})"));
                    results.insert(h.clone(), Res::Error(format!("not connected ({why})")));
                    continue;
                };
                let Some(&addr) = symbols.get(f) else {
                    o.lines
                        .push(format!("ctl: call {h}: no symbol {f} in the setup message"));
                    results.insert(h.clone(), Res::Error(format!("no symbol {f}")));
                    continue;
                };
                seqno += 1;
                o.lines
                    .push(format!("ctl: call {h} = {f}({arg}) (seqno {seqno})"));
                if let Err(e) = c.send(
                    Opcode::CallWrapper,
                    seqno,
                    ExecutorAddr::new(addr),
                    &arg.encode().unwrap_or_default(),
                ) {
                    fail(&mut o, e);
                    continue;
                }
                match c.recv() {
                    Ok(Incoming::Msg(m)) if m.opcode == Opcode::Result && m.seqno == seqno => {
                        let r = Res::Bytes(m.payload.bytes().to_vec());
                        o.lines.push(format!(
                            "ctl: {h} → {}",
                            services::mask_addrs(&r.describe())
                        ));
                        results.insert(h.clone(), r);
                    }
                    Ok(Incoming::Msg(m)) => fail(
                        &mut o,
                        format!(
                            "expected the Result of seqno {seqno}, got {} seqno {}",
                            m.opcode, m.seqno
                        ),
                    ),
                    Ok(Incoming::Eof) => {
                        o.lines
                            .push(format!("ctl: {h} → the executor closed the connection"));
                        results.insert(h.clone(), Res::Error("disconnected".into()));
                        ended = Some("the executor closed the connection".into());
                    }
                    Ok(Incoming::Err(e)) | Err(e) => fail(&mut o, e),
                }
            }
            // Calls complete one at a time: every await already holds.
            StepKind::Tick(_) | StepKind::Await(_) => {}
            _ => unreachable!("checked by not_playable"),
        }
    }
    if let Some(mut c) = conn {
        if ended.is_none() {
            // As llvm-jitlink does: close the pipes after the last result.
            o.lines.push("ctl: end of script: close the pipes".into());
        }
        c.stdin = None;
        loop {
            match c.recv() {
                Ok(Incoming::Msg(m)) => o.lines.push(format!(
                    "ctl: unexpected {} seqno {} after the end",
                    m.opcode, m.seqno
                )),
                Ok(Incoming::Eof) => break,
                Ok(Incoming::Err(e)) | Err(e) => {
                    fail(&mut o, e);
                    break;
                }
            }
        }
        let status = c.wait_exit();
        o.lines.push(format!("ctl: the executor {status}"));
        o.stderr = c.stderr.recv_timeout(timeout).unwrap_or_default();
    }
    for e in &sc.expects {
        let ExpectKind::Result(h, want) = &e.kind else {
            o.not_applicable += 1;
            continue;
        };
        let got = results.get(h);
        let ok = match (want, got) {
            (ResultExpect::None, None) => true,
            (ResultExpect::Ok(None), Some(Res::Bytes(_))) => true,
            (ResultExpect::Ok(Some(v)), Some(Res::Bytes(b))) => {
                v.encode().as_deref() == Some(b.as_slice())
            }
            (ResultExpect::Error(None), Some(Res::Error(_))) => true,
            (ResultExpect::Error(Some(s)), Some(Res::Error(m))) => m.contains(s.as_str()),
            _ => false,
        };
        if !ok {
            let got = got.map_or_else(|| "no result".to_owned(), Res::describe);
            o.failures
                .push(format!("expect (line {}): {h} got {got}", e.pos.line));
        }
    }
    o
}
