#!/usr/bin/env bash
# compare-epc.sh: orc-executor against LLVM 22's llvm-jitlink-executor, driven
# by LLVM 22's own controller library (benches/llvm/epc_bench.cpp), same
# machine, same run (issue 6, Performance).
#
#   bash benches/compare-epc.sh
#
# Builds epc-bench, limits (with ideal-executor) and the release orc-executor, then runs epc-bench
# against both executors alternately over SESSIONS sessions (LLVM ours LLVM
# ours ...; the session metrics in an epc-bench process of their own, see
# below) and takes, per metric and executor, the median over the sessions
# (each session's figure is already epc-bench's median over its
# repetitions). Then, alternating the executors the same way: a whole
# clang-repl run of a two-line program with each (CLANG_REPL_RUNS times),
# and the conformance corpus (tests/conformance/run_corpus.sh --time: our
# cases, plus the shared cases when present) CORPUS_SESSIONS times,
# comparing run times (build time is the same for both). Metrics benches/README.md
# defines; one line each:
#   metric  llvm=X unit  ours=Y unit  ratio=R  (target >= T: met|NOT MET; what)
# where the ratio is oriented so that bigger is better for us (LLVM's time /
# ours for times, ours / LLVM's for rates); then our figures against the
# machine's floor (benches/limits, run once per session right after that
# session's executors, so that each ratio pairs figures taken under the same
# load):
#   metric  ours=X unit  floor=Y unit  ratio=R  (target <= T: met|NOT MET; what)
# with ratio = the median over sessions of that session's ours / floor (X
# and Y are the medians of the figures); the session metrics are also run
# with benches/limits' ideal executor (it replays our Setup message and
# nothing else), to show what an executor adds to a session and how low any
# executor can go. At the end, over the LLVM
# ratios with a target,
#   worst ratio R (metric)
# The clang-repl ratio is likewise the median of each alternated pair's
# LLVM time / ours.
#
# Environment: SESSIONS (5), CLANG_REPL_RUNS (20; 0 skips), CORPUS_SESSIONS
# (2; 0 skips the corpus), EPC_BENCH_FLAGS (extra epc-bench flags, e.g.
# "--iters 2000 --reps 3" for a quick look), LIMITS_FLAGS (default "--iters
# 5000 --reps 3"), LLVM_EXECUTOR (default
# /usr/lib/llvm-22/bin/llvm-jitlink-executor, installed with scripts/setup.sh
# when missing), SHARED (a folder whose conformance/cases are timed too;
# default `shared` next to the repository, if it is there), CARGO_TARGET_DIR.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
SESSIONS=${SESSIONS:-5}
CLANG_REPL_RUNS=${CLANG_REPL_RUNS:-20}
CORPUS_SESSIONS=${CORPUS_SESSIONS:-2}
EPC_BENCH_FLAGS=${EPC_BENCH_FLAGS:-}
LIMITS_FLAGS=${LIMITS_FLAGS:---iters 5000 --reps 3}
LLVM_EXECUTOR=${LLVM_EXECUTOR:-/usr/lib/llvm-22/bin/llvm-jitlink-executor}
SHARED=${SHARED:-$(dirname "$REPO")/shared}
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
CLANG_REPL=/usr/lib/llvm-22/bin/clang-repl
ORC_RT=/usr/lib/llvm-22/lib/clang/22/lib/linux/liborc_rt-x86_64.a

if [ ! -x "$LLVM_EXECUTOR" ] || [ ! -x "$CLANG_REPL" ] ||
  [ ! -x /usr/lib/llvm-22/bin/llvm-config ]; then
  # A fresh machine: LLVM 22, its development files and clang-repl.
  bash "$REPO/scripts/setup.sh" >&2
fi
if [ ! -x "$LLVM_EXECUTOR" ]; then
  echo "compare-epc: LLVM's executor not found: $LLVM_EXECUTOR (set LLVM_EXECUTOR)" >&2
  exit 2
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "# building epc-bench, limits and the release orc-executor" >&2
TOOLS=$TARGET/bench-tools
bash "$REPO/benches/llvm/build.sh" "$TOOLS" epc-bench
bash "$REPO/benches/limits/build.sh" "$TOOLS"
(cd "$REPO" && CARGO_TARGET_DIR="$TARGET" cargo build -q --release -p orc-executor) >&2
OURS="$TARGET/release/orc-executor"

