#!/usr/bin/env bash
# test.sh: set up a fresh machine and run the whole test suite.
#   unit and integration tests, proptests, golden SPS vectors against LLVM,
#   the C-API test, fuzz-corpus replay, conformance against LLVM 22.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The shared folder (LLVM's bench tools, the conformance corpus): SHARED if
# set, else `shared` next to the repository, else the workplace's copy.
if [ -z "${SHARED:-}" ]; then
  for candidate in "$(cd .. && pwd)/shared" /work/shared; do
    if [ -d "$candidate/conformance" ]; then export SHARED=$candidate; break; fi
  done
fi
# Tests that need LLVM fail, not skip, when it is missing.
export ORC_RT_REQUIRE_LLVM=1
# Snapshots must match exactly: never write .snap.new in a test run.
export INSTA_UPDATE=no
# The conformance test drives the release executor binary.
cargo build --release -p orc-executor
cargo test --workspace --release --all-targets
cargo test --workspace --release --doc
