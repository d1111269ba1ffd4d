//! Every citation of the project's rules resolves to an anchor in `docs/`
//! (the citation forms are listed in `docs/README.md`).
//!
//! The test walks the repository (`*.rs`, `*.scn`, `*.md`, `*.sh`, `*.toml`
//! outside `target/` and `.git/`), extracts every citation, and requires each
//! to name an `<a id="...">` anchor of the right document: `spec ...` in
//! `docs/runtime.md`, `protocol ...` in `docs/protocol.md`, `# rule: fault:
//! ...` (scenario scripts) in `docs/faults.md`. A reference to one of the two
//! external documents the rules were first written from, by file name, always
//! fails: they are not in the repository. Failures are listed as
//! `file:line: citation: problem (rewrite: ...)`.
//!
//! Extraction is deliberately narrow, so that prose never trips it: a
//! citation is a keyword (`spec`, `protocol`, `obligation N of spec M`, a
//! file name) followed by a section number of at most two levels, or a `§`
//! with the document named next to it, or `N.M step K`. Version numbers
//! (`22.1.8`), `spec's`, `specification`, `protocol version` are not
//! citations. A citation may wrap onto the next comment line.
//!
//! Only std: no new dependencies.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// File kinds that may cite the rules.
const EXTENSIONS: &[&str] = &["rs", "scn", "md", "sh", "toml"];
/// Directories never walked.
const SKIP_DIRS: &[&str] = &["target", ".git"];
/// Files that quote citations on purpose: this test (its samples) and the
/// temporary inventory of citations to rewrite.
const SKIP_FILES: &[&str] = &["tests/doc_citations.rs"];

/// The external documents, by file name.
const OLD_RUNTIME_FILE: &str = "ORC_RUNTIME.md";
const OLD_PROTOCOL_FILE: &str = "SIMPLE_REMOTE_EPC.md";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Doc {
    Runtime,
    Protocol,
    Faults,
}

impl Doc {
    fn file(self) -> &'static str {
        match self {
            Doc::Runtime => "runtime.md",
            Doc::Protocol => "protocol.md",
            Doc::Faults => "faults.md",
        }
    }

    /// The canonical citation keyword and anchor prefix.
    fn keyword(self) -> &'static str {
        match self {
            Doc::Runtime => "spec",
            Doc::Protocol => "protocol",
            Doc::Faults => "fault",
        }
    }

    fn of_anchor(id: &str) -> Option<Doc> {
        [Doc::Runtime, Doc::Protocol, Doc::Faults]
            .into_iter()
            .find(|d| id.starts_with(&format!("{}-", d.keyword())))
    }
}

/// How a citation was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Form {
    /// `spec 8.7`, `spec 8.7 step 2`, `spec 6, 8.7`.
    Spec,
    /// `spec §11`, `spec section 7`.
    SpecSectionSign,
    /// `protocol 10`, `protocol 5.2`.
    Protocol,
    /// `protocol §5`.
    ProtocolSectionSign,
    /// `§5.3` with "protocol" or "spec" next to it.
    BareSectionSign,
    /// `obligation 4 of spec 7`.
    Obligation,
    /// `8.7 step 1` without a keyword.
    BareStep,
    /// The runtime document's old file name, with or without a section.
    OldRuntimeFile,
    /// The protocol document's old file name, with or without a section.
    OldProtocolFile,
    /// `# rule: fault: TEXT` in a scenario.
    Fault,
    /// A `# rule:` line that cites nothing.
    RuleWithoutCitation,
}

impl Form {
    fn describe(self) -> &'static str {
        match self {
            Form::Spec => "spec N[.M] [step K]",
            Form::SpecSectionSign => "spec §N / spec section N",
            Form::Protocol => "protocol N[.M]",
            Form::ProtocolSectionSign => "protocol §N",
            Form::BareSectionSign => "bare §N (document named nearby)",
            Form::Obligation => "obligation N of spec M",
            Form::BareStep => "bare N.M step K",
            Form::OldRuntimeFile => "old runtime file name",
            Form::OldProtocolFile => "old protocol file name",
            Form::Fault => "# rule: fault: TEXT",
            Form::RuleWithoutCitation => "# rule: without a citation",
        }
    }

    /// Forms that resolve but should be rewritten to the canonical ones.
    fn is_canonical(self) -> bool {
        matches!(
            self,
            Form::Spec | Form::Protocol | Form::Obligation | Form::Fault
        )
    }
}