echo "# machine: $(uname -srm), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)"
# The session figures depend on the start-up functions being laid out
# together (executor/build.rs); names a new toolchain renamed are lost.
echo "# $(CARGO_TARGET_DIR="$TARGET" bash "$REPO/scripts/startup-order.sh" --check)"

# The ideal executor (benches/limits/ideal_executor.c) replays our Setup
# message, recorded here, and does nothing else: its session figures are
# what the controller and the kernel cost without any executor work.
"$OURS" filedescs=0,1 </dev/null >"$WORK/setup.bin"

executor() { if [ "$1" = ours ]; then echo "$OURS"; else echo "$LLVM_EXECUTOR"; fi; }

# The session metrics run in an epc-bench process of their own, before the
# others: fork's cost grows with the controller's address space, and after
# the 64 MiB bulk writes epc-bench's is large, whereas llvm-jitlink starts its
# executor first thing. Same treatment for both executors.
SESSION_METRICS=session_setup,session_teardown,session_total,spawn_true
CALL_METRICS=rtt_write_u64,pipelined_write_u64,bulk_write,bulk_write_pipelined,memmgr_cycle,dylib_lookup
for s in $(seq 1 "$SESSIONS"); do
  echo "# session $s/$SESSIONS: llvm, ours" >&2
  for metrics in "$SESSION_METRICS" "$CALL_METRICS"; do
    for side in llvm ours; do
      # shellcheck disable=SC2086
      "$TOOLS/epc-bench" --executor "$(executor $side)" --only "$metrics" $EPC_BENCH_FLAGS \
        >>"$WORK/$side.$s"
    done
  done
  # shellcheck disable=SC2086
  "$TOOLS/epc-bench" --executor "$TOOLS/ideal-executor" --only "$SESSION_METRICS" $EPC_BENCH_FLAGS \
    -- "$WORK/setup.bin" >"$WORK/ideal.$s"
  echo "# session $s/$SESSIONS: limits $LIMITS_FLAGS" >&2
  # shellcheck disable=SC2086
  "$TOOLS/limits" $LIMITS_FLAGS >"$WORK/limits.$s"
done
echo "# load after the sessions: $(cut -d' ' -f1-3 /proc/loadavg)"

# clang-repl with an out-of-process executor: start-up, the ORC runtime's
# bootstrap, two incremental modules, shut-down. Wall time of the whole
# process; its output must be 42.
if [ "$CLANG_REPL_RUNS" -gt 0 ]; then
  printf '%s\n' 'extern "C" int printf(const char*,...);' 'printf("%d\n", 6*7);' >"$WORK/repl.in"
  for r in $(seq 1 "$CLANG_REPL_RUNS"); do
    echo "# clang-repl run $r/$CLANG_REPL_RUNS: llvm, ours" >&2
    for side in llvm ours; do
      t0=$EPOCHREALTIME
      status=0
      "$CLANG_REPL" --oop-executor="$(executor $side)" --orc-runtime="$ORC_RT" \
        <"$WORK/repl.in" >"$WORK/repl.out" 2>"$WORK/repl.err" || status=$?
      t1=$EPOCHREALTIME
      if [ "$status" = 0 ] && grep -qx 42 "$WORK/repl.out"; then
        echo "$t0 $t1" | awk '{ printf "%.3f\n", ($2 - $1) * 1000 }' >>"$WORK/repl.$side"
      else
        echo "compare-epc: clang-repl with $side's executor failed (status $status)" >&2
        cat "$WORK/repl.out" "$WORK/repl.err" >&2
        echo failed >>"$WORK/repl.$side"
      fi
    done
  done
fi

CORPORA=("$REPO/tests/conformance/cases")
[ -d "$SHARED/conformance/cases" ] && CORPORA+=("$SHARED/conformance/cases")
for s in $(seq 1 "$CORPUS_SESSIONS"); do
  for side in llvm ours; do
    echo "# corpus session $s/$CORPUS_SESSIONS: $side" >&2
    for c in "${CORPORA[@]}"; do
      bash "$REPO/tests/conformance/run_corpus.sh" --time "$(executor $side)" "$c" \
        >>"$WORK/corpus.$side.$s" || {
        echo "compare-epc: the corpus $c failed with $side's executor" >&2
        grep -v '^PASS' "$WORK/corpus.$side.$s" >&2
      }
    done
  done
