//! Bad input and faults (issue 4): each drives the `orc-executor` process
//! with hand-made frames over `filedescs=0,1` and requires a clean end: a
//! clear message on stderr and a clean exit status, or a clean error result,
//! never a hang (every wait has a deadline) and never a crash.

mod executor_support;

use executor_support::{Executor, args, assert_exit, page_size, raw_header, resolve_in_process};
use orc_executor::services::names;
use orc_executor::services::types::{
    AllocGroup, ExecutorSymbolDef, FinalizeRequest, SegmentRequest,
};
use orc_executor::wire::Opcode;
use orc_rt::sps;
use orc_rt::{Error, ExecutorAddr};

/// A fatal protocol error: exit status 1 and `argv0: <what>` on stderr.
#[track_caller]
fn assert_fatal(ex: Executor, what: &str) {
    let (status, stderr) = ex.finish();
    assert_exit(status, 1, &stderr);
    let line = stderr.lines().last().unwrap_or_default();
    assert!(
        line.contains("orc-executor: ") && line.contains(what),
        "expected a message about {what:?}, got {stderr:?}"
    );
}

fn expected_addr(bytes: &[u8]) -> Result<ExecutorAddr, Error> {
    sps::from_bytes::<Result<ExecutorAddr, Error>>(bytes).expect("an Expected<Addr> result")
}

fn error_result(bytes: &[u8]) -> Result<(), Error> {
    sps::from_bytes::<Result<(), Error>>(bytes).expect("an Error result")
}

fn reserve(ex: &mut Executor, seqno: u64, size: u64) -> ExecutorAddr {
    let mm = ex.symbol(names::MEMORY_MANAGER_INSTANCE);
    let r = ex.call(
        seqno,
        ex.symbol(names::MEMORY_MANAGER_RESERVE),
        &args(&(mm, size)),
    );
    expected_addr(&r).expect("reserve succeeds")
}

#[test]
fn setup_announces_every_bootstrap_symbol_llvm_22_requires() {
    let ex = Executor::start();
    assert_eq!(ex.setup.page_size, 4096.max(ex.setup.page_size));
    assert!(
        ex.setup.target_triple.contains("linux"),
        "{}",
        ex.setup.target_triple
    );
    // protocol 5: the names llvm-jitlink refuses to start without.
    let required = [
        names::DISPATCH_CTX,
        names::DISPATCH_FN,
        names::MEMORY_MANAGER_INSTANCE,
        names::MEMORY_MANAGER_RESERVE,
        names::MEMORY_MANAGER_INITIALIZE,
        names::MEMORY_MANAGER_DEINITIALIZE,
        names::MEMORY_MANAGER_RELEASE,
        names::DYLIB_MANAGER_INSTANCE,
        names::DYLIB_MANAGER_OPEN,
        names::DYLIB_MANAGER_RESOLVE,
        names::WRITE_UINT8S,
        names::WRITE_UINT16S,
        names::WRITE_UINT32S,
        names::WRITE_UINT64S,
        names::WRITE_POINTERS,
        names::WRITE_BUFFERS,
        names::READ_UINT8S,
        names::READ_UINT16S,
        names::READ_UINT32S,
        names::READ_UINT64S,
        names::READ_POINTERS,
        names::READ_BUFFERS,
        names::READ_STRINGS,
        names::RUN_AS_MAIN,
        names::RUN_AS_VOID,
        names::RUN_AS_INT,
        names::REGISTER_EH_FRAME,
        names::DEREGISTER_EH_FRAME,
        names::REGISTER_JIT_LOADER_GDB,
    ];
    for name in required {
        assert!(!ex.symbol(name).is_null(), "{name}");
    }
    let (status, stderr) = ex.finish();
    assert_exit(status, 0, &stderr);
    assert_eq!(stderr, "", "silent by default");
}

#[test]
fn end_of_stream_at_a_message_boundary_is_an_orderly_end() {
    let (status, stderr) = Executor::start().finish();
    assert_exit(status, 0, &stderr);
}

