#!/usr/bin/env bash
# Installs the Debian packages convguard needs, skipping those already present.
#
#   scripts/install_deps.sh [GROUP...]
#
# The packages are those of scripts/packages.txt: its base, plus each optional [GROUP] named
# (scripts/test.sh asks for `test`). That file is the one list: scripts/check_deps.py proves it
# against what a build really used. The CUDA toolkit with cuDNN is optional: without it the cuDNN
# engine is skipped.
set -euo pipefail
list="$(dirname "$0")/packages.txt"
# awk prints the base and the groups asked for; an unknown group is an error.
names=$(
  awk -v want=" $* " '
    { sub(/#.*/, ""); gsub(/^[ \t]+|[ \t]+$/, "") }
    $0 == "" { next }
    /^\[[^]]+\]$/ { group = substr($0, 2, length($0) - 2); seen[group] = 1; next }
    group == "" || index(want, " " group " ") { print }
    END {
      n = split(want, w, " ")
      for (i = 1; i <= n; i++) if (!(w[i] in seen)) { print "install_deps.sh: no group [" w[i] "] in packages.txt" > "/dev/stderr"; exit 2 }
    }' "$list")
mapfile -t packages <<<"$names"
[ -n "$names" ] || { echo "install_deps.sh: no packages read from $list" >&2; exit 2; }
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
