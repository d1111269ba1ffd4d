//! LLVM main's controller against `orc-executor` (issue 16): a test
//! controller that speaks what LLVM's main branch sends after LLVM 22, with
//! its byte shapes (`docs/protocol.md`, protocol 3.1, 5.8, 10):
//!
//! - the connection specs of LLVM main's `llvm-jitlink-executor`:
//!   `socket:adopt=FD` (one end of a socketpair, as `llvm-jitlink
//!   -oop-launch` starts it), `tcp:connect=HOST:PORT`, `tcp:listen=HOST:PORT`,
//!   and their error messages;
//! - the `orc_rt_ci_*` controller-interface names and SPS shapes (the
//!   SimpleNativeMemoryMap memory manager, the NativeDylibManager's
//!   instance-taking lookup answering bare addresses, all thirteen memory
//!   accesses, `call_main` and the other call wrappers), next to LLVM 22's
//!   names in the same Setup;
//! - allocation actions of both conventions (upstream orc-rt's: empty on
//!   success, out-of-band error on failure; LLVM's SPS `Error`), whose own
//!   messages must reach the controller unchanged;
//! - Hangup payloads (`00` orderly, `01` + reason) and result kinds.
//!
//! Code is JIT'd by hand: a few x86-64 instructions written through the
//! memory manager, so the call wrappers run real code. Needs nothing but
//! the executor (LLVM 22's own controller cannot speak these names; the
//! LLVM 22 side is covered by `conformance*.rs` and `scenarios.rs`).

mod executor_support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use executor_support::{
    DEADLINE, args, assert_exit, executor_binary, own_profile, wait_for_status,
};
use orc_executor::services::types::{
    AllocAction, AllocActionPair, AllocGroup, FinalizeRequest, MemProt, SegmentRequest,
};
use orc_executor::services::{ci_names, names};
use orc_executor::wire::{FrameReader, Message, Opcode, SetupInfo, write_message};
use orc_rt::addr::ExecutorAddrRange;
use orc_rt::sps;
use orc_rt::{Error, ExecutorAddr};

type Reader = Box<dyn Read + Send>;
type Writer = Box<dyn Write + Send>;

/// Our end of one session, over whatever stream the spec gave.
struct Controller {
    child: Child,
    to: Option<Writer>,
    /// Shuts our end down (the reader holds a clone of the socket, so
    /// dropping the writer alone would not end the stream).
    shutdown: Box<dyn Fn() + Send>,
    from: FrameReader<Reader>,
    setup: SetupInfo,
    next_seqno: u64,
}

impl Controller {
    /// Reads the Setup from `from` and checks its frame.
    fn open(child: Child, to: Writer, from: Reader, shutdown: Box<dyn Fn() + Send>) -> Controller {
        let mut from = FrameReader::new(from);
        let setup = executor_support::read_setup(&mut from);
        Controller {
            child,
            to: Some(to),
            shutdown,
            from,
            setup,
            // LLVM main's controller numbers its calls from 0.
            next_seqno: 0,
        }
    }

    fn symbol(&self, name: &str) -> ExecutorAddr {
        *self
            .setup
            .bootstrap_symbols
            .get(name)
            .unwrap_or_else(|| panic!("no bootstrap symbol {name}"))
    }

    fn send(&mut self, opcode: Opcode, seqno: u64, tag: ExecutorAddr, payload: &[u8]) {
        let to = self.to.as_mut().expect("still open");
        write_message(to, opcode, seqno, tag, payload).expect("writing to the executor");
    }

    fn recv(&mut self) -> Option<Message> {
        self.from.read_message().expect("a well-formed frame")
    }

    /// Calls the wrapper published as `name`; the Result's payload (tag
    /// must be result kind 0, a value).
    fn call(&mut self, name: &str, arg_bytes: &[u8]) -> Vec<u8> {
        let tag = self.symbol(name);
        let (kind, payload) = self.call_at(tag, arg_bytes);
        assert_eq!(kind, 0, "{name}: a value result");
        payload
    }

    /// Calls `tag`; the Result's kind (its tag) and payload.
    fn call_at(&mut self, tag: ExecutorAddr, arg_bytes: &[u8]) -> (u64, Vec<u8>) {
        let seqno = self.next_seqno;
        self.next_seqno += 1;
        self.send(Opcode::CallWrapper, seqno, tag, arg_bytes);
        let m = self.recv().expect("a Result");
        assert_eq!((m.opcode, m.seqno), (Opcode::Result, seqno));
        (m.tag.value(), m.payload.bytes().to_vec())
    }

