//! Drives the resource managers' `detach` or `shutdown`, newest first, each
//! started from the previous one's completion (spec 8.6 step 4,
//! 8.7 step 3).
//!
//! A completion may come synchronously (inside the call) or later on any
//! thread. The driver loops over synchronous completions instead of
//! recursing, and parks the chain in the step's cell when a manager
//! completes later; whoever completes the step then resumes the chain on its
//! own thread. The cell's mutex decides, for each step, which of the two
//! continues: exactly one does.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{ManagerSlot, SharedArc, markers::Marker};
use crate::error::Error;
use crate::resource_manager::{Completion, OnComplete, dropped_error};
use crate::sync::{Arc, Mutex, lock};

/// Which call the chain makes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Step {
    Detach { shutdown_requested: bool },
    Shutdown,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Detach { .. } => "detach",
            Step::Shutdown => "shutdown",
        }
    }
}

pub(super) type Then = Box<dyn FnOnce(&SharedArc) + Send + 'static>;

pub(super) struct Chain {
    shared: SharedArc,
    /// Managers in registration order; `pop` yields the newest first.
    remaining: Vec<Arc<ManagerSlot>>,
    step: Step,
    then: Option<Then>,
}

enum StepState {
    /// The driver is inside the manager's call.
    Running,
    /// The manager completed before its call returned.
    DoneEarly(Completion),
    /// The call returned first; the completion resumes this chain.
    Parked(Box<Chain>),
    /// This step is over (a later completion is only recorded).
    Finished,
}

impl Chain {
    pub(super) fn new(
        shared: SharedArc,
        managers: Vec<Arc<ManagerSlot>>,
        step: Step,
        then: Then,
    ) -> Box<Self> {
        Box::new(Chain {
            shared,
            remaining: managers,
            step,
            then: Some(then),
        })
    }
}

/// Runs the chain until it finishes or parks on an asynchronous completion.
pub(super) fn drive(mut chain: Box<Chain>) {
    let _marker = Marker::enter(chain.shared.id());
    loop {
        let Some(slot) = chain.remaining.pop() else {
            let then = chain.then.take().expect("a chain finishes once");
            let shared = chain.shared.clone();
            drop(chain);
            then(&shared);
            return;
        };
        let step = chain.step;
        let what = step.name();
        let mut inner = lock(&slot.inner);
        // Exactly once per manager, however many paths reach it.
        let first = match step {
            Step::Detach { .. } => !std::mem::replace(&mut inner.detached, true),
            Step::Shutdown => {
                debug_assert!(inner.detached, "shutdown before detach");
                !std::mem::replace(&mut inner.shut_down, true)
            }
        };
        if !first {
            continue;
        }
        let cell = Arc::new(Mutex::new(StepState::Running));
        let done = {
            let cell = cell.clone();
            let shared = chain.shared.clone();
            let name = slot.name.clone();
            OnComplete::for_step(
                what,
                Box::new(move |c| step_done(&cell, &shared, &name, what, c)),
            )
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| match step {
            Step::Detach { shutdown_requested } => inner.rm.detach(done, shutdown_requested),
            Step::Shutdown => inner.rm.shutdown(done),
        }));
        drop(inner);
        let panicked = match outcome {
            Ok(()) => false,
            Err(payload) => {
                let context = format!("resource manager '{}' {what}", slot.name);
                chain
                    .shared
                    .record_error(Error::from_panic(&context, payload.as_ref()));
                true
            }
        };
        let mut state = lock(&cell);
        match std::mem::replace(&mut *state, StepState::Finished) {
            StepState::DoneEarly(c) => {
                drop(state);
                // A completion dropped while the manager panicked is part
                // of the panic, already recorded.
                if !(panicked && matches!(c, Completion::Dropped)) {
                    record(&chain.shared, &slot.name, what, c);
                }
            }
            StepState::Running if !panicked => {
                *state = StepState::Parked(chain);
                return;
            }
            // Panicked and the completion is still out there: the step is
            // over; a late completion will only be recorded.
            StepState::Running => {}
            StepState::Parked(_) | StepState::Finished => {
                unreachable!("only the driver parks or finishes a running step")
            }
        }
    }
}

fn step_done(
    cell: &Mutex<StepState>,
    shared: &SharedArc,
    name: &str,
    what: &'static str,
    c: Completion,
) {
    let mut state = lock(cell);
    match std::mem::replace(&mut *state, StepState::Finished) {
        StepState::Running => *state = StepState::DoneEarly(c),
        StepState::Parked(chain) => {
            drop(state);
            record(shared, name, what, c);
            drive(chain);
        }
        StepState::Finished | StepState::DoneEarly(_) => {
            drop(state);
            record(shared, name, what, c);
        }
    }
}

fn record(shared: &SharedArc, name: &str, what: &str, c: Completion) {
    let err = match c {
        Completion::Called(Ok(())) => return,
        Completion::Called(Err(e)) => e,
        Completion::Dropped => dropped_error(what),
    };
    shared.record_error(err.context(format!("resource manager '{name}' {what}")));
}
