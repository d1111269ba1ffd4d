#!/usr/bin/env bash
# build.sh [OUT_DIR]: builds limits into OUT_DIR (default benches/limits/build,
# not committed), unless it is newer than its source and this script. CC
# overrides the compiler.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/build}
cc=${CC:-clang-22}
command -v "$cc" >/dev/null || cc=cc
mkdir -p "$out"
if [ "$out/limits" -nt "$here/limits.c" ] && [ "$out/limits" -nt "$here/build.sh" ]; then exit 0; fi
"$cc" -O2 -Wall -Wextra -pthread "$here/limits.c" -o "$out/limits"
echo "built $out/limits" >&2