/// One section reference: `8.7`, or `8.7` with steps.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ref {
    section: String,
    steps: Vec<String>,
}

impl Ref {
    fn anchors(&self, doc: Doc) -> Vec<String> {
        let base = format!("{}-{}", doc.keyword(), self.section);
        if self.steps.is_empty() {
            vec![base]
        } else {
            self.steps
                .iter()
                .map(|k| format!("{base}-step-{k}"))
                .collect()
        }
    }
}

/// A citation found in a file.
#[derive(Debug, Clone)]
struct Citation {
    path: String,
    line: usize,
    form: Form,
    /// The text as written (a wrapped citation joined with one space).
    text: String,
    /// The anchors it must resolve to, with their documents.
    anchors: Vec<(Doc, String)>,
    /// Why it cannot resolve whatever the docs say (an old file name, no
    /// document named, a rule line citing nothing).
    problem: Option<String>,
    /// The canonical form to write instead, if this one is not.
    rewrite: Option<String>,
}

/// A cursor over a line (plus the next one, joined), ASCII-case-insensitive.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek2(&self) -> Option<char> {
        self.rest().chars().nth(1)
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.i += c.len_utf8();
        }
    }

    /// Skips whitespace; returns how many characters were skipped.
    fn ws(&mut self) -> usize {
        let mut n = 0;
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
            n += 1;
        }
        n
    }

    fn eat(&mut self, lit: &str) -> bool {
        let rest = self.rest();
        if rest.len() >= lit.len()
            && rest.is_char_boundary(lit.len())
            && rest[..lit.len()].eq_ignore_ascii_case(lit)
        {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    /// `lit` as a whole word (not followed by a letter, digit or `_`).
    fn eat_word(&mut self, lit: &str) -> bool {
        let save = *self;
        if self.eat(lit) && !self.peek().is_some_and(is_word_char) {
            return true;
        }
        *self = save;
        false
    }

    /// Up to `max` ASCII digits (at least one); more digits fail.
    fn digits(&mut self, max: usize) -> Option<&'a str> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        let n = self.i - start;
        (1..=max).contains(&n).then(|| &self.s[start..self.i])
    }

    /// A section number `N` or `N.M` (one or two digits each) that is not
    /// part of something longer (`22.1.8`, `2^63`, `5th`, `0x10`).
    fn section(&mut self) -> Option<String> {
        let save = *self;
        let result = (|| {
            let major = self.digits(2)?;
            let mut out = major.to_owned();
            if self.peek() == Some('.') && self.peek2().is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
                out.push('.');
                out.push_str(self.digits(2)?);
            }
            match self.peek() {
                Some(c) if is_word_char(c) || c == '^' => None,
                Some('.') if self.peek2().is_some_and(|c| c.is_ascii_digit()) => None,
                _ => Some(out),
            }
        })();
        if result.is_none() {
            *self = save;
        }
        result
    }

    /// ` step K`, ` steps K–L`: the step numbers, or none (cursor unmoved).
    fn steps(&mut self) -> Vec<String> {
        let save = *self;
        let found = (|| {
            if self.ws() == 0 || !self.eat("step") {
                return None;
            }
            self.eat("s");
            if self.ws() == 0 {
                return None;
            }
            let first: u32 = self.digits(2)?.parse().ok()?;
            if self.peek().is_some_and(is_word_char) {
                return None;
            }
            let mut steps = vec![first];
            let before_range = *self;
            self.ws();
            if self.eat("–") || self.eat("-") {
                self.ws();
                match self.digits(2).and_then(|d| d.parse::<u32>().ok()) {
                    Some(last) if last > first && last - first <= 20 => {
                        steps.extend(first + 1..=last);
                    }
                    _ => *self = before_range,
                }
            } else {
                *self = before_range;
            }
            Some(steps.into_iter().map(|k| k.to_string()).collect())
        })();
        match found {
            Some(steps) => steps,
            None => {
                *self = save;
                Vec::new()
            }
        }
    }

    /// `§` or `section` before a number: true if one was there.
    fn section_sign(&mut self) -> bool {
        if self.eat("§") {
            self.ws();
            return true;
        }
        let save = *self;
        if self.eat_word("section") && self.ws() > 0 {
            return true;
        }
        *self = save;
        false
    }

    /// A list of references: `8.7`, `8.6 step 4, 8.7 step 3`, `7–9`,
    /// `7 and 8`, `6, 8.7`.
    fn refs(&mut self) -> Option<Vec<Ref>> {
        let first = self.section()?;
        let steps = self.steps();
        let mut refs = vec![Ref {
            section: first,
            steps,
        }];
        loop {
            let save = *self;
            // `, N`, ` and N`, or a range `–N` / `-N`.
            let range = if self.eat(",") {
                self.ws();
                false
            } else if self.ws() > 0 && self.eat_word("and") && self.ws() > 0 {
                false
            } else {
                *self = save;
                self.ws();
                if !(self.eat("–") || self.eat("-")) {
                    *self = save;
                    break;
                }
                self.ws();
                true
            };
            let Some(section) = self.section() else {
                *self = save;
                break;
            };
            let steps = self.steps();
            if range {
                let from = refs.last().expect("one ref").section.clone();
                refs.extend(expand_range(&from, &section).into_iter().map(|s| Ref {
                    section: s,
                    steps: Vec::new(),
                }));
            }
            refs.push(Ref { section, steps });
        }
        Some(refs)
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The sections strictly between `from` and `to`: `7`–`9` gives `8`;
/// `8.2`–`8.7` gives `8.3` to `8.6`. Anything else gives nothing.
fn expand_range(from: &str, to: &str) -> Vec<String> {
    let split = |s: &str| -> Option<(u32, Option<u32>)> {
        match s.split_once('.') {
            Some((a, b)) => Some((a.parse().ok()?, Some(b.parse().ok()?))),
            None => Some((s.parse().ok()?, None)),
        }
    };
    match (split(from), split(to)) {
        (Some((a, None)), Some((b, None))) if a < b && b - a <= 20 => {
            (a + 1..b).map(|n| n.to_string()).collect()
        }
        (Some((a, Some(x))), Some((b, Some(y)))) if a == b && x < y && y - x <= 20 => {
            (x + 1..y).map(|m| format!("{a}.{m}")).collect()
        }
        _ => Vec::new(),
    }
}

/// A comment line's text without its comment marker, and where it starts.
fn strip_comment(line: &str) -> (&str, usize) {
    let trimmed = line.trim_start();
    let mut offset = line.len() - trimmed.len();
    let mut rest = trimmed;
    for marker in ["//!", "///", "//", "#", "*", ">"] {
        if let Some(r) = rest.strip_prefix(marker) {
            offset += marker.len();
            rest = r;
            break;
        }
    }
    let text = rest.trim_start();
    offset += rest.len() - text.len();
    (text, offset)
}

/// The position of the last whole-word occurrence of `word` in `hay`.
fn rfind_word(hay: &str, word: &str) -> Option<usize> {
    let lower = hay.to_ascii_lowercase();
    let mut end = lower.len();
    while let Some(i) = lower[..end].rfind(word) {
        let before = lower[..i].chars().next_back();
        let after = lower[i + word.len()..].chars().next();
        if !before.is_some_and(is_word_char) && !after.is_some_and(|c| c.is_alphanumeric()) {
            return Some(i);
        }
        end = i;
    }
    None
}

/// Which document a bare `§` refers to: the nearest document name before
/// it, or "of the protocol" / "of the spec" right after it.
fn bare_section_doc(before: &str, after: &str) -> Option<Doc> {
    let tail: String = {
        let chars: Vec<char> = before.chars().collect();
        chars[chars.len().saturating_sub(80)..].iter().collect()
    };
    let runtime = ["spec", "orc_runtime"]
        .iter()
        .filter_map(|w| rfind_word(&tail, w))
        .max();
    let protocol = ["protocol", "simple_remote_epc"]
        .iter()
        .filter_map(|w| rfind_word(&tail, w))
        .max();
    match (runtime, protocol) {
        (Some(r), Some(p)) => return Some(if r > p { Doc::Runtime } else { Doc::Protocol }),
        (Some(_), None) => return Some(Doc::Runtime),
        (None, Some(_)) => return Some(Doc::Protocol),
        (None, None) => {}
    }
    let head: String = after
        .chars()
        .take(40)
        .collect::<String>()
        .to_ascii_lowercase();
    if head.contains("of the protocol") {
        Some(Doc::Protocol)
    } else if head.contains("of the spec") {
        Some(Doc::Runtime)
    } else {
        None
    }
}

/// A match at one position: its form, document, references, end.
struct Match {
    form: Form,
    doc: Doc,
    refs: Vec<Ref>,
    /// The references as written (`8.2–8.7`), for the rewrite.
    refs_text: String,
    /// For `obligation N of spec M`: the anchor itself.
    anchor: Option<String>,
    end: usize,
    problem: Option<String>,
}

/// Tries every citation form at byte `pos` of `joined`.
fn match_at(joined: &str, pos: usize, before_context: &str) -> Option<Match> {
    let mut before = joined[..pos].chars().rev();
    let prev = before.next();
    let inside_word = prev.is_some_and(is_word_char);
    // `1.8` at the tail of `22.1.8` is no section either.
    let after_number_dot = prev == Some('.') && before.next().is_some_and(|c| c.is_ascii_digit());
    let at_word_start = !inside_word && !after_number_dot;
    let mut c = Cursor { s: joined, i: pos };

    // The old file names, with whatever section follows.
    for (file, doc, form) in [
        (OLD_RUNTIME_FILE, Doc::Runtime, Form::OldRuntimeFile),
        (OLD_PROTOCOL_FILE, Doc::Protocol, Form::OldProtocolFile),
    ] {
        if c.rest().starts_with(file) {
            c.i += file.len();
            let after_name = c;
            c.eat("`");
            c.ws();
            c.section_sign();
            let refs_at = c.i;
            let refs = match c.refs() {
                Some(r) => r,
                None => {
                    c = after_name;
                    Vec::new()
                }
            };
            return Some(Match {
                form,
                doc,
                refs,
                refs_text: joined[refs_at.min(c.i)..c.i].to_owned(),
                anchor: None,
                end: c.i,
                problem: Some(format!("names {file}, which is not in the repository")),
            });
        }
    }
    if !at_word_start {
        return None;
    }

    // obligation N of spec M
    if c.eat_word("obligation") && c.ws() > 0 {
        let n = c.digits(2).map(str::to_owned);
        if let Some(n) = n
            && c.ws() > 0
            && c.eat_word("of")
            && c.ws() > 0
            && c.eat_word("spec")
            && c.ws() > 0
            && let Some(m) = c.section()
        {
            return Some(Match {
                form: Form::Obligation,
                doc: Doc::Runtime,
                refs: Vec::new(),
                refs_text: String::new(),
                anchor: Some(format!("spec-{m}-obligation-{n}")),
                end: c.i,
                problem: None,
            });
        }
        return None;
    }

    // spec ..., protocol ...
    for (word, doc, plain, sign) in [
        ("spec", Doc::Runtime, Form::Spec, Form::SpecSectionSign),
        (
            "protocol",
            Doc::Protocol,
            Form::Protocol,
            Form::ProtocolSectionSign,
        ),
    ] {
        let mut k = Cursor { s: joined, i: pos };
        if !k.eat(word) {
            continue;
        }
        let spaced = k.ws() > 0;
        let signed = k.section_sign();
        if !spaced && !signed {
            return None;
        }
        let refs_at = k.i;
        let refs = k.refs()?;
        return Some(Match {
            form: if signed { sign } else { plain },
            doc,
            refs,
            refs_text: joined[refs_at..k.i].to_owned(),
            anchor: None,
            end: k.i,
            problem: None,
        });
    }

    // A bare `§N`: the document must be named next to it.
    if c.eat("§") {
        c.ws();
        let refs_at = c.i;
        let refs = c.refs()?;
        let before = format!("{before_context}{}", &joined[..pos]);
        let doc = bare_section_doc(&before, &joined[c.i..]);
        return Some(Match {
            form: Form::BareSectionSign,
            doc: doc.unwrap_or(Doc::Runtime),
            refs,
            refs_text: joined[refs_at..c.i].to_owned(),
            anchor: None,
            end: c.i,
            problem: doc
                .is_none()
                .then(|| "a bare § with no document named next to it".to_owned()),
        });
    }

    // A bare `N.M step K`.
    let mut k = Cursor { s: joined, i: pos };
    if let Some(section) = k.section() {
        let mut probe = k;
        if section.contains('.') && !probe.steps().is_empty() {
            let mut k = Cursor { s: joined, i: pos };
            let refs = k.refs()?;
            return Some(Match {
                form: Form::BareStep,
                doc: Doc::Runtime,
                refs,
                refs_text: joined[pos..k.i].to_owned(),
                anchor: None,
                end: k.i,
                problem: None,
            });
        }
    }
    None
}

/// The anchor slug of a fault's text: lower case, apostrophes deleted,
/// every other run of non-alphanumerics one `-`.
fn fault_slug(text: &str) -> String {
    let mut slug = String::new();
    let mut dash = false;
    for ch in text.chars().filter(|c| !matches!(c, '\'' | '’')) {
        if ch.is_alphanumeric() {
            if dash && !slug.is_empty() {
                slug.push('-');
            }
            dash = false;
            slug.extend(ch.to_lowercase());
        } else {
            dash = true;
        }
    }
    slug
}

/// A fault's text without a trailing parenthetical note.
fn fault_text(text: &str) -> &str {
    let t = text.trim();
    if !t.ends_with(')') {
        return t;
    }
    let mut depth = 0usize;
    for (i, ch) in t.char_indices().rev() {
        match ch {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    return t[..i].trim_end();
                }
            }
            _ => {}
        }
    }
    t
}

