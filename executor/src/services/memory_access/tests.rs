use super::*;
use crate::os::SimulatedOs;
use crate::services::alloc_actions::ActionCaller;
use crate::services::names;
use crate::services::types::{AllocGroup, FinalizeRequest, SegmentRequest};
use orc_rt::sps;

fn setup() -> (Arc<MemoryAccess>, Arc<MemoryManager>, ExecutorAddr) {
    setup_in(RealOs)
}

/// Memory access on `os` over one memory manager with a two-page
/// reservation.
fn setup_in<O: Os>(os: O) -> (Arc<MemoryAccess<O>>, Arc<MemoryManager<O>>, ExecutorAddr) {
    let mm = Arc::new(MemoryManager::new_in(
        os.clone(),
        ActionCaller::through(os.clone()),
    ));
    let base = mm.reserve(os.page_size() * 2).unwrap();
    (
        Arc::new(MemoryAccess::new_in(os, vec![mm.clone()])),
        mm,
        base,
    )
}

/// Calls `name` of the service's binding, which answers on the spot.
fn call(
    table: &orc_rt::wrapper::WrapperTable,
    name: &str,
    args: &[u8],
) -> orc_rt::WrapperFunctionBuffer {
    table.call_here(name, args).expect("answers on the spot")
}

#[test]
fn typed_writes_and_reads_round_trip_through_the_wire_handlers() {
    round_trip(RealOs);
    round_trip(SimulatedOs::new(0));
}

fn round_trip<O: Os>(os: O) {
    let (ma, _mm, base) = setup_in(os);
    let t = sps_ci::wrapper_functions(&ma);
    let w = call(&t, names::WRITE_UINT8S, &sps::to_vec(&vec![(base, 0xabu8)]));
    assert!(w.is_empty() && !w.is_error());
    call(
        &t,
        names::WRITE_UINT16S,
        &sps::to_vec(&vec![(base + 2, 0x1234u16)]),
    );
    call(
        &t,
        names::WRITE_UINT32S,
        &sps::to_vec(&vec![(base + 4, 0xdead_beefu32)]),
    );
    call(
        &t,
        names::WRITE_UINT64S,
        &sps::to_vec(&vec![(base + 8, u64::MAX - 1)]),
    );
    call(
        &t,
        names::WRITE_POINTERS,
        &sps::to_vec(&vec![(base + 16, base)]),
    );
    call(
        &t,
        names::WRITE_BUFFERS,
        &sps::to_vec(&vec![(base + 24, &b"str\0"[..])]),
    );

    let r = call(&t, names::READ_UINT8S, &sps::to_vec(&vec![base]));
    assert_eq!(sps::from_bytes::<Vec<u8>>(r.bytes()).unwrap(), [0xab]);
    let r = call(&t, names::READ_UINT16S, &sps::to_vec(&vec![base + 2]));
    assert_eq!(sps::from_bytes::<Vec<u16>>(r.bytes()).unwrap(), [0x1234]);
    let r = call(&t, names::READ_UINT32S, &sps::to_vec(&vec![base + 4]));
    assert_eq!(
        sps::from_bytes::<Vec<u32>>(r.bytes()).unwrap(),
        [0xdead_beef]
    );
    let r = call(&t, names::READ_UINT64S, &sps::to_vec(&vec![base + 8]));
    assert_eq!(
        sps::from_bytes::<Vec<u64>>(r.bytes()).unwrap(),
        [u64::MAX - 1]
    );
    let r = call(&t, names::READ_POINTERS, &sps::to_vec(&vec![base + 16]));
    assert_eq!(
        sps::from_bytes::<Vec<ExecutorAddr>>(r.bytes()).unwrap(),
        [base]
    );
    let r = call(
        &t,
        names::READ_BUFFERS,
        &sps::to_vec(&vec![ExecutorAddrRange::new(base + 24, base + 27)]),
    );
    assert_eq!(
        sps::from_bytes::<Vec<Vec<u8>>>(r.bytes()).unwrap(),
        [b"str".to_vec()]
    );
    let r = call(&t, names::READ_STRINGS, &sps::to_vec(&vec![base + 24]));
    assert_eq!(sps::from_bytes::<Vec<String>>(r.bytes()).unwrap(), ["str"]);
}

