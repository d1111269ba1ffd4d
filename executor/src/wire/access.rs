//! The controller access that speaks LLVM 22's SimpleRemoteEPC protocol
//! over a [`Transport`] (the executor side of upstream
//! `SimpleRemoteEPCServer`).
//!
//! Threads: one reader per connection (a thread of its own, or the owner's
//! with [`WireOptions::read_on_caller`]) reads frames and hands them to the
//! session (calls are dispatched, results complete pending calls). Writers
//! are whoever has something to send: the reader itself (results of quick
//! calls it runs inline), call threads sending results, JIT'd code calling
//! the controller, `disconnect` (the Hangup).
//!
//! Output: one queue of encoded frames under a short lock, plus a *writer
//! role*. A sender appends its frame; if nobody holds the role it takes it
//! and writes with [`Transport::try_write`] **outside the lock** (with
//! nothing queued, straight from its own buffer: the common path of a
//! small result is one non-blocking write, no copy, no hand-off). What does
//! not fit stays queued. Then a thread that may block (a call thread, a
//! JIT'd thread) waits for room ([`Transport::wait_writable`]), holding the
//! role but no lock, and writes on until the queue is empty (including what
//! others queued meanwhile: a sender that finds the role taken just
//! queues). The reader never waits for output: it leaves the rest queued,
//! releases the role, and goes on reading; it flushes when
//! [`Transport::wait`] says output fits. So a controller that does not read
//! while it writes never stops us reading (issue 14, class 7), and no lock
//! is ever held across a wait.
//!
//! Corking: results the reader produces while the next message is already
//! complete in its input buffer are only queued, and written together
//! before the reader next waits (or by any other thread's next write, which
//! keeps the order). A pipelining controller then gets one write, and one
//! wake-up, per batch instead of per result; a controller waiting for one
//! answer gets it before the reader waits again.
//!
//! Ending: whichever thread sees the end first (end of stream, a Hangup,
//! a protocol or I/O error, a failed write, `disconnect`) decides it once
//! (`end`): nothing more is delivered, our pending calls are failed, new
//! ones refused. The session is told once the handlers of the controller's
//! calls still running have returned (their results still go out; one an
//! asynchronous handler sends later is reported lost, spec 8.8), except
//! after `disconnect`, which tells it at once. `disconnect` queues the Hangup
//! behind everything queued and seals the queue in one critical section:
//! nothing follows the Hangup (a later result is reported lost), and
//! `disconnect` returns without writing: the role holder or the reader
//! writes it. Once the queue is sealed and written the transport is
//! closed. After the end the reader reads and drops the controller's input
//! (a controller blocked on its writes must not wait for us) until the end
//! of the stream or our close, flushing what we owe; once input is over it
//! writes what is left, waiting for room if need be. A failed write ends
//! the connection (orderly if the controller closed its end) and reports
//! every queued result lost.
//!
//! Invariants (the simulation runs this code under a deterministic
//! scheduler that parks a simulated thread inside `read`, `wait` and
//! `wait_writable`; the loom models `executor/tests/loom_wire_*.rs` run it
//! on loom's primitives):
//! 1. With [`WireOptions::read_on_caller`] no thread is ever spawned.
//! 2. No lock is held across a call into the transport that may wait
//!    (`read`, `wait`, `wait_writable`). The writer role, which a thread
//!    may hold across `wait_writable`, is a flag, not a lock. (The reader
//!    holds the read lock of `closed` through a delivery, in which it only
//!    ever calls `try_write`.)
//! 3. No thread blocks on a lock that a thread parked in the transport may
//!    hold (there is none, by 2), nor waits for the writer role: a sender
//!    that finds it taken queues and returns.
//! 4. Output left queued while nobody holds the role is the reader's to
//!    write: what did not fit of its own results (it never waits for room
//!    while it may still read), and the Hangup, which `disconnect` queues
//!    under the read lock of `closed`, hence before the reader's last flush
//!    (after its own `end`, which takes the write lock). Any other sender
//!    that finds the role free takes it and writes everything.
//!
//! Sequence numbers: incoming calls are answered with the caller's seqno,
//! blindly (LLVM's controller may reuse none, we check none). Our own calls
//! are numbered from 1 upwards, never reused (0 is the seqno of Setup and
//! Hangup; LLVM 22's executor starts at 0, which the controller does not
//! care about).

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::io::{self, BufRead, BufReader, IoSlice};
use std::sync::{Arc, Weak};

use orc_rt::addr::ExecutorAddr;
use orc_rt::controller_access::{BootstrapInfo, ControllerAccess, ControllerCallReturn};
use orc_rt::error::{Error, ErrorKind};
use orc_rt::probe;
use orc_rt::session::SessionHooks;
use orc_rt::sync::atomic::{AtomicBool, Ordering};
use orc_rt::sync::{Mutex, MutexGuard, RwLock, lock, read, write};
use orc_rt::wrapper::{ArgumentSource, BufferView, WrapperFunctionBuffer};

