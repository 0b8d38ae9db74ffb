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
