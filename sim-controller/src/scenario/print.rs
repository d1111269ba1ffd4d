//! Writes a [`Scenario`] back as `.scn` text (for the shrinker, which turns
//! a failing scenario into a smaller one and saves it).
//!
//! The text parses back to an equal scenario, positions aside (compare
//! [`Scenario::without_positions`]): every construct is written, the
//! `# rule:` and `# deviation:` lines are kept, settings equal to their
//! default are left out, repeats come out expanded (the model holds no
//! repeats), and expectations follow the script's steps. One value has no
//! text of its own: `bytes` with no byte is written `empty` (the same bytes
//! on the wire).

use std::fmt::Write as _;

use super::*;

impl Scenario {
    /// The scenario as `.scn` text that parses back to it.
    pub fn to_scn(&self) -> String {
        let mut out = String::new();
        for r in &self.rules {
            line(&mut out, format_args!("# rule: {r}"));
        }
        for d in &self.deviations {
            line(&mut out, format_args!("# deviation: {d}"));
        }
        if self.seed != 0 {
            line(&mut out, format_args!("seed {}", self.seed));
        }
        if self.latency != (1, 3) {
            line(
                &mut out,
                format_args!("latency {} {}", self.latency.0, self.latency.1),
            );
        }
        if self.dispatcher != DispatcherDecl::default() {
            let kind = if self.dispatcher.holding_guard {
                "holding-guard"
            } else {
                "queue"
            };
            let policy = match self.dispatcher.at_shutdown {
                QueuePolicy::Keep => "keep",
                QueuePolicy::Run => "run",
                QueuePolicy::Drop => "drop",
            };
            line(&mut out, format_args!("dispatcher {kind} {policy}"));
        }
        match &self.on_disconnect {
            OnDisconnect::Log => {}
            OnDisconnect::None => line(&mut out, format_args!("on-disconnect none")),
            OnDisconnect::Shutdown => line(&mut out, format_args!("on-disconnect shutdown")),
            OnDisconnect::Panic(m) => {
                line(&mut out, format_args!("on-disconnect panic {}", quote(m)));
            }
        }
        if self.services {
            line(&mut out, format_args!("services"));
        }
        if self.wire {
            line(&mut out, format_args!("wire"));
        }
        if self.access != AccessKind::Real {
            line(&mut out, format_args!("access model"));
        }
        if self.pipe_capacity != 65536 {
            line(&mut out, format_args!("pipe {}", self.pipe_capacity));
        }
        for p in &self.probes {
            line(&mut out, format_args!("reach {}", quote(&p.pattern)));
        }
        for s in &self.sessions {
            line(&mut out, format_args!("session {}", s.name));
        }
        for m in &self.managers {
            line(&mut out, format_args!("manager {}", manager(m)));
        }
        for j in &self.jits {
            let abi = match j.abi {
                JitAbi::Rust => "",
                JitAbi::AsyncC => " async-c",
                JitAbi::LegacyC => " legacy-c",
            };
            let ops: Vec<String> = j.ops.iter().map(op).collect();
            line(
                &mut out,
                format_args!("jit {}{abi}: {}", j.name, ops.join(", ")),
            );
        }
        // Provided handlers come from the embedding program, not the text.
        for h in self.handlers.iter().filter(|h| h.reply != Reply::Provided) {
            let mut s = format!("handler {}: ", h.name);
            for (f, v) in &h.calls_back {
                let _ = write!(s, "calls {f}{}, ", opt_value(v));
            }
            s.push_str(&match &h.reply {
                Reply::Value(v) => format!("reply {}", value(v)),
                Reply::Echo => "echo".into(),
                Reply::Never => "never".into(),
                Reply::Hangup => "hangup".into(),
                Reply::Close => "close".into(),
                Reply::Provided => unreachable!("filtered out above"),
            });
            if h.after != 0 {
                let _ = write!(s, " after {}", h.after);
            }
            line(&mut out, format_args!("{s}"));
        }
        for f in &self.faults {
            line(&mut out, format_args!("fault {}", fault(&f.kind)));
        }
        line(&mut out, format_args!("---"));
        for s in &self.steps {
            line(&mut out, format_args!("{}", step(&s.kind)));
        }
        for e in &self.expects {
            line(&mut out, format_args!("expect {}", expect(&e.kind)));
        }
        out
    }

    /// A copy with every position zeroed: what two parses of equivalent
    /// texts have in common.
    pub fn without_positions(&self) -> Scenario {
        fn manager(m: &mut ManagerDecl) {
            m.pos = Pos::default();
            for b in [&mut m.detach, &mut m.shutdown] {
                if let Some(n) = &mut b.add_manager {
                    manager(n);
                }
            }
        }
        let mut sc = self.clone();
        for s in &mut sc.sessions {
            s.pos = Pos::default();
        }
        sc.managers.iter_mut().for_each(manager);
        for j in &mut sc.jits {
            j.pos = Pos::default();
            for o in &mut j.ops {
                if let Op::AddManager(m) = o {
                    manager(m);
                }
            }
        }
        for h in &mut sc.handlers {
            h.pos = Pos::default();
        }
        for p in &mut sc.probes {
            p.pos = Pos::default();
        }
        for f in &mut sc.faults {
            f.pos = Pos::default();
        }
        for s in &mut sc.steps {
            s.pos = Pos::default();
            if let StepKind::AddManager(m) = &mut s.kind {
                manager(m);
            }
        }
        for e in &mut sc.expects {
            e.pos = Pos::default();
        }
        sc
    }
}

fn line(out: &mut String, args: fmt::Arguments<'_>) {
    let _ = out.write_fmt(args);
    out.push('\n');
}

/// A quoted string, escaped as the lexer reads it.
fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

