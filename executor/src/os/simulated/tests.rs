use super::*;

const PAGE: u64 = 4096;

fn rw() -> MemProt {
    MemProt::READ | MemProt::WRITE
}

fn read(os: &SimulatedOs, addr: ExecutorAddr, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0xee; n];
    os.read(&mut [(addr, &mut buf[..])])?;
    Ok(buf)
}

fn resident_pages(os: &SimulatedOs) -> usize {
    os.state().memory.resident_pages()
}

/// Everything an instance hands out for one fixed sequence of operations.
fn addresses_of_a_run(os: &SimulatedOs) -> Vec<u64> {
    let a = os.map(PAGE * 3).unwrap();
    let b = os.map(PAGE).unwrap();
    let s = os.map_shared(&os.shared_memory_name(1), PAGE).unwrap();
    os.add_library("libx.so", [("x", ExecutorAddr::new(0x77))]);
    let lib = os.open_library(b"libx.so").unwrap();
    let f = os.define_function(SimulatedFunction::int_void(|| 1));
    let g = os
        .define_wrapper(|_, _| WrapperFunctionBuffer::empty())
        .unwrap();
    let o = os.published_address().unwrap();
    let v = vec![
        a.range().start.value(),
        b.range().start.value(),
        s.range().start.value(),
        lib.handle().value(),
        f.value(),
        g.value(),
        o.value(),
    ];
    // Dropped before the instance's addresses are compared: nothing is
    // reused, so later addresses do not depend on this.
    drop((a, b, s, lib));
    v
}

#[test]
fn equal_seeds_give_equal_addresses_in_fixed_fake_ranges() {
    let one = addresses_of_a_run(&SimulatedOs::new(7));
    let again = addresses_of_a_run(&SimulatedOs::new(7));
    assert_eq!(one, again);
    let other = addresses_of_a_run(&SimulatedOs::new(8));
    assert_ne!(one[0], other[0], "the seed shifts the mappings");
    assert_eq!(one[3..], other[3..], "and nothing else");

    let [a, b, s, lib, f, g, o] = one[..] else {
        unreachable!()
    };
    let mappings = SimulatedOs::MAPPING_BASE..SimulatedOs::MAPPING_END;
    for m in [a, b, s] {
        assert!(mappings.contains(&m) && m % PAGE == 0, "{m:#x}");
    }
    assert_eq!(b, a + PAGE * 4, "upwards, with a guard page after each");
    assert_eq!(lib, SimulatedOs::PROCESS_HANDLE + 0x10);
    assert_eq!(f, SimulatedOs::FUNCTION_BASE);
    assert_eq!(g, SimulatedOs::FUNCTION_BASE + 0x10);
    assert_eq!(o, SimulatedOs::OBJECT_BASE);
}

#[test]
fn two_instances_never_see_each_other_s_memory() {
    let (one, two) = (SimulatedOs::new(3), SimulatedOs::new(3));
    let m1 = one.map(PAGE).unwrap();
    let m2 = two.map(PAGE).unwrap();
    let base = m1.range().start;
    assert_eq!(m2.range().start, base, "same seed, same address");
    one.write(&[&m1], &[(base, b"one")]).unwrap();
    two.write(&[&m2], &[(base + 1, b"two")]).unwrap();
    assert_eq!(read(&one, base, 4).unwrap(), b"one\0");
    assert_eq!(read(&two, base, 4).unwrap(), b"\0two");

    // A mapping of another instance is no target.
    let err = two.write(&[&m1], &[(base, b"x")]).unwrap_err();
    assert!(err.to_string().contains("outside any reservation"), "{err}");
    assert_eq!(read(&one, base, 3).unwrap(), b"one");

    drop(m1);
    assert!(read(&one, base, 1).is_err(), "unmapped in one");
    assert_eq!(
        read(&two, base + 1, 3).unwrap(),
        b"two",
        "still there in two"
    );
    assert_eq!(one.live_resources().regions, 0);
    assert_eq!(two.live_resources().regions, 1);
}

