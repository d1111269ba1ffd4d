//! Wrapper functions as a service publishes them: each a handler plus what
//! the session may do with it, named, in a table the session registers at
//! once (upstream's `*SPSCI` binding functions return such a table).
//!
//! Two properties a wrapper function may declare, because only its author
//! knows them and the transport needs them:
//! - **quick**: it never blocks and runs no foreign code, so the session
//!   runs it on the thread that delivers the call (a transport's reader)
//!   instead of dispatching a task, or tries a quick path there first and
//!   dispatches only when that declines;
//! - **streamed arguments**: a large argument payload may be consumed as it
//!   arrives, before the call is delivered (a bulk memory write read from
//!   the transport straight into place).
//!
//! ```
//! use orc_rt::wrapper::{SpsWrapperFunction, WrapperEntry, WrapperTable};
//! type Add = SpsWrapperFunction<fn(u32, u32) -> u64>;
//! let mut table = WrapperTable::new();
//! table.add("add", WrapperEntry::new(Add::handler(|(a, b)| u64::from(a + b))).inline());
//! assert_eq!(table.names().collect::<Vec<_>>(), ["add"]);
//! ```

use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;

use super::{WrapperFunctionBuffer, WrapperReturn};
use crate::error::Error;

/// A wrapper function's handler: arguments in, exactly one result through
/// the [`WrapperReturn`] (now or later, from any thread).
pub type Handler = Arc<dyn Fn(WrapperFunctionBuffer, WrapperReturn) + Send + Sync>;

/// A quick path: the result, or `None` to decline (the call then needs the
/// full handler on a task of its own).
pub type QuickPath = Arc<dyn Fn(&[u8]) -> Option<WrapperFunctionBuffer> + Send + Sync>;

/// Where a registered wrapper function runs.
#[derive(Clone)]
pub(crate) enum Runs {
    /// On a dispatched task (the default: it may block or run JIT'd code).
    Dispatched,
    /// On the delivering thread.
    Inline,
    /// The quick path on the delivering thread; the handler on a task when
    /// it declines.
    QuickFirst(QuickPath),
}

/// A wrapper function to register: its handler and how it may be run.
#[derive(Clone)]
pub struct WrapperEntry {
    pub(crate) handler: Handler,
    pub(crate) runs: Runs,
    pub(crate) streamed: Option<Arc<dyn StreamedArgs>>,
}

impl fmt::Debug for WrapperEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let runs = match self.runs {
            Runs::Dispatched => "dispatched",
            Runs::Inline => "inline",
            Runs::QuickFirst(_) => "quick path first",
        };
        f.debug_struct("WrapperEntry")
            .field("runs", &runs)
            .field("streamed", &self.streamed)
            .finish()
    }
}

impl WrapperEntry {
    /// A wrapper function run on a dispatched task. Typed handlers come from
    /// [`SpsWrapperFunction`](super::SpsWrapperFunction).
    pub fn new(
        handler: impl Fn(WrapperFunctionBuffer, WrapperReturn) + Send + Sync + 'static,
    ) -> Self {
        WrapperEntry {
            handler: Arc::new(handler),
            runs: Runs::Dispatched,
            streamed: None,
        }
    }

    /// A wrapper function that computes its result from the argument bytes
    /// on the spot (built with
    /// [`WrapperFunction::handle_sps`](super::WrapperFunction::handle_sps)
    /// and its siblings); an out-of-band error argument goes straight back.
    pub fn from_fn(f: impl Fn(&[u8]) -> WrapperFunctionBuffer + Send + Sync + 'static) -> Self {
        WrapperEntry::new(move |args: WrapperFunctionBuffer, ret: WrapperReturn| {
            if args.is_error() {
                return ret.send(args);
            }
            ret.send(f(args.bytes()))
        })
    }

    /// Declares the handler quick: it never blocks and never runs JIT'd or
    /// other foreign code, so it runs on the thread that delivers the call.
    pub fn inline(mut self) -> Self {
        self.runs = Runs::Inline;
        self
    }

    /// Declares a quick path, tried on the thread that delivers the call;
    /// when it declines (`None`), the handler runs on a dispatched task.
    /// For calls that are quick unless their arguments ask for foreign code
    /// (memory requests with allocation actions).
    pub fn with_quick_path(
        mut self,
        quick: impl Fn(&[u8]) -> Option<WrapperFunctionBuffer> + Send + Sync + 'static,
    ) -> Self {
        self.runs = Runs::QuickFirst(Arc::new(quick));
        self
    }

