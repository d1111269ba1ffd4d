//! The simulated byte pipe between the controller and the executor: two
//! directions of real SimpleRemoteEPC bytes, each with a capacity (a writer
//! waits once that many bytes are unread), a latency per message, and the
//! transport's faults, at the level of whole messages (drop, delay,
//! reorder, duplicate, a corrupted header field) and of bytes (a message
//! split in two, short reads and writes, a controller that stops reading, a
//! close in the middle of a message).
//!
//! The executor's end is a [`Transport`](orc_executor::transport::Transport)
//! (see `executor/transport.rs`): the real controller access reads and
//! writes it, and parks its simulated thread where it would block. The
//! controller's end is event-driven: a message arriving there is handed to
//! the controller at once, unless the controller is not reading.
//!
//! Bytes are cut into messages where they enter the pipe (the executor's
//! writes are framed with the protocol's own header decoder), so faults can
//! name messages and the transcript can say which message went where; the
//! receiving side still gets bytes.

use std::collections::VecDeque;

use orc_executor::wire::{HEADER_SIZE, Header, Opcode, write_message};
use orc_rt::{ExecutorAddr, sps};

use crate::scenario::{Fault, FaultKind, HeaderField, MsgSel};
use crate::services::Res;

/// Which way bytes flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    /// Controller → executor.
    ToExecutor,
    /// Executor → controller.
    ToController,
}

impl Dir {
    fn index(self) -> usize {
        match self {
            Dir::ToExecutor => 0,
            Dir::ToController => 1,
        }
    }

    /// The actor that receives.
    pub(crate) fn receiver(self) -> &'static str {
        match self {
            Dir::ToExecutor => "ca",
            Dir::ToController => "ctl",
        }
    }
}

/// What a message is, for fault selectors and the transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Label {
    /// The executor's Setup.
    Setup,
    /// The controller's call with this handle.
    Call(String),
    /// The executor's Result for the controller's call with this handle.
    Result(String),
    /// The executor's N-th call to the controller's handler TAG.
    CallTag(String, u64),
    /// The controller's Result for that call.
    Reply(String, u64),
    /// A Hangup, either way.
    Hangup,
    /// Anything else (a Result for an unknown sequence number, ...).
    Other,
}

/// A message: its bytes, what it is, how the transcript names it.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    /// Header and payload.
    pub(crate) bytes: Vec<u8>,
    /// What it is.
    pub(crate) label: Label,
    /// `CallWrapper seq 3 ...`, for the transcript.
    pub(crate) text: String,
    /// Only a first part: more bytes of the same message follow (a message
    /// larger than the pipe goes in as room frees up).
    pub(crate) more_follows: bool,
}

/// Bytes of the executor's writes on their way to the controller: a whole
/// message, or a part of one.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Outgoing {
    pub(crate) bytes: Vec<u8>,
    /// The message starts here: `bytes` begin with its header.
    pub(crate) starts: bool,
    /// The message ends here.
    pub(crate) ends: bool,
}

/// Bytes on their way.
#[derive(Debug)]
pub(crate) struct Packet {
    /// The message number (`[mN]` in the transcript).
    pub(crate) no: u64,
    /// When it arrives.
    pub(crate) due: u64,
    /// The bytes (a whole message, or a part of one).
    pub(crate) bytes: Vec<u8>,
    /// This packet ends message `no` (else more of it follows).
    pub(crate) ends_message: bool,
    /// What the message is.
    pub(crate) label: Label,
    /// How the transcript names it.
    pub(crate) text: String,
    /// May be overtaken by the next packet of its direction.
    pub(crate) reorder: bool,
    /// After this packet, the transport closes (a close mid-message).
    pub(crate) then_close: bool,
    /// The end of the stream: the writer closed its end.
    pub(crate) eof: bool,
}