#[test]
fn protections_are_enforced_and_a_bad_access_is_an_error() {
    let os = SimulatedOs::new(0);
    let m = os.map(PAGE * 3).unwrap();
    let base = m.range().start;
    let fault = |e: io::Error| e.to_string();

    // Fresh memory is read+write and reads as zero.
    assert_eq!(read(&os, base + 5, 3).unwrap(), [0; 3]);
    os.write(&[&m], &[(base, b"hi"), (base + PAGE, b"yo")])
        .unwrap();

    // Past the end: the guard page; before the first mapping: nothing.
    assert_eq!(
        fault(read(&os, base + PAGE * 3 - 1, 2).unwrap_err()),
        format!(
            "cannot access 2 bytes at {:#x}: address not mapped or protection forbids it",
            (base + PAGE * 3 - 1).value()
        )
    );
    assert!(read(&os, ExecutorAddr::new(8), 1).is_err());
    assert!(read(&os, ExecutorAddr::new(u64::MAX), 2).is_err(), "wraps");
    assert_eq!(read(&os, ExecutorAddr::new(8), 0).unwrap(), b"", "empty");

    // Read-only page: written entries before it land, its own does not.
    m.protect(base + PAGE, PAGE, MemProt::READ).unwrap();
    let err = os
        .write(&[&m], &[(base, b"ok"), (base + PAGE, b"no")])
        .unwrap_err();
    assert!(
        fault(err).contains(&format!("{:#x}", (base + PAGE).value())),
        "names the refused entry"
    );
    assert_eq!(read(&os, base, 2).unwrap(), b"ok");
    assert_eq!(read(&os, base + PAGE, 2).unwrap(), b"yo");

    // Execute-only and inaccessible pages cannot be read.
    m.protect(base + PAGE * 2, 1, MemProt::EXEC).unwrap();
    assert!(read(&os, base + PAGE * 2, 1).is_err());
    assert!(read(&os, base + PAGE * 2 - 1, 2).is_err(), "straddling");
    m.protect(base, PAGE, MemProt::NONE).unwrap();
    assert!(read(&os, base, 1).is_err());

    // Filling makes the pages read+write again and zero-fills the tail.
    m.fill(base + PAGE - 2, PAGE + 4, b"abcd").unwrap();
    assert_eq!(read(&os, base + PAGE - 2, 6).unwrap(), b"abcd\0\0");
    os.write(&[&m], &[(base + PAGE, b"w")]).unwrap();

    // Ranges outside the mapping are refused by its methods.
    let outside = m.fill(base + PAGE * 3, 1, b"").unwrap_err();
    assert!(fault(outside).contains("is outside the mapping"));
    assert!(m.protect(base - 1, 1, rw()).is_err());
    assert!(m.fill(base, 2, b"abc").is_err(), "content too large");
    assert!(
        os.write(&[&m], &[(base + PAGE * 3 - 1, b"xy")]).is_err(),
        "straddling the end"
    );
}

#[test]
fn memory_is_sparse_and_zero_fills_give_pages_back() {
    let os = SimulatedOs::new(0);
    let m = os.map(1 << 30).unwrap();
    let base = m.range().start;
    assert_eq!(resident_pages(&os), 0, "a GiB reserved costs nothing");
    m.fill(base, 1 << 30, &vec![0xaa; (PAGE * 3) as usize])
        .unwrap();
    assert_eq!(resident_pages(&os), 3);
    m.fill(base + 1, PAGE * 3, b"z").unwrap();
    assert_eq!(read(&os, base, 3).unwrap(), [0xaa, b'z', 0]);
    assert_eq!(resident_pages(&os), 1, "whole zeroed pages are dropped");
    let far = base + (1 << 29);
    assert_eq!(read(&os, far, 2).unwrap(), [0, 0]);
    drop(m);
    assert_eq!(resident_pages(&os), 0);
}

#[test]
fn reservations_fail_as_the_kernel_does() {
    let os = SimulatedOs::new(0);
    let huge = os.map(1 << 62).unwrap_err();
    assert_eq!(crate::os::error_text(&huge), "Cannot allocate memory");
    assert_eq!(
        os.map(0).unwrap_err().raw_os_error(),
        Some(libc::EINVAL),
        "as mmap"
    );
    // The range is used up, then refused, never wrapped.
    let all = SimulatedOs::MAPPING_END - SimulatedOs::MAPPING_BASE;
    let _most = os.map(all - (8 << 32)).unwrap();
    assert!(os.map(8 << 32).is_err());
    assert!(os.map(PAGE).is_ok());
}

#[test]
fn c_strings_read_up_to_the_nul_even_at_a_page_end() {
    let os = SimulatedOs::new(0);
    let m = os.map(PAGE * 2).unwrap();
    let base = m.range().start;
    m.fill(base + PAGE - 4, 3, b"end").unwrap();
    m.protect(base + PAGE, PAGE, MemProt::NONE).unwrap();
    assert_eq!(os.read_c_string(base + PAGE - 4).unwrap(), b"end");
    assert_eq!(os.read_c_string(base).unwrap(), b"");
    m.fill(base + PAGE - 2, 2, b"ab").unwrap();
    assert!(
        os.read_c_string(base + PAGE - 2).is_err(),
        "runs into the inaccessible page"
    );
}

