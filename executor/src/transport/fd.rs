//! The OS transport: the controller's pipes or socket as a [`Transport`].
//!
//! Reads block (the reader thread, and a streamed payload that reads the
//! descriptor directly, want them to); writes never do: a socket is written
//! with `send(MSG_DONTWAIT | MSG_NOSIGNAL)`, any other descriptor (a pipe)
//! is made non-blocking and written with SIGPIPE held off
//! (`sys::signals::without_sigpipe`). `wait` polls the input, the output
//! (when asked), a wake-up event and a "closed" event (eventfds).
//!
//! Waiting for input spins first: it polls without blocking, yielding in
//! between, for up to a time budget (`ORC_RT_SPIN_US` in the binary), then
//! blocks. Between two messages of a busy controller the reader would
//! otherwise block and have to be woken for the next one: on an idle
//! machine, and above all in a VM whose idle CPU halts, that wake-up is the
//! largest part of a call's round trip (`shared/bench/limits`:
//! pipe_rtt_1write). Polling for a short while keeps the thread running
//! when the next message is close, which it is for a controller that calls
//! one function after another; yielding in between costs a busy machine
//! little.
//!
//! `close` ends the connection: a socket is shut down (which also makes a
//! blocked read return), a pipe's write end is closed. A read blocked on a
//! pipe cannot be interrupted: it returns when the controller sends or
//! closes (the access only reads a pipe without polling first in the middle
//! of a message, which the controller is sending).

use std::fmt;
use std::io::{self, IoSlice};
use std::net::TcpStream;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{Readiness, Transport};
use crate::sys;

/// Where writes go.
enum Output {
    /// A socket: the input descriptor itself (`None`) or another one.
    Socket(Option<OwnedFd>),
    /// Any other descriptor (a pipe), non-blocking; `None` once closed.
    Pipe(RwLock<Option<OwnedFd>>),
}

/// A [`Transport`] over file descriptors (see the module docs).
pub struct FdTransport {
    input: OwnedFd,
    input_is_socket: bool,
    output: Output,
    /// A count here makes `wait` return; `wait` resets it.
    wake: OwnedFd,
    /// The wake-up event is (about to be) signalled: later wake-ups add
    /// nothing.
    wake_pending: AtomicBool,
    /// Readable for good once `close` signalled it (nothing resets it).
    closed_event: OwnedFd,
    closed: AtomicBool,
    /// How long `wait` polls before it blocks.
    spin: Duration,
}

impl fmt::Debug for FdTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FdTransport")
            .field("input", &self.input.as_raw_fd())
            .field("output", &self.output_fd())
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .field("spin", &self.spin)
            .finish()
    }
}

impl FdTransport {
    fn new(input: OwnedFd, output: Output, spin: Duration) -> io::Result<Self> {
        Ok(FdTransport {
            input_is_socket: sys::fd::is_socket(input.as_fd()),
            input,
            output,
            wake: sys::fd::event()?,
            wake_pending: AtomicBool::new(false),
            closed_event: sys::fd::event()?,
            closed: AtomicBool::new(false),
            spin,
        })
    }

    /// Reads from `input`, writes to `output` (pipes, typically: the
    /// output is then made non-blocking; a socket is written with
    /// `MSG_DONTWAIT` instead). `spin`: see the module docs.
    pub fn from_fds(input: OwnedFd, output: OwnedFd, spin: Duration) -> io::Result<Self> {
        let output = if sys::fd::is_socket(output.as_fd()) {
            Output::Socket(Some(output))
        } else {
            sys::fd::set_nonblocking(output.as_fd())?;
            Output::Pipe(RwLock::new(Some(output)))
        };
        Self::new(input, output, spin)
    }

