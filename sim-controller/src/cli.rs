//! The `orc-sim` command line, parsed by hand: part of the binary only, so
//! that the library (`orc_sim`) does not pull in an argument parser.
//!
//! Options take their value as the next argument or after `=`
//! (`--seed 7`, `--seed=7`; `-j 4`, `-j4`); `--` ends the options. An
//! error names the flag and the command's `--help`.

use std::path::PathBuf;
use std::time::Duration;

use orc_sim::runner::ReplayOptions;
use orc_sim::shrink::ShrinkOptions;

/// What the command line asks for.
#[derive(Debug)]
pub(crate) enum Command {
    /// Print this text and exit successfully (`--help`, `help`).
    Help(&'static str),
    /// Print the version.
    Version,
    /// `orc-sim replay`.
    Replay(ReplayArgs),
    /// `orc-sim report`: a replay, and its HTML page written to the path.
    Report(ReplayArgs, PathBuf),
    /// `orc-sim differential`.
    Differential(DifferentialArgs),
    /// `orc-sim shrink`.
    Shrink(ShrinkArgs),
}

/// `orc-sim shrink`'s arguments.
#[derive(Debug)]
pub(crate) struct ShrinkArgs {
    /// The failing scenario.
    pub(crate) path: PathBuf,
    /// The seed it fails under (default: its own).
    pub(crate) seed: Option<u64>,
    /// Where to write the result (default `NAME.shrunk.scn` beside it).
    pub(crate) out: Option<PathBuf>,
    /// The shrinker's limits and choices.
    pub(crate) opts: ShrinkOptions,
}

/// `orc-sim replay`'s (and `report`'s) arguments.
#[derive(Debug)]
pub(crate) struct ReplayArgs {
    /// Everything but the journal's default.
    pub(crate) opts: ReplayOptions,
    /// `--list`: print the runs, do not run them.
    pub(crate) list: bool,
    /// `--journal FILE` (`Some`), `--no-journal` (`Some(None)`), neither
    /// (`None`: the default, which depends on the current directory).
    pub(crate) journal: Option<Option<PathBuf>>,
}

impl ReplayArgs {
    /// The options, with the journal's default filled in:
    /// `target/orc-sim/journal.txt` if `target/` is a directory here.
    pub(crate) fn resolve(mut self) -> (ReplayOptions, bool) {
        self.opts.journal = match self.journal {
            Some(choice) => choice,
            None => std::path::Path::new("target")
                .is_dir()
                .then(|| PathBuf::from("target/orc-sim/journal.txt")),
        };
        (self.opts, self.list)
    }
}

/// `orc-sim differential`'s arguments.
#[derive(Debug)]
pub(crate) struct DifferentialArgs {
    pub(crate) paths: Vec<PathBuf>,
    pub(crate) executors: Vec<PathBuf>,
    pub(crate) filter: Option<String>,
    pub(crate) print: bool,
    pub(crate) timeout: Duration,
}

pub(crate) const HELP: &str = "\
orc-sim: a simulated ORC controller: deterministic scenario replay with fault injection

Usage: orc-sim <COMMAND> [ARGS...]

Commands:
  replay        replay scenario scripts against the real orc-rt session
  report        a replay, written as one self-contained HTML page
  differential  play protocol-level scenarios against executor processes
                and compare their transcripts (differential testing)
  shrink        turn a failing run into the smallest scenario that fails
                the same way
  help [CMD]    print this help or a command's

Options:
  -h, --help     print help (`orc-sim COMMAND --help` for a command's)
  -V, --version  print the version

The scenario format and the commands: scenarios/README.md.
";

pub(crate) const REPLAY_HELP: &str = "\
Replay scenario scripts against the real orc-rt session, each under one or
many seeds, in parallel: a summary table, the probes reached, and for every
failing run its seed and the command that reproduces it.

Usage: orc-sim replay [PATHS...] [OPTIONS]

Arguments:
  [PATHS...]               scenario files or directories (every *.scn
                           inside); default: scenarios/

Seeds:
      --seed N             the seed (with --seeds or --for: the first);
                           default: each scenario's own `seed`
      --seeds K            run each scenario under K seeds: N, N+1, ...
                           (N: --seed, default 0)
      --for DURATION       explore: run fresh seeds (every scenario under N,
                           then N+1, ...) until DURATION is up (30s, 10m,
                           1h30m); N is --seed, or a random seed it prints;
                           with --seeds K, at most K seeds
      --swarm              swarm testing: each seed also picks which
                           transport faults strike and how often (its plan is
                           printed with each failure and with --print)
      --choices HEX        the scheduler's first decisions in every run, one
                           byte each, then the seed's (what the
                           `interleavings` fuzz target varies; its findings
                           print this flag)
      --shard I/N          run shard I (from 0) of N: run k of the whole
                           command goes to shard k mod N, so N jobs make each
                           run once (with --for, give --seed)
      --list               print the runs (file and seed) and stop

Selection and output:
      --filter TEXT        only scenarios whose file name contains TEXT
  -j, --jobs N             runs in parallel (default: available CPUs)
      --print              print each run's transcript
      --verify-determinism run each seed twice in parallel and once more
                           alone on a fresh thread; fail if the transcripts
                           differ (names the seed and the first line)
      --mermaid FILE       write a Mermaid sequence diagram of each run
                           ({name} and {seed} expand)
      --trace-json FILE    write a Chrome/Perfetto trace JSON of each run
                           ({name} and {seed} expand)
      --hang-timeout SECS  real seconds a simulated thread may run without
                           yielding before the run counts as hung (default 10)
      --journal FILE       write each run's reproduce line here before it
                           starts, so a replay that hangs or is killed says
                           which run it was in (default:
                           target/orc-sim/journal.txt if ./target exists)
      --no-journal         no journal
  -q, --quiet              no progress output
  -h, --help               print this help

A probe (`reach \"PATTERN\"` in a scenario) that none of its seeds reached
fails the replay.

Exit status: 0 if every run passed and every probe was reached, 1 if not,
2 on a usage error.
";

pub(crate) const REPORT_HELP: &str = "\
Run a replay and write one self-contained HTML page of it: per scenario the
seeds run, the probes reached, and each failing run with its reproduce line,
its Mermaid sequence diagram and its Perfetto trace (download, or open in
the Perfetto UI). Also prints what `orc-sim replay` prints.

Usage: orc-sim report [PATHS...] --out FILE.html [REPLAY OPTIONS]

Options:
      --out FILE.html  where to write the page (required)
  -h, --help           print this help

Every option of `orc-sim replay` (see `orc-sim replay --help`) except
--list.

Exit status: as `orc-sim replay` (the page is written either way), 2 on a
usage error or if the page cannot be written.
";

pub(crate) const DIFFERENTIAL_HELP: &str = "\
Play protocol-level scenarios (marked `wire` in their header) over LLVM 22's
wire protocol against executor processes, and compare their transcripts.

Usage: orc-sim differential [PATHS...] --executor PATH [--executor PATH] [OPTIONS]

Arguments:
  [PATHS...]           scenario files or directories (default: scenarios/);
                       scenarios that need the in-process session are skipped

Options:
      --executor PATH  an executor binary (`orc-executor`,
                       `llvm-jitlink-executor`); give two to compare them
      --filter TEXT    only scenarios whose file name contains TEXT
      --print          print each transcript
      --timeout SECS   seconds to wait for any one message (default 20)
  -h, --help           print this help

Exit status: 0 if every scenario passed (and the transcripts agree), 1 if
not, 2 on a usage error.
";

pub(crate) const SHRINK_HELP: &str = "\
Turn a failing run into the smallest scenario that still fails the same way
(the same broken invariant or expectation, and nothing new): steps,
expectations, faults, managers, JIT'd functions, handlers and header
settings are removed or simplified, waits shortened, smaller seeds tried.
The result is written with its seed in the header, so `orc-sim replay OUT`
reproduces the failure on its own.

Usage: orc-sim shrink FILE [OPTIONS]

Arguments:
  FILE                 the failing scenario

Options:
      --seed N         the seed it fails under (default: its own `seed`)
      --out OUT        where to write the result (default: NAME.shrunk.scn
                       next to FILE; under scenarios/ it would be replayed
                       by the tests, so move it or choose OUT)
      --target TEXT    keep the failure whose message contains TEXT
                       (default: the first broken invariant, else the first
                       failed expectation)
      --max-runs N     give up after N runs (default 2000)
      --hang-timeout SECS
                       real seconds before a run counts as hung (default 5)
  -h, --help           print this help

Exit status: 0 if it wrote a scenario that fails the same way, 1 if the run
does not fail (or the result does not replay), 2 on a usage error.
";

/// A usage error: the message, and the help to point at.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UsageError {
    pub(crate) message: String,
    /// `orc-sim` or `orc-sim replay`, ...: where `--help` explains.
    pub(crate) command: &'static str,
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}\n(see `{} --help`)",
            self.command, self.message, self.command
        )
    }
}

