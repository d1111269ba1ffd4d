//! Where the simulation puts what the controller calls: fake addresses
//! for JIT'd functions and the controller's handler tags, so transcripts
//! hold no real address and every run uses the same ones.

use orc_rt::ExecutorAddr;

use crate::scenario::Scenario;

/// Where simulated JIT'd functions live (a fake base, so transcripts hold
/// no real address).
pub const JIT_BASE: u64 = 0x1000_0000;
/// Where the controller's handler tags live.
pub const TAG_BASE: u64 = 0x2000_0000;
/// Address stride between two functions or tags.
pub const STRIDE: u64 = 0x100;

/// The name of a controller tag (its handler), or the tag in hex.
pub(crate) fn tag_name(sc: &Scenario, tag: u64) -> String {
    if tag >= TAG_BASE
        && (tag - TAG_BASE).is_multiple_of(STRIDE)
        && let Some(h) = sc.handlers.get(((tag - TAG_BASE) / STRIDE) as usize)
    {
        return h.name.clone();
    }
    format!("{tag:#x}")
}

/// The tag address of handler `name`.
pub(crate) fn tag_addr(sc: &Scenario, name: &str) -> ExecutorAddr {
    let i = sc
        .handlers
        .iter()
        .position(|h| h.name == name)
        .expect("validated handler");
    ExecutorAddr::new(TAG_BASE + i as u64 * STRIDE)
}

/// The address of JIT'd function `i`.
pub(crate) fn jit_addr(i: usize) -> ExecutorAddr {
    ExecutorAddr::new(JIT_BASE + i as u64 * STRIDE)
}
