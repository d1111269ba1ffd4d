use super::*;
use crate::services::alloc_actions::ActionCaller;
use crate::services::names;
use crate::services::types::{AllocGroup, FinalizeRequest, SegmentRequest};
use orc_rt::sps;

fn setup() -> (Arc<MemoryAccess>, Arc<MemoryManager>, ExecutorAddr) {
    let mm = Arc::new(MemoryManager::new(ActionCaller::legacy()));
    let base = mm.reserve(crate::sys::page_size() * 2).unwrap();
    (Arc::new(MemoryAccess::new(vec![mm.clone()])), mm, base)
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
    let (ma, _mm, base) = setup();
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
    let (ma, mm, base) = setup();
    let req = FinalizeRequest {
        segments: vec![SegmentRequest {
            group: AllocGroup::from_bits(5).unwrap(),
            addr: base,
            size: crate::sys::page_size(),
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
