//! The `.scn` parser: one statement per line, header before `---`, body
//! after, `repeat N {` ... `}` blocks expanded as they are read. Every
//! error names the file, line and column.

use std::collections::{BTreeMap, BTreeSet};

use super::lex::{self, Tok, Token};
use super::*;

/// The most lines a scenario may expand to, repeats included.
const MAX_LINES: u64 = 100_000;

/// Words that start a header line.
const HEADER_WORDS: &[&str] = &[
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
    "access",
    "pipe",
    "reach",
    "session",
];

/// Words that start a script line.
const BODY_WORDS: &[&str] = &[
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
    "clone",
    "wait-shutdown",
    "check",
    "reserve",
    "write",
    "read",
    "release",
    "initialize",
    "deinitialize",
    "open",
    "resolve",
    "expect",
];

/// Words that may not name a session: where a session name is optional,
/// they are read as what they say (with the operations of a JIT'd
/// function's body, [`OP_WORDS`]).
const RESERVED_SESSION_NAMES: &[&str] = &[
    "in",
    "start",
    "attached",
    "detached",
    "shut-down",
    "detach",
    "shutdown",
    "after",
    "request-shutdown",
    "wait-shutdown",
    "add-manager",
    "ok",
    "fail",
    "panic",
    "forget",
];

/// The session states, as scripts name them.
const STATES: &[&str] = &["start", "attached", "detached", "shut-down"];

/// Words that start a value.
const VALUE_WORDS: &[&str] = &["empty", "u64", "u32", "bool", "str", "bytes", "error"];

/// Parses a scenario. `file` names it in errors (and gives its name: the
/// file stem).
pub fn parse(file: &str, text: &str) -> Result<Scenario, ParseError> {
    parse_with(file, text, &[], &[])
}

/// [`parse`] for a script that also calls wrapper functions
/// (`wrappers`) and controller handlers (`handlers`) an embedding program
/// provides ([`Simulation`](crate::simulation::Simulation)): the handlers
/// come first in the scenario's list, answered by
/// [`Reply::Provided`](super::Reply::Provided).
pub fn parse_with(
    file: &str,
    text: &str,
    wrappers: &[String],
    handlers: &[String],
) -> Result<Scenario, ParseError> {
    let name = std::path::Path::new(file)
        .file_stem()
        .map_or_else(|| file.to_owned(), |s| s.to_string_lossy().into_owned());
    let mut p = Parser {
        sc: Scenario {
            name,
            file: file.to_owned(),
            rules: Vec::new(),
            deviations: Vec::new(),
            seed: 0,
            latency: (1, 3),
            dispatcher: DispatcherDecl::default(),
            on_disconnect: OnDisconnect::Log,
            sessions: Vec::new(),
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
            provided_wrappers: wrappers.to_vec(),
        },
        once: BTreeMap::new(),
        separator: None,
        lines: 0,
        repeats: Vec::new(),
        first_deviation: None,
        rule_without_colon: None,
        last_line: 0,
        session_refs: Vec::new(),
    };
    for h in handlers {
        p.sc.handlers.push(HandlerDecl {
            name: h.clone(),
            calls_back: Vec::new(),
            reply: Reply::Provided,
            after: 0,
            pos: Pos { line: 0, col: 0 },
        });
    }
    p.run(text).map_err(|(pos, message)| ParseError {
        file: file.to_owned(),
        pos,
        message,
    })?;
    Ok(p.sc)
}

type PResult<T> = Result<T, (Pos, String)>;

/// A line of the file, lexed.
struct Line {
    toks: Vec<Token>,
    line: usize,
    end_col: usize,
}

/// The file as blocks: lines, the `---` separator and `repeat` blocks.
enum Item {
    Line(Line),
    Separator(Pos),
    Repeat(Repeat),
}

/// `repeat N [VAR] {` ... `}`.
struct Repeat {
    pos: Pos,
    count: u64,
    var: String,
    body: Vec<Item>,
}

impl Item {
    /// How many lines this expands to.
    fn size(&self) -> u64 {
        match self {
            Item::Line(_) | Item::Separator(_) => 1,
            Item::Repeat(r) => r
                .count
                .saturating_mul(r.body.iter().map(Item::size).fold(0, u64::saturating_add)),
        }
    }
}

/// A repeat variable's value during expansion.
struct Binding<'a> {
    var: &'a str,
    value: u64,
    repeat: Pos,
}

struct Parser {
    sc: Scenario,
    /// Header lines that may be given once, and where.
    once: BTreeMap<&'static str, Pos>,
    /// Where the `---` line is.
    separator: Option<Pos>,
    /// Lines expanded so far.
    lines: u64,
    /// Lines of each repeat's body (first, last), the repeat's line and
    /// its variable.
    repeats: Vec<(usize, usize, usize, String)>,
    first_deviation: Option<Pos>,
    /// A comment that looks like a rule without its colon.
    rule_without_colon: Option<Pos>,
    last_line: usize,
    /// Every session named (declared or not), and where.
    session_refs: Vec<(String, Pos)>,
}

impl Parser {
    fn run(&mut self, text: &str) -> PResult<()> {
        let items = self.read(text)?;
        let mut env = Vec::new();
        self.expand(&items, &mut env)?;
        if self.separator.is_none() {
            return Err((
                Pos {
                    line: self.last_line + 1,
                    col: 1,
                },
                "expected `---` between the header and the script (the file has none)".into(),
            ));
        }
        self.check_session_refs()?;
        validate(&self.sc, self.first_deviation).map_err(|(pos, msg)| {
            // The innermost repeat around the line (inner ones close first).
            let hint = self
                .repeats
                .iter()
                .find(|(first, last, ..)| (*first..=*last).contains(&pos.line));
            match hint {
                Some((_, _, at, var)) if msg.contains("twice") => (
                    pos,
                    format!(
                        "{msg} (inside the `repeat` at line {at}: `${var}` makes a name unique per iteration)"
                    ),
                ),
                _ => (pos, msg),
            }
        })?;
        if self.sc.rules.is_empty() {
            let hint = match self.rule_without_colon {
                Some(p) => format!("; line {} looks like one but lacks the `:`", p.line),
                None => String::new(),
            };
            return Err((
                Pos { line: 1, col: 1 },
                format!(
                    "no `# rule:` line: every scenario names the rule it checks (`# rule: spec N.M ...`, `# rule: protocol N ...` or `# rule: fault: ...`){hint}"
                ),
            ));
        }
        Ok(())
    }

    /// Every session named is declared (`session NAME`, anywhere in the
    /// header).
    fn check_session_refs(&self) -> PResult<()> {
        let declared: Vec<&str> = self.sc.sessions.iter().map(|s| s.name.as_str()).collect();
        for (name, pos) in &self.session_refs {
            if declared.contains(&name.as_str()) {
                continue;
            }
            let hint = match closest(name, &declared) {
                Some(d) => format!("did you mean `{d}`?"),
                None => format!("declare it in the header: `session {name}`"),
            };
            return Err((*pos, format!("`{name}` is not a declared session ({hint})")));
        }
        Ok(())
    }

    /// A comment line: `# rule:` and `# deviation:` lines are kept.
    fn comment(&mut self, rest: &str, pos: Pos) -> PResult<()> {
        let rest = rest.trim_start();
        for (prefix, what) in [("rule", "rule"), ("deviation", "deviation")] {
            let Some(after) = rest.strip_prefix(prefix) else {
                continue;
            };
            let Some(text) = after.strip_prefix(':') else {
                if prefix == "rule" && !after.starts_with(|c: char| c.is_alphanumeric()) {
                    self.rule_without_colon.get_or_insert(pos);
                }
                continue;
            };
            let text = text.trim();
            if text.is_empty() {
                return Err((pos, format!("empty `# {what}:` line")));
            }
            if what == "rule" {
                self.sc.rules.push(text.to_owned());
            } else {
                self.first_deviation.get_or_insert(pos);
                self.sc.deviations.push(text.to_owned());
            }
        }
        Ok(())
    }

    /// Reads the file into lines and blocks.
    fn read(&mut self, text: &str) -> PResult<Vec<Item>> {
        let mut top = Vec::new();
        let mut open: Vec<(Repeat, usize)> = Vec::new();
        for (idx, raw) in text.lines().enumerate() {
            let line_no = idx + 1;
            self.last_line = line_no;
            let lead = raw.chars().take_while(|c| c.is_whitespace()).count();
            let start = Pos {
                line: line_no,
                col: lead + 1,
            };
            if let Some(rest) = raw.trim_start().strip_prefix('#') {
                self.comment(rest, start)?;
                continue;
            }
            let toks = lex::line(raw, line_no)?;
            let Some(first) = toks.first() else {
                continue;
            };
            let mut c = Cursor {
                toks: toks.clone(),
                i: 0,
                line: line_no,
                end_col: raw.chars().count() + 1,
                sessions: Vec::new(),
            };
            let item = match &first.tok {
                Tok::Word(w) if w == "---" && toks.len() == 1 => {
                    if let Some((r, _)) = open.last() {
                        return Err((
                            first.pos,
                            format!(
                                "`---` inside the `repeat` at line {} (a repeat stays within the header or the script)",
                                r.pos.line
                            ),
                        ));
                    }
                    Item::Separator(first.pos)
                }
                Tok::Word(w) if w.starts_with("--") => {
                    return Err((
                        first.pos,
                        "the line between the header and the script is `---` alone".into(),
                    ));
                }
                Tok::Word(w) if w == "repeat" => {
                    let pos = first.pos;
                    c.next();
                    let count = c.number("a repeat count")?;
                    if !(1..=MAX_LINES).contains(&count) {
                        return Err((
                            toks[1].pos,
                            format!("repeat count {count}: choose 1 to {MAX_LINES}"),
                        ));
                    }
                    let var = if let Some(Token {
                        tok: Tok::Word(v),
                        pos: vpos,
                    }) = c.peek().cloned()
                    {
                        c.next();
                        if !v.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                            || !v
                                .chars()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                        {
                            return Err((
                                vpos,
                                format!(
                                    "`{v}` is not a repeat variable name (lower-case letters, digits, `_`)"
                                ),
                            ));
                        }
                        v
                    } else {
                        "i".to_owned()
                    };
                    if let Some((outer, _)) = open.iter().find(|(r, _)| r.var == var) {
                        return Err((
                            pos,
                            format!(
                                "the enclosing `repeat` at line {} already uses `${var}`: name this one's variable (`repeat {count} j {{`)",
                                outer.pos.line
                            ),
                        ));
                    }
                    if !c.eat_punct('{') {
                        return c
                            .fail("`{` (the body follows on the next lines, up to a line `}`)");
                    }
                    c.end()?;
                    open.push((
                        Repeat {
                            pos,
                            count,
                            var,
                            body: Vec::new(),
                        },
                        line_no,
                    ));
                    continue;
                }
                Tok::Punct('}') => {
                    c.next();
                    if !c.at_end() {
                        return Err((c.pos(), "`}` goes on a line of its own".into()));
                    }
                    let Some((r, first_line)) = open.pop() else {
                        return Err((first.pos, "`}` closes no `repeat ... {`".into()));
                    };
                    self.repeats
                        .push((first_line + 1, line_no - 1, r.pos.line, r.var.clone()));
                    Item::Repeat(r)
                }
                _ => Item::Line(Line {
                    toks,
                    line: line_no,
                    end_col: c.end_col,
                }),
            };
            match open.last_mut() {
                Some((r, _)) => r.body.push(item),
                None => top.push(item),
            }
        }
        if let Some((r, _)) = open.last() {
            return Err((r.pos, "this `repeat` has no closing `}` line".into()));
        }
        Ok(top)
    }

