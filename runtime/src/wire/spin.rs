//! Polling briefly for input before the reader blocks.
//!
//! Between two messages of a busy controller, the reader thread would
//! block in `read` and have to be woken for the next one: on an idle
//! machine, and above all in a VM whose idle CPU halts, that wake-up is
//! the largest part of a call's round trip (`shared/bench/limits`:
//! pipe_rtt_1write). Polling for a short while first keeps the thread
//! running when the next message is close, which it is for a controller
//! that calls one function after another. Between polls it yields, so a
//! busy machine loses little to it, and after the budget it blocks as
//! before. Used through [`WireOptions::wait_for_input`](super::WireOptions).

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

/// Polls a descriptor until it is readable or a time budget is spent.
#[derive(Debug)]
pub struct SpinWait {
    /// A duplicate of the reader's descriptor, so that this needs no
    /// lifetime tie to the reader.
    fd: OwnedFd,
    budget: Duration,
}

impl SpinWait {
    /// Polls `fd` (the descriptor the reader reads) for up to `budget`.
    pub fn new(fd: impl AsFd, budget: Duration) -> io::Result<Self> {
        Ok(SpinWait {
            fd: fd.as_fd().try_clone_to_owned()?,
            budget,
        })
    }

    /// Returns once the descriptor is readable (bytes, end of stream or an
    /// error, which the read that follows reports), or the budget is spent.
    pub fn wait(&self) {
        if self.budget.is_zero() {
            return;
        }
        let start = Instant::now();
        loop {
            match crate::sys::fd::readable_now(self.fd.as_fd()) {
                Ok(false) => {}
                Ok(true) | Err(_) => return,
            }
            if start.elapsed() >= self.budget {
                return;
            }
            std::thread::yield_now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn returns_when_input_arrives_or_the_budget_is_spent() {
        let (r, mut w) = std::io::pipe().unwrap();
        let spin = SpinWait::new(&r, Duration::from_millis(20)).unwrap();
        let start = Instant::now();
        spin.wait();
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(20), "{waited:?}");
        w.write_all(b"x").unwrap();
        let start = Instant::now();
        spin.wait();
        assert!(start.elapsed() < Duration::from_millis(20));
        // End of stream is readable too.
        drop(w);
        let mut buf = [0u8; 1];
        assert_eq!(std::io::Read::read(&mut &r, &mut buf).unwrap(), 1);
        spin.wait();
        assert_eq!(std::io::Read::read(&mut &r, &mut buf).unwrap(), 0);
    }
}