impl Packet {
    /// The end of the stream, as a reader sees it.
    pub(crate) fn end_of_stream() -> Packet {
        Packet {
            no: 0,
            due: 0,
            bytes: Vec::new(),
            ends_message: true,
            label: Label::Other,
            text: "end of stream".into(),
            reorder: false,
            then_close: false,
            eof: true,
        }
    }
}

/// What a fault did to a message, for the transcript.
pub(crate) struct Sent {
    /// Notes about faults applied (`m3 dropped (fault: drop ...)`).
    pub(crate) notes: Vec<String>,
    /// The message was lost (dropped or the transport is closed).
    pub(crate) lost: bool,
}

/// Why the executor's end cannot read now.
pub(crate) enum ReadOutcome {
    /// Bytes were copied; the messages whose last byte was read (number,
    /// what it is, its text).
    Data(usize, Vec<(u64, Label, String)>),
    /// The end of the stream.
    Eof,
    /// Nothing yet: wait.
    Empty,
}

/// The pipe.
pub(crate) struct Pipe {
    capacity: u64,
    next_no: u64,
    /// Packets on their way, per direction.
    flight: [VecDeque<Packet>; 2],
    /// The due time of the last packet queued, per direction (FIFO).
    last_due: [u64; 2],
    /// Bytes written and not yet read, per direction (the capacity check).
    unread: [u64; 2],
    /// Bytes at the executor's end, not read yet.
    exec_rx: VecDeque<u8>,
    /// Offsets (in bytes read so far) where a message ends, with its
    /// number, label and text.
    exec_marks: VecDeque<(u64, u64, Label, String)>,
    exec_read_total: u64,
    exec_arrived_total: u64,
    /// The executor's end will read the end of the stream after `exec_rx`.
    exec_eof: bool,
    /// Bytes the executor wrote that are not a whole message yet.
    exec_tx: Vec<u8>,
    /// How many bytes of the message at the front of `exec_tx` went to the
    /// controller already (a message larger than the room left goes in
    /// parts, as a reader empties a real pipe).
    exec_tx_out: usize,
    /// The message whose first part went out and whose rest follows: its
    /// number, label and text, and whether its first part was lost.
    pub(crate) exec_continuing: Option<(u64, Label, String, bool)>,
    /// Messages the controller could not yet put in (the pipe was full):
    /// bytes still to send, number, label, text.
    ctl_outbox: VecDeque<(Vec<u8>, u64, Label, String, bool)>,
    /// Packets arrived at the controller while it was not reading.
    ctl_held: VecDeque<Packet>,
    /// The executor closed its end (`Transport::close`).
    exec_closed: bool,
    /// The connection is refused: the executor's first write fails with
    /// this message (`attach fail "MSG"`).
    pub(crate) refused: Option<String>,
    /// The controller's end is closed for writing (it hung up or vanished).
    ctl_closed: bool,
    /// The transport is gone under both sides: nothing more gets through.
    down: bool,
    /// `Transport::wake` was called since the last wait.
    woken: bool,
    /// Executor calls to each controller tag so far (for `ccall TAG N`).
    ccall_counts: Vec<(String, u64)>,
}

impl Pipe {
    /// A pipe of `capacity` bytes per direction.
    pub(crate) fn new(capacity: u64) -> Self {
        Pipe {
            capacity: capacity.max(1),
            next_no: 0,
            flight: [VecDeque::new(), VecDeque::new()],
            last_due: [0, 0],
            unread: [0, 0],
            exec_rx: VecDeque::new(),
            exec_marks: VecDeque::new(),
            exec_read_total: 0,
            exec_arrived_total: 0,
            exec_eof: false,
            exec_tx: Vec::new(),
            exec_tx_out: 0,
            exec_continuing: None,
            ctl_outbox: VecDeque::new(),
            ctl_held: VecDeque::new(),
            exec_closed: false,
            refused: None,
            ctl_closed: false,
            down: false,
            woken: false,
            ccall_counts: Vec::new(),
        }
    }

