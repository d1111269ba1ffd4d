#!/usr/bin/env bash
# setup.sh: install what the tests need on a fresh Debian machine (idempotent).
#   - LLVM 22 (llvm-jitlink, llvm-jitlink-executor, clang-22, the ORC runtime,
#     llvm-config and the headers for benches/llvm): conformance and
#     differential tests run the real LLVM controller against our executor;
#     clang-tools-22 for clang-repl (tests/clang_repl.rs: clang-repl
#     --oop-executor; benches/compare-epc.sh).
#   - a C compiler (cc) for the C-API test: present on the machine already.
#   - gdb (tests/gdb_jit.rs: gdb sees JIT'd code) and valgrind (the C-API
#     test and scripts/asan.sh): those tests skip without them, so CI
#     installs them rather than pass vacuously.
set -euo pipefail

need_apt=()
[ -x /usr/lib/llvm-22/bin/llvm-jitlink ] || need_apt+=(llvm-22)
[ -x /usr/lib/llvm-22/bin/llvm-config ] || need_apt+=(llvm-22-dev)
[ -x /usr/lib/llvm-22/bin/clang ] || need_apt+=(clang-22)
[ -x /usr/lib/llvm-22/bin/clang-repl ] || need_apt+=(clang-tools-22)
[ -f /usr/lib/llvm-22/lib/clang/22/lib/linux/liborc_rt-x86_64.a ] || need_apt+=(libclang-rt-22-dev)
[ -x /usr/lib/llvm-22/bin/clang-repl ] || need_apt+=(clang-tools-22)
command -v cc >/dev/null || need_apt+=(gcc)
command -v gdb >/dev/null || need_apt+=(gdb)
command -v valgrind >/dev/null || need_apt+=(valgrind)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}" >&2
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
