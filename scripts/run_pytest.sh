#!/usr/bin/env bash
# Runs python3 -m pytest ARGS... with the installed pytest, or, where none is installed, a pinned
# one from PyPI installed with pip --target into $BUILD_DIR (default build/): no system
# site-packages are touched. Exit 5 (pytest collected no tests) is turned into 1, since every
# caller here runs files whose tests always collect.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
pytest_version=8.4.2
pytest_env=()
if ! python3 -c 'import pytest' 2>/dev/null; then
  dir="$build/_pytest-$pytest_version"
  if [ ! -f "$dir/.complete" ]; then
    rm -rf "$dir"
    mkdir -p "$build"
    python3 -m pip install -q --disable-pip-version-check --no-warn-script-location --root-user-action=ignore \
      --target "$dir" "pytest==$pytest_version" >&2
    touch "$dir/.complete"
  fi
  pytest_env=(env "PYTHONPATH=$(cd "$dir" && pwd)${PYTHONPATH:+:$PYTHONPATH}")
fi
rc=0
PYTHONDONTWRITEBYTECODE=1 CONVGUARD_BUILD_DIR=$build "${pytest_env[@]}" python3 -m pytest -p no:cacheprovider "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
  echo "run_pytest.sh: pytest collected no tests from $* (exit 5)" >&2
  exit 1
fi
exit "$rc"
