//! The controller access that speaks LLVM 22's SimpleRemoteEPC protocol
//! over a byte-stream pair (the executor side of upstream
//! `SimpleRemoteEPCServer`).
//!
//! Threads: one reader thread per connection reads frames and hands them to
//! the session (calls are dispatched, results complete pending calls).
//! Writers are whoever has something to send (dispatcher workers sending
//! results, JIT'd code calling the controller); one lock per frame keeps
//! messages whole.
//!
//! Corking: results the reader thread produces itself (inline calls) while
//! the next message is already complete in its input buffer are held back
//! and written together, before the reader next has to wait for input (or
//! with the next write from any thread, which keeps the order). A
//! pipelining controller then gets one write, and one wake-up, per batch
//! instead of per result; a controller waiting for one answer gets it
//! before the reader waits again.
//!
//! Sequence numbers: incoming calls are answered with the caller's seqno,
//! blindly (LLVM's controller may reuse none, we check none). Our own calls
//! are numbered from 1 upwards, never reused (0 is the seqno of Setup and
//! Hangup; LLVM 22's executor starts at 0, which the controller does not
//! care about).

use std::collections::HashMap;
use std::fmt;
use std::io::{BufReader, Read, Write};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use std::sync::{Arc, Weak};

use orc_rt::addr::ExecutorAddr;
use orc_rt::controller_access::{BootstrapInfo, ControllerAccess, ControllerCallReturn};
use orc_rt::error::{Error, ErrorKind};
use orc_rt::session::SessionHooks;
use orc_rt::sync::{Mutex, RwLock, lock, read, write};
use orc_rt::wrapper::{ArgumentSource, BufferView, WrapperFunctionBuffer};

use super::frame::{Header, WireError, complete_message_at_start};
use super::kinds;
use super::stream::{PayloadSource, STREAM_THRESHOLD};
use super::{FrameReader, HEADER_SIZE, Message, Opcode, SetupInfo, write_message};

type BoxedReader = Box<dyn Read + Send>;
type BoxedWriter = Box<dyn Write + Send>;
/// The reader thread's framing over its buffered stream.
type Frames = FrameReader<BufReader<BoxedReader>>;

/// Corked bytes beyond which they are written at once.
const CORK_LIMIT: usize = 64 * 1024;

/// The write side: the stream (gone once the connection closed) and the
/// frames corked for it.
struct Outgoing {
    stream: Option<BoxedWriter>,
    corked: Vec<u8>,
    /// The seqnos of the Results among the corked frames.
    corked_results: Vec<u64>,
    /// Corked Results whose write failed, for the caller to report lost.
    unsent_results: Vec<u64>,
}

impl Outgoing {
    /// Writes the corked frames, if any.
    fn flush_corked(&mut self) -> std::io::Result<()> {
        if self.corked.is_empty() {
            return Ok(());
        }
        let result = match self.stream.as_mut() {
            Some(w) => crate::sys::signals::without_sigpipe(|| {
                w.write_all(&self.corked)?;
                w.flush()
            }),
            None => Ok(()),
        };
        self.corked.clear();
        if result.is_err() {
            self.unsent_results.append(&mut self.corked_results);
        }
        self.corked_results.clear();
        result
    }

