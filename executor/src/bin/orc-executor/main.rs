//! `orc-executor`: drop-in replacement for LLVM 22's `llvm-jitlink-executor`.
//!
//! Thin by design: parse the command line, open the transport, build a
//! session with the executor services, attach the wire controller access,
//! wait for the controller to leave, exit with LLVM's status conventions.
//!
//! `#![no_main]`: the C `main` below skips Rust's runtime set-up (a stack
//! guard found by parsing `/proc/self/maps`, SIGSEGV/SIGBUS handlers and an
//! ignored SIGPIPE, which a JIT executor would only undo: JIT'd programs
//! expect C's signal dispositions). Session set-up is a measured figure,
//! and that set-up was a sixth of it.

// Unit tests keep the test harness's `main`.
#![cfg_attr(not(test), no_main)]

mod log;

use std::ffi::{OsString, c_char, c_int};
use std::time::Duration;

use orc_executor::sys::{gdb_jit, use_c_signal_dispositions};
use orc_executor::transport::ConnectionSpec;
use orc_executor::{DEFAULT_SPIN, Executor};

const USAGE: &str = "\
Usage:
  orc-executor [-v] [test-jitloadergdb] socket:adopt=<sockfd> [args...]
  orc-executor [-v] [test-jitloadergdb] tcp:connect=<host>:<port> [args...]
  orc-executor [-v] [test-jitloadergdb] tcp:listen=<host>:<port> [args...]
  orc-executor [-v] [test-jitloadergdb] filedescs=<infd>,<outfd> [args...]
  orc-executor [-v] [test-jitloadergdb] listen=<host>:<port> [args...]";

/// What `--help` prints.
const HELP: &str = "\
Runs JIT'd code for an LLVM controller: a drop-in replacement for
llvm-jitlink-executor (LLVM 22 and LLVM main) and for orc-rt's ogre.

The controller (llvm-jitlink, clang-repl, lli, or your own
ExecutorProcessControl) starts it with a connection spec, or it waits for
or connects to the controller over TCP:

  socket:adopt=FD        FD is one end of a connected socket (socketpair),
                         used both ways (llvm-jitlink -oop-launch, LLVM main)
  tcp:connect=HOST:PORT  connect to a controller listening there (IPv4)
  tcp:listen=HOST:PORT   accept one connection (empty HOST: every address;
                         PORT 0: any free port, logged with ORC_RT_LOG=info)
  filedescs=IN,OUT       read messages from descriptor IN, write them to OUT
                         (pipes: llvm-jitlink -oop-executor=, clang-repl
                         --oop-executor=, LLVM 22)
  listen=HOST:PORT       accept one TCP connection (LLVM 22's form;
                         llvm-jitlink -oop-executor-connect=HOST:PORT)
  IN OUT                 two descriptor numbers: filedescs=IN,OUT (what lli
                         --remote-mcjit passes to lli-child-target)

It answers both generations of controllers: LLVM 22's bootstrap names and
LLVM main's orc_rt_ci_* names are published side by side. Arguments after
the spec (or after `--`) are ignored, as LLVM does.

Usage:
  orc-executor [-v] [test-jitloadergdb] socket:adopt=<sockfd> [args...]
  orc-executor [-v] [test-jitloadergdb] tcp:connect=<host>:<port> [args...]
  orc-executor [-v] [test-jitloadergdb] tcp:listen=<host>:<port> [args...]
  orc-executor [-v] [test-jitloadergdb] filedescs=<infd>,<outfd> [args...]
  orc-executor [-v] [test-jitloadergdb] listen=<host>:<port> [args...]

Options:
  -v, --verbose      print the executor's triple and page size to stderr
                     first, as ogre does
  test-jitloadergdb  print the GDB JIT interface's last entry before and
                     after the session, as llvm-jitlink-executor does
  -h, --help         Print help
  -V, --version      Print version

Environment:
  ORC_RT_LOG=<filter>  log to stderr through tracing: error, warn, info,
                       debug (every message), trace, or per target, e.g.
                       orc_executor::wire=debug; default: errors only
  ORC_RT_SPIN_US=<n>   poll for the next message for up to n microseconds
                       before blocking (default 100; 0: block at once)
  ORC_RT_RESULT_KINDS=1  send a failed call's message to the controller as
                       LLVM main's out-of-band result kind (only for LLVM
                       main controllers: LLVM 22's ends the session on one)

