//! The `.scn` parser: one statement per line, header before `---`, body
//! after. Every error names the file, line and column.

use std::collections::BTreeSet;

use super::lex::{self, Tok, Token};
use super::*;

/// Parses a scenario. `file` names it in errors (and gives its name: the
/// file stem).
pub fn parse(file: &str, text: &str) -> Result<Scenario, ParseError> {
    let name = std::path::Path::new(file)
        .file_stem()
        .map_or_else(|| file.to_owned(), |s| s.to_string_lossy().into_owned());
    let mut sc = Scenario {
        name,
        file: file.to_owned(),
        rules: Vec::new(),
        deviations: Vec::new(),
        seed: 0,
        latency: (1, 3),
        dispatcher: DispatcherDecl::default(),
        on_disconnect: OnDisconnect::Log,
        managers: Vec::new(),
        jits: Vec::new(),
        handlers: Vec::new(),
        services: false,
        wire: false,
        access: AccessKind::Real,
        pipe_capacity: 65536,
        probes: Vec::new(),
        faults: Vec::new(),
        steps: Vec::new(),
        expects: Vec::new(),
    };
    let err = |pos: Pos, message: String| ParseError {
        file: file.to_owned(),
        pos,
        message,
    };
    let mut in_body = false;
    let mut saw_separator = false;
    let mut last_line = 0;
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        last_line = line_no;
        let trimmed = raw.trim_start();
        if let Some(rest) = trimmed.strip_prefix('#') {
            if let Some(d) = rest.trim_start().strip_prefix("deviation:") {
                sc.deviations.push(d.trim().to_owned());
            }
            if let Some(rule) = rest.trim_start().strip_prefix("rule:") {
                let rule = rule.trim();
                if rule.is_empty() {
                    let col = raw.len() - trimmed.len() + 1;
                    return Err(err(
                        Pos { line: line_no, col },
                        "empty `# rule:` line".into(),
                    ));
                }
                sc.rules.push(rule.to_owned());
            }
            continue;
        }
        if trimmed.trim_end() == "---" {
            if saw_separator {
                let col = raw.len() - trimmed.len() + 1;
                return Err(err(
                    Pos { line: line_no, col },
                    "a second `---` line (only one separates header and body)".into(),
                ));
            }
            saw_separator = true;
            in_body = true;
            continue;
        }
        let tokens = lex::line(raw, line_no).map_err(|(pos, m)| err(pos, m))?;
        if tokens.is_empty() {
            continue;
        }
        let mut c = Cursor {
            toks: tokens,
            i: 0,
            line: line_no,
            end_col: raw.chars().count() + 1,
        };
        let r = if in_body {
            body_line(&mut c, &mut sc)
        } else {
            header_line(&mut c, &mut sc)
        };
        r.map_err(|(pos, m)| err(pos, m))?;
    }
    if !saw_separator {
        return Err(err(
            Pos {
                line: last_line.max(1),
                col: 1,
            },
            "missing `---` line between the header and the script".into(),
        ));
    }
    validate(&sc).map_err(|(pos, m)| err(pos, m))?;
    Ok(sc)
}

type PResult<T> = Result<T, (Pos, String)>;

struct Cursor {
    toks: Vec<Token>,
    i: usize,
    line: usize,
    end_col: usize,
}

