#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors, and runs every test
# (GPU tests skip with a message where no GPU is present; soak tests: scripts/soak.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh chromium
BUILD_DIR=${BUILD_DIR:-build} scripts/build.sh -DCONVGUARD_WERROR=ON
ctest --test-dir "${BUILD_DIR:-build}" -LE soak --output-on-failure -j "$(nproc)"
