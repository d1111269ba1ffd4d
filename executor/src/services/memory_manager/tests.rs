use super::*;
use crate::services::names;
use crate::services::types::{AllocAction, AllocActionPair, AllocGroup, SegmentRequest};
use crate::sys::memory::read_checked;
use orc_rt::sps;
use orc_rt::wrapper::WrapperFunctionBuffer;

/// Calls `name` of the service's binding, which answers on the spot.
fn call(table: &orc_rt::wrapper::WrapperTable, name: &str, args: &[u8]) -> WrapperFunctionBuffer {
    table.call_here(name, args).expect("answers on the spot")
}

const R: u8 = 1;
const RW: u8 = 3;
const RX: u8 = 5;

/// A memory manager whose actions are numbered: the log records each call;
/// function 9 fails.
fn manager() -> (Arc<MemoryManager>, Arc<Mutex<Vec<u64>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let caller = ActionCaller::new(move |f, _| {
        lock(&l).push(f.value());
        let r: Result<(), Error> = if f.value() == 9 {
            Err(Error::msg("action nine failed"))
        } else {
            Ok(())
        };
        WrapperFunctionBuffer::from(sps::to_vec(&r))
    });
    (Arc::new(MemoryManager::new(caller)), log)
}

fn page() -> u64 {
    crate::sys::page_size()
}

fn seg(group: u8, addr: ExecutorAddr, size: u64, content: &[u8]) -> SegmentRequest<'_> {
    SegmentRequest {
        group: AllocGroup::from_bits(group).unwrap(),
        addr,
        size,
        content,
    }
}

fn action(f: u64, d: u64) -> AllocActionPair {
    AllocActionPair {
        finalize: AllocAction::new(ExecutorAddr::new(f), WrapperFunctionBuffer::empty()),
        dealloc: AllocAction::new(ExecutorAddr::new(d), WrapperFunctionBuffer::empty()),
    }
}

fn read(addr: ExecutorAddr, n: usize) -> std::io::Result<Vec<u8>> {
    let mut v = vec![0; n];
    read_checked(&mut [(addr, &mut v[..])])?;
    Ok(v)
}

#[test]
fn reserve_initialize_release_round_trip() {
    let (mm, log) = manager();
    let base = mm.reserve(page() * 3).unwrap();
    let req = FinalizeRequest {
        segments: vec![
            seg(R, base, page(), b"rodata"),
            seg(RX, base + page(), page(), &[0xc3]),
            seg(RW, base + 2 * page(), page(), b""),
        ],
        actions: vec![action(1, 11), action(2, 0)],
    };
    assert_eq!(mm.initialize(&req).unwrap(), base);
    assert_eq!(read(base, 7).unwrap(), b"rodata\0");
    assert_eq!(read(base + page(), 2).unwrap(), [0xc3, 0]);
    assert_eq!(*lock(&log), [1, 2]);
    mm.release(&[base]).unwrap();
    assert_eq!(*lock(&log), [1, 2, 11]);
    assert!(read(base, 1).is_err(), "released memory is unmapped");
    assert_eq!(mm.reservation_count(), 0);
}