    /// Counts one more executor call to `tag`; its number.
    pub(crate) fn count_ccall(&mut self, tag: &str) -> u64 {
        match self.ccall_counts.iter_mut().find(|(t, _)| t == tag) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                self.ccall_counts.push((tag.to_owned(), 1));
                1
            }
        }
    }

    // ---- the executor's end --------------------------------------------

    /// Reads up to `buf.len()` bytes (at most `limit`, a short-reads
    /// fault).
    pub(crate) fn exec_read(&mut self, buf: &mut [u8], limit: Option<u64>) -> ReadOutcome {
        if self.exec_rx.is_empty() {
            return if self.exec_eof || self.exec_closed {
                ReadOutcome::Eof
            } else {
                ReadOutcome::Empty
            };
        }
        let mut n = buf.len().min(self.exec_rx.len());
        if let Some(l) = limit {
            n = n.min(l.max(1) as usize);
        }
        for (i, b) in self.exec_rx.drain(..n).enumerate() {
            buf[i] = b;
        }
        self.unread[Dir::ToExecutor.index()] -= n as u64;
        self.exec_read_total += n as u64;
        let mut done = Vec::new();
        while let Some(&(end, ..)) = self.exec_marks.front() {
            if end > self.exec_read_total {
                break;
            }
            let (_, no, label, text) = self.exec_marks.pop_front().expect("checked");
            done.push((no, label, text));
        }
        ReadOutcome::Data(n, done)
    }

    /// True if a read would not wait.
    pub(crate) fn exec_readable(&self) -> bool {
        !self.exec_rx.is_empty() || self.exec_eof || self.exec_closed
    }

    /// True if a write would take at least one byte (or fail).
    pub(crate) fn exec_writable(&self) -> bool {
        self.ctl_closed
            || self.down
            || self.exec_closed
            || self.unread[Dir::ToController.index()] < self.capacity
    }

    /// Whether a write now fails: the peer is gone.
    pub(crate) fn exec_write_fails(&self) -> bool {
        self.ctl_closed || self.down || self.exec_closed
    }

    /// Takes what fits of `buf` (at most `limit`, a short-writes fault):
    /// the number of bytes taken, and the bytes that go to the controller
    /// now. A message goes whole once all of it is written; one that does
    /// not fit in the room left goes in parts once the pipe is full, as a
    /// reader takes the first bytes of a real pipe and so makes room for
    /// the rest (the parser keeps the capacity at least a header's size, so
    /// a full pipe holds a whole header).
    pub(crate) fn exec_write(&mut self, buf: &[u8], limit: Option<u64>) -> (usize, Vec<Outgoing>) {
        let d = Dir::ToController.index();
        let room = self.capacity.saturating_sub(self.unread[d]);
        let mut n = (buf.len() as u64).min(room);
        if let Some(l) = limit {
            n = n.min(l.max(1));
        }
        let n = n as usize;
        self.exec_tx.extend_from_slice(&buf[..n]);
        self.unread[d] += n as u64;
        let mut out = Vec::new();
        while let Some(size) = frame_size(&self.exec_tx) {
            let starts = self.exec_tx_out == 0;
            if (self.exec_tx.len() as u64) < size {
                if self.unread[d] >= self.capacity && self.exec_tx.len() > self.exec_tx_out {
                    out.push(Outgoing {
                        bytes: self.exec_tx[self.exec_tx_out..].to_vec(),
                        starts,
                        ends: false,
                    });
                    self.exec_tx_out = self.exec_tx.len();
                }
                break;
            }
            let rest = self.exec_tx.split_off(size as usize);
            let mut message = std::mem::replace(&mut self.exec_tx, rest);
            let bytes = message.split_off(self.exec_tx_out);
            self.exec_tx_out = 0;
            out.push(Outgoing {
                bytes,
                starts,
                ends: true,
            });
        }
        (n, out)
    }

    /// Bytes the controller will not read (a lost message's later parts).
    pub(crate) fn forget_toward_controller(&mut self, n: u64) {
        let d = Dir::ToController.index();
        self.unread[d] = self.unread[d].saturating_sub(n);
    }

    /// The executor closed its end: the controller sees the end of the
    /// stream after what is on its way, and the executor reads no more.
    pub(crate) fn exec_close(&mut self, now: u64, rng_latency: u64) {
        if self.exec_closed {
            return;
        }
        self.exec_closed = true;
        self.woken = true;
        if self.down {
            return;
        }
        self.push_end_of_stream(Dir::ToController, now, rng_latency);
    }

    /// Sends the end of the stream in direction `dir`, behind what is on
    /// its way.
    fn push_end_of_stream(&mut self, dir: Dir, now: u64, latency: u64) {
        self.next_no += 1;
        let no = self.next_no;
        self.push(
            dir,
            now,
            latency,
            Packet {
                no,
                due: 0,
                bytes: Vec::new(),
                ends_message: true,
                label: Label::Other,
                text: "end of stream".into(),
                reorder: false,
                then_close: false,
                eof: true,
            },
        );
    }

    /// Whether the executor closed its end.
    pub(crate) fn exec_closed(&self) -> bool {
        self.exec_closed
    }

    /// Marks the executor's end woken; true if it was not already.
    pub(crate) fn wake(&mut self) -> bool {
        !std::mem::replace(&mut self.woken, true)
    }

    /// Consumes a wake-up, if any.
    pub(crate) fn take_woken(&mut self) -> bool {
        std::mem::take(&mut self.woken)
    }

    // ---- sending, with the faults ----------------------------------------

    /// A new message number.
    pub(crate) fn number(&mut self) -> u64 {
        self.next_no += 1;
        self.next_no
    }

    /// Sends message `msg` (numbered `no`) towards `dir`'s receiver,
    /// applying the faults that select it. `latency` is the drawn latency.
    ///
    /// Bytes towards the controller were counted unread when the executor
    /// wrote them; bytes towards the executor are counted here.
    pub(crate) fn send(
        &mut self,
        dir: Dir,
        no: u64,
        msg: Message,
        faults: &[Fault],
        now: u64,
        latency: u64,
    ) -> Sent {
        let mut notes = Vec::new();
        let written = msg.bytes.len() as u64;
        // What the executor wrote and nobody will read any more.
        let forget = |pipe: &mut Pipe, n: u64| {
            if dir == Dir::ToController {
                let d = dir.index();
                pipe.unread[d] = pipe.unread[d].saturating_sub(n);
            }
        };
        if self.down {
            forget(self, written);
            return Sent {
                notes: vec![format!("m{no} lost: the transport is closed")],
                lost: true,
            };
        }
        let mut bytes = msg.bytes;
        let mut delay = 0;
        let mut reorder = false;
        let mut dup = false;
        let mut split = None;
        let mut close_at = None;
        for f in faults {
            let hit = |s: &MsgSel| selects(s, no, &msg.label);
            match &f.kind {
                FaultKind::Drop(s) if hit(s) => {
                    forget(self, written);
                    notes.push(format!("m{no} dropped (fault: drop {s})"));
                    return Sent { notes, lost: true };
                }
                FaultKind::Delay(s, d) if hit(s) => {
                    delay += d;
                    notes.push(format!("m{no} delayed by {d} ticks (fault)"));
                }
                FaultKind::Reorder(s) if hit(s) => {
                    reorder = true;
                    notes.push(format!(
                        "m{no} may be overtaken by the next message (fault)"
                    ));
                }
                FaultKind::Duplicate(s) if hit(s) => dup = true,
                FaultKind::Split(s, at) if hit(s) => split = Some(*at),
                FaultKind::CloseMid(s, at) if hit(s) => close_at = Some(*at),
                FaultKind::Corrupt(s, field, value) if hit(s) => {
                    corrupt(&mut bytes, *field, *value);
                    notes.push(format!("m{no}: header {field} set to {value:#x} (fault)"));
                }
                _ => {}
            }
        }
        let lat = latency.saturating_add(delay);
        if let Some(at) = close_at {
            let at = (at as usize).min(bytes.len());
            forget(self, (bytes.len() - at) as u64);
            bytes.truncate(at);
            notes.push(format!(
                "m{no}: the transport closes after {at} of its bytes (fault)"
            ));
        }
        let total = bytes.len();
        let mut parts = vec![bytes];
        if let Some(at) = split {
            let at = (at as usize).min(total);
            if at > 0 && at < total {
                let rest = parts[0].split_off(at);
                parts.push(rest);
                notes.push(format!(
                    "m{no} split after {at} of its {total} bytes (fault)"
                ));
            }
        }
        let copies = if dup { 2 } else { 1 };
        for copy in 0..copies {
            let n = if copy == 0 {
                no
            } else {
                let n2 = self.number();
                notes.push(format!("m{no} duplicated as m{n2} (fault)"));
                n2
            };
            let last = parts.len() - 1;
            for (i, part) in parts.iter().enumerate() {
                if dir == Dir::ToExecutor || copy > 0 {
                    self.unread[dir.index()] += part.len() as u64;
                }
                self.push(
                    dir,
                    now,
                    lat + i as u64,
                    Packet {
                        no: n,
                        due: 0,
                        bytes: part.clone(),
                        ends_message: i == last && close_at.is_none() && !msg.more_follows,
                        label: msg.label.clone(),
                        text: msg.text.clone(),
                        reorder: reorder && copy == 0 && i == 0,
                        then_close: close_at.is_some() && i == last,
                        eof: false,
                    },
                );
            }
        }
        Sent { notes, lost: false }
    }

    fn push(&mut self, dir: Dir, now: u64, lat: u64, mut p: Packet) {
        let d = dir.index();
        // FIFO: never due before the packet ahead of it.
        p.due = now.saturating_add(lat).max(self.last_due[d]);
        self.last_due[d] = p.due;
        self.flight[d].push_back(p);
    }

    /// Room for the controller's bytes towards the executor.
    pub(crate) fn ctl_room(&self) -> u64 {
        self.capacity
            .saturating_sub(self.unread[Dir::ToExecutor.index()])
    }

    /// Queues a message the controller could not put in yet (or behind
    /// others waiting).
    pub(crate) fn ctl_hold(&mut self, bytes: Vec<u8>, no: u64, label: Label, text: String) {
        self.ctl_outbox.push_back((bytes, no, label, text, false));
    }

    /// The next message the controller waits to send, if it fits now:
    /// taken out of the outbox (a message larger than the whole capacity
    /// goes out in parts, the first of them now).
    pub(crate) fn ctl_next_outgoing(&mut self) -> Option<(Vec<u8>, u64, Label, String, bool)> {
        let room = self.ctl_room();
        let (bytes, ..) = self.ctl_outbox.front()?;
        if room == 0 {
            return None;
        }
        if bytes.len() as u64 <= room {
            return self.ctl_outbox.pop_front();
        }
        if (bytes.len() as u64) > self.capacity {
            let front = self.ctl_outbox.front_mut().expect("checked");
            let rest = front.0.split_off(room as usize);
            let part = std::mem::replace(&mut front.0, rest);
            // Continued later: the same number, not ending the message.
            return Some((part, front.1, front.2.clone(), front.3.clone(), true));
        }
        None
    }

    /// True if the controller has messages waiting to go out.
    pub(crate) fn ctl_has_outbox(&self) -> bool {
        !self.ctl_outbox.is_empty()
    }

    /// The controller's end closes for writing: the executor reads the end
    /// of the stream after what is on its way.
    pub(crate) fn ctl_close(&mut self, now: u64, lat: u64) {
        if self.ctl_closed || self.down {
            return;
        }
        self.ctl_closed = true;
        self.woken = true;
        self.push_end_of_stream(Dir::ToExecutor, now, lat);
    }

    /// The transport is gone under both sides (the controller vanished or a
    /// close mid-message): what is on its way is lost, both ends see the
    /// end of the stream, writes fail. Returns the lost packets.
    pub(crate) fn go_down(&mut self) -> Vec<Packet> {
        if self.down {
            return Vec::new();
        }
        self.down = true;
        self.exec_eof = true;
        self.woken = true;
        let mut lost = Vec::new();
        for d in 0..2 {
            for p in self.flight[d].drain(..) {
                if !p.eof {
                    lost.push(p);
                }
            }
            self.unread[d] = 0;
        }
        self.unread[Dir::ToExecutor.index()] = self.exec_rx.len() as u64;
        self.ctl_outbox.clear();
        lost
    }

    /// Whether the transport is down.
    pub(crate) fn is_down(&self) -> bool {
        self.down
    }

    // ---- delivery ----------------------------------------------------------

    /// Packets that may be delivered now: (direction, index).
    pub(crate) fn ready(&self, now: u64) -> Vec<(Dir, usize)> {
        let mut out = Vec::new();
        for dir in [Dir::ToExecutor, Dir::ToController] {
            let q = &self.flight[dir.index()];
            if let Some(h) = q.front() {
                if h.reorder {
                    if let Some(s) = q.get(1)
                        && s.due <= now
                    {
                        out.push((dir, 1));
                    }
                } else if h.due <= now {
                    out.push((dir, 0));
                }
            }
        }
        out
    }

    /// The earliest time a packet becomes deliverable.
    pub(crate) fn next_due(&self) -> Option<u64> {
        let mut next: Option<u64> = None;
        for q in &self.flight {
            if let Some(h) = q.front() {
                let t = if h.reorder {
                    q.get(1).map(|s| s.due)
                } else {
                    Some(h.due)
                };
                if let Some(t) = t {
                    next = Some(next.map_or(t, |n| n.min(t)));
                }
            }
        }
        next
    }

    /// A packet held for reordering that nothing overtook goes now; true if
    /// one was released.
    pub(crate) fn release_reordered(&mut self) -> Option<u64> {
        for q in &mut self.flight {
            if let Some(h) = q.front_mut()
                && h.reorder
            {
                h.reorder = false;
                return Some(h.no);
            }
        }
        None
    }

    /// Takes packet `i` of `dir` for delivery.
    pub(crate) fn take(&mut self, dir: Dir, i: usize) -> Packet {
        let q = &mut self.flight[dir.index()];
        let p = q.remove(i).expect("a ready packet");
        if i == 1
            && let Some(h) = q.front_mut()
        {
            // It was overtaken: it goes next.
            h.reorder = false;
        }
        p
    }

    /// Puts a packet's bytes at the executor's end.
    pub(crate) fn arrive_at_executor(&mut self, p: &Packet) {
        if p.eof {
            self.exec_eof = true;
            return;
        }
        self.exec_rx.extend(p.bytes.iter().copied());
        self.exec_arrived_total += p.bytes.len() as u64;
        if p.ends_message {
            self.exec_marks.push_back((
                self.exec_arrived_total,
                p.no,
                p.label.clone(),
                p.text.clone(),
            ));
        }
    }

    /// The controller consumed a packet's bytes.
    pub(crate) fn consumed_by_controller(&mut self, p: &Packet) {
        let d = Dir::ToController.index();
        self.unread[d] = self.unread[d].saturating_sub(p.bytes.len() as u64);
    }

    /// Holds a packet at the controller, which is not reading.
    pub(crate) fn hold_at_controller(&mut self, p: Packet) {
        self.ctl_held.push_back(p);
    }

    /// The packets held while the controller was not reading.
    pub(crate) fn take_held(&mut self) -> Vec<Packet> {
        self.ctl_held.drain(..).collect()
    }
}

