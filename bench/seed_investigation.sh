#!/usr/bin/env bash
# The seed's investigation (scripts/demo.sh's sweep and boundary) with the default deadlines
# (no --timeout-exec), timed for two builds side by side, alternating, then the boundary
# with --jobs 1, 2 and 4 (the second build). Prints markdown tables.
#
#   bench/seed_investigation.sh BEFORE_CONVGUARD AFTER_CONVGUARD [ROUNDS] [BASE_ENGINE] [AFTER_JOBS]
#
# BASE_ENGINE is sim's base: onednn (default, any CPU) or cudnn (a GPU). AFTER_JOBS: the after
# build's boundary --jobs (default 2, as scripts/demo.sh runs it); the before build's boundary
# runs as it did (one probe at a time: builds before parallel bisection have no --jobs), or with
# --jobs $BEFORE_JOBS where that is set.
set -u -o pipefail
before=$1 after=$2 rounds=${3:-3} base=${4:-onednn} after_jobs=${5:-2}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sim=(--engine sim --base "$base" --quirks quirks/rx5600xt-rocm57.json)
now() { date +%s.%N; }

# One investigation with $1 (boundary options $2...) into a fresh store:
# "sweep_s boundary_s total_s conclusion".
investigate() {
  local cg=$1 db=$work/seed.db t0 t1 t2
  shift
  rm -f "$db"*
  t0=$(now)
  "$cg" sweep --db "$db" "${sim[@]}" --batch shapes/seed.txt --jobs 2 >"$work/sweep.txt" 2>&1
  t1=$(now)
  "$cg" boundary --db "$db" "${sim[@]}" "$@" --dir FWD_D --axis ih=8:512:2 --tie iw \
    mb1ic16oc32kh3ph1 >"$work/boundary.txt" 2>&1
  t2=$(now)
  local sweep_line bound_line
  sweep_line=$(grep -Eo '[0-9]+ probes?[^;]*' "$work/sweep.txt" | tail -1)
  bound_line=$(grep -Eo 'largest ok: [^;]*' "$work/boundary.txt" | tail -1 | sed 's/  */ /g')
  awk -v a="$t0" -v b="$t1" -v c="$t2" -v s="$sweep_line" -v l="$bound_line" \
    'BEGIN { printf "%.2f %.2f %.2f %s; %s\n", b - a, c - b, c - a, s, l }'
}

echo "## The seed investigation, sim over $base, default deadlines ($rounds rounds, alternating)"
echo
echo "before: $before${BEFORE_JOBS:+ (boundary --jobs $BEFORE_JOBS)}"
echo "after: $after (boundary --jobs $after_jobs)"
echo
echo "| round | build | sweep s | boundary s | total s | conclusions |"
echo "|---:|---|---:|---:|---:|---|"
declare -a tb ta
for r in $(seq 1 "$rounds"); do
  for which in before after; do
    args=("$before")
    [ -n "${BEFORE_JOBS:-}" ] && args+=(--jobs "$BEFORE_JOBS")
    [ "$which" = after ] && args=("$after" --jobs "$after_jobs")
    read -r sw bo to rest <<<"$(investigate "${args[@]}")"
    echo "| $r | $which | $sw | $bo | $to | $rest |"
    if [ "$which" = before ]; then tb+=("$to"); else ta+=("$to"); fi
  done
done
med() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
mb=$(med "${tb[@]}") ma=$(med "${ta[@]}")
awk -v b="$mb" -v a="$ma" 'BEGIN { printf "\nmedian total: before %.2f s, after %.2f s, ratio before/after %.1f\n", b, a, b / a }'

echo
# The boundary alone by --jobs (after): on a fresh store (the search from the ends), and on a
# store the sweep seeded (the search starts from the sweep's results on its line).
boundary_by_jobs() {
  local seeded=$1 j db t0 t1
  for j in 1 2 4; do
    db=$work/jobs.db
    rm -f "$db"*
    [ "$seeded" = yes ] && "$after" sweep --db "$db" "${sim[@]}" --batch shapes/seed.txt --jobs 2 >/dev/null 2>&1
    t0=$(now)
    "$after" boundary --db "$db" "${sim[@]}" --jobs "$j" --json --dir FWD_D --axis ih=8:512:2 \
      --tie iw mb1ic16oc32kh3ph1 >"$work/b.jsonl" 2>/dev/null
    t1=$(now)
    python3 - "$work/b.jsonl" "$j" "$t0" "$t1" "$seeded" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
s = [r for r in rows if "largest_ok" in r][-1]
print(f"| {sys.argv[5]} | {sys.argv[2]} | {s.get('rounds', '?')} | {s['probes']} | {s.get('stored', 0)} | "
      f"{float(sys.argv[4]) - float(sys.argv[3]):.2f} | largest ok {s['largest_ok']}, first failing "
      f"{s['first_failing']} ({s['outcome']}), {'confirmed' if s['confirmed'] else 'not confirmed'} |")
PY
  done
}

echo "## Boundary rounds, probes and wall by --jobs (after)"
echo
echo "| store seeded by the sweep | jobs | rounds | probes | stored results used | wall s | conclusion |"
echo "|---|---:|---:|---:|---:|---:|---|"
boundary_by_jobs no
boundary_by_jobs yes