    /// Reads and writes one socket (left blocking: writes use
    /// `MSG_DONTWAIT`). Fails if `socket` is not one.
    pub fn from_socket(socket: OwnedFd, spin: Duration) -> io::Result<Self> {
        if !sys::fd::is_socket(socket.as_fd()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "one descriptor for both directions must be a socket",
            ));
        }
        Self::new(socket, Output::Socket(None), spin)
    }

    /// A Unix-domain stream socket.
    pub fn from_unix_stream(stream: UnixStream, spin: Duration) -> io::Result<Self> {
        Self::from_socket(stream.into(), spin)
    }

    /// A TCP connection; Nagle's algorithm is turned off (every message is
    /// written whole, and the controller waits for each answer).
    pub fn from_tcp_stream(stream: TcpStream, spin: Duration) -> io::Result<Self> {
        let _ = stream.set_nodelay(true);
        Self::from_socket(stream.into(), spin)
    }

    /// The descriptor written to, if still open (for `poll`).
    fn output_fd(&self) -> RawFd {
        match &self.output {
            Output::Socket(None) => self.input.as_raw_fd(),
            Output::Socket(Some(fd)) => fd.as_raw_fd(),
            Output::Pipe(fd) => sys_read(fd).as_ref().map_or(-1, |fd| fd.as_raw_fd()),
        }
    }

    /// Polls `fds` until something is ready, spinning first (module docs).
    fn poll_spinning(&self, fds: &mut [libc::pollfd]) -> io::Result<()> {
        let start = Instant::now();
        while !self.spin.is_zero() {
            if sys::fd::poll(fds, Some(Duration::ZERO))? > 0 {
                return Ok(());
            }
            if start.elapsed() >= self.spin {
                break;
            }
            std::thread::yield_now();
        }
        // Interrupted (a signal): a spurious return, the caller looks again.
        sys::fd::poll(fds, None).map(|_| ())
    }
}

/// Reads an `RwLock` of ours, whose holders cannot panic.
fn sys_read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn entry(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

impl Transport for FdTransport {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        if self.closed.load(Ordering::Acquire) {
            return Ok(0);
        }
        sys::fd::read(self.input.as_fd(), buf)
    }

    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.try_write_vectored(&[IoSlice::new(buf)])
    }

    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match &self.output {
            Output::Socket(fd) => {
                let fd = fd.as_ref().map_or(self.input.as_fd(), |fd| fd.as_fd());
                sys::fd::send_nonblocking(fd, bufs)
            }
            Output::Pipe(fd) => match sys_read(fd).as_ref() {
                Some(fd) => {
                    sys::signals::without_sigpipe(|| sys::fd::write_nonblocking(fd.as_fd(), bufs))
                }
                None => Err(io::Error::from(io::ErrorKind::BrokenPipe)),
            },
        }
    }

    fn wait_writable(&self) -> io::Result<()> {
        // Not under the pipe's lock: `close` must not wait for this. A
        // descriptor closed meanwhile shows up in `closed_event` first.
        let mut fds = [
            entry(self.output_fd(), libc::POLLOUT),
            entry(self.closed_event.as_raw_fd(), libc::POLLIN),
        ];
        if fds[0].fd < 0 {
            return Ok(());
        }
        while sys::fd::poll(&mut fds, None)? == 0 {}
        Ok(())
    }

    fn wait(&self, output_pending: bool) -> io::Result<Readiness> {
        if matches!(self.output, Output::Pipe(_)) {
            // The reader thread writes quick results often: SIGPIPE stays
            // blocked on it rather than masked around each write.
            sys::signals::block_sigpipe_for_this_thread();
        }
        let output = self.output_fd();
        let same = output == self.input.as_raw_fd();
        let in_events = if same && output_pending {
            libc::POLLIN | libc::POLLOUT
        } else {
            libc::POLLIN
        };
        let mut fds = [
            entry(self.input.as_raw_fd(), in_events),
            entry(
                if output_pending && !same { output } else { -1 },
                libc::POLLOUT,
            ),
            entry(self.wake.as_raw_fd(), libc::POLLIN),
            entry(self.closed_event.as_raw_fd(), libc::POLLIN),
        ];
        self.poll_spinning(&mut fds)?;
        let gone = libc::POLLERR | libc::POLLHUP | libc::POLLNVAL;
        let closed = fds[3].revents != 0;
        let out_revents = if same { fds[0].revents } else { fds[1].revents };
        let ready = Readiness {
            input: closed || fds[0].revents & (libc::POLLIN | gone) != 0,
            output: output_pending && (closed || out_revents & (libc::POLLOUT | gone) != 0),
        };
        if fds[2].revents != 0 {
            // Consumed: wake-ups after this one signal again.
            self.wake_pending.store(false, Ordering::Release);
            sys::fd::drain(self.wake.as_fd());
        }
        Ok(ready)
    }

    fn wake(&self) {
        if !self.wake_pending.swap(true, Ordering::AcqRel) {
            sys::fd::signal(self.wake.as_fd());
        }
    }

    fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        // First the signal (a `wait_writable` on a descriptor about to close
        // returns), then the descriptor.
        sys::fd::signal(self.closed_event.as_fd());
        match &self.output {
            Output::Socket(fd) => {
                sys::fd::shutdown(fd.as_ref().map_or(self.input.as_fd(), |fd| fd.as_fd()));
            }
            Output::Pipe(fd) => {
                drop(fd.write().unwrap_or_else(|p| p.into_inner()).take());
            }
        }
        if self.input_is_socket {
            sys::fd::shutdown(self.input.as_fd());
        }
        self.wake();
    }

    fn read_fd(&self) -> Option<RawFd> {
        Some(self.input.as_raw_fd())
    }
}

