//! How the executor reaches its controller: the connection specs of
//! `llvm-jitlink-executor`, both generations, the [`Transport`] the wire
//! protocol runs over, and its implementations: the OS's descriptors
//! ([`FdTransport`]) and an in-memory pair ([`memory_pair`], for tests and
//! the loom models; the only part built under `--cfg orc_rt_loom`, with the
//! trait).
//!
//! - LLVM 22: `filedescs=R,W` (pipes from `llvm-jitlink -oop-executor`),
//!   `listen=HOST:PORT` (`-oop-executor-connect`).
//! - LLVM main (upstream `ConnectionSpec`, `<transport>[:<action>]=<descriptor>`):
//!   `socket:adopt=FD` (one end of a socketpair, both directions: what
//!   `llvm-jitlink -oop-launch` passes), `tcp:connect=HOST:PORT`,
//!   `tcp:listen=HOST:PORT` (HOST may be empty for every address, PORT 0
//!   for any free port; one connection is accepted).
//!
//! Error messages are the ones of the `llvm-jitlink-executor` of the same
//! generation: LLVM 22's for its two forms (shown with the usage), LLVM
//! main's (`In SPEC, ...`) for the others.

#[cfg(not(orc_rt_loom))]
mod fd;
mod memory;
mod stream;

use std::fmt;
#[cfg(not(orc_rt_loom))]
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::RawFd;
#[cfg(not(orc_rt_loom))]
use std::os::fd::{AsFd, OwnedFd};
use std::str::FromStr;

#[cfg(not(orc_rt_loom))]
pub use fd::FdTransport;
pub use memory::{MemoryTransport, memory_pair};
pub use stream::{Readiness, Transport};

/// Where the controller is: a connection spec from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionSpec {
    /// `filedescs=R,W` (LLVM 22): read from descriptor `R`, write to `W`
    /// (inherited from the controller, which started us; `R == W` for a
    /// socket).
    FileDescriptors {
        /// Read from.
        read: RawFd,
        /// Written to.
        write: RawFd,
    },
    /// `listen=HOST:PORT` (LLVM 22): wait for one TCP connection.
    Listen(String),
    /// `socket:adopt=FD` (LLVM main): an inherited, connected socket used
    /// both ways (one end of the controller's socketpair).
    SocketAdopt(RawFd),
    /// `tcp:connect=HOST:PORT` (LLVM main): connect to a controller that
    /// listens (IPv4, as LLVM).
    TcpConnect {
        /// Host name or address.
        host: String,
        /// Port number.
        port: String,
    },
    /// `tcp:listen=HOST:PORT` (LLVM main): wait for one TCP connection
    /// (IPv4, as LLVM); an empty HOST binds every address, PORT 0 any
    /// free port.
    TcpListen {
        /// Address to bind (empty: every address).
        host: String,
        /// Port number (0: any).
        port: String,
    },
}

impl fmt::Display for ConnectionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionSpec::FileDescriptors { read, write } => {
                write!(f, "filedescs={read},{write}")
            }
            ConnectionSpec::Listen(addr) => write!(f, "listen={addr}"),
            ConnectionSpec::SocketAdopt(fd) => write!(f, "socket:adopt={fd}"),
            ConnectionSpec::TcpConnect { host, port } => write!(f, "tcp:connect={host}:{port}"),
            ConnectionSpec::TcpListen { host, port } => write!(f, "tcp:listen={host}:{port}"),
        }
    }
}

/// A connection spec that does not parse, with the message LLVM's executor
/// of the same generation gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    message: String,
    usage: bool,
}

impl SpecError {
    /// LLVM 22's kind: `error: MESSAGE` followed by the usage.
    fn usage(message: String) -> Self {
        SpecError {
            message,
            usage: true,
        }
    }

