#!/usr/bin/env bash
# compare-epc.sh: orc-executor against LLVM 22's llvm-jitlink-executor, driven
# by LLVM 22's own controller library (shared/bench/epc-bench), same machine,
# same run (issue 6, Performance).
#
#   bash benches/compare-epc.sh
#
# Builds shared/bench/epc-bench and shared/bench/limits and the release
# orc-executor, then runs epc-bench against both executors alternately over
# SESSIONS sessions (LLVM ours LLVM ours ...; the session metrics in an
# epc-bench process of their own, see below) and takes, per metric and
# executor, the median over the sessions (each session's figure is already
# epc-bench's median over its repetitions). It also times the conformance
# corpus (run_corpus.sh --time: the shared cases and ours) with both
# executors, alternately, CORPUS_SESSIONS times, comparing the run time
# (build time is the same for both). Prints the pipe floor that limits
# measures, one line per metric:
#   metric  llvm=X unit  ours=Y unit  ratio=R  (target >= T: met|NOT MET)
# where the ratio is oriented so that bigger is better for us (LLVM's time /
# ours for times, ours / LLVM's for rates), and ends with
#   worst ratio R (metric)
#
# Environment: SHARED (the shared folder; default: `shared` next to the
# repository, else /work/shared), SESSIONS (5), CORPUS_SESSIONS (2; 0 skips
# the corpus), EPC_BENCH_FLAGS (extra epc-bench flags, e.g. "--iters 2000
# --reps 3" for a quick look), LIMITS_FLAGS (default "--iters 5000 --reps 3"),
# LLVM_EXECUTOR (default /usr/lib/llvm-22/bin/llvm-jitlink-executor,
# installed with scripts/setup.sh when missing),
# CARGO_TARGET_DIR.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${SHARED:-}" ]; then
  SHARED=$(dirname "$REPO")/shared
  [ -d "$SHARED/bench" ] || SHARED=/work/shared
fi
SESSIONS=${SESSIONS:-5}
CORPUS_SESSIONS=${CORPUS_SESSIONS:-2}
EPC_BENCH_FLAGS=${EPC_BENCH_FLAGS:-}
LIMITS_FLAGS=${LIMITS_FLAGS:---iters 5000 --reps 3}
LLVM_EXECUTOR=${LLVM_EXECUTOR:-/usr/lib/llvm-22/bin/llvm-jitlink-executor}
TARGET=${CARGO_TARGET_DIR:-$REPO/target}

for f in "$SHARED/bench/epc-bench/build.sh" "$SHARED/bench/limits/build.sh"; do
  if [ ! -f "$f" ]; then
    echo "compare-epc: $f not found (set SHARED to the shared folder)" >&2
    exit 2
  fi
done
if [ ! -x "$LLVM_EXECUTOR" ] && [ "$LLVM_EXECUTOR" = /usr/lib/llvm-22/bin/llvm-jitlink-executor ]; then
  # A fresh machine: install LLVM 22 (and llvm-config for the benches).
  bash "$REPO/scripts/setup.sh" >&2
fi
if [ ! -x "$LLVM_EXECUTOR" ]; then
  echo "compare-epc: LLVM's executor not found: $LLVM_EXECUTOR (set LLVM_EXECUTOR)" >&2
  exit 2
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "# building epc-bench, limits and the release orc-executor" >&2
sh "$SHARED/bench/epc-bench/build.sh" "$TARGET/epc-bench" >&2
sh "$SHARED/bench/limits/build.sh" "$TARGET/limits-bench" >&2
(cd "$REPO" && CARGO_TARGET_DIR="$TARGET" cargo build -q --release -p orc-executor) >&2
OURS="$TARGET/release/orc-executor"
BENCH="$TARGET/epc-bench/epc-bench"

echo "# machine: $(uname -srm), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)" 
echo "# limits $LIMITS_FLAGS" >&2
# shellcheck disable=SC2086
"$TARGET/limits-bench/limits" $LIMITS_FLAGS >"$WORK/limits"

# The session metrics (f) run in an epc-bench process of their own, before
# the others: fork's cost grows with the controller's address space, and after
# the 64 MiB bulk writes epc-bench's is large, whereas llvm-jitlink starts its
# executor first thing. Same treatment for both executors.
SESSION_METRICS=session_setup,session_teardown,session_total
CALL_METRICS=rtt_write_u64,pipelined_write_u64,bulk_write,bulk_write_pipelined,memmgr_cycle,dylib_lookup
for s in $(seq 1 "$SESSIONS"); do
  echo "# session $s/$SESSIONS: llvm, ours" >&2
  for metrics in "$SESSION_METRICS" "$CALL_METRICS"; do
    for side in llvm ours; do
      exe=$LLVM_EXECUTOR
      [ "$side" = ours ] && exe=$OURS
      # shellcheck disable=SC2086
      "$BENCH" --executor "$exe" --only "$metrics" $EPC_BENCH_FLAGS >>"$WORK/$side.$s"
    done
  done
done

