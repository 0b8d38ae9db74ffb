#!/usr/bin/env bash
# One GPU session for the cuDNN engine (issue 5).
#
#   scripts/gpu_session.sh stage       here: build build-gpu (Release) and stage what the
#                                      device lacks in .carry/ (binaries, ctest files, libs)
#   scripts/gpu_session.sh validate    device: nvidia-smi facts, ctest -L gpu
#   scripts/gpu_session.sh full        device: validate, then the measurements
#
# On the device call it as: run(command="scripts/gpu_session.sh full", carry=[".carry"]).
# Logs go to $OUT (or out/ when unset); a short table is printed last.
set -u -o pipefail
MODE=${1:-full}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/out}
mkdir -p "$OUT"
# The build folder's ctest files name absolute paths from the build machine.
BUILD_PATH=/work/main/build-gpu

stage() {
  cd "$ROOT" || exit 1
  [ -d build-gpu ] || cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCONVGUARD_WERROR=ON
  local targets=(cudnn_engine_test)
  grep -q "^convguard:" <(cmake --build build-gpu --target help) && targets+=(convguard)
  cmake --build build-gpu --target "${targets[@]}" -j2 || exit 1
  rm -rf .carry && mkdir -p .carry/build-gpu/bin
  cp build-gpu/CTestTestfile.cmake build-gpu/*_include.cmake .carry/build-gpu/ 2>/dev/null
  cp build-gpu/cudnn_engine_test*_tests.cmake .carry/build-gpu/
  for t in "${targets[@]}"; do
    cp build-gpu/"$t" .carry/build-gpu/ && strip .carry/build-gpu/"$t"
  done
  local libs=(libdnnl.so.2 libfmt.so.9 libsqlite3.so.0 libOpenCL.so.1 libgomp.so.1)
  (cd /lib/x86_64-linux-gnu && tar chJf "$ROOT/.carry/libs.tar.xz" "${libs[@]}")
  du -sh .carry
}

setup_device() {
  mkdir -p /tmp/cglib && tar xJf "$ROOT/.carry/libs.tar.xz" -C /tmp/cglib
  local cudnn
  cudnn=$(ldconfig -p | awk '/libcudnn.so.9 /{print $NF; exit}')
  [ -n "$cudnn" ] || cudnn=$(find / -name libcudnn.so.9 -not -path '/proc/*' 2>/dev/null | head -1)
  echo "libcudnn.so.9: ${cudnn:-NOT FOUND}"
  export LD_LIBRARY_PATH=/tmp/cglib:$(dirname "${cudnn:-/x/x}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  if [ ! -e "$BUILD_PATH" ]; then
    mkdir -p "$(dirname "$BUILD_PATH")" && ln -s "$ROOT/.carry/build-gpu" "$BUILD_PATH"
  fi
  CG=$BUILD_PATH/convguard
}

gpu_facts() {
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem,temperature.gpu \
    --format=csv | tee "$OUT/nvidia-smi.txt"
  nvidia-smi | head -12 >>"$OUT/nvidia-smi.txt"
}

validate() {
  (cd "$BUILD_PATH" && ctest -L gpu --output-on-failure --timeout 300 -V) >"$OUT/ctest.log" 2>&1
  local rc=$?
  grep -E "^[0-9]+/[0-9]+ Test|tests passed|kill->reaped|  (device|cudnn|driver|cuda_runtime|compute_capability) =" \
    "$OUT/ctest.log" | sed 's/^[0-9]*: //' | sort -u | tail -40
  [ $rc -eq 0 ] || grep -B2 -A12 "Failure\|FAILED\|Expected" "$OUT/ctest.log" | head -150
  echo "ctest rc=$rc"
}

measure() {
  echo "measurements: not yet written"
}

main() {
  case "$MODE" in
    stage) stage; return ;;
    validate|full) setup_device; gpu_facts; validate ;;
    *) echo "usage: $0 stage|validate|full" >&2; exit 2 ;;
  esac
  [ "$MODE" = full ] || return 0
  measure
}

main
