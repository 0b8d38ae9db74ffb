#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors, proves the package list against what
# the build used (scripts/check_deps.py and its tests), and runs every test (GPU tests skip with a
# message where no GPU is present; soak tests: ctest -L soak).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
scripts/install_deps.sh test
BUILD_DIR=$build scripts/build.sh -DCONVGUARD_WERROR=ON

# Every header, CMake file and library the build used comes from a package that
# scripts/packages.txt installs (its base: what scripts/demo.sh installs), or every Debian machine has.
python3 scripts/check_deps.py --build-dir "$build"

# The check's own tests, with a pinned pytest from PyPI where none is installed (into the build
# directory with --target: no system site-packages are touched).
pytest_version=8.4.2
pytest_env=()
if ! python3 -c 'import pytest' 2>/dev/null; then
  dir="$build/_pytest-$pytest_version"
  if [ ! -f "$dir/.complete" ]; then
    rm -rf "$dir"
    python3 -m pip install -q --disable-pip-version-check --target "$dir" "pytest==$pytest_version" >&2
    touch "$dir/.complete"
  fi
  pytest_env=(env "PYTHONPATH=$dir${PYTHONPATH:+:$PYTHONPATH}")
fi
rc=0
CONVGUARD_BUILD_DIR=$build "${pytest_env[@]}" python3 -m pytest -q -p no:cacheprovider scripts/check_deps_test.py || rc=$?
# 5 is pytest's "no tests collected": the file always has tests that need no build, so it is a failure too.
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests from scripts/check_deps_test.py (exit 5)" >&2
  exit 1
fi
[ "$rc" -eq 0 ] || exit "$rc"

ctest --test-dir "$build" -LE soak --output-on-failure -j "$(nproc)"
