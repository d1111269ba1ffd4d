//! The scheduler's seeded random generator: SplitMix64.
//!
//! Written out here (a dozen lines) rather than taken from a crate, because
//! transcripts are snapshot-checked: the sequence a seed produces must never
//! change under us when a dependency is updated. SplitMix64 passes BigCrush,
//! is seedable from any `u64` (including 0) and costs a few nanoseconds.

/// A deterministic pseudo-random generator seeded with a `u64`.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
    /// Decisions given from outside (a fuzzer's input), taken first by
    /// [`Rng::below`]; then the seed decides.
    choices: std::sync::Arc<[u8]>,
    taken: usize,
}

impl Rng {
    /// A generator whose whole output is decided by `seed`.
    pub fn new(seed: u64) -> Self {
        Self::with_choices(seed, std::sync::Arc::from(Vec::new()))
    }

    /// A generator whose first decisions ([`Rng::below`]) are `choices`,
    /// one byte each (two for more than 256 options; none, and nothing
    /// from the seed either, when there is only one option), then
    /// `seed`'s: a
    /// coverage-guided fuzzer searching the interleavings of a run steers
    /// it through these bytes.
    pub fn with_choices(seed: u64, choices: std::sync::Arc<[u8]>) -> Self {
        Rng {
            state: seed,
            choices,
            taken: 0,
        }
    }

    /// How many bytes of the choices decisions have taken: the same seed
    /// with only these bytes as choices (at least one, if any were given)
    /// makes the same decisions.
    pub fn choices_taken(&self) -> usize {
        self.taken
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), without modulo bias (Lemire's method).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0)");
        // No decision to make: with choices given, nothing is taken, from
        // them or from the seed (so that every byte of a fuzzer's input
        // decides something, and a run replays from the bytes it used
        // alone). Without choices the seed's sequence stays as it was.
        if n == 1 && !self.choices.is_empty() {
            return 0;
        }
        let width = if n > 256 { 2 } else { 1 };
        if let Some(bytes) = self.choices.get(self.taken..self.taken + width) {
            self.taken += width;
            let v = bytes.iter().fold(0u64, |v, b| v << 8 | u64::from(*b));
            return v % n;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// A number in `lo..=hi`.
    pub fn range_inclusive(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below(hi - lo + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_come_first_then_the_seed() {
        let mut r = Rng::with_choices(0, std::sync::Arc::from(vec![7u8, 2, 0x01, 0x2c]));
        assert_eq!(r.below(10), 7);
        assert_eq!(r.below(1), 0, "no byte for a single option");
        assert_eq!(r.below(2), 0);
        assert_eq!(r.below(1000), 300, "two bytes for more than 256 options");
        let mut plain = Rng::new(0);
        assert_eq!(r.below(10), plain.below(10), "then the seed's sequence");
        assert_eq!(r.choices_taken(), 4);
        // Without choices, below(1) still draws from the seed (transcripts
        // depend on it).
        let (mut one, mut plain) = (Rng::new(0), Rng::new(0));
        assert_eq!(one.below(1), 0);
        plain.next_u64();
        assert_eq!(one.next_u64(), plain.next_u64());
    }

    #[test]
    fn the_bytes_taken_replay_the_decisions() {
        let decide = |r: &mut Rng| [r.below(1), r.below(3), r.below(1), r.below(5), r.below(1)];
        let mut full = Rng::with_choices(4, std::sync::Arc::from(vec![2u8, 9, 9, 9]));
        let a = decide(&mut full);
        assert_eq!(full.choices_taken(), 2);
        let mut used = Rng::with_choices(4, std::sync::Arc::from(vec![2u8, 9]));
        assert_eq!(decide(&mut used), a);
        assert_eq!(&a[..4], [0, 2, 0, 4]);
    }

    #[test]
    fn known_sequence_for_seed_zero() {
        // Reference values of SplitMix64 (Vigna's splitmix64.c, seed 0):
        // transcripts depend on them never changing.
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(r.next_u64(), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = Rng::new(42);
        let mut seen = [0u32; 7];
        for _ in 0..7000 {
            let v = r.below(7);
            assert!(v < 7);
            seen[v as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800), "{seen:?}");
        assert_eq!(r.range_inclusive(3, 3), 3);
    }

    #[test]
    fn same_seed_same_sequence() {
        let a: Vec<u64> = std::iter::repeat_with({
            let mut r = Rng::new(9);
            move || r.next_u64()
        })
        .take(16)
        .collect();
        let mut r = Rng::new(9);
        assert!(a.iter().all(|&x| x == r.next_u64()));
    }
}
