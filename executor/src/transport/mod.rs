//! How the executor reaches its controller: the connection specs of
//! `llvm-jitlink-executor` (`filedescs=R,W`, `listen=HOST:PORT`), the
//! [`Transport`] the wire protocol runs over, and its implementations: the
//! OS's descriptors ([`FdTransport`]) and an in-memory pair
//! ([`memory_pair`], for tests and the loom models; the only part built
//! under `--cfg orc_rt_loom`, with the trait).

#[cfg(not(orc_rt_loom))]
mod fd;
mod memory;
mod stream;

use std::fmt;
use std::os::fd::RawFd;
use std::str::FromStr;

#[cfg(not(orc_rt_loom))]
pub use fd::FdTransport;
pub use memory::{MemoryTransport, memory_pair};
pub use stream::{Readiness, Transport};

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

#[cfg(not(orc_rt_loom))]
impl ConnectionSpec {
    /// Opens the connection (accepting one controller for `listen=`);
    /// `spin` is how long the reader polls for input before it blocks.
    pub fn open(&self, spin: std::time::Duration) -> Result<FdTransport, String> {
        match self {
            ConnectionSpec::FileDescriptors { read, write } => {
                let context = |e: std::io::Error| format!("{self}: {e}");
                let input = crate::sys::fd::adopt(*read).map_err(context)?;
                if write == read {
                    return FdTransport::from_socket(input, spin).map_err(context);
                }
                let output = crate::sys::fd::adopt(*write).map_err(context)?;
                FdTransport::from_fds(input, output, spin).map_err(context)
            }
            ConnectionSpec::Listen(addr) => {
                let listener = std::net::TcpListener::bind(addr)
                    .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
                let (stream, peer) = listener
                    .accept()
                    .map_err(|e| format!("accepting a connection on {addr}: {e}"))?;
                tracing::debug!("controller connected from {peer}");
                drop(listener);
                FdTransport::from_tcp_stream(stream, spin)
                    .map_err(|e| format!("setting up the connection: {e}"))
            }
        }
    }
}

#[cfg(all(test, not(orc_rt_loom)))]
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
