#!/usr/bin/env bash
# run_corpus.sh: build every case of a conformance corpus, run it through
# LLVM 22's llvm-jitlink with an out-of-process executor, and compare what it
# did with what LLVM's own llvm-jitlink-executor did (the expected_* files).
# The usage text below (`run_corpus.sh -h`) is the contract; the case format
# is in tests/conformance/README.md.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: run_corpus.sh [options] EXECUTOR CASES_DIR

Runs each case folder of CASES_DIR (or of CASES_DIR/cases) that holds a
case.toml: builds it in a fresh temporary folder, runs
`llvm-jitlink -oop-executor=EXECUTOR ...` (or over TCP for
transport = "tcp") and compares stdout, the exit status and, where
recorded, stderr and the executor's exit status with the case's expected_*
files. Prints `PASS name` or `FAIL name: reason` per case, then
`N passed, M failed`; exits non-zero if any case failed.

options:
  --in-process    no executor: llvm-jitlink JITs into itself (EXECUTOR is
                  ignored, pass -); expected_stderr and the executor's
                  status are not compared, exit_inprocess replaces
                  expected_exit where the case gives it
  --time          add build and run times per case, and a `total:` line
  --repeat N      run each case N times; it passes only if every run does
  --filter REGEX  only the cases whose folder name matches (grep -E)
  --keep          keep the build folders (where is printed first)
  --record        write the expected_* files from this run instead of
                  comparing (only with LLVM's own executor, on a copy)
  -v, --verbose   show the differences of a failing case on stderr
  -h, --help      this text

environment:
  LLVM_BIN  clang, clang++, llvm-ar, llc, llvm-jitlink (/usr/lib/llvm-22/bin)
  JITLINK   llvm-jitlink to use ($LLVM_BIN/llvm-jitlink)
  ORC_RT    the ORC runtime archive cases get as $ORC_RT
            (LLVM 22's compiler-rt liborc_rt-x86_64.a)
EOF
}

die() { echo "run_corpus.sh: $*" >&2; exit 2; }
warn() { echo "run_corpus.sh: warning: $*" >&2; }
now_ms() { date +%s%3N; }
absolute() { (cd "$(dirname "$1")" && echo "$PWD/$(basename "$1")"); }

in_process=0 timing=0 repeat=1 filter="" keep=0 record=0 verbose=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --in-process) in_process=1 ;;
    --time) timing=1 ;;
    --repeat) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--repeat needs a count"; repeat=$2; shift ;;
    --filter) [[ $# -ge 2 ]] || die "--filter needs a regex"; filter=$2; shift ;;
    --keep) keep=1 ;;
    --record) record=1 ;;
    -v | --verbose) verbose=1 ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    -?*) usage >&2; die "unknown option $1" ;;
    *) break ;;
  esac
  shift
