//! Virtual time and what may run next: timers, urgent events, flags that
//! wake parked threads, and the seeded generator that picks one of the
//! ready candidates. Time only moves when nothing is ready; it saturates
//! instead of wrapping, so a huge `tick` or `work` cannot bring the next
//! step back to an earlier time.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::rng::Rng;
use crate::scenario::Action;

use super::World;
use std::sync::Arc;

/// A closure run on a simulated thread.
pub(crate) type DoFn = Box<dyn FnOnce(&Arc<World>) + Send>;

/// Something the scheduler can run.
pub(crate) enum Ev {
    /// Resume a parked simulated thread.
    Resume(usize),
    /// Run a closure.
    Do(DoFn),
    /// A fault's action (action, why).
    Act(Action, String),
}

/// A timer: something to do at a virtual time.
struct Timer {
    due: u64,
    ev: Ev,
}

/// A parked simulated thread, for reports.
pub(crate) struct Parked {
    /// Who it is.
    pub(crate) actor: String,
    /// What it waits for.
    pub(crate) what: String,
}

/// The scheduler's state.
pub(crate) struct Schedule {
    now: u64,
    step: u64,
    rng: Rng,
    timers: Vec<Timer>,
    urgent: VecDeque<Ev>,
    flags: BTreeSet<u64>,
    flag_waiters: BTreeMap<u64, usize>,
    next_flag: u64,
    /// Parked threads and what they wait for.
    parked: BTreeMap<usize, Parked>,
}

impl Schedule {
    /// A schedule at time 0, its choices decided by `seed`.
    pub(crate) fn new(rng: Rng) -> Self {
        Schedule {
            now: 0,
            step: 0,
            rng,
            timers: Vec::new(),
            urgent: VecDeque::new(),
            flags: BTreeSet::new(),
            flag_waiters: BTreeMap::new(),
            next_flag: 0,
            parked: BTreeMap::new(),
        }
    }

    /// The virtual time.
    pub(crate) fn now(&self) -> u64 {
        self.now
    }

    /// Steps taken so far.
    pub(crate) fn step(&self) -> u64 {
        self.step
    }

    /// Counts one more step.
    pub(crate) fn count_step(&mut self) {
        self.step += 1;
    }

    /// `ticks` from now, saturating.
    pub(crate) fn later(&self, ticks: u64) -> u64 {
        self.now.saturating_add(ticks)
    }

    /// Bytes of the given choices the decisions took.
    pub(crate) fn choices_taken(&self) -> usize {
        self.rng.choices_taken()
    }

    /// The seeded generator.
    pub(crate) fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// Runs `ev` `ticks` from now.
    pub(crate) fn at(&mut self, ticks: u64, ev: Ev) {
        let due = self.later(ticks);
        self.timers.push(Timer { due, ev });
    }

    /// Runs `ev` before anything else the scheduler could pick.
    pub(crate) fn urgent(&mut self, ev: Ev) {
        self.urgent.push_back(ev);
    }

    /// A fresh flag id (to wake a thread when something happens).
    pub(crate) fn new_flag(&mut self) -> u64 {
        self.next_flag += 1;
        self.next_flag
    }

    /// Sets `flag`: wakes its waiter now, or the next one to wait for it.
    pub(crate) fn set_flag(&mut self, flag: u64) {
        match self.flag_waiters.remove(&flag) {
            Some(w) => self.at(0, Ev::Resume(w)),
            None => {
                self.flags.insert(flag);
            }
        }
    }

    /// Registers thread `who` to be woken by `flag`; false if the flag is
    /// already set (then consumed: the thread need not park).
    pub(crate) fn wait_flag(&mut self, flag: u64, who: usize) -> bool {
        if self.flags.remove(&flag) {
            return false;
        }
        self.flag_waiters.insert(flag, who);
        true
    }

    /// Notes that `who` is parked (for reports).
    pub(crate) fn park(&mut self, who: usize, actor: &str, what: String) {
        self.parked.insert(
            who,
            Parked {
                actor: actor.to_owned(),
                what,
            },
        );
    }

    /// `who` runs again.
    pub(crate) fn unpark(&mut self, who: usize) {
        self.parked.remove(&who);
    }

    /// What parked thread `who` waits for.
    pub(crate) fn parked(&self, who: usize) -> Option<&Parked> {
        self.parked.get(&who)
    }

    /// Every parked thread, in id order.
    pub(crate) fn all_parked(&self) -> impl Iterator<Item = (&usize, &Parked)> {
        self.parked.iter()
    }

    /// Forgets every way `who` could be woken (it is being aborted).
    pub(crate) fn forget(&mut self, who: usize) {
        self.flag_waiters.retain(|_, w| *w != who);
        self.timers
            .retain(|t| !matches!(t.ev, Ev::Resume(w) if w == who));
    }

    /// An urgent event, if any.
    pub(crate) fn take_urgent(&mut self) -> Option<Ev> {
        self.urgent.pop_front()
    }

    /// True if an urgent event waits.
    pub(crate) fn has_urgent(&self) -> bool {
        !self.urgent.is_empty()
    }

    /// Indices of the timers due now.
    pub(crate) fn due_timers(&self) -> Vec<usize> {
        (0..self.timers.len())
            .filter(|&i| self.timers[i].due <= self.now)
            .collect()
    }

    /// Takes timer `i`.
    pub(crate) fn take_timer(&mut self, i: usize) -> Ev {
        self.timers.remove(i).ev
    }

    /// The earliest future timer.
    pub(crate) fn next_timer(&self) -> Option<u64> {
        self.timers.iter().map(|t| t.due).min()
    }

    /// Moves time forward to `t` (never back).
    pub(crate) fn advance_to(&mut self, t: u64) {
        self.now = self.now.max(t);
    }

    /// Picks one of `n` candidates.
    pub(crate) fn pick(&mut self, n: usize) -> usize {
        self.rng.below(n as u64) as usize
    }
}
