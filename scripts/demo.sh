#!/usr/bin/env bash
# Installs what is missing, builds, and runs the demo: no GPU needed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
cg=build/convguard
echo "== convguard run: shapes/small.txt on the CPU reference and on oneDNN, every algorithm"
"$cg" run --batch shapes/small.txt --dir FWD_D,BWD_D,BWD_W --engine onednn --algo all
