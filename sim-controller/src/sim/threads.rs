//! Simulated threads on real OS threads, one running at a time.
//!
//! Everything the simulation does (a message delivery, a task, a step of
//! JIT'd code) runs on a worker thread, and a single *baton* says which
//! worker may run. The worker holding the baton runs the scheduling loop
//! itself and executes what the loop picks inline, so most steps cost no
//! thread switch at all. JIT'd code that waits *parks* its worker, keeping
//! its stack (and the task and guards on it) live: before blocking, the
//! parking worker hands the scheduling loop to an idle worker. Resuming a
//! parked thread hands the baton over to it; its loop frame, below the job
//! it was running, carries on scheduling once that job returns.
//!
//! The run's own thread only starts the loop and waits for it to go quiet,
//! watching progress: if the runtime deadlocks, the baton never comes back,
//! no step is taken, and the run is reported as hung instead of hanging.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Work for a worker.
pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;

/// The scheduling loop a worker runs while it holds the baton.
pub(crate) type Looper = Arc<dyn Fn() + Send + Sync + 'static>;

enum Cmd {
    /// Run the job, then the scheduling loop.
    Run(Job),
    /// Wake a parked worker (`false`: abort it).
    Resume(bool),
    Quit,
}

/// Why a thread could not suspend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParkError {
    /// Resumed with an abort.
    Aborted,
    /// Not on a simulation worker (e.g. inside a real extra thread).
    NotAWorker,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Idle,
    Busy,
    Parked,
}

struct Worker {
    tx: Sender<Cmd>,
    slot: Slot,
    handle: Option<JoinHandle<()>>,
}

struct Shared {
    workers: Mutex<Vec<Worker>>,
    /// The current run's loop (workers are reused from run to run).
    looper: Mutex<Option<Looper>>,
    quiet: Sender<()>,
}

impl Shared {
    fn workers(&self) -> std::sync::MutexGuard<'_, Vec<Worker>> {
        self.workers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Gives `cmd` to an idle worker (spawning one if none is idle).
    fn give(self: &Arc<Self>, cmd: Cmd) {
        let mut ws = self.workers();
        let id = match ws.iter().position(|w| w.slot == Slot::Idle) {
            Some(id) => id,
            None => {
                let id = ws.len();
                let (tx, rx) = channel();
                let shared = self.clone();
                let handle = std::thread::Builder::new()
                    .name(format!("orc-sim-{id}"))
                    .spawn(move || worker_main(id, rx, shared))
                    .expect("spawning a simulation worker thread");
                ws.push(Worker {
                    tx,
                    slot: Slot::Idle,
                    handle: Some(handle),
                });
                id
            }
        };
        ws[id].slot = Slot::Busy;
        let _ = ws[id].tx.send(cmd);
    }

    fn set(&self, id: usize, slot: Slot) {
        self.workers()[id].slot = slot;
    }

    fn looper(&self) -> Looper {
        self.looper
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .expect("a run has set its scheduling loop")
    }
}

struct Ctx {
    id: usize,
    rx: Receiver<Cmd>,
    shared: Arc<Shared>,
}

thread_local! {
    static CTX: RefCell<Option<Ctx>> = const { RefCell::new(None) };
}

/// The id of the worker this code runs on, if any.
pub(crate) fn current() -> Option<usize> {
    CTX.with(|c| c.borrow().as_ref().map(|c| c.id))
}

/// Suspends the calling worker until it is resumed. The caller must
/// already have arranged its wake-up (a timer, a flag, ...). The
/// scheduling loop goes on on another worker meanwhile.
pub(crate) fn park() -> Result<(), ParkError> {
    CTX.with(|c| {
        let c = c.borrow();
        let Some(c) = c.as_ref() else {
            return Err(ParkError::NotAWorker);
        };
        c.shared.set(c.id, Slot::Parked);
        let looper = c.shared.looper();
        c.shared.give(Cmd::Run(Box::new(move || looper())));
        loop {
            match c.rx.recv() {
                Ok(Cmd::Resume(go)) => {
                    c.shared.set(c.id, Slot::Busy);
                    return if go { Ok(()) } else { Err(ParkError::Aborted) };
                }
                // Nothing else is sent to a parked worker.
                Ok(Cmd::Run(_)) => continue,
                Ok(Cmd::Quit) => {
                    // The pool is going. The job may park again before it
                    // returns to the worker's loop, which must see the
                    // Quit too, or the pool's drop would wait for it
                    // forever: put it back for the next wait.
                    let _ = c.shared.workers()[c.id].tx.send(Cmd::Quit);
                    return Err(ParkError::Aborted);
                }
                Err(_) => return Err(ParkError::Aborted),
            }
        }
    })
}

