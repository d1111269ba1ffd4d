//! The executor's end of the simulated pipe, as the real controller access
//! sees it: a [`Transport`] whose waits park the calling simulated thread
//! until the pipe can go on (bytes arrived, room freed, a wake-up), so the
//! real access runs under the deterministic scheduler.

use std::io;
use std::sync::{Arc, Weak};

use orc_executor::transport::{Readiness, Transport};

use super::super::World;
use super::super::pipe::ReadOutcome;

/// See the module docs.
pub(crate) struct SimTransport {
    pub(crate) w: Weak<World>,
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the simulation is over")
}

fn aborted() -> io::Error {
    io::Error::other("aborted by the simulation")
}

/// What a waiting thread waits for.
#[derive(Clone, Copy)]
pub(crate) enum PipeWait {
    /// A read would not wait.
    Readable,
    /// A write would take a byte (or fail).
    Writable,
    /// Either, or a wake-up (`Transport::wait`).
    Any {
        /// Room for output counts.
        output: bool,
    },
}

impl SimTransport {
    fn world(&self) -> io::Result<Arc<World>> {
        self.w.upgrade().ok_or_else(gone)
    }
}

impl Transport for SimTransport {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let w = self.world()?;
        loop {
            match w.executor_read(buf) {
                ReadOutcome::Data(n, _) => return Ok(n),
                ReadOutcome::Eof => return Ok(0),
                ReadOutcome::Empty => w.park_on_pipe(PipeWait::Readable).map_err(|_| aborted())?,
            }
        }
    }

    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.world()?.executor_write(buf)
    }

    fn wait_writable(&self) -> io::Result<()> {
        let w = self.world()?;
        while !w.executor_writable() {
            w.park_on_pipe(PipeWait::Writable).map_err(|_| aborted())?;
        }
        Ok(())
    }

    fn wait(&self, output_pending: bool) -> io::Result<Readiness> {
        let w = self.world()?;
        loop {
            let (ready, woken) = w.executor_readiness(output_pending);
            if ready.input || ready.output || woken {
                return Ok(ready);
            }
            w.park_on_pipe(PipeWait::Any {
                output: output_pending,
            })
            .map_err(|_| aborted())?;
        }
    }

    fn wake(&self) {
        if let Some(w) = self.w.upgrade() {
            w.executor_wake();
        }
    }

    fn close(&self) {
        if let Some(w) = self.w.upgrade() {
            w.executor_close();
        }
    }
}