use super::frame::{COALESCE_LIMIT, Header, WireError, complete_message_at_start};
use super::kinds;
use super::probes;
use super::stream::{Input, PayloadSource, STREAM_THRESHOLD, TransportReader};
use super::{FrameReader, HEADER_SIZE, Message, Opcode, setup_payload};
use crate::transport::Transport;

/// The reader thread's framing over its buffered input.
type Frames = FrameReader<Input>;

/// Corked bytes beyond which they are written at once.
const CORK_LIMIT: u64 = 64 * 1024;

/// Called with the seqno of a result that could not be sent because the
/// controller had already gone.
pub type LostResultFn = Arc<dyn Fn(u64) + Send + Sync>;

/// Options of a wire connection.
#[derive(Clone)]
pub struct WireOptions {
    /// The largest message accepted (size field, header included); larger
    /// claims end the session with a protocol error. Default: no limit
    /// beyond the bytes actually received.
    pub max_message_size: u64,
    /// The name of the reader thread.
    pub reader_thread_name: String,
    /// Read on the owner's thread instead of a thread of our own: `connect`
    /// then starts nothing and the owner calls
    /// [`WireControllerAccess::serve`], which returns when the connection
    /// ends. Saves a thread and a wake-up per session (orc-executor, whose
    /// main thread only waits). No thread is spawned at all then.
    pub read_on_caller: bool,
    /// Told about each result dropped because the controller had closed the
    /// connection or the session had ended it (LLVM's executor prints
    /// "SimpleRemoteEPCServer FD-transport disconnected" then; the executor
    /// binary does too).
    pub on_lost_result: Option<LostResultFn>,
    /// Send out-of-band error results as LLVM main's result kind 1 (the
    /// message reaches the controller) instead of LLVM 22's empty Result.
    /// Only for controllers known to understand result kinds: LLVM 22's
    /// ends the session on one (protocol 3.1). Default false.
    pub result_kinds: bool,
}

impl fmt::Debug for WireOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WireOptions")
            .field("max_message_size", &self.max_message_size)
            .field("reader_thread_name", &self.reader_thread_name)
            .field("read_on_caller", &self.read_on_caller)
            .field("on_lost_result", &self.on_lost_result.is_some())
            .field("result_kinds", &self.result_kinds)
            .finish()
    }
}

impl Default for WireOptions {
    fn default() -> Self {
        WireOptions {
            max_message_size: u64::MAX,
            reader_thread_name: "orc-rt-wire-reader".into(),
            read_on_caller: false,
            on_lost_result: None,
            result_kinds: false,
        }
    }
}

struct CallState {
    /// Our calls waiting for a Result, by seqno.
    pending: BTreeMap<u64, ControllerCallReturn>,
    next_seqno: u64,
    /// Set once the connection is ending: no new calls go out.
    disconnecting: bool,
    /// The controller's calls whose handler is still running: delivered to
    /// the session, neither answered nor returned from (by seqno; a count,
    /// should a controller reuse one).
    running: BTreeMap<u64, u32>,
    /// How the connection ended, kept until the calls in flight are done.
    ending: Option<Result<(), Error>>,
    /// `notify_disconnected` ran (or is running).
    notified: bool,
    /// A thread is failing the pending calls (7.5: all of them before the
    /// session is told): `finish` leaves the telling to that thread.
    draining: bool,
    /// `finish` was asked for during the drain, or by a `disconnect` inside
    /// a delivery (the reader tells the session once it returned).
    finish_requested: bool,
}

impl CallState {
    /// Call `call_id`'s handler is done (answered or returned from):
    /// whether it was counted as running.
    fn stop_running(&mut self, call_id: u64) -> bool {
        match self.running.get_mut(&call_id) {
            Some(n) if *n > 1 => *n -= 1,
            Some(_) => {
                self.running.remove(&call_id);
            }
            None => return false,
        }
        true
    }
}

/// The output queue (see the module docs). Bytes are counted as stream
/// offsets: `queued` were accepted, `written` went out.
struct Output {
    /// Queued bytes, in order: `head[head_pos..]`, then `tail`. The role
    /// holder takes `head` out while it writes it; senders append to
    /// `tail`. The two buffers swap, so their memory is reused.
    head: Vec<u8>,
    head_pos: usize,
    tail: Vec<u8>,
    queued: u64,
    written: u64,
    /// The Results not completely written: (offset of their end, seqno).
    results: VecDeque<(u64, u64)>,
    /// A thread holds the writer role (it writes outside this lock).
    writing: bool,
    /// Nothing more is accepted: the Hangup is queued, the connection
    /// finished, or a write failed.
    sealed: bool,
    /// Close the transport once everything queued is written.
    close_when_written: bool,
    /// The transport is closed (by us).
    closed: bool,
}

impl Output {
    fn pending(&self) -> u64 {
        self.queued - self.written
    }

    /// Forgets the Results now written.
    fn settle(&mut self) {
        while let Some(&(end, _)) = self.results.front() {
            if end > self.written {
                break;
            }
            self.results.pop_front();
        }
    }
}

