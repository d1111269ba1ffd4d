//! The executor services on a `SimulatedOs`, driven the way orc-sim drives
//! them: a session whose services are installed with
//! `ExecutorServices::install_with(&session, ServiceOptions::new_in(os))`,
//! and a controller that calls them by their bootstrap names. A run is
//! reproducible (same seed, same transcript, addresses included; no real
//! address is published) and isolated (runs on parallel threads, on the
//! same seed, see only their own memory).
#![cfg(not(orc_rt_loom))]

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use orc_executor::os::{Os, SimulatedFunction, SimulatedOs};
use orc_executor::services::types::{
    AllocAction, AllocActionPair, AllocGroup, ExecutorSymbolDef, FinalizeRequest, MemProt,
    SegmentRequest,
};
use orc_executor::services::{ExecutorServices, ServiceOptions, names};
use orc_rt::controller_access::{ControllerReply, InProcessControllerAccess};
use orc_rt::dispatcher::InlineDispatcher;
use orc_rt::session::ProcessInfo;
use orc_rt::sps::{self, SpsDecode, SpsEncode};
use orc_rt::{
    BootstrapInfo, Error, ExecutorAddr, ExecutorAddrRange, Session, WrapperFunctionBuffer,
};

const TIMEOUT: Duration = Duration::from_secs(10);

/// The controller's side of one run.
struct Controller {
    ca: Arc<InProcessControllerAccess>,
    bootstrap: BootstrapInfo,
}

impl Controller {
    fn addr(&self, name: &str) -> ExecutorAddr {
        self.bootstrap
            .symbols
            .get(name)
            .unwrap_or_else(|| panic!("{name} is published"))
    }

    /// Calls the wrapper function published as `name` and decodes its
    /// result as `R`.
    fn call<R: for<'a> SpsDecode<'a>>(&self, name: &str, args: &impl SpsEncode) -> R {
        let (tx, rx) = mpsc::channel();
        self.ca
            .call_executor(
                self.addr(name),
                WrapperFunctionBuffer::from(sps::to_vec(args)),
                move |r| tx.send(r).unwrap(),
            )
            .unwrap();
        let result = rx.recv_timeout(TIMEOUT).expect("a result");
        assert!(!result.is_error(), "{name}: {:?}", result.error_message());
        sps::from_bytes(result.bytes()).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
}

/// One run on a fresh `SimulatedOs` with `seed`: what a JIT'd program's
/// life looks like to the services (reserve, write, initialize with alloc
/// actions that register an EH frame, read back, open a library, run its
/// main, release, shut down), as a transcript with raw addresses.
fn run(seed: u64) -> (Vec<String>, SimulatedOs) {
    let os = SimulatedOs::new(seed);
    let log = Arc::new(Mutex::new(Vec::new()));
    let action = |what: &'static str| {
        let log = log.clone();
        os.define_function(SimulatedFunction::wrapper(move |args| {
            log.lock()
                .unwrap()
                .push(format!("{what} {} bytes", args.len()));
            WrapperFunctionBuffer::from(sps::to_vec(&Ok::<(), Error>(())))
        }))
    };
    let (finalize, dealloc) = (action("finalize"), action("dealloc"));
    let main = os.define_function(SimulatedFunction::main(|argv| argv.len() as i32 + 40));
    os.add_library("libdemo.so", [("demo_main", main)]);

    let session = Session::builder()
        .dispatcher(InlineDispatcher)
        .process_info(ProcessInfo::new(
            "x86_64-unknown-linux-gnu",
            os.page_size() as usize,
        ))
        .build()
        .unwrap();
    let (services, bootstrap) =
        ExecutorServices::install_with(&session, ServiceOptions::new_in(os.clone())).unwrap();
    let mut t: Vec<String> = bootstrap
        .symbols
        .iter()
        .map(|(name, addr)| format!("symbol {name} = {addr}"))
        .collect();
    // The services never call the controller.
    let ca = InProcessControllerAccess::attach(
        &session,
        bootstrap.clone(),
        |_, _, reply: ControllerReply| reply.send(WrapperFunctionBuffer::empty()),
    )
    .unwrap();
    let c = Controller { ca, bootstrap };
    let mm = c.addr(names::MEMORY_MANAGER_INSTANCE);
    let page = os.page_size();

    let base: Result<ExecutorAddr, Error> = c.call(names::MEMORY_MANAGER_RESERVE, &(mm, page * 3));
    let base = base.unwrap();
    t.push(format!("reserved {base}"));

    // Written through memory access, as the controller's
    // InProcessMemoryAccess does before it initializes.
    c.call::<()>(names::WRITE_BUFFERS, &vec![(base + page, &b"data"[..])]);
    c.call::<()>(
        names::WRITE_UINT64S,
        &vec![(base + page + 8, 0x1122_3344u64)],
    );