fn value(v: &Value) -> String {
    match v {
        Value::Empty => "empty".into(),
        Value::U64(n) => format!("u64 {n}"),
        Value::U32(n) => format!("u32 {n}"),
        Value::Bool(b) => format!("bool {b}"),
        Value::Str(s) => format!("str {}", quote(s)),
        Value::Bytes(b) if b.is_empty() => "empty".into(),
        Value::Bytes(b) => {
            let mut s = "bytes ".to_owned();
            for x in b {
                let _ = write!(s, "{x:02x}");
            }
            s
        }
        Value::Error(m) => format!("error {}", quote(m)),
        Value::Tuple(vs) => {
            let parts: Vec<String> = vs.iter().map(value).collect();
            format!("({})", parts.join(", "))
        }
    }
}

/// ` VALUE`, or nothing for `empty` (where the value is optional).
fn opt_value(v: &Value) -> String {
    match v {
        Value::Empty => String::new(),
        v => format!(" {}", value(v)),
    }
}

/// `NAME [in SESSION] [detach B] [shutdown B]`.
fn manager(m: &ManagerDecl) -> String {
    let mut s = m.name.clone();
    s.push_str(&in_session(&m.session));
    for (which, b) in [("detach", &m.detach), ("shutdown", &m.shutdown)] {
        if *b != Behaviour::default() {
            let _ = write!(s, " {which} {}", behaviour(b));
        }
    }
    s
}

/// A manager behaviour as a script writes it.
pub(crate) fn behaviour(b: &Behaviour) -> String {
    let mut s = match &b.outcome {
        Outcome::Ok => "ok".to_owned(),
        Outcome::Fail(m) => format!("fail {}", quote(m)),
        Outcome::Panic(m) => format!("panic {}", quote(m)),
        Outcome::Forget => "forget".to_owned(),
    };
    if let Some(n) = b.after {
        let _ = write!(s, " after {n}");
    }
    if let Some(session) = &b.request_shutdown {
        let _ = write!(s, " request-shutdown{}", after_space(session));
    }
    if let Some(session) = &b.wait_shutdown {
        let _ = write!(s, " wait-shutdown{}", after_space(session));
    }
    if let Some(m) = &b.add_manager {
        let _ = write!(s, " add-manager ({})", manager(m));
    }
    s
}

/// ` in SESSION`, or nothing for the default session.
fn in_session(session: &Option<String>) -> String {
    session
        .as_ref()
        .map_or_else(String::new, |s| format!(" in {s}"))
}

fn op(o: &Op) -> String {
    match o {
        Op::Enter(s) => format!("enter{}", after_space(s)),
        Op::Leave => "leave".into(),
        Op::Clone => "clone".into(),
        Op::Work(n) => format!("work {n}"),
        Op::Call(t, v) => format!("call {t}{}", opt_value(v)),
        Op::CallAsync(t, v) => format!("call-async {t}{}", opt_value(v)),
        Op::Return(v) => format!("return {}", value(v)),
        Op::ReturnLater(n, v) => format!("return-later {n} {}", value(v)),
        Op::Shutdown(s) => format!("shutdown{}", after_space(s)),
        Op::Detach(s) => format!("detach{}", after_space(s)),
        Op::WaitShutdown(s) => format!("wait-shutdown{}", after_space(s)),
        Op::Wait(p) => format!("wait {}", quote(p)),
        Op::Spawn(t, f) => format!("spawn {t} {f}"),
        Op::Dispatch(f, s) => format!("dispatch {f}{}", in_session(s)),
        Op::Panic(m) => format!("panic {}", quote(m)),
        Op::Keepalive(n) => format!("keepalive {n}"),
        Op::AddManager(m) => format!("add-manager {}", manager(m)),
    }
}

/// A message selector, occurrence numbers always written (so that a number
/// after it is never taken for one).
fn msg(s: &MsgSel) -> String {
    match s {
        MsgSel::CallTag(t, n) => format!("ccall {t} {n}"),
        MsgSel::Reply(t, n) => format!("reply {t} {n}"),
        s => s.to_string(),
    }
}

fn fault(k: &FaultKind) -> String {
    match k {
        FaultKind::Drop(s) => format!("drop {}", msg(s)),
        FaultKind::Delay(s, n) => format!("delay {} {n}", msg(s)),
        FaultKind::Reorder(s) => format!("reorder {}", msg(s)),
        FaultKind::Duplicate(s) => format!("duplicate {}", msg(s)),
        FaultKind::AtStep(n, a) => format!("at-step {n} {a}"),
        FaultKind::On(p, a) => format!("on {} {a}", quote(p)),
        FaultKind::CaDeliversLate => "ca-delivers-late".into(),
        FaultKind::ReserveFails => "reserve-fails".into(),
        FaultKind::Split(s, n) => format!("split {} {n}", msg(s)),
        FaultKind::ShortReads(n) => format!("short-reads {n}"),
        FaultKind::ShortWrites(n) => format!("short-writes {n}"),
        FaultKind::StallReader(a, b) => format!("stall-reader {a} {b}"),
        FaultKind::CloseMid(s, n) => format!("close-mid {} {n}", msg(s)),
        FaultKind::Corrupt(s, f, v) => format!("corrupt {} {f} {v}", msg(s)),
    }
}

/// `rwx` letters for protection bits.
fn prot(p: u8) -> String {
    [(1, 'r'), (2, 'w'), (4, 'x')]
        .iter()
        .map(|&(bit, c)| if p & bit != 0 { c } else { '-' })
        .collect()
}