/// What a writer does when output does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Waits for room: a thread that may block.
    Wait,
    /// Leaves the rest queued for the reader: the reader itself.
    Leave,
}

/// What the reader is doing with input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Delivering messages: stop waiting once the connection ends.
    Deliver,
    /// The connection ended: reading only to drop input.
    Discard,
}

/// A [`ControllerAccess`] over LLVM 22's wire protocol.
pub struct WireControllerAccess {
    hooks: SessionHooks,
    me: Weak<WireControllerAccess>,
    options: WireOptions,
    transport: Arc<dyn Transport>,
    /// The reader was started (`connect` or `serve`).
    reader_started: AtomicBool,
    output: Mutex<Output>,
    /// Set by the reader thread while the next message is complete in its
    /// buffer: results it produces meanwhile may be corked.
    next_message_buffered: AtomicBool,
    calls: Mutex<CallState>,
    /// `calls.disconnecting`, readable without the lock (the reader looks
    /// after every message and every wait).
    ending: AtomicBool,
    /// `true` once the connection started ending: nothing more is delivered
    /// to the session. Deliveries happen under the read lock, so none can
    /// follow the switch.
    closed: RwLock<bool>,
}

impl fmt::Debug for WireControllerAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WireControllerAccess")
            .field("closed", &*read(&self.closed))
            .field("pending", &lock(&self.calls).pending.len())
            .field("queued", &lock(&self.output).pending())
            .finish()
    }
}

fn protocol(message: String) -> Error {
    Error::new(ErrorKind::Protocol, message)
}

/// The end a failed write means: the controller closing its end is an
/// orderly end (it does that with calls outstanding when a link fails),
/// anything else an error.
fn end_after(e: Error) -> Result<(), Error> {
    if e.kind() == ErrorKind::Detached {
        Ok(())
    } else {
        Err(e)
    }
}

/// Writes what fits of one frame (`header`, then `payload`) from its byte
/// `done` on: small frames as one buffer, large ones vectored.
fn try_write_frame(
    transport: &dyn Transport,
    header: &[u8; HEADER_SIZE],
    payload: &[u8],
    done: usize,
) -> io::Result<usize> {
    if done >= HEADER_SIZE {
        return transport.try_write(&payload[done - HEADER_SIZE..]);
    }
    if payload.len() <= COALESCE_LIMIT {
        let mut frame = [0u8; HEADER_SIZE + COALESCE_LIMIT];
        frame[..HEADER_SIZE].copy_from_slice(header);
        frame[HEADER_SIZE..HEADER_SIZE + payload.len()].copy_from_slice(payload);
        transport.try_write(&frame[done..HEADER_SIZE + payload.len()])
    } else {
        transport.try_write_vectored(&[IoSlice::new(&header[done..]), IoSlice::new(payload)])
    }
}

