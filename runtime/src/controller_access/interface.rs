//! The types of the session's connection to its controller: the
//! [`ControllerAccess`] trait (its obligations are in the parent module's
//! docs), the continuation of an executor-to-controller call, and what the
//! executor announces at connection (symbols and values). They name no
//! session type, so the session builds on them.

use std::collections::BTreeMap;
use std::fmt;

use crate::addr::ExecutorAddr;
use crate::error::{Error, ErrorKind};
use crate::sps::{EncodeError, SpsEncode, Writer};
use crate::wrapper::WrapperFunctionBuffer;

/// A connection to a controller, as the session sees it.
pub trait ControllerAccess: Send + Sync {
    /// Starts talking to the controller, announcing `bootstrap`. Called once,
    /// when the session is ready for incoming calls.
    fn connect(&self, bootstrap: BootstrapInfo);

    /// Asks for the connection to end; see the module docs (obligation 2).
    fn disconnect(&self);

    /// Calls the controller's handler registered under `tag`; `on_complete`
    /// is completed exactly once (obligation 5).
    fn call_controller(
        &self,
        tag: ExecutorAddr,
        args: WrapperFunctionBuffer,
        on_complete: ControllerCallReturn,
    );

    /// Sends the result of the controller's call `call_id` back to it; after
    /// disconnection, drops it.
    fn send_wrapper_result(&self, call_id: u64, result: WrapperFunctionBuffer);

    /// The handler of the controller's call `call_id` has returned (or its
    /// task was dropped unrun), whether or not it sent the result: an
    /// asynchronous handler sends it later, from whatever completes it. An
    /// access that waits for the calls still running before it reports the
    /// end of the connection stops waiting for this one here: a result sent
    /// later holds nothing up (spec 8.8). Called after the result when the
    /// handler sent it itself. Default: nothing.
    fn wrapper_handler_returned(&self, call_id: u64) {
        let _ = call_id;
    }
}

pub(crate) type ReturnFn = Box<dyn FnOnce(WrapperFunctionBuffer) + Send + 'static>;

/// What a continuation dropped uncompleted is handed to: the session that
/// made it (it reports the contract violation and completes the call).
pub(crate) trait CallOwner: Send + Sync {
    fn abandoned_controller_call(&self, f: ReturnFn);
}

/// The continuation of one executor-to-controller call. A controller access
/// holds it while the call is pending and completes it through the session
/// ([`SessionHooks`](crate::session::SessionHooks)): it cannot run it itself,
/// because the session decides where (dispatched, under a fresh guard) it
/// runs.
///
/// Dropping it uncompleted is a contract violation: the session reports it,
/// and completes the call with the out-of-band error
/// `"controller call dropped without a result"` if the execution scope still
/// admits a guard (under that guard), else drops it silently.
#[must_use = "every controller call is completed exactly once"]
pub struct ControllerCallReturn {
    f: Option<ReturnFn>,
    /// The session that made it, which gets it if it is dropped
    /// uncompleted.
    owner: Option<Box<dyn CallOwner>>,
    /// The caller declared the continuation quick (it only wakes a waiting
    /// thread): it runs where the result is delivered, not on a task.
    inline: bool,
}

impl ControllerCallReturn {
    pub(crate) fn new(f: ReturnFn, owner: Box<dyn CallOwner>, inline: bool) -> Self {
        ControllerCallReturn {
            f: Some(f),
            owner: Some(owner),
            inline,
        }
    }

    /// A continuation not tied to a session, for testing a controller access
    /// on its own. Completing it through a session's hooks runs it as usual.
    pub fn from_fn(f: impl FnOnce(WrapperFunctionBuffer) + Send + 'static) -> Self {
        ControllerCallReturn {
            f: Some(Box::new(f)),
            owner: None,
            inline: false,
        }
    }

    /// Takes the continuation out, with whether it runs inline; the value
    /// is then inert.
    pub(crate) fn take(mut self) -> (ReturnFn, bool) {
        let f = self
            .f
            .take()
            .expect("a ControllerCallReturn is completed once");
        (f, self.inline)
    }
}

impl Drop for ControllerCallReturn {
    fn drop(&mut self) {
        let Some(f) = self.f.take() else { return };
        match self.owner.take() {
            Some(owner) => owner.abandoned_controller_call(f),
            None => f(WrapperFunctionBuffer::out_of_band_error(
                "controller call dropped without a result",
            )),
        }
    }
}

impl fmt::Debug for ControllerCallReturn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ControllerCallReturn")
            .field("pending", &self.f.is_some())
            .finish()
    }
}

/// Symbol name → executor address (upstream `SimpleSymbolTable`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SymbolTable {
    pub(crate) map: BTreeMap<String, ExecutorAddr>,
}

impl SymbolTable {
    /// An empty table.
    pub fn new() -> Self {
        SymbolTable::default()
    }

