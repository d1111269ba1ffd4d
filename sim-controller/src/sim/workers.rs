//! Simulated threads on real OS threads, one running at a time.
//!
//! Everything the simulation does (a message delivery, a task, a step of
//! JIT'd code) runs on a worker thread, and the scheduler hands a single
//! baton from worker to worker: it sends a worker a command and waits until
//! that worker finishes or *parks* (suspends in the middle of JIT'd code,
//! keeping its stack, so the guards and the task it is inside stay live as
//! in a real process). Only one thread ever runs simulation code, so the
//! order of everything is the scheduler's choice, and the scheduler itself
//! never runs session code: if the runtime deadlocks, the scheduler notices
//! that the baton did not come back and reports a hang instead of hanging.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

/// Work for a worker.
pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;

enum Cmd {
    Run(Job),
    Resume(bool),
    Quit,
}

/// What a worker tells the scheduler when it gives the baton back.
#[derive(Debug)]
pub(crate) enum Report {
    /// The job returned.
    Finished,
    /// The job suspended; the worker waits for `resume`.
    Parked,
    /// The job panicked and nothing caught it (the message).
    Panicked(String),
}

/// A parked thread was told to give up (end of run): unwind, dropping
/// what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Aborted;

/// Why a thread could not suspend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParkError {
    /// Resumed with an abort.
    Aborted,
    /// Not on a simulation worker (e.g. inside a real extra thread).
    NotAWorker,
}

impl From<Aborted> for ParkError {
    fn from(_: Aborted) -> Self {
        ParkError::Aborted
    }
}

struct Ctx {
    id: usize,
    rx: Receiver<Cmd>,
    report: Sender<(usize, Report)>,
}

thread_local! {
    static CTX: RefCell<Option<Ctx>> = const { RefCell::new(None) };
}

/// The id of the worker this code runs on, if any.
pub(crate) fn current() -> Option<usize> {
    CTX.with(|c| c.borrow().as_ref().map(|c| c.id))
}

/// Gives the baton back to the scheduler and blocks until resumed. The
/// caller must already have arranged its wake-up (a timer, a flag, ...).
pub(crate) fn park() -> Result<(), ParkError> {
    CTX.with(|c| {
        let c = c.borrow();
        let Some(c) = c.as_ref() else {
            return Err(ParkError::NotAWorker);
        };
        c.report
            .send((c.id, Report::Parked))
            .map_err(|_| ParkError::Aborted)?;
        loop {
            match c.rx.recv() {
                Ok(Cmd::Resume(true)) => return Ok(()),
                Ok(Cmd::Resume(false)) | Err(_) => return Err(ParkError::Aborted),
                // A job cannot arrive while parked; the scheduler never sends one.
                Ok(Cmd::Run(_)) => continue,
                Ok(Cmd::Quit) => return Err(ParkError::Aborted),
            }
        }
    })
}

fn worker_main(ctx: Ctx) {
    CTX.with(|c| *c.borrow_mut() = Some(ctx));
    loop {
        let cmd = CTX.with(|c| c.borrow().as_ref().map(|c| c.rx.recv()));
        match cmd {
            Some(Ok(Cmd::Run(job))) => {
                let report = match catch_unwind(AssertUnwindSafe(job)) {
                    Ok(()) => Report::Finished,
                    Err(p) => Report::Panicked(panic_message(p.as_ref())),
                };
                let sent = CTX.with(|c| {
                    let c = c.borrow();
                    let c = c.as_ref().expect("worker context");
                    c.report.send((c.id, report)).is_ok()
                });
                if !sent {
                    return;
                }
            }
            Some(Ok(Cmd::Resume(_))) => continue,
            _ => return,
        }
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_owned()
    }
}

struct Worker {
    tx: Sender<Cmd>,
    handle: Option<JoinHandle<()>>,
    parked: bool,
}

/// The scheduler's side: a pool of workers.
pub(crate) struct Pool {
    workers: Vec<Worker>,
    report_tx: Sender<(usize, Report)>,
    report_rx: Receiver<(usize, Report)>,
    hang: Duration,
    /// Set once a worker failed to give the baton back: nothing more runs.
    pub(crate) hung: bool,
}

/// The baton did not come back in time.
#[derive(Debug)]
pub(crate) struct Hang;