    /// Declares that large argument payloads may be consumed by `streamed`
    /// as they arrive. Honoured only for entries that run on the delivering
    /// thread ([`inline`](Self::inline) or with a quick path), so that the
    /// work done while reading keeps its place in the order of calls.
    pub fn with_streamed_args(mut self, streamed: impl StreamedArgs + 'static) -> Self {
        self.streamed = Some(Arc::new(streamed));
        self
    }

    /// True if the call may run on the delivering thread.
    pub fn runs_on_delivering_thread(&self) -> bool {
        !matches!(self.runs, Runs::Dispatched)
    }

    /// Runs the handler on this thread (to test a binding without a
    /// session): its result, if it answered before returning.
    pub fn call_here(&self, args: &[u8]) -> Option<WrapperFunctionBuffer> {
        let (tx, rx) = std::sync::mpsc::channel();
        (self.handler)(
            WrapperFunctionBuffer::copy_from(args),
            WrapperReturn::new(move |result| {
                let _ = tx.send(result);
            }),
        );
        rx.try_recv().ok()
    }

    /// The quick path's answer for `args` (to test a binding without a
    /// session): `None` if it declined or none was declared.
    pub fn quick_here(&self, args: &[u8]) -> Option<WrapperFunctionBuffer> {
        match &self.runs {
            Runs::QuickFirst(quick) => quick(args),
            _ => None,
        }
    }

    /// The streamed-arguments handler, if declared and honoured.
    pub(crate) fn streamed_args(&self) -> Option<Arc<dyn StreamedArgs>> {
        self.streamed
            .clone()
            .filter(|_| self.runs_on_delivering_thread())
    }
}

/// Named wrapper functions, in the order they were added.
#[derive(Clone, Debug, Default)]
pub struct WrapperTable {
    entries: Vec<(String, WrapperEntry)>,
}

impl WrapperTable {
    /// An empty table.
    pub fn new() -> Self {
        WrapperTable::default()
    }

    /// Adds `entry` under `name`.
    pub fn add(&mut self, name: impl Into<String>, entry: WrapperEntry) -> &mut Self {
        self.entries.push((name.into(), entry));
        self
    }

    /// Appends every entry of `other`.
    pub fn extend(&mut self, other: WrapperTable) -> &mut Self {
        self.entries.extend(other.entries);
        self
    }

    /// The names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }

    /// The entry registered under `name`.
    pub fn get(&self, name: &str) -> Option<&WrapperEntry> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, e)| e)
    }

    /// Calls the entry `name` on this thread (see
    /// [`WrapperEntry::call_here`]); `None` if there is none or it did not
    /// answer before returning.
    pub fn call_here(&self, name: &str, args: &[u8]) -> Option<WrapperFunctionBuffer> {
        self.get(name)?.call_here(args)
    }

    /// The entries, in order.
    pub fn into_entries(self) -> Vec<(String, WrapperEntry)> {
        self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The argument bytes of one incoming call as the transport delivers them.
pub trait ArgumentSource {
    /// Payload bytes not consumed yet.
    fn remaining(&self) -> u64;

    /// Fills `buf` with the next payload bytes (there must be that many).
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()>;

    /// The whole payload in one buffer: `consumed` (the bytes consumed so
    /// far, as read), then the rest from the transport. The transport
    /// grows the buffer as bytes arrive: a length claim is not a budget.
    fn read_rest(&mut self, consumed: &[u8]) -> io::Result<WrapperFunctionBuffer>;

    /// Payload bytes already received and not consumed (a prefix of what
    /// remains; may be empty).
    fn buffered(&self) -> &[u8];

    /// Consumes `n` bytes of [`buffered`](Self::buffered).
    fn consume(&mut self, n: usize);

    /// The descriptor the rest of the payload arrives on, when reading it
    /// directly is allowed (one copy of each byte, kernel to destination)
    /// and nothing is buffered; then [`note_read`](Self::note_read) says how
    /// many bytes were taken from it.
    fn raw_fd(&self) -> Option<RawFd>;

    /// Records `n` payload bytes read directly from [`raw_fd`](Self::raw_fd).
    fn note_read(&mut self, n: u64);
}

/// A wrapper function's way of consuming large arguments as they arrive
/// (see the module docs).
pub trait StreamedArgs: Send + Sync + fmt::Debug {
    /// Consumes the whole payload from `source`, doing the part of the call's
    /// work that reading allows, and returns the argument bytes the handler
    /// is then called with: the bytes as sent when it did nothing, so that
    /// the call gives exactly the result it would have given unstreamed. An
    /// error ends the connection, as a transport error does.
    fn stream(&self, source: &mut dyn ArgumentSource) -> Result<WrapperFunctionBuffer, Error>;
}
