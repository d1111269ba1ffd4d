//! Per-thread records of "this thread is inside work of session X" (a task
//! the session dispatched, which holds a guard, or a step of the session's
//! detach/shutdown sequence) and of "this thread took guards of session X
//! that are still alive". A blocking wait for shutdown from such a thread
//! would wait for itself, so the session refuses it instead.

use std::cell::RefCell;

use crate::sync::Arc;
use crate::sync::atomic::{AtomicUsize, Ordering};

crate::sync::thread_local! {
    #[allow(
        clippy::missing_const_for_thread_local,
        reason = "loom's thread_local! has no const form"
    )]
    static ACTIVE: RefCell<Vec<usize>> = RefCell::new(Vec::new());
}

/// Marks the current thread as inside work of session `id` until dropped.
pub(crate) struct Marker {
    id: usize,
}

impl Marker {
    pub(crate) fn enter(id: usize) -> Self {
        let _ = ACTIVE.try_with(|a| a.borrow_mut().push(id));
        Marker { id }
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        let _ = ACTIVE.try_with(|a| {
            let mut a = a.borrow_mut();
            if let Some(pos) = a.iter().rposition(|&x| x == self.id) {
                a.remove(pos);
            }
        });
    }
}

/// True if the current thread is inside work of session `id`.
pub(crate) fn is_active(id: usize) -> bool {
    ACTIVE
        .try_with(|a| a.borrow().contains(&id))
        .unwrap_or(false)
}

crate::sync::thread_local! {
    #[allow(
        clippy::missing_const_for_thread_local,
        reason = "loom's thread_local! has no const form"
    )]
    static TAKEN: RefCell<Vec<(usize, Arc<AtomicUsize>)>> = RefCell::new(Vec::new());
}

/// This thread's count of live guards taken from session `id` (created on
/// first use): a guard taken here counts until it is dropped, on whatever
/// thread, so a guard handed to another thread still counts here; a
/// thread that gave its guard away and then waits for shutdown is refused
/// too, which errs on the side of never waiting for itself.
pub(crate) fn taken_guards(id: usize) -> Arc<AtomicUsize> {
    TAKEN
        .try_with(|t| {
            let mut t = t.borrow_mut();
            // Counts of sessions whose guards are all gone are dropped.
            t.retain(|(_, c)| c.load(Ordering::Acquire) > 0);
            match t.iter().find(|(s, _)| *s == id) {
                Some((_, c)) => c.clone(),
                None => {
                    let c = Arc::new(AtomicUsize::new(0));
                    t.push((id, c.clone()));
                    c
                }
            }
        })
        .unwrap_or_else(|_| Arc::new(AtomicUsize::new(0)))
}

/// True if the current thread took guards of session `id` that are alive.
pub(crate) fn holds_taken_guards(id: usize) -> bool {
    TAKEN
        .try_with(|t| {
            t.borrow()
                .iter()
                .any(|(s, c)| *s == id && c.load(Ordering::Acquire) > 0)
        })
        .unwrap_or(false)
}