/// One argument, classified.
enum Arg {
    /// `--name`, `--name=value`, `-x`, `-xvalue`.
    Flag(String, Option<String>),
    /// Anything else, or everything after `--`.
    Plain(String),
}

/// The arguments of one command, consumed front to back.
struct Args {
    items: std::vec::IntoIter<String>,
    command: &'static str,
    options_done: bool,
}

impl Args {
    fn new(items: Vec<String>, command: &'static str) -> Args {
        Args {
            items: items.into_iter(),
            command,
            options_done: false,
        }
    }

    fn err(&self, message: impl Into<String>) -> UsageError {
        UsageError {
            message: message.into(),
            command: self.command,
        }
    }

    fn next(&mut self) -> Option<Arg> {
        let a = self.items.next()?;
        if self.options_done || a == "-" || !a.starts_with('-') {
            return Some(Arg::Plain(a));
        }
        if a == "--" {
            self.options_done = true;
            return self.next();
        }
        if let Some(long) = a.strip_prefix("--") {
            return Some(match long.split_once('=') {
                Some((name, value)) => Arg::Flag(format!("--{name}"), Some(value.to_owned())),
                None => Arg::Flag(a.clone(), None),
            });
        }
        // `-j4`: a short flag and its value in one argument.
        let mut chars = a.chars();
        chars.next();
        let short = chars.next().map(|c| format!("-{c}")).unwrap_or_default();
        let rest: String = chars.collect();
        Some(Arg::Flag(short, (!rest.is_empty()).then_some(rest)))
    }