/// Every citation in one file's text.
fn extract(path: &str, text: &str) -> Vec<Citation> {
    let is_scenario = path.ends_with(".scn");
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    // Bytes at the start of the current line already consumed by a
    // citation that began on the previous line.
    let mut consumed_until = 0usize;
    for (idx, line) in lines.iter().enumerate() {
        let lineno = idx + 1;
        let (next, next_off) = lines.get(idx + 1).map_or(("", 0), |l| strip_comment(l));
        let joined = format!("{line} {next}");
        let split = line.len();
        let before_context = match idx.checked_sub(1) {
            Some(p) => format!("{} ", strip_comment(lines[p]).0),
            None => String::new(),
        };
        let mut carry = 0usize;
        let mut starts = Vec::new();
        let mut pos = consumed_until;
        while pos < split {
            if !joined.is_char_boundary(pos) {
                pos += 1;
                continue;
            }
            let Some(m) = match_at(&joined, pos, &before_context) else {
                pos += joined[pos..].chars().next().map_or(1, char::len_utf8);
                continue;
            };
            let text = joined[pos..m.end].trim_end().to_owned();
            let mut anchors: Vec<(Doc, String)> = match &m.anchor {
                Some(a) => vec![(m.doc, a.clone())],
                None => m
                    .refs
                    .iter()
                    .flat_map(|r| r.anchors(m.doc))
                    .map(|a| (m.doc, a))
                    .collect(),
            };
            anchors.dedup();
            let rewrite = match m.form {
                _ if m.form.is_canonical() => None,
                Form::BareSectionSign if m.problem.is_some() => {
                    Some(format!("spec {0} or protocol {0}", m.refs_text.trim()))
                }
                Form::OldRuntimeFile | Form::OldProtocolFile if m.refs.is_empty() => {
                    Some(format!("docs/{}", m.doc.file()))
                }
                _ => Some(format!("{} {}", m.doc.keyword(), m.refs_text.trim())),
            };
            starts.push(pos);
            out.push(Citation {
                path: path.to_owned(),
                line: lineno,
                form: m.form,
                text,
                anchors,
                problem: m.problem,
                rewrite,
            });
            if m.end > split + 1 {
                carry = next_off + (m.end - split - 1);
            }
            pos = m.end.max(pos + 1);
        }
        consumed_until = carry;

        // Scenario rule lines: `# rule: spec ...`, `protocol ...` or `fault: ...`.
        if is_scenario {
            let trimmed = line.trim_start();
            if let Some(rest) = trimmed.strip_prefix("# rule:") {
                let body = rest.trim_start();
                let body_at = line.len() - body.len();
                if body.starts_with("example:") {
                    // A downstream crate's own rule (the harness examples):
                    // its documents are not this repository's.
                } else if let Some(fault) = body.strip_prefix("fault:") {
                    let text = fault_text(fault);
                    out.push(Citation {
                        path: path.to_owned(),
                        line: lineno,
                        form: Form::Fault,
                        text: format!("fault: {text}"),
                        anchors: vec![(Doc::Faults, format!("fault-{}", fault_slug(text)))],
                        problem: None,
                        rewrite: None,
                    });
                } else if !starts.contains(&body_at) {
                    out.push(Citation {
                        path: path.to_owned(),
                        line: lineno,
                        form: Form::RuleWithoutCitation,
                        text: format!("# rule: {body}"),
                        anchors: Vec::new(),
                        problem: Some(
                            "a rule line must start with `spec N`, `protocol N`, `fault: TEXT` or (a downstream crate's own rule) `example: TEXT`"
                                .to_owned(),
                        ),
                        rewrite: None,
                    });
                }
            }
        }
    }
    out
}

