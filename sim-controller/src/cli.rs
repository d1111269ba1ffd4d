//! The `orc-sim` command line, parsed by hand: part of the binary only, so
//! that the library (`orc_sim`) does not pull in an argument parser.
//!
//! Options take their value as the next argument or after `=`
//! (`--seed 7`, `--seed=7`; `-j 4`, `-j4`); `--` ends the options. An
//! error names the flag and the command's `--help`.

use std::path::PathBuf;
use std::time::Duration;

use orc_sim::runner::ReplayOptions;

/// What the command line asks for.
#[derive(Debug)]
pub(crate) enum Command {
    /// Print this text and exit successfully (`--help`, `help`).
    Help(&'static str),
    /// Print the version.
    Version,
    /// `orc-sim replay`.
    Replay(ReplayOptions),
    /// `orc-sim differential`.
    Differential(DifferentialArgs),
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
  differential  play protocol-level scenarios against executor processes
                and compare their transcripts (differential testing)
  help [CMD]    print this help or a command's

Options:
  -h, --help     print help (`orc-sim COMMAND --help` for a command's)
  -V, --version  print the version

The scenario format and the commands: scenarios/README.md.
";

pub(crate) const REPLAY_HELP: &str = "\
Replay scenario scripts against the real orc-rt session, each under one or
many seeds, in parallel: a summary table, and for every failing run its seed
and the command that reproduces it.

Usage: orc-sim replay [PATHS...] [OPTIONS]

Arguments:
  [PATHS...]               scenario files or directories (every *.scn
                           inside); default: scenarios/

Options:
      --seed N             the seed (with --seeds: the first); default:
                           each scenario's own `seed`
      --seeds K            run each scenario under K seeds: N, N+1, ...
                           (N: --seed, default 0)
      --filter TEXT        only scenarios whose file name contains TEXT
  -j, --jobs N             runs in parallel (default: available CPUs)
      --print              print each run's transcript
      --verify-determinism run each seed twice and fail if the transcripts
                           differ
      --mermaid FILE       write a Mermaid sequence diagram of each run
                           ({name} and {seed} expand)
      --trace-json FILE    write a Chrome/Perfetto trace JSON of each run
                           ({name} and {seed} expand)
      --hang-timeout SECS  real seconds a simulated thread may run without
                           yielding before the run counts as hung (default 10)
  -q, --quiet              no progress output
  -h, --help               print this help

Exit status: 0 if every run passed, 1 if one failed, 2 on a usage error.
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
        return Err(top("a command is missing (replay, differential)".into()));
    };
    let rest: Vec<String> = it.collect();
    match first.as_str() {
        "-h" | "--help" => Ok(Command::Help(HELP)),
        "-V" | "--version" => Ok(Command::Version),
        "help" => match rest.first().map(String::as_str) {
            None => Ok(Command::Help(HELP)),
            Some("replay") => Ok(Command::Help(REPLAY_HELP)),
            Some("differential") => Ok(Command::Help(DIFFERENTIAL_HELP)),
            Some(other) => Err(top(format!("no command `{other}` (replay, differential)"))),
        },
        "replay" => parse_replay(Args::new(rest, "orc-sim replay")),
        "differential" => parse_differential(Args::new(rest, "orc-sim differential")),
        "wire" => Err(top(
            "`orc-sim wire` is now `orc-sim differential` (\"wire\" names the protocol only)"
                .into(),
        )),
        other if other.starts_with('-') => Err(top(format!(
            "unknown option `{other}` (a command comes first: replay, differential)"
        ))),
        other => Err(top(format!("no command `{other}` (replay, differential)"))),
    }
}

fn parse_replay(mut args: Args) -> Result<Command, UsageError> {
    let mut opts = ReplayOptions::default();
    let mut paths = Vec::new();
    let mut hang_timeout = 10;
    while let Some(a) = args.next() {
        let (flag, inline) = match a {
            Arg::Plain(p) => {
                paths.push(PathBuf::from(p));
                continue;
            }
            Arg::Flag(f, v) => (f, v),
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help(REPLAY_HELP)),
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
            "--print" => {
                args.no_value(&flag, &inline)?;
                opts.print = true;
            }
            "--verify-determinism" => {
                args.no_value(&flag, &inline)?;
                opts.verify_determinism = true;
            }
            "--mermaid" => opts.mermaid = Some(args.value(&flag, inline, "FILE")?),
            "--trace-json" => opts.trace_json = Some(args.value(&flag, inline, "FILE")?),
            "--hang-timeout" => hang_timeout = args.number(&flag, inline, "SECS")?,
            "-q" | "--quiet" => {
                args.no_value(&flag, &inline)?;
                opts.quiet = true;
            }
            _ => return Err(args.unknown(&flag)),
        }
    }
    if !paths.is_empty() {
        opts.paths = paths;
    }
    opts.hang_timeout = Duration::from_secs(hang_timeout);
    Ok(Command::Replay(opts))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<Command, UsageError> {
        parse(s.split_whitespace().map(String::from).collect())
    }

    fn replay(s: &str) -> ReplayOptions {
        match parse_str(s) {
            Ok(Command::Replay(o)) => o,
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
