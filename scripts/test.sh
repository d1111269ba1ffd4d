#!/usr/bin/env bash
# test.sh: set up a fresh machine and run the whole test suite.
#   unit and integration tests, proptests, golden SPS vectors against LLVM,
#   the C-API test, fuzz-corpus replay, conformance against LLVM 22.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Everything the tests need is in the repository. SHARED (default: `shared`
# next to the repository) is optional: when it holds a conformance corpus,
# tests/conformance.rs runs that too.
# Tests that need LLVM fail, not skip, when it is missing.
export ORC_RT_REQUIRE_LLVM=1
# Snapshots must match exactly: never write .snap.new in a test run.
export INSTA_UPDATE=no
# The conformance test drives the release executor binary.
cargo build --release -p orc-executor
cargo test --workspace --release --all-targets
cargo test --workspace --release --doc