    /// LLVM main's kind: `ARGV0: In SPEC, MESSAGE`, no usage.
    fn in_spec(spec: &str, message: impl fmt::Display) -> Self {
        SpecError {
            message: format!("In {spec}, {message}"),
            usage: false,
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether LLVM's executor shows its usage after this message (LLVM
    /// 22's forms) rather than exiting with `ARGV0: MESSAGE` (LLVM main's).
    pub fn shows_usage(&self) -> bool {
        self.usage
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpecError {}

fn parse_fd(s: &str) -> Result<RawFd, SpecError> {
    s.parse::<RawFd>()
        .ok()
        .filter(|fd| *fd >= 0)
        .ok_or_else(|| SpecError::usage(format!("{s} is not a valid file descriptor")))
}

/// `HOST:PORT` split at the first colon, as LLVM does (`[v6]:port` is
/// split at the last one).
fn host_port(descriptor: &str) -> (&str, &str) {
    if descriptor.starts_with('[')
        && let Some((host, port)) = descriptor.rsplit_once(':')
    {
        return (host, port);
    }
    descriptor.split_once(':').unwrap_or((descriptor, ""))
}

impl FromStr for ConnectionSpec {
    type Err = SpecError;

    /// Parses a spec; the error messages are LLVM's (see the module docs).
    fn from_str(spec: &str) -> Result<Self, SpecError> {
        let Some((head, descriptor)) = spec.split_once('=') else {
            return Err(SpecError::usage(format!(
                "invalid specifier type \"{spec}\""
            )));
        };
        // Upstream's grammar: only the text before the first `=` holds
        // the action; the descriptor is opaque.
        let (transport, action) = match head.split_once(':') {
            Some((t, a)) => (t, Some(a)),
            None => (head, None),
        };
        match (transport, action) {
            ("filedescs", None) => {
                let (r, w) = descriptor.split_once(',').unwrap_or((descriptor, ""));
                Ok(ConnectionSpec::FileDescriptors {
                    read: parse_fd(r)?,
                    write: parse_fd(w)?,
                })
            }
            ("listen", None) => {
                let (_host, port) = descriptor.split_once(':').unwrap_or((descriptor, ""));
                if port.parse::<u16>().is_err() {
                    return Err(SpecError::usage(format!(
                        "port number '{port}' is not a valid integer"
                    )));
                }
                Ok(ConnectionSpec::Listen(descriptor.to_owned()))
            }
            ("", _) => Err(SpecError {
                message: format!("in connection spec '{spec}': empty transport name"),
                usage: false,
            }),
            (_, Some("")) => Err(SpecError {
                message: format!("in connection spec '{spec}': empty action name"),
                usage: false,
            }),
            ("socket", Some("adopt")) => descriptor
                .parse::<RawFd>()
                .map(ConnectionSpec::SocketAdopt)
                .map_err(|_| SpecError::in_spec(spec, format!("{descriptor} is not an integer"))),
            ("socket", _) => Err(SpecError::in_spec(
                spec,
                "the socket transport supports only the \"adopt\" action",
            )),
            ("tcp", Some(action @ ("connect" | "listen"))) => {
                let (host, port) = host_port(descriptor);
                if action == "connect" {
                    if host.is_empty() || port.is_empty() {
                        return Err(SpecError::in_spec(spec, "expected <host>:<port>"));
                    }
                    Ok(ConnectionSpec::TcpConnect {
                        host: host.to_owned(),
                        port: port.to_owned(),
                    })
                } else {
                    Ok(ConnectionSpec::TcpListen {
                        host: host.to_owned(),
                        port: port.to_owned(),
                    })
                }
            }
            ("tcp", action) => Err(SpecError::in_spec(
                spec,
                format!("unrecognized action \"{}\"", action.unwrap_or_default()),
            )),
            // LLVM 22's words for a spec in its own form.
            (_, None) => Err(SpecError::usage(format!(
                "invalid specifier type \"{transport}\""
            ))),
            (_, Some(_)) => Err(SpecError::in_spec(
                spec,
                format!("unrecognized transport \"{transport}\""),
            )),
        }
    }
}

#[cfg(not(orc_rt_loom))]
impl ConnectionSpec {
    /// Opens the connection (accepting one controller for `listen=` and
    /// `tcp:listen=`); `spin` is how long the reader polls for input before
    /// it blocks. The error is the message to print after `ARGV0: `.
    pub fn open(&self, spin: std::time::Duration) -> Result<FdTransport, String> {
        match self {
            ConnectionSpec::FileDescriptors { read, write } => {
                let context = |e: std::io::Error| format!("{self}: {e}");
                let input = crate::sys::fd::adopt(*read).map_err(context)?;
                if write == read {
                    return descriptor_transport(input, spin).map_err(context);
                }
                let output = crate::sys::fd::adopt(*write).map_err(context)?;
                FdTransport::from_fds(input, output, spin).map_err(context)
            }
            ConnectionSpec::SocketAdopt(fd) => {
                let context =
                    |e: std::io::Error| format!("In {self}, {}", crate::sys::error_text(&e));
                let socket = crate::sys::fd::adopt(*fd).map_err(context)?;
                descriptor_transport(socket, spin).map_err(context)
            }
            ConnectionSpec::Listen(addr) => {
                let listener =
                    TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
                let stream = accept_one(&listener)
                    .map_err(|e| format!("accepting a connection on {addr}: {e}"))?;
                FdTransport::from_tcp_stream(stream, spin)
                    .map_err(|e| format!("setting up the connection: {e}"))
            }
            ConnectionSpec::TcpConnect { host, port } => {
                let in_spec = |m: String| format!("In {self}, {m}");
                let stream = tcp_connect(host, port).map_err(in_spec)?;
                FdTransport::from_tcp_stream(stream, spin)
                    .map_err(|e| in_spec(format!("setting up the connection: {e}")))
            }
            ConnectionSpec::TcpListen { host, port } => {
                let in_spec = |m: String| format!("In {self}, {m}");
                let listener = tcp_listen(host, port).map_err(in_spec)?;
                let stream = accept_one(&listener).map_err(|e| {
                    in_spec(format!(
                        "Error accepting connection: {}",
                        crate::sys::error_text(&e)
                    ))
                })?;
                FdTransport::from_tcp_stream(stream, spin)
                    .map_err(|e| in_spec(format!("setting up the connection: {e}")))
            }
        }
    }
}

/// One descriptor used both ways (`filedescs=N,N`, `socket:adopt=N`):
/// normally a socket; anything else (a terminal, say) is read and written
/// through two handles of it.
#[cfg(not(orc_rt_loom))]
fn descriptor_transport(fd: OwnedFd, spin: std::time::Duration) -> std::io::Result<FdTransport> {
    if crate::sys::fd::is_socket(fd.as_fd()) {
        FdTransport::from_socket(fd, spin)
    } else {
        let output = fd.try_clone()?;
        FdTransport::from_fds(fd, output, spin)
    }
}

/// Accepts one connection and closes the listener (it is dropped).
#[cfg(not(orc_rt_loom))]
fn accept_one(listener: &TcpListener) -> std::io::Result<TcpStream> {
    let (stream, peer) = listener.accept()?;
    tracing::debug!(target: "orc_executor::transport", "controller connected from {peer}");
    Ok(stream)
}

/// The IPv4 addresses of `host:port` (LLVM resolves with `AF_INET` and a
/// numeric port), or LLVM's message.
#[cfg(not(orc_rt_loom))]
fn resolve_ipv4(host: Option<&str>, port: &str) -> Result<Vec<SocketAddrV4>, String> {
    let failed = |why: &str| {
        format!(
            "Address resolution failed for '{}:{port}': {why}",
            host.unwrap_or_default()
        )
    };
    let port_number: u16 = port
        .parse()
        .map_err(|_| failed("Servname not supported for ai_socktype"))?;
    let Some(host) = host else {
        return Ok(vec![SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port_number)]);
    };
    let addrs = (host, port_number).to_socket_addrs().map_err(|e| {
        let text = crate::sys::error_text(&e);
        failed(
            text.strip_prefix("failed to lookup address information: ")
                .unwrap_or(&text),
        )
    })?;
    let v4: Vec<SocketAddrV4> = addrs
        .filter_map(|a| match a {
            SocketAddr::V4(a) => Some(a),
            SocketAddr::V6(_) => None,
        })
        .collect();
    if v4.is_empty() {
        return Err(failed("Address family for hostname not supported"));
    }
    Ok(v4)
}

/// `tcp:connect`: the first of the host's IPv4 addresses that accepts.
#[cfg(not(orc_rt_loom))]
fn tcp_connect(host: &str, port: &str) -> Result<TcpStream, String> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let mut last = None;
    for addr in resolve_ipv4(Some(host), port)? {
        match TcpStream::connect(addr) {
            Ok(stream) => {
                tracing::debug!(target: "orc_executor::transport", "connected to the controller at {addr}");
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    let why = last.map_or_else(String::new, |e| crate::sys::error_text(&e));
    Err(format!("Failed to connect to '{host}:{port}': {why}"))
}

/// `tcp:listen`: bound (`SO_REUSEADDR`, as LLVM) and listening.
#[cfg(not(orc_rt_loom))]
fn tcp_listen(host: &str, port: &str) -> Result<TcpListener, String> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addr = resolve_ipv4((!host.is_empty()).then_some(host), port)?[0];
    let listener = TcpListener::bind(addr).map_err(|e| {
        format!(
            "Error binding to port '{port}': {}",
            crate::sys::error_text(&e)
        )
    })?;
    if let Ok(bound) = listener.local_addr() {
        tracing::info!(target: "orc_executor::transport", "listening on {bound}");
    }
    Ok(listener)
}

#[cfg(all(test, not(orc_rt_loom)))]
mod tests {
    use super::ConnectionSpec;

    fn parse(s: &str) -> Result<ConnectionSpec, (String, bool)> {
        s.parse::<ConnectionSpec>()
            .map_err(|e| (e.to_string(), e.shows_usage()))
    }

    #[test]
    fn llvm_22_specs_parse_with_its_messages() {
        assert_eq!(
            parse("filedescs=3,4"),
            Ok(ConnectionSpec::FileDescriptors { read: 3, write: 4 })
        );
        assert_eq!(
            parse("listen=127.0.0.1:9"),
            Ok(ConnectionSpec::Listen("127.0.0.1:9".into()))
        );
        let usage = |m: &str| Err((m.to_owned(), true));
        assert_eq!(
            parse("filedescs=x,4"),
            usage("x is not a valid file descriptor")
        );
        assert_eq!(
            parse("listen=localhost:port"),
            usage("port number 'port' is not a valid integer")
        );
        assert_eq!(parse("pipes=1"), usage("invalid specifier type \"pipes\""));
        assert_eq!(
            parse("nothing"),
            usage("invalid specifier type \"nothing\"")
        );
    }

    #[test]
    fn llvm_main_specs_parse_with_its_messages() {
        assert_eq!(parse("socket:adopt=3"), Ok(ConnectionSpec::SocketAdopt(3)));
        assert_eq!(
            parse("tcp:connect=localhost:20000"),
            Ok(ConnectionSpec::TcpConnect {
                host: "localhost".into(),
                port: "20000".into()
            })
        );
        assert_eq!(
            parse("tcp:listen=:0"),
            Ok(ConnectionSpec::TcpListen {
                host: String::new(),
                port: "0".into()
            })
        );
        assert_eq!(
            parse("tcp:listen=[::1]:0"),
            Ok(ConnectionSpec::TcpListen {
                host: "[::1]".into(),
                port: "0".into()
            })
        );
        for spec in ["socket:adopt=3", "tcp:connect=h:1", "tcp:listen=:0"] {
            assert_eq!(parse(spec).unwrap().to_string(), spec);
        }
        let fatal = |m: &str| Err((m.to_owned(), false));
        assert_eq!(
            parse("socket:adopt=x3"),
            fatal("In socket:adopt=x3, x3 is not an integer")
        );
        assert_eq!(
            parse("socket:listen=3"),
            fatal("In socket:listen=3, the socket transport supports only the \"adopt\" action")
        );
        assert_eq!(
            parse("socket=3"),
            fatal("In socket=3, the socket transport supports only the \"adopt\" action")
        );
        assert_eq!(
            parse("tcp:connect=localhost"),
            fatal("In tcp:connect=localhost, expected <host>:<port>")
        );
        assert_eq!(
            parse("tcp:connect=:20000"),
            fatal("In tcp:connect=:20000, expected <host>:<port>")
        );
        assert_eq!(
            parse("tcp:accept=h:1"),
            fatal("In tcp:accept=h:1, unrecognized action \"accept\"")
        );
        assert_eq!(
            parse("unix:listen=/tmp/a=b.sock"),
            fatal("In unix:listen=/tmp/a=b.sock, unrecognized transport \"unix\"")
        );
        assert_eq!(
            parse(":adopt=3"),
            fatal("in connection spec ':adopt=3': empty transport name")
        );
        assert_eq!(
            parse("socket:=3"),
            fatal("in connection spec 'socket:=3': empty action name")
        );
    }

    #[test]
    fn tcp_connect_failures_read_as_llvm_s() {
        // A port nobody listens on (bound, then closed).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let spec: ConnectionSpec = format!("tcp:connect=127.0.0.1:{port}").parse().unwrap();
        let err = spec.open(std::time::Duration::ZERO).unwrap_err();
        assert_eq!(
            err,
            format!(
                "In tcp:connect=127.0.0.1:{port}, Failed to connect to '127.0.0.1:{port}': Connection refused"
            )
        );
        let spec: ConnectionSpec = "tcp:connect=127.0.0.1:http".parse().unwrap();
        let err = spec.open(std::time::Duration::ZERO).unwrap_err();
        assert!(
            err.starts_with(
                "In tcp:connect=127.0.0.1:http, Address resolution failed for '127.0.0.1:http': "
            ),
            "{err}"
        );
    }

    #[test]
    fn an_adopted_socket_is_used_both_ways_and_shut_down_on_close() {
        use std::io::{Read, Write};
        use std::os::fd::IntoRawFd;
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = theirs.into_raw_fd();
        let spec: ConnectionSpec = format!("socket:adopt={fd}").parse().unwrap();
        let t = spec.open(std::time::Duration::ZERO).unwrap();
        (&ours).write_all(b"ping").unwrap();
        let mut buf = [0; 4];
        let mut got = 0;
        while got < 4 {
            got += super::Transport::read(&t, &mut buf[got..]).unwrap();
        }
        assert_eq!(&buf, b"ping");
        assert_eq!(super::Transport::try_write(&t, b"pong").unwrap(), 4);
        (&ours).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"pong");
        super::Transport::close(&t);
        assert_eq!((&ours).read(&mut buf).unwrap(), 0, "end of stream");
    }
}