#[test]
fn hangup_ends_the_session_as_its_payload_says() {
    // Orderly: SPS Error success (LLVM main) or no payload (LLVM 22 peers).
    for payload in [&[][..], &[0]] {
        let mut ex = Executor::start();
        ex.send(Opcode::Hangup, 0, ExecutorAddr::NULL, payload);
        assert!(
            ex.recv().is_none(),
            "no reply to Hangup, then end of stream"
        );
        let (status, stderr) = ex.finish();
        assert_exit(status, 0, &stderr);
    }
    // A reason (LLVM main, protocol 10): the session ends with it.
    let mut ex = Executor::start();
    ex.send(
        Opcode::Hangup,
        0,
        ExecutorAddr::NULL,
        &[1, 3, 0, 0, 0, 0, 0, 0, 0, b'b', b'y', b'e'],
    );
    assert!(ex.recv().is_none(), "no reply to Hangup");
    assert_fatal(ex, "bye");
}

#[test]
fn a_truncated_header_is_fatal() {
    let mut ex = Executor::start();
    ex.send_raw(&raw_header(48, 3, 1, 0x1000)[..10]);
    assert_fatal(ex, "Unexpected end-of-file");
}

#[test]
fn a_truncated_payload_is_fatal() {
    let mut ex = Executor::start();
    let mut bytes = raw_header(32 + 100, 3, 1, 0x1000);
    bytes.extend_from_slice(&[0; 40]);
    ex.send_raw(&bytes);
    assert_fatal(ex, "Unexpected end-of-file");
}

#[test]
fn a_size_field_smaller_than_the_header_is_fatal() {
    let mut ex = Executor::start();
    ex.send_raw(&raw_header(8, 3, 1, 0x1000));
    assert_fatal(ex, "Message size too small");
}

#[test]
fn a_huge_size_claim_is_not_allocated() {
    // LLVM 22's executor mallocs the claim and dies with "Bad address";
    // ours reads what arrives and reports the truncation.
    let mut ex = Executor::start();
    let mut bytes = raw_header(1 << 62, 3, 1, 0x1000);
    bytes.extend_from_slice(&[0; 64]);
    ex.send_raw(&bytes);
    assert_fatal(ex, "Unexpected end-of-file");
}

#[test]
fn an_unknown_opcode_is_fatal() {
    let mut ex = Executor::start();
    ex.send_raw(&raw_header(32, 9, 0, 0));
    assert_fatal(ex, "Unexpected opcode 9");
}

#[test]
fn a_setup_message_from_the_controller_is_fatal() {
    let mut ex = Executor::start();
    ex.send(Opcode::Setup, 0, ExecutorAddr::NULL, &[]);
    assert_fatal(ex, "Unexpected Setup opcode");
}

#[test]
fn a_result_for_no_call_in_flight_is_fatal() {
    let mut ex = Executor::start();
    ex.send(Opcode::Result, 77, ExecutorAddr::NULL, &[0]);
    assert_fatal(ex, "No call for sequence number 77");
}

#[test]
fn undecodable_bootstrap_arguments_give_an_empty_result_and_the_session_goes_on() {
    let mut ex = Executor::start();
    let reserve_fn = ex.symbol(names::MEMORY_MANAGER_RESERVE);
    // LLVM 22 sends an empty Result (its out-of-band error cannot travel).
    assert_eq!(ex.call(1, reserve_fn, &[1, 2, 3]), Vec::<u8>::new());
    let resolve_fn = ex.symbol(names::DYLIB_MANAGER_RESOLVE);
    let huge_count = args(&(ExecutorAddr::new(1), u64::MAX));
    assert_eq!(ex.call(2, resolve_fn, &huge_count), Vec::<u8>::new());
    // Still serving, with trailing bytes ignored as LLVM does.
    let mm = ex.symbol(names::MEMORY_MANAGER_INSTANCE);
    let mut ok = args(&(mm, page_size(&ex)));
    ok.extend_from_slice(b"trailing");
    assert!(expected_addr(&ex.call(3, reserve_fn, &ok)).is_ok());
    let (status, stderr) = ex.finish();
    assert_exit(status, 0, &stderr);
}

#[test]
fn a_wrong_instance_argument_is_an_error_result_not_a_wild_pointer() {
    let mut ex = Executor::start();
    let reserve_fn = ex.symbol(names::MEMORY_MANAGER_RESERVE);
    let r = ex.call(
        1,
        reserve_fn,
        &args(&(ExecutorAddr::new(0xdead_0000), 4096u64)),
    );
    let err = expected_addr(&r).unwrap_err();
    assert!(
        err.message().contains("is not the memory manager instance"),
        "{err}"
    );
    let (status, stderr) = ex.finish();
    assert_exit(status, 0, &stderr);
}