done

python3 - "$WORK" "$SESSIONS" "$CLANG_REPL_RUNS" "$CORPUS_SESSIONS" <<'PY'
import statistics
import sys

work = sys.argv[1]
sessions, repl_runs, corpus_sessions = map(int, sys.argv[2:5])

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

# (name, figure, floor, "<=" or ">=", target, what): figure / floor, each
# "SOURCE:NAME" with SOURCE one session's file: ours (our executor's
# epc-bench runs), ideal (the ideal executor's) or limits.
FLOORS = [
    ("rtt_vs_floor", "ours:rtt_write_u64", "limits:pipe_rtt_handoff", "<=", 1.05,
     "sequential call latency / pipe round trip with LLVM's hand-off"),
    ("bulk_vs_floor", "ours:bulk_write", "limits:pipe_bulk_1mib", ">=", 0.9,
     "bulk write / 1 MiB pipe requests"),
    ("session_vs_floor", "ours:session_total", "limits:fork_exec_true", "<=", 1.5,
     "session set-up + teardown / fork+exec of /bin/true"),
    # Information, not targets. The same, against fork+exec of /bin/true
    # from the controller process itself (taken in the same epc-bench run):
    # a controller linked with libLLVM forks slower than the small limits
    # program, and no executor can save that.
    ("session_vs_spawn", "ours:session_total", "ours:spawn_true", "<=", None,
     "session set-up + teardown / fork+exec of /bin/true from the controller's own process"),
    # What our executor adds to a session beyond the least any executor
    # can do (replay the Setup bytes, wait for the end) ...
    ("session_vs_ideal", "ours:session_total", "ideal:session_total", "<=", None,
     "session set-up + teardown / the same with the ideal executor"),
    # ... and where that least lies against the floor above: above 1.5
    # means session_vs_floor's target is out of any executor's reach under
    # this controller on this machine.
    ("ideal_vs_floor", "ideal:session_total", "limits:fork_exec_true", "<=", None,
     "the ideal executor's set-up + teardown / fork+exec of /bin/true"),
]


def load(path):
    """name -> (value, unit), or (None, line) for an unsupported metric."""
    values = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if line.startswith("#") or len(parts) < 2:
                continue
            if parts[1].startswith("unsupported"):
                values[parts[0]] = (None, line.strip())
            elif len(parts) == 3:
                values[parts[0]] = (float(parts[1]), parts[2])
    return values


def medians(side):
    runs = [load(f"{work}/{side}.{s}") for s in range(1, sessions + 1)]
    out = {}
    for name, *_ in METRICS:
        got = [r[name] for r in runs if name in r and r[name][0] is not None]
        vals = [v for v, _ in got]
        out[name] = (statistics.median(vals), got[0][1], vals) if got else None
    return out


def fmt(v):
    return f"{v:.3f}" if v < 100 else f"{v:.0f}"


def verdict(ok, target, what, sign=">="):
    return f"(target {sign} {target:.2f}: {'met' if ok else 'NOT MET'}; {what})"


llvm, ours = medians("llvm"), medians("ours")
# Per session: the floor figures, and our figures of the same session.
limit_runs = [load(f"{work}/limits.{s}") for s in range(1, sessions + 1)]
our_runs = [load(f"{work}/ours.{s}") for s in range(1, sessions + 1)]
runs_of = {"ours": our_runs, "limits": limit_runs,
           "ideal": [load(f"{work}/ideal.{s}") for s in range(1, sessions + 1)]}
limits = {}
for k in limit_runs[0]:
    got = [r[k] for r in limit_runs if k in r and r[k][0] is not None]
    if got:
        limits[k] = (statistics.median(v for v, _ in got), got[0][1])
print("# floor (benches/limits, median over the sessions): "
      + ", ".join(f"{k} {fmt(v[0])} {v[1]}" for k, v in limits.items()))
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
        note = f"(info: {what})"
    else:
        ratios[name] = r
        note = verdict(r >= target, target, what)
    print(f"{name:22s} llvm={fmt(l[0])} {l[1]}  ours={fmt(o[0])} {o[1]}  ratio={r:.2f}  {note}{spread}")