impl Cursor {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.i)
    }

    fn pos(&self) -> Pos {
        self.peek().map_or(
            Pos {
                line: self.line,
                col: self.end_col,
            },
            |t| t.pos,
        )
    }

    fn found(&self) -> String {
        self.peek()
            .map_or_else(|| "end of line".to_owned(), |t| t.tok.describe())
    }

    fn fail<T>(&self, expected: &str) -> PResult<T> {
        Err((
            self.pos(),
            format!("expected {expected}, found {}", self.found()),
        ))
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.i).cloned();
        if t.is_some() {
            self.i += 1;
        }
        t
    }

    fn word(&mut self, what: &str) -> PResult<(String, Pos)> {
        match self.peek() {
            Some(Token {
                tok: Tok::Word(w),
                pos,
            }) => {
                let r = (w.clone(), *pos);
                self.i += 1;
                Ok(r)
            }
            _ => self.fail(what),
        }
    }

    fn name(&mut self, what: &str) -> PResult<(String, Pos)> {
        let (w, pos) = self.word(what)?;
        if !w
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        {
            return Err((
                pos,
                format!("`{w}` is not a valid {what} (letters, digits, `_`, `-`, `.`)"),
            ));
        }
        Ok((w, pos))
    }

    fn peek_word(&self) -> Option<&str> {
        match self.peek() {
            Some(Token {
                tok: Tok::Word(w), ..
            }) => Some(w),
            _ => None,
        }
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.peek_word() == Some(w) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn keyword(&mut self, options: &[&str]) -> PResult<(String, Pos)> {
        let list = options
            .iter()
            .map(|o| format!("`{o}`"))
            .collect::<Vec<_>>()
            .join(", ");
        match self.peek_word() {
            Some(w) if options.contains(&w) => self.word(""),
            Some(w) => Err((
                self.pos(),
                format!("unknown word `{w}`; expected one of {list}"),
            )),
            None => self.fail(&format!("one of {list}")),
        }
    }

    fn string(&mut self, what: &str) -> PResult<String> {
        match self.peek() {
            Some(Token {
                tok: Tok::Str(s), ..
            }) => {
                let s = s.clone();
                self.i += 1;
                Ok(s)
            }
            _ => self.fail(what),
        }
    }

    fn number(&mut self, what: &str) -> PResult<u64> {
        let pos = self.pos();
        let (w, _) = self.word(what)?;
        parse_number(&w).ok_or_else(|| (pos, format!("expected {what}, found `{w}`")))
    }

    fn punct(&mut self, c: char) -> PResult<()> {
        match self.peek() {
            Some(Token {
                tok: Tok::Punct(p), ..
            }) if *p == c => {
                self.i += 1;
                Ok(())
            }
            _ => self.fail(&format!("`{c}`")),
        }
    }

    fn eat_punct(&mut self, c: char) -> bool {
        if matches!(self.peek(), Some(Token { tok: Tok::Punct(p), .. }) if *p == c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn at_end(&self) -> bool {
        self.i >= self.toks.len()
    }

    fn end(&self) -> PResult<()> {
        if self.at_end() {
            Ok(())
        } else {
            Err((
                self.pos(),
                format!("unexpected {} at the end of the line", self.found()),
            ))
        }
    }

    fn value(&mut self) -> PResult<Value> {
        let (kind, pos) =
            self.keyword(&["empty", "u64", "u32", "bool", "str", "bytes", "error"])?;
        Ok(match kind.as_str() {
            "empty" => Value::Empty,
            "u64" => Value::U64(self.number("a u64")?),
            "u32" => {
                let p = self.pos();
                let n = self.number("a u32")?;
                Value::U32(u32::try_from(n).map_err(|_| (p, format!("{n} does not fit in a u32")))?)
            }
            "bool" => Value::Bool(self.keyword(&["true", "false"])?.0 == "true"),
            "str" => Value::Str(self.string("a quoted string")?),
            "bytes" => {
                let (hex, p) = self.word("hex bytes (e.g. `01ff`)")?;
                Value::Bytes(
                    parse_hex(&hex)
                        .ok_or((p, format!("`{hex}` is not an even number of hex digits")))?,
                )
            }
            "error" => Value::Error(self.string("the error message (a quoted string)")?),
            _ => unreachable!("{pos}"),
        })
    }

    /// A value if one follows, else `empty`.
    fn opt_value(&mut self) -> PResult<Value> {
        if self.at_end()
            || matches!(
                self.peek(),
                Some(Token {
                    tok: Tok::Punct(_),
                    ..
                })
            )
        {
            Ok(Value::Empty)
        } else {
            self.value()
        }
    }
}

fn parse_number(w: &str) -> Option<u64> {
    let w = w.replace('_', "");
    match w.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => w.parse().ok(),
    }
}

/// `r-x` → 0b101 (read 1, write 2, execute 4).
fn parse_prot(w: &str) -> Option<u8> {
    let b = w.as_bytes();
    if b.len() != 3 {
        return None;
    }
    let bit = |c: u8, want: u8, v: u8| match c {
        b'-' => Some(0),
        c if c == want => Some(v),
        _ => None,
    };
    Some(bit(b[0], b'r', 1)? | bit(b[1], b'w', 2)? | bit(b[2], b'x', 4)?)
}

fn parse_hex(w: &str) -> Option<Vec<u8>> {
    if !w.len().is_multiple_of(2) {
        return None;
    }
    (0..w.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(w.get(i..i + 2)?, 16).ok())
        .collect()
}

fn header_line(c: &mut Cursor, sc: &mut Scenario) -> PResult<()> {
    let (kw, pos) = c.keyword(&[
        "seed",
        "latency",
        "dispatcher",
        "on-disconnect",
        "manager",
        "jit",
        "handler",
        "fault",
        "services",
        "wire",
    ])?;
    match kw.as_str() {
        "seed" => sc.seed = c.number("a seed (a number)")?,
        "services" => sc.services = true,
        "wire" => sc.wire = true,
        "latency" => {
            let lo = c.number("the minimum latency in ticks")?;
            let p = c.pos();
            let hi = c.number("the maximum latency in ticks")?;
            if hi < lo || lo == 0 {
                return Err((
                    p,
                    format!("latency range {lo}..{hi} must satisfy 1 <= MIN <= MAX"),
                ));
            }
            sc.latency = (lo, hi);
        }
        "dispatcher" => {
            let (k, _) = c.keyword(&["queue", "holding-guard"])?;
            sc.dispatcher.holding_guard = k == "holding-guard";
            if !c.at_end() {
                let (p, _) = c.keyword(&["keep", "run", "drop"])?;
                sc.dispatcher.at_shutdown = match p.as_str() {
                    "keep" => QueuePolicy::Keep,
                    "run" => QueuePolicy::Run,
                    _ => QueuePolicy::Drop,
                };
            }
        }
        "on-disconnect" => {
            let (k, _) = c.keyword(&["log", "none", "shutdown", "panic"])?;
            sc.on_disconnect = match k.as_str() {
                "log" => OnDisconnect::Log,
                "none" => OnDisconnect::None,
                "shutdown" => OnDisconnect::Shutdown,
                _ => OnDisconnect::Panic(c.string("the panic message")?),
            };
        }
        "manager" => sc.managers.push(manager(c, pos)?),
        "jit" => {
            let (name, _) = c.name("function name")?;
            c.punct(':')?;
            let mut ops = Vec::new();
            loop {
                ops.push(op(c)?);
                if c.at_end() {
                    break;
                }
                c.punct(',')?;
            }
            sc.jits.push(JitDecl {
                name,
                abi: JitAbi::Rust,
                ops,
                pos,
            });
        }
        "handler" => {
            let (name, _) = c.name("handler tag name")?;
            c.punct(':')?;
            let (k, _) = c.keyword(&["reply", "echo", "never", "hangup", "close"])?;
            let reply = match k.as_str() {
                "reply" => Reply::Value(c.value()?),
                "echo" => Reply::Echo,
                "never" => Reply::Never,
                "hangup" => Reply::Hangup,
                _ => Reply::Close,
            };
            let after = if c.eat_word("after") {
                c.number("a number of ticks")?
            } else {
                0
            };
            sc.handlers.push(HandlerDecl {
                name,
                calls_back: Vec::new(),
                reply,
                after,
                pos,
            });
        }
        "fault" => {
            let (k, _) = c.keyword(&[
                "drop",
                "delay",
                "reorder",
                "duplicate",
                "at-step",
                "on",
                "reserve-fails",
                "ca-delivers-late",
            ])?;
            let kind = match k.as_str() {
                "drop" => FaultKind::Drop(msg_sel(c)?),
                "delay" => {
                    let sel = msg_sel(c)?;
                    FaultKind::Delay(sel, c.number("the delay in ticks")?)
                }
                "reorder" => FaultKind::Reorder(msg_sel(c)?),
                "duplicate" => FaultKind::Duplicate(msg_sel(c)?),
                "at-step" => {
                    let n = c.number("a scheduler step number")?;
                    FaultKind::AtStep(n, action(c)?)
                }
                "on" => {
                    let pat = c.string("an event pattern (a quoted string)")?;
                    FaultKind::On(pat, action(c)?)
                }
                "reserve-fails" => FaultKind::ReserveFails,
                _ => FaultKind::CaDeliversLate,
            };
            sc.faults.push(Fault { kind, pos });
        }
        _ => unreachable!(),
    }
    c.end()
}

fn manager(c: &mut Cursor, pos: Pos) -> PResult<ManagerDecl> {
    let (name, _) = c.name("manager name")?;
    let mut m = ManagerDecl {
        name,
        detach: Behaviour::default(),
        shutdown: Behaviour::default(),
        pos,
    };
    while !c.at_end() {
        let (which, _) = c.keyword(&["detach", "shutdown"])?;
        let b = behaviour(c)?;
        if which == "detach" {
            m.detach = b;
        } else {
            m.shutdown = b;
        }
    }
    Ok(m)
}

fn behaviour(c: &mut Cursor) -> PResult<Behaviour> {
    let (o, _) = c.keyword(&["ok", "fail", "panic", "forget"])?;
    let outcome = match o.as_str() {
        "ok" => Outcome::Ok,
        "fail" => Outcome::Fail(c.string("the error message (a quoted string)")?),
        "panic" => Outcome::Panic(c.string("the panic message (a quoted string)")?),
        _ => Outcome::Forget,
    };
    let mut b = Behaviour {
        outcome,
        ..Behaviour::default()
    };
    loop {
        if c.eat_word("after") {
            if matches!(b.outcome, Outcome::Panic(_)) {
                return Err((
                    c.pos(),
                    "a panic happens inside the callback: `after` does not apply".into(),
                ));
            }
            b.after = Some(c.number("a number of ticks")?);
        } else if c.eat_word("request-shutdown") {
            b.request_shutdown = true;
        } else {
            return Ok(b);
        }
    }
}

fn op(c: &mut Cursor) -> PResult<Op> {
    let (k, _) = c.keyword(&[
        "enter",
        "leave",
        "clone",
        "work",
        "call",
        "call-async",
        "return",
        "return-later",
        "shutdown",
        "detach",
        "wait-shutdown",
        "wait",
        "spawn",
        "dispatch",
        "panic",
    ])?;
    Ok(match k.as_str() {
        "enter" => Op::Enter,
        "leave" => Op::Leave,
        "clone" => Op::Clone,
        "work" => Op::Work(c.number("a number of ticks")?),
        "call" => {
            let (tag, _) = c.name("handler tag name")?;
            Op::Call(tag, c.opt_value()?)
        }
        "call-async" => {
            let (tag, _) = c.name("handler tag name")?;
            Op::CallAsync(tag, c.opt_value()?)
        }
        "return" => Op::Return(c.value()?),
        "return-later" => {
            let n = c.number("a number of ticks")?;
            Op::ReturnLater(n, c.value()?)
        }
        "shutdown" => Op::Shutdown,
        "detach" => Op::Detach,
        "wait-shutdown" => Op::WaitShutdown,
        "wait" => Op::Wait(c.string("an event pattern (a quoted string)")?),
        "spawn" => {
            let (t, _) = c.name("thread name")?;
            let (f, _) = c.name("function name")?;
            Op::Spawn(t, f)
        }
        "dispatch" => Op::Dispatch(c.name("function name")?.0),
        _ => Op::Panic(c.string("the panic message (a quoted string)")?),
    })
}

fn msg_sel(c: &mut Cursor) -> PResult<MsgSel> {
    let (k, _) = c.keyword(&["setup", "call", "result", "ccall", "reply", "hangup", "msg"])?;
    Ok(match k.as_str() {
        "setup" => MsgSel::Setup,
        "call" => MsgSel::Call(c.name("call handle")?.0),
        "result" => MsgSel::Result(c.name("call handle")?.0),
        "ccall" | "reply" => {
            let (tag, _) = c.name("handler tag name")?;
            let n = if matches!(c.peek_word(), Some(w) if parse_number(w).is_some()) {
                c.number("an occurrence number")?
            } else {
                1
            };
            if k == "ccall" {
                MsgSel::CallTag(tag, n)
            } else {
                MsgSel::Reply(tag, n)
            }
        }
        "hangup" => MsgSel::Hangup,
        _ => MsgSel::Nth(c.number("a message number")?),
    })
}

fn action(c: &mut Cursor) -> PResult<Action> {
    let (k, _) = c.keyword(&["detach", "shutdown", "shutdown-threads", "hangup", "close"])?;
    Ok(match k.as_str() {
        "detach" => Action::Detach,
        "shutdown" => Action::Shutdown,
        "shutdown-threads" => {
            let p = c.pos();
            let n = c.number("a number of threads")?;
            if !(1..=64).contains(&n) {
                return Err((p, format!("{n} threads: choose 1 to 64")));
            }
            Action::ShutdownThreads(n as u32)
        }
        "hangup" => Action::Hangup,
        _ => Action::Close,
    })
}

fn state_name(c: &mut Cursor) -> PResult<StateName> {
    let (k, _) = c.keyword(&["start", "attached", "detached", "shut-down"])?;
    Ok(match k.as_str() {
        "start" => StateName::Start,
        "attached" => StateName::Attached,
        "detached" => StateName::Detached,
        _ => StateName::ShutDown,
    })
}

fn body_line(c: &mut Cursor, sc: &mut Scenario) -> PResult<()> {
    let (kw, pos) = c.keyword(&[
        "attach",
        "call",
        "detach",
        "shutdown",
        "shutdown-threads",
        "hangup",
        "close",
        "tick",
        "await",
        "spawn",
        "add-manager",
        "on-detach",
        "on-shutdown",
        "enter",
        "leave",
        "reserve",
        "write",
        "read",
        "release",
        "initialize",
        "deinitialize",
        "open",
        "resolve",
        "expect",
    ])?;
    let kind = match kw.as_str() {
        "attach" => {
            if c.at_end() {
                StepKind::Attach(AttachHow::Normal)
            } else {
                let (k, _) = c.keyword(&["fail", "shutdown-in-connect", "detach-in-connect"])?;
                StepKind::Attach(match k.as_str() {
                    "fail" => {
                        AttachHow::Fail(c.string("the connect error message (a quoted string)")?)
                    }
                    "shutdown-in-connect" => AttachHow::ShutdownInConnect,
                    _ => AttachHow::DetachInConnect,
                })
            }
        }
        "call" => {
            let (handle, _) = c.name("call handle")?;
            let (t, tpos) = c.word("a JIT'd function name or an address")?;
            let target = if t.starts_with("0x") {
                CallTarget::Addr(
                    parse_number(&t).ok_or((tpos, format!("`{t}` is not a hex address")))?,
                )
            } else {
                CallTarget::Jit(t)
            };
            let arg = c.opt_value()?;
            StepKind::Call {
                handle,
                target,
                arg,
            }
        }
        "detach" | "shutdown" | "shutdown-threads" | "hangup" | "close" => {
            c.i -= 1;
            StepKind::Act(action(c)?)
        }
        "tick" => StepKind::Tick(c.number("a number of ticks")?),
        "await" => StepKind::Await(
            if let Some(Token {
                tok: Tok::Str(_), ..
            }) = c.peek()
            {
                AwaitCond::Pattern(c.string("")?)
            } else if c.eat_word("state") {
                AwaitCond::State(state_name(c)?)
            } else if c.eat_word("idle") {
                AwaitCond::Idle
            } else {
                let (h, _) = c.name("a call handle, `state`, `idle` or a quoted pattern")?;
                let (w, _) = c.keyword(&["sent", "running", "done"])?;
                match w.as_str() {
                    "sent" => AwaitCond::Sent(h),
                    "running" => AwaitCond::Running(h),
                    _ => AwaitCond::Done(h),
                }
            },
        ),
        "spawn" => {
            let (t, _) = c.name("thread name")?;
            let (f, _) = c.name("function name")?;
            StepKind::Spawn(t, f)
        }
        "add-manager" => StepKind::AddManager(manager(c, pos)?),
        "on-detach" => StepKind::OnDetach(c.name("callback name")?.0),
        "on-shutdown" => StepKind::OnShutdown(c.name("callback name")?.0),
        "enter" => StepKind::Enter(c.name("guard name")?.0),
        "leave" => StepKind::Leave(c.name("guard name")?.0),
        "reserve" | "write" | "read" | "release" | "initialize" | "deinitialize" | "open"
        | "resolve" => {
            let (h, _) = c.name("call handle")?;
            let op = match kw.as_str() {
                "reserve" => SvcOp::Reserve(c.number("a size in bytes")?),
                "write" => {
                    let (r, _) = c.name("a region (the handle of a `reserve`)")?;
                    let off = c.number("an offset")?;
                    SvcOp::Write(r, off, c.value()?)
                }
                "read" => {
                    let (r, _) = c.name("a region (the handle of a `reserve`)")?;
                    let off = c.number("an offset")?;
                    SvcOp::Read(r, off, c.number("a length")?)
                }
                "release" => {
                    SvcOp::Release(vec![c.name("a region (the handle of a `reserve`)")?.0])
                }
                "initialize" => {
                    let (r, _) = c.name("a region (the handle of a `reserve`)")?;
                    let off = c.number("an offset")?;
                    let size = c.number("a segment size")?;
                    let (p, ppos) = c.word("a protection such as `r-x`")?;
                    let prot = parse_prot(&p).ok_or((
                        ppos,
                        format!(
                            "`{p}` is not a protection (three letters from `rwx`/`-`, e.g. `r-x`)"
                        ),
                    ))?;
                    let content = c.opt_value()?;
                    SvcOp::Initialize(
                        r,
                        vec![SegmentDecl {
                            offset: off,
                            size,
                            prot,
                            finalize: false,
                            content,
                        }],
                        Vec::new(),
                    )
                }
                "deinitialize" => SvcOp::Deinitialize(vec![
                    c.name("an initialized segment (the handle of an `initialize`)")?
                        .0,
                ]),
                "open" => {
                    SvcOp::Open(c.string("a library path (a quoted string; \"\" = the process)")?)
                }
                _ => {
                    let (lib, _) = c.name("a library (the handle of an `open`)")?;
                    let mut syms = vec![(c.string("a symbol name (a quoted string)")?, true)];
                    loop {
                        if c.eat_word("weak") {
                            syms.last_mut().expect("one symbol").1 = false;
                        } else if c.at_end() {
                            break;
                        } else {
                            syms.push((
                                c.string("a symbol name (a quoted string) or `weak`")?,
                                true,
                            ));
                        }
                    }
                    SvcOp::Resolve(lib, syms)
                }
            };
            StepKind::Service(h, op)
        }
        "expect" => {
            let kind = expect(c)?;
            c.end()?;
            sc.expects.push(Expect { kind, pos });
            return Ok(());
        }
        _ => unreachable!(),
    };
    c.end()?;
    sc.steps.push(Step { kind, pos });
    Ok(())
}

fn expect(c: &mut Cursor) -> PResult<ExpectKind> {
    match c.peek_word() {
        Some("order") => {
            c.next();
            let mut pats = vec![c.string("an event pattern (a quoted string)")?];
            while c.eat_punct('<') {
                pats.push(c.string("an event pattern (a quoted string)")?);
            }
            if pats.len() < 2 {
                return c.fail("`<` and a second pattern");
            }
            Ok(ExpectKind::Order(pats))
        }
        Some("count") => {
            c.next();
            let p = c.string("an event pattern (a quoted string)")?;
            Ok(ExpectKind::Count(p, c.number("a count")?))
        }
        Some("once") => {
            c.next();
            Ok(ExpectKind::Count(
                c.string("an event pattern (a quoted string)")?,
                1,
            ))
        }
        Some("never") => {
            c.next();
            Ok(ExpectKind::Count(
                c.string("an event pattern (a quoted string)")?,
                0,
            ))
        }
        Some("state") => {
            c.next();
            Ok(ExpectKind::State(state_name(c)?))
        }
        Some(_) => {
            let (h, _) = c.name("a call handle")?;
            let (k, _) = c.keyword(&["ok", "error", "none"])?;
            let r = match k.as_str() {
                "ok" => ResultExpect::Ok(if c.at_end() { None } else { Some(c.value()?) }),
                "error" => ResultExpect::Error(if c.at_end() {
                    None
                } else {
                    Some(c.string("an error message fragment (a quoted string)")?)
                }),
                _ => ResultExpect::None,
            };
            Ok(ExpectKind::Result(h, r))
        }
        None => c.fail("`order`, `count`, `once`, `never`, `state` or a call handle"),
    }
}

/// Names used must be declared; names declared must be unique.
fn validate(sc: &Scenario) -> PResult<()> {
    fn unique<'a>(items: impl Iterator<Item = (&'a str, Pos)>, what: &str) -> PResult<()> {
        let mut seen = BTreeSet::new();
        for (n, p) in items {
            if !seen.insert(n) {
                return Err((p, format!("{what} `{n}` is declared twice")));
            }
        }
        Ok(())
    }
    let late: Vec<&ManagerDecl> = sc
        .steps
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::AddManager(m) => Some(m),
            _ => None,
        })
        .collect();
    unique(
        sc.managers
            .iter()
            .chain(late.iter().copied())
            .map(|m| (m.name.as_str(), m.pos)),
        "manager",
    )?;
    unique(
        sc.jits.iter().map(|j| (j.name.as_str(), j.pos)),
        "JIT'd function",
    )?;
    unique(
        sc.handlers.iter().map(|h| (h.name.as_str(), h.pos)),
        "handler",
    )?;
    let has_jit = |n: &str| sc.jit(n).is_some();
    let has_handler = |n: &str| sc.handlers.iter().any(|h| h.name == n);
    for j in &sc.jits {
        for o in &j.ops {
            match o {
                Op::Call(t, _) | Op::CallAsync(t, _) if !has_handler(t) => {
                    return Err((
                        j.pos,
                        format!(
                            "`{}` calls handler `{t}`, which is not declared (`handler {t}: ...`)",
                            j.name
                        ),
                    ));
                }
                Op::Spawn(_, f) | Op::Dispatch(f) if !has_jit(f) => {
                    return Err((
                        j.pos,
                        format!(
                            "`{}` starts `{f}`, which is not a declared JIT'd function",
                            j.name
                        ),
                    ));
                }
                _ => {}
            }
        }
    }
    let mut handles = BTreeSet::new();
    let mut threads = BTreeSet::new();
    let mut guards = BTreeSet::new();
    let mut regions: std::collections::BTreeMap<&str, &str> = std::collections::BTreeMap::new();
    for s in &sc.steps {
        match &s.kind {
            StepKind::Service(h, op) => {
                if !sc.services {
                    return Err((
                        s.pos,
                        "service calls need the real services: add `services` to the header".into(),
                    ));
                }
                if !handles.insert(h.as_str()) {
                    return Err((s.pos, format!("call handle `{h}` is used twice")));
                }
                if let (Some(used), Some(kind)) = (op.uses(), op.needs())
                    && regions.get(used) != Some(&kind)
                {
                    return Err((
                        s.pos,
                        format!("`{used}` is not a {kind} named by an earlier step"),
                    ));
                }
                if let Some(kind) = op.produces() {
                    regions.insert(h.as_str(), kind);
                }
            }
            StepKind::Call { handle, target, .. } => {
                if !handles.insert(handle.as_str()) {
                    return Err((s.pos, format!("call handle `{handle}` is used twice")));
                }
                // With the services, any other name is a bootstrap symbol,
                // looked up in the setup message at run time.
                if let CallTarget::Jit(f) = target
                    && !has_jit(f)
                    && !sc.services
                {
                    return Err((
                        s.pos,
                        format!(
                            "`{f}` is not a declared JIT'd function (use `0x...` for a raw address)"
                        ),
                    ));
                }
            }
            StepKind::Spawn(t, f) => {
                if !has_jit(f) {
                    return Err((s.pos, format!("`{f}` is not a declared JIT'd function")));
                }
                if !threads.insert(t.as_str()) {
                    return Err((s.pos, format!("thread name `{t}` is used twice")));
                }
            }
            StepKind::Await(AwaitCond::Sent(h) | AwaitCond::Running(h) | AwaitCond::Done(h))
                if !handles.contains(h.as_str()) =>
            {
                return Err((
                    s.pos,
                    format!("`{h}` is not a call handle defined by an earlier `call`"),
                ));
            }
            StepKind::Enter(g) if !guards.insert(g.as_str()) => {
                return Err((s.pos, format!("guard `{g}` is entered twice")));
            }
            StepKind::Leave(g) if !guards.contains(g.as_str()) => {
                return Err((s.pos, format!("guard `{g}` was not entered before")));
            }
            _ => {}
        }
    }
    for f in &sc.faults {
        let h = match &f.kind {
            FaultKind::Drop(s)
            | FaultKind::Delay(s, _)
            | FaultKind::Reorder(s)
            | FaultKind::Duplicate(s) => s,
            _ => continue,
        };
        match h {
            MsgSel::Call(h) | MsgSel::Result(h) if !handles.contains(h.as_str()) => {
                return Err((f.pos, format!("`{h}` is not a call handle of the script")));
            }
            MsgSel::CallTag(t, _) | MsgSel::Reply(t, _) if !has_handler(t) => {
                return Err((f.pos, format!("`{t}` is not a declared handler")));
            }
            _ => {}
        }
    }
    for e in &sc.expects {
        if let ExpectKind::Result(h, _) = &e.kind
            && !handles.contains(h.as_str())
        {
            return Err((e.pos, format!("`{h}` is not a call handle of the script")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse("t.scn", text).unwrap_err().to_string()
    }

    #[test]
    fn a_full_scenario_parses() {
        let sc = parse(
            "dir/keepalive.scn",
            r#"# rule: spec 8.7 keepalive drain
# A comment.
seed 7
latency 2 4
dispatcher holding-guard run
manager mem detach fail "d" after 3 shutdown panic "p" request-shutdown
jit work: enter, work 5, call log str "x", leave, return u64 42
handler log: reply empty after 2
fault drop result c1
fault delay ccall log 2 5
fault on "jit c1: enter" detach
---
attach
call c1 work u32 3
await c1 running
shutdown-threads 4
expect c1 error "disconnected"
expect order "rm mem: detach" < "rm mem: shutdown"
expect never "late"
expect state shut-down
"#,
        )
        .unwrap();
        assert_eq!(sc.name, "keepalive");
        assert_eq!(sc.rules, ["spec 8.7 keepalive drain"]);
        assert_eq!((sc.seed, sc.latency), (7, (2, 4)));
        assert!(sc.dispatcher.holding_guard);
        assert_eq!(sc.dispatcher.at_shutdown, QueuePolicy::Run);
        let m = &sc.managers[0];
        assert_eq!(m.detach.outcome, Outcome::Fail("d".into()));
        assert_eq!(m.detach.after, Some(3));
        assert!(m.shutdown.request_shutdown);
        assert_eq!(sc.jits[0].ops.len(), 5);
        assert_eq!(
            sc.jits[0].ops[2],
            Op::Call("log".into(), Value::Str("x".into()))
        );
        assert_eq!(sc.handlers[0].after, 2);
        assert_eq!(
            sc.faults[1].kind,
            FaultKind::Delay(MsgSel::CallTag("log".into(), 2), 5)
        );
        assert_eq!(sc.steps.len(), 4);
        assert_eq!(sc.steps[3].kind, StepKind::Act(Action::ShutdownThreads(4)));
        assert_eq!(sc.expects.len(), 4);
        assert_eq!(sc.expects[1].pos, Pos { line: 18, col: 1 });
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let cases: &[(&str, &str)] = &[
            (
                "seed x\n---\n",
                "t.scn:1:6: error: expected a seed (a number), found `x`",
            ),
            (
                "---\nfrobnicate\n",
                "t.scn:2:1: error: unknown word `frobnicate`; expected one of",
            ),
            (
                "jit f enter\n---\n",
                "t.scn:1:7: error: expected `:`, found `enter`",
            ),
            (
                "jit f: enter leave\n---\n",
                "t.scn:1:14: error: expected `,`, found `leave`",
            ),
            (
                "---\ncall c1 f\n",
                "t.scn:2:1: error: `f` is not a declared JIT'd function",
            ),
            (
                "jit f: call log\n---\n",
                "t.scn:1:1: error: `f` calls handler `log`, which is not declared",
            ),
            ("seed 1\n", "t.scn:1:1: error: missing `---` line"),
            (
                "---\nexpect c9 ok\n",
                "t.scn:2:1: error: `c9` is not a call handle",
            ),
            (
                "---\ntick 3 4\n",
                "t.scn:2:8: error: unexpected `4` at the end of the line",
            ),
            (
                "---\nexpect order \"a\"\n",
                "t.scn:2:17: error: expected `<` and a second pattern, found end of line",
            ),
            (
                "manager a\nmanager a\n---\n",
                "t.scn:2:1: error: manager `a` is declared twice",
            ),
            (
                "---\nattach fail \"oops\n",
                "t.scn:2:13: error: unterminated string",
            ),
            (
                "---\ncall c1 0xZZ\n",
                "t.scn:2:9: error: `0xZZ` is not a hex address",
            ),
        ];
        for (text, want) in cases {
            let got = err(text);
            assert!(got.starts_with(want), "{text:?}\n got: {got}\nwant: {want}");
        }
    }
}