#[test]
fn writes_outside_any_reservation_are_refused_and_writes_inside_work() {
    let mut ex = Executor::start();
    let page = page_size(&ex);
    let base = reserve(&mut ex, 1, page);
    let write8 = ex.symbol(names::WRITE_UINT8S);
    let read8 = ex.symbol(names::READ_UINT8S);
    // Outside: unmapped, and mapped but not ours (the instance object).
    let mm = ex.symbol(names::MEMORY_MANAGER_INSTANCE);
    for (i, addr) in [ExecutorAddr::new(0x10), mm].into_iter().enumerate() {
        let r = ex.call(2 + i as u64, write8, &args(&vec![(addr, 0x5au8)]));
        assert!(
            r.is_empty(),
            "void result (the error cannot travel in LLVM 22)"
        );
    }
    // Inside: written and read back.
    assert!(ex.call(4, write8, &args(&vec![(base, 0x5au8)])).is_empty());
    let r = ex.call(5, read8, &args(&vec![base]));
    assert_eq!(sps::from_bytes::<Vec<u8>>(&r).unwrap(), [0x5a]);
    // Reading an unmapped address: an error, not a crash.
    assert!(
        ex.call(6, read8, &args(&vec![ExecutorAddr::new(0x10)]))
            .is_empty()
    );
    let (status, stderr) = ex.finish();
    assert_exit(status, 0, &stderr);
}

#[test]
fn initialize_outside_any_reservation_is_an_error_result() {
    let mut ex = Executor::start();
    let mm = ex.symbol(names::MEMORY_MANAGER_INSTANCE);
    let init = ex.symbol(names::MEMORY_MANAGER_INITIALIZE);
    let req = FinalizeRequest {
        segments: vec![SegmentRequest {
            group: AllocGroup::from_bits(3).unwrap(),
            addr: ExecutorAddr::new(0x10_0000),
            size: 4096,
            content: b"nowhere",
        }],
        actions: vec![],
    };
    let r = ex.call(1, init, &args(&(mm, req)));
    let err = expected_addr(&r).unwrap_err();
    assert!(
        err.message()
            .contains("is not part of any reserved address range"),
        "{err}"
    );
    let release = ex.symbol(names::MEMORY_MANAGER_RELEASE);
    let r = ex.call(2, release, &args(&(mm, vec![ExecutorAddr::new(0x1000)])));
    assert_eq!(
        error_result(&r).unwrap_err().message(),
        "In release, 0x1000 is not part of any reserved address range"
    );
    let (status, stderr) = ex.finish();
    assert_exit(status, 0, &stderr);
}

#[test]
fn a_call_to_address_zero_is_an_error_result_not_a_crash() {
    // LLVM 22's executor dies with SIGSEGV here.
    let mut ex = Executor::start();
    assert!(ex.call(1, ExecutorAddr::NULL, b"x").is_empty());
    let run_void = ex.symbol(names::RUN_AS_VOID);
    assert!(ex.call(2, run_void, &args(&ExecutorAddr::NULL)).is_empty());
    let (status, stderr) = ex.finish();
    assert_exit(status, 0, &stderr);
}

#[test]
fn duplicate_seqnos_in_flight_are_both_answered() {
    let mut ex = Executor::start();
    let mm = ex.symbol(names::MEMORY_MANAGER_INSTANCE);
    let reserve_fn = ex.symbol(names::MEMORY_MANAGER_RESERVE);
    let a = args(&(mm, page_size(&ex)));
    ex.send(Opcode::CallWrapper, 1, reserve_fn, &a);
    ex.send(Opcode::CallWrapper, 1, reserve_fn, &a);
    for _ in 0..2 {
        let m = ex.recv().unwrap();
        assert_eq!((m.opcode, m.seqno), (Opcode::Result, 1));
        assert!(expected_addr(m.payload.bytes()).is_ok());
    }
    let (status, stderr) = ex.finish();
    assert_exit(status, 0, &stderr);
}