    /// Parses the lines, each repeat body once per iteration.
    fn expand<'a>(&mut self, items: &'a [Item], env: &mut Vec<Binding<'a>>) -> PResult<()> {
        for item in items {
            match item {
                Item::Separator(pos) => {
                    if let Some(first) = self.separator {
                        return Err((
                            *pos,
                            format!(
                                "a second `---` line (only one separates header and script; the first is at line {})",
                                first.line
                            ),
                        ));
                    }
                    self.separator = Some(*pos);
                }
                Item::Line(l) => {
                    self.lines += 1;
                    let toks = if env.is_empty() {
                        l.toks.clone()
                    } else {
                        l.toks
                            .iter()
                            .map(|t| substitute(t, env))
                            .collect::<PResult<_>>()?
                    };
                    let mut c = Cursor {
                        toks,
                        i: 0,
                        line: l.line,
                        end_col: l.end_col,
                        sessions: Vec::new(),
                    };
                    let r = if self.separator.is_some() {
                        self.body_line(&mut c)
                    } else {
                        self.header_line(&mut c)
                    };
                    self.session_refs.append(&mut c.sessions);
                    r.map_err(|(pos, msg)| match env.iter().rfind(|b| b.value > 1) {
                        Some(b) => (
                            pos,
                            format!(
                                "{msg} (with ${}={} in the `repeat` at line {})",
                                b.var, b.value, b.repeat.line
                            ),
                        ),
                        None => (pos, msg),
                    })?;
                }
                Item::Repeat(r) => {
                    if self.lines.saturating_add(item.size()) > MAX_LINES {
                        return Err((
                            r.pos,
                            format!("the scenario expands to more than {MAX_LINES} lines"),
                        ));
                    }
                    for value in 1..=r.count {
                        env.push(Binding {
                            var: &r.var,
                            value,
                            repeat: r.pos,
                        });
                        self.expand(&r.body, env)?;
                        env.pop();
                    }
                }
            }
        }
        Ok(())
    }

    /// Header lines given at most once.
    fn once(&mut self, kw: &'static str, pos: Pos) -> PResult<()> {
        if let Some(first) = self.once.insert(kw, pos) {
            return Err((
                pos,
                format!("repeated `{kw}` line (the first is at {first})"),
            ));
        }
        Ok(())
    }
}

/// `$VAR`, `${VAR}` → the iteration number; `$$` → `$`.
fn substitute(t: &Token, env: &[Binding<'_>]) -> PResult<Token> {
    let s = match &t.tok {
        Tok::Word(s) | Tok::Str(s) if s.contains('$') => s,
        _ => return Ok(t.clone()),
    };
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '$' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let (name, next) = match chars.get(i + 1) {
            Some('$') => {
                out.push('$');
                i += 2;
                continue;
            }
            Some('{') => {
                let close = chars[i..]
                    .iter()
                    .position(|&c| c == '}')
                    .map_or(chars.len(), |p| i + p);
                (chars[i + 2..close].iter().collect::<String>(), close + 1)
            }
            _ => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
                    .map_or(chars.len(), |p| i + 1 + p);
                (chars[i + 1..end].iter().collect::<String>(), end)
            }
        };
        match env.iter().rfind(|b| b.var == name) {
            Some(b) => out.push_str(&b.value.to_string()),
            None => {
                let vars = env
                    .iter()
                    .map(|b| format!("`${}`", b.var))
                    .collect::<Vec<_>>()
                    .join(", ");
                let what = if name.is_empty() {
                    "a lone `$`".to_owned()
                } else {
                    format!("`${name}` is not a repeat variable")
                };
                return Err((t.pos, format!("{what} (here: {vars}; `$$` is a `$`)")));
            }
        }
        i = next;
    }
    Ok(Token {
        tok: match t.tok {
            Tok::Word(_) => Tok::Word(out),
            _ => Tok::Str(out),
        },
        pos: t.pos,
    })
}

struct Cursor {
    toks: Vec<Token>,
    i: usize,
    line: usize,
    end_col: usize,
    /// The sessions this line names, and where (checked once the header
    /// is known).
    sessions: Vec<(String, Pos)>,
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

    /// A name: letters, digits, `_`, `-`, `.`, and not a number.
    fn name(&mut self, what: &str) -> PResult<(String, Pos)> {
        let (w, pos) = self.word(what)?;
        if w.contains('$') {
            return Err((
                pos,
                format!(
                    "`{w}` is not a valid {what}: `$` stands for a repeat variable only inside a `repeat` (`$$` for a `$` there)"
                ),
            ));
        }
        if !w
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        {
            return Err((
                pos,
                format!("`{w}` is not a valid {what} (letters, digits, `_`, `-`, `.`)"),
            ));
        }
        if parse_number(&w).is_some() {
            return Err((
                pos,
                format!("`{w}` is a number, not a valid {what} (start it with a letter)"),
            ));
        }
        Ok((w, pos))
    }

    /// A session's name (whether it is declared is checked at the end).
    fn session(&mut self) -> PResult<String> {
        let (n, pos) = self.name("session name")?;
        self.sessions.push((n.clone(), pos));
        Ok(n)
    }

    /// `in SESSION`, if it follows.
    fn in_session(&mut self) -> PResult<Option<String>> {
        if self.eat_word("in") {
            Ok(Some(self.session()?))
        } else {
            Ok(None)
        }
    }

    /// A session's name, if a word follows that is none of `others` (the
    /// words that may follow here instead); a near miss of one of them is
    /// a typo, not a session.
    fn opt_session(&mut self, others: &[&str]) -> PResult<Option<String>> {
        match self.peek_word() {
            Some(w) if !others.contains(&w) => {
                if let Some(o) = closest(w, others) {
                    return Err((
                        self.pos(),
                        format!("unknown word `{w}` (did you mean `{o}`?)"),
                    ));
                }
                Ok(Some(self.session()?))
            }
            _ => Ok(None),
        }
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
            Some(w) => {
                let hint = closest(w, options)
                    .map(|o| format!(" (did you mean `{o}`?)"))
                    .unwrap_or_default();
                Err((
                    self.pos(),
                    format!("unknown word `{w}`{hint}; expected one of {list}"),
                ))
            }
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

    /// An event pattern: a non-empty quoted string.
    fn pattern(&mut self) -> PResult<String> {
        let pos = self.pos();
        let p = self.string("an event pattern (a quoted string)")?;
        if p.is_empty() {
            return Err((pos, "an empty pattern matches every event".into()));
        }
        Ok(p)
    }

    fn number(&mut self, what: &str) -> PResult<u64> {
        let pos = self.pos();
        let (w, _) = self.word(what)?;
        parse_number(&w).ok_or_else(|| {
            if looks_numeric(&w) {
                (pos, format!("`{w}` does not fit in 64 bits"))
            } else {
                (pos, format!("expected {what}, found `{w}`"))
            }
        })
    }

    /// A number of at least 1.
    fn positive(&mut self, what: &str) -> PResult<u64> {
        let pos = self.pos();
        let n = self.number(what)?;
        if n == 0 {
            return Err((pos, format!("expected {what}, at least 1, found 0")));
        }
        Ok(n)
    }

    fn punct(&mut self, c: char) -> PResult<()> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            self.fail(&format!("`{c}`"))
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
        if self.eat_punct('(') {
            let mut vs = Vec::new();
            loop {
                let p = self.pos();
                vs.push(bytes_only(self.value()?, p, "part of a tuple")?);
                if self.eat_punct(')') {
                    return Ok(Value::Tuple(vs));
                }
                self.punct(',')?;
            }
        }
        let (kind, pos) = self.keyword(VALUE_WORDS)?;
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
                    tok: Tok::Punct(c),
                    ..
                }) if *c != '('
            )
        {
            Ok(Value::Empty)
        } else {
            self.value()
        }
    }

    /// The value of a call's argument, if one follows: bytes only, an
    /// out-of-band error has no bytes to send.
    fn argument(&mut self, what: &str) -> PResult<Value> {
        let pos = self.pos();
        let v = self.opt_value()?;
        bytes_only(v, pos, what)
    }
}

/// Refuses `error "..."` where bytes go on the wire.
fn bytes_only(v: Value, pos: Pos, what: &str) -> PResult<Value> {
    if let Value::Error(_) = v {
        return Err((
            pos,
            format!(
                "`error` cannot be {what}: the wire carries bytes only, an out-of-band error can only be a result (`return`, `reply`, `expect H error`)"
            ),
        ));
    }
    Ok(v)
}

/// The option closest to `w`, if it is a plausible typo of it.
fn closest<'a>(w: &str, options: &[&'a str]) -> Option<&'a str> {
    /// Edits (insert, delete, replace, swap two neighbours) from `a` to `b`.
    fn distance(a: &str, b: &str) -> usize {
        let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        let mut d = vec![vec![0; b.len() + 1]; a.len() + 1];
        for (i, row) in d.iter_mut().enumerate() {
            row[0] = i;
        }
        d[0] = (0..=b.len()).collect();
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                d[i][j] = (d[i - 1][j] + 1)
                    .min(d[i][j - 1] + 1)
                    .min(d[i - 1][j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
                }
            }
        }
        d[a.len()][b.len()]
    }
    options
        .iter()
        .map(|o| (distance(w, o), *o))
        .filter(|(d, o)| *d <= 2 && *d * 3 <= o.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, o)| o)
}

/// Whether `w` is written as a number (decimal, or hex after `0x`; `_`
/// may separate digits), whether or not it fits in 64 bits.
fn looks_numeric(w: &str) -> bool {
    let (digits, radix) = match w.strip_prefix("0x") {
        Some(h) => (h, 16),
        None => (w, 10),
    };
    digits.starts_with(|c: char| c.is_digit(radix))
        && digits.chars().all(|c| c.is_digit(radix) || c == '_')
}