    /// Adds every entry, or none: an entry equal to an existing one is
    /// accepted, a known name with a different address fails, listing every
    /// conflicting name.
    pub fn add_unique<I, S>(&mut self, entries: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = (S, ExecutorAddr)>,
        S: Into<String>,
    {
        let mut entries: Vec<(String, ExecutorAddr)> =
            entries.into_iter().map(|(n, a)| (n.into(), a)).collect();
        // Sorted, a name's entries sit together: they conflict if the table
        // has the name at another address, or else if two neighbours differ.
        // (An executor adds its ~150 bootstrap symbols in one call at start-
        // up, a measured figure: sorting once beats a second map.)
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut conflicts: Vec<&str> = Vec::new();
        for (i, (name, addr)) in entries.iter().enumerate() {
            let before = i
                .checked_sub(1)
                .map(|j| &entries[j])
                .filter(|(n, _)| n == name)
                .map(|&(_, a)| a);
            if self
                .map
                .get(name)
                .copied()
                .or(before)
                .is_some_and(|a| a != *addr)
            {
                conflicts.push(name);
            }
        }
        if !conflicts.is_empty() {
            conflicts.dedup();
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("duplicate symbol definitions: {}", conflicts.join(", ")),
            ));
        }
        if self.map.is_empty() {
            // Built from sorted entries in one pass, without a search each.
            self.map = entries.into_iter().collect();
        } else {
            self.map.extend(entries);
        }
        Ok(())
    }

    /// The address of `name`.
    pub fn get(&self, name: &str) -> Option<ExecutorAddr> {
        self.map.get(name).copied()
    }

    /// Entries in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, ExecutorAddr)> {
        self.map.iter().map(|(n, a)| (n.as_str(), *a))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True if there are no entries.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// SPS `map<string, ExecutorAddr>` (`SPSSequence<SPSTuple<SPSString,
/// SPSExecutorAddr>>`), in name order: the Setup message's symbol table,
/// encoded without copying it into a map of its own.
impl SpsEncode for SymbolTable {
    fn encoded_size(&self) -> usize {
        self.map.encoded_size()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.map.encode(w)
    }
}

/// What the executor announces to the controller when it connects: its
/// bootstrap symbols and key/value pairs (upstream `BootstrapInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootstrapInfo {
    /// Named executor addresses (controller-interface functions, instances).
    pub symbols: SymbolTable,
    /// Named values (e.g. `"orc-rt.Executor.SubtargetFeatures"`).
    pub values: BTreeMap<String, String>,
}

/// The bootstrap symbol naming the session (its `orc_rt_SessionRef`),
/// with the C-symbol mangling of the platform (a leading `_` on Darwin, as
/// upstream's `SymbolNameSpec::c`).
pub const SESSION_INSTANCE_SYMBOL: &str = if cfg!(target_vendor = "apple") {
    "_orc_rt_Session_Instance"
} else {
    "orc_rt_Session_Instance"
};

/// The bootstrap value holding the executor's CPU features as an LLVM
/// subtarget-feature string (`+sse2,+avx`).
pub const SUBTARGET_FEATURES_KEY: &str = "orc-rt.Executor.SubtargetFeatures";

impl BootstrapInfo {
    /// Empty bootstrap info.
    pub fn new() -> Self {
        BootstrapInfo::default()
    }
}

#[cfg(all(test, not(orc_rt_loom)))]
mod tests {
    use super::*;

    #[test]
    fn add_unique_is_all_or_nothing_and_names_every_conflict() {
        let mut t = SymbolTable::new();
        t.add_unique([("a", ExecutorAddr::new(1)), ("b", ExecutorAddr::new(2))])
            .unwrap();
        // Same name, same address: fine.
        t.add_unique([("a", ExecutorAddr::new(1))]).unwrap();
        let err = t
            .add_unique([
                ("c", ExecutorAddr::new(3)),
                ("b", ExecutorAddr::new(9)),
                ("a", ExecutorAddr::new(8)),
            ])
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert_eq!(err.message(), "duplicate symbol definitions: a, b");
        assert_eq!(t.get("c"), None, "nothing was added");
        // A conflict inside one batch is caught too.
        let err = t
            .add_unique([("d", ExecutorAddr::new(1)), ("d", ExecutorAddr::new(2))])
            .unwrap_err();
        assert_eq!(err.message(), "duplicate symbol definitions: d");
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn a_first_batch_may_repeat_an_entry_but_not_change_it() {
        let mut t = SymbolTable::new();
        let err = t
            .add_unique([
                ("x", ExecutorAddr::new(1)),
                ("x", ExecutorAddr::new(2)),
                ("x", ExecutorAddr::new(1)),
            ])
            .unwrap_err();
        assert_eq!(err.message(), "duplicate symbol definitions: x");
        assert!(t.is_empty(), "nothing was added");
        t.add_unique([
            ("z", ExecutorAddr::new(3)),
            ("x", ExecutorAddr::new(1)),
            ("z", ExecutorAddr::new(3)),
        ])
        .unwrap();
        let entries: Vec<_> = t.iter().collect();
        assert_eq!(
            entries,
            [("x", ExecutorAddr::new(1)), ("z", ExecutorAddr::new(3))]
        );
    }

    #[test]
    fn a_dropped_sessionless_return_completes_with_an_error() {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
        let s = seen.clone();
        drop(ControllerCallReturn::from_fn(move |b| {
            *s.lock().unwrap() = Some(b)
        }));
        let b = seen.lock().unwrap().take().unwrap();
        assert_eq!(
            b.error_message().unwrap().to_str().unwrap(),
            "controller call dropped without a result"
        );
    }
}