def median_times(side):
    """Median wall time in ms of the clang-repl runs, and how many failed."""
    with open(f"{work}/repl.{side}") as f:
        lines = [l.strip() for l in f]
    times = [float(l) for l in lines if l != "failed"]
    return (statistics.median(times) if times else None), len(lines) - len(times), times


if repl_runs > 0:
    (lm, lf, lt), (om, of, ot) = median_times("llvm"), median_times("ours")
    if lm is None or om is None or of:
        ratios["clang_repl"] = 0.0
        print(f"{'clang_repl':22s} llvm={lm} ms  ours={om} ms  ratio=0.00  "
              f"(target >= 1.00: NOT MET; ours failed {of} of {repl_runs}, llvm {lf})")
    else:
        # Pair by pair (both runs of a pair succeeded): they ran back to
        # back, under the same load.
        with open(f"{work}/repl.llvm") as fl, open(f"{work}/repl.ours") as fo:
            pairs = [(float(a), float(b)) for a, b in zip(fl, fo)
                     if "failed" not in a and "failed" not in b]
        r = statistics.median(a / b for a, b in pairs)
        ratios["clang_repl"] = r
        print(f"{'clang_repl':22s} llvm={lm:.1f} ms  ours={om:.1f} ms  ratio={r:.2f}  "
              + verdict(r >= 1.0, 1.0, "never slower: clang-repl --oop-executor, whole run "
                        f"of a two-line program, median of {len(pairs)} pairs")
              + f"  [ours {min(ot):.0f}..{max(ot):.0f}, llvm {min(lt):.0f}..{max(lt):.0f}]")

if corpus_sessions > 0:
    def corpus_runs(side):
        runs = []
        for s in range(1, corpus_sessions + 1):
            total, failed = 0, 0
            with open(f"{work}/corpus.{side}.{s}") as f:
                for line in f:
                    if line.startswith("total:"):
                        total += int(line.split("run ")[1].split(" ms")[0])
                    elif line.startswith("FAIL"):
                        failed += 1
            runs.append((total, failed))
        return runs

    lr, orr = corpus_runs("llvm"), corpus_runs("ours")
    lm = statistics.median(t for t, _ in lr)
    om = statistics.median(t for t, _ in orr)
    failed = sum(f for _, f in orr)
    r = lm / om
    ratios["corpus_run"] = r if failed == 0 else 0.0
    print(f"{'corpus_run':22s} llvm={lm:.0f} ms  ours={om:.0f} ms  ratio={r:.2f}  "
          + verdict(r >= 1.0 and failed == 0, 1.0, "run time of every corpus case, "
                    f"run_corpus.sh --time; ours failed {failed}")
          + f"  [ours {[t for t, _ in orr]}, llvm {[t for t, _ in lr]}]")

def median_of(runs, figure):
    """(median over the sessions, unit), or (None,) if never measured."""
    got = [r[figure] for r in runs if r.get(figure, (None,))[0] is not None]
    return (statistics.median(v for v, _ in got), got[0][1]) if got else (None,)


for name, spec, floor_spec, sign, target, what in FLOORS:
    (source, metric), (floor_source, figure) = spec.split(":"), floor_spec.split(":")
    runs, floor_runs = runs_of[source], runs_of[floor_source]
    o, f = median_of(runs, metric), median_of(floor_runs, figure)
    # Session by session: each pair was measured under the same load.
    pairs = [(r[metric][0], l[figure][0]) for r, l in zip(runs, floor_runs)
             if r.get(metric, (None,))[0] is not None and l.get(figure, (None,))[0] is not None]
    if o[0] is None or f[0] is None or not pairs:
        print(f"{name:22s} {source}={o[0] and fmt(o[0])} floor={f[0]}  unmeasured ({what})")
        continue
    r = statistics.median(x / y for x, y in pairs)
    if target is None:
        note = f"(info: {what}; {figure})"
    else:
        ok = r <= target if sign == "<=" else r >= target
        note = verdict(ok, target, f"{what}; {figure}", sign)
    print(f"{name:22s} {source}={fmt(o[0])} {o[1]}  floor={fmt(f[0])} {f[1]}  ratio={r:.2f}  "
          + note
          + f"  [per session {', '.join(f'{x / y:.2f}' for x, y in pairs)}]")

worst = min(ratios, key=ratios.get)
print(f"worst ratio {ratios[worst]:.2f} ({worst})")
PY
