//! Shared by the tests that drive the `orc-executor` process: finding (and
//! building) the binary, and a hand-made-frames controller over its
//! stdin/stdout (`filedescs=0,1`).

#![allow(dead_code, reason = "each test file uses a different part")]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use orc_executor::services::names;
use orc_executor::services::types::ExecutorSymbolDef;
use orc_executor::wire::{FrameReader, Message, Opcode, SetupInfo, write_message};
use orc_rt::sps;
use orc_rt::{Error, ExecutorAddr};

/// Reads the executor's first frame from `from`: a Setup message (seq 0,
/// tag 0) that decodes.
pub(crate) fn read_setup<R: Read>(from: &mut FrameReader<R>) -> SetupInfo {
    let m = from
        .read_message()
        .expect("a well-formed first frame")
        .expect("a Setup message before end of stream");
    assert_eq!(
        (m.opcode, m.seqno, m.tag),
        (Opcode::Setup, 0, ExecutorAddr::NULL)
    );
    SetupInfo::from_bytes(m.payload.bytes()).expect("Setup decodes")
}

/// The target folder this test binary was built into (`<target>/<profile>/deps/<test>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.ancestors()
        .nth(3)
        .expect("test binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

/// Builds `orc-executor` in `profile` ("debug" or "release") with the same
/// cargo and target folder as this test, once per test process, and returns
/// its path. `ORC_EXECUTOR` overrides it with a prebuilt binary.
pub(crate) fn executor_binary(profile: &str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    if let Some(path) = std::env::var_os("ORC_EXECUTOR") {
        return PathBuf::from(path);
    }
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(path) = built.get(profile) {
        return path.clone();
    }
    let target = target_dir();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-q", "-p", "orc-executor", "--target-dir"])
        .arg(&target)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile == "release" {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("running cargo build for orc-executor");
    assert!(
        status.success(),
        "cargo build -p orc-executor ({profile}) failed"
    );
    let path = target.join(profile).join("orc-executor");
    assert!(path.is_file(), "no executor at {}", path.display());
    built.insert(profile.to_owned(), path.clone());
    path
}

/// The profile this test was built with.
pub(crate) fn own_profile() -> &'static str {
    let dir = target_dir();
    let exe = std::env::current_exe().unwrap();
    let profile = exe
        .strip_prefix(&dir)
        .ok()
        .and_then(|p| p.components().next())
        .and_then(|c| c.as_os_str().to_str())
        .unwrap_or("debug");
    if profile == "release" {
        "release"
    } else {
        "debug"
    }
}

/// How long any single expectation may take before the test calls it a hang.
pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

/// A running executor and our end of its pipes.
pub(crate) struct Executor {
    child: Child,
    to: Option<ChildStdin>,
    from: Receiver<Result<Message, String>>,
    stderr: Receiver<String>,
    pub(crate) setup: SetupInfo,
}

impl Executor {
    /// Starts the executor on `filedescs=0,1` and reads its Setup message.
    pub(crate) fn start() -> Executor {
        Executor::start_with(&executor_binary(own_profile()), &[])
    }

    /// Starts `binary filedescs=0,1` with extra environment.
    pub(crate) fn start_with(binary: &Path, env: &[(&str, &str)]) -> Executor {
        let mut child = Command::new(binary)
            .arg("filedescs=0,1")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting orc-executor");
        let to = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (tx, from) = mpsc::channel();
        std::thread::spawn(move || {
            let mut frames = FrameReader::new(stdout);
            loop {
                match frames.read_message() {
                    Ok(Some(m)) => {
                        if tx.send(Ok(m)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        return;
                    }
                }
            }
        });
        let (etx, stderr_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            let _ = etx.send(s);
        });
        let mut ex = Executor {
            child,
            to,
            from,
            stderr: stderr_rx,
            setup: SetupInfo::default(),
        };
        let setup = ex.recv().expect("a Setup message");
        assert_eq!(setup.opcode, Opcode::Setup);
        assert_eq!((setup.seqno, setup.tag), (0, ExecutorAddr::NULL));
        ex.setup = SetupInfo::from_bytes(setup.payload.bytes()).expect("Setup decodes");
        ex
    }

    /// The executor's process id (to read its `/proc/PID/*`).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The address published under `name`.
    pub(crate) fn symbol(&self, name: &str) -> ExecutorAddr {
        *self
            .setup
            .bootstrap_symbols
            .get(name)
            .unwrap_or_else(|| panic!("no bootstrap symbol {name}"))
    }

    /// Sends raw bytes.
    pub(crate) fn send_raw(&mut self, bytes: &[u8]) {
        let to = self.to.as_mut().expect("pipe still open");
        // The executor may have exited already: that is for the test to see.
        let _ = to.write_all(bytes);
        let _ = to.flush();
    }

    /// Sends one well-formed message.
    pub(crate) fn send(&mut self, opcode: Opcode, seqno: u64, tag: ExecutorAddr, payload: &[u8]) {
        let mut bytes = Vec::new();
        write_message(&mut bytes, opcode, seqno, tag, payload).unwrap();
        self.send_raw(&bytes);
    }

    /// Sends a CallWrapper and returns the Result's payload.
    pub(crate) fn call(&mut self, seqno: u64, tag: ExecutorAddr, args: &[u8]) -> Vec<u8> {
        self.send(Opcode::CallWrapper, seqno, tag, args);
        let m = self.recv().expect("a Result");
        assert_eq!(
            (m.opcode, m.seqno, m.tag),
            (Opcode::Result, seqno, ExecutorAddr::NULL)
        );
        m.payload.bytes().to_vec()
    }

    /// The next message from the executor, or `None` at end of stream.
    pub(crate) fn recv(&mut self) -> Option<Message> {
        match self.from.recv_timeout(DEADLINE) {
            Ok(Ok(m)) => Some(m),
            Ok(Err(e)) => panic!("the executor sent a malformed frame: {e}"),
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                panic!("the executor sent nothing for {DEADLINE:?}: hang")
            }
        }
    }

    /// Closes our write end (the executor reads end of stream).
    pub(crate) fn close(&mut self) {
        drop(self.to.take());
    }

    /// Waits for the executor to exit (closing our end first); returns its
    /// status and everything it wrote to stderr. Kills it and fails the test
    /// if it takes longer than [`DEADLINE`].
    pub(crate) fn finish(mut self) -> (ExitStatus, String) {
        self.close();
        wait_for_exit(&mut self.child, &self.stderr)
    }
}

