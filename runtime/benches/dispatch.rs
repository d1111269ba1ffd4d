//! Dispatching an empty task: the session's thread pool against a thread
//! spawned per task (what LLVM 22's executor does for each call), in the
//! same run. Each iteration dispatches one task; a batch waits until every
//! task of the batch ran. Criterion prints time per task; tasks per second
//! is its inverse (also printed as throughput).
//!
//! Run: `cargo bench -p orc-rt --bench dispatch`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use orc_rt::Session;
use orc_rt::dispatcher::{QueueingDispatcher, TaskDispatcher, ThreadPoolDispatcher};

/// Counts finished tasks; `wait(n)` blocks until `n` have finished.
#[derive(Default)]
struct Done {
    n: Mutex<u64>,
    cv: Condvar,
}

impl Done {
    fn one(&self) {
        *self.n.lock().unwrap() += 1;
        self.cv.notify_all();
    }
    fn wait(&self, n: u64) {
        let mut got = self.n.lock().unwrap();
        while *got < n {
            got = self.cv.wait(got).unwrap();
        }
        *got = 0;
    }
}

fn dispatch(c: &mut Criterion) {
    let mut g = c.benchmark_group("dispatch/empty_task");
    g.throughput(Throughput::Elements(1));

    for workers in [1, 2] {
        let pool = ThreadPoolDispatcher::new(workers).unwrap();
        g.bench_function(format!("thread_pool_{workers}_workers"), |b| {
            b.iter_custom(|iters| {
                let done = Arc::new(AtomicU64::new(0));
                let start = Instant::now();
                for _ in 0..iters {
                    let d = done.clone();
                    pool.dispatch(Box::new(move || {
                        d.fetch_add(1, Ordering::Release);
                    }));
                }
                while done.load(Ordering::Acquire) < iters {
                    std::hint::spin_loop();
                    thread::yield_now();
                }
                start.elapsed()
            });
        });
        pool.shutdown();
    }

    // Through the session: guard per task, marker, dispatcher.
    let session = Session::builder().thread_pool_size(2).build().unwrap();
    g.bench_function("session_dispatch_pool_2_workers", |b| {
        b.iter_custom(|iters| {
            let done = Arc::new(AtomicU64::new(0));
            let start = Instant::now();
            for _ in 0..iters {
                let d = done.clone();
                session
                    .dispatch(move || {
                        d.fetch_add(1, Ordering::Release);
                    })
                    .unwrap();
            }
            while done.load(Ordering::Acquire) < iters {
                thread::yield_now();
            }
            start.elapsed()
        });
    });

    let queue = QueueingDispatcher::new();
    g.bench_function("queueing_dispatch+run", |b| {
        b.iter(|| {
            queue.dispatch(Box::new(|| {}));
            queue.run_next();
        });
    });

    let done = Arc::new(Done::default());
    g.bench_function("thread_spawn_per_task", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let d = done.clone();
                // Detached, as in LLVM's executor; the batch waits below.
                drop(thread::spawn(move || d.one()));
            }
            done.wait(iters);
            start.elapsed()
        });
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = dispatch
}
criterion_main!(benches);
