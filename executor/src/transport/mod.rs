//! How the executor reaches its controller: the connection specs of
//! `llvm-jitlink-executor` (`filedescs=R,W`, `listen=HOST:PORT`) and the
//! byte streams they give, with what the wire protocol needs to know of
//! them (the descriptor read from, how to shut a socket down, how to wait
//! for input).

mod spin;
mod stream;

use std::fmt;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::fd::{AsRawFd, RawFd};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub use spin::{SpinWait, SpinWaker};
pub use stream::{Readiness, Transport};

use crate::wire::CloseFn;

/// Where the controller is: a connection spec from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionSpec {
    /// `filedescs=R,W`: read from descriptor `R`, write to `W` (inherited
    /// from the controller, which started us; `R == W` for a socket).
    FileDescriptors {
        /// Read from.
        read: RawFd,
        /// Written to.
        write: RawFd,
    },
    /// `listen=HOST:PORT`: wait for one TCP connection.
    Listen(String),
}

impl fmt::Display for ConnectionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionSpec::FileDescriptors { read, write } => {
                write!(f, "filedescs={read},{write}")
            }
            ConnectionSpec::Listen(addr) => write!(f, "listen={addr}"),
        }
    }
}

fn parse_fd(s: &str) -> Result<RawFd, String> {
    s.parse::<RawFd>()
        .ok()
        .filter(|fd| *fd >= 0)
        .ok_or_else(|| format!("{s} is not a valid file descriptor"))
}

impl FromStr for ConnectionSpec {
    type Err = String;

    /// Parses a spec; the error messages are LLVM's.
    fn from_str(spec: &str) -> Result<Self, String> {
        let (kind, value) = spec.split_once('=').unwrap_or((spec, ""));
        match kind {
            "filedescs" => {
                let (r, w) = value.split_once(',').unwrap_or((value, ""));
                Ok(ConnectionSpec::FileDescriptors {
                    read: parse_fd(r)?,
                    write: parse_fd(w)?,
                })
            }
            "listen" => {
                let (_host, port) = value.split_once(':').unwrap_or((value, ""));
                if port.parse::<u16>().is_err() {
                    return Err(format!("port number '{port}' is not a valid integer"));
                }
                Ok(ConnectionSpec::Listen(value.to_owned()))
            }
            _ => Err(format!("invalid specifier type \"{kind}\"")),
        }
    }
}

/// An open connection to the controller (byte streams and what the wire
/// options need of them).
pub struct Connection {
    /// Messages from the controller.
    pub reader: Box<dyn Read + Send>,
    /// Messages to the controller.
    pub writer: Box<dyn Write + Send>,
    /// The descriptor `reader` reads.
    pub read_fd: RawFd,
    /// Shuts a socket down (its reader and writer are clones of one
    /// descriptor, so dropping the writer does not close it).
    pub close: Option<CloseFn>,
    /// Waits for input, polling first (see [`SpinWait`]).
    pub wait: SpinWait,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("read_fd", &self.read_fd)
            .finish_non_exhaustive()
    }
}

impl ConnectionSpec {
    /// Opens the connection (accepting one controller for `listen=`);
    /// `spin` is how long a reader polls for input before it blocks.
    pub fn open(&self, spin: Duration) -> Result<Connection, String> {
        match self {
            ConnectionSpec::FileDescriptors { read, write } => {
                let context = |e: std::io::Error| format!("{self}: {e}");
                let reader = crate::sys::fd::adopt(*read).map_err(context)?;
                let writer = if write == read {
                    reader.try_clone().map_err(context)?
                } else {
                    crate::sys::fd::adopt(*write).map_err(context)?
                };
                let (reader, writer) = (std::fs::File::from(reader), std::fs::File::from(writer));
                let wait = SpinWait::new(&reader, spin).map_err(context)?;
                Ok(Connection {
                    read_fd: reader.as_raw_fd(),
                    reader: Box::new(reader),
                    writer: Box::new(writer),
                    close: None,
                    wait,
                })
            }
            ConnectionSpec::Listen(addr) => {
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
                let close: CloseFn = Arc::new(move || {
                    let _ = closer.shutdown(std::net::Shutdown::Both);
                });
                let wait = SpinWait::new(&stream, spin)
                    .map_err(|e| format!("cloning the connection: {e}"))?;
                Ok(Connection {
                    read_fd: stream.as_raw_fd(),
                    reader: Box::new(stream),
                    writer: Box::new(writer),
                    close: Some(close),
                    wait,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ConnectionSpec;

    #[test]
    fn specs_parse_with_llvm_s_messages() {
        let parse = |s: &str| s.parse::<ConnectionSpec>();
        assert_eq!(
            parse("filedescs=3,4"),
            Ok(ConnectionSpec::FileDescriptors { read: 3, write: 4 })
        );
        assert_eq!(
            parse("listen=127.0.0.1:9"),
            Ok(ConnectionSpec::Listen("127.0.0.1:9".into()))
        );
        assert_eq!(
            parse("filedescs=x,4").unwrap_err(),
            "x is not a valid file descriptor"
        );
        assert_eq!(
            parse("listen=localhost:port").unwrap_err(),
            "port number 'port' is not a valid integer"
        );
        assert_eq!(
            parse("pipes=1").unwrap_err(),
            "invalid specifier type \"pipes\""
        );
    }
}