#[test]
fn libraries_come_from_the_table_and_fail_like_dlopen_otherwise() {
    let os = SimulatedOs::new(0);
    assert_eq!(
        os.open_library(b"libnope.so.9").unwrap_err(),
        "libnope.so.9: cannot open shared object file: No such file or directory"
    );
    assert!(os.open_library(b"a\0b").unwrap_err().contains("NUL"));

    let foo = ExecutorAddr::new(0x1234);
    os.add_library("libfoo.so", [("foo", foo), ("null", ExecutorAddr::NULL)]);
    os.add_process_symbols([("malloc", ExecutorAddr::new(0x42))]);
    let process = os.open_process().unwrap();
    assert_eq!(process.handle().value(), SimulatedOs::PROCESS_HANDLE);
    assert_eq!(process.symbol(b"malloc"), Some(ExecutorAddr::new(0x42)));
    assert_eq!(process.symbol(b"foo"), None, "not loaded yet");

    let lib = os.open_library(b"libfoo.so").unwrap();
    let again = os.open_library(b"libfoo.so").unwrap();
    assert_eq!(lib.handle(), again.handle(), "same library, same handle");
    assert_eq!(lib.symbol(b"foo"), Some(foo));
    assert_eq!(lib.symbol(b"null"), None, "a null symbol is not found");
    assert_eq!(lib.symbol(b"malloc"), None, "only its own symbols");
    assert_eq!(process.symbol(b"foo"), Some(foo), "global scope");
    assert_eq!(os.live_resources().dylib_handles, 2);
    assert_eq!(os.loaded_libraries(), [b"libfoo.so".to_vec()]);

    drop(lib);
    assert_eq!(process.symbol(b"foo"), Some(foo), "still referenced");
    drop(again);
    assert_eq!(process.symbol(b"foo"), None, "unloaded");
    assert!(os.loaded_libraries().is_empty());
    assert_eq!(os.live_resources().dylib_handles, 0);
}

#[test]
fn functions_run_when_called_with_their_own_signature() {
    let os = SimulatedOs::new(0);
    let main = os.define_function(SimulatedFunction::main(|argv| {
        argv.len() as i32 * 10 + argv[0].len() as i32
    }));
    let seven = os.define_function(SimulatedFunction::int_void(|| 7));
    let double = os.define_function(SimulatedFunction::int_int(|x| x * 2));
    let hits = Arc::new(Mutex::new(0));
    let h = hits.clone();
    let nothing = os.define_function(SimulatedFunction::void_void(move || *lock(&h) += 1));
    let echo = os.define_function(SimulatedFunction::wrapper(WrapperFunctionBuffer::copy_from));
    let boom = os.define_function(SimulatedFunction::wrapper(|_| panic!("boom")));

    assert_eq!(os.run_main(main, &[b"prog", b"a"]).unwrap(), 24);
    assert_eq!(
        os.run_main(main, &[b"a\0b"]).unwrap_err().message(),
        "program argument contains a NUL byte"
    );
    assert_eq!(os.run_int_void(seven).unwrap(), 7);
    assert_eq!(os.run_int_int(double, 21).unwrap(), 42);
    os.run_void_void(nothing).unwrap();
    assert_eq!(*lock(&hits), 1);
    assert_eq!(os.call_wrapper(echo, b"xyz").bytes(), b"xyz");
    assert_eq!(
        os.call_wrapper(boom, b"")
            .error_message()
            .unwrap()
            .to_str()
            .unwrap(),
        "wrapper function panicked: boom"
    );

    let wrong = os.run_int_void(double).unwrap_err();
    assert_eq!(wrong.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        wrong.message(),
        format!(
            "the simulated function at {:#x} is int(int), not int(void)",
            double.value()
        )
    );
    let unknown = os.call_wrapper(ExecutorAddr::new(0x99), b"");
    assert_eq!(
        unknown.error_message().unwrap().to_str().unwrap(),
        "no simulated function at 0x99"
    );
    assert_eq!(
        os.run_int_void(ExecutorAddr::NULL).unwrap_err().message(),
        "refusing to call a function at address 0x0"
    );
    assert!(os.call_wrapper(ExecutorAddr::NULL, b"").is_error());

    // At a chosen address, once.
    let at = ExecutorAddr::new(0x5000);
    os.define_function_at(at, SimulatedFunction::int_void(|| 5))
        .unwrap();
    assert_eq!(os.run_int_void(at).unwrap(), 5);
    assert!(
        os.define_function_at(at, SimulatedFunction::int_void(|| 6))
            .is_err()
    );
    assert!(
        os.define_function_at(ExecutorAddr::NULL, SimulatedFunction::int_void(|| 6))
            .is_err()
    );
}