/// The anchors of each document: `<a id="...">`.
type Anchors = BTreeMap<Doc, BTreeSet<String>>;

/// Parses the anchors of one document; duplicates are returned apart.
fn parse_anchors(text: &str) -> (BTreeSet<String>, Vec<String>) {
    let mut ids = BTreeSet::new();
    let mut dups = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("<a id=\"") {
        rest = &rest[i + "<a id=\"".len()..];
        let Some(end) = rest.find('"') else { break };
        let id = rest[..end].to_owned();
        if !ids.insert(id.clone()) {
            dups.push(id);
        }
        rest = &rest[end..];
    }
    (ids, dups)
}

/// Why a citation does not resolve, or `None`.
fn unresolved(c: &Citation, anchors: &Anchors) -> Option<String> {
    if let Some(p) = &c.problem {
        return Some(p.clone());
    }
    if c.anchors.is_empty() {
        return Some("names no section".to_owned());
    }
    let missing: Vec<String> = c
        .anchors
        .iter()
        .filter(|(doc, id)| {
            Doc::of_anchor(id) != Some(*doc) || !anchors.get(doc).is_some_and(|s| s.contains(id))
        })
        .map(|(doc, id)| format!("docs/{}#{id}", doc.file()))
        .collect();
    (!missing.is_empty()).then(|| format!("no anchor {}", missing.join(", ")))
}

