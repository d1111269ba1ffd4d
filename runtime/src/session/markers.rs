//! Per-thread record of "this thread is inside work of session X": a task
//! the session dispatched (which holds a guard) or a step of the session's
//! detach/shutdown sequence. A blocking wait for shutdown from such a thread
//! would wait for itself, so the session refuses it instead.

use std::cell::RefCell;

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