#[test]
fn eh_frames_and_debug_objects_are_recorded_and_checked() {
    let os = SimulatedOs::new(0);
    let m = os.map(PAGE).unwrap();
    let section = ExecutorAddrRange::from_size(m.range().start, 16).unwrap();
    let unmapped = ExecutorAddrRange::new(ExecutorAddr::new(0x10), ExecutorAddr::new(0x20));
    assert!(
        os.register_eh_frame(unmapped)
            .unwrap_err()
            .starts_with("cannot register eh-frame section: cannot access 16 bytes at 0x10")
    );
    let empty = ExecutorAddrRange::new(section.start, section.start);
    assert!(os.register_eh_frame(empty).unwrap_err().contains("empty"));
    os.register_eh_frame(section).unwrap();
    assert!(
        os.register_eh_frame(section)
            .unwrap_err()
            .contains("already")
    );
    assert_eq!(os.eh_frames(), [section]);
    assert_eq!(os.live_resources().eh_frames, 1);
    os.deregister_eh_frame(section).unwrap();
    assert!(
        os.deregister_eh_frame(section)
            .unwrap_err()
            .contains("not registered")
    );
    assert!(os.eh_frames().is_empty());
    assert_eq!(os.eh_frame_counts(), (1, 1), "balanced");

    let (a, b) = (
        ExecutorAddrRange::from_size(ExecutorAddr::new(0x100), 8).unwrap(),
        ExecutorAddrRange::from_size(ExecutorAddr::new(0x200), 8).unwrap(),
    );
    os.register_debug_object(a, true).unwrap();
    os.register_debug_object(b, false).unwrap();
    assert_eq!(os.debug_objects(), [b, a], "newest first");
    os.deregister_debug_object(a).unwrap();
    assert_eq!(
        os.deregister_debug_object(a).unwrap_err(),
        "no debug object is registered at 0x100"
    );
    assert!(os.register_debug_object(empty, true).is_err());
    assert_eq!(os.debug_objects(), [b]);
}

#[test]
fn shared_objects_are_written_from_the_controller_s_side() {
    let os = SimulatedOs::new(0);
    let name = os.shared_memory_name(1);
    assert_eq!(name, "/orc_rt_sim_1");
    let m = os.map_shared(&name, PAGE * 2).unwrap();
    assert_eq!(
        os.map_shared(&name, PAGE).unwrap_err().raw_os_error(),
        Some(libc::EEXIST)
    );
    let base = m.range().start;
    assert!(read(&os, base, 1).is_err(), "inaccessible until protected");
    os.write_shared_object(&name, PAGE - 2, b"shared").unwrap();
    assert!(os.write_shared_object(&name, PAGE * 2 - 1, b"xy").is_err());
    m.protect(base, PAGE * 2, MemProt::READ).unwrap();
    assert_eq!(read(&os, base + PAGE - 2, 6).unwrap(), b"shared");
    assert!(os.write(&[&m], &[(base, b"x")]).is_err(), "read-only");
    assert_eq!(os.live_resources().shm_objects, 1);

    // The controller unlinks the name; the mapping keeps the bytes.
    os.unlink_shared_object(&name).unwrap();
    assert!(os.read_shared_object(&name, 0, 1).is_err());
    assert_eq!(read(&os, base + PAGE, 4).unwrap(), b"ared");
    drop(m);
    assert_eq!(os.live_resources(), LiveResources::default());
    assert_eq!(resident_pages(&os), 0);

    // Unmapping unlinks a name the controller left.
    let m = os.map_shared(&name, PAGE).unwrap();
    os.write_shared_object(&name, 0, b"q").unwrap();
    assert_eq!(os.read_shared_object(&name, 0, 1).unwrap(), b"q");
    drop(m);
    assert!(os.read_shared_object(&name, 0, 1).is_err());
}

#[test]
fn page_sizes_are_checked_and_change_the_granularity() {
    assert!(SimulatedOs::builder().page_size(3000).build().is_err());
    assert!(SimulatedOs::builder().page_size(32).build().is_err());
    let os = SimulatedOs::builder()
        .page_size(1 << 16)
        .seed(5)
        .build()
        .unwrap();
    assert_eq!(os.page_size(), 1 << 16);
    assert_eq!(os.seed(), 5);
    let m = os.map(100).unwrap();
    let base = m.range().start;
    assert_eq!(m.range().size(), 100);
    assert!(base.is_aligned(1 << 16));
    // Whole pages are mapped, as the kernel does.
    assert_eq!(read(&os, base + 200, 1).unwrap(), [0]);
    m.protect(base, 1, MemProt::READ).unwrap();
    assert!(
        os.write(&[&m], &[(base + 50, b"x")]).is_err(),
        "the whole page"
    );
}
