//! The byte stream the wire protocol runs over, as the controller access
//! needs it: blocking reads for one reader, writes that never wait unless
//! asked to, and one wait for "input arrived, output fits, or woken".
//!
//! Why the access needs more than `Read + Write`: its reader thread must
//! never stop reading because a write is stalled (a controller that is not
//! reading while it writes would deadlock with us), and `detach` must return
//! at once even then. So the reader only writes what fits
//! ([`try_write`](Transport::try_write)) and otherwise waits for input and
//! output together ([`wait`](Transport::wait)); only threads that may block
//! (a call thread sending its result) wait for room
//! ([`wait_writable`](Transport::wait_writable)).
//!
//! Implementations: the OS's pipes and sockets (`orc-executor`), an
//! in-memory pair (tests, loom models), and the simulation's scheduled pipe
//! (`orc-sim`), which parks a simulated thread where these methods wait.

use std::io::{self, IoSlice};
use std::os::fd::RawFd;

/// What [`Transport::wait`] found ready (both may be false: a wake-up or a
/// spurious return; the caller just looks again).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Readiness {
    /// A `read` would not wait (bytes, or the end of the stream).
    pub input: bool,
    /// A `try_write` would write at least one byte (or fail).
    pub output: bool,
}

/// A connection to the controller (see the module docs). Shared by the
/// reader thread and every writer, hence `&self` everywhere.
pub trait Transport: Send + Sync + 'static {
    /// Reads into `buf`, waiting until at least one byte is there; `Ok(0)`
    /// at the end of the stream. One reader at a time.
    fn read(&self, buf: &mut [u8]) -> io::Result<usize>;

    /// Writes what fits now without waiting: `Ok(n)` with `n` up to
    /// `buf.len()`, `Ok(0)` when nothing fits. A peer that closed its end is
    /// an error of kind `BrokenPipe` (never a signal).
    fn try_write(&self, buf: &[u8]) -> io::Result<usize>;

    /// [`try_write`](Self::try_write) of the concatenation of `bufs` (a
    /// header and a large payload in one system call). The default writes
    /// the first non-empty buffer only, which callers must accept: they
    /// loop on what was written.
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match bufs.iter().find(|b| !b.is_empty()) {
            Some(buf) => self.try_write(buf),
            None => Ok(0),
        }
    }

    /// Waits until some output fits (for a writer that may block), or the
    /// peer closed its end (then `try_write` fails).
    fn wait_writable(&self) -> io::Result<()>;

    /// Waits until input is readable, or (with `output_pending`) output
    /// fits, or [`wake`](Self::wake) was called since the last wait.
    fn wait(&self, output_pending: bool) -> io::Result<Readiness>;

    /// Makes the current or the next [`wait`](Self::wait) return.
    fn wake(&self);

    /// Ends the connection in both directions: the peer sees the end of the
    /// stream, and a blocked `read` or `wait` returns.
    fn close(&self);

    /// The descriptor reads come from, if reading it directly is allowed
    /// (a streamed payload then goes from the kernel straight into place).
    fn read_fd(&self) -> Option<RawFd> {
        None
    }
}
