//! An in-memory [`Transport`] pair with a bounded buffer each way: unit
//! tests and the loom models run the real controller access over it (it is
//! built on the `orc_rt::sync` facade, so under `--cfg orc_rt_loom` loom
//! schedules its threads), and a small capacity makes writes stall the way
//! a controller that is not reading makes a socket's writes stall.
//!
//! Each end is a [`Transport`]; `&MemoryTransport` is also an [`io::Read`]
//! and a blocking [`io::Write`], for the side a test plays by hand (the
//! controller): `FrameReader::new(&end)`, `write_message(&mut &end, ..)`.

use std::collections::VecDeque;
use std::fmt;
use std::io;

use orc_rt::sync::{Arc, Condvar, Mutex, lock, wait};

use super::{Readiness, Transport};

/// The bytes travelling to one end.
#[derive(Default)]
struct Lane {
    bytes: VecDeque<u8>,
    /// The sending end closed: the receiver gets the end of the stream once
    /// it has read what is left.
    sender_closed: bool,
    /// The receiving end closed: it reads nothing more (`Ok(0)`), and the
    /// sender's writes fail with `BrokenPipe`.
    receiver_closed: bool,
}

impl Lane {
    fn broken(&self) -> bool {
        self.sender_closed || self.receiver_closed
    }
}

struct State {
    /// `lanes[i]`: the bytes end `i` reads.
    lanes: [Lane; 2],
    /// `woken[i]`: end `i`'s next `wait` returns at once.
    woken: [bool; 2],
    capacity: usize,
}

struct Shared {
    state: Mutex<State>,
    /// Notified on every change (one condition for all: ends are few).
    changed: Condvar,
}

/// One end of a [`memory_pair`].
pub struct MemoryTransport {
    shared: Arc<Shared>,
    end: usize,
}

/// Two connected ends; each direction buffers at most `capacity` bytes
/// (at least 1), beyond which `try_write` writes nothing.
pub fn memory_pair(capacity: usize) -> (MemoryTransport, MemoryTransport) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            lanes: [Lane::default(), Lane::default()],
            woken: [false, false],
            capacity: capacity.max(1),
        }),
        changed: Condvar::new(),
    });
    (
        MemoryTransport {
            shared: shared.clone(),
            end: 0,
        },
        MemoryTransport { shared, end: 1 },
    )
}

impl fmt::Debug for MemoryTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.shared.state);
        f.debug_struct("MemoryTransport")
            .field("end", &self.end)
            .field("incoming", &st.lanes[self.end].bytes.len())
            .field("outgoing", &st.lanes[1 - self.end].bytes.len())
            .finish()
    }
}

impl MemoryTransport {
    fn input(st: &mut State, end: usize) -> &mut Lane {
        &mut st.lanes[end]
    }

    fn output(st: &mut State, end: usize) -> &mut Lane {
        &mut st.lanes[1 - end]
    }

    /// Whether a write would do something now (write bytes or fail).
    fn writable(st: &mut State, end: usize) -> bool {
        let capacity = st.capacity;
        let out = Self::output(st, end);
        out.broken() || out.bytes.len() < capacity
    }
}

impl Transport for MemoryTransport {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut st = lock(&self.shared.state);
        loop {
            let lane = Self::input(&mut st, self.end);
            if !lane.bytes.is_empty() && !lane.receiver_closed {
                let n = buf.len().min(lane.bytes.len());
                for (dst, src) in buf.iter_mut().zip(lane.bytes.drain(..n)) {
                    *dst = src;
                }
                self.shared.changed.notify_all();
                return Ok(n);
            }
            if lane.broken() {
                return Ok(0);
            }
            st = wait(&self.shared.changed, st);
        }
    }

    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        let mut st = lock(&self.shared.state);
        let capacity = st.capacity;
        let out = Self::output(&mut st, self.end);
        if out.broken() {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        let n = buf.len().min(capacity - out.bytes.len());
        out.bytes.extend(&buf[..n]);
        if n > 0 {
            self.shared.changed.notify_all();
        }
        Ok(n)
    }

    fn wait_writable(&self) -> io::Result<()> {
        let mut st = lock(&self.shared.state);
        while !Self::writable(&mut st, self.end) {
            st = wait(&self.shared.changed, st);
        }
        Ok(())
    }

    fn wait(&self, output_pending: bool) -> io::Result<Readiness> {
        let mut st = lock(&self.shared.state);
        loop {
            let lane = Self::input(&mut st, self.end);
            let input = !lane.bytes.is_empty() || lane.broken();
            let output = output_pending && Self::writable(&mut st, self.end);
            let woken = std::mem::take(&mut st.woken[self.end]);
            if input || output || woken {
                return Ok(Readiness { input, output });
            }
            st = wait(&self.shared.changed, st);
        }
    }

    fn wake(&self) {
        lock(&self.shared.state).woken[self.end] = true;
        self.shared.changed.notify_all();
    }

    fn close(&self) {
        let mut st = lock(&self.shared.state);
        Self::output(&mut st, self.end).sender_closed = true;
        Self::input(&mut st, self.end).receiver_closed = true;
        drop(st);
        self.shared.changed.notify_all();
    }
}

impl io::Read for &MemoryTransport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Transport::read(*self, buf)
    }
}

/// Blocking writes (they wait for room), for the side a test drives.
impl io::Write for &MemoryTransport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match self.try_write(buf)? {
                0 if !buf.is_empty() => self.wait_writable()?,
                n => return Ok(n),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(all(test, not(orc_rt_loom)))]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn bytes_cross_within_capacity_and_writes_stall_beyond_it() {
        let (a, b) = memory_pair(4);
        assert_eq!(a.try_write(b"hello").unwrap(), 4);
        assert_eq!(a.try_write(b"o").unwrap(), 0);
        // Nothing to read and no room: only a wake-up returns.
        a.wake();
        assert_eq!(
            a.wait(true).unwrap(),
            Readiness {
                input: false,
                output: false
            }
        );
        let ready = b.wait(false).unwrap();
        assert!(ready.input);
        let mut buf = [0u8; 8];
        assert_eq!(Transport::read(&b, &mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"hell");
        assert!(a.wait(true).unwrap().output);
        a.close();
        assert_eq!(Transport::read(&b, &mut buf).unwrap(), 0, "end of stream");
        assert_eq!(
            b.try_write(b"x").unwrap_err().kind(),
            io::ErrorKind::BrokenPipe
        );
        assert!(
            (&b).write_all(b"x").is_err(),
            "a closed peer fails blocking writes too"
        );
    }

    #[test]
    fn a_blocked_reader_wakes_on_close_and_a_blocked_writer_on_room() {
        let (a, b) = memory_pair(1);
        let (a, b) = (std::sync::Arc::new(a), std::sync::Arc::new(b));
        let reader = {
            let a = a.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 1];
                Transport::read(&*a, &mut buf).unwrap()
            })
        };
        let writer = {
            let b = b.clone();
            std::thread::spawn(move || (&*b).write_all(b"xy"))
        };
        let mut buf = [0u8; 1];
        // The writer filled the lane with one byte; the reader took it, or
        // will. Either way the second byte arrives once there is room.
        let first = reader.join().unwrap();
        assert_eq!(first, 1);
        assert_eq!(Transport::read(&*a, &mut buf).unwrap(), 1);
        writer.join().unwrap().unwrap();
        let waiting = {
            let a = a.clone();
            std::thread::spawn(move || a.wait(false).unwrap())
        };
        a.close();
        assert!(waiting.join().unwrap().input);
    }
}
