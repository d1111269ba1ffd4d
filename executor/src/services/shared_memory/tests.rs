use super::*;
use crate::os::RealOs;
use crate::services::types::MemProt;
use crate::sys::memory::{Region, read_checked, write_checked};
use orc_rt::sps;
use orc_rt::wrapper::WrapperFunctionBuffer;

fn mapper() -> (SharedMemoryMapper, Arc<Mutex<Vec<u64>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let caller = ActionCaller::new(move |f, _| {
        lock(&l).push(f.value());
        WrapperFunctionBuffer::from(sps::to_vec(&Ok::<(), Error>(())))
    });
    (SharedMemoryMapper::new(caller), log)
}

fn pair(f: u64, d: u64) -> AllocActionPair {
    AllocActionPair {
        finalize: AllocAction::new(ExecutorAddr::new(f), WrapperFunctionBuffer::empty()),
        dealloc: AllocAction::new(ExecutorAddr::new(d), WrapperFunctionBuffer::empty()),
    }
}

#[test]
fn the_controller_s_view_and_ours_share_the_bytes() {
    let (sm, log) = mapper();
    let page = crate::sys::page_size();
    let (base, name) = sm.reserve(page * 2).unwrap();
    assert!(name.starts_with("/orc_rt_"));
    // The controller's side: open the object by name and write through it.
    let theirs = Region::open_shared(&name, page * 2).unwrap();
    write_checked([&theirs].into_iter(), &[(theirs.range().start, b"shared")]).unwrap();
    let ro = AllocGroup::from(MemProt::READ);
    let key = sm
        .initialize(
            base,
            &[
                (ro, base, 6),
                (
                    AllocGroup::from(MemProt::READ | MemProt::EXEC),
                    base + page,
                    1,
                ),
            ],
            &[pair(1, 11)],
        )
        .unwrap();
    assert_eq!(key, base);
    let mut got = [0u8; 6];
    read_checked(&mut [(base, &mut got[..])]).unwrap();
    assert_eq!(&got, b"shared");
    let r = sm
        .region_containing(ExecutorAddrRange::from_size(base, 1).unwrap())
        .unwrap();
    assert!(
        RealOs.write(&[&r], &[(base, b"x")]).is_err(),
        "read-only now"
    );
    drop(r);
    sm.deinitialize(&[key]).unwrap();
    assert_eq!(*lock(&log), [1, 11]);
    // An unknown key is a no-op, as in LLVM 22 (its memory manager
    // deinitializes what a failed link never initialized).
    sm.deinitialize(&[key]).unwrap();
    sm.deinitialize(&[ExecutorAddr::new(0x1000)]).unwrap();
    assert_eq!(*lock(&log), [1, 11]);
    sm.release(&[base]).unwrap();
    assert_eq!(sm.reservation_count(), 0);
    drop(theirs);
}

#[test]
fn segments_outside_the_reservation_and_unknown_bases_are_errors() {
    let (sm, log) = mapper();
    let page = crate::sys::page_size();
    let (base, _) = sm.reserve(page).unwrap();
    let rw = AllocGroup::from(MemProt::READ | MemProt::WRITE);
    assert!(sm.initialize(base, &[(rw, base + page, 1)], &[]).is_err());
    assert!(
        sm.initialize(base, &[(rw, ExecutorAddr::new(0x1000), 1)], &[])
            .is_err()
    );
    assert!(
        sm.initialize(ExecutorAddr::new(0x1000), &[(rw, base, 1)], &[])
            .is_err()
    );
    assert!(sm.initialize(base, &[], &[]).is_err());
    assert!(sm.release(&[ExecutorAddr::new(0x1000)]).is_err());
    assert!(lock(&log).is_empty());
    // Release runs what is still initialized.
    sm.initialize(base, &[(rw, base, page)], &[pair(2, 12)])
        .unwrap();
    sm.release_all().unwrap();
    assert_eq!(*lock(&log), [2, 12]);
    assert!(sm.reserve(0).is_err());
}

#[test]
fn on_a_simulated_os_the_controller_writes_through_the_object() {
    use crate::os::{SimulatedFunction, SimulatedOs};
    let os = SimulatedOs::new(4);
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let dealloc = os.define_function(SimulatedFunction::wrapper(move |_| {
        lock(&l).push("dealloc");
        WrapperFunctionBuffer::empty()
    }));
    let sm = SharedMemoryMapper::new_in(os.clone(), ActionCaller::through(os.clone()));
    let (base, name) = sm.reserve(8192).unwrap();
    assert_eq!(name, "/orc_rt_sim_1");
    os.write_shared_object(&name, 0, b"shared").unwrap();
    let key = sm
        .initialize(
            base,
            &[(AllocGroup::from(MemProt::READ), base, 6)],
            &[AllocActionPair {
                finalize: AllocAction::none(),
                dealloc: AllocAction::new(dealloc, WrapperFunctionBuffer::empty()),
            }],
        )
        .unwrap();
    let mut got = [0u8; 6];
    os.read(&mut [(base, &mut got[..])]).unwrap();
    assert_eq!(&got, b"shared");
    assert_eq!(os.live_resources().shm_objects, 1);
    sm.deinitialize(&[key]).unwrap();
    assert_eq!(*lock(&log), ["dealloc"]);
    sm.release(&[base]).unwrap();
    assert_eq!(os.live_resources(), Default::default());
}

#[test]
fn two_mappers_of_one_process_never_share_a_name() {
    let (a, _) = mapper();
    let (b, _) = mapper();
    let page = crate::sys::page_size();
    let (_, first) = a.reserve(page).unwrap();
    let (_, second) = b.reserve(page).unwrap();
    assert_ne!(first, second);
    a.release_all().unwrap();
    b.release_all().unwrap();
}