impl WireControllerAccess {
    /// A controller access speaking to the controller through `transport`,
    /// reporting to the session through `hooks`. Nothing happens until the
    /// session calls `connect`.
    pub fn new(
        hooks: SessionHooks,
        transport: Arc<dyn Transport>,
        options: WireOptions,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| WireControllerAccess {
            hooks,
            me: me.clone(),
            options,
            transport,
            reader_started: AtomicBool::new(false),
            output: Mutex::new(Output {
                head: Vec::new(),
                head_pos: 0,
                tail: Vec::new(),
                queued: 0,
                written: 0,
                results: VecDeque::new(),
                writing: false,
                sealed: false,
                close_when_written: false,
                closed: false,
            }),
            next_message_buffered: AtomicBool::new(false),
            calls: Mutex::new(CallState {
                pending: BTreeMap::new(),
                next_seqno: 1,
                disconnecting: false,
                running: BTreeMap::new(),
                ending: None,
                notified: false,
                draining: false,
                finish_requested: false,
            }),
            ending: AtomicBool::new(false),
            closed: RwLock::new(false),
        })
    }

    /// Reads and delivers messages on this thread until the connection
    /// ends, with [`WireOptions::read_on_caller`] (after the session
    /// connected this access); returns at once otherwise, or if called
    /// again. Returns once input is over (the end of the stream, or our
    /// close after the Hangup) and what the reader owed the controller is
    /// written; the session may be told of the end later (a call still
    /// running).
    pub fn serve(self: &Arc<Self>) {
        if !self.options.read_on_caller || self.reader_started.swap(true, Ordering::AcqRel) {
            return;
        }
        self.clone().reader_loop();
    }

    /// Our calls still waiting for a result.
    pub fn pending_calls(&self) -> usize {
        lock(&self.calls).pending.len()
    }

    /// Whether this thread is the reader, inside a delivery of this access.
    fn delivering_here(&self) -> bool {
        DELIVERING.with(|d| d.get()) == self as *const Self as usize
    }

    /// Sends one message: queued behind what is queued, written now if
    /// nobody else is writing (see the module docs). A refused Result (the
    /// queue is sealed) and the queued Results of a failed write are
    /// reported lost here. Errors: [`ErrorKind::Detached`] when the queue
    /// is sealed or the controller closed its end; [`ErrorKind::Io`] for
    /// other write failures.
    fn send(
        &self,
        opcode: Opcode,
        seqno: u64,
        tag: ExecutorAddr,
        payload: &[u8],
    ) -> Result<(), Error> {
        let reader = self.delivering_here();
        // Injected bug (loom model `loom_wire_stall`): the reader waits for
        // room to write its own results, so it stops reading while the
        // controller is not reading (issue 14, class 7).
        let mode = if reader && !cfg!(orc_rt_loom_bug = "wire_reader_waits_for_writer") {
            Mode::Leave
        } else {
            Mode::Wait
        };
        let cork = reader && self.next_message_buffered.load(Ordering::Relaxed);
        let header = Header {
            opcode,
            seqno,
            tag,
            payload_len: payload.len() as u64,
        }
        .encode();
        let len = (HEADER_SIZE + payload.len()) as u64;
        let mut out = lock(&self.output);
        if out.sealed {
            drop(out);
            if opcode == Opcode::Result {
                self.report_lost_result(seqno);
            }
            return Err(Error::new(ErrorKind::Detached, "the connection is closed"));
        }
        tracing::debug!(
            target: "orc_executor::wire",
            "E->C {opcode} seq={seqno} tag={:#x} payload={} bytes",
            tag.value(),
            payload.len()
        );
        if opcode == Opcode::Result {
            let end = out.queued + len;
            out.results.push_back((end, seqno));
        }
        if out.writing || cork || out.pending() > 0 {
            out.tail.extend_from_slice(&header);
            out.tail.extend_from_slice(payload);
            out.queued += len;
            if out.writing || (cork && out.pending() <= CORK_LIMIT) {
                return Ok(());
            }
            out.writing = true;
            return self.drain(out, mode);
        }
        // Nothing queued, nobody writing: straight from `payload`.
        out.writing = true;
        out.queued += len;
        drop(out);
        let mut done = 0;
        while done < len as usize {
            let result = try_write_frame(&*self.transport, &header, payload, done);
            let n = match result {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let mut out = lock(&self.output);
                    out.written += done as u64;
                    return Err(self.write_failed(out, e));
                }
            };
            done += n;
            if done == len as usize {
                break;
            }
            // It did not all fit.
            match mode {
                Mode::Wait => {
                    if let Err(e) = self.transport.wait_writable() {
                        let mut out = lock(&self.output);
                        out.written += done as u64;
                        return Err(self.write_failed(out, e));
                    }
                }
                Mode::Leave => {
                    // The rest goes first: the queue was empty when this
                    // thread took the role, and others only append.
                    let mut out = lock(&self.output);
                    out.written += done as u64;
                    out.head.clear();
                    out.head_pos = 0;
                    if done < HEADER_SIZE {
                        out.head.extend_from_slice(&header[done..]);
                        out.head.extend_from_slice(payload);
                    } else {
                        out.head.extend_from_slice(&payload[done - HEADER_SIZE..]);
                    }
                    out.settle();
                    out.writing = false;
                    return Ok(());
                }
            }
        }
        let mut out = lock(&self.output);
        out.written += len;
        out.settle();
        // Then what others queued meanwhile.
        self.drain(out, mode)
    }

    /// Writes the queue, holding the writer role (`out.writing`), until it
    /// is empty (then closes the transport if that is due) or, in
    /// [`Mode::Leave`], until it does not fit; releases the role.
    fn drain<'a>(&'a self, mut out: MutexGuard<'a, Output>, mode: Mode) -> Result<(), Error> {
        debug_assert!(out.writing, "draining without the writer role");
        loop {
            if out.head_pos == out.head.len() {
                if out.tail.is_empty() {
                    out.writing = false;
                    let close = out.close_when_written && !out.closed;
                    out.closed |= close;
                    drop(out);
                    if close {
                        self.transport.close();
                    }
                    return Ok(());
                }
                let o = &mut *out;
                std::mem::swap(&mut o.head, &mut o.tail);
                o.tail.clear();
                o.head_pos = 0;
            }
            let chunk = std::mem::take(&mut out.head);
            let at = out.head_pos;
            drop(out);
            let result = self.transport.try_write(&chunk[at..]);
            out = lock(&self.output);
            out.head = chunk;
            match result {
                Ok(n) => {
                    out.head_pos += n;
                    out.written += n as u64;
                    out.settle();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.write_failed(out, e)),
            }
            if out.head_pos < out.head.len() {
                // It did not all fit.
                match mode {
                    Mode::Wait => {
                        drop(out);
                        let waited = self.transport.wait_writable();
                        out = lock(&self.output);
                        if let Err(e) = waited {
                            return Err(self.write_failed(out, e));
                        }
                    }
                    Mode::Leave => {
                        out.writing = false;
                        drop(out);
                        probe::hit(probes::READER_LEFT_OUTPUT);
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Writes what is queued if nobody else is (see [`Self::drain`]).
    fn flush(&self, mode: Mode) -> Result<(), Error> {
        let mut out = lock(&self.output);
        if out.writing || out.pending() == 0 {
            return Ok(());
        }
        out.writing = true;
        self.drain(out, mode)
    }

    /// A write failed (the role holder's): nothing more is written or
    /// accepted, and every Result not completely written is reported lost.
    /// The error for it: [`ErrorKind::Detached`] when the controller closed
    /// its end.
    fn write_failed(&self, mut out: MutexGuard<'_, Output>, e: io::Error) -> Error {
        out.writing = false;
        out.sealed = true;
        out.head.clear();
        out.head_pos = 0;
        out.tail.clear();
        out.written = out.queued;
        let lost: Vec<u64> = out.results.drain(..).map(|(_, seqno)| seqno).collect();
        drop(out);
        for seqno in lost {
            self.report_lost_result(seqno);
        }
        use std::io::ErrorKind as K;
        if matches!(
            e.kind(),
            K::BrokenPipe | K::ConnectionReset | K::ConnectionAborted
        ) {
            Error::with_source(ErrorKind::Detached, e)
        } else {
            Error::io("writing a message to the controller", e)
        }
    }

    /// Queues the Hangup (SPS success, `00`) behind everything queued and
    /// seals the queue, unless it is sealed already; wakes the reader,
    /// which writes it if nobody else is writing.
    fn queue_hangup(&self) {
        let mut out = lock(&self.output);
        if out.sealed {
            return;
        }
        tracing::debug!(target: "orc_executor::wire", "E->C Hangup seq=0 tag=0x0 payload=1 bytes");
        probe::hit(probes::HANGUP_QUEUED);
        let payload = kinds::HANGUP_ORDERLY;
        let hangup = Header {
            opcode: Opcode::Hangup,
            seqno: 0,
            tag: ExecutorAddr::NULL,
            payload_len: payload.len() as u64,
        };
        out.tail.extend_from_slice(&hangup.encode());
        out.tail.extend_from_slice(&payload);
        out.queued += (HEADER_SIZE + payload.len()) as u64;
        out.sealed = true;
        drop(out);
        self.transport.wake();
    }

    /// Seals the queue and closes the transport once it is written: now if
    /// it is, else by the role holder when done, or by the reader (woken by
    /// `end`) when it flushed.
    fn close_output(&self) {
        let mut out = lock(&self.output);
        out.sealed = true;
        out.close_when_written = true;
        let close = !out.writing && out.pending() == 0 && !out.closed;
        out.closed |= close;
        drop(out);
        if close {
            self.transport.close();
        }
    }

    /// A result that could not be sent because the controller is gone (or
    /// the session ended the connection).
    fn report_lost_result(&self, seqno: u64) {
        tracing::debug!(target: "orc_executor::wire", "result seq={seqno} dropped: the controller is gone");
        probe::hit(probes::RESULT_LOST);
        if let Some(f) = &self.options.on_lost_result {
            f(seqno);
        }
    }

    /// Ends the connection after a failed send (see [`end_after`]).
    fn end_after_send_error(&self, e: Error) {
        self.end(end_after(e));
    }

    /// The connection is ending (end of stream, Hangup, a protocol or I/O
    /// error, a failed write, `disconnect`): deliver nothing more, fail our
    /// pending calls, refuse new ones. The session is told once the
    /// controller's calls still running have finished, as LLVM's executor
    /// drains its dispatcher first: their results are still sent (or
    /// reported lost), and JIT'd code they run that waits for the
    /// controller gets "disconnected" now.
    fn end(&self, result: Result<(), Error>) {
        // On the reader thread inside `deliver` (an inline call whose Result
        // could not be sent), this thread holds the read lock: taking the
        // write lock would deadlock. `disconnecting` (below) stops the reader
        // loop right after this delivery instead, and the loop's own `end`
        // then takes the write lock.
        let delivering = self.delivering_here();
        if !delivering {
            *write(&self.closed) = true;
        }
        let pending = {
            let mut calls = lock(&self.calls);
            if calls.ending.is_some() || calls.notified {
                return;
            }
            match &result {
                Ok(()) => tracing::debug!(target: "orc_executor::wire", "connection ended"),
                Err(e) => {
                    tracing::debug!(target: "orc_executor::wire", "connection ended: {e}");
                    probe::hit(probes::ENDED_BY_ERROR);
                }
            }
            calls.ending = Some(result);
            calls.draining = true;
            let pending: Vec<ControllerCallReturn> =
                std::mem::take(&mut calls.pending).into_values().collect();
            if cfg!(orc_rt_loom_bug = "wire_drain_skips_pending") {
                // Injected bug (loom model `loom_wire_drain`): new calls are
                // refused only after the pending ones were taken, in a
                // second critical section: a call registered in between is
                // never failed (spec 7.5).
                drop(calls);
                lock(&self.calls).disconnecting = true;
            } else {
                calls.disconnecting = true;
            }
            pending
        };
        self.ending.store(true, Ordering::Release);
        // The reader stops delivering (or flushes, or notices our close).
        self.transport.wake();
        if !delivering {
            // New calls are refused from here on (spec 7.5): a call made
            // now fails on its caller's thread. No lock is held here.
            orc_rt::sync::schedule_point();
        }
        for ret in pending {
            self.hooks.fail_pending_call(ret);
        }
        let finish_now = {
            let mut calls = lock(&self.calls);
            calls.draining = false;
            calls.running.is_empty() || calls.finish_requested
        };
        if finish_now && delivering {
            // Not here: telling the session runs its detach, which joins the
            // call threads, and one of them may be waiting in `end` for the
            // write lock this delivery's read lock holds up. The reader loop
            // tells it once the delivery returned (`finish_if_due`).
        } else if finish_now {
            self.finish();
        } else {
            tracing::debug!(target: "orc_executor::wire", "waiting for the calls in flight");
        }
    }

    /// Tells the session, once, and never while another thread is still
    /// failing the pending calls: that thread tells it when done. Our
    /// output is sealed first, and the transport closed once it is written.
    fn finish(&self) {
        let result = {
            let mut calls = lock(&self.calls);
            if calls.notified {
                return;
            }
            if calls.draining {
                calls.finish_requested = true;
                return;
            }
            calls.notified = true;
            calls.ending.take().unwrap_or(Ok(()))
        };
        self.close_output();
        self.hooks.notify_disconnected(result);
    }

    /// Tells the session if the connection has ended and no call is still
    /// running (then nobody else will): for an end decided inside a
    /// delivery, which could not tell it there.
    fn finish_if_due(&self) {
        let due = {
            let calls = lock(&self.calls);
            calls.ending.is_some()
                && (calls.running.is_empty() || calls.finish_requested)
                && !calls.notified
                && !calls.draining
        };
        if due {
            self.finish();
        }
    }

    /// Waits until input is ready, writing queued output whenever it fits
    /// meanwhile. `Ok(false)`: stop reading, because the transport is
    /// closed or (while delivering) the connection is ending. An error: a
    /// failed write (while delivering; when discarding, the end is decided
    /// already and the reader reads on) or a failed wait.
    fn wait_for_input(&self, phase: Phase) -> Result<bool, Error> {
        loop {
            match self.flush(Mode::Leave) {
                Err(e) if phase == Phase::Deliver => return Err(e),
                _ => {}
            }
            let output_pending = {
                let out = lock(&self.output);
                if out.closed {
                    return Ok(false);
                }
                out.pending() > 0 && !out.writing
            };
            if phase == Phase::Deliver && self.ending.load(Ordering::Acquire) {
                return Ok(false);
            }
            let ready = self
                .transport
                .wait(output_pending)
                .map_err(|e| Error::io("waiting for the controller", e))?;
            if ready.input {
                return Ok(true);
            }
        }
    }

    fn reader_loop(self: Arc<Self>) {
        // Buffered: one read usually brings a whole message, header and
        // payload, or several; larger payloads are read past the buffer.
        // 16 KiB, not more: std zeroes the buffer before the first read, and
        // each page of it is a page fault in every session's start-up.
        let input = BufReader::with_capacity(16 * 1024, TransportReader(self.transport.clone()));
        let mut frames =
            FrameReader::new(input).with_max_message_size(self.options.max_message_size);
        // Whether the next message is already whole in the buffer.
        let mut next_buffered = false;
        // (how the connection ended, whether there may be more input)
        let (result, input_open) = loop {
            if !next_buffered {
                // Reading may wait: flush first, and wait for input and
                // output together (a stalled write never stops reading).
                match self.wait_for_input(Phase::Deliver) {
                    Ok(true) => {}
                    Ok(false) => break (Ok(()), true),
                    Err(e) => break (end_after(e), true),
                }
            }
            let msg = match self.read_message(&mut frames) {
                Ok(Some(msg)) => msg,
                // End of stream at a message boundary: LLVM 22's controller
                // ends every session this way (it never sends Hangup).
                Ok(None) => {
                    probe::hit(probes::END_OF_STREAM);
                    break (Ok(()), false);
                }
                Err(e) => {
                    // After a framing error the stream is out of step but
                    // still open; after a failed or cut-short read it is not.
                    let open = !matches!(e, WireError::Io(_) | WireError::UnexpectedEof { .. });
                    break (Err(Error::from(e)), open);
                }
            };
            tracing::debug!(
                target: "orc_executor::wire",
                "C->E {} seq={} tag={:#x} payload={} bytes",
                msg.opcode,
                msg.seqno,
                msg.tag.value(),
                msg.payload.bytes().len()
            );
            next_buffered = complete_message_at_start(frames.get_mut().buffer());
            self.next_message_buffered
                .store(next_buffered, Ordering::Relaxed);
            match self.deliver(msg) {
                // The delivery may have ended the connection (its result
                // could not be sent): stop rather than wait for input.
                Ok(true) if self.ending.load(Ordering::Acquire) => break (Ok(()), true),
                Ok(true) => {}
                Ok(false) => break (Ok(()), true),
                Err(e) => break (Err(e), true),
            }
        };
        self.next_message_buffered.store(false, Ordering::Relaxed);
        self.end(result);
        self.finish_if_due();
        if input_open {
            self.discard_input(frames.get_mut());
        }
        // Input is over: what the reader still owes the controller may wait
        // for room now (a role holder writes everything else).
        let _ = self.flush(Mode::Wait);
    }

    /// After the end: reads and drops input, flushing output as it fits,
    /// until the end of the stream, a read error, or our close.
    fn discard_input(&self, input: &mut Input) {
        loop {
            let held = input.buffer().len();
            input.consume(held);
            if !matches!(self.wait_for_input(Phase::Discard), Ok(true)) {
                return;
            }
            match input.fill_buf() {
                Ok([]) => return,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// The next message, its payload streamed when its call is one of
    /// `streamed_calls` (`Ok(None)`: the stream ended between messages).
    fn read_message(&self, frames: &mut Frames) -> Result<Option<Message>, WireError> {
        let Some(header) = frames.read_header()? else {
            return Ok(None);
        };
        let streamed = match header.opcode {
            Opcode::CallWrapper if header.payload_len >= STREAM_THRESHOLD => self
                .hooks
                .streamed_args(header.tag)
                // Not once the connection is ending: the call would not be
                // delivered, so none of its work may be done.
                .filter(|_| !*read(&self.closed) && !lock(&self.calls).disconnecting),
            _ => None,
        };
        let payload = match streamed {
            Some(call) => {
                let mut source = PayloadSource::new(
                    frames.get_mut(),
                    self.transport.read_fd(),
                    header.payload_len,
                );
                let payload = call.stream(&mut source).map_err(|e| {
                    let ended = e
                        .downcast_ref::<std::io::Error>()
                        .is_some_and(|io| io.kind() == std::io::ErrorKind::UnexpectedEof);
                    if ended {
                        // The same error as a buffered payload cut short.
                        WireError::UnexpectedEof {
                            part: "payload",
                            read: header.payload_len - source.remaining(),
                            expected: header.payload_len,
                        }
                    } else {
                        WireError::Io(std::io::Error::other(format!("streaming a payload: {e}")))
                    }
                })?;
                if source.remaining() != 0 {
                    return Err(WireError::Io(std::io::Error::other(format!(
                        "{call:?} left {} payload bytes unread",
                        source.remaining()
                    ))));
                }
                payload
            }
            None => frames.read_payload(header.payload_len)?,
        };
        Ok(Some(Message {
            opcode: header.opcode,
            seqno: header.seqno,
            tag: header.tag,
            payload,
        }))
    }

    /// Hands one message to the session. `Ok(false)` ends the session.
    fn deliver(&self, msg: Message) -> Result<bool, Error> {
        let closed = read(&self.closed);
        if *closed || lock(&self.calls).disconnecting {
            return Ok(false);
        }
        struct Delivering(usize);
        impl Drop for Delivering {
            fn drop(&mut self) {
                DELIVERING.with(|d| d.set(self.0));
            }
        }
        let _delivering = Delivering(DELIVERING.with(|d| d.replace(self as *const Self as usize)));
        match msg.opcode {
            Opcode::CallWrapper => {
                *lock(&self.calls).running.entry(msg.seqno).or_insert(0) += 1;
                self.hooks
                    .handle_wrapper_call(msg.tag, msg.payload, msg.seqno);
                Ok(true)
            }
            Opcode::Result => {
                // The tag is the result kind (protocol 3.1).
                let result = kinds::decode_result(msg.tag, msg.payload)?;
                let ret = lock(&self.calls).pending.remove(&msg.seqno);
                match ret {
                    Some(ret) => {
                        self.hooks.complete_call(ret, result);
                        Ok(true)
                    }
                    None => Err(protocol(format!(
                        "No call for sequence number {}",
                        msg.seqno
                    ))),
                }
            }
            Opcode::Hangup => {
                probe::hit(probes::HANGUP_RECEIVED);
                // The payload is the controller's reason (protocol 10): a
                // failure becomes the disconnection error.
                match kinds::decode_hangup(msg.payload.bytes())? {
                    Ok(()) => Ok(false),
                    Err(reason) => {
                        tracing::debug!(target: "orc_executor::wire", "controller hung up: {reason}");
                        Err(reason)
                    }
                }
            }
            Opcode::Setup => Err(protocol("Unexpected Setup opcode".into())),
        }
    }
}

orc_rt::sync::thread_local! {
    /// The access whose `deliver` runs on this thread (its address; 0: none).
    #[allow(
        clippy::missing_const_for_thread_local,
        reason = "loom's thread_local! has no const form"
    )]
    static DELIVERING: std::cell::Cell<usize> = std::cell::Cell::new(0);
}

impl ControllerAccess for WireControllerAccess {
    fn connect(&self, bootstrap: BootstrapInfo) {
        let session = self.hooks.session();
        let info = session.process_info();
        let setup = setup_payload(
            &info.target_triple,
            info.page_size.unwrap_or(4096) as u64,
            &bootstrap.values,
            &bootstrap.symbols,
        );
        if let Err(e) = self.send(Opcode::Setup, 0, ExecutorAddr::NULL, &setup) {
            self.end(Err(e.context("sending the Setup message")));
            return;
        }
        if self.options.read_on_caller {
            // `serve` reads; no thread is started (module docs, invariant 1).
            return;
        }
        if self.reader_started.swap(true, Ordering::AcqRel) {
            self.end(Err(protocol("connect called twice".into())));
            return;
        }
        let Some(me) = self.me.upgrade() else {
            self.end(Err(protocol(
                "controller access dropped while connecting".into(),
            )));
            return;
        };
        let spawned = orc_rt::sync::thread::Builder::new()
            .name(self.options.reader_thread_name.clone())
            .spawn(move || me.reader_loop());
        if let Err(e) = spawned {
            self.end(Err(Error::io("spawning the wire reader thread", e)));
        }
    }

    fn disconnect(&self) {
        // Announce the end (SPS Error success), then stop at once: the
        // session asked, so calls still running do not hold it up (their
        // results are dropped and reported lost). Nothing is written here:
        // the Hangup is queued behind what is queued (a stalled result goes
        // out first) and sealed in one critical section, so nothing can
        // follow it; the role holder or the reader writes it, then closes
        // the transport.
        //
        // Queued under the read lock of `closed`, unless the reader already
        // ended the connection (it takes the write lock before its last
        // flush, which therefore sees the Hangup: module docs, invariant 4).
        // Inside a delivery this thread holds that lock already.
        let delivering = self.delivering_here();
        {
            let closed = (!delivering).then(|| read(&self.closed));
            if !closed.as_deref().is_some_and(|closed| *closed) {
                self.queue_hangup();
            }
        }
        self.end(Ok(()));
        if delivering {
            // Not from inside a delivery (see `end`): the reader tells the
            // session once it returned.
            lock(&self.calls).finish_requested = true;
        } else {
            self.finish();
        }
    }

    fn call_controller(
        &self,
        tag: ExecutorAddr,
        args: WrapperFunctionBuffer,
        on_complete: ControllerCallReturn,
    ) {
        let seqno = {
            let mut calls = lock(&self.calls);
            if calls.disconnecting {
                drop(calls);
                self.hooks.fail_call_inline(on_complete);
                return;
            }
            let seqno = calls.next_seqno;
            calls.next_seqno += 1;
            calls.pending.insert(seqno, on_complete);
            seqno
        };
        if let Err(e) = self.send(Opcode::CallWrapper, seqno, tag, args.bytes()) {
            // The connection is broken: ending it fails this call (still
            // pending) together with every other one.
            self.end_after_send_error(e);
        }
    }

    fn send_wrapper_result(&self, call_id: u64, result: WrapperFunctionBuffer) {
        let (notified, finish_after) = {
            let mut calls = lock(&self.calls);
            let was_running = calls.stop_running(call_id);
            (
                calls.notified,
                was_running && calls.ending.is_some() && calls.running.is_empty(),
            )
        };
        if notified {
            self.report_lost_result(call_id);
            return;
        }
        let oob;
        let (tag, payload) = match result.view() {
            BufferView::Bytes(b) => (ExecutorAddr::NULL, b),
            BufferView::Empty => (ExecutorAddr::NULL, &[][..]),
            // LLVM 22 has no way to carry an out-of-band error: it sends an
            // empty result, which the controller then fails to decode (or,
            // for a void function, takes as success). Do the same, and log;
            // a controller known to understand result kinds gets kind 1
            // with the message (protocol 3.1).
            BufferView::Error(msg) => {
                tracing::warn!(
                    target: "orc_executor::wire",
                    "call seq={call_id} failed: {}",
                    msg.to_string_lossy()
                );
                oob = kinds::encode_out_of_band(msg.to_bytes(), self.options.result_kinds);
                (oob.0, &oob.1[..])
            }
        };
        // A failure reported the result lost already.
        if let Err(e) = self.send(Opcode::Result, call_id, tag, payload) {
            self.end_after_send_error(e);
        }
        if finish_after {
            probe::hit(probes::TOLD_AFTER_LAST_CALL);
            self.finish();
        }
    }

    fn wrapper_handler_returned(&self, call_id: u64) {
        // An asynchronous handler returned without its result: once the
        // connection ended, that result holds nothing up (spec 8.8); if it
        // was the last call running, the session is told now (or, inside a
        // delivery, by the reader once the delivery returned).
        let finish_now = {
            let mut calls = lock(&self.calls);
            let was_running = calls.stop_running(call_id);
            was_running && calls.ending.is_some() && calls.running.is_empty()
        };
        if finish_now && !self.delivering_here() {
            probe::hit(probes::TOLD_AFTER_LAST_CALL);
            self.finish();
        }
    }
}

#[cfg(all(test, not(orc_rt_loom)))]
mod tests;