impl Pool {
    pub(crate) fn new(hang: Duration) -> Self {
        let (report_tx, report_rx) = channel();
        Pool {
            workers: Vec::new(),
            report_tx,
            report_rx,
            hang,
            hung: false,
        }
    }

    /// Runs `job` on an idle worker (the lowest-numbered, for determinism
    /// of worker ids) and waits for the baton.
    pub(crate) fn run(&mut self, job: Job) -> Result<(usize, Report), Hang> {
        let id = match self.workers.iter().position(|w| !w.parked) {
            Some(id) => id,
            None => self.spawn(),
        };
        let _ = self.workers[id].tx.send(Cmd::Run(job));
        self.wait(id)
    }

    /// Resumes the parked worker `id` (`go = false`: abort it).
    pub(crate) fn resume(&mut self, id: usize, go: bool) -> Result<(usize, Report), Hang> {
        debug_assert!(self.workers[id].parked);
        let _ = self.workers[id].tx.send(Cmd::Resume(go));
        self.wait(id)
    }

    fn wait(&mut self, id: usize) -> Result<(usize, Report), Hang> {
        match self.report_rx.recv_timeout(self.hang) {
            Ok((from, report)) => {
                debug_assert_eq!(from, id, "only the worker holding the baton reports");
                self.workers[from].parked = matches!(report, Report::Parked);
                Ok((from, report))
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                self.hung = true;
                Err(Hang)
            }
        }
    }

    fn spawn(&mut self) -> usize {
        let id = self.workers.len();
        let (tx, rx) = channel();
        let ctx = Ctx {
            id,
            rx,
            report: self.report_tx.clone(),
        };
        let handle = std::thread::Builder::new()
            .name(format!("orc-sim-{id}"))
            .spawn(move || worker_main(ctx))
            .expect("spawning a simulation worker thread");
        self.workers.push(Worker {
            tx,
            handle: Some(handle),
            parked: false,
        });
        id
    }

    /// Workers currently parked.
    pub(crate) fn parked(&self) -> Vec<usize> {
        (0..self.workers.len())
            .filter(|&i| self.workers[i].parked)
            .collect()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for w in &self.workers {
            let _ = w.tx.send(Cmd::Quit);
        }
        if self.hung {
            // A worker is stuck inside the runtime: joining would hang too.
            return;
        }
        for w in &mut self.workers {
            if let Some(h) = w.handle.take() {
                let _ = h.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn one_thread_at_a_time_with_park_and_resume() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut pool = Pool::new(Duration::from_secs(5));
        let l = log.clone();
        let (id, r) = pool
            .run(Box::new(move || {
                l.lock().unwrap().push("a1");
                park().unwrap();
                l.lock().unwrap().push("a2");
            }))
            .unwrap();
        assert!(matches!(r, Report::Parked));
        let l = log.clone();
        let (id2, r) = pool
            .run(Box::new(move || l.lock().unwrap().push("b")))
            .unwrap();
        assert_ne!(id, id2);
        assert!(matches!(r, Report::Finished));
        assert_eq!(pool.parked(), [id]);
        let (_, r) = pool.resume(id, true).unwrap();
        assert!(matches!(r, Report::Finished));
        assert_eq!(*log.lock().unwrap(), ["a1", "b", "a2"]);
        assert!(park().is_err(), "the test thread is not a worker");
    }

    #[test]
    fn abort_and_panics_are_reported() {
        let mut pool = Pool::new(Duration::from_secs(5));
        let (id, _) = pool
            .run(Box::new(|| assert_eq!(park(), Err(ParkError::Aborted))))
            .unwrap();
        let (_, r) = pool.resume(id, false).unwrap();
        assert!(matches!(r, Report::Finished));
        let (_, r) = pool
            .run(Box::new(|| std::panic::panic_any("[sim] boom".to_owned())))
            .unwrap();
        assert!(matches!(r, Report::Panicked(m) if m == "[sim] boom"));
    }

    #[test]
    fn a_stuck_worker_is_a_hang() {
        let mut pool = Pool::new(Duration::from_millis(50));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let r = pool.run(Box::new(move || {
            let _ = rx.recv();
        }));
        assert!(r.is_err());
        assert!(pool.hung);
        drop(tx);
    }
}