fn step(k: &StepKind) -> String {
    match k {
        StepKind::Attach(AttachHow::Normal) => "attach".into(),
        StepKind::Attach(AttachHow::Fail(m)) => format!("attach fail {}", quote(m)),
        StepKind::Attach(AttachHow::ShutdownInConnect) => "attach shutdown-in-connect".into(),
        StepKind::Attach(AttachHow::DetachInConnect) => "attach detach-in-connect".into(),
        StepKind::Call {
            handle,
            target,
            arg,
        } => format!("call {handle} {target}{}", opt_value(arg)),
        StepKind::Act(a) => a.to_string(),
        StepKind::Tick(n) => format!("tick {n}"),
        StepKind::Await(c) => match c {
            AwaitCond::Sent(h) => format!("await {h} sent"),
            AwaitCond::Running(h) => format!("await {h} running"),
            AwaitCond::Done(h) => format!("await {h} done"),
            AwaitCond::Pattern(p) => format!("await {}", quote(p)),
            AwaitCond::State(session, s) => format!("await state{} {s}", after_space(session)),
            AwaitCond::Idle => "await idle".into(),
        },
        StepKind::Spawn(t, f) => format!("spawn {t} {f}"),
        StepKind::AddManager(m) => format!("add-manager {}", manager(m)),
        StepKind::OnDetach(n, s) => format!("on-detach {n}{}", in_session(s)),
        StepKind::OnShutdown(n, s) => format!("on-shutdown {n}{}", in_session(s)),
        StepKind::Enter(g, s) => format!("enter {g}{}", in_session(s)),
        StepKind::Leave(g) => format!("leave {g}"),
        StepKind::CloneGuard(g, g2) => format!("clone {g} {g2}"),
        StepKind::WaitShutdown(s) => format!("wait-shutdown{}", after_space(s)),
        StepKind::CheckState(session, s) => {
            format!("check state{} {s}", after_space(session))
        }
        StepKind::Service(h, op) => match op {
            SvcOp::Reserve(n) => format!("reserve {h} {n}"),
            SvcOp::Write(r, off, v) => format!("write {h} {r} {off} {}", value(v)),
            SvcOp::Read(r, off, len) => format!("read {h} {r} {off} {len}"),
            SvcOp::Release(rs) => format!("release {h} {}", rs.join(" ")),
            SvcOp::Deinitialize(ss) => format!("deinitialize {h} {}", ss.join(" ")),
            SvcOp::Initialize(r, segs, actions) => {
                let mut s = format!("initialize {h} {r}");
                for g in segs {
                    let _ = write!(s, " segment {} {} {}", g.offset, g.size, prot(g.prot));
                    if g.finalize {
                        s.push_str(" finalize");
                    }
                    s.push_str(&opt_value(&g.content));
                }
                for a in actions {
                    match a {
                        ActionDecl::Ok => s.push_str(" action ok"),
                        ActionDecl::Fail(m) => {
                            let _ = write!(s, " action fail {}", quote(m));
                        }
                    }
                }
                s
            }
            SvcOp::Open(p) => format!("open {h} {}", quote(p)),
            SvcOp::Resolve(lib, syms) => {
                let mut s = format!("resolve {h} {lib}");
                for (sym, required) in syms {
                    let _ = write!(s, " {}", quote(sym));
                    if !required {
                        s.push_str(" weak");
                    }
                }
                s
            }
        },
    }
}