    let section = ExecutorAddrRange::from_size(base + page * 2, 8).unwrap();
    let range_args = WrapperFunctionBuffer::from(sps::to_vec(&section));
    let req = FinalizeRequest {
        segments: vec![
            SegmentRequest {
                group: AllocGroup::from(MemProt::READ | MemProt::EXEC),
                addr: base,
                size: page,
                content: b"code",
            },
            SegmentRequest {
                group: AllocGroup::from(MemProt::READ | MemProt::WRITE),
                addr: base + page,
                size: page * 2,
                // Initialize writes the whole segment: what memory access
                // wrote is replaced.
                content: b"DATA",
            },
        ],
        actions: vec![
            AllocActionPair {
                finalize: AllocAction::new(c.addr(names::REGISTER_EH_FRAME), range_args.clone()),
                dealloc: AllocAction::new(c.addr(names::DEREGISTER_EH_FRAME), range_args),
            },
            AllocActionPair {
                finalize: AllocAction::new(finalize, WrapperFunctionBuffer::copy_from(b"f")),
                dealloc: AllocAction::new(dealloc, WrapperFunctionBuffer::copy_from(b"dd")),
            },
        ],
    };
    let key: Result<ExecutorAddr, Error> = c.call(names::MEMORY_MANAGER_INITIALIZE, &(mm, req));
    t.push(format!("initialized {}", key.unwrap()));
    t.push(format!("eh frames {:?}", os.eh_frames()));

    let read: Vec<Vec<u8>> = c.call(
        names::READ_BUFFERS,
        &vec![
            ExecutorAddrRange::new(base, base + 6),
            ExecutorAddrRange::new(base + page, base + page + 12),
            ExecutorAddrRange::new(base + 7, base + 7),
        ],
    );
    t.push(format!("read {read:?}"));
    let strings: Vec<String> = c.call(names::READ_STRINGS, &vec![base]);
    t.push(format!("strings {strings:?}"));

    let dm = c.addr(names::DYLIB_MANAGER_INSTANCE);
    let lib: Result<ExecutorAddr, Error> =
        c.call(names::DYLIB_MANAGER_OPEN, &(dm, "libdemo.so", 0u64));
    let lib = lib.unwrap();
    let found: Result<Vec<Option<ExecutorSymbolDef>>, Error> = c.call(
        names::DYLIB_MANAGER_RESOLVE,
        &(lib, vec![("demo_main", true), ("missing", false)]),
    );
    let found = found.unwrap();
    t.push(format!("library {lib}: {found:?}"));
    let status: i64 = c.call(
        names::RUN_AS_MAIN,
        &(found[0].unwrap().addr, vec!["demo", "arg"]),
    );
    t.push(format!("main returned {status}"));

    let released: Result<(), Error> = c.call(names::MEMORY_MANAGER_RELEASE, &(mm, vec![base]));
    released.unwrap();
    t.push(format!(
        "released; eh frames {:?}, counts {:?}",
        os.eh_frames(),
        os.eh_frame_counts()
    ));
    t.extend(log.lock().unwrap().iter().cloned());

    c.ca.hangup(Ok(()));
    session.shutdown();
    let report = session.wait_for_shutdown().unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    t.push(format!("after shutdown {:?}", os.live_resources()));
    drop(services);
    (t, os)
}

#[test]
fn a_simulated_run_serves_the_controller_and_leaves_nothing_behind() {
    let (t, os) = run(1);
    let text = t.join("\n");
    let has = |s: &str| assert!(text.contains(s), "{s:?} missing from\n{text}");
    has("read [[99, 111, 100, 101, 0, 0], [68, 65, 84, 65, 0, 0, 0, 0, 0, 0, 0, 0], []]");
    has("strings [\"code\"]");
    has("main returned 42");
    has("finalize 1 bytes");
    has("dealloc 2 bytes");
    has("counts (1, 1)");
    has(
        "after shutdown LiveResources { regions: 0, shm_objects: 0, dylib_handles: 0, eh_frames: 0, dispatch_threads: 0 }",
    );
    assert!(os.eh_frames().is_empty());
    assert!(os.loaded_libraries().is_empty(), "closed at shutdown");
}

#[test]
fn only_simulated_addresses_are_published() {
    let (t, _) = run(2);
    let symbols: Vec<&String> = t.iter().filter(|l| l.starts_with("symbol ")).collect();
    assert!(symbols.len() > 40, "{symbols:?}");
    for line in symbols {
        let addr = line.rsplit(' ').next().unwrap();
        let addr = u64::from_str_radix(addr.trim_start_matches("0x"), 16).unwrap();
        assert!(
            (SimulatedOs::OBJECT_BASE..SimulatedOs::PROCESS_HANDLE).contains(&addr),
            "{line}: not a simulated object or function address"
        );
    }
}

#[test]
fn the_same_seed_gives_the_same_run_byte_for_byte() {
    let (one, _) = run(5);
    let (two, _) = run(5);
    assert_eq!(one, two);
    let (other, _) = run(6);
    assert_ne!(one, other, "another seed places the memory elsewhere");
    let symbols = |t: &[String]| -> Vec<String> {
        t.iter()
            .filter(|l| l.starts_with("symbol "))
            .cloned()
            .collect()
    };
    assert_eq!(
        symbols(&one),
        symbols(&other),
        "and publishes the same symbols"
    );
}

#[test]
fn parallel_runs_on_one_seed_are_isolated() {
    let (expected, _) = run(9);
    let runs: Vec<_> = (0..4).map(|_| std::thread::spawn(|| run(9).0)).collect();
    for r in runs {
        assert_eq!(r.join().unwrap(), expected);
    }
}