fn parse_number(w: &str) -> Option<u64> {
    if !looks_numeric(w) {
        return None;
    }
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
    if !w.len().is_multiple_of(2) || !w.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    (0..w.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(w.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Parser {
    fn header_line(&mut self, c: &mut Cursor) -> PResult<()> {
        if let Some(w) = c.peek_word()
            && BODY_WORDS.contains(&w)
        {
            return Err((
                c.pos(),
                format!("expected `---` between the header and the script: `{w}` is a script line"),
            ));
        }
        let (kw, pos) = c.keyword(HEADER_WORDS)?;
        match kw.as_str() {
            "seed" => {
                self.once("seed", pos)?;
                self.sc.seed = c.number("a seed (a number)")?;
            }
            "services" => {
                self.once("services", pos)?;
                self.sc.services = true;
            }
            "wire" => {
                self.once("wire", pos)?;
                self.sc.wire = true;
            }
            "access" => {
                self.once("access", pos)?;
                let (k, _) = c.keyword(&["real", "model"])?;
                self.sc.access = if k == "real" {
                    AccessKind::Real
                } else {
                    AccessKind::Model
                };
            }
            "pipe" => {
                self.once("pipe", pos)?;
                let at = c.pos();
                let bytes = c.number("the pipe's capacity in bytes")?;
                // A full pipe must hold a message's header: the reader
                // takes a message's first part once it knows which message.
                let header = orc_executor::wire::HEADER_SIZE as u64;
                if bytes < header {
                    return Err((
                        at,
                        format!(
                            "a pipe of {bytes} bytes cannot hold a message header: \
                             at least {header}"
                        ),
                    ));
                }
                self.sc.pipe_capacity = bytes;
            }
            "reach" => {
                let pattern = c.pattern()?;
                self.sc.probes.push(Probe { pattern, pos });
            }
            "latency" => {
                self.once("latency", pos)?;
                let lo = c.number("the minimum latency in ticks")?;
                let p = c.pos();
                let hi = c.number("the maximum latency in ticks")?;
                if hi < lo || lo == 0 {
                    return Err((
                        p,
                        format!("latency range {lo}..{hi} must satisfy 1 <= MIN <= MAX"),
                    ));
                }
                self.sc.latency = (lo, hi);
            }
            "dispatcher" => {
                self.once("dispatcher", pos)?;
                let kinds = ["queue", "holding-guard"];
                let policies = ["keep", "run", "drop"];
                let (k, kpos) = c.keyword(&kinds)?;
                self.sc.dispatcher.holding_guard = k == "holding-guard";
                let mut first = (k, kpos);
                if c.peek_word().is_some_and(|w| !kinds.contains(&w)) {
                    let (p, ppos) = c.keyword(&policies)?;
                    self.sc.dispatcher.at_shutdown = match p.as_str() {
                        "keep" => QueuePolicy::Keep,
                        "run" => QueuePolicy::Run,
                        _ => QueuePolicy::Drop,
                    };
                    if let Some(w) = c.peek_word()
                        && policies.contains(&w)
                    {
                        first = (p, ppos);
                    }
                }
                if let Some(w) = c.peek_word()
                    && (kinds.contains(&w) || policies.contains(&w))
                {
                    return Err((
                        c.pos(),
                        format!(
                            "repeated dispatcher option `{w}` (the first is `{}` at {})",
                            first.0, first.1
                        ),
                    ));
                }
            }
            "on-disconnect" => {
                self.once("on-disconnect", pos)?;
                let (k, _) = c.keyword(&["log", "none", "shutdown", "panic"])?;
                self.sc.on_disconnect = match k.as_str() {
                    "log" => OnDisconnect::Log,
                    "none" => OnDisconnect::None,
                    "shutdown" => OnDisconnect::Shutdown,
                    _ => OnDisconnect::Panic(c.string("the panic message (a quoted string)")?),
                };
            }
            "session" => {
                let (name, npos) = c.name("session name")?;
                if RESERVED_SESSION_NAMES.contains(&name.as_str())
                    || OP_WORDS.contains(&name.as_str())
                {
                    return Err((
                        npos,
                        format!(
                            "`{name}` cannot name a session: where a session name may follow, it is read as a keyword"
                        ),
                    ));
                }
                self.sc.sessions.push(SessionDecl { name, pos });
            }
            "manager" => {
                let m = manager(c, pos)?;
                self.sc.managers.push(m);
            }
            "jit" => {
                let (name, _) = c.name("function name")?;
                let abis = ["async-c", "legacy-c"];
                let mut abi = JitAbi::Rust;
                if let Some(w) = c.peek_word().map(str::to_owned)
                    && (abis.contains(&w.as_str()) || closest(&w, &abis).is_some())
                {
                    let (_, apos) = c.keyword(&abis)?;
                    abi = if w == "async-c" {
                        JitAbi::AsyncC
                    } else {
                        JitAbi::LegacyC
                    };
                    if let Some(w2) = c.peek_word()
                        && abis.contains(&w2)
                    {
                        return Err((
                            c.pos(),
                            format!("repeated ABI `{w2}` (the first is `{w}` at {apos})"),
                        ));
                    }
                }
                c.punct(':')?;
                let mut ops = Vec::new();
                loop {
                    ops.push(op(c)?);
                    if c.at_end() {
                        break;
                    }
                    c.punct(',')?;
                }
                self.sc.jits.push(JitDecl {
                    name,
                    abi,
                    ops,
                    pos,
                });
            }
            "handler" => {
                let (name, _) = c.name("handler tag name")?;
                c.punct(':')?;
                let mut calls_back = Vec::new();
                while c.eat_word("calls") {
                    let (f, _) = c.name("a JIT'd function name")?;
                    let arg = c.argument("a call argument")?;
                    calls_back.push((f, arg));
                    if !c.eat_punct(',') {
                        return c.fail("`,` and the next `calls` or the reply");
                    }
                }
                let (k, kpos) = c.keyword(&["reply", "echo", "never", "hangup", "close"])?;
                let reply = match k.as_str() {
                    "reply" => Reply::Value(c.value()?),
                    "echo" => Reply::Echo,
                    "never" => Reply::Never,
                    "hangup" => Reply::Hangup,
                    _ => Reply::Close,
                };
                let mut after = 0;
                if let Some(apos) = c.peek().map(|t| t.pos)
                    && c.eat_word("after")
                {
                    if reply == Reply::Never {
                        return Err((
                            apos,
                            format!("`never` answers: `after` does not apply (`{k}` at {kpos})"),
                        ));
                    }
                    after = c.number("a number of ticks")?;
                    if c.peek_word() == Some("after") {
                        return Err((
                            c.pos(),
                            format!("repeated `after` (the first is at {apos})"),
                        ));
                    }
                }
                self.sc.handlers.push(HandlerDecl {
                    name,
                    calls_back,
                    reply,
                    after,
                    pos,
                });
            }
            "fault" => {
                let kind = fault(c)?;
                self.sc.faults.push(Fault { kind, pos });
            }
            _ => unreachable!(),
        }
        c.end()
    }

    fn body_line(&mut self, c: &mut Cursor) -> PResult<()> {
        if let Some(w) = c.peek_word()
            && HEADER_WORDS.contains(&w)
        {
            let sep = self.separator.map_or(0, |p| p.line);
            return Err((
                c.pos(),
                format!("`{w}` is a header line: it goes before the `---` at line {sep}"),
            ));
        }
        let (kw, pos) = c.keyword(BODY_WORDS)?;
        let kind = match kw.as_str() {
            "attach" => {
                if c.at_end() {
                    StepKind::Attach(AttachHow::Normal)
                } else {
                    let (k, _) =
                        c.keyword(&["fail", "shutdown-in-connect", "detach-in-connect"])?;
                    StepKind::Attach(match k.as_str() {
                        "fail" => AttachHow::Fail(
                            c.string("the connect error message (a quoted string)")?,
                        ),
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
                let arg = c.argument("a call argument")?;
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
                    AwaitCond::Pattern(c.pattern()?)
                } else if c.eat_word("state") {
                    let (session, state) = session_state(c)?;
                    AwaitCond::State(session, state)
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
            "add-manager" => StepKind::AddManager(Box::new(added_manager(c, pos)?)),
            "on-detach" => StepKind::OnDetach(c.name("callback name")?.0, c.in_session()?),
            "on-shutdown" => StepKind::OnShutdown(c.name("callback name")?.0, c.in_session()?),
            "enter" => StepKind::Enter(c.name("guard name")?.0, c.in_session()?),
            "leave" => StepKind::Leave(c.name("guard name")?.0),
            "clone" => {
                let (g, _) = c.name("guard name")?;
                let (g2, _) = c.name("a name for the clone")?;
                StepKind::CloneGuard(g, g2)
            }
            "wait-shutdown" => StepKind::WaitShutdown(c.opt_session(&[])?),
            "check" => {
                c.keyword(&["state"])?;
                let (session, state) = session_state(c)?;
                StepKind::CheckState(session, state)
            }
            "reserve" | "write" | "read" | "release" | "initialize" | "deinitialize" | "open"
            | "resolve" => {
                let (h, _) = c.name("call handle")?;
                StepKind::Service(h, service(c, &kw)?)
            }
            "expect" => {
                let kind = expect(c)?;
                c.end()?;
                self.sc.expects.push(Expect { kind, pos });
                return Ok(());
            }
            _ => unreachable!(),
        };
        c.end()?;
        self.sc.steps.push(Step { kind, pos });
        Ok(())
    }
}

/// `manager NAME [in SESSION] [detach B] [shutdown B]`, after `manager`:
/// ends at the end of the line, a `,` or a `)`.
fn manager(c: &mut Cursor, pos: Pos) -> PResult<ManagerDecl> {
    let (name, _) = c.name("manager name")?;
    let session = c.in_session()?;
    let mut m = ManagerDecl {
        name,
        session,
        detach: Behaviour::default(),
        shutdown: Behaviour::default(),
        pos,
    };
    let mut seen: [Option<Pos>; 2] = [None, None];
    while c.peek_word().is_some() {
        let mut options = vec!["detach", "shutdown"];
        if seen.iter().any(Option::is_some) {
            options.extend(MODIFIERS);
        }
        let (which, p) = c.keyword(&options)?;
        let idx = usize::from(which == "shutdown");
        if let Some(first) = seen[idx] {
            return Err((
                p,
                format!("repeated `{which}` behaviour (the first is at {first})"),
            ));
        }
        seen[idx] = Some(p);
        let b = behaviour(c, &which)?;
        if idx == 0 {
            m.detach = b;
        } else {
            m.shutdown = b;
        }
    }
    Ok(m)
}

/// `add-manager NAME ...` of a step or an op (at `pos`), parentheses
/// optional.
fn added_manager(c: &mut Cursor, pos: Pos) -> PResult<ManagerDecl> {
    if c.eat_punct('(') {
        let m = manager(c, pos)?;
        c.punct(')')?;
        Ok(m)
    } else {
        manager(c, pos)
    }
}

/// What may follow a callback's outcome.
const MODIFIERS: [&str; 4] = ["after", "request-shutdown", "wait-shutdown", "add-manager"];

/// `OUTCOME [after N] [request-shutdown [S]] [wait-shutdown [S]]
/// [add-manager (M)]` for the callback `which`.
fn behaviour(c: &mut Cursor, which: &str) -> PResult<Behaviour> {
    let outcomes = ["ok", "fail", "panic", "forget"];
    let (o, opos) = c.keyword(&outcomes)?;
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
    let mut seen: BTreeMap<&str, Pos> = BTreeMap::new();
    loop {
        let p = c.pos();
        let Some(w) = c.peek_word() else {
            return Ok(b);
        };
        if outcomes.contains(&w) {
            return Err((
                p,
                format!("a second outcome `{w}` for `{which}` (the first is `{o}` at {opos})"),
            ));
        }
        let Some(m) = MODIFIERS.iter().find(|m| **m == w) else {
            return Ok(b);
        };
        if let Some(first) = seen.insert(m, p) {
            return Err((p, format!("repeated `{m}` (the first is at {first})")));
        }
        c.next();
        match *m {
            "after" => {
                match b.outcome {
                    Outcome::Panic(_) => {
                        return Err((
                            p,
                            "a panic happens inside the callback: `after` does not apply".into(),
                        ));
                    }
                    Outcome::Forget => {
                        return Err((
                            p,
                            "a forgotten completion is never called: `after` does not apply".into(),
                        ));
                    }
                    _ => {}
                }
                b.after = Some(c.number("a number of ticks")?);
            }
            "request-shutdown" | "wait-shutdown" => {
                let mut others = vec!["detach", "shutdown"];
                others.extend(MODIFIERS);
                others.extend(outcomes);
                let session = Some(c.opt_session(&others)?);
                if *m == "request-shutdown" {
                    b.request_shutdown = session;
                } else {
                    b.wait_shutdown = session;
                }
            }
            _ => {
                let mpos = c.pos();
                if !c.eat_punct('(') {
                    return c.fail(
                        "`(`: a callback adds a manager written in parentheses, `add-manager (NAME [detach B] [shutdown B])`",
                    );
                }
                let m = manager(c, mpos)?;
                c.punct(')')?;
                b.add_manager = Some(Box::new(m));
            }
        }
    }
}

/// The operations of a JIT'd function's body.
const OP_WORDS: &[&str] = &[
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
    "keepalive",
    "add-manager",
];

fn op(c: &mut Cursor) -> PResult<Op> {
    let (k, kpos) = c.keyword(OP_WORDS)?;
    Ok(match k.as_str() {
        "enter" => Op::Enter(c.opt_session(OP_WORDS)?),
        "leave" => Op::Leave,
        "clone" => Op::Clone,
        "work" => Op::Work(c.number("a number of ticks")?),
        "call" => {
            let (tag, _) = c.name("handler tag name")?;
            Op::Call(tag, c.argument("a call argument")?)
        }
        "call-async" => {
            let (tag, _) = c.name("handler tag name")?;
            Op::CallAsync(tag, c.argument("a call argument")?)
        }
        "return" => Op::Return(c.value()?),
        "return-later" => {
            let n = c.number("a number of ticks")?;
            Op::ReturnLater(n, c.value()?)
        }
        "shutdown" => Op::Shutdown(c.opt_session(OP_WORDS)?),
        "detach" => Op::Detach(c.opt_session(OP_WORDS)?),
        "wait-shutdown" => Op::WaitShutdown(c.opt_session(OP_WORDS)?),
        "wait" => Op::Wait(c.pattern()?),
        "spawn" => {
            let (t, _) = c.name("thread name")?;
            let (f, _) = c.name("function name")?;
            Op::Spawn(t, f)
        }
        "dispatch" => Op::Dispatch(c.name("function name")?.0, c.in_session()?),
        "keepalive" => Op::Keepalive(c.number("a number of ticks")?),
        "add-manager" => Op::AddManager(Box::new(added_manager(c, kpos)?)),
        _ => Op::Panic(c.string("the panic message (a quoted string)")?),
    })
}

fn fault(c: &mut Cursor) -> PResult<FaultKind> {
    let (k, _) = c.keyword(&[
        "drop",
        "delay",
        "reorder",
        "duplicate",
        "at-step",
        "on",
        "reserve-fails",
        "ca-delivers-late",
        "split",
        "short-reads",
        "short-writes",
        "stall-reader",
        "close-mid",
        "corrupt",
    ])?;
    Ok(match k.as_str() {
        "drop" => FaultKind::Drop(msg_sel(c, 0)?),
        "delay" => {
            let sel = msg_sel(c, 1)?;
            FaultKind::Delay(sel, c.positive("the delay in ticks")?)
        }
        "reorder" => FaultKind::Reorder(msg_sel(c, 0)?),
        "duplicate" => FaultKind::Duplicate(msg_sel(c, 0)?),
        "at-step" => {
            let n = c.positive("a scheduler step number (1 = the first)")?;
            FaultKind::AtStep(n, action(c)?)
        }
        "on" => {
            let pat = c.pattern()?;
            FaultKind::On(pat, action(c)?)
        }
        "reserve-fails" => FaultKind::ReserveFails,
        "ca-delivers-late" => FaultKind::CaDeliversLate,
        "split" => {
            let sel = msg_sel(c, 1)?;
            FaultKind::Split(sel, c.positive("the size of the first part in bytes")?)
        }
        "short-reads" => FaultKind::ShortReads(c.positive("the most bytes a read returns")?),
        "short-writes" => FaultKind::ShortWrites(c.positive("the most bytes a write takes")?),
        "stall-reader" => {
            let from = c.number("the tick the controller stops reading")?;
            let p = c.pos();
            let until = c.number("the tick it reads again")?;
            if until <= from {
                return Err((
                    p,
                    format!("the stall must end after it starts: FROM {from} < UNTIL {until}"),
                ));
            }
            FaultKind::StallReader(from, until)
        }
        "close-mid" => {
            let sel = msg_sel(c, 1)?;
            FaultKind::CloseMid(
                sel,
                c.positive("how many bytes of the message go through before the close")?,
            )
        }
        _ => {
            let sel = msg_sel(c, 0)?;
            let (f, _) = c.keyword(&["size", "opcode", "seqno", "tag"])?;
            let field = match f.as_str() {
                "size" => HeaderField::Size,
                "opcode" => HeaderField::Opcode,
                "seqno" => HeaderField::Seqno,
                _ => HeaderField::Tag,
            };
            FaultKind::Corrupt(sel, field, c.number("the field's new value")?)
        }
    })
}

/// A message selector; `trailing` numbers follow it on the line, so
/// `ccall TAG N` takes an occurrence number only if one more is there.
fn msg_sel(c: &mut Cursor, trailing: usize) -> PResult<MsgSel> {
    let (k, _) = c.keyword(&["setup", "call", "result", "ccall", "reply", "hangup", "msg"])?;
    Ok(match k.as_str() {
        "setup" => MsgSel::Setup,
        "call" => MsgSel::Call(c.name("call handle")?.0),
        "result" => MsgSel::Result(c.name("call handle")?.0),
        "ccall" | "reply" => {
            let (tag, _) = c.name("handler tag name")?;
            let numbers = c.toks[c.i..]
                .iter()
                .take_while(|t| matches!(&t.tok, Tok::Word(w) if looks_numeric(w)))
                .count();
            let n = if numbers > trailing {
                c.positive("an occurrence number (1 = the first)")?
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
        _ => MsgSel::Nth(c.positive("a message number (1 = the first)")?),
    })
}

fn action(c: &mut Cursor) -> PResult<Action> {
    let (k, _) = c.keyword(&["detach", "shutdown", "shutdown-threads", "hangup", "close"])?;
    Ok(match k.as_str() {
        "detach" => Action::Detach(c.opt_session(&[])?),
        "shutdown" => Action::Shutdown(c.opt_session(&[])?),
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

/// `[SESSION] STATE`: a session only if two words follow.
fn session_state(c: &mut Cursor) -> PResult<(Option<String>, StateName)> {
    let two_words = matches!(
        c.toks.get(c.i + 1),
        Some(Token {
            tok: Tok::Word(_),
            ..
        })
    );
    let session = if two_words {
        c.opt_session(STATES)?
    } else {
        None
    };
    Ok((session, state_name(c)?))
}

fn state_name(c: &mut Cursor) -> PResult<StateName> {
    let (k, _) = c.keyword(STATES)?;
    Ok(match k.as_str() {
        "start" => StateName::Start,
        "attached" => StateName::Attached,
        "detached" => StateName::Detached,
        _ => StateName::ShutDown,
    })
}

/// A region or initialized segment named by an earlier step's handle, or
/// a literal `0x...` address (one the executor does not know, say).
fn address_ref(c: &mut Cursor, what: &str) -> PResult<String> {
    match c.peek_word() {
        Some(w) if w.starts_with("0x") => {
            let (w, p) = c.word(what)?;
            parse_number(&w).ok_or((p, format!("`{w}` is not a hex address")))?;
            Ok(w)
        }
        _ => Ok(c.name(what)?.0),
    }
}

/// A service request after `KW H`.
fn service(c: &mut Cursor, kw: &str) -> PResult<SvcOp> {
    const REGION: &str = "a region (the handle of a `reserve`)";
    Ok(match kw {
        "reserve" => SvcOp::Reserve(c.number("a size in bytes")?),
        "write" => {
            let (r, _) = c.name(REGION)?;
            let off = c.number("an offset")?;
            let p = c.pos();
            let v = c.value()?;
            SvcOp::Write(r, off, bytes_only(v, p, "written to memory")?)
        }
        "read" => {
            let (r, _) = c.name(REGION)?;
            let off = c.number("an offset")?;
            SvcOp::Read(r, off, c.number("a length")?)
        }
        "release" => {
            let mut rs = vec![address_ref(
                c,
                "a region (the handle of a `reserve`, or `0x...`)",
            )?];
            while !c.at_end() {
                rs.push(address_ref(
                    c,
                    "a region (the handle of a `reserve`, or `0x...`)",
                )?);
            }
            SvcOp::Release(rs)
        }
        "deinitialize" => {
            let what = "an initialized segment (the handle of an `initialize`, or `0x...`)";
            let mut ss = vec![address_ref(c, what)?];
            while !c.at_end() {
                ss.push(address_ref(c, what)?);
            }
            SvcOp::Deinitialize(ss)
        }
        "initialize" => {
            let (r, _) = c.name(REGION)?;
            if c.peek_word().is_some_and(looks_numeric) {
                // The one-segment form: `initialize H R OFF SIZE PROT [VALUE]`.
                let (offset, size, prot) = segment_place(c)?;
                let p = c.pos();
                let content = bytes_only(c.opt_value()?, p, "a segment's content")?;
                let seg = SegmentDecl {
                    offset,
                    size,
                    prot,
                    finalize: false,
                    content,
                };
                return Ok(SvcOp::Initialize(r, vec![seg], Vec::new()));
            }
            let mut segments = Vec::new();
            let mut actions = Vec::new();
            let mut first_action = None;
            while !c.at_end() || segments.is_empty() {
                let (k, kpos) = c.keyword(&["segment", "action"])?;
                if k == "segment" {
                    if let Some(a) = first_action {
                        return Err((
                            kpos,
                            format!(
                                "segments come before the actions (the first action is at {a})"
                            ),
                        ));
                    }
                    segments.push(segment(c)?);
                } else {
                    if segments.is_empty() {
                        return Err((
                            kpos,
                            "expected `segment OFFSET SIZE PROT ...` first: an initialize finalizes at least one segment".into(),
                        ));
                    }
                    first_action.get_or_insert(kpos);
                    let (a, _) = c.keyword(&["ok", "fail"])?;
                    actions.push(if a == "ok" {
                        ActionDecl::Ok
                    } else {
                        ActionDecl::Fail(c.string("the action's error message (a quoted string)")?)
                    });
                }
            }
            SvcOp::Initialize(r, segments, actions)
        }
        "open" => SvcOp::Open(c.string("a library path (a quoted string; \"\" = the process)")?),
        _ => {
            let (lib, _) = c.name("a library (the handle of an `open`)")?;
            let mut syms = vec![(c.string("a symbol name (a quoted string)")?, true)];
            let mut weak_at: Option<Pos> = None;
            loop {
                let p = c.pos();
                if c.eat_word("weak") {
                    if let Some(first) = weak_at {
                        return Err((p, format!("repeated `weak` (the first is at {first})")));
                    }
                    weak_at = Some(p);
                    syms.last_mut().expect("one symbol").1 = false;
                } else if c.at_end() {
                    break;
                } else {
                    syms.push((c.string("a symbol name (a quoted string) or `weak`")?, true));
                    weak_at = None;
                }
            }
            SvcOp::Resolve(lib, syms)
        }
    })
}

/// `OFFSET SIZE PROT` of a segment.
fn segment_place(c: &mut Cursor) -> PResult<(u64, u64, u8)> {
    let offset = c.number("the segment's offset in the reservation")?;
    let size = c.number("the segment's size")?;
    let (p, ppos) = c.word("a protection such as `r-x`")?;
    let prot = parse_prot(&p).ok_or((
        ppos,
        format!("`{p}` is not a protection (three letters from `rwx`/`-`, e.g. `r-x`)"),
    ))?;
    Ok((offset, size, prot))
}

/// `OFFSET SIZE PROT [finalize] [VALUE]` after `segment`.
fn segment(c: &mut Cursor) -> PResult<SegmentDecl> {
    let (offset, size, prot) = segment_place(c)?;
    let mut seg = SegmentDecl {
        offset,
        size,
        prot,
        finalize: false,
        content: Value::Empty,
    };
    let mut finalize_at: Option<Pos> = None;
    let mut content_at: Option<Pos> = None;
    loop {
        let p = c.pos();
        match c.peek_word() {
            Some("finalize") => {
                if let Some(first) = finalize_at {
                    return Err((p, format!("repeated `finalize` (the first is at {first})")));
                }
                finalize_at = Some(p);
                c.next();
                seg.finalize = true;
            }
            Some(w) if VALUE_WORDS.contains(&w) => {
                if let Some(first) = content_at {
                    return Err((
                        p,
                        format!("a second content for this segment (the first is at {first})"),
                    ));
                }
                content_at = Some(p);
                let v = c.value()?;
                seg.content = bytes_only(v, p, "a segment's content")?;
            }
            _ => return Ok(seg),
        }
    }
}

fn expect(c: &mut Cursor) -> PResult<ExpectKind> {
    match c.peek_word() {
        Some("order") => {
            c.next();
            let mut pats = vec![c.pattern()?];
            while c.eat_punct('<') {
                pats.push(c.pattern()?);
            }
            if pats.len() < 2 {
                return c.fail("`<` and a second pattern");
            }
            Ok(ExpectKind::Order(pats))
        }
        Some("count") => {
            c.next();
            let p = c.pattern()?;
            Ok(ExpectKind::Count(p, c.number("a count")?))
        }
        Some("once") => {
            c.next();
            Ok(ExpectKind::Count(c.pattern()?, 1))
        }
        Some("never") => {
            c.next();
            Ok(ExpectKind::Count(c.pattern()?, 0))
        }
        Some("state") => {
            c.next();
            let (session, state) = session_state(c)?;
            Ok(ExpectKind::State(session, state))
        }
        Some(_) => {
            let (h, _) = c.name("a call handle")?;
            let (k, _) = c.keyword(&["ok", "error", "done", "none"])?;
            let r = match k.as_str() {
                "ok" => ResultExpect::Ok(if c.at_end() {
                    None
                } else {
                    let p = c.pos();
                    match c.value()? {
                        Value::Error(_) => {
                            return Err((
                                p,
                                format!(
                                    "`expect {h} ok` takes the result's value; an error result is `expect {h} error [\"TEXT\"]`"
                                ),
                            ));
                        }
                        v => Some(v),
                    }
                }),
                "error" => ResultExpect::Error(if c.at_end() {
                    None
                } else {
                    Some(c.string("an error message fragment (a quoted string)")?)
                }),
                "done" => ResultExpect::Done,
                _ => ResultExpect::None,
            };
            Ok(ExpectKind::Result(h, r))
        }
        None => c.fail("`order`, `count`, `once`, `never`, `state` or a call handle"),
    }
}

/// Every manager declaration: the header's, those added by script steps,
/// by JIT'd code and by callbacks (nested), in file order.
fn all_managers(sc: &Scenario) -> Vec<&ManagerDecl> {
    fn with_nested<'a>(m: &'a ManagerDecl, out: &mut Vec<&'a ManagerDecl>) {
        out.push(m);
        for b in [&m.detach, &m.shutdown] {
            if let Some(n) = &b.add_manager {
                with_nested(n, out);
            }
        }
    }
    let mut out = Vec::new();
    for m in &sc.managers {
        with_nested(m, &mut out);
    }
    for j in &sc.jits {
        for o in &j.ops {
            if let Op::AddManager(m) = o {
                with_nested(m, &mut out);
            }
        }
    }
    for s in &sc.steps {
        if let StepKind::AddManager(m) = &s.kind {
            with_nested(m, &mut out);
        }
    }
    out
}

/// Whether the fault works on the bytes of the pipe (needs `access real`).
fn is_byte_fault(k: &FaultKind) -> Option<&'static str> {
    Some(match k {
        FaultKind::Split(..) => "split",
        FaultKind::ShortReads(_) => "short-reads",
        FaultKind::ShortWrites(_) => "short-writes",
        FaultKind::StallReader(..) => "stall-reader",
        FaultKind::CloseMid(..) => "close-mid",
        FaultKind::Corrupt(..) => "corrupt",
        _ => return None,
    })
}

/// Names used must be declared (handles and guards before their use);
/// names declared must be unique; settings must fit together.
fn validate(sc: &Scenario, first_deviation: Option<Pos>) -> PResult<()> {
    fn unique<'a>(items: impl Iterator<Item = (&'a str, Pos)>, what: &str) -> PResult<()> {
        let mut seen = BTreeMap::new();
        for (n, p) in items {
            if let Some(first) = seen.insert(n, p) {
                // Line 0: declared by the program (a Simulation's services).
                if first.line == 0 || p.line == 0 {
                    return Err((
                        if p.line == 0 { first } else { p },
                        format!(
                            "{what} `{n}` is provided by the program running the scenario; \
                             the script cannot declare it too"
                        ),
                    ));
                }
                return Err((
                    p,
                    format!("{what} `{n}` is declared twice (the first is at {first})"),
                ));
            }
        }
        Ok(())
    }
    unique(
        sc.sessions.iter().map(|s| (s.name.as_str(), s.pos)),
        "session",
    )?;
    unique(
        all_managers(sc)
            .into_iter()
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
                Op::Spawn(_, f) | Op::Dispatch(f, _) if !has_jit(f) => {
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
    for h in &sc.handlers {
        for (f, _) in &h.calls_back {
            if !has_jit(f) {
                return Err((
                    h.pos,
                    format!(
                        "handler `{}` calls back `{f}`, which is not a declared JIT'd function (`jit {f}: ...`)",
                        h.name
                    ),
                ));
            }
        }
    }
    if first_deviation.is_some() && !sc.wire {
        return Err((
            first_deviation.unwrap_or_default(),
            "`# deviation:` declares a difference from LLVM's executor over the wire: it needs `wire` in the header".into(),
        ));
    }
    let mut handles = BTreeMap::new();
    let mut threads = BTreeMap::new();
    let mut callbacks = BTreeMap::new();
    let mut guards: BTreeMap<&str, Pos> = BTreeMap::new();
    let mut live_guards: BTreeSet<&str> = BTreeSet::new();
    let mut addresses: BTreeMap<&str, &str> = BTreeMap::new();
    for s in &sc.steps {
        match &s.kind {
            StepKind::Service(h, op) => {
                if !sc.services {
                    return Err((
                        s.pos,
                        "service calls need the real services: add `services` to the header".into(),
                    ));
                }
                if let Some(first) = handles.insert(h.as_str(), s.pos) {
                    return Err((
                        s.pos,
                        format!("call handle `{h}` is used twice (the first is at {first})"),
                    ));
                }
                let used: Vec<&String> = match op {
                    SvcOp::Write(r, ..)
                    | SvcOp::Read(r, ..)
                    | SvcOp::Initialize(r, ..)
                    | SvcOp::Resolve(r, _) => vec![r],
                    SvcOp::Release(rs) | SvcOp::Deinitialize(rs) => rs.iter().collect(),
                    SvcOp::Reserve(_) | SvcOp::Open(_) => Vec::new(),
                };
                if let Some(kind) = op.needs() {
                    for u in used {
                        if u.starts_with("0x") {
                            continue;
                        }
                        if addresses.get(u.as_str()) != Some(&kind) {
                            return Err((
                                s.pos,
                                format!("`{u}` is not a {kind} named by an earlier step"),
                            ));
                        }
                    }
                }
                if let Some(kind) = op.produces() {
                    addresses.insert(h.as_str(), kind);
                }
            }
            StepKind::Call { handle, target, .. } => {
                if let Some(first) = handles.insert(handle.as_str(), s.pos) {
                    return Err((
                        s.pos,
                        format!("call handle `{handle}` is used twice (the first is at {first})"),
                    ));
                }
                if let Some(thread) = threads.get(handle.as_str()) {
                    return Err((
                        s.pos,
                        format!(
                            "call handle `{handle}` is the thread started at {thread}: both would be `jit {handle}` in the transcript"
                        ),
                    ));
                }
                // With the services, any other name is a bootstrap symbol,
                // looked up in the setup message at run time.
                if let CallTarget::Jit(f) = target
                    && !has_jit(f)
                    && !sc.services
                    && !sc.provided_wrappers.contains(f)
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
                if let Some(first) = threads.insert(t.as_str(), s.pos) {
                    return Err((
                        s.pos,
                        format!("thread name `{t}` is used twice (the first is at {first})"),
                    ));
                }
                if let Some(call) = handles.get(t.as_str()) {
                    return Err((
                        s.pos,
                        format!(
                            "thread name `{t}` is the call handle at {call}: both would be `jit {t}` in the transcript"
                        ),
                    ));
                }
            }
            StepKind::OnDetach(n, _) | StepKind::OnShutdown(n, _) => {
                if let Some(first) = callbacks.insert(n.as_str(), s.pos) {
                    return Err((
                        s.pos,
                        format!("callback name `{n}` is used twice (the first is at {first})"),
                    ));
                }
            }
            StepKind::Await(AwaitCond::Sent(h) | AwaitCond::Running(h) | AwaitCond::Done(h))
                if !handles.contains_key(h.as_str()) =>
            {
                return Err((
                    s.pos,
                    format!("`{h}` is not a call handle defined by an earlier `call`"),
                ));
            }
            StepKind::Enter(g, _) => {
                if let Some(first) = guards.insert(g.as_str(), s.pos) {
                    return Err((
                        s.pos,
                        format!("guard name `{g}` is used twice (the first is at {first})"),
                    ));
                }
                live_guards.insert(g.as_str());
            }
            StepKind::CloneGuard(g, g2) => {
                if !live_guards.contains(g.as_str()) {
                    return Err((s.pos, not_held(g, &guards)));
                }
                if let Some(first) = guards.insert(g2.as_str(), s.pos) {
                    return Err((
                        s.pos,
                        format!("guard name `{g2}` is used twice (the first is at {first})"),
                    ));
                }
                live_guards.insert(g2.as_str());
            }
            StepKind::Leave(g) if !live_guards.remove(g.as_str()) => {
                return Err((s.pos, not_held(g, &guards)));
            }
            _ => {}
        }
    }
    let mut faults_seen: Vec<&Fault> = Vec::new();
    for f in &sc.faults {
        if let Some(first) = faults_seen.iter().find(|g| {
            g.kind == f.kind
                || matches!(
                    (&g.kind, &f.kind),
                    (FaultKind::ShortReads(_), FaultKind::ShortReads(_))
                        | (FaultKind::ShortWrites(_), FaultKind::ShortWrites(_))
                )
        }) {
            return Err((
                f.pos,
                format!(
                    "this fault is declared twice (the first is at {})",
                    first.pos
                ),
            ));
        }
        faults_seen.push(f);
        if let Some(k) = is_byte_fault(&f.kind)
            && sc.access == AccessKind::Model
        {
            return Err((
                f.pos,
                format!(
                    "`fault {k}` works on the pipe's bytes: it needs `access real`, not `access model`"
                ),
            ));
        }
        let sel = match &f.kind {
            FaultKind::Drop(s)
            | FaultKind::Delay(s, _)
            | FaultKind::Reorder(s)
            | FaultKind::Duplicate(s)
            | FaultKind::Split(s, _)
            | FaultKind::CloseMid(s, _)
            | FaultKind::Corrupt(s, ..) => s,
            _ => continue,
        };
        match sel {
            MsgSel::Call(h) | MsgSel::Result(h) if !handles.contains_key(h.as_str()) => {
                return Err((f.pos, format!("`{h}` is not a call handle of the script")));
            }
            MsgSel::CallTag(t, _) | MsgSel::Reply(t, _) if !has_handler(t) => {
                return Err((f.pos, format!("`{t}` is not a declared handler")));
            }
            _ => {}
        }
    }
    let mut state_at: BTreeMap<Option<&str>, Pos> = BTreeMap::new();
    for e in &sc.expects {
        match &e.kind {
            ExpectKind::Result(h, _) if !handles.contains_key(h.as_str()) => {
                return Err((e.pos, format!("`{h}` is not a call handle of the script")));
            }
            ExpectKind::State(s, _) => {
                if let Some(first) = state_at.insert(s.as_deref(), e.pos) {
                    return Err((
                        e.pos,
                        format!(
                            "repeated `expect state{}` (the first is at {first})",
                            after_space(s)
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Why guard `g` cannot be released or cloned here.
fn not_held(g: &str, guards: &BTreeMap<&str, Pos>) -> String {
    match guards.get(g) {
        Some(p) => format!("guard `{g}` (taken at {p}) is already released"),
        None => format!("guard `{g}` is not held: no earlier `enter {g}` or `clone ... {g}`"),
    }
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
        assert_eq!(m.shutdown.request_shutdown, Some(None));
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
    fn the_new_constructs_parse() {
        let sc = parse(
            "t.scn",
            r#"# rule: x
access model
pipe 4096
reach "rm late: detach"
manager a detach ok wait-shutdown add-manager (b detach fail "x" after 2 shutdown ok add-manager (c)) shutdown forget request-shutdown
jit f async-c: keepalive 3, add-manager d shutdown panic "p", leave
jit g legacy-c: add-manager (e), return u64 1
handler h: calls f u64 1, calls g, reply u64 2 after 3
fault delay ccall h 5
fault drop ccall h 2
fault at-step 3 close
---
enter g1
clone g1 g2
leave g1
wait-shutdown
check state attached
call c1 f
expect c1 done
"#,
        )
        .unwrap();
        assert_eq!(sc.access, AccessKind::Model);
        assert_eq!(sc.pipe_capacity, 4096);
        assert_eq!(sc.probes[0].pattern, "rm late: detach");
        let a = &sc.managers[0];
        assert_eq!(a.detach.wait_shutdown, Some(None));
        let b = a.detach.add_manager.as_deref().unwrap();
        assert_eq!(b.name, "b");
        assert_eq!(b.detach.outcome, Outcome::Fail("x".into()));
        assert_eq!(b.detach.after, Some(2));
        assert_eq!(b.shutdown.add_manager.as_deref().unwrap().name, "c");
        assert_eq!(a.shutdown.outcome, Outcome::Forget);
        assert_eq!(a.shutdown.request_shutdown, Some(None));
        assert_eq!(sc.jits[0].abi, JitAbi::AsyncC);
        assert_eq!(sc.jits[0].ops[0], Op::Keepalive(3));
        let Op::AddManager(d) = &sc.jits[0].ops[1] else {
            panic!("{:?}", sc.jits[0].ops[1])
        };
        assert_eq!(d.shutdown.outcome, Outcome::Panic("p".into()));
        assert_eq!(sc.jits[0].ops[2], Op::Leave);
        assert_eq!(sc.jits[1].abi, JitAbi::LegacyC);
        assert!(matches!(&sc.jits[1].ops[0], Op::AddManager(e) if e.name == "e"));
        let h = &sc.handlers[0];
        assert_eq!(
            h.calls_back,
            [("f".into(), Value::U64(1)), ("g".into(), Value::Empty)]
        );
        assert_eq!((&h.reply, h.after), (&Reply::Value(Value::U64(2)), 3));
        // One number after `ccall TAG` is the fault's own; two: the first
        // is the occurrence.
        assert_eq!(
            sc.faults[0].kind,
            FaultKind::Delay(MsgSel::CallTag("h".into(), 1), 5)
        );
        assert_eq!(
            sc.faults[1].kind,
            FaultKind::Drop(MsgSel::CallTag("h".into(), 2))
        );
        assert_eq!(sc.faults[2].kind, FaultKind::AtStep(3, Action::Close));
        let kinds: Vec<&StepKind> = sc.steps.iter().map(|s| &s.kind).collect();
        assert_eq!(
            kinds[..5],
            [
                &StepKind::Enter("g1".into(), None),
                &StepKind::CloneGuard("g1".into(), "g2".into()),
                &StepKind::Leave("g1".into()),
                &StepKind::WaitShutdown(None),
                &StepKind::CheckState(None, StateName::Attached),
            ]
        );
        assert_eq!(
            sc.expects[0].kind,
            ExpectKind::Result("c1".into(), ResultExpect::Done)
        );
    }

    #[test]
    fn byte_faults_and_services_parse() {
        let sc = parse(
            "t.scn",
            r#"# rule: x
services
handler h: reply empty
fault split call c1 7
fault short-reads 3
fault short-writes 5
fault close-mid result c1 40
fault corrupt reply h 2 opcode 9
fault corrupt msg 4 size 0x10
---
attach
call c1 f
reserve r1 8192
reserve r2 4096
initialize s1 r1 4096 8192 r-- str "old form"
initialize s2 r1 segment 0 4096 rw- finalize bytes 0102 segment 4096 4096 r-x action ok action fail "no"
release rel r1 r2 0xdead
deinitialize d s1 s2 0x1000
resolve q p2 "a" weak "b"
"#,
        );
        // `resolve` needs an `open` first: the error names it.
        assert_eq!(
            sc.unwrap_err().to_string(),
            "t.scn:19:1: error: `p2` is not a library named by an earlier step"
        );
        let sc = parse(
            "t.scn",
            r#"# rule: x
services
handler h: reply empty
fault split call c1 7
fault short-reads 3
fault short-writes 5
fault close-mid result c1 40
fault corrupt reply h 2 opcode 9
fault corrupt msg 4 size 0x10
fault stall-reader 10 20
---
attach
call c1 f
reserve r1 8192
reserve r2 4096
initialize s1 r1 4096 8192 r-- str "old form"
initialize s2 r1 segment 0 4096 rw- finalize bytes 0102 segment 4096 4096 r-x action ok action fail "no"
release rel r1 r2 0xdead
deinitialize d s1 s2 0x1000
"#,
        )
        .unwrap();
        let faults: Vec<&FaultKind> = sc.faults.iter().map(|f| &f.kind).collect();
        assert_eq!(
            faults,
            [
                &FaultKind::Split(MsgSel::Call("c1".into()), 7),
                &FaultKind::ShortReads(3),
                &FaultKind::ShortWrites(5),
                &FaultKind::CloseMid(MsgSel::Result("c1".into()), 40),
                &FaultKind::Corrupt(MsgSel::Reply("h".into(), 2), HeaderField::Opcode, 9),
                &FaultKind::Corrupt(MsgSel::Nth(4), HeaderField::Size, 16),
                &FaultKind::StallReader(10, 20),
            ]
        );
        let svc = |i: usize| match &sc.steps[i].kind {
            StepKind::Service(_, op) => op.clone(),
            k => panic!("{k:?}"),
        };
        assert_eq!(
            svc(4),
            SvcOp::Initialize(
                "r1".into(),
                vec![SegmentDecl {
                    offset: 4096,
                    size: 8192,
                    prot: 1,
                    finalize: false,
                    content: Value::Str("old form".into()),
                }],
                vec![],
            )
        );
        assert_eq!(
            svc(5),
            SvcOp::Initialize(
                "r1".into(),
                vec![
                    SegmentDecl {
                        offset: 0,
                        size: 4096,
                        prot: 3,
                        finalize: true,
                        content: Value::Bytes(vec![1, 2]),
                    },
                    SegmentDecl {
                        offset: 4096,
                        size: 4096,
                        prot: 5,
                        finalize: false,
                        content: Value::Empty,
                    },
                ],
                vec![ActionDecl::Ok, ActionDecl::Fail("no".into())],
            )
        );
        assert_eq!(
            svc(6),
            SvcOp::Release(vec!["r1".into(), "r2".into(), "0xdead".into()])
        );
        assert_eq!(
            svc(7),
            SvcOp::Deinitialize(vec!["s1".into(), "s2".into(), "0x1000".into()])
        );
    }

    #[test]
    fn repeats_expand_with_their_iteration_number() {
        let sc = parse(
            "t.scn",
            r#"# rule: x
repeat 2 {
  manager m$i
}
jit f: return u64 7
---
repeat 3 {
  call c$i f u64 $i
  repeat 2 j {
    await "jit c${i}: step $j costs $$1"
  }
}
repeat 1 {
expect c1 ok
}
"#,
        )
        .unwrap();
        let names: Vec<&str> = sc.managers.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["m1", "m2"]);
        assert_eq!(sc.managers[1].pos, Pos { line: 3, col: 3 });
        let steps: Vec<String> = sc
            .steps
            .iter()
            .map(|s| match &s.kind {
                StepKind::Call { handle, arg, .. } => format!("{handle} {arg}"),
                StepKind::Await(AwaitCond::Pattern(p)) => p.clone(),
                k => format!("{k:?}"),
            })
            .collect();
        assert_eq!(
            steps,
            [
                "c1 u64 1",
                "jit c1: step 1 costs $1",
                "jit c1: step 2 costs $1",
                "c2 u64 2",
                "jit c2: step 1 costs $1",
                "jit c2: step 2 costs $1",
                "c3 u64 3",
                "jit c3: step 1 costs $1",
                "jit c3: step 2 costs $1",
            ]
        );
        assert_eq!(sc.expects.len(), 1);
    }

    /// `(input, the whole error line)`.
    const ERRORS: &[(&str, &str)] = &[
        // Strings: reported at the opening quote of the one left open.
        (
            "---\nattach fail \"oops\n",
            "t.scn:2:13: error: unterminated string (missing closing `\"`)",
        ),
        (
            "---\nexpect order \"a < \"b\"\n",
            "t.scn:2:14: error: unterminated string (missing closing `\"`)",
        ),
        (
            "---\nexpect order \"a\" < \"b < \"c\"\n",
            "t.scn:2:20: error: unterminated string (missing closing `\"`)",
        ),
        (
            "---\nattach fail \"a\"b\n",
            "t.scn:2:16: error: expected a space after the string, found `b`",
        ),
        // The separator.
        (
            "manager m\ncall c1 f\n---\n",
            "t.scn:2:1: error: expected `---` between the header and the script: `call` is a script line",
        ),
        (
            "seed 1\n",
            "t.scn:2:1: error: expected `---` between the header and the script (the file has none)",
        ),
        (
            "---\n---\n",
            "t.scn:2:1: error: a second `---` line (only one separates header and script; the first is at line 1)",
        ),
        (
            "----\n",
            "t.scn:1:1: error: the line between the header and the script is `---` alone",
        ),
        (
            "---\nmanager m\n",
            "t.scn:2:1: error: `manager` is a header line: it goes before the `---` at line 1",
        ),
        // Rules.
        (
            "manager m\n---\nshutdown\n",
            "t.scn:1:1: error: no `# rule:` line: every scenario names the rule it checks (`# rule: spec N.M ...`, `# rule: protocol N ...` or `# rule: fault: ...`)",
        ),
        (
            "# rule fault: x\n---\n",
            "t.scn:1:1: error: no `# rule:` line: every scenario names the rule it checks (`# rule: spec N.M ...`, `# rule: protocol N ...` or `# rule: fault: ...`); line 1 looks like one but lacks the `:`",
        ),
        (
            "  # rule:  \n---\n",
            "t.scn:1:3: error: empty `# rule:` line",
        ),
        (
            "# rule: x\n# deviation: y\n---\n",
            "t.scn:2:1: error: `# deviation:` declares a difference from LLVM's executor over the wire: it needs `wire` in the header",
        ),
        // Repeated modifiers and options.
        (
            "manager a detach ok after 3 after 4\n---\n",
            "t.scn:1:29: error: repeated `after` (the first is at 1:21)",
        ),
        (
            "manager a shutdown ok request-shutdown request-shutdown\n---\n",
            "t.scn:1:40: error: repeated `request-shutdown` (the first is at 1:23)",
        ),
        (
            "manager a detach ok wait-shutdown wait-shutdown\n---\n",
            "t.scn:1:35: error: repeated `wait-shutdown` (the first is at 1:21)",
        ),
        (
            "manager a detach ok add-manager (b) add-manager (c)\n---\n",
            "t.scn:1:37: error: repeated `add-manager` (the first is at 1:21)",
        ),
        (
            "manager a detach ok detach fail \"x\"\n---\n",
            "t.scn:1:21: error: repeated `detach` behaviour (the first is at 1:11)",
        ),
        (
            "manager a detach ok add-manager (b shutdown ok shutdown ok)\n---\n",
            "t.scn:1:48: error: repeated `shutdown` behaviour (the first is at 1:36)",
        ),
        (
            "manager a detach ok fail \"x\"\n---\n",
            "t.scn:1:21: error: a second outcome `fail` for `detach` (the first is `ok` at 1:18)",
        ),
        (
            "handler h: reply empty after 1 after 2\n---\n",
            "t.scn:1:32: error: repeated `after` (the first is at 1:24)",
        ),
        (
            "dispatcher queue keep run\n---\n",
            "t.scn:1:23: error: repeated dispatcher option `run` (the first is `keep` at 1:18)",
        ),
        (
            "dispatcher queue rnu\n---\n",
            "t.scn:1:18: error: unknown word `rnu` (did you mean `run`?); expected one of `keep`, `run`, `drop`",
        ),
        (
            "dispatcher queue holding-guard\n---\n",
            "t.scn:1:18: error: repeated dispatcher option `holding-guard` (the first is `queue` at 1:12)",
        ),
        (
            "seed 1\nlatency 1 2\nseed 2\n---\n",
            "t.scn:3:1: error: repeated `seed` line (the first is at 1:1)",
        ),
        (
            "wire\nwire\n---\n",
            "t.scn:2:1: error: repeated `wire` line (the first is at 1:1)",
        ),
        (
            "access real\naccess model\n---\n",
            "t.scn:2:1: error: repeated `access` line (the first is at 1:1)",
        ),
        (
            "jit f async-c legacy-c: enter\n---\n",
            "t.scn:1:15: error: repeated ABI `legacy-c` (the first is `async-c` at 1:7)",
        ),
        (
            "services\n---\nopen p \"\"\nresolve q p \"a\" weak weak\n",
            "t.scn:4:22: error: repeated `weak` (the first is at 4:17)",
        ),
        (
            "services\n---\nreserve r 4096\ninitialize s r segment 0 16 r-- finalize finalize\n",
            "t.scn:4:42: error: repeated `finalize` (the first is at 4:33)",
        ),
        (
            "services\n---\nreserve r 4096\ninitialize s r segment 0 16 r-- u64 1 u64 2\n",
            "t.scn:4:39: error: a second content for this segment (the first is at 4:33)",
        ),
        (
            "fault drop setup\nfault delay hangup 2\nfault drop setup\n---\n",
            "t.scn:3:1: error: this fault is declared twice (the first is at 1:1)",
        ),
        (
            "fault short-reads 3\nfault short-reads 4\n---\n",
            "t.scn:2:1: error: this fault is declared twice (the first is at 1:1)",
        ),
        (
            "# rule: x\n---\nexpect state detached\nexpect state shut-down\n",
            "t.scn:4:1: error: repeated `expect state` (the first is at 3:1)",
        ),
        // Out-of-band errors are results, never arguments.
        (
            "jit f: enter\n---\ncall c1 f error \"x\"\n",
            "t.scn:3:11: error: `error` cannot be a call argument: the wire carries bytes only, an out-of-band error can only be a result (`return`, `reply`, `expect H error`)",
        ),
        (
            "handler log: reply empty\njit f: call log error \"x\"\n---\n",
            "t.scn:2:17: error: `error` cannot be a call argument: the wire carries bytes only, an out-of-band error can only be a result (`return`, `reply`, `expect H error`)",
        ),
        (
            "handler log: reply empty\njit f: call-async log error \"x\"\n---\n",
            "t.scn:2:23: error: `error` cannot be a call argument: the wire carries bytes only, an out-of-band error can only be a result (`return`, `reply`, `expect H error`)",
        ),
        (
            "jit f: enter\nhandler h: calls f error \"x\", reply empty\n---\n",
            "t.scn:2:20: error: `error` cannot be a call argument: the wire carries bytes only, an out-of-band error can only be a result (`return`, `reply`, `expect H error`)",
        ),
        (
            "services\n---\nreserve r 64\nwrite w r 0 error \"x\"\n",
            "t.scn:4:13: error: `error` cannot be written to memory: the wire carries bytes only, an out-of-band error can only be a result (`return`, `reply`, `expect H error`)",
        ),
        (
            "jit f: enter\n---\ncall c1 f\nexpect c1 ok error \"x\"\n",
            "t.scn:4:14: error: `expect c1 ok` takes the result's value; an error result is `expect c1 error [\"TEXT\"]`",
        ),
        // Words, numbers, names.
        (
            "---\nfrobnicate\n",
            "t.scn:2:1: error: unknown word `frobnicate`; expected one of `attach`, `call`, `detach`, `shutdown`, `shutdown-threads`, `hangup`, `close`, `tick`, `await`, `spawn`, `add-manager`, `on-detach`, `on-shutdown`, `enter`, `leave`, `clone`, `wait-shutdown`, `check`, `reserve`, `write`, `read`, `release`, `initialize`, `deinitialize`, `open`, `resolve`, `expect`",
        ),
        (
            "manger m\n---\n",
            "t.scn:1:1: error: unknown word `manger` (did you mean `manager`?); expected one of `seed`, `latency`, `dispatcher`, `on-disconnect`, `manager`, `jit`, `handler`, `fault`, `services`, `wire`, `access`, `pipe`, `reach`, `session`",
        ),
        (
            "---\nenter g in B\n",
            "t.scn:2:12: error: `B` is not a declared session (declare it in the header: `session B`)",
        ),
        (
            "session left\n---\nshutdown lfet\n",
            "t.scn:3:10: error: `lfet` is not a declared session (did you mean `left`?)",
        ),
        (
            "session left\nmanager m in rihgt\n---\n",
            "t.scn:2:14: error: `rihgt` is not a declared session (declare it in the header: `session rihgt`)",
        ),
        (
            "session in\n---\n",
            "t.scn:1:9: error: `in` cannot name a session: where a session name may follow, it is read as a keyword",
        ),
        (
            "session wait\n---\n",
            "t.scn:1:9: error: `wait` cannot name a session: where a session name may follow, it is read as a keyword",
        ),
        (
            "session a\nsession a\n---\n",
            "t.scn:2:1: error: session `a` is declared twice (the first is at 1:1)",
        ),
        (
            "session a\n---\nexpect state a shut-down\nexpect state a detached\n",
            "t.scn:4:1: error: repeated `expect state a` (the first is at 3:1)",
        ),
        (
            "session a\n---\ncheck state a shut-dwn\n",
            "t.scn:3:15: error: unknown word `shut-dwn` (did you mean `shut-down`?); expected one of `start`, `attached`, `detached`, `shut-down`",
        ),
        (
            "session a\nmanager m detach ok wait-shutdwn\n---\n",
            "t.scn:2:21: error: unknown word `wait-shutdwn` (did you mean `wait-shutdown`?); expected one of `detach`, `shutdown`, `after`, `request-shutdown`, `wait-shutdown`, `add-manager`",
        ),
        (
            "session a\njit f: enter a leave\n---\n",
            "t.scn:2:16: error: expected `,`, found `leave`",
        ),
        (
            "manager a detach ok afterr 3\n---\n",
            "t.scn:1:21: error: unknown word `afterr` (did you mean `after`?); expected one of `detach`, `shutdown`, `after`, `request-shutdown`, `wait-shutdown`, `add-manager`",
        ),
        (
            "seed x\n---\n",
            "t.scn:1:6: error: expected a seed (a number), found `x`",
        ),
        (
            "seed 99999999999999999999\n---\n",
            "t.scn:1:6: error: `99999999999999999999` does not fit in 64 bits",
        ),
        (
            "---\ntick +5\n",
            "t.scn:2:6: error: expected a number of ticks, found `+5`",
        ),
        (
            "jit f: return bytes +1\n---\n",
            "t.scn:1:21: error: `+1` is not an even number of hex digits",
        ),
        (
            "jit f: enter\n---\ncall 12 f\n",
            "t.scn:3:6: error: `12` is a number, not a valid call handle (start it with a letter)",
        ),
        (
            "jit f enter\n---\n",
            "t.scn:1:7: error: expected `:`, found `enter`",
        ),
        (
            "jit f asyncc: enter\n---\n",
            "t.scn:1:7: error: unknown word `asyncc` (did you mean `async-c`?); expected one of `async-c`, `legacy-c`",
        ),
        (
            "jit f: enter leave\n---\n",
            "t.scn:1:14: error: expected `,`, found `leave`",
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
            "---\ncall c1 0xZZ\n",
            "t.scn:2:9: error: `0xZZ` is not a hex address",
        ),
        (
            "---\nawait \"\"\n",
            "t.scn:2:7: error: an empty pattern matches every event",
        ),
        (
            "reach \"\"\n---\n",
            "t.scn:1:7: error: an empty pattern matches every event",
        ),
        (
            "handler h: never after 2\n---\n",
            "t.scn:1:18: error: `never` answers: `after` does not apply (`never` at 1:12)",
        ),
        (
            "manager a detach forget after 2\n---\n",
            "t.scn:1:25: error: a forgotten completion is never called: `after` does not apply",
        ),
        (
            "manager a detach panic \"p\" after 2\n---\n",
            "t.scn:1:28: error: a panic happens inside the callback: `after` does not apply",
        ),
        (
            "manager a detach ok add-manager b\n---\n",
            "t.scn:1:33: error: expected `(`: a callback adds a manager written in parentheses, `add-manager (NAME [detach B] [shutdown B])`, found `b`",
        ),
        (
            "manager a detach ok add-manager (b\n---\n",
            "t.scn:1:35: error: expected `)`, found end of line",
        ),
        // Capacities, ranges, occurrences.
        (
            "pipe 0\n---\n",
            "t.scn:1:6: error: a pipe of 0 bytes cannot hold a message header: at least 32",
        ),
        (
            "pipe 31\n---\n",
            "t.scn:1:6: error: a pipe of 31 bytes cannot hold a message header: at least 32",
        ),
        (
            "fault short-writes 0\n---\n",
            "t.scn:1:20: error: expected the most bytes a write takes, at least 1, found 0",
        ),
        (
            "fault stall-reader 5 5\n---\n",
            "t.scn:1:22: error: the stall must end after it starts: FROM 5 < UNTIL 5",
        ),
        (
            "handler h: reply empty\nfault drop ccall h 0\n---\n",
            "t.scn:2:20: error: expected an occurrence number (1 = the first), at least 1, found 0",
        ),
        (
            "fault drop msg 0\n---\n",
            "t.scn:1:16: error: expected a message number (1 = the first), at least 1, found 0",
        ),
        (
            "fault corrupt setup flags 1\n---\n",
            "t.scn:1:21: error: unknown word `flags`; expected one of `size`, `opcode`, `seqno`, `tag`",
        ),
        (
            "access model\nfault short-reads 4\n---\n",
            "t.scn:2:1: error: `fault short-reads` works on the pipe's bytes: it needs `access real`, not `access model`",
        ),
        // Services.
        (
            "services\n---\nreserve r 4096\ninitialize s r action ok segment 0 16 r--\n",
            "t.scn:4:16: error: expected `segment OFFSET SIZE PROT ...` first: an initialize finalizes at least one segment",
        ),
        (
            "services\n---\nreserve r 4096\ninitialize s r segment 0 16 r-- action ok segment 16 16 r--\n",
            "t.scn:4:43: error: segments come before the actions (the first action is at 4:33)",
        ),
        (
            "services\n---\nreserve r 4096\nrelease x r 0xnope\n",
            "t.scn:4:13: error: `0xnope` is not a hex address",
        ),
        (
            "services\n---\nreserve r 4096\nrelease x r s\n",
            "t.scn:4:1: error: `s` is not a region named by an earlier step",
        ),
        (
            "services\n---\nreserve r 4096\ndeinitialize x r\n",
            "t.scn:4:1: error: `r` is not a initialized segment named by an earlier step",
        ),
        // Names declared and used.
        (
            "---\ncall c1 f\n",
            "t.scn:2:1: error: `f` is not a declared JIT'd function (use `0x...` for a raw address)",
        ),
        (
            "jit f: call log\n---\n",
            "t.scn:1:1: error: `f` calls handler `log`, which is not declared (`handler log: ...`)",
        ),
        (
            "handler h: calls g, reply empty\n---\n",
            "t.scn:1:1: error: handler `h` calls back `g`, which is not a declared JIT'd function (`jit g: ...`)",
        ),
        (
            "---\nexpect c9 ok\n",
            "t.scn:2:1: error: `c9` is not a call handle of the script",
        ),
        (
            "manager a\nmanager a\n---\n",
            "t.scn:2:1: error: manager `a` is declared twice (the first is at 1:1)",
        ),
        (
            "manager a detach ok add-manager (b)\n---\nadd-manager b\n",
            "t.scn:3:1: error: manager `b` is declared twice (the first is at 1:33)",
        ),
        (
            "jit f: enter\n---\ncall c1 f\ncall c1 f\n",
            "t.scn:4:1: error: call handle `c1` is used twice (the first is at 3:1)",
        ),
        (
            "---\non-detach d\non-shutdown d\n",
            "t.scn:3:1: error: callback name `d` is used twice (the first is at 2:1)",
        ),
        (
            "---\nclone g g2\n",
            "t.scn:2:1: error: guard `g` is not held: no earlier `enter g` or `clone ... g`",
        ),
        (
            "---\nenter g\nleave g\nleave g\n",
            "t.scn:4:1: error: guard `g` (taken at 2:1) is already released",
        ),
        (
            "jit f: enter\n---\ncall c1 f\nspawn c1 f\n",
            "t.scn:4:1: error: thread name `c1` is the call handle at 3:1: both would be `jit c1` in the transcript",
        ),
        (
            "jit f: enter\n---\nspawn t f\ncall t f\n",
            "t.scn:4:1: error: call handle `t` is the thread started at 3:1: both would be `jit t` in the transcript",
        ),
        (
            "fault at-step 0 detach\n---\n",
            "t.scn:1:15: error: expected a scheduler step number (1 = the first), at least 1, found 0",
        ),
        (
            "fault delay setup 0\n---\n",
            "t.scn:1:19: error: expected the delay in ticks, at least 1, found 0",
        ),
        (
            "---\nenter g\nclone g g\n",
            "t.scn:3:1: error: guard name `g` is used twice (the first is at 2:1)",
        ),
        // Repeats.
        (
            "---\nrepeat 2 {\ntick 1\n",
            "t.scn:2:1: error: this `repeat` has no closing `}` line",
        ),
        ("---\n}\n", "t.scn:2:1: error: `}` closes no `repeat ... {`"),
        (
            "repeat 2 {\n---\n}\n",
            "t.scn:2:1: error: `---` inside the `repeat` at line 1 (a repeat stays within the header or the script)",
        ),
        (
            "---\nrepeat 2\n",
            "t.scn:2:9: error: expected `{` (the body follows on the next lines, up to a line `}`), found end of line",
        ),
        (
            "---\nrepeat 0 {\n}\n",
            "t.scn:2:8: error: repeat count 0: choose 1 to 100000",
        ),
        (
            "---\nrepeat 2 {\ntick $j\n}\n",
            "t.scn:3:6: error: `$j` is not a repeat variable (here: `$i`; `$$` is a `$`)",
        ),
        (
            "---\nrepeat 2 {\nrepeat 2 {\n}\n}\n",
            "t.scn:3:1: error: the enclosing `repeat` at line 2 already uses `$i`: name this one's variable (`repeat 2 j {`)",
        ),
        (
            "jit f: enter\n---\nrepeat 2 {\ncall c f\n}\n",
            "t.scn:4:1: error: call handle `c` is used twice (the first is at 4:1) (inside the `repeat` at line 3: `$i` makes a name unique per iteration)",
        ),
        (
            "jit f: enter\n---\nrepeat 2 {\ncall c$i f\nrepeat 2 j {\nenter g$i\n}\n}\n",
            "t.scn:6:1: error: guard name `g1` is used twice (the first is at 6:1) (inside the `repeat` at line 5: `$j` makes a name unique per iteration)",
        ),
        (
            "---\nrepeat 3 {\ncall c$i f$i\n}\n",
            "t.scn:3:1: error: `f1` is not a declared JIT'd function (use `0x...` for a raw address)",
        ),
        (
            "---\nrepeat 8 {\nshutdown-threads ${i}0\n}\n",
            "t.scn:3:18: error: 70 threads: choose 1 to 64 (with $i=7 in the `repeat` at line 2)",
        ),
        (
            "---\nrepeat 1000 {\nrepeat 1000 j {\ntick 1\n}\n}\n",
            "t.scn:2:1: error: the scenario expands to more than 100000 lines",
        ),
        (
            "---\ncall c$i f\n",
            "t.scn:2:6: error: `c$i` is not a valid call handle: `$` stands for a repeat variable only inside a `repeat` (`$$` for a `$` there)",
        ),
    ];

    #[test]
    fn errors_point_at_the_mistake() {
        let mut failures = String::new();
        for (text, want) in ERRORS {
            let got = parse("t.scn", text).map_or_else(|e| e.to_string(), |_| "parses".into());
            if got != *want {
                failures.push_str(&format!("{text:?}\n got: {got}\nwant: {want}\n"));
            }
        }
        assert!(failures.is_empty(), "{failures}");
    }

    #[test]
    fn an_error_value_is_still_a_result() {
        let sc = parse(
            "t.scn",
            "# rule: x\njit f: return error \"x\"\nhandler h: reply error \"y\"\n---\ncall c1 f\nexpect c1 error \"x\"\n",
        )
        .unwrap();
        assert_eq!(sc.jits[0].ops[0], Op::Return(Value::Error("x".into())));
        assert_eq!(sc.handlers[0].reply, Reply::Value(Value::Error("y".into())));
        assert!(err("---\nexpect c1 ok error \"x\"\n").contains("an error result is"));
    }
}
