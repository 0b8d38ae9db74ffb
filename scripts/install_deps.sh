#!/usr/bin/env bash
# Installs the Debian packages convguard builds with, skipping those already present.
# The CUDA toolkit with cuDNN is optional: without it the cuDNN engine is skipped.
set -euo pipefail
packages=(cmake ninja-build g++ pkg-config libcli11-dev nlohmann-json3-dev libfmt-dev
          libsqlite3-dev sqlite3 libdnnl-dev libgtest-dev libgmock-dev libbenchmark-dev)
packages+=("$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -q >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