fn describe(c: &Citation, problem: &str) -> String {
    let mut s = format!("{}:{}: `{}`: {problem}", c.path, c.line, c.text);
    if let Some(r) = &c.rewrite {
        let _ = write!(s, " (rewrite: `{r}`)");
    }
    s
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        // `file_type` does not follow symlinks: no loops.
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            if !SKIP_DIRS.contains(&name.as_str()) {
                walk(&path, root, out);
            }
        } else if ft.is_file()
            && path
                .extension()
                .is_some_and(|x| EXTENSIONS.contains(&x.to_string_lossy().as_ref()))
        {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            if !SKIP_FILES.contains(&rel.as_str()) {
                out.push((rel, path));
            }
        }
    }
}

fn repo_anchors(root: &Path) -> Anchors {
    let mut anchors = Anchors::new();
    for doc in [Doc::Runtime, Doc::Protocol, Doc::Faults] {
        let path = root.join("docs").join(doc.file());
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (ids, dups) = parse_anchors(&text);
        assert!(
            dups.is_empty(),
            "docs/{}: duplicate anchors {dups:?}",
            doc.file()
        );
        anchors.insert(doc, ids);
    }
    anchors
}

fn repo_citations(root: &Path) -> Vec<Citation> {
    let mut files = Vec::new();
    walk(root, root, &mut files);
    assert!(files.len() > 50, "walked only {} files", files.len());
    files
        .iter()
        .flat_map(|(rel, path)| {
            let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{rel}: {e}"));
            extract(rel, &String::from_utf8_lossy(&bytes))
        })
        .collect()
}

