#!/usr/bin/env bash
# replay.sh: replay every scenario under many seeds (release build).
#   SEEDS=100 (default) seeds per scenario; extra arguments go to `orc-sim replay`,
#   e.g. `bash scripts/replay.sh --filter keepalive --verify-determinism`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p orc-sim
"${CARGO_TARGET_DIR:-target}/release/orc-sim" replay scenarios/ --seeds "${SEEDS:-100}" "$@"