fn expect(k: &ExpectKind) -> String {
    match k {
        ExpectKind::Result(h, r) => match r {
            ResultExpect::Ok(None) => format!("{h} ok"),
            ResultExpect::Ok(Some(v)) => format!("{h} ok {}", value(v)),
            ResultExpect::Error(None) => format!("{h} error"),
            ResultExpect::Error(Some(m)) => format!("{h} error {}", quote(m)),
            ResultExpect::Done => format!("{h} done"),
            ResultExpect::None => format!("{h} none"),
        },
        ExpectKind::Order(ps) => {
            let ps: Vec<String> = ps.iter().map(|p| quote(p)).collect();
            format!("order {}", ps.join(" < "))
        }
        ExpectKind::Count(p, n) => format!("count {} {n}", quote(p)),
        ExpectKind::State(session, s) => format!("state{} {s}", after_space(session)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses, prints, parses again: the same scenario, positions aside.
    fn round_trip(file: &str, text: &str) -> Result<(), String> {
        let a = parse(file, text).map_err(|e| e.to_string())?;
        let printed = a.to_scn();
        let b = parse(file, &printed).map_err(|e| format!("{e}\n--- printed:\n{printed}"))?;
        if a.without_positions() != b.without_positions() {
            return Err(format!(
                "{file}: differs after printing\n--- printed:\n{printed}\n--- first: {a:#?}\n--- second: {b:#?}"
            ));
        }
        // Printing is a fixed point.
        if b.to_scn() != printed {
            return Err(format!("{file}: printing twice differs"));
        }
        Ok(())
    }

    #[test]
    fn every_scenario_file_round_trips() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "scn") {
                let text = std::fs::read_to_string(&path).unwrap();
                round_trip(&path.display().to_string(), &text).unwrap();
                n += 1;
            }
        }
        assert!(n >= 30, "only {n} scenarios in {}", dir.display());
    }

    #[test]
    fn every_construct_round_trips() {
        let text = r#"# rule: x
# rule: y "quoted" \ and # hash
# deviation: z
seed 9
latency 2 5
dispatcher holding-guard drop
on-disconnect panic "tab\there \"q\" back\\slash\nnewline"
services
wire
pipe 100
reach "jit c1: enter"
reach "$dollar"
manager a detach ok after 0 request-shutdown wait-shutdown add-manager (b detach fail "x" after 2 shutdown panic "p" add-manager (c shutdown forget)) shutdown forget
manager d shutdown ok after 1
jit f async-c: enter, clone, work 3, call h str "s", call-async h bytes 00ff, call h, return u64 1, return-later 2 error "e", shutdown, detach, wait-shutdown, wait "p", spawn t g, dispatch g, panic "boom", keepalive 4, add-manager e shutdown fail "x" add-manager (e2), leave
jit g legacy-c: return bool true
jit k: return u32 7
handler h: calls f u32 1, calls g, reply empty after 2
handler h2: echo
handler h3: never
handler h4: hangup after 1
handler h5: close
handler h6: reply error "no"
fault drop setup
fault delay call c1 3
fault reorder result c1
fault duplicate ccall h 2
fault delay reply h 1 4
fault drop hangup
fault at-step 5 shutdown-threads 3
fault on "x" hangup
fault ca-delivers-late
fault reserve-fails
fault split msg 3 5
fault short-reads 7
fault short-writes 9
fault stall-reader 1 4
fault close-mid reply h 2 10
fault corrupt ccall h 1 tag 0xff
fault corrupt result c1 seqno 3
---
attach
attach fail "no"
attach shutdown-in-connect
attach detach-in-connect
call c1 f u64 5
call c2 0x10000000
call c3 some_bootstrap_symbol bytes 0102
detach
shutdown
shutdown-threads 2
hangup
close
tick 4
await c1 sent
await c1 running
await c1 done
await "pattern \"q\""
await state shut-down
await idle
spawn t1 f
add-manager late detach ok after 1 add-manager (later)
on-detach cb1
on-shutdown cb2
enter g1
clone g1 g2
leave g1
leave g2
wait-shutdown
check state detached
reserve r1 4096
reserve r2 4096
write w1 r1 8 str "abc"
read rd r1 8 3
initialize s1 r1 0 16 r-x
initialize s2 r1 segment 16 16 rw- finalize bytes 01 segment 32 8 r-- action ok action fail "bad"
deinitialize d1 s1 s2 0x1234
release rel r1 r2 0xdead
open p ""
resolve q p "a" weak "b" "c" weak
expect c1 ok
expect c2 ok u64 1
expect c3 error
expect w1 error "frag"
expect rd done
expect d1 none
expect order "a" < "b" < "c"
expect count "a" 3
expect once "b"
expect never "c"
expect state shut-down
"#;
        round_trip("all.scn", text).unwrap();
    }

    #[test]
    fn sessions_round_trip() {
        let text = r#"# rule: x
manager a in A detach ok request-shutdown B wait-shutdown shutdown ok wait-shutdown A add-manager (c in B)
manager b detach ok request-shutdown
session A
session B
jit f: enter A, enter, leave, leave, shutdown A, detach B, wait-shutdown A, wait-shutdown, dispatch f in B, dispatch f, add-manager d in A
fault on "x" shutdown A
fault at-step 3 detach B
---
enter g1 in A
enter g2
wait-shutdown B
wait-shutdown
detach A
shutdown B
on-detach d1 in A
on-shutdown s1 in B
add-manager e in B detach ok after 1
check state A start
check state attached
await state B shut-down
await state detached
expect state A shut-down
expect state shut-down
"#;
        round_trip("sessions.scn", text).unwrap();
        let printed = parse("sessions.scn", text).unwrap().to_scn();
        for line in [
            "session A\nsession B\nmanager a in A detach ok request-shutdown B wait-shutdown shutdown ok wait-shutdown A add-manager (c in B)\n",
            "manager b detach ok request-shutdown\n",
            "jit f: enter A, enter, leave, leave, shutdown A, detach B, wait-shutdown A, wait-shutdown, dispatch f in B, dispatch f, add-manager d in A\n",
            "fault on \"x\" shutdown A\nfault at-step 3 detach B\n",
            "enter g1 in A\nenter g2\nwait-shutdown B\nwait-shutdown\ndetach A\nshutdown B\n",
            "on-detach d1 in A\non-shutdown s1 in B\nadd-manager e in B detach ok after 1\n",
            "check state A start\ncheck state attached\nawait state B shut-down\nawait state detached\n",
            "expect state A shut-down\nexpect state shut-down\n",
        ] {
            assert!(printed.contains(line), "{line:?} not in:\n{printed}");
        }
    }

    #[test]
    fn repeats_print_expanded() {
        let sc = parse(
            "t.scn",
            "# rule: x\njit f: return u64 1\n---\nrepeat 2 {\ncall c$i f u64 $i\n}\nexpect c2 ok\n",
        )
        .unwrap();
        assert_eq!(
            sc.to_scn(),
            "# rule: x\njit f: return u64 1\n---\ncall c1 f u64 1\ncall c2 f u64 2\nexpect c2 ok\n"
        );
    }
}

/// Random valid scenarios print and parse back to themselves.
#[cfg(test)]
mod proptests {
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::select;

    use super::*;

    /// Text with what needs escaping (`"`, `\`, newline, tab) and what
    /// must not be touched (`$`, `#`, `<`, `,`).
    fn text() -> impl Strategy<Value = String> {
        "[a-z0-9 \"\\\\\n\t$#<,:()é]{1,10}"
    }

    /// A comment's text: trimmed, one line.
    fn comment_text() -> impl Strategy<Value = String> {
        "[a-z0-9][a-z0-9 .:\"#$]{0,12}[a-z0-9]"
    }

