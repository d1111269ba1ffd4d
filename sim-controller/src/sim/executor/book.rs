//! What the simulation knows of the executor side: the execution-scope
//! guards it can see, per session (so no manager may shut down while a
//! guard of its session lives), which calls' wrappers started, the host's
//! named guards, task and thread numbers.

use std::collections::{BTreeMap, BTreeSet};

use super::host::SimGuard;

/// Who holds one session's execution scope, as far as the simulation
/// knows: each count is a live guard.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Live {
    pub(crate) queued_tasks: u64,
    pub(crate) bodies: u64,
    pub(crate) jit_guards: u64,
    pub(crate) host_guards: u64,
    pub(crate) dispatcher_guard: bool,
}

impl Live {
    /// Every live guard.
    pub(crate) fn total(&self) -> u64 {
        self.queued_tasks
            + self.bodies
            + self.jit_guards
            + self.host_guards
            + u64::from(self.dispatcher_guard)
    }

    /// The live guards, in words.
    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.queued_tasks > 0 {
            parts.push(format!("{} queued task(s)", self.queued_tasks));
        }
        if self.bodies > 0 {
            parts.push(format!("{} running wrapper body(ies)", self.bodies));
        }
        if self.jit_guards > 0 {
            parts.push(format!("{} guard(s) held by JIT'd code", self.jit_guards));
        }
        if self.host_guards > 0 {
            parts.push(format!("{} host guard(s)", self.host_guards));
        }
        if self.dispatcher_guard {
            parts.push("the dispatcher's guard".to_owned());
        }
        if parts.is_empty() {
            "no live guard".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// See the module docs.
pub(crate) struct Book {
    /// The live guards of each session (0: the default one, then the
    /// scenario's `session` lines in order).
    pub(crate) live: Vec<Live>,
    running: BTreeSet<String>,
    host_guards: BTreeMap<String, SimGuard>,
    /// The last task number of each session.
    next_task: Vec<u64>,
    next_thread: u64,
}

impl Book {
    /// The book of a run with `sessions` sessions.
    pub(crate) fn new(sessions: usize) -> Self {
        Book {
            live: vec![Live::default(); sessions],
            running: BTreeSet::new(),
            host_guards: BTreeMap::new(),
            next_task: vec![0; sessions],
            next_thread: 0,
        }
    }

    /// A fresh task number of session `s` (each session numbers its own).
    pub(crate) fn new_task(&mut self, s: usize) -> u64 {
        self.next_task[s] += 1;
        self.next_task[s]
    }

    /// A fresh thread number.
    pub(crate) fn new_thread(&mut self) -> u64 {
        self.next_thread += 1;
        self.next_thread
    }

    /// The wrapper of call `handle` started.
    pub(crate) fn started(&mut self, handle: &str) {
        self.running.insert(handle.to_owned());
    }

    /// Whether the wrapper of call `handle` started.
    pub(crate) fn is_running(&self, handle: &str) -> bool {
        self.running.contains(handle)
    }

    /// Keeps the host's guard `name`.
    pub(crate) fn keep_guard(&mut self, name: &str, g: SimGuard) {
        self.host_guards.insert(name.to_owned(), g);
    }

    /// Takes the host's guard `name`.
    pub(crate) fn take_guard(&mut self, name: &str) -> Option<SimGuard> {
        self.host_guards.remove(name)
    }

    /// A clone of the host's guard `name`, if held.
    pub(crate) fn guard(&self, name: &str) -> Option<&SimGuard> {
        self.host_guards.get(name)
    }

    /// Every host guard (released at the end of a run).
    pub(crate) fn take_all_guards(&mut self) -> Vec<SimGuard> {
        std::mem::take(&mut self.host_guards)
            .into_values()
            .collect()
    }
}
