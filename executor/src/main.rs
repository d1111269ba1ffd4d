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
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use orc_rt::services::{
    ExecutorServices, dispatcher::ThreadPerTaskDispatcher, host_process_info,
    use_c_signal_dispositions,
};
use orc_rt::wire::{SpinWait, WireControllerAccess, WireOptions, adopt_fds};
use orc_rt::{Error, Session};

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
    Run(Transport, bool),
}

fn parse_command(args: &[OsString]) -> Result<Command, String> {
    match args.first().and_then(|a| a.to_str()) {
        Some("-h" | "--help") => Ok(Command::Help),
        Some("-V" | "--version") => Ok(Command::Version),
        _ => parse_transport(args).map(|(t, gdb)| Command::Run(t, gdb)),
    }
}

enum Transport {
    Fds(i32, i32),
    Listen(String),
}

/// LLVM's argument errors: `error: ...` and the usage text, status 1.
fn usage_error(message: &str) -> u8 {
    eprintln!("error: {message}\n\n{USAGE}");
    1
}

fn parse_fd(s: &str) -> Result<i32, String> {
    s.parse::<i32>()
        .ok()
        .filter(|fd| *fd >= 0)
        .ok_or_else(|| format!("{s} is not a valid file descriptor"))
}

fn parse_transport(args: &[OsString]) -> Result<(Transport, bool), String> {
    let mut args = args.iter().map(|a| a.to_string_lossy().into_owned());
    let mut next = args.next().ok_or("insufficient arguments")?;
    // LLVM's `test-*` output flags come first; `test-jitloadergdb` is the
    // one it knows.
    let mut test_gdb = false;
    while next.starts_with("test-") {
        test_gdb |= next == "test-jitloadergdb";
        next = args.next().ok_or("insufficient arguments")?;
    }
    let (kind, value) = next.split_once('=').unwrap_or((next.as_str(), ""));
    match kind {
        "filedescs" => {
            let (r, w) = value.split_once(',').unwrap_or((value, ""));
            Ok((Transport::Fds(parse_fd(r)?, parse_fd(w)?), test_gdb))
        }
        "listen" => {
            let (_host, port) = value.split_once(':').unwrap_or((value, ""));
            if port.parse::<u16>().is_err() {
                return Err(format!("port number '{port}' is not a valid integer"));
            }
            Ok((Transport::Listen(value.to_owned()), test_gdb))
        }
        _ => Err(format!("invalid specifier type \"{kind}\"")),
    }
}

/// What `test-jitloadergdb` prints before and after the session.
fn print_gdb_last_entry() {
    eprintln!(
        "__jit_debug_descriptor.last_entry = {:#018x}",
        orc_rt::services::gdb_jit_last_entry().value()
    );
}

/// An open transport: reader, writer, how to shut it down (sockets), the
/// reader's wait for input, and the descriptor it reads.
type Stream = (
    Box<dyn Read + Send>,
    Box<dyn Write + Send>,
    Option<orc_rt::wire::CloseFn>,
    SpinWait,
    RawFd,
);

/// How long the reader polls for the next message before it blocks (see
/// `SpinWait`): `ORC_RT_SPIN_US`, in microseconds, 0 to never poll.
fn spin_budget() -> Duration {
    let micros = std::env::var(SPIN_VARIABLE)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(DEFAULT_SPIN_MICROS);
    Duration::from_micros(micros)
}

/// A little more than a controller's turn-around between two calls when
/// it calls one function after another (it has to wake up for our result
/// first): long enough to catch the next call, short enough to be noise
/// when the controller is busy elsewhere.
const DEFAULT_SPIN_MICROS: u64 = 100;
const SPIN_VARIABLE: &str = "ORC_RT_SPIN_US";