    /// The value of `flag`: given after `=` or as the next argument.
    fn value(
        &mut self,
        flag: &str,
        inline: Option<String>,
        meta: &str,
    ) -> Result<String, UsageError> {
        match inline {
            Some(v) => Ok(v),
            None => self
                .items
                .next()
                .ok_or_else(|| self.err(format!("`{flag}` needs a value ({meta})"))),
        }
    }

    fn number<T: std::str::FromStr>(
        &mut self,
        flag: &str,
        inline: Option<String>,
        meta: &str,
    ) -> Result<T, UsageError> {
        let v = self.value(flag, inline, meta)?;
        v.parse()
            .map_err(|_| self.err(format!("`{flag}`: `{v}` is not a number ({meta})")))
    }

    /// A flag that takes no value was given one (`--print=yes`).
    fn no_value(&self, flag: &str, inline: &Option<String>) -> Result<(), UsageError> {
        match inline {
            Some(v) => Err(self.err(format!("`{flag}` takes no value (given `{v}`)"))),
            None => Ok(()),
        }
    }

    fn unknown(&self, flag: &str) -> UsageError {
        self.err(format!("unknown option `{flag}`"))
    }
}

/// Parses the arguments after the program name.
pub(crate) fn parse(args: Vec<String>) -> Result<Command, UsageError> {
    let mut it = args.into_iter();
    let top = |message: String| UsageError {
        message,
        command: "orc-sim",
    };
    let Some(first) = it.next() else {
        return Err(top(
            "a command is missing (replay, report, differential, shrink)".into(),
        ));
    };
    let rest: Vec<String> = it.collect();
    match first.as_str() {
        "-h" | "--help" => Ok(Command::Help(HELP)),
        "-V" | "--version" => Ok(Command::Version),
        "help" => match rest.first().map(String::as_str) {
            None => Ok(Command::Help(HELP)),
            Some("replay") => Ok(Command::Help(REPLAY_HELP)),
            Some("report") => Ok(Command::Help(REPORT_HELP)),
            Some("differential") => Ok(Command::Help(DIFFERENTIAL_HELP)),
            Some("shrink") => Ok(Command::Help(SHRINK_HELP)),
            Some(other) => Err(top(format!(
                "no command `{other}` (replay, report, differential, shrink)"
            ))),
        },
        "replay" => parse_replay(Args::new(rest, "orc-sim replay"), false),
        "report" => parse_replay(Args::new(rest, "orc-sim report"), true),
        "differential" => parse_differential(Args::new(rest, "orc-sim differential")),
        "shrink" => parse_shrink(Args::new(rest, "orc-sim shrink")),
        "wire" => Err(top(
            "`orc-sim wire` is now `orc-sim differential` (\"wire\" names the protocol only)"
                .into(),
        )),
        other if other.starts_with('-') => Err(top(format!(
            "unknown option `{other}` (a command comes first: replay, report, differential)"
        ))),
        other => Err(top(format!(
            "no command `{other}` (replay, report, differential, shrink)"
        ))),
    }
}

