//! `orc-executor`: drop-in replacement for LLVM 22's `llvm-jitlink-executor`.
//!
//! Thin by design: parse the command line, open the transport, build a
//! session with the executor services, attach the wire controller access,
//! wait for the controller to leave, exit with LLVM's status conventions.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::{Arc, mpsc};

use clap::Parser;
use orc_rt::services::{
    ExecutorServices, dispatcher::ThreadPerTaskDispatcher, host_process_info,
    use_c_signal_dispositions,
};
use orc_rt::wire::{WireControllerAccess, WireOptions, adopt_fds};
use orc_rt::{Error, Session};

const USAGE: &str = "\
Usage:
  orc-executor [test-jitloadergdb] filedescs=<infd>,<outfd> [args...]
  orc-executor [test-jitloadergdb] listen=<host>:<port> [args...]";

/// Runs JIT'd code for an LLVM 22 controller (`llvm-jitlink -oop-executor=`).
///
/// A drop-in replacement for LLVM 22's llvm-jitlink-executor: the controller
/// starts it with `filedescs=IN,OUT` (it reads messages from descriptor IN
/// and writes to OUT), or it waits for one TCP connection with
/// `listen=HOST:PORT` (`llvm-jitlink -oop-executor-connect=HOST:PORT`).
#[derive(Parser, Debug)]
#[command(
    name = "orc-executor",
    version,
    override_usage = "orc-executor [test-jitloadergdb] filedescs=<infd>,<outfd> [args...]\n       orc-executor [test-jitloadergdb] listen=<host>:<port> [args...]",
    after_help = "Environment:\n  ORC_RT_LOG=<filter>  log to stderr through tracing (e.g. debug: every message); default: errors only"
)]
struct Cli {
    /// `filedescs=IN,OUT` or `listen=HOST:PORT`, optionally preceded by
    /// `test-jitloadergdb`; further arguments are ignored, as LLVM does.
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<OsString>,
}

enum Transport {
    Fds(i32, i32),
    Listen(String),
}

/// LLVM's argument errors: `error: ...` and the usage text, status 1.
fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}\n\n{USAGE}");
    ExitCode::from(1)
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

type Stream = (
    Box<dyn Read + Send>,
    Box<dyn Write + Send>,
    Option<orc_rt::wire::CloseFn>,
);

fn open_transport(transport: &Transport) -> Result<Stream, String> {
    match transport {
        Transport::Fds(r, w) => {
            let (r_file, w_file) =
                adopt_fds(*r, *w).map_err(|e| format!("filedescs={r},{w}: {e}"))?;
            Ok((Box::new(r_file), Box::new(w_file), None))
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
            Ok((Box::new(stream), Box::new(writer), Some(close)))
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ORC_RT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_thread_names(true)
        .init();
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

    let (reader, writer, close_transport) = match open_transport(&transport) {
        Ok(s) => s,
        Err(message) => {
            eprintln!("{argv0}: {message}");
            return Ok(1);
        }
    };
    let options = WireOptions {
        // As LLVM's executor reports a result it could not send.
        on_lost_result: Some(Arc::new(|_seqno| {
            eprintln!("SimpleRemoteEPCServer FD-transport disconnected");
        })),
        close_transport,
        // Quick service calls run on the reader thread: no thread per call.
        inline_calls: Arc::new(services.inline_safe.iter().copied().collect()),
        // Results of JIT'd code's calls to the controller only wake the
        // waiting thread.
        inline_results: true,
        ..WireOptions::default()
    };
    session.attach_with(bootstrap, |hooks| {
        Ok(WireControllerAccess::new(hooks, reader, writer, options))
    })?;

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

fn main() -> ExitCode {
    let argv0 = std::env::args_os()
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "orc-executor".into());
    let cli = Cli::parse();
    let (transport, test_gdb) = match parse_transport(&cli.args) {
        Ok(t) => t,
        Err(message) => return usage_error(&message),
    };
    if test_gdb {
        print_gdb_last_entry();
    }
    init_logging();
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
    ExitCode::from(code)
}
