//! `orc-sim`: a simulated ORC controller that drives a real
//! [`orc_rt::Session`] through scenario scripts, under a deterministic
//! scheduler, with fault injection.
//!
//! - [`scenario`]: the `.scn` format (documented in `scenarios/README.md`)
//!   and its parser, whose errors name the file, line and column.
//! - [`run`]: one run of a scenario under a seed: the same seed gives the
//!   same transcript, byte for byte.
//! - [`replay`]: one scenario file under its own seed, as
//!   `tests/scenarios.rs` snapshots it.
//! - [`runner`]: `orc-sim replay` as a library: many scenarios × seeds in
//!   parallel, shards, explorations, swarm runs, probes, the journal, and
//!   the [`Summary`](runner::Summary).
//! - [`render`]: a run as a Mermaid sequence diagram or a Chrome/Perfetto
//!   trace; [`report`]: a replay as one HTML page (`orc-sim report`).
//! - [`differential`]: protocol-level scenarios (marked `wire`) played over
//!   LLVM 22's wire protocol against an executor process (ours or LLVM's),
//!   for differential testing (`orc-sim differential`).
//! - [`lifecycle`]: the session's lifecycle rules as one checker, used by
//!   every run and by the `session_ops` fuzz oracle, and open to your own
//!   harness.
//!
//! ```
//! let script = r#"
//! ## rule: spec 8.7 shutdown waits for JIT'd code in the execution scope
//! manager mem
//! jit busy: enter, work 5, leave
//! ---
//! spawn t busy
//! await "jit t: enter: ok"
//! shutdown
//! expect order "jit t: leave" < "rm mem: shutdown"
//! "#;
//! let outcome = orc_sim::replay_str("example.scn", script).unwrap();
//! assert!(outcome.passed(), "{}", outcome.render());
//! ```

pub mod differential;
pub mod harness;
pub mod lifecycle;
pub mod render;
pub mod report;
pub mod rng;
pub mod runner;
pub mod scenario;
pub mod services;
pub mod shrink;
mod sim;
pub mod simulation;
pub mod transcript;

pub use scenario::{ParseError, Scenario, parse};

#[doc(hidden)]
pub use insta as __insta;
pub use sim::{JIT_BASE, RunConfig, RunOutcome, STRIDE, SwarmPlan, TAG_BASE, run};

/// Parses `text` (named `file` in errors) and runs it under its own seed.
pub fn replay_str(file: &str, text: &str) -> Result<RunOutcome, ParseError> {
    let sc = parse(file, text)?;
    let cfg = RunConfig::new(sc.seed);
    Ok(run(&sc, &cfg))
}

/// Replays the scenario file at `path` under its own seed and returns the
/// text its snapshot holds: the transcript and the outcome, or the parse
/// error.
pub fn replay(path: &std::path::Path) -> String {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => match replay_str(&name, &text) {
            Ok(outcome) => outcome.render(),
            Err(e) => format!("{e}\n"),
        },
        Err(e) => format!("{name}: error: {e}\n"),
    }
}