/// The whole size a message header at the start of `buf` claims, once the
/// header is there. A size below the header's is taken as the header alone
/// (the receiver reports the error).
fn frame_size(buf: &[u8]) -> Option<u64> {
    if buf.len() < HEADER_SIZE {
        return None;
    }
    let mut w = [0u8; 8];
    w.copy_from_slice(&buf[..8]);
    Some(u64::from_le_bytes(w).max(HEADER_SIZE as u64))
}

/// The decoded header of a message's bytes, if they hold one.
pub(crate) fn header(bytes: &[u8]) -> Option<Header> {
    let head: &[u8; HEADER_SIZE] = bytes.get(..HEADER_SIZE)?.try_into().ok()?;
    Header::decode(head).ok()
}

/// The opcode's name as the transcript shows it.
pub(crate) fn opcode_name(op: Opcode) -> &'static str {
    match op {
        Opcode::Setup => "Setup",
        Opcode::Hangup => "Hangup",
        Opcode::Result => "Result",
        Opcode::CallWrapper => "CallWrapper",
    }
}

fn corrupt(bytes: &mut [u8], field: HeaderField, value: u64) {
    let at = match field {
        HeaderField::Size => 0,
        HeaderField::Opcode => 8,
        HeaderField::Seqno => 16,
        HeaderField::Tag => 24,
    };
    if let Some(slot) = bytes.get_mut(at..at + 8) {
        slot.copy_from_slice(&value.to_le_bytes());
    }
}

