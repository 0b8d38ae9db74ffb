#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang (ASan + UBSan) into build-fuzz/ (or
# $FUZZ_BUILD_DIR) and runs them.
#
#   scripts/fuzz.sh test            every target for $FUZZ_SECONDS (15) and its regressions (ctest -L fuzz)
#   scripts/fuzz.sh long [SECONDS]  every target for SECONDS (default 3600), $FUZZ_JOBS at a time
#   scripts/fuzz.sh one TARGET [libFuzzer flags...]
#
# Long runs keep their corpora in build-fuzz/fuzz-corpus/<target>/. A crash leaves
# crash-*/timeout-*/oom-* files in build-fuzz/fuzz-artifacts/<target>/: once fixed, copy the
# input into fuzz/regressions/<target>/ so that every test run replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${FUZZ_BUILD_DIR:-build-fuzz}
mode=${1:-test}
targets=(fuzz_descriptor fuzz_batch fuzz_driver_cmd fuzz_grid fuzz_quirks fuzz_profile
         fuzz_protocol fuzz_store_rows)

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DCONVGUARD_FUZZ=ON -DCONVGUARD_FUZZ_SECONDS="${FUZZ_SECONDS:-15}" -DCONVGUARD_CUDNN=OFF \
  -DCONVGUARD_TORCH=OFF >&2
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}" >&2
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1

case "$mode" in
  test)
    ctest --test-dir "$build" -L fuzz --output-on-failure -j "$(nproc)" ;;
  long)
    seconds=${2:-3600}
    jobs=${FUZZ_JOBS:-$(nproc)}
    for t in "${targets[@]}"; do
      mkdir -p "$build/fuzz-corpus/$t" "$build/fuzz-artifacts/$t"
      echo "$t: ${seconds}s" >&2
      read -r -a seeds <"$build/fuzz-corpus/$t.seeds"  # written by CMake
      "$build/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -artifact_prefix="$build/fuzz-artifacts/$t/" "$build/fuzz-corpus/$t" \
        fuzz/regressions/$t "${seeds[@]}" >"$build/fuzz-artifacts/$t.log" 2>&1 &
      while [ "$(jobs -r | wc -l)" -ge "$jobs" ]; do sleep 1; done
    done
    wait
    ls -l "$build"/fuzz-artifacts/*/ ;;
  one)
    t=${2:?target}
    shift 2
    mkdir -p "$build/fuzz-corpus/$t"
    "$build/$t" -timeout=10 -rss_limit_mb=2048 -max_len=8192 "$@" "$build/fuzz-corpus/$t" fuzz/regressions/$t ;;
  *) echo "fuzz.sh: test, long [SECONDS] or one TARGET" >&2; exit 2 ;;
esac