    /// Hangs up with `payload` and closes, as LLVM main's controller does;
    /// the executor must send nothing back. Its exit status and stderr.
    fn hang_up(mut self, payload: &[u8]) -> (ExitStatus, String) {
        self.send(Opcode::Hangup, 0, ExecutorAddr::NULL, payload);
        assert!(self.recv().is_none(), "no reply to a Hangup");
        self.finish()
    }

    /// Closes our end; the executor's exit status and stderr.
    fn finish(mut self) -> (ExitStatus, String) {
        drop(self.to.take());
        (self.shutdown)();
        let status = wait_for_status(&mut self.child);
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        (status, stderr)
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn executor() -> Command {
    let mut cmd = Command::new(executor_binary(own_profile()));
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Starts the executor on one end of a socketpair, `socket:adopt=FD` with
/// the descriptor number it has in the child (as `llvm-jitlink
/// -oop-launch` does).
fn start_socket_adopt(env: &[(&str, &str)]) -> Controller {
    let (ours, theirs) = UnixStream::pair().expect("a socketpair");
    let fd = theirs.as_raw_fd();
    let mut cmd = executor();
    cmd.arg(format!("socket:adopt={fd}"))
        .envs(env.iter().copied());
    // SAFETY: between fork and exec only the async-signal-safe fcntl runs:
    // it clears close-on-exec on the one descriptor the child must keep.
    unsafe {
        cmd.pre_exec(move || {
            if libc::fcntl(fd, libc::F_SETFD, 0) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let child = cmd.spawn().expect("starting orc-executor");
    drop(OwnedFd::from(theirs));
    ours.set_read_timeout(Some(DEADLINE)).unwrap();
    let to = ours.try_clone().unwrap();
    let closer = ours.try_clone().unwrap();
    Controller::open(
        child,
        Box::new(to),
        Box::new(ours),
        Box::new(move || {
            let _ = closer.shutdown(std::net::Shutdown::Write);
        }),
    )
}

/// Listens on a loopback port and starts the executor with
/// `tcp:connect=127.0.0.1:PORT` (LLVM main's `-oop-launch
/// -oop-connect=tcp:listen=...` hands it the resolved port).
fn start_tcp_connect() -> Controller {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let child = executor()
        .arg(format!("tcp:connect=127.0.0.1:{port}"))
        .spawn()
        .expect("starting orc-executor");
    listener.set_nonblocking(true).unwrap();
    let start = Instant::now();
    let stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(start.elapsed() < DEADLINE, "the executor never connected");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accepting the executor: {e}"),
        }
    };
    stream.set_nonblocking(false).unwrap();
    tcp_controller(child, stream)
}

/// Starts the executor with `tcp:listen=HOST:PORT` and connects to it.
fn start_tcp_listen(host: &str) -> Controller {
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = executor()
        .arg(format!("tcp:listen={host}:{port}"))
        .spawn()
        .expect("starting orc-executor");
    let start = Instant::now();
    let stream = loop {
        if let Ok(s) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) {
            break s;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the executor exited ({status}) before listening");
        }
        assert!(start.elapsed() < DEADLINE, "the executor never listened");
        std::thread::sleep(Duration::from_millis(10));
    };
    tcp_controller(child, stream)
}

fn tcp_controller(child: Child, stream: TcpStream) -> Controller {
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let to = stream.try_clone().unwrap();
    let closer = stream.try_clone().unwrap();
    Controller::open(
        child,
        Box::new(to),
        Box::new(stream),
        Box::new(move || {
            let _ = closer.shutdown(std::net::Shutdown::Write);
        }),
    )
}

fn expected<T: for<'a> sps::SpsDecode<'a>>(bytes: &[u8]) -> Result<T, Error> {
    sps::from_bytes::<Result<T, Error>>(bytes).expect("an SPS Expected")
}

fn error(bytes: &[u8]) -> Result<(), Error> {
    sps::from_bytes::<Result<(), Error>>(bytes).expect("an SPS Error")
}

/// A memory-manager call with the instance as first argument.
fn mm_args<T: sps::SpsEncode>(c: &Controller, rest: T) -> Vec<u8> {
    args(&(c.symbol(ci_names::MEMORY_MAP_INSTANCE), rest))
}

fn reserve(c: &mut Controller, size: u64) -> ExecutorAddr {
    let a = mm_args(c, size);
    expected::<ExecutorAddr>(&c.call(ci_names::MEMORY_MAP_RESERVE, &a)).expect("reserve")
}

fn initialize(c: &mut Controller, req: &FinalizeRequest<'_>) -> Result<ExecutorAddr, Error> {
    let a = args(&(c.symbol(ci_names::MEMORY_MAP_INSTANCE), req));
    expected::<ExecutorAddr>(&c.call(ci_names::MEMORY_MAP_INITIALIZE, &a))
}

fn group(prot: MemProt) -> AllocGroup {
    AllocGroup::from(prot)
}

fn action(function: ExecutorAddr, arg: &impl sps::SpsEncode) -> AllocAction {
    AllocAction::new(function, sps::to_vec(arg).into())
}

/// Four functions, each 8 bytes apart: `int32_t f(void) { return 42; }`,
/// `int32_t f(int32_t x) { return 2 * x; }`, `int main(int argc, ...) {
/// return argc; }`, `void f(void) {}`.
#[cfg(target_arch = "x86_64")]
const CODE: [u8; 32] = [
    0xb8, 0x2a, 0, 0, 0, 0xc3, 0, 0, // mov eax, 42; ret
    0x8d, 0x04, 0x3f, 0xc3, 0, 0, 0, 0, // lea eax, [rdi + rdi]; ret
    0x89, 0xf8, 0xc3, 0, 0, 0, 0, 0, // mov eax, edi; ret
    0xc3, 0, 0, 0, 0, 0, 0, 0, // ret
];

/// Every name LLVM main's controller needs before it links anything is in
/// the Setup, next to LLVM 22's, and the instances of both generations are
/// the same services.
fn assert_both_generations(c: &Controller) {
    for name in ci_names::REQUIRED {
        assert!(!c.symbol(name).is_null(), "{name}");
    }
    for name in [
        ci_names::CALL_VOID_VOID,
        ci_names::CALL_INT32_VOID,
        ci_names::CALL_INT32_INT32,
        ci_names::GDB_REGISTER,
        ci_names::GDB_DEREGISTER,
        ci_names::EH_FRAME_REGISTER,
        ci_names::EH_FRAME_DEREGISTER,
        names::DISPATCH_FN,
        names::DISPATCH_CTX,
        names::REGISTER_EH_FRAME,
        names::DEREGISTER_EH_FRAME,
        names::RUN_AS_MAIN,
        names::MEMORY_MANAGER_RESERVE,
        names::DYLIB_MANAGER_RESOLVE,
        names::SHARED_MEMORY_RESERVE,
    ] {
        assert!(!c.symbol(name).is_null(), "{name}");
    }
    assert_eq!(
        c.symbol(ci_names::MEMORY_MAP_INSTANCE),
        c.symbol(names::MEMORY_MANAGER_INSTANCE)
    );
    assert_eq!(
        c.symbol(ci_names::DYLIB_MANAGER_INSTANCE),
        c.symbol(names::DYLIB_MANAGER_INSTANCE)
    );
    assert_eq!(c.setup.bootstrap_map.len(), 0, "no values, as LLVM 22");
}

/// The whole LLVM main session: dylibs, memory, code, memory access,
/// alloc actions, release; then the controller's orderly Hangup.
#[cfg(target_arch = "x86_64")]
fn full_session(c: &mut Controller) {
    assert_both_generations(c);

    // Dylib manager: load the process (LLVM main sends a mode, orc-rt's
    // controller does not), then look up with LLVM main's shapes.
    let dm = c.symbol(ci_names::DYLIB_MANAGER_INSTANCE);
    let handle =
        expected::<ExecutorAddr>(&c.call(ci_names::DYLIB_MANAGER_LOAD, &args(&(dm, "", 0u64))))
            .expect("the process loads");
    let again =
        expected::<ExecutorAddr>(&c.call(ci_names::DYLIB_MANAGER_LOAD, &args(&(dm, "")))).unwrap();
    assert_eq!(handle, again, "the two-argument form answers the same");
    let lookup = args(&(
        dm,
        handle,
        vec![
            ("printf", true),
            ("orc_rt_no_such_symbol", true),
            ("orc_rt_no_such_weak", false),
        ],
    ));
    let found =
        expected::<Vec<Option<ExecutorAddr>>>(&c.call(ci_names::DYLIB_MANAGER_LOOKUP, &lookup))
            .expect("the lookup succeeds");
    assert_eq!(found.len(), 3);
    assert!(found[0].is_some_and(|a| !a.is_null()), "{found:?}");
    assert_eq!(found[1], None, "missing required: an empty optional");
    assert_eq!(
        found[2],
        Some(ExecutorAddr::NULL),
        "missing weak: address 0"
    );
    let bad = c.call(
        ci_names::DYLIB_MANAGER_LOOKUP,
        &args(&(handle, handle, Vec::<(&str, bool)>::new())),
    );
    assert!(
        expected::<Vec<Option<ExecutorAddr>>>(&bad)
            .unwrap_err()
            .message()
            .contains("is not the dylib manager instance")
    );

    // Memory manager: a code page and a data page.
    let page = c.setup.page_size;
    let base = reserve(c, 2 * page);
    let data = base + page;
    let mut code = vec![0u8; 32];
    code.copy_from_slice(&CODE);
    let req = FinalizeRequest {
        segments: vec![
            SegmentRequest {
                group: group(MemProt::READ | MemProt::EXEC),
                addr: base,
                size: page,
                content: &code,
            },
            SegmentRequest {
                group: group(MemProt::READ | MemProt::WRITE),
                addr: data,
                size: page,
                content: b"",
            },
        ],
        actions: vec![],
    };
    let key = initialize(c, &req).expect("initialize");
    assert_eq!(key, base, "the key is the lowest segment address");

    // Memory access, all thirteen.
    let w = |c: &mut Controller, name: &str, bytes: Vec<u8>| {
        let r = c.call(name, &bytes);
        assert!(r.is_empty(), "{name}: a void result, got {r:?}");
    };
    w(c, ci_names::WRITE_UINT8S, args(&vec![(data, 0x11u8)]));
    w(
        c,
        ci_names::WRITE_UINT16S,
        args(&vec![(data + 2, 0x2222u16)]),
    );
    w(
        c,
        ci_names::WRITE_UINT32S,
        args(&vec![(data + 4, 0x3333_3333u32)]),
    );
    w(
        c,
        ci_names::WRITE_UINT64S,
        args(&vec![(data + 8, 0x4444_4444_4444_4444u64)]),
    );
    w(c, ci_names::WRITE_POINTERS, args(&vec![(data + 16, base)]));
    w(
        c,
        ci_names::WRITE_BUFFERS,
        args(&vec![(data + 24, &b"hello\0"[..])]),
    );
    let r = |c: &mut Controller, name: &str, addrs: Vec<ExecutorAddr>| c.call(name, &args(&addrs));
    assert_eq!(
        sps::from_bytes::<Vec<u8>>(&r(c, ci_names::READ_UINT8S, vec![data])).unwrap(),
        [0x11]
    );
    assert_eq!(
        sps::from_bytes::<Vec<u16>>(&r(c, ci_names::READ_UINT16S, vec![data + 2])).unwrap(),
        [0x2222]
    );
    assert_eq!(
        sps::from_bytes::<Vec<u32>>(&r(c, ci_names::READ_UINT32S, vec![data + 4])).unwrap(),
        [0x3333_3333]
    );
    assert_eq!(
        sps::from_bytes::<Vec<u64>>(&r(c, ci_names::READ_UINT64S, vec![data + 8])).unwrap(),
        [0x4444_4444_4444_4444]
    );
    assert_eq!(
        sps::from_bytes::<Vec<ExecutorAddr>>(&r(c, ci_names::READ_POINTERS, vec![data + 16]))
            .unwrap(),
        [base]
    );
    assert_eq!(
        sps::from_bytes::<Vec<String>>(&r(c, ci_names::READ_STRINGS, vec![data + 24])).unwrap(),
        ["hello"]
    );
    // LLVM main sends address ranges (start, end).
    let ranges = vec![
        ExecutorAddrRange::new(data + 24, data + 29),
        ExecutorAddrRange::new(base, base + 6),
    ];
    let bufs: Vec<Vec<u8>> =
        sps::from_bytes(&c.call(ci_names::READ_BUFFERS, &args(&ranges))).unwrap();
    assert_eq!(bufs, [b"hello".to_vec(), CODE[..6].to_vec()]);

    // The call wrappers run the code.
    let run = |c: &mut Controller, name: &str, a: Vec<u8>| c.call(name, &a);
    assert_eq!(
        sps::from_bytes::<i32>(&run(c, ci_names::CALL_INT32_VOID, args(&base))).unwrap(),
        42
    );
    assert_eq!(
        sps::from_bytes::<i32>(&run(
            c,
            ci_names::CALL_INT32_INT32,
            args(&(base + 8, 21i32))
        ))
        .unwrap(),
        42
    );
    assert_eq!(
        sps::from_bytes::<i64>(&run(
            c,
            ci_names::CALL_MAIN,
            args(&(base + 16, vec!["prog", "a", "b"]))
        ))
        .unwrap(),
        3,
        "argc, argv[0] included"
    );
    assert!(run(c, ci_names::CALL_VOID_VOID, args(&(base + 24))).is_empty());

    // Allocation actions of upstream orc-rt's convention (empty result on
    // success) run at initialize and at deinitializeMultiple.
    let more = reserve(c, page);
    let object = ExecutorAddrRange::new(data + 24, data + 30);
    let gdb = |c: &Controller, name: &str| c.symbol(name);
    let req = FinalizeRequest {
        segments: vec![SegmentRequest {
            group: group(MemProt::READ | MemProt::WRITE),
            addr: more,
            size: page,
            content: b"x",
        }],
        actions: vec![AllocActionPair {
            finalize: action(gdb(c, ci_names::GDB_REGISTER), &object),
            dealloc: action(gdb(c, ci_names::GDB_DEREGISTER), &object),
        }],
    };
    let key2 = initialize(c, &req).expect("an orc-rt action succeeds with an empty result");
    let deinit = mm_args(c, vec![key2]);
    error(&c.call(ci_names::MEMORY_MAP_DEINITIALIZE, &deinit))
        .expect("its dealloc action (deregister) succeeds too");

    // A failing action's own message reaches the controller unchanged,
    // whichever convention it reports with.
    let empty = ExecutorAddrRange::new(data, data);
    for (function, message) in [
        (
            ci_names::GDB_REGISTER,
            "cannot register an empty debug object".to_owned(),
        ),
        (
            names::REGISTER_EH_FRAME,
            format!(
                "cannot register an empty eh-frame section at {:#x}",
                data.value()
            ),
        ),
    ] {
        let req = FinalizeRequest {
            segments: vec![SegmentRequest {
                group: group(MemProt::READ | MemProt::WRITE),
                addr: more,
                size: page,
                content: b"",
            }],
            actions: vec![AllocActionPair {
                finalize: action(gdb(c, function), &empty),
                dealloc: AllocAction::none(),
            }],
        };
        let err = initialize(c, &req).unwrap_err();
        assert_eq!(err.message(), message, "{function}");
    }

    // A reservation of 0 bytes is address 0 (as LLVM 22's executor).
    assert_eq!(reserve(c, 0), ExecutorAddr::NULL);
    let release = mm_args(c, vec![base, more, ExecutorAddr::NULL]);
    error(&c.call(ci_names::MEMORY_MAP_RELEASE, &release)).expect("release");
    let again = mm_args(c, vec![base]);
    assert_eq!(
        error(&c.call(ci_names::MEMORY_MAP_RELEASE, &again))
            .unwrap_err()
            .message(),
        format!(
            "In release, {:#x} is not part of any reserved address range",
            base.value()
        )
    );
}

#[cfg(target_arch = "x86_64")]
#[test]
fn a_main_controller_session_over_socket_adopt() {
    let mut c = start_socket_adopt(&[]);
    full_session(&mut c);
    let (status, stderr) = c.hang_up(&[0]);
    assert_exit(status, 0, &stderr);
    assert_eq!(stderr, "", "silent by default");
}

#[cfg(target_arch = "x86_64")]
#[test]
fn a_main_controller_session_over_tcp_connect() {
    let mut c = start_tcp_connect();
    full_session(&mut c);
    let (status, stderr) = c.hang_up(&[0]);
    assert_exit(status, 0, &stderr);
}

#[test]
fn tcp_listen_accepts_one_controller_on_any_address() {
    let mut c = start_tcp_listen("");
    assert_both_generations(&c);
    let page = c.setup.page_size;
    let base = reserve(&mut c, page);
    let release = mm_args(&c, vec![base]);
    error(&c.call(ci_names::MEMORY_MAP_RELEASE, &release)).unwrap();
    // A controller that closes without hanging up: LLVM 22's way, orderly.
    let (status, stderr) = c.finish();
    assert_exit(status, 0, &stderr);
}

#[test]
fn a_hangup_reason_becomes_the_executor_s_error() {
    let mut c = start_tcp_listen("127.0.0.1");
    let page = c.setup.page_size;
    let _ = reserve(&mut c, page);
    let reason = sps::to_vec(&Err::<(), Error>(Error::msg("controller ran out of x")));
    let (status, stderr) = c.hang_up(&reason);
    assert_exit(status, 1, &stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("orc-executor: controller ran out of x"),
        "{stderr:?}"
    );
}

#[test]
fn a_malformed_hangup_or_result_kind_is_a_protocol_error() {
    let c = start_socket_adopt(&[]);
    let (status, stderr) = c.hang_up(&[7]);
    assert_exit(status, 1, &stderr);
    assert!(
        stderr.contains("Could not deserialize hangup info"),
        "{stderr:?}"
    );

    let mut c = start_socket_adopt(&[]);
    c.send(Opcode::Result, 5, ExecutorAddr::new(2), &[]);
    assert!(c.recv().is_none(), "the executor closes");
    let (status, stderr) = c.finish();
    assert_exit(status, 1, &stderr);
    assert!(
        stderr.contains("Malformed result message: invalid kind 2"),
        "{stderr:?}"
    );
}

#[test]
fn out_of_band_errors_use_result_kind_1_only_when_told() {
    // A call to address 0 fails out of band (protocol 7).
    let mut c = start_socket_adopt(&[("ORC_RT_RESULT_KINDS", "1")]);
    let (kind, payload) = c.call_at(ExecutorAddr::NULL, b"");
    assert_eq!(kind, 1, "result kind 1: an out-of-band error");
    let message: String = sps::from_bytes(&payload).expect("an SPS string");
    assert_eq!(message, "no wrapper function registered at 0x0");
    let (status, stderr) = c.hang_up(&[0]);
    assert_exit(status, 0, &stderr);

    // By default, LLVM 22's answer: an empty value.
    let mut c = start_socket_adopt(&[]);
    assert_eq!(c.call_at(ExecutorAddr::NULL, b""), (0, Vec::new()));
    let (status, stderr) = c.hang_up(&[0]);
    assert_exit(status, 0, &stderr);
}

/// Runs the executor with one argument; its status and stderr.
fn run_with_spec(spec: &str) -> (ExitStatus, String) {
    let out = executor().arg(spec).output().expect("running orc-executor");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn spec_errors_read_as_llvm_main_s() {
    let refused_port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let connect = format!("tcp:connect=127.0.0.1:{refused_port}");
    for (spec, message) in [
        (
            "socket:adopt=three",
            "In socket:adopt=three, three is not an integer".to_owned(),
        ),
        (
            "socket:connect=3",
            "In socket:connect=3, the socket transport supports only the \"adopt\" action".into(),
        ),
        (
            "tcp:connect=nohost",
            "In tcp:connect=nohost, expected <host>:<port>".into(),
        ),
        (
            "tcp:bind=h:1",
            "In tcp:bind=h:1, unrecognized action \"bind\"".into(),
        ),
        (
            "unix:listen=/tmp/x",
            "In unix:listen=/tmp/x, unrecognized transport \"unix\"".into(),
        ),
        (
            connect.as_str(),
            format!(
                "In {connect}, Failed to connect to '127.0.0.1:{refused_port}': Connection refused"
            ),
        ),
    ] {
        let (status, stderr) = run_with_spec(spec);
        assert_exit(status, 1, &stderr);
        let line = stderr.lines().last().unwrap_or_default();
        assert!(
            line.ends_with(&format!("orc-executor: {message}")),
            "{spec}: {stderr:?}"
        );
        assert!(!stderr.contains("Usage:"), "{spec}: no usage, as LLVM main");
    }
    // LLVM 22's forms keep LLVM 22's words and usage.
    let (status, stderr) = run_with_spec("pipes=1");
    assert_exit(status, 1, &stderr);
    assert!(
        stderr.starts_with("error: invalid specifier type \"pipes\"") && stderr.contains("Usage:"),
        "{stderr:?}"
    );
}

#[test]
fn verbose_prints_the_executor_info_as_ogre() {
    let out = executor()
        .args(["-v", "tcp:connect=127.0.0.1:1", "--", "ignored"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("executor info: triple = \"") && first.contains("page-size = "),
        "{stderr:?}"
    );
}