    /// Writes one frame behind the corked ones, or corks it too when
    /// `cork` allows and it fits.
    fn send(&mut self, header: Header, payload: &[u8], cork: bool) -> std::io::Result<()> {
        let fits = self.corked.len() + HEADER_SIZE + payload.len() <= CORK_LIMIT;
        if fits && (cork || !self.corked.is_empty()) {
            self.corked.extend_from_slice(&header.encode());
            self.corked.extend_from_slice(payload);
            if !cork {
                // The caller reports this frame's failure itself.
                return self.flush_corked();
            }
            if header.opcode == Opcode::Result {
                self.corked_results.push(header.seqno);
            }
            return Ok(());
        }
        self.flush_corked()?;
        match self.stream.as_mut() {
            Some(w) => crate::sys::signals::without_sigpipe(|| {
                write_message(w.as_mut(), header.opcode, header.seqno, header.tag, payload)
            }),
            None => Ok(()),
        }
    }
}

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
    /// main thread only waits). The owner must make a blocked read return
    /// when the session ends the connection itself (`close_transport`).
    pub read_on_caller: bool,
    /// Told about each result dropped because the controller had closed the
    /// connection (LLVM's executor prints "SimpleRemoteEPCServer
    /// FD-transport disconnected" then; the executor binary does too).
    pub on_lost_result: Option<LostResultFn>,
    /// Shuts the transport down when the connection ends, after our write
    /// side is dropped: needed for sockets, whose reader and writer are
    /// clones of one descriptor (`shutdown(2)` also wakes the reader thread).
    /// Pipes need nothing: dropping the writer closes it.
    pub close_transport: Option<CloseFn>,
    /// Called by the reader thread before a read that may have to wait (no
    /// whole message buffered), after the corked results went out: the
    /// executor polls its descriptor briefly there ([`super::SpinWait`]).
    pub wait_for_input: Option<WaitFn>,
    /// The descriptor the reader reads from, if it is one (a pipe or a
    /// socket): a wrapper function that streams its arguments
    /// (`WrapperEntry::with_streamed_args`) reads its payload from it
    /// directly.
    pub read_fd: Option<RawFd>,
    /// Send out-of-band error results as LLVM main's result kind 1 (the
    /// message reaches the controller) instead of LLVM 22's empty Result.
    /// Only for controllers known to understand result kinds: LLVM 22's
    /// ends the session on one (protocol 3.1). Default false.
    pub result_kinds: bool,
}

/// See [`WireOptions::wait_for_input`].
pub type WaitFn = Arc<dyn Fn() + Send + Sync>;

/// Shuts a transport down (see [`WireOptions::close_transport`]).
pub type CloseFn = Arc<dyn Fn() + Send + Sync>;

impl fmt::Debug for WireOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WireOptions")
            .field("max_message_size", &self.max_message_size)
            .field("reader_thread_name", &self.reader_thread_name)
            .field("read_on_caller", &self.read_on_caller)
            .field("on_lost_result", &self.on_lost_result.is_some())
            .field("close_transport", &self.close_transport.is_some())
            .field("wait_for_input", &self.wait_for_input.is_some())
            .field("read_fd", &self.read_fd)
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
            close_transport: None,
            wait_for_input: None,
            read_fd: None,
            result_kinds: false,
        }
    }
}

struct CallState {
    /// Our calls waiting for a Result, by seqno.
    pending: HashMap<u64, ControllerCallReturn>,
    next_seqno: u64,
    /// Set once the connection is ending: no new calls go out.
    disconnecting: bool,
    /// The controller's calls delivered to the session and not answered yet.
    in_flight: usize,
    /// How the connection ended, kept until the calls in flight are done.
    ending: Option<Result<(), Error>>,
    /// `notify_disconnected` ran (or is running).
    notified: bool,
    /// A thread is failing the pending calls (7.5: all of them before the
    /// session is told): `finish` leaves the telling to that thread.
    draining: bool,
    /// `finish` was asked for during the drain.
    finish_requested: bool,
}

/// A [`ControllerAccess`] over LLVM 22's wire protocol.
pub struct WireControllerAccess {
    hooks: SessionHooks,
    me: Weak<WireControllerAccess>,
    options: WireOptions,
    reader: Mutex<Option<BoxedReader>>,
    writer: Mutex<Outgoing>,
    /// Set by the reader thread while the next message is complete in its
    /// buffer: results it produces meanwhile may be corked.
    next_message_buffered: AtomicBool,
    calls: Mutex<CallState>,
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
            .finish()
    }
}

fn protocol(message: String) -> Error {
    Error::new(ErrorKind::Protocol, message)
}

