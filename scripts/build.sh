#!/usr/bin/env bash
# Configures and builds convguard into build/ (or $BUILD_DIR).
#
#   scripts/build.sh [--target NAME]... [CMAKE_ARGS...]
#
# Builds every target unless --target (or $BUILD_TARGETS, names separated by spaces) names some:
# `scripts/build.sh --target convguard` builds the command alone, not the tests and benchmarks.
# Other arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
read -r -a targets <<<"${BUILD_TARGETS:-}"
cmake_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --target) [ $# -ge 2 ] || { echo "build.sh: --target needs a name" >&2; exit 2; }
              targets+=("$2"); shift 2 ;;
    --target=*) targets+=("${1#--target=}"); shift ;;
    *) cmake_args+=("$1"); shift ;;
  esac
done
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} "${cmake_args[@]}" >&2
if [ ${#targets[@]} -gt 0 ]; then
  cmake --build "$build" -j "$(nproc)" --target "${targets[@]}" >&2
else
  cmake --build "$build" -j "$(nproc)" >&2
fi