/// Whether selector `sel` names message `no` labelled `label`.
pub(crate) fn selects(sel: &MsgSel, no: u64, label: &Label) -> bool {
    match (sel, label) {
        (MsgSel::Nth(n), _) => *n == no,
        (MsgSel::Setup, Label::Setup) => true,
        (MsgSel::Hangup, Label::Hangup) => true,
        (MsgSel::Call(h), Label::Call(x)) => h == x,
        (MsgSel::Result(h), Label::Result(x)) => h == x,
        (MsgSel::CallTag(t, n), Label::CallTag(x, k)) => t == x && n == k,
        (MsgSel::Reply(t, n), Label::Reply(x, k)) => t == x && n == k,
        _ => false,
    }
}

/// A whole message.
pub(crate) fn frame(op: Opcode, seq: u64, tag: u64, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_SIZE + payload.len());
    write_message(&mut v, op, seq, ExecutorAddr::new(tag), payload).expect("writing to a Vec");
    v
}

/// A Result message in LLVM main's dialect: kind 0 with the value's
/// bytes, kind 1 with an out-of-band error's message.
pub(crate) fn result_frame(seq: u64, res: &Res) -> Vec<u8> {
    match res {
        Res::Bytes(b) => frame(Opcode::Result, seq, 0, b),
        Res::Error(m) => frame(Opcode::Result, seq, 1, &sps::to_vec(&m.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        orc_executor::wire::write_message(
            &mut v,
            Opcode::Result,
            1,
            orc_rt::ExecutorAddr::NULL,
            payload,
        )
        .unwrap();
        v
    }

    #[test]
    fn executor_writes_are_framed_and_limited_by_capacity() {
        let mut p = Pipe::new(64);
        let f = frame(b"0123456789");
        assert_eq!(f.len(), 42);
        let (n, out) = p.exec_write(&f[..30], None);
        assert_eq!((n, out.len()), (30, 0), "not a whole message yet");
        let (n, out) = p.exec_write(&f[30..], Some(1));
        assert_eq!((n, out.len()), (1, 0), "a short write");
        let (n, out) = p.exec_write(&f[31..], None);
        let whole = Outgoing {
            bytes: f.clone(),
            starts: true,
            ends: true,
        };
        assert_eq!((n, out), (11, vec![whole]));
        // The controller has not read it: 22 bytes of room are left.
        let (n, _) = p.exec_write(&f, None);
        assert_eq!(n, 22, "the capacity stops the write");
        assert!(!p.exec_writable());
    }

    #[test]
    fn a_message_larger_than_the_room_goes_in_parts() {
        let mut p = Pipe::new(40);
        let f = frame(b"0123456789");
        let (n, out) = p.exec_write(&f, None);
        assert_eq!(n, 40, "the capacity stops the write");
        assert_eq!(
            out,
            vec![Outgoing {
                bytes: f[..40].to_vec(),
                starts: true,
                ends: false,
            }],
            "the pipe is full: its first part goes to the reader"
        );
        let (n, out) = p.exec_write(&f[40..], None);
        assert_eq!((n, out.len()), (0, 0), "nothing fits until it is read");
        p.forget_toward_controller(40);
        let (n, out) = p.exec_write(&f[40..], None);
        assert_eq!(n, 2);
        assert_eq!(
            out,
            vec![Outgoing {
                bytes: f[40..].to_vec(),
                starts: false,
                ends: true,
            }]
        );
    }

    #[test]
    fn reads_report_the_messages_they_complete() {
        let mut p = Pipe::new(1 << 16);
        let f = frame(b"ab");
        let sent = p.send(
            Dir::ToExecutor,
            7,
            Message {
                bytes: f.clone(),
                label: Label::Call("c1".into()),
                text: "call".into(),
                more_follows: false,
            },
            &[Fault {
                kind: FaultKind::Split(MsgSel::Call("c1".into()), 5),
                pos: Default::default(),
            }],
            0,
            1,
        );
        assert!(!sent.lost && sent.notes[0].contains("split after 5"));
        let first = p.take(Dir::ToExecutor, 0);
        assert_eq!(first.bytes.len(), 5);
        p.arrive_at_executor(&first);
        let mut buf = [0u8; 64];
        match p.exec_read(&mut buf, None) {
            ReadOutcome::Data(5, done) => assert!(done.is_empty()),
            _ => panic!("five bytes"),
        }
        assert!(matches!(p.exec_read(&mut buf, None), ReadOutcome::Empty));
        let rest = p.take(Dir::ToExecutor, 0);
        p.arrive_at_executor(&rest);
        match p.exec_read(&mut buf, Some(3)) {
            ReadOutcome::Data(3, done) => assert!(done.is_empty()),
            _ => panic!("a short read"),
        }
        match p.exec_read(&mut buf, None) {
            ReadOutcome::Data(n, done) => {
                assert_eq!(n, f.len() - 8);
                assert_eq!(done, vec![(7, Label::Call("c1".into()), "call".to_owned())]);
            }
            _ => panic!("the rest"),
        }
    }

    #[test]
    fn a_corrupted_header_and_a_dropped_message() {
        let mut p = Pipe::new(1 << 16);
        let faults = [
            Fault {
                kind: FaultKind::Corrupt(MsgSel::Nth(1), HeaderField::Opcode, 9),
                pos: Default::default(),
            },
            Fault {
                kind: FaultKind::Drop(MsgSel::Nth(2)),
                pos: Default::default(),
            },
        ];
        let m = |bytes: Vec<u8>| Message {
            bytes,
            label: Label::Other,
            text: String::new(),
            more_follows: false,
        };
        p.send(Dir::ToController, 1, m(frame(b"x")), &faults, 0, 1);
        let s = p.send(Dir::ToController, 2, m(frame(b"y")), &faults, 0, 1);
        assert!(s.lost);
        let got = p.take(Dir::ToController, 0);
        assert_eq!(u64::from_le_bytes(got.bytes[8..16].try_into().unwrap()), 9);
        assert!(p.ready(100).is_empty(), "the dropped one never arrives");
    }
}