CORPORA=()
[ -d "$SHARED/conformance/cases" ] && CORPORA+=("$SHARED/conformance/cases")
[ -d "$REPO/tests/conformance/cases" ] && CORPORA+=("$REPO/tests/conformance/cases")
if [ "$CORPUS_SESSIONS" -gt 0 ] && [ ${#CORPORA[@]} -gt 0 ]; then
  for s in $(seq 1 "$CORPUS_SESSIONS"); do
    for side in llvm ours; do
      exe=$LLVM_EXECUTOR
      [ "$side" = ours ] && exe=$OURS
      echo "# corpus session $s/$CORPUS_SESSIONS: $side" >&2
      for c in "${CORPORA[@]}"; do
        bash "$SHARED/conformance/run_corpus.sh" --time "$exe" "$c" >>"$WORK/corpus.$side.$s" || {
          echo "compare-epc: the corpus $c failed with $side's executor" >&2
          grep -v '^PASS' "$WORK/corpus.$side.$s" >&2
        }
      done
    done
  done
fi

python3 - "$WORK" "$SESSIONS" "$CORPUS_SESSIONS" <<'PY'
import statistics
import sys

work, sessions, corpus_sessions = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

# metric -> (kind, target ratio, what): "time" is lower-is-better (ratio =
# LLVM / ours), "rate" higher-is-better (ratio = ours / LLVM). Targets from
# issue 6; None = reported, not a target.
METRICS = [
    ("rtt_write_u64", "time", 2.0, "sequential call latency <= 0.5x LLVM"),
    ("pipelined_write_u64", "rate", 3.0, "pipelined calls/s >= 3x"),
    ("bulk_write", "rate", 1.2, "bulk write >= 1.2x"),
    ("bulk_write_pipelined", "rate", None, "bulk write, 4 in flight"),
    ("memmgr_cycle", "rate", 1.5, "memory-manager cycles >= 1.5x"),
    ("dylib_lookup", "rate", 2.0, "symbol lookups >= 2x"),
    ("session_setup", "time", None, "setup alone"),
    ("session_teardown", "time", None, "teardown alone"),
    ("session_total", "time", 2.0, "setup + teardown <= 0.5x"),
]


def load(path):
    values = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if line.startswith("#") or len(parts) < 2:
                continue
            if parts[1].startswith("unsupported"):
                values[parts[0]] = (None, line.strip())
                continue
            if len(parts) == 3:
                values[parts[0]] = (float(parts[1]), parts[2])
    return values


def medians(side):
    runs = [load(f"{work}/{side}.{s}") for s in range(1, sessions + 1)]
    out = {}
    for name, *_ in METRICS:
        vals = [r[name][0] for r in runs if name in r and r[name][0] is not None]
        units = [r[name][1] for r in runs if name in r and r[name][0] is not None]
        out[name] = (statistics.median(vals), units[0], vals) if vals else None
    return out


def fmt(v):
    return f"{v:.3f}" if v < 100 else f"{v:.0f}"


llvm, ours = medians("llvm"), medians("ours")

limits = load(f"{work}/limits")
floor = limits.get("pipe_rtt_handoff", (None,))[0]
print("# floor (shared/bench/limits, this run): "
      + ", ".join(f"{k} {fmt(v[0])} {v[1]}" for k, v in limits.items() if v[0] is not None))
if floor:
    print(f"# pipe round-trip floor with LLVM's controller (pipe_rtt_handoff): {fmt(floor)} ns;"
          f" the latency target (0.5x LLVM) is reachable only if LLVM's latency is >= 2x the floor")
print(f"# {sessions} sessions per executor, alternating; each figure is the median over sessions")

ratios = {}
for name, kind, target, what in METRICS:
    l, o = llvm[name], ours[name]
    if l is None or o is None:
        print(f"{name:22s} llvm={l and fmt(l[0])} ours={o and fmt(o[0])}  unsupported ({what})")
        if target is not None:
            ratios[name] = 0.0
        continue
    r = l[0] / o[0] if kind == "time" else o[0] / l[0]
    spread = (f"  [ours {fmt(min(o[2]))}..{fmt(max(o[2]))},"
              f" llvm {fmt(min(l[2]))}..{fmt(max(l[2]))}]")
    if target is None:
        verdict = f"(info: {what})"
    else:
        ratios[name] = r
        verdict = f"(target >= {target:.1f}: {'met' if r >= target else 'NOT MET'}; {what})"
    extra = ""
    if name == "rtt_write_u64" and floor:
        extra = f"  floor {fmt(floor)} ns: ours = {o[0] / floor:.2f}x floor, llvm = {l[0] / floor:.2f}x floor"
    print(f"{name:22s} llvm={fmt(l[0])} {l[1]}  ours={fmt(o[0])} {o[1]}  ratio={r:.2f}  {verdict}{spread}{extra}")

if corpus_sessions > 0:
    def corpus_runs(side):
        runs = []
        for s in range(1, corpus_sessions + 1):
            total, failed = 0, 0
            try:
                with open(f"{work}/corpus.{side}.{s}") as f:
                    for line in f:
                        if line.startswith("total:"):
                            total += int(line.split("run ")[1].split(" ms")[0])
                        elif line.startswith("FAIL"):
                            failed += 1
            except FileNotFoundError:
                return None
            runs.append((total, failed))
        return runs

    lr, orr = corpus_runs("llvm"), corpus_runs("ours")
    if lr and orr:
        lm = statistics.median(t for t, _ in lr)
        om = statistics.median(t for t, _ in orr)
        failed = sum(f for _, f in orr)
        r = lm / om
        ratios["corpus_run"] = r if failed == 0 else 0.0
        print(f"{'corpus_run':22s} llvm={lm:.0f} ms  ours={om:.0f} ms  ratio={r:.2f}  "
              f"(target >= 1.0: {'met' if r >= 1.0 and failed == 0 else 'NOT MET'}; run time of every "
              f"corpus case, run_corpus.sh --time; ours failed {failed})"
              f"  [ours {[t for t, _ in orr]}, llvm {[t for t, _ in lr]}]")

worst = min(ratios, key=ratios.get)
print(f"worst ratio {ratios[worst]:.2f} ({worst})")
PY