#[test]
fn a_controller_closing_its_write_end_mid_call_still_gets_the_result() {
    let mut ex = Executor::start();
    let (_, sleep) = resolve_in_process(&mut ex, 1, "sleep");
    // int sleep(unsigned) through run_as_int: one second in "JIT'd code".
    let run_int = ex.symbol(names::RUN_AS_INT);
    ex.send(Opcode::CallWrapper, 3, run_int, &args(&(sleep, 1i32)));
    ex.close();
    let m = ex.recv().expect("the result of the call in flight");
    assert_eq!((m.opcode, m.seqno), (Opcode::Result, 3));
    assert_eq!(sps::from_bytes::<i32>(m.payload.bytes()).unwrap(), 0);
    let (status, stderr) = ex.finish();
    assert_exit(status, 0, &stderr);
}

#[test]
fn a_controller_closing_both_pipes_mid_call_ends_the_executor_cleanly() {
    use std::io::Read as _;
    use std::process::{Command, Stdio};
    // What llvm-jitlink does when a link fails with calls outstanding, or
    // when it is killed: both pipes close.
    let bin = executor_support::executor_binary(executor_support::own_profile());
    let mut child = Command::new(bin)
        .arg("filedescs=0,1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut to = child.stdin.take().unwrap();
    let mut from = orc_executor::wire::FrameReader::new(child.stdout.take().unwrap());
    let setup = from.read_message().unwrap().unwrap();
    let setup = orc_executor::wire::SetupInfo::from_bytes(setup.payload.bytes()).unwrap();
    let sym = |n: &str| setup.bootstrap_symbols[n];
    let mut call = |seq: u64, tag: ExecutorAddr, a: &[u8]| {
        let mut bytes = Vec::new();
        orc_executor::wire::write_message(&mut bytes, Opcode::CallWrapper, seq, tag, a).unwrap();
        std::io::Write::write_all(&mut to, &bytes).unwrap();
    };
    call(
        1,
        sym(names::DYLIB_MANAGER_OPEN),
        &args(&(sym(names::DYLIB_MANAGER_INSTANCE), "", 0u64)),
    );
    let handle = expected_addr(from.read_message().unwrap().unwrap().payload.bytes()).unwrap();
    call(
        2,
        sym(names::DYLIB_MANAGER_RESOLVE),
        &args(&(handle, vec![("sleep", true)])),
    );
    let r = from.read_message().unwrap().unwrap();
    let defs = sps::from_bytes::<Result<Vec<Option<ExecutorSymbolDef>>, Error>>(r.payload.bytes());
    let sleep = defs.unwrap().unwrap()[0].unwrap().addr;
    call(3, sym(names::RUN_AS_INT), &args(&(sleep, 1i32)));
    drop(to);
    drop(from);
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < executor_support::DEADLINE, "hang");
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_exit(status, 0, &stderr);
    // As LLVM's executor reports the result it could no longer send.
    assert_eq!(stderr, "SimpleRemoteEPCServer FD-transport disconnected\n");
}

#[test]
fn the_controller_dying_mid_message_is_fatal() {
    // A controller killed while writing leaves half a message behind.
    let mut ex = Executor::start();
    let reserve_fn = ex.symbol(names::MEMORY_MANAGER_RESERVE);
    let mut frame = raw_header(48, 3, 1, reserve_fn.value());
    frame.extend_from_slice(&[0; 7]);
    ex.send_raw(&frame);
    assert_fatal(ex, "Unexpected end-of-file");
}

#[test]
fn debug_logging_shows_every_message() {
    let bin = executor_support::executor_binary(executor_support::own_profile());
    let mut ex = Executor::start_with(&bin, &[("ORC_RT_LOG", "debug")]);
    let mm = ex.symbol(names::MEMORY_MANAGER_INSTANCE);
    let reserve_fn = ex.symbol(names::MEMORY_MANAGER_RESERVE);
    let a = args(&(mm, page_size(&ex)));
    ex.call(5, reserve_fn, &a);
    let (status, stderr) = ex.finish();
    assert_exit(status, 0, &stderr);
    for needle in [
        "E->C Setup seq=0",
        "C->E CallWrapper seq=5",
        "E->C Result seq=5",
    ] {
        assert!(stderr.contains(needle), "{needle:?} missing from {stderr}");
    }
}

