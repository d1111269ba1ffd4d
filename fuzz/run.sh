#!/usr/bin/env bash
# fuzz/run.sh SECONDS [TARGET...]
#
# Runs every fuzz target (or the ones named) for SECONDS seconds each, one
# after another (one libFuzzer process: the machine has 2 cores and the
# session targets start threads of their own), under AddressSanitizer with
# debug assertions, then prints one table row per target: executions,
# exec/s, coverage (cov: edges, ft: features, from libFuzzer's last status
# line), corpus size, peak RSS, and the result.
#
# Inputs: fuzz/corpus/<target> (libFuzzer's working corpus, not checked in;
# new inputs land there), fuzz/seeds/<target> and fuzz/regressions/<target>
# (read only). A crash, leak, timeout or out-of-memory leaves its input in
# fuzz/artifacts/<target>/; the script names it and exits 1 after the other
# targets ran. Logs: fuzz/logs/<target>.log.
#
# Environment: CARGO_TARGET_DIR (default target/fuzz: the sanitizer flags
# need their own), FUZZ_TOOLCHAIN (default +nightly; "" with
# RUSTC_BOOTSTRAP=1 works on stable), FUZZ_ARGS (extra libFuzzer flags),
# FUZZ_PROJECT (default the repository root: the folder, relative to the
# root, whose fuzz/ to run, e.g. examples/kv-service; the paths above are
# then under it).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cd "${FUZZ_PROJECT:-.}"

secs=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(ls fuzz/fuzz_targets | sed -n 's/\.rs$//p' | sort)
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target/fuzz}
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2}
toolchain=${FUZZ_TOOLCHAIN-+nightly}
mkdir -p fuzz/logs

# Build everything first so the timed runs measure fuzzing, not compiling.
# shellcheck disable=SC2086
cargo $toolchain fuzz build --debug-assertions >fuzz/logs/build.log 2>&1 || {
  tail -30 fuzz/logs/build.log
  echo "fuzz/run.sh: build failed (fuzz/logs/build.log)" >&2
  exit 2
}

# Per input: a hang is a finding after 60 s (the oracles' own bounded waits
# fire after 20 s); no single allocation may exceed 512 MiB (decoders must
# not trust length fields); the whole process stays under 4 GiB.
flags=(-max_total_time="$secs" -timeout=60 -malloc_limit_mb=512 -rss_limit_mb=4096
       -print_final_stats=1)
# shellcheck disable=SC2206
extra=(${FUZZ_ARGS:-})

rows=()
failed=0
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  dirs=("fuzz/corpus/$t")
  for d in "fuzz/seeds/$t" "fuzz/regressions/$t"; do
    [ -d "$d" ] && dirs+=("$d")
  done
  log="fuzz/logs/$t.log"
  echo "fuzz/run.sh: $t for ${secs}s ..." >&2
  status=0
  # shellcheck disable=SC2086
  cargo $toolchain fuzz run --debug-assertions "$t" "${dirs[@]}" -- \
    "${flags[@]}" "${extra[@]}" >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)
  cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.*ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.*corp: ([0-9]+)\/.*/\1/p' <<<"$last")
  if [ -z "$execs" ]; then execs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last"); fi
  artifact=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$log" | tail -1)
  if [ "$status" -eq 0 ]; then
    result=ok
  else
    failed=1
    kind=$(grep -oE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [a-z-]+' "$log" | head -1 || true)
    panic=$(grep -m1 -E "panicked at" "$log" || true)
    result="FAILED (exit $status) ${kind:-} ${artifact:+artifact: $artifact}"
    {
      echo "fuzz/run.sh: $t failed; log: $log"
      [ -n "$panic" ] && echo "  $panic"
      [ -n "$artifact" ] && echo "  reproduce (in $PWD): cargo $toolchain fuzz run --debug-assertions $t $artifact"
    } >&2
  fi
  rows+=("$(printf '| %-15s | %12s | %8s | %6s | %7s | %6s | %7s | %s |' \
    "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${rss:-?}" "$result")")
done

echo
echo "fuzz/run.sh: ${FUZZ_PROJECT:+$FUZZ_PROJECT: }${secs}s per target, ASan + debug assertions ($(date -u +%Y-%m-%dT%H:%MZ))"
printf '| %-15s | %12s | %8s | %6s | %7s | %6s | %7s | %s |\n' \
  target execs exec/s cov ft corpus rss_mb result
printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' -----------------  -------------- ---------- -------- --------- -------- --------- --------
printf '%s\n' "${rows[@]}"
exit "$failed"