#[test]
fn writes_outside_reservations_are_refused_before_writing_anything() {
    let (ma, _mm, base) = setup();
    let t = sps_ci::wrapper_functions(&ma);
    let mut local = [0u8; 4];
    let outside = ExecutorAddr::from_ptr(local.as_mut_ptr());
    let err = ma.write(&[(base, b"a"), (outside, b"b")]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.message().contains("outside any reservation"));
    assert_eq!(local, [0; 4]);
    let mut first = [9u8];
    ma.read(&mut [(base, &mut first[..])]).unwrap();
    assert_eq!(first, [0], "nothing written when one target is bad");
    let r = call(
        &t,
        names::WRITE_UINT8S,
        &sps::to_vec(&vec![(ExecutorAddr::new(16), 1u8)]),
    );
    assert!(r.is_error());
}

#[test]
fn writes_into_finalized_code_are_errors_not_crashes() {
    finalized_code_refuses_writes(RealOs);
    finalized_code_refuses_writes(SimulatedOs::new(0));
}

fn finalized_code_refuses_writes<O: Os>(os: O) {
    let page = os.page_size();
    let (ma, mm, base) = setup_in(os);
    let req = FinalizeRequest {
        segments: vec![SegmentRequest {
            group: AllocGroup::from_bits(5).unwrap(),
            addr: base,
            size: page,
            content: &[0xc3],
        }],
        actions: vec![],
    };
    mm.initialize(&req).unwrap();
    let err = ma.write(&[(base, b"x")]).unwrap_err();
    assert!(err.message().contains("cannot access"), "{}", err.message());
}

#[test]
fn reads_of_unmapped_memory_are_errors_and_huge_ranges_do_not_allocate() {
    let (ma, _mm, base) = setup();
    let t = sps_ci::wrapper_functions(&ma);
    let r = call(
        &t,
        names::READ_UINT64S,
        &sps::to_vec(&vec![ExecutorAddr::new(8)]),
    );
    assert!(r.is_error());
    // A range claiming nearly 2^64 bytes fails at the end of the mapping.
    let huge = ExecutorAddrRange::new(base, ExecutorAddr::new(u64::MAX));
    assert!(ma.read_range(huge).is_err());
    let r = call(
        &t,
        names::READ_STRINGS,
        &sps::to_vec(&vec![ExecutorAddr::new(8)]),
    );
    assert!(r.is_error());
}

/// An empty range (`start == end`) reads as no bytes wherever it is, as
/// LLVM's executor answers it (it copies nothing); a range ending before
/// it starts is an error.
fn empty_ranges_read_as_no_bytes<O: Os>(os: O) {
    let (ma, _mm, base) = setup_in(os);
    let t = sps_ci::wrapper_functions(&ma);
    for at in [base, base + 5, ExecutorAddr::new(0x10), ExecutorAddr::NULL] {
        assert_eq!(ma.read_range(ExecutorAddrRange::new(at, at)).unwrap(), b"");
        let r = call(
            &t,
            names::READ_BUFFERS,
            &sps::to_vec(&vec![
                ExecutorAddrRange::new(at, at),
                ExecutorAddrRange::new(base, base + 2),
            ]),
        );
        assert_eq!(
            sps::from_bytes::<Vec<Vec<u8>>>(r.bytes()).unwrap(),
            [vec![], vec![0, 0]]
        );
    }
    assert!(
        ma.read_range(ExecutorAddrRange::new(base + 1, base))
            .is_err()
    );
}

#[test]
fn an_empty_range_reads_as_no_bytes() {
    empty_ranges_read_as_no_bytes(RealOs);
    empty_ranges_read_as_no_bytes(SimulatedOs::new(0));
}

#[test]
fn on_a_simulated_os_writes_land_only_in_its_reservations() {
    let os = SimulatedOs::new(2);
    let (ma, _mm, base) = setup_in(os.clone());
    // Another instance with the same seed has a reservation at the same
    // address; this service never writes there.
    let (other, _other_mm, other_base) = setup_in(SimulatedOs::new(2));
    assert_eq!(other_base, base);
    ma.write(&[(base, b"mine")]).unwrap();
    let mut got = [0u8; 4];
    other.read(&mut [(base, &mut got[..])]).unwrap();
    assert_eq!(got, [0; 4]);
    let err = ma.write(&[(base + 8192, b"x")]).unwrap_err();
    assert!(err.message().contains("outside any reservation"));
    assert_eq!(ma.read_c_string(base).unwrap(), b"mine");
}