/// `orc-sim replay`'s arguments, or with `report`, `orc-sim report`'s.
fn parse_replay(mut args: Args, report: bool) -> Result<Command, UsageError> {
    let mut opts = ReplayOptions::default();
    let mut paths = Vec::new();
    let mut hang_timeout = 10;
    let mut list = false;
    let mut journal = None;
    let mut out = None;
    while let Some(a) = args.next() {
        let (flag, inline) = match a {
            Arg::Plain(p) => {
                paths.push(PathBuf::from(p));
                continue;
            }
            Arg::Flag(f, v) => (f, v),
        };
        let switch = |on: &mut bool| -> Result<(), UsageError> {
            args.no_value(&flag, &inline)?;
            *on = true;
            Ok(())
        };
        match flag.as_str() {
            "-h" | "--help" if report => return Ok(Command::Help(REPORT_HELP)),
            "-h" | "--help" => return Ok(Command::Help(REPLAY_HELP)),
            "--print" => switch(&mut opts.print)?,
            "--verify-determinism" => switch(&mut opts.verify_determinism)?,
            "-q" | "--quiet" => switch(&mut opts.quiet)?,
            "--swarm" => switch(&mut opts.swarm)?,
            "--list" if !report => switch(&mut list)?,
            "--no-journal" => {
                let mut off = false;
                switch(&mut off)?;
                journal = Some(None);
            }
            "--seed" => opts.seed = Some(args.number(&flag, inline, "N")?),
            "--seeds" => opts.seeds = Some(args.number(&flag, inline, "K")?),
            "--filter" => opts.filter = Some(args.value(&flag, inline, "TEXT")?),
            "-j" | "--jobs" => {
                let n: usize = args.number(&flag, inline, "N")?;
                if n == 0 {
                    return Err(args.err(format!("`{flag}`: at least one job")));
                }
                opts.jobs = n;
            }
            "--mermaid" => opts.mermaid = Some(args.value(&flag, inline, "FILE")?),
            "--trace-json" => opts.trace_json = Some(args.value(&flag, inline, "FILE")?),
            "--hang-timeout" => hang_timeout = args.number(&flag, inline, "SECS")?,
            "--for" => {
                let v = args.value(&flag, inline, "DURATION")?;
                let d = parse_duration(&v).map_err(|e| args.err(format!("`{flag}`: {e}")))?;
                opts.duration = Some(d);
            }
            "--choices" => {
                let v = args.value(&flag, inline, "HEX")?;
                let bytes = orc_sim::runner::from_hex(&v)
                    .map_err(|e| args.err(format!("`{flag}`: {e}")))?;
                opts.choices = bytes.into();
            }
            "--shard" => {
                let v = args.value(&flag, inline, "I/N")?;
                let sh = v.parse().map_err(|e| args.err(format!("`{flag}`: {e}")))?;
                opts.shard = Some(sh);
            }
            "--journal" => {
                journal = Some(Some(PathBuf::from(args.value(&flag, inline, "FILE")?)));
            }
            "--out" if report => {
                out = Some(PathBuf::from(args.value(&flag, inline, "FILE.html")?));
            }
            _ => return Err(args.unknown(&flag)),
        }
    }
    if !paths.is_empty() {
        opts.paths = paths;
    }
    opts.hang_timeout = Duration::from_secs(hang_timeout);
    if list && opts.duration.is_some() {
        return Err(args.err("`--list` with `--for`: an exploration has no fixed list of runs"));
    }
    let r = ReplayArgs {
        opts,
        list,
        journal,
    };
    if report {
        let out = out.ok_or_else(|| args.err("`--out FILE.html` is required"))?;
        Ok(Command::Report(r, out))
    } else {
        Ok(Command::Replay(r))
    }
}

