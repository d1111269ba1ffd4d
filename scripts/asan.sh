#!/usr/bin/env bash
# scripts/asan.sh [asan|valgrind|all]   (default: all)
#
# 1. asan: the workspace's tests under AddressSanitizer (LeakSanitizer on):
#    unit tests, integration tests and the test-mode run of every binary,
#    including the orc-executor process tests (fault injection, hand-made
#    frames, the LLVM 22 conformance corpus), which run an ASan build of
#    orc-executor (ORC_EXECUTOR points them at it). Also the fuzz-corpus
#    replay, so every seed and regression runs under ASan.
#    The conformance corpora (ours, and the shared one when present) run
#    the ASan executor with ASan's checks on but its exit-time leak scan off
#    (and in their own pass): the heap at exit belongs to the JIT'd program,
#    which may leak by design, and after a heap-heavy program (seen with
#    the shared corpus's 23_malloc_stress) the scan delays the executor's
#    exit, and so the flush of the program's stdout, past the moment
#    run_corpus.sh compares it (llvm-jitlink does not wait for its
#    executor). The executor's own leaks are checked by the process tests
#    (tests/executor_faults.rs) in the first pass, with the scan on.
#    Not run under ASan, and why:
#      - doctests: rustdoc does not take RUSTFLAGS, so they would link
#        uninstrumented code against the instrumented crate (they run in
#        scripts/test.sh);
#      - benches: criterion measurements, not tests;
#      - loom models: they need --cfg orc_rt_loom (.ci/run runs them);
#      - the C programs of the C-API tests are built without ASan on
#        purpose (they link the library with plain cc); they run under
#        valgrind in runtime/tests/c_api.rs instead.
# 2. valgrind: the unit tests of the modules with unsafe code (wrapper, ffi,
#    sys, call, session::abi, the fuzz oracles' harmless functions) and the
#    services built on them, and the fuzz-corpus replay (whole sessions over
#    the wire), on an ordinary debug build: no invalid read or
#    write, no use of uninitialised memory, nothing definitely lost
#    (scripts/valgrind.supp: one leak inside glibc's loader, reproduced in C).
#
# Own target directories (the sanitizer flags rebuild everything):
# ASAN_TARGET_DIR (default target/asan) and VALGRIND_TARGET_DIR (default
# target/valgrind). Exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
triple=x86_64-unknown-linux-gnu
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2}
# Tests that need LLVM fail instead of skipping when it is missing.
export ORC_RT_REQUIRE_LLVM=${ORC_RT_REQUIRE_LLVM:-1}
export INSTA_UPDATE=no
# SHARED (default: `shared` next to the repository) is optional: when it holds
# a conformance corpus, tests/conformance.rs runs that too.

run_asan() {
  # Absolute: tests hand the executor's path to llvm-jitlink and gdb, which
  # run it from other folders.
  local dir
  dir=$(realpath -m "${ASAN_TARGET_DIR:-$PWD/target/asan}")
  # --target: without it RUSTFLAGS would also instrument proc macros and
  # build scripts, which then fail to load.
  local flags=(--target "$triple" --workspace)
  export RUSTFLAGS="-Zsanitizer=address -Cdebug-assertions=on"
  export CARGO_TARGET_DIR=$dir
  # Leaks fail a test process; a report names its stack. Symbolized.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}
  echo "asan.sh: building orc-executor with ASan" >&2
  cargo +nightly build -p orc-executor --target "$triple"
  export ORC_EXECUTOR=$dir/$triple/debug/orc-executor
  echo "asan.sh: tests under ASan (executor: $ORC_EXECUTOR)" >&2
  # The load tests' RSS ceilings allow for ASan's quarantine and redzones.
  export ORC_RT_UNDER_ASAN=1
  cargo +nightly test "${flags[@]}" --no-fail-fast --lib --bins --tests -- \
    --test-threads=2 --skip every_case_of_ours_passes_with_orc_executor \
    --skip every_shared_case_passes_with_orc_executor
  local wrapper=$dir/orc-executor-no-exit-leak-scan
  printf '#!/bin/sh\nASAN_OPTIONS=%s exec %s "$@"\n' \
    "$ASAN_OPTIONS:detect_leaks=0" "$ORC_EXECUTOR" >"$wrapper"
  chmod +x "$wrapper"
  echo "asan.sh: conformance corpora (ours, and the shared one if present) with the ASan executor" >&2
  ORC_EXECUTOR=$wrapper cargo +nightly test "${flags[@]}" --test conformance
  unset RUSTFLAGS CARGO_TARGET_DIR ORC_EXECUTOR ORC_RT_UNDER_ASAN
  echo "asan.sh: ASan clean" >&2
}

run_valgrind() {
  command -v valgrind >/dev/null || { echo "asan.sh: valgrind not installed" >&2; exit 2; }
  local dir
  dir=$(realpath -m "${VALGRIND_TARGET_DIR:-$PWD/target/valgrind}")
  # The unit tests of the modules with unsafe code, crate by crate:
  # package, then substring filters on test paths (--exact off).
  # Skipped: huge_reservations_fail_cleanly expects the kernel's ENOMEM for
  # a 2^62-byte mmap; valgrind's mmap answers EINVAL.
  local pkg filters bin
  for spec in "orc-rt:wrapper:: ffi:: session::abi" \
              "orc-executor:sys:: call:: services::" \
              "orc-rt-fuzz-oracles:harmless::"; do
    pkg=${spec%%:*}
    filters=${spec#*:}
    bin=$(CARGO_TARGET_DIR=$dir cargo test -p "$pkg" --lib --no-run \
            --message-format=json 2>/dev/null |
          sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
    [ -x "$bin" ] || { echo "asan.sh: no unit-test binary for $pkg" >&2; exit 2; }
    echo "asan.sh: valgrind $bin" >&2
    # shellcheck disable=SC2086 # the filters are separate words
    valgrind -q --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite \
      --show-leak-kinds=definite --track-origins=yes --num-callers=40 \
      --suppressions=scripts/valgrind.supp \
      "$bin" --test-threads=1 -q --skip huge_reservations_fail_cleanly $filters
  done
  # The fuzz-corpus replay: every seed and regression of every target,
  # including live wire sessions with all executor services.
  local corpus
  corpus=$(CARGO_TARGET_DIR=$dir cargo test --test fuzz_corpus --no-run \
             --message-format=json 2>/dev/null |
           sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
  [ -x "$corpus" ] || { echo "asan.sh: no fuzz_corpus binary" >&2; exit 2; }
  echo "asan.sh: valgrind $corpus" >&2
  valgrind -q --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite --num-callers=40 --suppressions=scripts/valgrind.supp \
    "$corpus" --test-threads=1 -q
  echo "asan.sh: valgrind clean" >&2
}

case $what in
  asan) run_asan ;;
  valgrind) run_valgrind ;;
  all) run_asan; run_valgrind ;;
  *) echo "usage: scripts/asan.sh [asan|valgrind|all]" >&2; exit 2 ;;
esac