#[test]
fn every_citation_resolves_to_an_anchor_in_docs() {
    let root = repo_root();
    let anchors = repo_anchors(&root);
    let citations = repo_citations(&root);

    let mut by_form: BTreeMap<Form, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut style = Vec::new();
    for c in &citations {
        let entry = by_form.entry(c.form).or_default();
        entry.0 += 1;
        match unresolved(c, &anchors) {
            Some(problem) => {
                entry.1 += 1;
                failures.push(describe(c, &problem));
            }
            None if c.rewrite.is_some() => {
                style.push(describe(c, "resolves; prefer the canonical form"))
            }
            None => {}
        }
    }
    println!("citations by form (found / unresolved):");
    for (form, (found, bad)) in &by_form {
        println!("  {:<36} {found:>4} / {bad}", form.describe());
    }
    println!(
        "{} citations, {} unresolved",
        citations.len(),
        failures.len()
    );
    // `DOC_CITATIONS_LIST=1`: every citation found, for audits of the extraction.
    if std::env::var_os("DOC_CITATIONS_LIST").is_some() {
        for c in &citations {
            println!("cite: {}:{}: {:?} `{}`", c.path, c.line, c.form, c.text);
        }
    }
    for s in &style {
        println!("note: {s}");
    }
    assert!(
        failures.is_empty(),
        "{} citation(s) do not resolve (docs/README.md lists the forms):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The docs keep the section numbering the code was written against.
#[test]
fn the_docs_keep_their_section_numbering() {
    let anchors = repo_anchors(&repo_root());
    let runtime = &anchors[&Doc::Runtime];
    let mut expected: Vec<String> = (0..=17).map(|n| format!("spec-{n}")).collect();
    expected.extend((1..=9).map(|m| format!("spec-8.{m}")));
    expected.extend((1..=7).map(|m| format!("spec-7.{m}")));
    expected.extend((1..=7).map(|m| format!("spec-7-obligation-{m}")));
    expected.extend((1..=6).map(|k| format!("spec-8.6-step-{k}")));
    expected.extend((1..=5).map(|k| format!("spec-8.7-step-{k}")));
    for id in &expected {
        assert!(runtime.contains(id), "docs/runtime.md lacks #{id}");
    }
    let protocol = &anchors[&Doc::Protocol];
    let mut expected: Vec<String> = (1..=13).map(|n| format!("protocol-{n}")).collect();
    expected.extend((1..=7).map(|m| format!("protocol-5.{m}")));
    for id in &expected {
        assert!(protocol.contains(id), "docs/protocol.md lacks #{id}");
    }
    for (doc, ids) in &anchors {
        for id in ids {
            assert_eq!(
                Doc::of_anchor(id),
                Some(*doc),
                "docs/{}: anchor {id}",
                doc.file()
            );
        }
    }
}

mod extraction {
    use super::*;

    fn anchors_of(ids: &[&str]) -> Anchors {
        let mut a = Anchors::new();
        for id in ids {
            let doc = Doc::of_anchor(id).expect("a known prefix");
            a.entry(doc).or_default().insert((*id).to_owned());
        }
        a
    }

    /// (line, text, anchors) of every citation in `text`.
    fn found(path: &str, text: &str) -> Vec<(usize, String, Vec<String>)> {
        extract(path, text)
            .into_iter()
            .map(|c| {
                (
                    c.line,
                    c.text,
                    c.anchors.into_iter().map(|(_, a)| a).collect(),
                )
            })
            .collect()
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_bad_citation_makes_the_check_fail() {
        let sample = "// keeps spec 8.7 step 2 and spec 99.1\n\
                      // as ORC_RUNTIME.md section 7 says\n";
        let anchors = anchors_of(&["spec-8.7-step-2", "spec-7"]);
        let citations = extract("src/x.rs", sample);
        let failures: Vec<String> = citations
            .iter()
            .filter_map(|c| unresolved(c, &anchors).map(|p| describe(c, &p)))
            .collect();
        assert_eq!(
            failures,
            [
                "src/x.rs:1: `spec 99.1`: no anchor docs/runtime.md#spec-99.1",
                "src/x.rs:2: `ORC_RUNTIME.md section 7`: names ORC_RUNTIME.md, which is not in \
                 the repository (rewrite: `spec 7`)",
            ]
        );
    }

    #[test]
    fn every_form_is_extracted_with_its_anchors() {
        let sample = "\
//! Allocation actions (spec §11): and (spec section 7)
//! wrappers (LLVM 22 signatures, protocol
//! §5.3). Also §5.2 of
//! the protocol description; protocol 10 ends; Protocol §5: names.
// breaks obligation 4 of spec 7, (spec 6, 8.7), spec 8.6 step 2
//! (ORC_RUNTIME.md 8.6 step 4,
//! 8.7 step 3) and `SIMPLE_REMOTE_EPC.md` §10
/// 8.7 steps 2–3: on the thread; ORC_RUNTIME.md 7–9 and 5 and 8.2–8.4
";
        assert_eq!(
            found("src/x.rs", sample),
            [
                (1, "spec §11".into(), strs(&["spec-11"])),
                (1, "spec section 7".into(), strs(&["spec-7"])),
                (2, "protocol §5.3".into(), strs(&["protocol-5.3"])),
                (3, "§5.2".into(), strs(&["protocol-5.2"])),
                (4, "protocol 10".into(), strs(&["protocol-10"])),
                (4, "Protocol §5".into(), strs(&["protocol-5"])),
                (
                    5,
                    "obligation 4 of spec 7".into(),
                    strs(&["spec-7-obligation-4"])
                ),
                (5, "spec 6, 8.7".into(), strs(&["spec-6", "spec-8.7"])),
                (5, "spec 8.6 step 2".into(), strs(&["spec-8.6-step-2"])),
                (
                    6,
                    "ORC_RUNTIME.md 8.6 step 4, 8.7 step 3".into(),
                    strs(&["spec-8.6-step-4", "spec-8.7-step-3"])
                ),
                (
                    7,
                    "SIMPLE_REMOTE_EPC.md` §10".into(),
                    strs(&["protocol-10"])
                ),
                (
                    8,
                    "8.7 steps 2–3".into(),
                    strs(&["spec-8.7-step-2", "spec-8.7-step-3"])
                ),
                (
                    8,
                    "ORC_RUNTIME.md 7–9 and 5 and 8.2–8.4".into(),
                    strs(&[
                        "spec-7", "spec-8", "spec-9", "spec-5", "spec-8.2", "spec-8.3", "spec-8.4"
                    ])
                ),
            ]
        );
    }

    #[test]
    fn prose_and_version_numbers_are_not_citations() {
        let sample = "\
LLVM 22.1.8 and protocol version 2; the spec's rules (section 7 of a manual).
A specification 3, respec 4, spec 2^63, spec 5th, spec 0x10, spec 123.
A 2^63 claim, 1.2 of a step, `spec-8.7-step-2` is an anchor, not a citation.
";
        assert_eq!(found("README.md", sample), []);
    }

    #[test]
    fn a_bare_section_sign_needs_a_document_nearby() {
        let citations = extract("a.md", "See §4 for the details.\n");
        assert_eq!(citations.len(), 1);
        assert_eq!(
            unresolved(&citations[0], &anchors_of(&["spec-4"])).as_deref(),
            Some("a bare § with no document named next to it")
        );
    }

    #[test]
    fn scenario_rule_lines_must_cite_something() {
        let sample = "\
# rule: fault: JIT'd code holds the scope across shutdown
# rule: fault: memory reservation fails (over the wire as well as in process)
# rule: spec 8.7 step 1 calls are dropped
# rule: protocol 10 end of stream
# rule: the session is nice
# a comment naming spec 5
";
        let citations = extract("scenarios/x.scn", sample);
        let summary: Vec<(usize, Form, Vec<String>)> = citations
            .iter()
            .map(|c| {
                (
                    c.line,
                    c.form,
                    c.anchors.iter().map(|(_, a)| a.clone()).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    1,
                    Form::Fault,
                    strs(&["fault-jitd-code-holds-the-scope-across-shutdown"])
                ),
                (2, Form::Fault, strs(&["fault-memory-reservation-fails"])),
                (3, Form::Spec, strs(&["spec-8.7-step-1"])),
                (4, Form::Protocol, strs(&["protocol-10"])),
                (5, Form::RuleWithoutCitation, Vec::new()),
                (6, Form::Spec, strs(&["spec-5"])),
            ]
        );
        // The same lines in a Rust file are not rule lines.
        assert!(
            extract("x.rs", "# rule: the session is nice\n").is_empty(),
            "rule lines are checked in scenarios only"
        );
    }

    #[test]
    fn fault_slugs_follow_the_convention_of_faults_md() {
        for (text, slug) in [
            ("delay a message", "delay-a-message"),
            (
                "JIT'd code holds the scope across shutdown",
                "jitd-code-holds-the-scope-across-shutdown",
            ),
            ("  transport closed mid-call ", "transport-closed-mid-call"),
            (
                "a shutdown while JIT'd code waits for the controller",
                "a-shutdown-while-jitd-code-waits-for-the-controller",
            ),
        ] {
            assert_eq!(fault_slug(fault_text(text)), slug);
        }
        assert_eq!(
            fault_text("transport closed mid-session (over the wire)"),
            "transport closed mid-session"
        );
    }

    #[test]
    fn anchors_are_parsed_and_duplicates_reported() {
        let (ids, dups) = parse_anchors(
            "<a id=\"spec-1\"></a>\n## 1\n<a id=\"spec-7.1\"></a><a id=\"spec-7-obligation-1\"></a>\n<a id=\"spec-1\"></a>",
        );
        assert_eq!(
            ids.into_iter().collect::<Vec<_>>(),
            ["spec-1", "spec-7-obligation-1", "spec-7.1"]
        );
        assert_eq!(dups, ["spec-1"]);
    }
}