#[test]
fn request_errors_match_llvm_messages() {
    let (mm, _) = manager();
    let base = mm.reserve(page()).unwrap();
    let empty = FinalizeRequest::default();
    assert_eq!(
        mm.initialize(&empty).unwrap_err().message(),
        "Finalization request is empty"
    );
    let actions_only = FinalizeRequest {
        segments: vec![],
        actions: vec![action(1, 0)],
    };
    assert_eq!(
        mm.initialize(&actions_only).unwrap_err().message(),
        "Finalization actions attached to empty finalization request"
    );
    let too_big = FinalizeRequest {
        segments: vec![seg(RW, base, 2, b"abc")],
        actions: vec![],
    };
    assert!(
        mm.initialize(&too_big)
            .unwrap_err()
            .message()
            .contains("exceeds segment size")
    );
    assert_eq!(
        mm.release(&[ExecutorAddr::new(0x1000)])
            .unwrap_err()
            .message(),
        "In release, 0x1000 is not part of any reserved address range"
    );
    assert_eq!(
        mm.reserve(123).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn an_empty_reservation_is_address_0_and_releases_once_as_in_llvm_22() {
    let (mm, _) = manager();
    assert_eq!(mm.reserve(0).unwrap(), ExecutorAddr::NULL);
    assert_eq!(mm.reserve(0).unwrap(), ExecutorAddr::NULL);
    assert_eq!(mm.reservation_count(), 0, "nothing is mapped");
    assert!(
        mm.deinitialize(&[ExecutorAddr::NULL])
            .unwrap_err()
            .message()
            .contains("not part of any reserved address range")
    );
    // One entry however often it was reserved: the first release takes it.
    assert!(
        mm.release_without_actions(&[ExecutorAddr::NULL])
            .unwrap()
            .is_ok()
    );
    assert_eq!(
        mm.release(&[ExecutorAddr::NULL]).unwrap_err().message(),
        "In release, 0x0 is not part of any reserved address range"
    );
    mm.reserve(0).unwrap();
    assert!(mm.release(&[ExecutorAddr::NULL]).is_ok());
}

#[test]
fn huge_reservations_fail_cleanly() {
    let (mm, _) = manager();
    let err = mm.reserve(1 << 62).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(
        err.message().contains("Cannot allocate memory"),
        "{}",
        err.message()
    );
}

#[test]
fn initialize_outside_any_reservation_writes_nothing() {
    let (mm, log) = manager();
    let base = mm.reserve(page()).unwrap();
    for addr in [ExecutorAddr::new(0x1000), base + page(), base - page()] {
        let req = FinalizeRequest {
            segments: vec![seg(RW, addr, page(), b"x")],
            actions: vec![action(1, 0)],
        };
        let err = mm.initialize(&req).unwrap_err();
        assert!(
            err.message()
                .contains("is not part of any reserved address range"),
            "{err:?}"
        );
    }
    // Straddling the end of the reservation.
    let req = FinalizeRequest {
        segments: vec![seg(RW, base, page() + 1, b"x")],
        actions: vec![],
    };
    assert!(mm.initialize(&req).is_err());
    let wraps = FinalizeRequest {
        segments: vec![seg(RW, ExecutorAddr::new(u64::MAX - 1), 4, b"")],
        actions: vec![],
    };
    assert!(
        mm.initialize(&wraps)
            .unwrap_err()
            .message()
            .contains("wraps")
    );
    assert!(lock(&log).is_empty());
    assert_eq!(read(base, 1).unwrap(), [0]);
}

#[test]
fn overlapping_regions_are_refused() {
    let (mm, _) = manager();
    let base = mm.reserve(page() * 2).unwrap();
    let first = FinalizeRequest {
        segments: vec![seg(RW, base, page() * 2, b"")],
        actions: vec![],
    };
    mm.initialize(&first).unwrap();
    let second = FinalizeRequest {
        segments: vec![seg(RW, base + page(), page(), b"")],
        actions: vec![],
    };
    let err = mm.initialize(&second).unwrap_err();
    assert!(
        err.message().contains("overlaps previous region"),
        "{}",
        err.message()
    );
}

#[test]
fn a_failing_finalize_action_unwinds_and_leaves_memory_writable() {
    let (mm, log) = manager();
    let base = mm.reserve(page()).unwrap();
    let req = FinalizeRequest {
        segments: vec![seg(R, base, page(), b"ro")],
        actions: vec![action(1, 11), action(9, 19)],
    };
    assert_eq!(
        mm.initialize(&req).unwrap_err().message(),
        "action nine failed"
    );
    assert_eq!(*lock(&log), [1, 9, 11]);
    // Not recorded, so it may be initialized again; the pages are RW again.
    let again = FinalizeRequest {
        segments: vec![seg(RW, base, page(), b"ok")],
        actions: vec![],
    };
    assert_eq!(mm.initialize(&again).unwrap(), base);
}

#[test]
fn deinitialize_runs_deallocs_last_key_first_and_reports_unknown_keys() {
    let (mm, log) = manager();
    let base = mm.reserve(page() * 2).unwrap();
    for (i, addr) in [base, base + page()].into_iter().enumerate() {
        let i = i as u64;
        let req = FinalizeRequest {
            segments: vec![seg(RX, addr, page(), &[0xc3])],
            actions: vec![action(1 + i, 11 + i)],
        };
        mm.initialize(&req).unwrap();
    }
    lock(&log).clear();
    mm.deinitialize(&[base, base + page()]).unwrap();
    assert_eq!(*lock(&log), [12, 11]);
    let err = mm
        .deinitialize(&[base, ExecutorAddr::new(0x1000)])
        .unwrap_err();
    let lines: Vec<&str> = err.message().lines().collect();
    assert_eq!(lines.len(), 2, "{}", err.message());
    assert!(lines[0].contains("0x1000 is not part of any reserved address range"));
    assert!(lines[1].contains("does not correspond to the start of any initialized region"));
    // A deinitialized region can be initialized again, even over code.
    let req = FinalizeRequest {
        segments: vec![seg(RW, base, page(), b"new")],
        actions: vec![],
    };
    mm.initialize(&req).unwrap();
    assert_eq!(read(base, 3).unwrap(), b"new");
}

#[test]
fn release_all_releases_highest_first_with_dealloc_actions() {
    let (mm, log) = manager();
    let a = mm.reserve(page()).unwrap();
    let b = mm.reserve(page()).unwrap();
    for (addr, d) in [(a, 21), (b, 22)] {
        let req = FinalizeRequest {
            segments: vec![seg(RW, addr, page(), b"")],
            actions: vec![action(0, d)],
        };
        mm.initialize(&req).unwrap();
    }
    mm.release_all().unwrap();
    let expected = if a > b { [21, 22] } else { [22, 21] };
    assert_eq!(*lock(&log), expected);
    assert_eq!(mm.reservation_count(), 0);
}

#[test]
fn wire_handlers_check_the_instance_and_decode_errors() {
    let (mm, _) = manager();
    let instance = ExecutorAddr::from_ptr(Arc::as_ptr(&mm));
    let ok = call(
        &sps_ci::wrapper_functions(&mm),
        names::MEMORY_MANAGER_RESERVE,
        &sps::to_vec(&(instance, page())),
    );
    let (r, _) = sps::from_prefix::<Result<ExecutorAddr, Error>>(ok.bytes()).unwrap();
    let base = r.unwrap();
    let bad = call(
        &sps_ci::wrapper_functions(&mm),
        names::MEMORY_MANAGER_RESERVE,
        &sps::to_vec(&(ExecutorAddr::new(8), page())),
    );
    let (r, _) = sps::from_prefix::<Result<ExecutorAddr, Error>>(bad.bytes()).unwrap();
    assert!(
        r.unwrap_err()
            .message()
            .contains("is not the memory manager instance")
    );
    let short = call(
        &sps_ci::wrapper_functions(&mm),
        names::MEMORY_MANAGER_RESERVE,
        &[1, 2, 3],
    );
    assert!(short.is_error());
    // Trailing bytes are ignored, as LLVM does.
    let mut args = sps::to_vec(&(instance, vec![base]));
    args.extend_from_slice(b"trailing");
    let released = call(
        &sps_ci::wrapper_functions(&mm),
        names::MEMORY_MANAGER_RELEASE,
        &args,
    );
    assert_eq!(released.bytes(), [0]);
}

#[test]
fn the_quick_forms_decline_requests_with_dealloc_actions_and_change_nothing() {
    let (mm, log) = manager();
    let base = mm.reserve(page() * 2).unwrap();
    let with = FinalizeRequest {
        segments: vec![seg(RW, base, page(), b"a")],
        actions: vec![action(1, 11)],
    };
    let without = FinalizeRequest {
        segments: vec![seg(RW, base + page(), page(), b"b")],
        actions: vec![],
    };
    mm.initialize(&with).unwrap();
    mm.initialize(&without).unwrap();
    assert!(mm.deinitialize_without_actions(&[base]).is_none());
    assert!(mm.release_without_actions(&[base]).is_none());
    assert_eq!(mm.reservation_count(), 1, "declining changed nothing");
    assert_eq!(*lock(&log), [1]);

    // The region without actions goes quickly; errors come as from the slow form.
    assert!(matches!(
        mm.deinitialize_without_actions(&[base + page()]),
        Some(Ok(()))
    ));
    let again = mm
        .deinitialize_without_actions(&[base + page()])
        .expect("no actions to run")
        .unwrap_err();
    assert!(again.message().contains("does not correspond to the start"));
    mm.deinitialize(&[base]).unwrap();
    assert_eq!(*lock(&log), [1, 11]);

    assert!(matches!(mm.release_without_actions(&[base]), Some(Ok(()))));
    assert_eq!(mm.reservation_count(), 0);
    assert!(read(base, 1).is_err(), "released memory is unmapped");
    let unknown = mm
        .release_without_actions(&[base])
        .expect("no actions to run")
        .unwrap_err();
    assert!(unknown.message().contains("not part of any reserved"));
}

#[test]
fn the_quick_wire_forms_answer_only_action_free_requests() {
    let (mm, log) = manager();
    let base = mm.reserve(page()).unwrap();
    let instance = ExecutorAddr::from_ptr(Arc::as_ptr(&mm));
    let with = FinalizeRequest {
        segments: vec![seg(RW, base, page(), b"a")],
        actions: vec![action(1, 0)],
    };
    let args = sps::to_vec(&(instance, with));
    assert!(
        sps_ci::wrapper_functions(&mm)
            .get(names::MEMORY_MANAGER_INITIALIZE)
            .unwrap()
            .quick_here(&args)
            .is_none()
    );
    assert!(lock(&log).is_empty());
    let without = FinalizeRequest {
        segments: vec![seg(RW, base, page(), b"a")],
        actions: vec![],
    };
    let result = sps_ci::wrapper_functions(&mm)
        .get(names::MEMORY_MANAGER_INITIALIZE)
        .unwrap()
        .quick_here(&sps::to_vec(&(instance, without)))
        .unwrap();
    let key: Result<ExecutorAddr, Error> = sps::from_bytes(result.bytes()).unwrap();
    assert_eq!(key.unwrap(), base);
    let garbage = sps_ci::wrapper_functions(&mm)
        .get(names::MEMORY_MANAGER_RELEASE)
        .unwrap()
        .quick_here(&[1, 2])
        .expect("answered");
    assert!(garbage.is_error());
    let released = sps_ci::wrapper_functions(&mm)
        .get(names::MEMORY_MANAGER_RELEASE)
        .unwrap()
        .quick_here(&sps::to_vec(&(instance, vec![base])))
        .unwrap();
    let released: Result<(), Error> = sps::from_bytes(released.bytes()).unwrap();
    released.unwrap();
    assert_eq!(mm.reservation_count(), 0);
}