#[test]
fn command_line_errors_follow_llvm() {
    use std::process::Command;
    let bin = executor_support::executor_binary(executor_support::own_profile());
    let cases: [(&[&str], &str); 4] = [
        (&[], "error: insufficient arguments"),
        (&["bogus"], "error: invalid specifier type \"bogus\""),
        (
            &["filedescs=a,1"],
            "error: a is not a valid file descriptor",
        ),
        (&["filedescs=900,901"], "filedescs=900,901"),
    ];
    for (argv, expected) in cases {
        let out = Command::new(&bin).args(argv).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{argv:?}: {stderr}");
        assert!(stderr.contains(expected), "{argv:?}: {stderr}");
    }
    let help = Command::new(&bin).arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("filedescs=<infd>,<outfd>"));
}

#[test]
fn registered_addresses_use_the_async_abi_and_any_other_the_legacy_abi() {
    let mut ex = Executor::start();
    // A registered wrapper (the session's Rust handler behind the address).
    let mm = ex.symbol(names::MEMORY_MANAGER_INSTANCE);
    let reserve_fn = ex.symbol(names::MEMORY_MANAGER_RESERVE);
    let page = page_size(&ex);
    assert!(expected_addr(&ex.call(1, reserve_fn, &args(&(mm, page)))).is_ok());
    // Not registered: called as `CWrapperFunctionResult fn(const char *,
    // size_t)` at that address, like the ORC runtime's wrappers in JIT'd
    // memory. The EH-frame action is such a C function of the executor.
    let eh = ex.symbol(names::REGISTER_EH_FRAME);
    let empty = orc_rt::ExecutorAddrRange::new(ExecutorAddr::new(64), ExecutorAddr::new(64));
    let r = ex.call(2, eh, &args(&empty));
    let err = error_result(&r).unwrap_err();
    assert!(err.message().contains("empty eh-frame section"), "{err}");
    let (status, stderr) = ex.finish();
    assert_exit(status, 0, &stderr);
}

#[test]
fn llvm_jitlink_killed_mid_program_leaves_the_executor_to_finish_cleanly() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let Some(llvm) = executor_support::llvm_bin() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("orc-rt-killed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("slow.c"),
        "#include <stdio.h>\n#include <unistd.h>\nint main(void) { puts(\"started\"); fflush(stdout); sleep(2); puts(\"done\"); return 5; }\n",
    )
    .unwrap();
    let built = Command::new(llvm.join("clang"))
        .args(["-c", "-O1", "slow.c", "-o", "slow.o"])
        .current_dir(&dir)
        .status()
        .unwrap();
    assert!(built.success());
    // A wrapper records the executor's exit status: once llvm-jitlink is
    // killed, the executor is nobody's child we could wait for.
    let exe = executor_support::executor_binary(executor_support::own_profile());
    let status_file = dir.join("status");
    let wrapper = dir.join("executor.sh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\n'{}' \"$@\" 2>'{}'\necho $? > '{}'\n",
            exe.display(),
            dir.join("stderr").display(),
            status_file.display()
        ),
    )
    .unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(&wrapper)
        .status()
        .unwrap();
    let mut jitlink = Command::new(llvm.join("llvm-jitlink"))
        .arg(format!("-oop-executor={}", wrapper.display()))
        .arg("slow.o")
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the program runs, then kill the controller.
    let mut out = jitlink.stdout.take().unwrap();
    let mut first = [0u8; 8];
    std::io::Read::read_exact(&mut out, &mut first).unwrap();
    assert_eq!(&first, b"started\n");
    jitlink.kill().unwrap();
    jitlink.wait().unwrap();
    let start = Instant::now();
    while !status_file.is_file() || std::fs::read_to_string(&status_file).unwrap().is_empty() {
        assert!(
            start.elapsed() < executor_support::DEADLINE,
            "the executor hangs"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = std::fs::read_to_string(&status_file).unwrap();
    let stderr = std::fs::read_to_string(dir.join("stderr")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    // As LLVM's executor: the program finishes, its result has nowhere to go.
    assert_eq!(status.trim(), "0", "stderr: {stderr}");
    assert_eq!(stderr, "SimpleRemoteEPCServer FD-transport disconnected\n");
}
