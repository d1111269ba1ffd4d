//! Waiting for input: poll briefly, then block until input or a wake-up.
//!
//! Between two messages of a busy controller, the reader thread would
//! block in `read` and have to be woken for the next one: on an idle
//! machine, and above all in a VM whose idle CPU halts, that wake-up is
//! the largest part of a call's round trip (`benches/limits`:
//! pipe_rtt_1write). Polling for a short while first keeps the thread
//! running when the next message is close, which it is for a controller
//! that calls one function after another. Between polls it yields, so a
//! busy machine loses little to it. After the budget it blocks until input
//! arrives or [`SpinWaker::wake`] is called: the session ending the
//! connection itself wakes a reader that runs on the owner's thread
//! ([`WireOptions::read_on_caller`](crate::wire::WireOptions)). Used through
//! [`WireOptions::wait_for_input`](crate::wire::WireOptions).

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Polls a descriptor until it is readable, a wake-up came, or a time
/// budget is spent, then blocks until one of the first two.
#[derive(Debug)]
pub struct SpinWait {
    /// A duplicate of the reader's descriptor, so that this needs no
    /// lifetime tie to the reader.
    fd: OwnedFd,
    /// Read end of the wake-up pipe (readable once woken, for good).
    woken: OwnedFd,
    waker: SpinWaker,
    budget: Duration,
}

/// Wakes a [`SpinWait`] for good (it then never blocks again).
#[derive(Debug, Clone)]
pub struct SpinWaker(Arc<io::PipeWriter>);

impl SpinWaker {
    /// Makes the waiting (and every later) `wait` return.
    pub fn wake(&self) {
        // A full pipe is already readable; any other failure leaves the
        // reader to the end of stream, as without a waker.
        let _ = io::Write::write(&mut &*self.0, b"w");
    }
}

impl SpinWait {
    /// Waits for `fd` (the descriptor the reader reads), polling for up to
    /// `budget` before blocking.
    pub fn new(fd: impl AsFd, budget: Duration) -> io::Result<Self> {
        let (woken, wake) = std::io::pipe()?;
        Ok(SpinWait {
            fd: fd.as_fd().try_clone_to_owned()?,
            woken: woken.into(),
            waker: SpinWaker(Arc::new(wake)),
            budget,
        })
    }

    /// What wakes this wait.
    pub fn waker(&self) -> SpinWaker {
        self.waker.clone()
    }

    /// Returns once the descriptor is readable (bytes, end of stream or an
    /// error, which the read that follows reports) or a wake-up came.
    pub fn wait(&self) {
        let fds = [self.fd.as_fd(), self.woken.as_fd()];
        let start = Instant::now();
        while !self.budget.is_zero() {
            match crate::sys::fd::poll_readable(fds, Some(Duration::ZERO)) {
                Ok(false) => {}
                Ok(true) | Err(_) => return,
            }
            if start.elapsed() >= self.budget {
                break;
            }
            std::thread::yield_now();
        }
        // An error (EINTR, say) returns too: the caller reads, as it would
        // have without this wait.
        let _ = crate::sys::fd::poll_readable(fds, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn returns_when_input_arrives_and_blocks_without_it() {
        let (r, mut w) = std::io::pipe().unwrap();
        let spin = SpinWait::new(&r, Duration::from_millis(5)).unwrap();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            w.write_all(b"x").unwrap();
            w
        });
        // Past the budget it blocks until the byte comes.
        let start = Instant::now();
        spin.wait();
        assert!(start.elapsed() >= Duration::from_millis(40));
        let mut buf = [0u8; 1];
        assert_eq!(std::io::Read::read(&mut &r, &mut buf).unwrap(), 1);
        // End of stream is readable too.
        drop(writer.join().unwrap());
        spin.wait();
        assert_eq!(std::io::Read::read(&mut &r, &mut buf).unwrap(), 0);
    }

    #[test]
    fn a_wake_up_ends_the_wait_for_good() {
        let (r, _w) = std::io::pipe().unwrap();
        let spin = SpinWait::new(&r, Duration::from_millis(1)).unwrap();
        let waker = spin.waker();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            waker.wake();
        });
        let start = Instant::now();
        spin.wait();
        assert!(start.elapsed() >= Duration::from_millis(20));
        t.join().unwrap();
        let start = Instant::now();
        spin.wait();
        assert!(start.elapsed() < Duration::from_millis(20));
    }
}
