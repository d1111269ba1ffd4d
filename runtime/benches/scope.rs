//! Execution-scope guards: retain + release of an `ExecutionScopeGuard`,
//! uncontended and with a second thread hammering the same scope.
//!
//! Target (issue 3): ≤ 20 ns per retain/release pair uncontended.
//! Run: `cargo bench -p orc-rt --bench scope`.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use orc_rt::dispatcher::InlineDispatcher;
use orc_rt::{ExecutionScope, Session};

fn uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("scope/uncontended");
    let session = Session::builder()
        .dispatcher(InlineDispatcher)
        .build()
        .unwrap();
    g.bench_function("session_try_enter_scope+drop", |b| {
        b.iter(|| drop(black_box(session.try_enter_scope().unwrap())));
    });
    let source = session.scope_source();
    g.bench_function("scope_source_try_enter+drop", |b| {
        b.iter(|| drop(black_box(source.try_enter().unwrap())));
    });
    let held = session.try_enter_scope().unwrap();
    g.bench_function("guard_clone+drop", |b| {
        b.iter(|| drop(black_box(held.clone())));
    });
    g.bench_function("call_with_keepalive(empty)", |b| {
        b.iter(|| black_box(session.call_with_keepalive(|| black_box(1))));
    });
    drop(held);
    let scope = ExecutionScope::new();
    g.bench_function("bare_scope_try_enter+drop", |b| {
        b.iter(|| drop(black_box(scope.try_enter().unwrap())));
    });
    g.finish();
}

/// Measures pairs on this thread while `others` threads retain and release
/// the same scope in a loop.
fn contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("scope/2_threads");
    let session = Session::builder()
        .dispatcher(InlineDispatcher)
        .build()
        .unwrap();
    g.bench_function("try_enter_scope+drop", |b| {
        b.iter_custom(|iters| {
            let stop = Arc::new(AtomicBool::new(false));
            let (s, source) = (stop.clone(), session.scope_source());
            let other = thread::spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    drop(black_box(source.try_enter().unwrap()));
                }
            });
            // Let the other thread get going.
            thread::sleep(Duration::from_millis(1));
            let start = Instant::now();
            for _ in 0..iters {
                drop(black_box(session.try_enter_scope().unwrap()));
            }
            let elapsed = start.elapsed();
            stop.store(true, Ordering::Relaxed);
            other.join().unwrap();
            elapsed
        });
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = uncontended, contended
}
criterion_main!(benches);
