#!/usr/bin/env bash
# build.sh [OUT_DIR]: builds epc-bench and sps-bench against LLVM 22's
# libraries and headers (Debian llvm-22-dev) into OUT_DIR (default
# benches/llvm/build, not committed). CXX and LLVM_CONFIG override the tools.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/build}
llvm_config=${LLVM_CONFIG:-/usr/lib/llvm-22/bin/llvm-config}
cxx=${CXX:-clang++-22}
command -v "$cxx" >/dev/null || cxx=/usr/lib/llvm-22/bin/clang++
mkdir -p "$out"
# --cxxflags brings LLVM's own -std, -fno-exceptions and defines; -fno-rtti
# matches how libLLVM was built; the rpath finds libLLVM-22.so at run time.
read -ra cxxflags <<<"$("$llvm_config" --cxxflags)"
read -ra ldflags <<<"$("$llvm_config" --ldflags --libs | tr "\n" " ")"
for tool in epc_bench sps_bench; do
  "$cxx" -O2 -g1 -DNDEBUG "${cxxflags[@]}" -fno-rtti "$here/$tool.cpp" \
    -o "$out/${tool/_/-}" "${ldflags[@]}" -Wl,-rpath,"$("$llvm_config" --libdir)" -lpthread
done
echo "built $out/epc-bench $out/sps-bench" >&2