/// `30s`, `10m`, `2h`, `1h30m`, `500ms`; a bare number is seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}` is not a duration (e.g. 30s, 10m, 1h30m)");
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Duration::from_secs(n));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = match &rest[..unit] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" | "min" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            _ => return Err(bad()),
        };
        total += part;
        rest = &rest[unit..];
    }
    if total.is_zero() {
        return Err(bad());
    }
    Ok(total)
}

fn parse_differential(mut args: Args) -> Result<Command, UsageError> {
    let mut w = DifferentialArgs {
        paths: Vec::new(),
        executors: Vec::new(),
        filter: None,
        print: false,
        timeout: Duration::from_secs(20),
    };
    while let Some(a) = args.next() {
        let (flag, inline) = match a {
            Arg::Plain(p) => {
                w.paths.push(PathBuf::from(p));
                continue;
            }
            Arg::Flag(f, v) => (f, v),
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help(DIFFERENTIAL_HELP)),
            "--executor" => w
                .executors
                .push(PathBuf::from(args.value(&flag, inline, "PATH")?)),
            "--filter" => w.filter = Some(args.value(&flag, inline, "TEXT")?),
            "--print" => {
                args.no_value(&flag, &inline)?;
                w.print = true;
            }
            "--timeout" => w.timeout = Duration::from_secs(args.number(&flag, inline, "SECS")?),
            _ => return Err(args.unknown(&flag)),
        }
    }
    if w.executors.is_empty() {
        return Err(args.err("`--executor PATH` is required (give two to compare them)"));
    }
    if w.paths.is_empty() {
        w.paths.push(PathBuf::from("scenarios"));
    }
    Ok(Command::Differential(w))
}

