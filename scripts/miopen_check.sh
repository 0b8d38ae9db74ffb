#!/usr/bin/env bash
# The first run of the miopen engine on a machine with an AMD GPU and ROCm (no AMD GPU has run
# it yet; docs/MIOPEN.md). Prints `convguard env`, then probes every solver MIOpen offers for
# small problems in every direction, type and layout, and the three Find modes, in isolated
# workers, storing everything in a SQLite file:
#
#   scripts/miopen_check.sh [DB]        (default: miopen_check.db; convguard from build/ or PATH)
#
# Then `convguard report --db DB` shows the results; for any probe that is not ok,
# `convguard repro --db DB --probe N --as miopen` prints the MIOpenDriver line.
set -uo pipefail
cd "$(dirname "$0")/.."
db=${1:-miopen_check.db}
cg=build/convguard
[ -x "$cg" ] || cg=convguard
"$cg" env
status=0
"$cg" sweep --db "$db" --engine miopen --algo all --dir FWD_D,BWD_D,BWD_W --dt f32,f16,bf16 \
  --layout nchw,nhwc 'mb2ic16ih14oc32kh3ph1' 'mb1ic32ih9oc16kh1' 'g2mb1ic16ih12oc16kh3sh2ph1' -v ||
  status=$?
"$cg" sweep --db "$db" --engine miopen --algo find.normal,find.fast,find.hybrid \
  --dir FWD_D,BWD_D,BWD_W 'mb2ic16ih14oc32kh3ph1' -v || status=$?
"$cg" report --db "$db"
exit "$status"