impl WireControllerAccess {
    /// A controller access reading messages from `reader` and writing to
    /// `writer`, reporting to the session through `hooks`. Nothing happens
    /// until the session calls `connect`.
    pub fn new(
        hooks: SessionHooks,
        reader: impl Read + Send + 'static,
        writer: impl Write + Send + 'static,
        options: WireOptions,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| WireControllerAccess {
            hooks,
            me: me.clone(),
            options,
            reader: Mutex::new(Some(Box::new(reader))),
            writer: Mutex::new(Outgoing {
                stream: Some(Box::new(writer)),
                corked: Vec::new(),
                corked_results: Vec::new(),
                unsent_results: Vec::new(),
            }),
            next_message_buffered: AtomicBool::new(false),
            calls: Mutex::new(CallState {
                pending: HashMap::new(),
                next_seqno: 1,
                disconnecting: false,
                in_flight: 0,
                ending: None,
                notified: false,
                draining: false,
                finish_requested: false,
            }),
            closed: RwLock::new(false),
        })
    }

    /// Reads and delivers messages on this thread until the connection
    /// ends, with [`WireOptions::read_on_caller`] (after the session
    /// connected this access); returns at once otherwise, or if called
    /// again.
    pub fn serve(self: &Arc<Self>) {
        if !self.options.read_on_caller {
            return;
        }
        let reader = lock(&self.reader).take();
        if let Some(reader) = reader {
            self.clone().reader_loop(reader);
        }
    }

    /// Sends one message. A controller that closed its end gives an
    /// [`ErrorKind::Detached`] error; other failures are [`ErrorKind::Io`].
    fn send(
        &self,
        opcode: Opcode,
        seqno: u64,
        tag: ExecutorAddr,
        payload: &[u8],
    ) -> Result<(), Error> {
        let mut out = lock(&self.writer);
        if out.stream.is_none() {
            return Err(Error::new(ErrorKind::Detached, "the connection is closed"));
        }
        tracing::debug!(
            target: "orc_executor::wire",
            "E->C {opcode} seq={seqno} tag={:#x} payload={} bytes",
            tag.value(),
            payload.len()
        );
        let header = Header {
            opcode,
            seqno,
            tag,
            payload_len: payload.len() as u64,
        };
        let result = out.send(header, payload, self.may_cork());
        let unsent = std::mem::take(&mut out.unsent_results);
        drop(out);
        result.map_err(|e| self.write_error(e, unsent))
    }

    /// Writes the corked frames (before the reader may wait for input).
    fn flush_corked(&self) -> Result<(), Error> {
        let mut out = lock(&self.writer);
        let result = out.flush_corked();
        let unsent = std::mem::take(&mut out.unsent_results);
        drop(out);
        result.map_err(|e| self.write_error(e, unsent))
    }

    /// The error for a failed write: [`ErrorKind::Detached`] when the
    /// controller closed its end, whose corked results `unsent` are then
    /// reported lost like any other result sent too late.
    fn write_error(&self, e: std::io::Error, unsent: Vec<u64>) -> Error {
        use std::io::ErrorKind as K;
        if matches!(
            e.kind(),
            K::BrokenPipe | K::ConnectionReset | K::ConnectionAborted
        ) {
            for seqno in unsent {
                self.report_lost_result(seqno);
            }
            Error::with_source(ErrorKind::Detached, e)
        } else {
            Error::io("writing a message to the controller", e)
        }
    }

    /// A result that could not be sent because the controller is gone.
    fn report_lost_result(&self, seqno: u64) {
        tracing::debug!(target: "orc_executor::wire", "result seq={seqno} dropped: the controller is gone");
        if let Some(f) = &self.options.on_lost_result {
            f(seqno);
        }
    }

    /// Ends the connection after a failed send: the controller closing its
    /// end is an orderly end (it does that with calls outstanding when a link
    /// fails), anything else an error.
    fn end_after_send_error(&self, e: Error) {
        if e.kind() == ErrorKind::Detached {
            self.end(Ok(()));
        } else {
            self.end(Err(e));
        }
    }

    /// The connection is ending (end of stream, Hangup, a protocol or I/O
    /// error): deliver nothing more, fail our pending calls, refuse new
    /// ones. The session is told once the controller's calls still running
    /// have finished, as LLVM's executor drains its dispatcher first: their
    /// results are still sent (or reported lost), and JIT'd code they run
    /// that waits for the controller gets "disconnected" now.
    fn end(&self, result: Result<(), Error>) {
        // On the reader thread inside `deliver` (an inline call whose Result
        // could not be sent), this thread holds the read lock: taking the
        // write lock would deadlock. `disconnecting` (below) stops the reader
        // loop right after this delivery instead.
        let delivering = DELIVERING.with(|d| d.get()) == self as *const Self as usize;
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
                Err(e) => tracing::debug!(target: "orc_executor::wire", "connection ended: {e}"),
            }
            calls.disconnecting = true;
            calls.ending = Some(result);
            calls.draining = true;
            let pending: Vec<ControllerCallReturn> =
                calls.pending.drain().map(|(_, ret)| ret).collect();
            pending
        };
        for ret in pending {
            self.hooks.fail_pending_call(ret);
        }
        let finish_now = {
            let mut calls = lock(&self.calls);
            calls.draining = false;
            calls.in_flight == 0 || calls.finish_requested
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
    /// failing the pending calls: that thread tells it when done.
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
        // Close our write side: the controller sees end of stream.
        let _ = self.flush_corked();
        drop(lock(&self.writer).stream.take());
        if let Some(close) = &self.options.close_transport {
            close();
        }
        self.hooks.notify_disconnected(result);
    }

    fn reader_loop(self: Arc<Self>, reader: BoxedReader) {
        // This thread answers quick calls itself: keep SIGPIPE blocked for
        // its writes once, rather than around each one.
        crate::sys::signals::block_sigpipe_for_this_thread();
        // Buffered: one read syscall usually brings a whole message, header
        // and payload, or several.
        let reader = BufReader::with_capacity(64 * 1024, reader);
        let mut frames =
            FrameReader::new(reader).with_max_message_size(self.options.max_message_size);
        // Whether the next message is already whole in the buffer.
        let mut next_buffered = false;
        let result = loop {
            if !next_buffered {
                // Reading may wait: send what was corked first.
                if let Err(e) = self.flush_corked() {
                    break if e.kind() == ErrorKind::Detached {
                        Ok(())
                    } else {
                        Err(e)
                    };
                }
                if let Some(wait) = &self.options.wait_for_input {
                    wait();
                }
                // The session may have ended the connection meanwhile (its
                // `close_transport` wakes a waiting `wait_for_input`).
                if lock(&self.calls).disconnecting {
                    break Ok(());
                }
            }
            let msg = match self.read_message(&mut frames) {
                Ok(Some(msg)) => msg,
                // End of stream at a message boundary: LLVM 22's controller
                // ends every session this way (it never sends Hangup).
                Ok(None) => break Ok(()),
                Err(e) => break Err(Error::from(e)),
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
                Ok(true) if lock(&self.calls).disconnecting => break Ok(()),
                Ok(true) => {}
                Ok(false) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.next_message_buffered.store(false, Ordering::Relaxed);
        self.end(result);
        self.finish_if_due();
    }

    /// Tells the session if the connection has ended and no call is still
    /// running (then nobody else will): for an end decided inside a
    /// delivery, which could not tell it there.
    fn finish_if_due(&self) {
        let due = {
            let calls = lock(&self.calls);
            calls.ending.is_some()
                && (calls.in_flight == 0 || calls.finish_requested)
                && !calls.notified
                && !calls.draining
        };
        if due {
            self.finish();
        }
    }

    /// Whether a frame sent now may be corked: the reader thread is
    /// delivering a message and the next one is already buffered, so the
    /// reader flushes before it can wait.
    fn may_cork(&self) -> bool {
        DELIVERING.with(|d| d.get()) == self as *const Self as usize
            && self.next_message_buffered.load(Ordering::Relaxed)
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
                let mut source =
                    PayloadSource::new(frames.get_mut(), self.options.read_fd, header.payload_len);
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
                lock(&self.calls).in_flight += 1;
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

thread_local! {
    /// The access whose `deliver` runs on this thread (its address; 0: none).
    static DELIVERING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl ControllerAccess for WireControllerAccess {
    fn connect(&self, bootstrap: BootstrapInfo) {
        let info = self.hooks.session().process_info().clone();
        let mut setup = SetupInfo {
            target_triple: info.target_triple,
            page_size: info.page_size.unwrap_or(4096) as u64,
            ..SetupInfo::default()
        };
        for (name, value) in bootstrap.values {
            setup.bootstrap_map.insert(name, value.into_bytes());
        }
        for (name, addr) in bootstrap.symbols.iter() {
            setup.bootstrap_symbols.insert(name.to_owned(), addr);
        }
        if let Err(e) = self.send(Opcode::Setup, 0, ExecutorAddr::NULL, &setup.to_bytes()) {
            self.end(Err(e.context("sending the Setup message")));
            return;
        }
        if self.options.read_on_caller {
            // `serve` reads.
            return;
        }
        let Some(reader) = lock(&self.reader).take() else {
            self.end(Err(protocol("connect called twice".into())));
            return;
        };
        let Some(me) = self.me.upgrade() else {
            self.end(Err(protocol(
                "controller access dropped while connecting".into(),
            )));
            return;
        };
        let spawned = std::thread::Builder::new()
            .name(self.options.reader_thread_name.clone())
            .spawn(move || me.reader_loop(reader));
        if let Err(e) = spawned {
            self.end(Err(Error::io("spawning the wire reader thread", e)));
        }
    }

    fn disconnect(&self) {
        // Announce the end (SPS Error success), then stop at once: the
        // session asked, so calls still running do not hold it up (their
        // results are dropped). The reader thread may stay blocked until the
        // controller closes its side; it then delivers nothing.
        // The Hangup and the closing of our write side happen under one
        // lock: nothing (a result of a call still running, a call of JIT'd
        // code) can follow the Hangup on the wire; such a send now fails as
        // detached and its result is reported lost.
        if !*read(&self.closed) {
            let mut out = lock(&self.writer);
            let mut failed = None;
            if out.stream.is_some() {
                tracing::debug!(target: "orc_executor::wire", "E->C Hangup seq=0 tag=0x0 payload=1 bytes");
                let payload = kinds::HANGUP_ORDERLY;
                let hangup = Header {
                    opcode: Opcode::Hangup,
                    seqno: 0,
                    tag: ExecutorAddr::NULL,
                    payload_len: payload.len() as u64,
                };
                if let Err(e) = out.send(hangup, &payload, false) {
                    failed = Some((e, std::mem::take(&mut out.unsent_results)));
                }
            }
            drop(out.stream.take());
            drop(out);
            if let Some((e, unsent)) = failed {
                // Reports the corked results that did not go out.
                let _ = self.write_error(e, unsent);
            }
        }
        self.end(Ok(()));
        self.finish();
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
            calls.in_flight = calls.in_flight.saturating_sub(1);
            (
                calls.notified,
                calls.ending.is_some() && calls.in_flight == 0,
            )
        };
        let lost = || self.report_lost_result(call_id);
        if notified {
            lost();
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
        if let Err(e) = self.send(Opcode::Result, call_id, tag, payload) {
            if e.kind() == ErrorKind::Detached {
                lost();
            }
            self.end_after_send_error(e);
        }
        if finish_after {
            self.finish();
        }
    }
}

#[cfg(test)]
mod tests;
