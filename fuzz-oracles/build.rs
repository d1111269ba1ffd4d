//! Embeds every `scenarios/*.scn` of the repository in the oracles (the
//! `interleavings` target picks one per input), so a fuzz binary does not
//! depend on the directory it runs in: writes `$OUT_DIR/scenarios.rs`, a
//! table of `include_str!`s sorted by file name. Adding or removing a
//! scenario reruns this script; editing one recompiles through
//! `include_str!`.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let dir = manifest.join("../scenarios");
    println!("cargo::rerun-if-changed=../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "scn"))
        .collect();
    files.sort();
    let mut out = String::from(
        "/// Every `scenarios/*.scn` (path as the repository names it, text),\n\
         /// sorted by file name; written by `build.rs`.\n\
         pub(crate) const SCENARIOS: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        let name = f.file_name().expect("a file name").to_string_lossy();
        let abs = f.canonicalize().expect("the scenario exists");
        let _ = writeln!(
            out,
            "    ({:?}, include_str!({:?})),",
            format!("scenarios/{name}"),
            abs.display().to_string()
        );
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("scenarios.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
}
