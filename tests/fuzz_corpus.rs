//! Replays every checked-in fuzz input (`fuzz/seeds/<target>/` and
//! `fuzz/regressions/<target>/`) through the oracles the fuzz targets run
//! (`orc_rt_fuzz_oracles`), so a past finding cannot come back unnoticed and the
//! seeds keep exercising the decoders under plain `cargo test`.

use std::path::{Path, PathBuf};

/// An oracle, taking the raw input bytes exactly as its fuzz target does.
type Oracle = fn(&[u8]);

/// Each fuzz target's name and oracle.
const TARGETS: &[(&str, Oracle)] = &[
    ("sps_decode", orc_rt_fuzz_oracles::sps_decode),
    ("wrapper_buffer", orc_rt_fuzz_oracles::wrapper_buffer_bytes),
    ("wire_message", orc_rt_fuzz_oracles::wire_message_bytes),
    ("session_ops", orc_rt_fuzz_oracles::session_ops_bytes),
    ("interleavings", orc_rt_fuzz_oracles::interleavings),
];

/// Input files in `dir` (documentation files such as README.md and
/// .gitkeep are not inputs), sorted for a stable order.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            !name.starts_with('.') && !name.ends_with(".md")
        })
        .collect();
    files.sort();
    files
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Runs every input in `dir`; returns how many there were.
fn replay(target: &str, oracle: Oracle, dir: &Path) -> usize {
    let files = inputs(dir);
    for file in &files {
        let data = std::fs::read(file).unwrap();
        // The oracle panics on a bug; name the file so it can be reproduced.
        let result = std::panic::catch_unwind(|| oracle(&data));
        assert!(
            result.is_ok(),
            "{target}: {} fails; reproduce with `cargo +nightly fuzz run {target} {}`",
            file.display(),
            file.display()
        );
    }
    files.len()
}

#[test]
fn seeds_replay_cleanly() {
    for &(target, oracle) in TARGETS {
        let n = replay(target, oracle, &fuzz_dir().join("seeds").join(target));
        // An empty or misplaced directory would make this test vacuous.
        assert!(n >= 3, "{target}: only {n} seed inputs");
    }
}

#[test]
fn regressions_replay_cleanly() {
    for &(target, oracle) in TARGETS {
        let dir = fuzz_dir().join("regressions").join(target);
        // The directory exists (with its README) even before any finding.
        assert!(
            dir.join("README.md").is_file(),
            "{} has no README.md",
            dir.display()
        );
        replay(target, oracle, &dir);
    }
}

/// Every fuzz target is replayed here: a target added to
/// `fuzz/fuzz_targets/` without an entry in `TARGETS` fails this test.
#[test]
fn every_fuzz_target_is_replayed() {
    let mut targets: Vec<String> = std::fs::read_dir(fuzz_dir().join("fuzz_targets"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
        .collect();
    targets.sort();
    let mut known: Vec<String> = TARGETS.iter().map(|(t, _)| (*t).to_owned()).collect();
    known.sort();
    assert_eq!(targets, known);
}

/// The `wrapper_buffer` seeds stand for real operation sequences: if the
/// `arbitrary` byte format changed, they would decode to nothing useful
/// (regenerate them with `python3 fuzz/make_seeds.py`).
#[test]
fn wrapper_buffer_seeds_decode_to_operations() {
    let dir = fuzz_dir().join("seeds/wrapper_buffer");
    for file in inputs(&dir) {
        let data = std::fs::read(&file).unwrap();
        let ops = orc_rt_fuzz_oracles::wrapper_buffer_ops(&data).unwrap_or_default();
        assert!(ops.len() >= 4, "{}: {ops:?}", file.display());
    }
}

/// Writes (with `ORC_RT_WRITE_SEEDS=1`) or checks the seeds (and the
/// regressions kept as values) of the structured targets: each must decode,
/// exactly as libFuzzer hands it to the target, back to the input it was
/// written from, and the checked-in file must hold those bytes.
fn check_structured_seeds<T: PartialEq + std::fmt::Debug>(
    target: &str,
    kind: &str,
    seeds: Vec<(&'static str, T)>,
    encode: impl Fn(&T) -> Vec<u8>,
    decode: impl Fn(&[u8]) -> Option<T>,
) {
    let dir = fuzz_dir().join(kind).join(target);
    let write = std::env::var_os("ORC_RT_WRITE_SEEDS").is_some();
    for (name, input) in &seeds {
        let bytes = encode(input);
        assert_eq!(
            decode(&bytes).as_ref(),
            Some(input),
            "{target}/{name}: the bytes do not decode back to the seed"
        );
        let path = dir.join(format!("{name}.bin"));
        if write {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        } else {
            let on_disk = std::fs::read(&path).unwrap_or_else(|e| {
                panic!("{}: {e} (ORC_RT_WRITE_SEEDS=1 writes it)", path.display())
            });
            assert!(
                on_disk == bytes,
                "{} is stale (ORC_RT_WRITE_SEEDS=1 rewrites it)",
                path.display()
            );
        }
    }
}

#[test]
fn structured_seeds_decode_to_their_inputs() {
    use orc_rt_fuzz_oracles::seeds::{self, ToArbitraryBytes};
    let (wire, session_ops) = (seeds::wire_message_seeds(), seeds::session_ops_seeds());
    assert!(wire.len() >= 3 && session_ops.len() >= 3, "too few seeds");
    check_structured_seeds(
        "wire_message",
        "seeds",
        wire,
        |i| i.to_arbitrary_bytes(),
        orc_rt_fuzz_oracles::wire_message_input,
    );
    check_structured_seeds(
        "wire_message",
        "regressions",
        seeds::wire_message_regressions(),
        |i| i.to_arbitrary_bytes(),
        orc_rt_fuzz_oracles::wire_message_input,
    );
    check_structured_seeds(
        "session_ops",
        "seeds",
        session_ops,
        |i| i.to_arbitrary_bytes(),
        orc_rt_fuzz_oracles::session_ops_input,
    );
}

#[test]
fn interleavings_seeds_name_their_scenarios() {
    use orc_rt_fuzz_oracles::{InterleavingsInput, seeds};
    let encode = |i: &InterleavingsInput| {
        i.to_bytes()
            .unwrap_or_else(|| panic!("{}: no such scenario embedded", i.scenario))
    };
    let decode = |b: &[u8]| Some(InterleavingsInput::from_bytes(b));
    check_structured_seeds(
        "interleavings",
        "seeds",
        seeds::interleavings_seeds(),
        encode,
        decode,
    );
    check_structured_seeds(
        "interleavings",
        "regressions",
        seeds::interleavings_regressions(),
        encode,
        decode,
    );
}

/// Every scenario of the repository is embedded in the `interleavings`
/// target, and its own key selects it (two scenarios whose names hash alike
/// would hide one of them).
#[test]
fn interleavings_reaches_every_scenario() {
    use orc_rt_fuzz_oracles::{InterleavingsInput, interleavings_scenarios, scenario_key};
    let mut on_disk: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".scn"))
            .map(|n| format!("scenarios/{n}"))
            .collect();
    on_disk.sort();
    let embedded = interleavings_scenarios();
    assert_eq!(embedded, on_disk, "the build script embeds scenarios/*.scn");
    for path in embedded {
        let key = scenario_key(path).to_le_bytes();
        assert_eq!(InterleavingsInput::from_bytes(&key).scenario, path);
    }
    // Any bytes pick some scenario: the input is never rejected.
    let short = InterleavingsInput::from_bytes(&[]);
    assert!(short.choices.is_empty() && short.seed == 0 && !short.swarm);
}
