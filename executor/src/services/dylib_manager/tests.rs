use super::*;
use crate::services::names;
use orc_rt::sps;

fn def(addr: ExecutorAddr) -> Option<ExecutorSymbolDef> {
    Some(ExecutorSymbolDef {
        addr,
        flags: SYMBOL_FLAG_EXPORTED,
        target_flags: 0,
    })
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
fn process_lookups_follow_the_required_and_weak_rules() {
    let dm = DylibManager::new().unwrap();
    let h = dm.open(b"", 0).unwrap();
    let r = dm
        .resolve(
            h,
            &[
                (b"malloc", false),
                (b"orc_rt_missing_sym", false),
                (b"orc_rt_missing_sym", true),
            ],
        )
        .unwrap();
    assert!(r[0].is_some_and(|d| !d.addr.is_null() && d.flags == SYMBOL_FLAG_EXPORTED));
    assert_eq!(r[1], def(ExecutorAddr::NULL));
    assert_eq!(r[2], None);
    let err = dm.resolve(h, &[(b"", true)]).unwrap_err();
    assert_eq!(err.message(), "Required address for empty symbol \"\"");
}

#[test]
fn cxx_symbols_resolve_through_the_process_handle_like_llvm_s_executor() {
    let dm = DylibManager::new().unwrap();
    let h = dm.open(b"", 0).unwrap();
    // std::terminate() from libstdc++, which a Rust process does not link.
    let r = dm
        .resolve(h, &[(b"_ZSt9terminatev", false), (b"cos", false)])
        .unwrap();
    assert!(
        r.iter().all(|d| d.is_some_and(|d| !d.addr.is_null())),
        "{r:?}"
    );
}

#[test]
fn libraries_open_by_soname_and_resolve_in_their_handle() {
    let dm = DylibManager::new().unwrap();
    let h = dm.open(b"libm.so.6", 0).unwrap();
    assert_ne!(h, dm.process_handle());
    assert_eq!(
        dm.open(b"libm.so.6", 0).unwrap(),
        h,
        "same library, same handle"
    );
    assert_eq!(dm.open_count(), 1);
    let r = dm.resolve(h, &[(b"sqrt", true)]).unwrap();
    assert!(r[0].is_some());
    let err = dm.open(b"libnope.so.9", 0).unwrap_err();
    assert!(err.message().contains("libnope.so.9"), "{}", err.message());
    assert!(dm.resolve(ExecutorAddr::new(0x1234), &[]).is_err());
    dm.close_all();
    assert_eq!(dm.open_count(), 0);
}

#[test]
fn wire_handlers_encode_like_llvm() {
    let dm = std::sync::Arc::new(DylibManager::new().unwrap());
    let instance = ExecutorAddr::from_ptr(std::sync::Arc::as_ptr(&dm));
    let r = call(
        &sps_ci::wrapper_functions(&dm),
        names::DYLIB_MANAGER_OPEN,
        &sps::to_vec(&(instance, "", 0u64)),
    );
    let (h, _) = sps::from_prefix::<Result<ExecutorAddr, Error>>(r.bytes()).unwrap();
    let h = h.unwrap();
    let r = call(
        &sps_ci::wrapper_functions(&dm),
        names::DYLIB_MANAGER_RESOLVE,
        &sps::to_vec(&(h, vec![("orc_rt_missing_sym", false)])),
    );
    // Expected ok, one entry: some(addr 0, flags 0x10, 0).
    let mut expected = vec![1u8];
    expected.extend_from_slice(&1u64.to_le_bytes());
    expected.push(1);
    expected.extend_from_slice(&[0; 8]);
    expected.extend_from_slice(&[0x10, 0]);
    assert_eq!(r.bytes(), expected);
    let r = call(
        &sps_ci::wrapper_functions(&dm),
        names::DYLIB_MANAGER_OPEN,
        &sps::to_vec(&(ExecutorAddr::new(1), "", 0u64)),
    );
    assert_eq!(r.bytes()[0], 0, "wrong instance: Expected failure");
}

#[test]
fn on_a_simulated_os_libraries_come_from_its_table() {
    use crate::os::SimulatedOs;
    let os = SimulatedOs::new(0);
    let (foo, bar) = (ExecutorAddr::new(0x2000_0000_0100), ExecutorAddr::new(0x42));
    os.add_library("libfoo.so", [("foo", foo)]);
    os.add_process_symbols([("bar", bar)]);
    let dm = std::sync::Arc::new(DylibManager::new_in(os.clone()).unwrap());
    let process = dm.open(b"", 0).unwrap();
    assert_eq!(process.value(), SimulatedOs::PROCESS_HANDLE);
    assert_eq!(
        dm.resolve(process, &[(b"bar", true), (b"foo", false), (b"foo", true)])
            .unwrap(),
        [def(bar), def(ExecutorAddr::NULL), None],
        "no compat libraries to fall back on"
    );
    let err = dm.open(b"libm.so.6", 0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(
        err.message(),
        "libm.so.6: cannot open shared object file: No such file or directory"
    );

    let h = dm.open(b"libfoo.so", 0).unwrap();
    assert_eq!(h.value(), SimulatedOs::PROCESS_HANDLE + 0x10);
    assert_eq!(dm.open(b"libfoo.so", 0).unwrap(), h);
    assert_eq!(dm.open_count(), 1);
    assert_eq!(dm.resolve(h, &[(b"foo", true)]).unwrap(), [def(foo)]);
    assert_eq!(
        dm.resolve(process, &[(b"foo", true)]).unwrap(),
        [def(foo)],
        "opened globally"
    );
    assert_eq!(os.live_resources().dylib_handles, 1);

    // The wire handlers know the instance by its simulated address.
    let instance = dm.instance();
    assert_eq!(instance.value(), SimulatedOs::OBJECT_BASE);
    let r = call(
        &sps_ci::wrapper_functions(&dm),
        names::DYLIB_MANAGER_OPEN,
        &sps::to_vec(&(instance, "libfoo.so", 0u64)),
    );
    let (got, _) = sps::from_prefix::<Result<ExecutorAddr, Error>>(r.bytes()).unwrap();
    assert_eq!(got.unwrap(), h);
    let r = call(
        &sps_ci::wrapper_functions(&dm),
        names::DYLIB_MANAGER_OPEN,
        &sps::to_vec(&(ExecutorAddr::from_ptr(&*dm), "", 0u64)),
    );
    assert_eq!(r.bytes()[0], 0, "its real address is not the instance");

    dm.close_all();
    assert!(os.loaded_libraries().is_empty());
    assert_eq!(os.live_resources().dylib_handles, 0);
}
