#!/usr/bin/env bash
# build.sh [OUT_DIR]: builds limits and ideal-executor into OUT_DIR (default benches/limits/build,
# not committed), unless it is newer than its source and this script. CC
# overrides the compiler.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/build}
cc=${CC:-clang-22}
command -v "$cc" >/dev/null || cc=cc
mkdir -p "$out"
for tool in limits ideal-executor; do
  src=$here/${tool//-/_}.c
  if [ "$out/$tool" -nt "$src" ] && [ "$out/$tool" -nt "$here/build.sh" ]; then continue; fi
  "$cc" -O2 -Wall -Wextra -pthread "$src" -o "$out/$tool"
  echo "built $out/$tool" >&2
done
