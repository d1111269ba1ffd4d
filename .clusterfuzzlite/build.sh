#!/usr/bin/env bash
# Builds every fuzz target of the repository (fuzz/) and of the worked
# example (examples/kv-service/fuzz/) into $OUT, each with its seed corpus
# ($OUT/TARGET_seed_corpus.zip: fuzz/seeds/TARGET and
# fuzz/regressions/TARGET), as ClusterFuzzLite and OSS-Fuzz expect.
#
# In their build image $OUT, $SRC and the sanitizer flags are set and cargo
# is nightly. Locally:
#   OUT=/tmp/fuzz-out bash .clusterfuzzlite/build.sh
# builds with `cargo +nightly fuzz` (FUZZ_TOOLCHAIN overrides) under
# AddressSanitizer into target/clusterfuzzlite (CARGO_TARGET_DIR overrides).
set -euo pipefail
: "${OUT:?set OUT to the folder the fuzz binaries go to}"
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT"
if [ -z "${FUZZ_TOOLCHAIN+set}" ]; then
  # OSS-Fuzz's image: plain cargo is nightly. Elsewhere: ask for it.
  if cargo --version | grep -q nightly; then FUZZ_TOOLCHAIN=""; else FUZZ_TOOLCHAIN="+nightly"; fi
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target/clusterfuzzlite}
triple=$(rustc $FUZZ_TOOLCHAIN -vV | sed -n 's/^host: //p')

built=0
for project in . examples/kv-service; do
  cd "$root/$project"
  # -O with debug assertions: the oracles' own checks stay on.
  # shellcheck disable=SC2086
  cargo $FUZZ_TOOLCHAIN fuzz build -O --debug-assertions
  for src in fuzz/fuzz_targets/*.rs; do
    t=$(basename "$src" .rs)
    cp "$CARGO_TARGET_DIR/$triple/release/$t" "$OUT/$t"
    corpus=()
    for d in "fuzz/seeds/$t" "fuzz/regressions/$t"; do
      [ -d "$d" ] && corpus+=("$d")
    done
    if [ ${#corpus[@]} -gt 0 ]; then
      rm -f "$OUT/${t}_seed_corpus.zip"
      # Flat: libFuzzer reads the files, not the folders.
      zip -q -j "$OUT/${t}_seed_corpus.zip" $(find "${corpus[@]}" -type f ! -name '*.md')
    fi
    # The per-input limits fuzz/run.sh uses.
    printf '[libfuzzer]\ntimeout = 60\nmalloc_limit_mb = 512\nrss_limit_mb = 4096\n' \
      >"$OUT/$t.options"
    built=$((built + 1))
  done
done
echo "build.sh: $built fuzz targets in $OUT"