Exit status: 0 after an orderly end, 1 after an error (`ARGV0: message`
on stderr), or what JIT'd code exits with.
";

/// What the command line asks for. Parsed by hand rather than with clap:
/// two argument forms and a few flags, and clap's set-up was a fifth of the
/// executor's own start-up time, which is a measured figure.
enum Command {
    Help,
    Version,
    Run(RunArgs),
}

/// A session to run.
struct RunArgs {
    spec: ConnectionSpec,
    /// `test-jitloadergdb`.
    test_gdb: bool,
    /// `-v`.
    verbose: bool,
}

/// A command line that does not parse: LLVM 22's executor shows its usage
/// after the message; LLVM main's reports spec errors as `ARGV0: MESSAGE`.
enum ArgError {
    Usage(String),
    Fatal(String),
}

fn parse_command(args: &[OsString]) -> Result<Command, ArgError> {
    match args.first().and_then(|a| a.to_str()) {
        Some("-h" | "--help") => Ok(Command::Help),
        Some("-V" | "--version") => Ok(Command::Version),
        _ => parse_run(args).map(Command::Run),
    }
}

fn usage_error(message: &str) -> u8 {
    eprintln!("error: {message}\n\n{USAGE}");
    1
}

/// `[-v] [test-*...] SPEC [args...]`: ogre's `-v` and LLVM's `test-*`
/// output flags come first (`test-jitloadergdb` is the one it knows);
/// arguments after the spec are ignored, as LLVM does (`--` included).
fn parse_run(args: &[OsString]) -> Result<RunArgs, ArgError> {
    let mut args = args.iter().map(|a| a.to_string_lossy().into_owned());
    let insufficient = || ArgError::Usage("insufficient arguments".into());
    let mut next = args.next().ok_or_else(insufficient)?;
    let mut verbose = false;
    while next == "-v" || next == "--verbose" {
        verbose = true;
        next = args.next().ok_or_else(insufficient)?;
    }
    let mut test_gdb = false;
    while next.starts_with("test-") {
        test_gdb |= next == "test-jitloadergdb";
        next = args.next().ok_or_else(insufficient)?;
    }
    // lli-child-target's form, `IN OUT` (what `lli --remote-mcjit
    // --mcjit-remote-process=PATH` passes): two bare descriptor numbers.
    let is_fd = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if is_fd(&next)
        && let Some(out) = args.next().filter(|a| is_fd(a))
    {
        next = format!("filedescs={next},{out}");
    }
    let spec = next.parse::<ConnectionSpec>().map_err(|e| {
        if e.shows_usage() {
            ArgError::Usage(e.to_string())
        } else {
            ArgError::Fatal(e.to_string())
        }
    })?;
    Ok(RunArgs {
        spec,
        test_gdb,
        verbose,
    })
}

fn print_gdb_last_entry() {
    eprintln!(
        "__jit_debug_descriptor.last_entry = {:#018x}",
        gdb_jit::last_entry().value()
    );
}

/// An open transport: reader, writer, how to shut it down (sockets), the
/// reader's wait for input, and the descriptor it reads.
/// `ORC_RT_SPIN_US`, else the default.
fn spin_budget() -> Duration {
    std::env::var(SPIN_VARIABLE)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(DEFAULT_SPIN, Duration::from_micros)
}

const SPIN_VARIABLE: &str = "ORC_RT_SPIN_US";

/// `ORC_RT_RESULT_KINDS=1`: the controller understands LLVM main's result
/// kinds (protocol 3.1); there is no way to ask it.
const RESULT_KINDS_VARIABLE: &str = "ORC_RT_RESULT_KINDS";

fn result_kinds() -> bool {
    std::env::var_os(RESULT_KINDS_VARIABLE).is_some_and(|v| v == "1")
}

