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
  orc-executor [test-jitloadergdb] filedescs=<infd>,<outfd> [args...]
  orc-executor [test-jitloadergdb] listen=<host>:<port> [args...]";

/// What `--help` prints.
const HELP: &str = "\
Runs JIT'd code for an LLVM 22 controller (`llvm-jitlink -oop-executor=`).

A drop-in replacement for LLVM 22's llvm-jitlink-executor: the controller
starts it with `filedescs=IN,OUT` (it reads messages from descriptor IN and
writes to OUT), or it waits for one TCP connection with `listen=HOST:PORT`
(`llvm-jitlink -oop-executor-connect=HOST:PORT`). `test-jitloadergdb` first
prints the GDB JIT interface's last entry before and after the session.
Arguments after the transport are ignored, as LLVM does.

Usage: orc-executor [test-jitloadergdb] filedescs=<infd>,<outfd> [args...]
       orc-executor [test-jitloadergdb] listen=<host>:<port> [args...]

Options:
  -h, --help     Print help
  -V, --version  Print version

Environment:
  ORC_RT_LOG=<filter>  log to stderr through tracing (e.g. debug: every
                       message); default: errors only
  ORC_RT_SPIN_US=<n>   poll for the next message for up to n microseconds
                       before blocking (default 100; 0: block at once)
";

/// What the command line asks for. Parsed by hand rather than with clap:
/// two argument forms and two flags, and clap's set-up was a fifth of the
/// executor's own start-up time, which is a measured figure.
enum Command {
    Help,
    Version,
    Run(ConnectionSpec, bool),
}

fn parse_command(args: &[OsString]) -> Result<Command, String> {
    match args.first().and_then(|a| a.to_str()) {
        Some("-h" | "--help") => Ok(Command::Help),
        Some("-V" | "--version") => Ok(Command::Version),
        _ => parse_run(args).map(|(spec, gdb)| Command::Run(spec, gdb)),
    }
}

fn usage_error(message: &str) -> u8 {
    eprintln!("error: {message}\n\n{USAGE}");
    1
}

/// `[test-*...] SPEC [args...]`: LLVM's `test-*` output flags come first
/// (`test-jitloadergdb` is the one it knows); arguments after the spec are
/// ignored, as LLVM does.
fn parse_run(args: &[OsString]) -> Result<(ConnectionSpec, bool), String> {
    let mut args = args.iter().map(|a| a.to_string_lossy().into_owned());
    let mut next = args.next().ok_or("insufficient arguments")?;
    let mut test_gdb = false;
    while next.starts_with("test-") {
        test_gdb |= next == "test-jitloadergdb";
        next = args.next().ok_or("insufficient arguments")?;
    }
    Ok((next.parse()?, test_gdb))
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

fn run_main() -> u8 {
    let argv0 = std::env::args_os()
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "orc-executor".into());
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let (spec, test_gdb) = match parse_command(&args) {
        Ok(Command::Run(spec, test_gdb)) => (spec, test_gdb),
        Ok(Command::Help) => {
            print!("{HELP}");
            return 0;
        }
        Ok(Command::Version) => {
            println!("orc-executor {}", env!("CARGO_PKG_VERSION"));
            return 0;
        }
        Err(message) => return usage_error(&message),
    };
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
        parse_command(&args)
    }

    #[test]
    fn flags_come_first_and_the_transport_follows_llvm() {
        assert!(matches!(parse(&["--help"]), Ok(Command::Help)));
        assert!(matches!(parse(&["-V"]), Ok(Command::Version)));
        assert!(matches!(
            parse(&["test-jitloadergdb", "filedescs=3,4", "--help"]),
            Ok(Command::Run(
                ConnectionSpec::FileDescriptors { read: 3, write: 4 },
                true
            ))
        ));
        assert!(matches!(
            parse(&["listen=localhost:2000"]),
            Ok(Command::Run(ConnectionSpec::Listen(a), false)) if a == "localhost:2000"
        ));
        assert_eq!(parse(&[]).err().unwrap(), "insufficient arguments");
        assert_eq!(
            parse(&["filedescs=-1,4"]).err().unwrap(),
            "-1 is not a valid file descriptor"
        );
        assert_eq!(
            parse(&["listen=host:http"]).err().unwrap(),
            "port number 'http' is not a valid integer"
        );
    }
}