/// From the scheduling loop: hands the baton to the parked worker `id`.
/// The caller must return from the loop right after, touching nothing.
pub(crate) fn resume(id: usize) {
    CTX.with(|c| {
        let c = c.borrow();
        let c = c.as_ref().expect("the scheduling loop runs on a worker");
        let ws = c.shared.workers();
        let _ = ws[id].tx.send(Cmd::Resume(true));
    });
}

/// From the scheduling loop: nothing is left to run; tell the run's thread.
pub(crate) fn quiet() {
    CTX.with(|c| {
        if let Some(c) = c.borrow().as_ref() {
            let _ = c.shared.quiet.send(());
        }
    });
}

fn worker_main(id: usize, rx: Receiver<Cmd>, shared: Arc<Shared>) {
    CTX.with(|c| *c.borrow_mut() = Some(Ctx { id, rx, shared }));
    loop {
        let cmd = CTX.with(|c| c.borrow().as_ref().map(|c| c.rx.recv()));
        match cmd {
            Some(Ok(Cmd::Run(job))) => {
                // The job and the loop contain their own panics; this is
                // only a last line of defence for the worker.
                let _ = catch_unwind(AssertUnwindSafe(job));
                CTX.with(|c| {
                    if let Some(c) = c.borrow().as_ref() {
                        c.shared.set(c.id, Slot::Idle);
                    }
                });
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

/// The run's side: starts the loop, waits for quiet, resumes from outside.
pub(crate) struct Pool {
    shared: Arc<Shared>,
    quiet: Receiver<()>,
    hang: Duration,
    /// Set once the baton did not come back: nothing more runs.
    pub(crate) hung: bool,
}

/// The baton did not come back in time.
#[derive(Debug)]
pub(crate) struct Hang;

impl Pool {
    /// A pool whose workers run `looper` while they hold the baton.
    pub(crate) fn new(hang: Duration, looper: Looper) -> Self {
        let (tx, quiet) = channel();
        Pool {
            shared: Arc::new(Shared {
                workers: Mutex::new(Vec::new()),
                looper: Mutex::new(Some(looper)),
                quiet: tx,
            }),
            quiet,
            hang,
            hung: false,
        }
    }

    /// Reuses the pool (its threads) for another run with its own loop.
    pub(crate) fn reset(&mut self, hang: Duration, looper: Option<Looper>) {
        self.hang = hang;
        *self.shared.looper.lock().unwrap_or_else(|e| e.into_inner()) = looper;
        while self.quiet.try_recv().is_ok() {}
    }

    /// Runs `job` on a worker, then the scheduling loop, and waits until
    /// nothing is left to run. `progress` must change while work goes on.
    pub(crate) fn run(&mut self, job: Job, progress: impl Fn() -> Option<u64>) -> Result<(), Hang> {
        let looper = self.shared.looper();
        self.shared.give(Cmd::Run(Box::new(move || {
            job();
            looper();
        })));
        self.wait_quiet(progress)
    }

    /// Resumes the parked worker `id` from outside the loop (`go = false`:
    /// abort it) and waits until nothing is left to run.
    pub(crate) fn resume(
        &mut self,
        id: usize,
        go: bool,
        progress: impl Fn() -> Option<u64>,
    ) -> Result<(), Hang> {
        {
            let ws = self.shared.workers();
            let _ = ws[id].tx.send(Cmd::Resume(go));
        }
        self.wait_quiet(progress)
    }

    fn wait_quiet(&mut self, progress: impl Fn() -> Option<u64>) -> Result<(), Hang> {
        let mut last = progress();
        let mut since = Instant::now();
        loop {
            match self.quiet.recv_timeout(Duration::from_millis(50)) {
                Ok(()) => return Ok(()),
                Err(RecvTimeoutError::Timeout) => {
                    let now = progress();
                    if now.is_some() && now != last {
                        last = now;
                        since = Instant::now();
                    } else if since.elapsed() >= self.hang {
                        self.hung = true;
                        return Err(Hang);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.hung = true;
                    return Err(Hang);
                }
            }
        }
    }

    /// Workers currently parked.
    pub(crate) fn parked(&self) -> Vec<usize> {
        let ws = self.shared.workers();
        (0..ws.len())
            .filter(|&i| ws[i].slot == Slot::Parked)
            .collect()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let handles: Vec<JoinHandle<()>> = {
            let mut ws = self.shared.workers();
            for w in ws.iter() {
                let _ = w.tx.send(Cmd::Quit);
            }
            ws.iter_mut().filter_map(|w| w.handle.take()).collect()
        };
        if self.hung {
            // A worker is stuck inside the runtime: joining would hang too.
            return;
        }
        for h in handles {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A tiny scheduler for the tests: a queue of jobs and resumes.
    struct Mini {
        queue: Mutex<std::collections::VecDeque<Result<Job, usize>>>,
        steps: AtomicU64,
    }

    fn looper(m: &Arc<Mini>) -> Looper {
        let m = m.clone();
        Arc::new(move || {
            loop {
                let next = m.queue.lock().unwrap().pop_front();
                m.steps.fetch_add(1, Ordering::Relaxed);
                match next {
                    Some(Ok(job)) => job(),
                    Some(Err(id)) => {
                        resume(id);
                        return;
                    }
                    None => {
                        quiet();
                        return;
                    }
                }
            }
        })
    }

    #[test]
    fn one_thread_at_a_time_with_park_and_resume() {
        let m = Arc::new(Mini {
            queue: Mutex::new(Default::default()),
            steps: AtomicU64::new(0),
        });
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut pool = Pool::new(Duration::from_secs(5), looper(&m));
        let (l, mm) = (log.clone(), m.clone());
        let progress = || Some(m.steps.load(Ordering::Relaxed));
        pool.run(
            Box::new(move || {
                l.lock().unwrap().push("a1");
                // Schedule "b", then our own resume, then park.
                let l2 = l.clone();
                mm.queue
                    .lock()
                    .unwrap()
                    .push_back(Ok(Box::new(move || l2.lock().unwrap().push("b"))));
                mm.queue.lock().unwrap().push_back(Err(current().unwrap()));
                park().unwrap();
                l.lock().unwrap().push("a2");
            }),
            progress,
        )
        .unwrap();
        assert_eq!(*log.lock().unwrap(), ["a1", "b", "a2"]);
        assert!(pool.parked().is_empty());
        assert!(park().is_err(), "the test thread is not a worker");
    }

    #[test]
    fn abort_from_outside() {
        let m = Arc::new(Mini {
            queue: Mutex::new(Default::default()),
            steps: AtomicU64::new(0),
        });
        let mut pool = Pool::new(Duration::from_secs(5), looper(&m));
        let seen = Arc::new(Mutex::new(None));
        let s = seen.clone();
        let progress = || Some(m.steps.load(Ordering::Relaxed));
        pool.run(
            Box::new(move || *s.lock().unwrap() = Some(park())),
            progress,
        )
        .unwrap();
        let parked = pool.parked();
        assert_eq!(parked.len(), 1);
        pool.resume(parked[0], false, progress).unwrap();
        assert_eq!(*seen.lock().unwrap(), Some(Err(ParkError::Aborted)));
    }

    #[test]
    fn a_stuck_worker_is_a_hang() {
        let m = Arc::new(Mini {
            queue: Mutex::new(Default::default()),
            steps: AtomicU64::new(0),
        });
        let mut pool = Pool::new(Duration::from_millis(100), looper(&m));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let r = pool.run(
            Box::new(move || {
                let _ = rx.recv();
            }),
            || Some(0),
        );
        assert!(r.is_err());
        assert!(pool.hung);
        drop(tx);
    }
}
