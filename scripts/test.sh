#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors, proves the package list against what
# the build used (scripts/check_deps.py and its tests), and runs every test (GPU tests skip with a
# message where no GPU is present; soak tests: ctest -L soak).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
scripts/install_deps.sh test
# PyTorch for the torch engine and convguard scan: python3's own, else a pinned one in .venv.
venv_bin=$(scripts/python_env.sh)
if [ -n "$venv_bin" ]; then export PATH="$venv_bin:$PATH"; fi
BUILD_DIR=$build scripts/build.sh -DCONVGUARD_WERROR=ON

# Every header, CMake file and library the build used comes from a package that
# scripts/packages.txt installs (its base: what scripts/demo.sh installs), or every Debian machine has.
python3 scripts/check_deps.py --build-dir "$build"

# The check's own tests (a pinned pytest from PyPI where none is installed; exit 5, no tests
# collected, fails: the file always has tests that need no build).
BUILD_DIR=$build scripts/run_pytest.sh -q -rs scripts/check_deps_test.py

# The Python side (convguard scan), against the convguard just built.
BUILD_DIR=$build scripts/run_pytest.sh -q -rs python/tests

ctest --test-dir "$build" -LE soak --output-on-failure -j "$(nproc)"

# Each parser's fuzz target for 15 s with clang, ASan and UBSan (scripts/fuzz.sh; its own build
# folder). CONVGUARD_SKIP_FUZZ=1 skips it.
if [ "${CONVGUARD_SKIP_FUZZ:-0}" = 0 ]; then
  FUZZ_BUILD_DIR=$build-fuzz scripts/fuzz.sh test
fi

# ThreadSanitizer over the tests whose code runs threads: the supervisor, the thread prober the
# torch guard learns through, the sweep's mark committer and its kill-and-resume tests, the
# store's concurrent creators, the guard (its own build folder; about 4 min here, 1 min of it
# tests). Signals stay signals: the isolation tests crash workers on purpose.
tsan_tests=(supervisor_test thread_prober_test sweep_test store_test guard_test)
BUILD_DIR=$build-tsan scripts/build.sh -DCONVGUARD_WERROR=ON -DCONVGUARD_SANITIZE=thread \
  -DCONVGUARD_CUDNN=OFF -DCONVGUARD_TORCH=OFF "${tsan_tests[@]/#/--target=}"
for t in "${tsan_tests[@]}"; do
  TSAN_OPTIONS=halt_on_error=1:handle_segv=0:handle_abort=0:handle_sigbus=0:handle_sigfpe=0 \
    "$build-tsan/$t" --gtest_brief=1 || { echo "test.sh: $t failed under ThreadSanitizer" >&2; exit 1; }
done

# CONVGUARD_SANITIZERS=1: the suite again under AddressSanitizer and UndefinedBehaviorSanitizer
# (its own build folder, without the GPU engines). Clean on 2026-12-02: 649 of 649 tests in
# 131 s after a 23 min build on the 2-core VM (an estimated 40 min with a cold ccache). Not on by
# default: with this command's own ~30 min on CI, a cold sanitizer build would take most of
# CI's 90 minutes (docs/HACKING.md).
if [ "${CONVGUARD_SANITIZERS:-0}" != 0 ]; then
  BUILD_DIR=$build-asan scripts/build.sh -DCONVGUARD_WERROR=ON -DCONVGUARD_SANITIZE=address,undefined \
    -DCONVGUARD_CUDNN=OFF -DCONVGUARD_TORCH=OFF
  # Crashes are what the isolation tests provoke on purpose: signals stay signals. No leak
  # check: LeakSanitizer's exit-time tracer keeps a dead worker's process group alive past
  # the tests' check that none is left.
  ASAN_OPTIONS=detect_leaks=0:handle_segv=0:handle_abort=0:handle_sigbus=0:handle_sigfpe=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$build-asan" -LE 'soak|gpu' --output-on-failure -j "$(nproc)"
fi
