#!/usr/bin/env bash
# build.sh [OUT_DIR [TOOL...]]: builds epc-bench and sps-bench (or only the
# TOOLs named) against LLVM 22's libraries and headers (Debian llvm-22-dev)
# into OUT_DIR (default benches/llvm/build, not committed). A tool newer than
# its source and this script is kept. CXX and LLVM_CONFIG override the tools.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/build}
shift $(($# > 0 ? 1 : 0))
tools=(epc-bench sps-bench)
[ $# -eq 0 ] || tools=("$@")
llvm_config=${LLVM_CONFIG:-/usr/lib/llvm-22/bin/llvm-config}
cxx=${CXX:-clang++-22}
command -v "$cxx" >/dev/null || cxx=/usr/lib/llvm-22/bin/clang++
mkdir -p "$out"
# --cxxflags brings LLVM's own -std, -fno-exceptions and defines; -fno-rtti
# matches how libLLVM was built; the rpath finds libLLVM-22.so at run time.
read -ra cxxflags <<<"$("$llvm_config" --cxxflags)"
read -ra ldflags <<<"$("$llvm_config" --ldflags --libs | tr '\n' ' ')"
for tool in "${tools[@]}"; do
  src=$here/${tool/-/_}.cpp
  [ -f "$src" ] || { echo "build.sh: no tool $tool" >&2; exit 2; }
  if [ "$out/$tool" -nt "$src" ] && [ "$out/$tool" -nt "$here/build.sh" ]; then continue; fi
  "$cxx" -O2 -g1 -DNDEBUG "${cxxflags[@]}" -fno-rtti "$src" -o "$out/$tool" \
    "${ldflags[@]}" -Wl,-rpath,"$("$llvm_config" --libdir)" -lpthread
  echo "built $out/$tool" >&2
done
