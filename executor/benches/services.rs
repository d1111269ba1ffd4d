//! The executor services' wire handlers called in process: what one
//! controller request costs the executor apart from the transport (the
//! same SPS decoding, service logic and OS calls as over the wire; the
//! epc-bench figures of `benches/compare-epc.sh` add the round trip).
//!
//! - `services/real/*`: on the process's own OS, as `orc-executor` runs
//!   them: a memory-manager cycle (reserve, initialize RX 64 B + RW 64 B,
//!   deinitialize, release: epc-bench's `memmgr_cycle`), a `u64` write and
//!   read through memory access, a lookup of `{printf, malloc}` in the
//!   process (`dylib_lookup`).
//! - `services/simulated/*`: the same on a `SimulatedOs`, for how fast a
//!   simulated run's services are.
//!
//! Run: `cargo bench -p orc-executor --bench services`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use orc_executor::os::{Os, RealOs, SimulatedOs};
use orc_executor::services::alloc_actions::ActionCaller;
use orc_executor::services::dylib_manager::{self, DylibManager};
use orc_executor::services::memory_access::{self, MemoryAccess};
use orc_executor::services::memory_manager::{self, MemoryManager};
use orc_executor::services::names;
use orc_executor::services::types::{AllocGroup, FinalizeRequest, MemProt, SegmentRequest};
use orc_rt::sps;
use orc_rt::wrapper::WrapperTable;
use orc_rt::{Error, ExecutorAddr};

/// Calls `name` in `table` as the controller would, checking the answer.
fn call(table: &WrapperTable, name: &str, args: &[u8]) -> Vec<u8> {
    let r = table.call_here(name, args).expect("answers on the spot");
    assert!(!r.is_error(), "{name}: {:?}", r.error_message());
    r.bytes().to_vec()
}

/// One reserve / initialize / deinitialize / release cycle.
fn memmgr_cycle(table: &WrapperTable, instance: ExecutorAddr, page: u64) {
    let base = call(
        table,
        names::MEMORY_MANAGER_RESERVE,
        &sps::to_vec(&(instance, page * 2)),
    );
    let base: Result<ExecutorAddr, Error> = sps::from_bytes(&base).unwrap();
    let base = base.unwrap();
    let code = [0xc3u8; 64];
    let data = [7u8; 64];
    let req = FinalizeRequest {
        segments: vec![
            SegmentRequest {
                group: AllocGroup::from(MemProt::READ | MemProt::EXEC),
                addr: base,
                size: 64,
                content: &code,
            },
            SegmentRequest {
                group: AllocGroup::from(MemProt::READ | MemProt::WRITE),
                addr: base + page,
                size: 64,
                content: &data,
            },
        ],
        actions: vec![],
    };
    let key = call(
        table,
        names::MEMORY_MANAGER_INITIALIZE,
        &sps::to_vec(&(instance, req)),
    );
    let key: Result<ExecutorAddr, Error> = sps::from_bytes(&key).unwrap();
    let key = key.unwrap();
    call(
        table,
        names::MEMORY_MANAGER_DEINITIALIZE,
        &sps::to_vec(&(instance, vec![key])),
    );
    call(
        table,
        names::MEMORY_MANAGER_RELEASE,
        &sps::to_vec(&(instance, vec![base])),
    );
}

/// The three services on `os`, as group `name`.
fn bench_on<O: Os>(c: &mut Criterion, name: &str, os: O, actions: ActionCaller) {
    let mut g = c.benchmark_group(name);
    let page = os.page_size();
    let mm = Arc::new(MemoryManager::new_in(os.clone(), actions));
    let mm_table = memory_manager::sps_ci::wrapper_functions(&mm);
    g.bench_function("memmgr_cycle", |b| {
        b.iter(|| memmgr_cycle(&mm_table, mm.instance(), page))
    });

    let base = mm.reserve(page).unwrap();
    let ma = Arc::new(MemoryAccess::new_in(os.clone(), vec![mm.clone()]));
    let ma_table = memory_access::sps_ci::wrapper_functions(&ma);
    let write = sps::to_vec(&vec![(base + 8, 0x1234_5678u64)]);
    g.bench_function("write_u64", |b| {
        b.iter(|| black_box(call(&ma_table, names::WRITE_UINT64S, &write)))
    });
    let read = sps::to_vec(&vec![base + 8]);
    g.bench_function("read_u64", |b| {
        b.iter(|| black_box(call(&ma_table, names::READ_UINT64S, &read)))
    });

    let dm = Arc::new(DylibManager::new_in(os).unwrap());
    let dm_table = dylib_manager::sps_ci::wrapper_functions(&dm);
    let lookup = sps::to_vec(&(
        dm.process_handle(),
        vec![("printf", true), ("malloc", true)],
    ));
    g.bench_function("dylib_lookup", |b| {
        b.iter(|| black_box(call(&dm_table, names::DYLIB_MANAGER_RESOLVE, &lookup)))
    });
    g.finish();
}

fn real(c: &mut Criterion) {
    bench_on(c, "services/real", RealOs, ActionCaller::legacy());
}

fn simulated(c: &mut Criterion) {
    let os = SimulatedOs::new(0);
    os.add_process_symbols([
        ("printf", ExecutorAddr::new(0x10)),
        ("malloc", ExecutorAddr::new(0x20)),
    ]);
    bench_on(
        c,
        "services/simulated",
        os.clone(),
        ActionCaller::through(os),
    );
}

criterion_group!(benches, real, simulated);
criterion_main!(benches);