fn open_transport(transport: &Transport) -> Result<Stream, String> {
    match transport {
        Transport::Fds(r, w) => {
            let (r_file, w_file) =
                adopt_fds(*r, *w).map_err(|e| format!("filedescs={r},{w}: {e}"))?;
            let spin = SpinWait::new(&r_file, spin_budget())
                .map_err(|e| format!("filedescs={r},{w}: {e}"))?;
            let fd = r_file.as_raw_fd();
            Ok((Box::new(r_file), Box::new(w_file), None, spin, fd))
        }
        Transport::Listen(addr) => {
            let listener =
                TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            let (stream, peer) = listener
                .accept()
                .map_err(|e| format!("accepting a connection on {addr}: {e}"))?;
            tracing::debug!("controller connected from {peer}");
            drop(listener);
            let _ = stream.set_nodelay(true);
            let clone = || {
                stream
                    .try_clone()
                    .map_err(|e| format!("cloning the connection: {e}"))
            };
            let (writer, closer) = (clone()?, clone()?);
            let close: orc_rt::wire::CloseFn = Arc::new(move || {
                let _ = closer.shutdown(std::net::Shutdown::Both);
            });
            let spin = SpinWait::new(&stream, spin_budget())
                .map_err(|e| format!("cloning the connection: {e}"))?;
            let fd = stream.as_raw_fd();
            Ok((Box::new(stream), Box::new(writer), Some(close), spin, fd))
        }
    }
}

/// Runs the session; the exit status (0 after an orderly end).
fn run(argv0: &str, transport: Transport) -> Result<u8, Error> {
    let session = Session::builder()
        .process_info(host_process_info())
        // A fresh thread per call, as LLVM's executor: see ThreadPerTaskDispatcher.
        .dispatcher(ThreadPerTaskDispatcher::new())
        // The controller calls JIT'd wrapper functions (the ORC runtime's)
        // by address: everything not registered uses LLVM 22's legacy ABI.
        .legacy_wrapper_fallback(true)
        .error_reporter(|e| tracing::error!("{e}"))
        .build()?;
    let (services, bootstrap) = ExecutorServices::install(&session)?;
    let (ended_tx, ended_rx) = mpsc::channel();
    session.set_on_disconnect(move |result| {
        let _ = ended_tx.send(result);
    })?;

    let (reader, writer, close_transport, spin, read_fd) = match open_transport(&transport) {
        Ok(s) => s,
        Err(message) => {
            eprintln!("{argv0}: {message}");
            return Ok(1);
        }
    };
    // The reader runs on this thread (see `serve` below); when the session
    // ends the connection itself, the waker gets it out of its wait.
    let waker = spin.waker();
    let close_transport: orc_rt::wire::CloseFn = Arc::new(move || {
        if let Some(close) = &close_transport {
            close();
        }
        waker.wake();
    });
    let options = WireOptions {
        // As LLVM's executor reports a result it could not send.
        on_lost_result: Some(Arc::new(|_seqno| {
            eprintln!("SimpleRemoteEPCServer FD-transport disconnected");
        })),
        close_transport: Some(close_transport),
        // This thread only waits for the end otherwise: a reader thread of
        // its own would cost a thread and a wake-up per session.
        read_on_caller: true,
        // Quick service calls run on the reader thread: no thread per call.
        inline_calls: Arc::new(services.inline_safe.iter().copied().collect()),
        // Results of JIT'd code's calls to the controller only wake the
        // waiting thread.
        inline_results: true,
        // Bulk writes go from the transport straight into JIT memory.
        streamed_calls: Arc::new(services.streamed_calls.iter().cloned().collect()),
        stream_fd: Some(read_fd),
        // Poll for the next call briefly before blocking: see SpinWait.
        wait_for_input: Some(Arc::new(move || spin.wait())),
        ..WireOptions::default()
    };
    let mut wire = None;
    session.attach_with(bootstrap, |hooks| {
        let access = WireControllerAccess::new(hooks, reader, writer, options);
        wire = Some(access.clone());
        Ok(access)
    })?;
    if let Some(wire) = wire {
        // Until the connection ends.
        wire.serve();
    }

    let ended = ended_rx.recv().unwrap_or(Ok(()));
    let report = session.wait_for_shutdown()?;
    for e in &report.errors {
        tracing::error!("during shutdown: {e}");
    }
    match ended {
        Ok(()) => Ok(0),
        Err(e) => {
            eprintln!("{argv0}: {e}");
            Ok(1)
        }
    }
}

fn run_main() -> u8 {
    let argv0 = std::env::args_os()
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "orc-executor".into());
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let (transport, test_gdb) = match parse_command(&args) {
        Ok(Command::Run(transport, test_gdb)) => (transport, test_gdb),
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
    let code = match run(&argv0, transport) {
        Ok(code) => code,
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
            Ok(Command::Run(Transport::Fds(3, 4), true))
        ));
        assert!(matches!(
            parse(&["listen=localhost:2000"]),
            Ok(Command::Run(Transport::Listen(a), false)) if a == "localhost:2000"
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