fn parse_shrink(mut args: Args) -> Result<Command, UsageError> {
    let mut path = None;
    let mut a = ShrinkArgs {
        path: PathBuf::new(),
        seed: None,
        out: None,
        opts: ShrinkOptions::default(),
    };
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg {
            Arg::Plain(p) => {
                if path.is_some() {
                    return Err(args.err(format!("one FILE only (`{p}` is a second)")));
                }
                path = Some(PathBuf::from(p));
                continue;
            }
            Arg::Flag(f, v) => (f, v),
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help(SHRINK_HELP)),
            "--seed" => a.seed = Some(args.number(&flag, inline, "N")?),
            "--out" => a.out = Some(PathBuf::from(args.value(&flag, inline, "OUT")?)),
            "--target" => a.opts.target = Some(args.value(&flag, inline, "TEXT")?),
            "--max-runs" => a.opts.max_runs = args.number(&flag, inline, "N")?,
            "--hang-timeout" => {
                a.opts.hang_timeout = Duration::from_secs(args.number(&flag, inline, "SECS")?)
            }
            _ => return Err(args.unknown(&flag)),
        }
    }
    a.path = path.ok_or_else(|| args.err("FILE is missing: the failing scenario"))?;
    Ok(Command::Shrink(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<Command, UsageError> {
        parse(s.split_whitespace().map(String::from).collect())
    }

    fn replay(s: &str) -> ReplayOptions {
        match parse_str(s) {
            Ok(Command::Replay(r)) => {
                assert!(!r.list);
                r.opts
            }
            other => panic!("{s}: {other:?}"),
        }
    }

    fn error(s: &str) -> String {
        match parse_str(s) {
            Err(e) => e.to_string(),
            Ok(c) => panic!("{s}: parsed as {c:?}"),
        }
    }

    #[test]
    fn every_replay_flag_in_both_spellings() {
        let o = replay(
            "replay a.scn dir --seed 7 --seeds=30 --filter keep -j 3 --print --verify-determinism \
             --mermaid {name}.md --trace-json={name}.json --hang-timeout 4 -q",
        );
        assert_eq!(o.paths, [PathBuf::from("a.scn"), PathBuf::from("dir")]);
        assert_eq!((o.seed, o.seeds), (Some(7), Some(30)));
        assert_eq!(o.filter.as_deref(), Some("keep"));
        assert_eq!(o.jobs, 3);
        assert!(o.print && o.verify_determinism && o.quiet);
        assert_eq!(o.mermaid.as_deref(), Some("{name}.md"));
        assert_eq!(o.trace_json.as_deref(), Some("{name}.json"));
        assert_eq!(o.hang_timeout, Duration::from_secs(4));
        assert_eq!(replay("replay -j5 --quiet").jobs, 5);
    }

    #[test]
    fn exploration_swarm_shards_journal_and_report() {
        let r = match parse_str("replay --for 1h30m --swarm --shard 2/5 --journal j.txt") {
            Ok(Command::Replay(r)) => r,
            other => panic!("{other:?}"),
        };
        assert!(!r.list && r.opts.swarm);
        assert_eq!(r.opts.duration, Some(Duration::from_secs(5400)));
        assert_eq!(r.opts.shard.map(|s| (s.index, s.count)), Some((2, 5)));
        assert_eq!(r.journal, Some(Some(PathBuf::from("j.txt"))));
        match parse_str("replay --no-journal") {
            Ok(Command::Replay(r)) => {
                assert_eq!(r.journal, Some(None));
                assert_eq!(r.resolve().0.journal, None);
            }
            other => panic!("{other:?}"),
        }
        match parse_str("report dir --seeds 3 --out r.html") {
            Ok(Command::Report(r, out)) => {
                assert_eq!(out, PathBuf::from("r.html"));
                assert_eq!(r.opts.seeds, Some(3));
                assert_eq!(r.opts.paths, [PathBuf::from("dir")]);
            }
            other => panic!("{other:?}"),
        }
        assert!(error("report --list --out r.html").contains("unknown option `--list`"));
        assert!(error("replay --out r.html").contains("unknown option `--out`"));
        assert!(error("replay --shard 1").contains("`--shard`: `1` is not I/N"));
        assert!(error("replay --for 1m --list").contains("no fixed list of runs"));
    }

    #[test]
    fn choices_are_hex() {
        assert_eq!(&*replay("replay --choices 00ff07").choices, [0, 0xff, 7]);
        assert_eq!(&*replay("replay --choices=0x0102").choices, [1, 2]);
        assert!(replay("replay").choices.is_empty());
        assert!(error("replay --choices 123").contains("`--choices`: `123`: an odd number"));
        assert!(error("replay --choices xy").contains("is not hex"));
        assert!(error("replay --choices").contains("`--choices` needs a value (HEX)"));
    }

    #[test]
    fn durations() {
        for (s, secs) in [
            ("45", 45),
            ("30s", 30),
            ("10m", 600),
            ("2h", 7200),
            ("1h30m", 5400),
        ] {
            assert_eq!(parse_duration(s), Ok(Duration::from_secs(secs)), "{s}");
        }
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["", "m", "10x", "1.5h", "0s", "s10"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_and_the_end_of_options() {
        let o = replay("replay");
        assert_eq!(o.paths, [PathBuf::from("scenarios")]);
        assert_eq!((o.seed, o.seeds, o.print), (None, None, false));
        assert_eq!(o.hang_timeout, Duration::from_secs(10));
        let o = replay("replay -- --odd-name.scn");
        assert_eq!(o.paths, [PathBuf::from("--odd-name.scn")]);
    }

    #[test]
    fn errors_name_the_flag_and_the_help() {
        assert_eq!(
            error("replay --sed 3"),
            "orc-sim replay: unknown option `--sed`\n(see `orc-sim replay --help`)"
        );
        assert!(error("replay --seed").contains("`--seed` needs a value (N)"));
        assert!(error("replay --seeds many").contains("`--seeds`: `many` is not a number (K)"));
        assert!(error("replay --print=yes").contains("`--print` takes no value"));
        assert!(error("replay -j 0").contains("`-j`: at least one job"));
        assert!(error("differential").contains("`--executor PATH` is required"));
        assert!(error("wire --executor x").contains("is now `orc-sim differential`"));
        assert!(error("replya").contains("orc-sim: no command `replya`"));
        assert!(error("").contains("a command is missing"));
        assert!(error("--seed 3").contains("a command comes first"));
    }

    #[test]
    fn help_and_version() {
        for (s, text) in [
            ("--help", HELP),
            ("-h", HELP),
            ("help", HELP),
            ("help replay", REPLAY_HELP),
            ("replay --help", REPLAY_HELP),
            ("replay --seed 3 -h", REPLAY_HELP),
            ("help differential", DIFFERENTIAL_HELP),
            ("differential --help", DIFFERENTIAL_HELP),
        ] {
            match parse_str(s) {
                Ok(Command::Help(t)) => assert_eq!(t, text, "{s}"),
                other => panic!("{s}: {other:?}"),
            }
        }
        assert!(matches!(parse_str("-V"), Ok(Command::Version)));
        assert!(matches!(parse_str("--version"), Ok(Command::Version)));
    }

    #[test]
    fn shrink_arguments() {
        let Ok(Command::Shrink(a)) =
            parse_str("shrink x.scn --seed 3 --out=y.scn --target hang --max-runs 9")
        else {
            panic!("not a shrink");
        };
        assert_eq!(a.path, PathBuf::from("x.scn"));
        assert_eq!((a.seed, a.out), (Some(3), Some(PathBuf::from("y.scn"))));
        assert_eq!(
            (a.opts.target.as_deref(), a.opts.max_runs),
            (Some("hang"), 9)
        );
        assert!(error("shrink").contains("FILE is missing"));
        assert!(error("shrink a.scn b.scn").contains("one FILE only"));
        assert!(matches!(
            parse_str("help shrink"),
            Ok(Command::Help(SHRINK_HELP))
        ));
    }

    #[test]
    fn differential_arguments() {
        match parse_str("differential --executor a --executor=b --filter x --print --timeout 3") {
            Ok(Command::Differential(w)) => {
                assert_eq!(w.executors, [PathBuf::from("a"), PathBuf::from("b")]);
                assert_eq!(w.paths, [PathBuf::from("scenarios")]);
                assert_eq!(w.filter.as_deref(), Some("x"));
                assert!(w.print);
                assert_eq!(w.timeout, Duration::from_secs(3));
            }
            other => panic!("{other:?}"),
        }
    }
}