fn run_main() -> u8 {
    let argv0 = std::env::args_os()
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "orc-executor".into());
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let RunArgs {
        spec,
        test_gdb,
        verbose,
    } = match parse_command(&args) {
        Ok(Command::Run(run)) => run,
        Ok(Command::Help) => {
            print!("{HELP}");
            return 0;
        }
        Ok(Command::Version) => {
            println!("orc-executor {}", env!("CARGO_PKG_VERSION"));
            return 0;
        }
        Err(ArgError::Usage(message)) => return usage_error(&message),
        Err(ArgError::Fatal(message)) => {
            eprintln!("{argv0}: {message}");
            return 1;
        }
    };
    if verbose {
        // ogre's line; we do not detect CPU features (LLVM's controller
        // detects its own), so that field stays empty.
        let info = orc_executor::sys::host_process_info();
        eprintln!(
            "executor info: triple = \"{}\", page-size = {}, cpu-features = \"\"",
            info.target_triple,
            info.page_size.unwrap_or(0)
        );
    }
    if test_gdb {
        print_gdb_last_entry();
    }
    log::init();
    // JIT'd programs get a C process's signals (SIGPIPE kills, as under
    // LLVM's executor); our own writes to the controller are protected.
    use_c_signal_dispositions();
    let ended = Executor::builder()
        .connection(spec)
        .spin(spin_budget())
        .result_kinds(result_kinds())
        .run();
    let code = match ended {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{argv0}: {e}");
            1
        }
    };
    // As LLVM's executor: the second line only after an orderly end.
    if test_gdb && code == 0 {
        print_gdb_last_entry();
    }
    code
}

/// The process entry point, called by the C runtime (see the module's
/// `#![no_main]`). std still works: on glibc it captures the arguments from
/// `.init_array`, and threads, locks and I/O need no runtime set-up.
// SAFETY: no other symbol of this program is named `main`, and the
// signature is C's `int main(int, char **)`. Unit tests keep the harness's.
#[cfg_attr(not(test), unsafe(export_name = "main"))]
#[cfg_attr(test, expect(dead_code, reason = "the test harness has its own main"))]
extern "C" fn c_main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    // A panic must not unwind into the C runtime: report it as Rust's
    // runtime would (the panic hook has printed it) and use its status.
    let code = std::panic::catch_unwind(run_main).unwrap_or(101);
    // Rust's runtime flushes stdout at exit; C's `exit` does not know it.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    c_int::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        parse_command(&args).map_err(|e| match e {
            ArgError::Usage(m) => format!("usage: {m}"),
            ArgError::Fatal(m) => format!("fatal: {m}"),
        })
    }

    #[test]
    fn flags_come_first_and_the_transport_follows_llvm() {
        assert!(matches!(parse(&["--help"]), Ok(Command::Help)));
        assert!(matches!(parse(&["-V"]), Ok(Command::Version)));
        assert!(matches!(
            parse(&["test-jitloadergdb", "filedescs=3,4", "--help"]),
            Ok(Command::Run(RunArgs {
                spec: ConnectionSpec::FileDescriptors { read: 3, write: 4 },
                test_gdb: true,
                verbose: false,
            }))
        ));
        assert!(matches!(
            parse(&["listen=localhost:2000"]),
            Ok(Command::Run(RunArgs { spec: ConnectionSpec::Listen(a), test_gdb: false, .. })) if a == "localhost:2000"
        ));
        assert!(matches!(
            parse(&["-v", "socket:adopt=3", "--", "prog", "arg"]),
            Ok(Command::Run(RunArgs {
                spec: ConnectionSpec::SocketAdopt(3),
                verbose: true,
                ..
            }))
        ));
        assert!(matches!(
            parse(&["3", "4"]),
            Ok(Command::Run(RunArgs {
                spec: ConnectionSpec::FileDescriptors { read: 3, write: 4 },
                ..
            }))
        ));
        assert_eq!(
            parse(&["3"]).err().unwrap(),
            "usage: invalid specifier type \"3\""
        );
        assert_eq!(parse(&[]).err().unwrap(), "usage: insufficient arguments");
        assert_eq!(
            parse(&["-v"]).err().unwrap(),
            "usage: insufficient arguments"
        );
        assert_eq!(
            parse(&["filedescs=-1,4"]).err().unwrap(),
            "usage: -1 is not a valid file descriptor"
        );
        assert_eq!(
            parse(&["listen=host:http"]).err().unwrap(),
            "usage: port number 'http' is not a valid integer"
        );
        assert_eq!(
            parse(&["socket:adopt=three"]).err().unwrap(),
            "fatal: In socket:adopt=three, three is not an integer"
        );
    }
}
