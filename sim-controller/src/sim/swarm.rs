//! Swarm testing: each seed also chooses which kinds of transport fault are
//! enabled and how often they strike, so that a run is not always a little
//! of everything (a fault that hides another is sometimes off). The plan is
//! a function of the seed alone: printed before the run, reproduced by the
//! same seed with `--swarm`.

use std::fmt;

use crate::rng::Rng;
use crate::scenario::{Fault, FaultKind, MsgSel};

/// Which faults a swarm run injects, and how often (per mille, per message
/// for the message faults).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwarmPlan {
    /// A message is lost.
    pub drop: u32,
    /// A message arrives late (by up to 5 ticks).
    pub delay: u32,
    /// A message arrives twice.
    pub duplicate: u32,
    /// A message may be overtaken by the next one.
    pub reorder: u32,
    /// A message arrives in two parts.
    pub split: u32,
    /// Every read of the executor takes at most this many bytes.
    pub short_reads: Option<u64>,
    /// Every write of the executor takes at most this many bytes.
    pub short_writes: Option<u64>,
}

impl SwarmPlan {
    /// The plan of `seed`.
    pub fn for_seed(seed: u64) -> SwarmPlan {
        // Its own generator, so that the plan does not depend on how many
        // choices the schedule has made.
        let mut rng = Rng::new(seed ^ 0x5377_6172_6d21_0000);
        let rate = |rng: &mut Rng| -> u32 {
            if rng.below(2) == 0 {
                0
            } else {
                [10, 50, 200][rng.below(3) as usize]
            }
        };
        let drop = rate(&mut rng);
        let delay = rate(&mut rng);
        let duplicate = rate(&mut rng);
        let reorder = rate(&mut rng);
        let split = rate(&mut rng);
        let size = |rng: &mut Rng| (rng.below(2) == 1).then(|| 1 + rng.below(48));
        let short_reads = size(&mut rng);
        let short_writes = size(&mut rng);
        SwarmPlan {
            drop,
            delay,
            duplicate,
            reorder,
            split,
            short_reads,
            short_writes,
        }
    }

    /// The faults this plan injects into message `no` (drawn from `rng`).
    pub(crate) fn faults_for(&self, no: u64, rng: &mut Rng) -> Vec<Fault> {
        let mut out = Vec::new();
        let sel = || MsgSel::Nth(no);
        let mut hit = |per_mille: u32| per_mille > 0 && rng.below(1000) < u64::from(per_mille);
        let mut add = |kind: FaultKind| {
            out.push(Fault {
                kind,
                pos: Default::default(),
            })
        };
        if hit(self.drop) {
            add(FaultKind::Drop(sel()));
        }
        if hit(self.delay) {
            add(FaultKind::Delay(sel(), 5));
        }
        if hit(self.duplicate) {
            add(FaultKind::Duplicate(sel()));
        }
        if hit(self.reorder) {
            add(FaultKind::Reorder(sel()));
        }
        if hit(self.split) {
            add(FaultKind::Split(sel(), 7));
        }
        out
    }
}

impl fmt::Display for SwarmPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (name, rate) in [
            ("drop", self.drop),
            ("delay", self.delay),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
            ("split", self.split),
        ] {
            if rate > 0 {
                parts.push(format!("{name} {}.{}%", rate / 10, rate % 10));
            }
        }
        if let Some(n) = self.short_reads {
            parts.push(format!("short reads of {n} bytes"));
        }
        if let Some(n) = self.short_writes {
            parts.push(format!("short writes of {n} bytes"));
        }
        if parts.is_empty() {
            f.write_str("no faults")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_is_a_function_of_its_seed_and_seeds_differ() {
        assert_eq!(SwarmPlan::for_seed(7), SwarmPlan::for_seed(7));
        let plans: Vec<String> = (0..16)
            .map(|s| SwarmPlan::for_seed(s).to_string())
            .collect();
        let distinct: std::collections::BTreeSet<&String> = plans.iter().collect();
        assert!(distinct.len() > 8, "{plans:?}");
    }

    #[test]
    fn faults_strike_at_their_rate() {
        let plan = SwarmPlan {
            drop: 200,
            ..SwarmPlan::default()
        };
        let mut rng = Rng::new(1);
        let hits = (0..10_000)
            .filter(|&n| !plan.faults_for(n, &mut rng).is_empty())
            .count();
        assert!((1_700..2_300).contains(&hits), "{hits}");
    }
}