    fn arg_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Empty),
            any::<u64>().prop_map(Value::U64),
            any::<u32>().prop_map(Value::U32),
            any::<bool>().prop_map(Value::Bool),
            text().prop_map(Value::Str),
            vec(any::<u8>(), 1..5).prop_map(Value::Bytes),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![5 => arg_value(), 1 => text().prop_map(Value::Error)]
    }

    fn state() -> impl Strategy<Value = StateName> {
        select(vec![
            StateName::Start,
            StateName::Attached,
            StateName::Detached,
            StateName::ShutDown,
        ])
    }

    /// A session reference, as a placeholder `build` resolves (`None`:
    /// the default session).
    fn session() -> impl Strategy<Value = Option<String>> {
        prop::option::weighted(0.3, (0usize..4).prop_map(|i| i.to_string()))
    }

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            session().prop_map(Action::Detach),
            session().prop_map(Action::Shutdown),
            (1u32..=64).prop_map(Action::ShutdownThreads),
            Just(Action::Hangup),
            Just(Action::Close),
        ]
    }

    /// A manager (named later), callbacks nesting managers `depth` deep.
    fn manager(depth: u32) -> BoxedStrategy<ManagerDecl> {
        let b = behaviour(depth);
        (session(), b.clone(), b)
            .prop_map(|(session, detach, shutdown)| ManagerDecl {
                name: String::new(),
                session,
                detach,
                shutdown,
                pos: Pos::default(),
            })
            .boxed()
    }

    fn behaviour(depth: u32) -> BoxedStrategy<Behaviour> {
        let outcome = prop_oneof![
            Just(Outcome::Ok),
            text().prop_map(Outcome::Fail),
            text().prop_map(Outcome::Panic),
            Just(Outcome::Forget),
        ];
        let nested = if depth == 0 {
            Just(None).boxed()
        } else {
            prop::option::weighted(0.2, manager(depth - 1).prop_map(Box::new)).boxed()
        };
        (
            outcome,
            prop::option::of(0u64..5),
            prop::option::of(session()),
            prop::option::of(session()),
            nested,
        )
            .prop_map(
                |(outcome, after, request_shutdown, wait_shutdown, add_manager)| {
                    let after = after.filter(|_| matches!(outcome, Outcome::Ok | Outcome::Fail(_)));
                    Behaviour {
                        outcome,
                        after,
                        request_shutdown,
                        wait_shutdown,
                        add_manager,
                    }
                },
            )
            .boxed()
    }

    const JITS: [&str; 3] = ["f0", "f1", "f2"];
    const TAGS: [&str; 2] = ["h0", "h1"];

    fn jit_name() -> impl Strategy<Value = String> {
        select(&JITS[..]).prop_map(str::to_owned)
    }

    fn tag() -> impl Strategy<Value = String> {
        select(&TAGS[..]).prop_map(str::to_owned)
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            session().prop_map(Op::Enter),
            Just(Op::Leave),
            Just(Op::Clone),
            (0u64..9).prop_map(Op::Work),
            (tag(), arg_value()).prop_map(|(t, v)| Op::Call(t, v)),
            (tag(), arg_value()).prop_map(|(t, v)| Op::CallAsync(t, v)),
            value().prop_map(Op::Return),
            (0u64..9, value()).prop_map(|(n, v)| Op::ReturnLater(n, v)),
            session().prop_map(Op::Shutdown),
            session().prop_map(Op::Detach),
            session().prop_map(Op::WaitShutdown),
            text().prop_map(Op::Wait),
            ("t[0-9]", jit_name()).prop_map(|(t, f)| Op::Spawn(t, f)),
            (jit_name(), session()).prop_map(|(f, s)| Op::Dispatch(f, s)),
            text().prop_map(Op::Panic),
            (0u64..9).prop_map(Op::Keepalive),
            manager(1).prop_map(|m| Op::AddManager(Box::new(m))),
        ]
    }

    fn jit() -> impl Strategy<Value = JitDecl> {
        (
            select(vec![JitAbi::Rust, JitAbi::AsyncC, JitAbi::LegacyC]),
            vec(op(), 1..5),
        )
            .prop_map(|(abi, ops)| JitDecl {
                name: String::new(),
                abi,
                ops,
                pos: Pos::default(),
            })
    }

    fn handler() -> impl Strategy<Value = HandlerDecl> {
        let reply = prop_oneof![
            value().prop_map(Reply::Value),
            Just(Reply::Echo),
            Just(Reply::Never),
            Just(Reply::Hangup),
            Just(Reply::Close),
        ];
        (vec((jit_name(), arg_value()), 0..3), reply, 0u64..4).prop_map(
            |(calls_back, reply, after)| HandlerDecl {
                name: String::new(),
                calls_back,
                after: if reply == Reply::Never { 0 } else { after },
                reply,
                pos: Pos::default(),
            },
        )
    }

    /// A step, names as indexes into what earlier steps defined (resolved
    /// by `build`).
    #[derive(Debug, Clone)]
    enum StepGen {
        Kind(StepKind),
        Call(usize, Value),
        Await(usize, u8),
        Enter(Option<String>),
        Leave(usize),
        Clone(usize),
        Spawn(String),
        OnDetach(Option<String>),
        OnShutdown(Option<String>),
        Reserve(u64),
        Write(usize, u64, Value),
        Read(usize, u64, u64),
        Release(Vec<Result<usize, u64>>),
        Initialize(usize, Vec<SegmentDecl>, Vec<ActionDecl>),
        Deinitialize(Vec<Result<usize, u64>>),
        Open(String),
        Resolve(usize, Vec<(String, bool)>),
    }

    fn segment() -> impl Strategy<Value = SegmentDecl> {
        (0u64..99, 0u64..99, 0u8..8, any::<bool>(), arg_value()).prop_map(
            |(offset, size, prot, finalize, content)| SegmentDecl {
                offset,
                size,
                prot,
                finalize,
                content,
            },
        )
    }

    fn addresses() -> impl Strategy<Value = Vec<Result<usize, u64>>> {
        vec(
            prop_oneof![4 => any::<usize>().prop_map(Ok), 1 => any::<u64>().prop_map(Err)],
            1..4,
        )
    }

    fn step() -> impl Strategy<Value = StepGen> {
        let attach = prop_oneof![
            Just(AttachHow::Normal),
            text().prop_map(AttachHow::Fail),
            Just(AttachHow::ShutdownInConnect),
            Just(AttachHow::DetachInConnect),
        ];
        let kind = prop_oneof![
            attach.prop_map(StepKind::Attach),
            action().prop_map(StepKind::Act),
            (0u64..9).prop_map(StepKind::Tick),
            text().prop_map(|p| StepKind::Await(AwaitCond::Pattern(p))),
            (session(), state()).prop_map(|(n, s)| StepKind::Await(AwaitCond::State(n, s))),
            Just(StepKind::Await(AwaitCond::Idle)),
            manager(2).prop_map(|m| StepKind::AddManager(Box::new(m))),
            session().prop_map(StepKind::WaitShutdown),
            (session(), state()).prop_map(|(n, s)| StepKind::CheckState(n, s)),
        ];
        prop_oneof![
            kind.prop_map(StepGen::Kind),
            (any::<usize>(), arg_value()).prop_map(|(t, v)| StepGen::Call(t, v)),
            (any::<usize>(), 0u8..3).prop_map(|(h, k)| StepGen::Await(h, k)),
            session().prop_map(StepGen::Enter),
            any::<usize>().prop_map(StepGen::Leave),
            any::<usize>().prop_map(StepGen::Clone),
            jit_name().prop_map(StepGen::Spawn),
            session().prop_map(StepGen::OnDetach),
            session().prop_map(StepGen::OnShutdown),
            (1u64..9999).prop_map(StepGen::Reserve),
            (any::<usize>(), 0u64..99, arg_value()).prop_map(|(r, o, v)| StepGen::Write(r, o, v)),
            (any::<usize>(), 0u64..99, 0u64..99).prop_map(|(r, o, n)| StepGen::Read(r, o, n)),
            addresses().prop_map(StepGen::Release),
            (
                any::<usize>(),
                vec(segment(), 1..3),
                vec(
                    prop_oneof![Just(ActionDecl::Ok), text().prop_map(ActionDecl::Fail)],
                    0..3
                )
            )
                .prop_map(|(r, s, a)| StepGen::Initialize(r, s, a)),
            addresses().prop_map(StepGen::Deinitialize),
            text().prop_map(StepGen::Open),
            (any::<usize>(), vec((text(), any::<bool>()), 1..3))
                .prop_map(|(l, s)| StepGen::Resolve(l, s)),
        ]
    }

    fn msg_sel() -> impl Strategy<Value = Result<MsgSel, (bool, usize)>> {
        prop_oneof![
            Just(Ok(MsgSel::Setup)),
            (any::<bool>(), any::<usize>()).prop_map(Err),
            (tag(), 1u64..4).prop_map(|(t, n)| Ok(MsgSel::CallTag(t, n))),
            (tag(), 1u64..4).prop_map(|(t, n)| Ok(MsgSel::Reply(t, n))),
            Just(Ok(MsgSel::Hangup)),
            (1u64..20).prop_map(|n| Ok(MsgSel::Nth(n))),
        ]
    }

    /// A fault; a message selector naming a call handle is resolved by
    /// `build` (`Err((result, index))`).
    fn fault() -> impl Strategy<Value = (FaultKind, Option<(bool, usize)>)> {
        let with_sel = |f: fn(MsgSel, u64) -> FaultKind, lo: u64| {
            (msg_sel(), lo..50u64).prop_map(move |(s, n)| match s {
                Ok(s) => (f(s, n), None),
                Err(h) => (f(MsgSel::Setup, n), Some(h)),
            })
        };
        prop_oneof![
            with_sel(|s, _| FaultKind::Drop(s), 0),
            with_sel(FaultKind::Delay, 1),
            with_sel(|s, _| FaultKind::Reorder(s), 0),
            with_sel(|s, _| FaultKind::Duplicate(s), 0),
            with_sel(FaultKind::Split, 1),
            with_sel(FaultKind::CloseMid, 1),
            with_sel(|s, n| FaultKind::Corrupt(s, HeaderField::Size, n), 0),
            with_sel(|s, n| FaultKind::Corrupt(s, HeaderField::Tag, n), 0),
            with_sel(|s, n| FaultKind::Corrupt(s, HeaderField::Opcode, n), 0),
            with_sel(|s, n| FaultKind::Corrupt(s, HeaderField::Seqno, n), 0),
            (1u64..99, action()).prop_map(|(n, a)| (FaultKind::AtStep(n, a), None)),
            (text(), action()).prop_map(|(p, a)| (FaultKind::On(p, a), None)),
            Just((FaultKind::CaDeliversLate, None)),
            Just((FaultKind::ReserveFails, None)),
            (1u64..99).prop_map(|n| (FaultKind::ShortReads(n), None)),
            (1u64..99).prop_map(|n| (FaultKind::ShortWrites(n), None)),
            (0u64..50, 1u64..50).prop_map(|(a, b)| (FaultKind::StallReader(a, a + b), None)),
        ]
    }

    /// An expectation; a call handle is an index resolved by `build`.
    fn expect() -> impl Strategy<Value = (Option<usize>, ExpectKind)> {
        let result = prop_oneof![
            prop::option::of(arg_value()).prop_map(ResultExpect::Ok),
            prop::option::of(text()).prop_map(ResultExpect::Error),
            Just(ResultExpect::Done),
            Just(ResultExpect::None),
        ];
        prop_oneof![
            (any::<usize>(), result)
                .prop_map(|(h, r)| (Some(h), ExpectKind::Result(String::new(), r))),
            vec(text(), 2..4).prop_map(|p| (None, ExpectKind::Order(p))),
            (text(), 0u64..4).prop_map(|(p, n)| (None, ExpectKind::Count(p, n))),
            (session(), state()).prop_map(|(n, s)| (None, ExpectKind::State(n, s))),
        ]
    }

    prop_compose! {
        fn scenario()(
            rules in vec(comment_text(), 1..3),
            deviations in vec(comment_text(), 0..2),
            seed in any::<u64>(),
            latency in (1u64..5, 0u64..5),
            dispatcher in (any::<bool>(), select(vec![QueuePolicy::Keep, QueuePolicy::Run, QueuePolicy::Drop])),
            on_disconnect in prop_oneof![
                Just(OnDisconnect::Log),
                Just(OnDisconnect::None),
                Just(OnDisconnect::Shutdown),
                text().prop_map(OnDisconnect::Panic),
            ],
            sessions in 0usize..3,
            managers in vec(manager(2), 0..3),
            jits in vec(jit(), 3),
            handlers in vec(handler(), 2),
            flags in (any::<bool>(), any::<bool>(), any::<bool>()),
            pipe in prop_oneof![Just(65536u64), 32u64..100_000],
            probes in vec(text(), 0..2),
            faults in vec(fault(), 0..5),
            steps in vec(step(), 0..25),
            expects in vec(expect(), 0..6),
        ) -> Scenario {
            build(Raw {
                rules, deviations, seed, latency, dispatcher, on_disconnect, sessions, managers, jits,
                handlers, flags, pipe, probes, faults, steps, expects,
            })
        }
    }

    struct Raw {
        rules: Vec<String>,
        deviations: Vec<String>,
        seed: u64,
        latency: (u64, u64),
        dispatcher: (bool, QueuePolicy),
        on_disconnect: OnDisconnect,
        sessions: usize,
        managers: Vec<ManagerDecl>,
        jits: Vec<JitDecl>,
        handlers: Vec<HandlerDecl>,
        flags: (bool, bool, bool),
        pipe: u64,
        probes: Vec<String>,
        faults: Vec<(FaultKind, Option<(bool, usize)>)>,
        steps: Vec<StepGen>,
        expects: Vec<(Option<usize>, ExpectKind)>,
    }

    /// Resolves the indexes into names defined earlier and gives every
    /// declaration a unique name: a scenario that validates.
    fn build(r: Raw) -> Scenario {
        fn pick(v: &[String], i: usize) -> Option<String> {
            (!v.is_empty()).then(|| v[i % v.len()].clone())
        }
        let (wire, access_model, want_services) = r.flags;
        let mut sc = Scenario {
            name: "gen".into(),
            file: "gen.scn".into(),
            rules: r.rules,
            wire: wire || !r.deviations.is_empty(),
            deviations: r.deviations,
            seed: r.seed,
            latency: (r.latency.0, r.latency.0 + r.latency.1),
            dispatcher: DispatcherDecl {
                holding_guard: r.dispatcher.0,
                at_shutdown: r.dispatcher.1,
            },
            on_disconnect: r.on_disconnect,
            sessions: Vec::new(),
            managers: r.managers,
            jits: r.jits,
            handlers: r.handlers,
            services: want_services,
            access: if access_model {
                AccessKind::Model
            } else {
                AccessKind::Real
            },
            pipe_capacity: r.pipe,
            probes: r
                .probes
                .into_iter()
                .map(|pattern| Probe {
                    pattern,
                    pos: Pos::default(),
                })
                .collect(),
            faults: Vec::new(),
            steps: Vec::new(),
            expects: Vec::new(),
            provided_wrappers: Vec::new(),
        };
        for (j, name) in sc.jits.iter_mut().zip(JITS) {
            j.name = name.into();
        }
        for (h, name) in sc.handlers.iter_mut().zip(TAGS) {
            h.name = name.into();
        }
        let (mut calls, mut regions, mut inits, mut libs) = (vec![], vec![], vec![], vec![]);
        let (mut live, mut guards, mut names) = (Vec::<String>::new(), 0, 0);
        let mut fresh = |prefix: &str| {
            names += 1;
            format!("{prefix}{names}")
        };
        let refs = |v: &[String], rs: Vec<Result<usize, u64>>| -> Vec<String> {
            rs.into_iter()
                .map(|a| match a {
                    Ok(i) if !v.is_empty() => v[i % v.len()].clone(),
                    Ok(i) => format!("{:#x}", i as u64),
                    Err(a) => format!("{a:#x}"),
                })
                .collect()
        };
        for g in r.steps {
            let kind = match g {
                StepGen::Kind(k) => Some(k),
                StepGen::Call(t, arg) => {
                    let handle = fresh("c");
                    calls.push(handle.clone());
                    let target = match t % 5 {
                        0..3 => CallTarget::Jit(JITS[t % 3].into()),
                        3 => CallTarget::Addr(t as u64),
                        _ => {
                            sc.services = true;
                            CallTarget::Jit("bootstrap_symbol".into())
                        }
                    };
                    Some(StepKind::Call {
                        handle,
                        target,
                        arg,
                    })
                }
                StepGen::Await(h, k) => Some(StepKind::Await(match pick(&calls, h) {
                    None => AwaitCond::Idle,
                    Some(h) => match k {
                        0 => AwaitCond::Sent(h),
                        1 => AwaitCond::Running(h),
                        _ => AwaitCond::Done(h),
                    },
                })),
                StepGen::Enter(s) => {
                    guards += 1;
                    live.push(format!("g{guards}"));
                    Some(StepKind::Enter(format!("g{guards}"), s))
                }
                StepGen::Leave(i) if !live.is_empty() => {
                    Some(StepKind::Leave(live.remove(i % live.len())))
                }
                StepGen::Clone(i) if !live.is_empty() => {
                    guards += 1;
                    let g = live[i % live.len()].clone();
                    live.push(format!("g{guards}"));
                    Some(StepKind::CloneGuard(g, format!("g{guards}")))
                }
                StepGen::Leave(_) | StepGen::Clone(_) => None,
                StepGen::Spawn(f) => Some(StepKind::Spawn(fresh("t"), f)),
                StepGen::OnDetach(s) => Some(StepKind::OnDetach(fresh("cb"), s)),
                StepGen::OnShutdown(s) => Some(StepKind::OnShutdown(fresh("cb"), s)),
                g => {
                    sc.services = true;
                    let h = fresh("s");
                    let op = match g {
                        StepGen::Reserve(n) => {
                            regions.push(h.clone());
                            Some(SvcOp::Reserve(n))
                        }
                        StepGen::Write(r, o, v) => pick(&regions, r).map(|r| SvcOp::Write(r, o, v)),
                        StepGen::Read(r, o, n) => pick(&regions, r).map(|r| SvcOp::Read(r, o, n)),
                        StepGen::Release(rs) => Some(SvcOp::Release(refs(&regions, rs))),
                        StepGen::Initialize(r, segs, acts) => pick(&regions, r).map(|r| {
                            inits.push(h.clone());
                            SvcOp::Initialize(r, segs, acts)
                        }),
                        StepGen::Deinitialize(ss) => Some(SvcOp::Deinitialize(refs(&inits, ss))),
                        StepGen::Open(p) => {
                            libs.push(h.clone());
                            Some(SvcOp::Open(p))
                        }
                        StepGen::Resolve(l, syms) => {
                            pick(&libs, l).map(|l| SvcOp::Resolve(l, syms))
                        }
                        _ => unreachable!(),
                    };
                    op.map(|op| {
                        calls.push(h.clone());
                        StepKind::Service(h, op)
                    })
                }
            };
            sc.steps.push(Step {
                kind: kind.unwrap_or(StepKind::Tick(1)),
                pos: Pos::default(),
            });
        }
        // Every manager, nested ones too, gets a name of its own.
        let mut n = 0;
        let mut rename = |m: &mut ManagerDecl| {
            fn walk(m: &mut ManagerDecl, n: &mut usize) {
                *n += 1;
                m.name = format!("m{n}");
                for b in [&mut m.detach, &mut m.shutdown] {
                    if let Some(x) = &mut b.add_manager {
                        walk(x, n);
                    }
                }
            }
            walk(m, &mut n);
        };
        sc.managers.iter_mut().for_each(&mut rename);
        for j in &mut sc.jits {
            for o in &mut j.ops {
                if let Op::AddManager(m) = o {
                    rename(m);
                }
            }
        }
        for s in &mut sc.steps {
            if let StepKind::AddManager(m) = &mut s.kind {
                rename(m);
            }
        }
        for (mut kind, h) in r.faults {
            if let Some((result, i)) = h
                && let Some(h) = pick(&calls, i)
            {
                let sel = if result {
                    MsgSel::Result(h)
                } else {
                    MsgSel::Call(h)
                };
                match &mut kind {
                    FaultKind::Drop(s)
                    | FaultKind::Delay(s, _)
                    | FaultKind::Reorder(s)
                    | FaultKind::Duplicate(s)
                    | FaultKind::Split(s, _)
                    | FaultKind::CloseMid(s, _)
                    | FaultKind::Corrupt(s, ..) => *s = sel,
                    _ => {}
                }
            }
            let clash = sc.faults.iter().any(|f| {
                f.kind == kind
                    || matches!(
                        (&f.kind, &kind),
                        (FaultKind::ShortReads(_), FaultKind::ShortReads(_))
                            | (FaultKind::ShortWrites(_), FaultKind::ShortWrites(_))
                    )
            });
            let bytes = matches!(
                kind,
                FaultKind::Split(..)
                    | FaultKind::ShortReads(_)
                    | FaultKind::ShortWrites(_)
                    | FaultKind::StallReader(..)
                    | FaultKind::CloseMid(..)
                    | FaultKind::Corrupt(..)
            );
            let needs_real = bytes && sc.access == AccessKind::Model;
            if !clash && !needs_real {
                sc.faults.push(Fault {
                    kind,
                    pos: Pos::default(),
                });
            }
        }
        let mut states = Vec::new();
        for (h, mut kind) in r.expects {
            match (&mut kind, h) {
                (ExpectKind::Result(name, _), Some(i)) => match pick(&calls, i) {
                    Some(h) => *name = h,
                    None => continue,
                },
                (ExpectKind::State(s, _), _) => {
                    resolve_session(s, r.sessions);
                    if states.contains(s) {
                        continue;
                    }
                    states.push(s.clone());
                }
                _ => {}
            }
            sc.expects.push(Expect {
                kind,
                pos: Pos::default(),
            });
        }
        sc.sessions = (1..=r.sessions)
            .map(|i| SessionDecl {
                name: format!("sess{i}"),
                pos: Pos::default(),
            })
            .collect();
        resolve_sessions(&mut sc, r.sessions);
        sc
    }

    /// A placeholder session reference as one of the `n` sessions
    /// (`sess1`...), or the default session if there are none.
    fn resolve_session(s: &mut Option<String>, n: usize) {
        *s = match (s.as_deref(), n) {
            (Some(i), 1..) => Some(format!("sess{}", i.parse::<usize>().unwrap_or(0) % n + 1)),
            _ => None,
        };
    }

    /// Resolves every placeholder session reference but the expectations'
    /// (already resolved).
    fn resolve_sessions(sc: &mut Scenario, n: usize) {
        fn manager(m: &mut ManagerDecl, n: usize) {
            resolve_session(&mut m.session, n);
            for b in [&mut m.detach, &mut m.shutdown] {
                for s in [&mut b.request_shutdown, &mut b.wait_shutdown]
                    .into_iter()
                    .flatten()
                {
                    resolve_session(s, n);
                }
                if let Some(x) = &mut b.add_manager {
                    manager(x, n);
                }
            }
        }
        fn action(a: &mut Action, n: usize) {
            if let Action::Detach(s) | Action::Shutdown(s) = a {
                resolve_session(s, n);
            }
        }
        for m in &mut sc.managers {
            manager(m, n);
        }
        for j in &mut sc.jits {
            for o in &mut j.ops {
                match o {
                    Op::Enter(s)
                    | Op::Shutdown(s)
                    | Op::Detach(s)
                    | Op::WaitShutdown(s)
                    | Op::Dispatch(_, s) => resolve_session(s, n),
                    Op::AddManager(m) => manager(m, n),
                    _ => {}
                }
            }
        }
        for f in &mut sc.faults {
            if let FaultKind::AtStep(_, a) | FaultKind::On(_, a) = &mut f.kind {
                action(a, n);
            }
        }
        for st in &mut sc.steps {
            match &mut st.kind {
                StepKind::Act(a) => action(a, n),
                StepKind::AddManager(m) => manager(m, n),
                StepKind::OnDetach(_, s)
                | StepKind::OnShutdown(_, s)
                | StepKind::Enter(_, s)
                | StepKind::WaitShutdown(s)
                | StepKind::CheckState(s, _)
                | StepKind::Await(AwaitCond::State(s, _)) => resolve_session(s, n),
                _ => {}
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn generated_scenarios_round_trip(sc in scenario()) {
            let text = sc.to_scn();
            let back = parse("gen.scn", &text)
                .map_err(|e| TestCaseError::fail(format!("{e}\n--- printed:\n{text}")))?;
            prop_assert_eq!(back.without_positions(), sc, "printed:\n{}", text);
        }
    }
}