done
[[ $# -eq 2 ]] || { usage >&2; exit 2; }
executor=$1 corpus=$2
[[ $record == 1 && $in_process == 1 ]] && die "--record needs LLVM's executor, not --in-process"
[[ -d $corpus/cases ]] && corpus=$corpus/cases
[[ -d $corpus ]] || die "no corpus folder $corpus"
corpus=$(cd "$corpus" && pwd)
if [[ $in_process == 0 ]]; then
  [[ -f $executor && -x $executor ]] || die "executor not executable: $executor"
  executor=$(absolute "$executor")
fi

LLVM_BIN=${LLVM_BIN:-/usr/lib/llvm-22/bin}
JITLINK=${JITLINK:-$LLVM_BIN/llvm-jitlink}
export ORC_RT=${ORC_RT:-/usr/lib/llvm-22/lib/clang/22/lib/linux/liborc_rt-x86_64.a}
export CC=$LLVM_BIN/clang CXX=$LLVM_BIN/clang++ AR=$LLVM_BIN/llvm-ar LLC=$LLVM_BIN/llc
[[ -x $JITLINK ]] || die "llvm-jitlink not found at $JITLINK (set LLVM_BIN or JITLINK)"

work=$(mktemp -d -t orc-corpus.XXXXXX)
if [[ $keep == 1 ]]; then echo "build folders kept under $work"; else trap 'rm -rf "$work"' EXIT; fi
# llvm-jitlink prefixes its messages with argv[0]: run it by the bare name so
# the recorded stderr is the same wherever LLVM is installed.
mkdir "$work/.bin"
ln -s "$(absolute "$JITLINK")" "$work/.bin/llvm-jitlink"
export PATH=$work/.bin:$PATH

# toml_string TEXT: TEXT (between the quotes of a TOML basic string) unescaped.
toml_string() {
  local s=$1 out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    if [[ $c == '\' ]]; then
      i=$((i + 1))
      c=${s:i:1}
      case $c in
        n) c=$'\n' ;;
        t) c=$'\t' ;;
        '"' | '\') ;;
        *) warn "unknown escape \\$c kept as is"; c="\\$c" ;;
      esac
    fi
    out+=$c
  done
  printf '%s' "$out"
}

# load_case FILE: the case.toml subset the corpora use (one `key = "string"`,
# `key = integer` or `key = true|false` per line, `#` comments) into CASE.
declare -A CASE
load_case() {
  CASE=([transport]=pipe [timeout]=60 [compare_stderr]=false)
  local line key value n=0
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    [[ $line =~ ^[[:space:]]*(#.*)?$ ]] && continue
    if ! [[ $line =~ ^[[:space:]]*([a-z_]+)[[:space:]]*=[[:space:]]*(.*[^[:space:]])[[:space:]]*$ ]]; then
      warn "$1:$n: not a key = value line"
      continue
    fi
    key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
    case $key in
      description | needs | build | jitlink_args | program_args | stdin | compare_stderr | \
        exit_inprocess | transport | timeout) ;;
      *) warn "$1:$n: unknown key $key" ;;
    esac
    if [[ $value =~ ^\"(.*)\"$ ]]; then
      CASE[$key]=$(toml_string "${BASH_REMATCH[1]}")
    elif [[ $value =~ ^(-?[0-9]+|true|false)$ ]]; then
      CASE[$key]=$value
    else
      warn "$1:$n: cannot read the value of $key"
    fi
  done <"$1"
}

# port_in_use PORT: something on this machine has PORT as its local port.
port_in_use() {
  local hex
  printf -v hex '%04X' "$1"
  grep -q ":$hex " /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# listening PORT: a socket is in LISTEN state (0A) on PORT. Checked in /proc
# rather than by connecting: the executor accepts a single connection.
listening() {
  local hex
  printf -v hex '%04X' "$1"
  grep -Eq ":$hex [0:]+:0000 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# run_jitlink DIR STDIN PREFIX ARGS...: llvm-jitlink with ARGS, then the case's
# own arguments, in DIR; PREFIX.out, PREFIX.err and PREFIX.rc are written
# there. The case's words are expanded by bash in DIR ($ORC_RT, braces,
# quotes).
run_jitlink() {
  local dir=$1 input=$2 prefix=$3
  shift 3
  local rc=0
  # Braces and 2>/dev/null: no "Segmentation fault" job report from bash
  # when the program dies by a signal in --in-process mode.
  { (
    cd "$dir"
    eval "words=(${CASE[jitlink_args]:-})"
    eval "argv=(${CASE[program_args]:-})"
    [[ ${#argv[@]} -gt 0 ]] && argv=(-args "${argv[@]}")
    exec timeout -k 5 "${CASE[timeout]}" llvm-jitlink "$@" "${words[@]}" "${argv[@]}" \
      <"$input" >"$prefix.out" 2>"$prefix.err"
  ) || rc=$?; } 2>/dev/null
  echo "$rc" >"$dir/$prefix.rc"
}

# run_tcp DIR STDIN: the executor listening on loopback with the case's stdin,
# llvm-jitlink connecting to it; out/err are the executor's then llvm-jitlink's.
run_tcp() {
  local dir=$1 input=$2 port pid tries rc
  for tries in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 40000))
    port_in_use "$port" && continue
    (cd "$dir" && exec timeout -k 5 "${CASE[timeout]}" "$executor" "listen=127.0.0.1:$port" \
      <"$input" >exec.out 2>exec.err) &
    pid=$!
    # Up to 10 s for the executor to listen; if it exits first (the port was
    # taken after all), try another port.
    for _ in $(seq 500); do
      listening "$port" && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.02
    done
    if listening "$port"; then
      run_jitlink "$dir" /dev/null jl "-oop-executor-connect=127.0.0.1:$port"
      rc=0
      wait "$pid" || rc=$?
      echo "$rc" >"$dir/exec.rc"
      cat "$dir/exec.out" "$dir/jl.out" >"$dir/run.out"
      cat "$dir/exec.err" "$dir/jl.err" >"$dir/run.err"
      cp "$dir/jl.rc" "$dir/run.rc"
      return 0
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  echo "the executor did not listen on loopback (5 ports tried): $(head -n 1 "$dir/exec.err")" >"$dir/setup_error"
  return 1
}

# run_once DIR CASEDIR: one run of the built case; run.out, run.err, run.rc
# (and exec.rc over TCP) in DIR, or setup_error when it could not start.
run_once() {
  local dir=$1 cdir=$2 input=/dev/null
  rm -f "$dir"/run.* "$dir"/jl.* "$dir"/exec.* "$dir/setup_error"
  [[ -n ${CASE[stdin]:-} ]] && input=$cdir/${CASE[stdin]}
  if [[ $in_process == 1 ]]; then
    run_jitlink "$dir" "$input" run
  elif [[ ${CASE[transport]} == tcp ]]; then
    run_tcp "$dir" "$input" || true
  else
    run_jitlink "$dir" "$input" run "-oop-executor=$executor"
  fi
}

# differs WHAT EXPECTED GOT: why GOT is not EXPECTED, with the first
# differing line of each.
differs() {
  local n
  n=$(diff "$2" "$3" | sed -n '1s/^[0-9,]*[acd]\([0-9]*\).*/\1/p' || true)
  n=${n:-$(($(wc -l <"$3") + 1))}
  printf '%s differs at line %s: expected "%.60s", got "%.60s"' "$1" "$n" \
    "$(sed -n "${n}p" "$2")" "$(sed -n "${n}p" "$3")"
  if [[ $verbose == 1 ]]; then
    echo "--- $1: expected, +++ got" >&2
    diff -u "$2" "$3" | tail -n +3 | head -40 >&2 || true
  fi
}

# check DIR CASEDIR ELAPSED_MS: empty if the run matched the expectations,
# else the reason.
check() {
  local dir=$1 cdir=$2 ms=$3 want got
  if [[ -f $dir/setup_error ]]; then cat "$dir/setup_error"; return; fi
  got=$(<"$dir/run.rc")
  want=$(<"$cdir/expected_exit")
  [[ $in_process == 1 && -n ${CASE[exit_inprocess]:-} ]] && want=${CASE[exit_inprocess]}
  if [[ $got != "$want" ]]; then
    if [[ ($got == 124 || $got == 137) && $ms -ge $((${CASE[timeout]} * 1000)) ]]; then
      echo "timed out after ${CASE[timeout]} s"
    else
      echo "exit status $got, expected $want"
      if [[ $verbose == 1 ]]; then head -20 "$dir/run.err" >&2; fi
    fi
  elif ! cmp -s "$cdir/expected_stdout" "$dir/run.out"; then
    differs stdout "$cdir/expected_stdout" "$dir/run.out"
  elif [[ $in_process == 0 && -f $cdir/expected_stderr ]] &&
    ! cmp -s "$cdir/expected_stderr" "$dir/run.err"; then
    differs stderr "$cdir/expected_stderr" "$dir/run.err"
  elif [[ $in_process == 0 && ${CASE[transport]} == tcp ]] &&
    [[ $(<"$dir/exec.rc") != $(<"$cdir/expected_executor_exit") ]]; then
    echo "executor exit status $(<"$dir/exec.rc"), expected $(<"$cdir/expected_executor_exit")"
  fi
}

# record DIR CASEDIR: this run's results become the case's expected_* files.
record() {
  local dir=$1 cdir=$2
  [[ -f $dir/setup_error ]] && { cat "$dir/setup_error"; return; }
  cp "$dir/run.out" "$cdir/expected_stdout"
  cp "$dir/run.rc" "$cdir/expected_exit"
  if [[ ${CASE[compare_stderr]} == true ]]; then
    cp "$dir/run.err" "$cdir/expected_stderr"
  else
    rm -f "$cdir/expected_stderr"
  fi
  if [[ ${CASE[transport]} == tcp ]]; then cp "$dir/exec.rc" "$cdir/expected_executor_exit"; fi
}

passed=0 failed=0 build_total=0 run_total=0
for cdir in "$corpus"/*/; do
  cdir=${cdir%/} name=${cdir##*/}
  [[ -f $cdir/case.toml ]] || continue
  if [[ -n $filter ]] && ! grep -Eq -- "$filter" <<<"$name"; then continue; fi
  load_case "$cdir/case.toml"
  dir=$work/$name
  mkdir "$dir"
  t0=$(now_ms)
  reason=""
  if ! (cd "$dir" && SRC=$cdir bash -c "${CASE[build]:-true}") >"$dir/build.log" 2>&1; then
    reason="build failed$(tail -n 1 "$dir/build.log" | sed 's/^./: &/')"
  elif [[ $record == 0 ]] && ! [[ -f $cdir/expected_exit && -f $cdir/expected_stdout ]]; then
    reason="no expected_exit or expected_stdout (record them with --record)"
  fi
  t1=$(now_ms) run_ms=0
  for ((i = 1; i <= repeat && ${#reason} == 0; i++)); do
    t2=$(now_ms)
    run_once "$dir" "$cdir"
    t3=$(now_ms)
    run_ms=$((run_ms + t3 - t2))
    if [[ $record == 1 ]]; then
      reason=$(record "$dir" "$cdir")
      break
    fi
    reason=$(check "$dir" "$cdir" $((t3 - t2)))
    [[ -n $reason && $repeat -gt 1 ]] && reason+=" (run $i of $repeat)"
  done
  build_total=$((build_total + t1 - t0)) run_total=$((run_total + run_ms))
  times=""
  [[ $timing == 1 ]] && times=" [build $((t1 - t0)) ms, run $run_ms ms]"
  if [[ -n $reason ]]; then
    failed=$((failed + 1))
    echo "FAIL $name: $reason$times"
  elif [[ $record == 1 ]]; then
    passed=$((passed + 1))
    echo "PASS $name: recorded exit $(<"$cdir/expected_exit")$times"
  else
    passed=$((passed + 1))
    echo "PASS $name$times"
  fi
done
[[ $timing == 1 ]] && echo "total: build $build_total ms, run $run_total ms"
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