/// Waits for `child` to exit; returns its status and what its stderr
/// reader thread sent. Kills it and fails the test if it takes longer than
/// [`DEADLINE`].
pub(crate) fn wait_for_exit(child: &mut Child, stderr: &Receiver<String>) -> (ExitStatus, String) {
    let status = wait_for_status(child);
    (status, stderr.recv_timeout(DEADLINE).unwrap_or_default())
}

/// Waits for `child` to exit; kills it and fails the test if it takes
/// longer than [`DEADLINE`].
pub(crate) fn wait_for_status(child: &mut Child) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("waiting for orc-executor") {
            return status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("orc-executor did not exit within {DEADLINE:?}: hang");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The process exited by itself with `code` (not killed by a signal).
#[track_caller]
pub(crate) fn assert_exit(status: ExitStatus, code: i32, stderr: &str) {
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        None,
        "killed by a signal; stderr: {stderr}"
    );
    assert_eq!(status.code(), Some(code), "stderr: {stderr}");
}

/// A controller that can make one call and wait for its result (the
/// threaded [`Executor`], or a test's own harness).
pub(crate) trait Caller {
    /// The address published under `name`.
    fn symbol(&self, name: &str) -> ExecutorAddr;
    /// Sends a CallWrapper and returns the Result's payload.
    fn call(&mut self, seqno: u64, tag: ExecutorAddr, args: &[u8]) -> Vec<u8>;
}

impl Caller for Executor {
    fn symbol(&self, name: &str) -> ExecutorAddr {
        Executor::symbol(self, name)
    }
    fn call(&mut self, seqno: u64, tag: ExecutorAddr, args: &[u8]) -> Vec<u8> {
        Executor::call(self, seqno, tag, args)
    }
}

/// Opens the executor process itself through the dylib manager and looks
/// `name` up in it (calls `seqno` and `seqno + 1`); returns the handle and
/// the address.
pub(crate) fn resolve_in_process(
    ex: &mut impl Caller,
    seqno: u64,
    name: &str,
) -> (ExecutorAddr, ExecutorAddr) {
    let dm = ex.symbol(names::DYLIB_MANAGER_INSTANCE);
    let open = ex.symbol(names::DYLIB_MANAGER_OPEN);
    let h = ex.call(seqno, open, &args(&(dm, "", 0u64)));
    let handle = sps::from_bytes::<Result<ExecutorAddr, Error>>(&h)
        .expect("an Expected<Addr>")
        .expect("the process opens");
    let lookup = ex.symbol(names::DYLIB_MANAGER_RESOLVE);
    let r = ex.call(seqno + 1, lookup, &args(&(handle, vec![(name, true)])));
    let defs = sps::from_bytes::<Result<Vec<Option<ExecutorSymbolDef>>, Error>>(&r)
        .expect("an Expected<lookup result>")
        .expect("the lookup succeeds");
    (handle, defs[0].expect("symbol found").addr)
}

impl Drop for Executor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Encodes a tuple of SPS arguments.
pub(crate) fn args<T: sps::SpsEncode>(value: &T) -> Vec<u8> {
    sps::to_vec(value)
}

/// A raw 32-byte header with arbitrary fields.
pub(crate) fn raw_header(size: u64, opcode: u64, seqno: u64, tag: u64) -> Vec<u8> {
    [size, opcode, seqno, tag]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect()
}

/// The page size of this machine, as the executor announced it.
pub(crate) fn page_size(ex: &Executor) -> u64 {
    ex.setup.page_size
}

static LLVM_CHECK: OnceLock<Option<PathBuf>> = OnceLock::new();

/// LLVM 22's bin folder if `llvm-jitlink` is there. Without it a test
/// that needs LLVM skips with a message, unless `ORC_RT_REQUIRE_LLVM=1`,
/// which makes it fail.
pub(crate) fn llvm_bin() -> Option<PathBuf> {
    LLVM_CHECK
        .get_or_init(|| {
            let bin = PathBuf::from(
                std::env::var_os("LLVM_BIN").unwrap_or_else(|| "/usr/lib/llvm-22/bin".into()),
            );
            bin.join("llvm-jitlink").is_file().then_some(bin)
        })
        .clone()
        .or_else(|| {
            let required = std::env::var("ORC_RT_REQUIRE_LLVM").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "LLVM 22 (llvm-jitlink) not found and ORC_RT_REQUIRE_LLVM=1"
            );
            eprintln!("skipped: LLVM 22 not found (set LLVM_BIN, or install llvm-22)");
            None
        })
}
