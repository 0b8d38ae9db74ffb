#!/usr/bin/env bash
# Installs what is missing, builds, and reproduces the seed's investigation
# (shared/seed/FINAL_FINDINGS.md) against quirks/rx5600xt-rocm57.json: no GPU needed.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s.%N)
scripts/install_deps.sh
t1=$(date +%s.%N)
# The demo needs the command alone, not the tests and benchmarks.
scripts/build.sh --target convguard
t2=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "install_deps: %.1f s, build (convguard only): %.1f s\n", b - a, c - b }' >&2
cg=${BUILD_DIR:-build}/convguard
work=$(mktemp -d)
db="$work/seed.db"
sim=(--engine sim --base onednn --quirks quirks/rx5600xt-rocm57.json)
start=$(date +%s.%N)

echo "== 1. the seed's configurations, each in an isolated worker (hangs are killed, not waited out)"
"$cg" sweep --db "$db" "${sim[@]}" --batch shapes/seed.txt --jobs 2 || true

echo
echo "== 2. the exact boundary along the feature-map size, 16->32 channels"
"$cg" boundary --db "$db" "${sim[@]}" --dir FWD_D --axis ih=8:512:2 --tie iw --jobs 2 'mb1ic16oc32kh3ph1' || true

echo
echo "== 3. the report, in the seed's form"
"$cg" report --db "$db" --format md

end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "\nwhole investigation: %.1f s (the seed spent 15-20 s on each hanging configuration alone)\n", e - s }'
echo "store: $db   (convguard repro --db $db --probe N --as benchdnn|miopen|torch|convguard)"