impl AsFd for FdTransport {
    /// The descriptor read from.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.input.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn pipe_transport(spin: Duration) -> (FdTransport, io::PipeWriter, io::PipeReader) {
        let (r, to_us) = io::pipe().unwrap();
        let (from_us, w) = io::pipe().unwrap();
        let t = FdTransport::from_fds(r.into(), w.into(), spin).unwrap();
        (t, to_us, from_us)
    }

    #[test]
    fn wait_returns_when_input_arrives_and_blocks_without_it() {
        let (t, mut to_us, _from_us) = pipe_transport(Duration::from_millis(5));
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            to_us.write_all(b"x").unwrap();
            to_us
        });
        // Past the budget it blocks until the byte comes.
        let start = Instant::now();
        assert!(t.wait(false).unwrap().input);
        assert!(start.elapsed() >= Duration::from_millis(40));
        let mut buf = [0u8; 1];
        assert_eq!(t.read(&mut buf).unwrap(), 1);
        // The end of the stream is readable too.
        drop(writer.join().unwrap());
        assert!(t.wait(false).unwrap().input);
        assert_eq!(t.read(&mut buf).unwrap(), 0);
    }

    #[test]
    fn a_wake_up_ends_the_current_or_next_wait_once() {
        let (t, _to_us, _from_us) = pipe_transport(Duration::from_millis(1));
        let t = std::sync::Arc::new(t);
        let waker = t.clone();
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            waker.wake();
        });
        let start = Instant::now();
        assert_eq!(t.wait(false).unwrap(), Readiness::default());
        assert!(start.elapsed() >= Duration::from_millis(20));
        h.join().unwrap();
        // Woken before waiting: returns at once, and only once.
        t.wake();
        t.wake();
        assert_eq!(t.wait(false).unwrap(), Readiness::default());
        let waiter = {
            let t = t.clone();
            std::thread::spawn(move || t.wait(false).unwrap())
        };
        std::thread::sleep(Duration::from_millis(30));
        assert!(!waiter.is_finished(), "the wake-up was consumed");
        t.close();
        assert!(waiter.join().unwrap().input, "close ends a wait");
    }

    #[test]
    fn pipe_writes_stall_without_blocking_and_a_closed_reader_is_an_error() {
        let (t, _to_us, mut from_us) = pipe_transport(Duration::ZERO);
        let chunk = vec![7u8; 64 * 1024];
        let mut total = 0;
        loop {
            match t.try_write(&chunk).unwrap() {
                0 => break,
                n => total += n,
            }
        }
        assert!(total > 0);
        // Output pending and no room: the wait is for input only, then.
        assert!(!t.wait_output_for_test());
        let mut buf = vec![0u8; total];
        from_us.read_exact(&mut buf).unwrap();
        t.wait_writable().unwrap();
        assert!(t.wait(true).unwrap().output);
        drop(from_us);
        let err = t.try_write(b"late").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    }

    impl FdTransport {
        /// Whether output fits now (a non-waiting look).
        fn wait_output_for_test(&self) -> bool {
            let mut fds = [entry(self.output_fd(), libc::POLLOUT)];
            sys::fd::poll(&mut fds, Some(Duration::ZERO)).unwrap() > 0
        }
    }

    #[test]
    fn sockets_write_without_waiting_and_close_ends_both_directions() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let t = FdTransport::from_unix_stream(ours, Duration::ZERO).unwrap();
        let bufs = [IoSlice::new(b"head"), IoSlice::new(b"-tail")];
        assert_eq!(t.try_write_vectored(&bufs).unwrap(), 9);
        let mut got = [0u8; 9];
        theirs.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"head-tail");
        theirs.write_all(b"in").unwrap();
        let ready = t.wait(true).unwrap();
        assert!(ready.input && ready.output);
        t.close();
        let mut rest = Vec::new();
        theirs.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "the peer sees the end of the stream");
        assert!(t.try_write(b"x").is_err());
        assert!(t.wait(false).unwrap().input);
        let mut buf = [0u8; 4];
        assert_eq!(t.read(&mut buf).unwrap(), 0);
    }

    #[test]
    fn one_descriptor_must_be_a_socket() {
        let (r, _w) = io::pipe().unwrap();
        let err = FdTransport::from_socket(r.into(), Duration::ZERO).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
