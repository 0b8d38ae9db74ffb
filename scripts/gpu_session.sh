#!/usr/bin/env bash
# One GPU session for the cuDNN engine (issue 5).
#
#   scripts/gpu_session.sh stage       here: build build-gpu (Release) and stage what the
#                                      device lacks in .carry/ (binaries, ctest files, libs)
#   scripts/gpu_session.sh validate    device: nvidia-smi facts, ctest -L gpu
#   scripts/gpu_session.sh full        device: validate, then the measurements
#   scripts/gpu_session.sh guard       device: guard benchmark, guarded ResNet-18 and the
#                                      seed demo over cudnn (issue 6; real GPU hangs)
#   scripts/gpu_session.sh benches     device: validate, then the CPU benchmarks on its 16 quiet
#                                      cores (engine, isolation, store on NVMe) and guard mode
#   scripts/gpu_session.sh tables      device: only the outcome tables (TABLE_SUBCOMMAND=run
#                                      runs them in process, TABLE_SECONDS caps each list)
#   scripts/gpu_session.sh seed        device: validate, then the seed's investigation over
#                                      sim+cudnn with the default deadlines (issue 13), timed
#   scripts/gpu_session.sh errata      device: PyTorch reads an exported cuDNN errata file and
#                                      runs another engine (issue 17); fast_errata: validate, errata, fast
#   scripts/gpu_session.sh verdicts    device: issue 13 with one build: the seed investigation
#                                      with the default execute floor against --exec-floor 0.1,
#                                      then deadline_bench (hang latency, a 10,000-probe false-hang
#                                      soak at --jobs 1 and 4) beside a process keeping the GPU busy
#   scripts/gpu_session.sh scaling     device: issue 18 on one GPU: the all-algorithm f32 sweep of
#                                      shapes/resnet50.txt with --jobs 1, 2 and 4
#   scripts/gpu_session.sh numerics    device: issue 14's three all-algorithm lists, then every
#                                      finding's cudnn_repro line (the fills convguard used)
#   scripts/gpu_session.sh owed        device: validate, verdicts, numerics, scaling
#   scripts/gpu_session.sh recheck     device: after the crowded-hang change: the three lists side by
#                                      side again (15 workers) and one round of the seed investigation
#   scripts/gpu_session.sh final       device: numerics of $LISTS, the soak beside a busy GPU,
#                                      stamped hang events (every step capped)
#   scripts/gpu_session.sh s5          device: issue 13 after the boundary starts from the sweep's
#                                      results: ctest -L gpu, the seed investigation before/after,
#                                      the boundary by --jobs, one stamped investigation per build
#   scripts/gpu_session.sh fast        device: issue 13's before/after: the seed investigation
#                                      (bench/seed_investigation.sh, convguard-before vs this
#                                      build), boundary --jobs 1,2,4, hang latency, a false-hang
#                                      soak of mixed cuDNN probes
#
# GPU_TARGETS (stage) narrows what is built, e.g. "convguard cudnn_engine_test".
# GPU_BUILD_DIR (stage) stages from another configured build folder (e.g. build, the test
# command's RelWithDebInfo one) instead of configuring build-gpu (Release).
# BEFORE_CONVGUARD (stage) names an earlier build's convguard to carry as convguard-before.
#
# On the device call it as: run(command="scripts/gpu_session.sh full", carry=[".carry"]).
# Logs go to $OUT (or out/ when unset); a short table is printed last.
set -u -o pipefail
MODE=${1:-full}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/out}
mkdir -p "$OUT"
# The build folder's ctest files name absolute paths from the build machine: the device
# links that path to the staged copy (stage writes it down).
BUILD_PATH=$(cat "$ROOT/.carry/build-gpu/build_path" 2>/dev/null || echo /work/main/build-gpu)

stage() {
  cd "$ROOT" || exit 1
  local b=${GPU_BUILD_DIR:-build-gpu}
  [ -d "$b" ] || cmake -S . -B "$b" -DCMAKE_BUILD_TYPE=Release -DCONVGUARD_WERROR=ON
  local targets=(cudnn_engine_test guard_bench resnet18_guarded engine_bench isolation_bench
                 store_bench convguard)
  [ -n "${GPU_TARGETS:-}" ] && read -r -a targets <<<"$GPU_TARGETS"
  cmake --build "$b" --target "${targets[@]}" -j2 || exit 1
  rm -rf .carry/build-gpu .carry/libs.tar.xz && mkdir -p .carry/build-gpu/bin
  cp "$b"/CTestTestfile.cmake "$b"/*_include.cmake .carry/build-gpu/ 2>/dev/null
  cp "$b"/cudnn_engine_test*_tests.cmake .carry/build-gpu/
  (cd "$b" && pwd) >.carry/build-gpu/build_path
  for t in "${targets[@]}"; do
    cp "$b/$t" .carry/build-gpu/ && strip .carry/build-gpu/"$t"
  done
  if [ -n "${BEFORE_CONVGUARD:-}" ]; then
    cp "$BEFORE_CONVGUARD" .carry/build-gpu/convguard-before && strip .carry/build-gpu/convguard-before
  fi
  local libs=(libdnnl.so.2 libfmt.so.9 libsqlite3.so.0 libOpenCL.so.1 libgomp.so.1 libbenchmark.so.1debian)
  (cd /lib/x86_64-linux-gnu && tar chJf "$ROOT/.carry/libs.tar.xz" "${libs[@]}")
  du -sh .carry
}

setup_device() {
  mkdir -p /tmp/cglib && tar xJf "$ROOT/.carry/libs.tar.xz" -C /tmp/cglib
  local cudnn
  cudnn=$(ldconfig -p | awk '/libcudnn.so.9 /{print $NF; exit}')
  [ -n "$cudnn" ] || cudnn=$(find / -name libcudnn.so.9 -not -path '/proc/*' 2>/dev/null | head -1)
  echo "libcudnn.so.9: ${cudnn:-NOT FOUND}"
  export LD_LIBRARY_PATH=/tmp/cglib:$(dirname "${cudnn:-/x/x}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  if [ ! -e "$BUILD_PATH" ]; then
    mkdir -p "$(dirname "$BUILD_PATH")" && ln -s "$ROOT/.carry/build-gpu" "$BUILD_PATH"
  fi
  CG=$BUILD_PATH/convguard
}

gpu_facts() {
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem,temperature.gpu \
    --format=csv | tee "$OUT/nvidia-smi.txt"
  nvidia-smi | head -12 >>"$OUT/nvidia-smi.txt"
}

validate() {
  (cd "$BUILD_PATH" && ctest -L gpu --output-on-failure --timeout 300 -V) >"$OUT/ctest.log" 2>&1
  local rc=$?
  grep -E "^[0-9]+/[0-9]+ Test|tests passed|kill->reaped|  (device|cudnn|driver|cuda_runtime|compute_capability) =" \
    "$OUT/ctest.log" | sed 's/^[0-9]*: //' | sort -u | tail -40
  [ $rc -eq 0 ] || grep -B2 -A12 "Failure\|FAILED\|Expected" "$OUT/ctest.log" | head -150
  echo "ctest rc=$rc"
}

now() { date +%s.%N; }
stamp() { python3 -u -c 'import sys,time
for l in sys.stdin: print(f"{time.time():.3f} {l}", end="", flush=True)'; }

# (b) a real GPU hang through sim over cudnn: ih 44 hangs under the rx5600xt quirk.
measure_hang() {
  printf '%s\n' mb1ic16ih40oc16kh3ph1 mb1ic16ih44oc16kh3ph1 mb1ic16ih42oc16kh3ph1 >/tmp/hang.txt
  local t0 t1
  t0=$(now)
  "$CG" probe --engine sim --base cudnn --quirks quirks/rx5600xt-rocm57.json --dir FWD_D \
    --batch /tmp/hang.txt --timeout-exec 2 --json -v >"$OUT/hang.jsonl" 2> >(stamp >"$OUT/hang.err")
  t1=$(now)
  sleep 0.5
  echo "hang run: $(awk "BEGIN{print $t1 - $t0}") s, rc in jsonl" >>"$OUT/hang.err"
  nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv >"$OUT/apps_after.txt"
}

# (c) 1,000 small distinct problems, default algorithm: in-process run vs isolated probe.
measure_throughput() {
  local ic oc ih t0 t1 t2 t3 t4
  for ic in 1 2 3 4 5 6 7 8 9 10; do for oc in 1 2 3 4 5 6 7 8 9 10; do
    for ih in 5 6 7 8 9 10 11 12 13 14; do echo "mb1ic${ic}ih${ih}oc${oc}kh3ph1"; done
  done; done >/tmp/small1000.txt
  local common=(--engine cudnn --dir FWD_D --dt f32 --batch /tmp/small1000.txt --json)
  t0=$(now); "$CG" run "${common[@]}" >"$OUT/tp_run.jsonl" 2>"$OUT/tp_run.err"
  t1=$(now); "$CG" probe "${common[@]}" >"$OUT/tp_probe.jsonl" 2>"$OUT/tp_probe.err"
  t2=$(now); "$CG" probe "${common[@]}" --no-verify >"$OUT/tp_probe_nv.jsonl" 2>>"$OUT/tp_probe.err"
  t3=$(now); "$CG" probe "${common[@]}" -j 4 >"$OUT/tp_probe_j4.jsonl" 2>>"$OUT/tp_probe.err"
  t4=$(now)
  printf 'run %s\nprobe %s\nprobe_noverify %s\nprobe_j4 %s\n' "$(awk "BEGIN{print $t1 - $t0}")" \
    "$(awk "BEGIN{print $t2 - $t1}")" "$(awk "BEGIN{print $t3 - $t2}")" "$(awk "BEGIN{print $t4 - $t3}")" >"$OUT/tp_times.txt"
}

# (a) every algorithm x direction x data type on the shape lists (capped in time:
# a partial table is still a table).
measure_tables() {
  local list
  for list in resnet50 awkward; do
    timeout -s INT "${TABLE_SECONDS:-200}" "$CG" "${TABLE_SUBCOMMAND:-probe}" --engine cudnn --algo all \
      --dir FWD_D,BWD_D,BWD_W --dt f32,f16,bf16 --batch "shapes/$list.txt" --json \
      $([ "${TABLE_SUBCOMMAND:-probe}" = probe ] && echo "-j ${TABLE_JOBS:-4}") \
      >"$OUT/$list.jsonl" 2>"$OUT/$list.err"
    echo "$list rc=$? lines=$(wc -l <"$OUT/$list.jsonl")" >>"$OUT/tables.log"
  done
  nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv >>"$OUT/apps_after.txt"
}

measure() {
  cd "$ROOT" || return 1
  measure_hang
  measure_throughput
  measure_tables
  summarise "$OUT" | tee "$OUT/summary.md" | tail -70
}

# Markdown tables from the JSON lines under $1.
summarise() {
  python3 - "$1" <<'PY'
import json, os, re, sys, statistics
out = sys.argv[1]
ABBR = {"ok": "ok", "unsupported": "u", "wrong": "W", "oob": "OOB", "error": "E", "crash": "C",
        "hang": "H", "wedged": "WEDGED", "suspect": "S", "invalid": "I"}
COLS = [(d, t) for d in ("FWD_D", "BWD_D", "BWD_W") for t in ("f32", "f16", "bf16")]

def load(name):
    rows = []
    path = os.path.join(out, name)
    if not os.path.exists(path): return rows
    for line in open(path):
        try: j = json.loads(line)
        except ValueError: continue
        if "outcome" in j and "problem" in j: rows.append(j)
    return rows

def row_key(algo):
    a = re.sub(r"^(fwd|bwd_data|bwd_filter)\.", "", algo)
    m = re.match(r"engine(\d+)$", a)
    return (2, int(m.group(1)), a) if m else ((0, 0, a) if a == "default" else (1, 0, a))

def descriptor(problem):
    return problem.split()[-1]

def repro(j):
    layout = " --layout nhwc" if "axb" in j["problem"] else ""
    return (f"convguard probe --engine cudnn --dir {j['dir']} --dt {j['dt']}{layout} "
            f"--algo {j['algo']} {descriptor(j['problem'])}")

def table(name, rows):
    print(f"\n## {name}: {len(rows)} probes, {len({r['problem'] for r in rows})} problems\n")
    total = {}
    for r in rows: total[r["outcome"]] = total.get(r["outcome"], 0) + 1
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(total.items())) + "\n")
    cells = {}
    for r in rows:
        k = row_key(r["algo"])[2]
        c = cells.setdefault(k, {}).setdefault((r["dir"], r["dt"]), {})
        c[r["outcome"]] = c.get(r["outcome"], 0) + 1
    print("| algorithm | " + " | ".join(f"{d} {t}" for d, t in COLS) + " |")
    print("|---|" + "---|" * len(COLS))
    for k in sorted(cells, key=row_key):
        line = []
        for col in COLS:
            c = cells[k].get(col, {})
            line.append(" ".join(f"{ABBR.get(o, o)}{n}" for o, n in sorted(c.items())) or "-")
        print(f"| {k} | " + " | ".join(line) + " |")
    bad = [r for r in rows if r["outcome"] not in ("ok", "unsupported")]
    print(f"\n### findings on {name}: {len(bad)} probes not ok/unsupported\n")
    groups = {}
    for r in bad:
        groups.setdefault((r["outcome"], row_key(r["algo"])[2], r["dt"]), []).append(r)
    for (o, a, dt), rs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        worst = max(rs, key=lambda r: r.get("max_rel_err", 0))
        print(f"- **{o}** {a} {dt}: {len(rs)} probes (dirs {','.join(sorted({r['dir'] for r in rs}))}),"
              f" worst max_rel_err {worst.get('max_rel_err', 0):.3g}: {worst.get('message', '')[:160]}"
              f"  \n  `{repro(worst)}`")

for name in ("resnet50", "awkward"):
    rows = load(name + ".jsonl")
    if rows: table(f"shapes/{name}.txt", rows)

print("\n## injected GPU hang (sim over cudnn, rx5600xt-rocm57 quirk, --timeout-exec 2)\n")
hang = load("hang.jsonl")
for r in hang:
    print(f"- {descriptor(r['problem'])}: {r['outcome']} in {r['phase']}, wall {r.get('wall_ms', 0):.0f} ms, worker pid {r.get('worker_pid')}: {r.get('message', '')[:100]}")
ev = [l.split(" ", 1) for l in open(os.path.join(out, "hang.err"))] if os.path.exists(os.path.join(out, "hang.err")) else []
hang_t = next((float(t) for t, l in ev if "verdict hang" in l), None)
canary_t = next((float(t) for t, l in ev if hang_t and float(t) > hang_t and "canary_passed" in l), None)
next_t = next((float(t) for t, l in ev if canary_t and float(t) > canary_t and "verdict" in l), None)
if hang_t and canary_t:
    print(f"- verdict hang -> canary passed: {1000 * (canary_t - hang_t):.0f} ms")
if canary_t and next_t:
    print(f"- canary passed -> next probe's verdict: {1000 * (next_t - canary_t):.0f} ms")
if os.path.exists(os.path.join(out, "apps_after.txt")):
    apps = [l.strip() for l in open(os.path.join(out, "apps_after.txt")) if l.strip() and not l.startswith("pid")]
    print(f"- compute apps on the GPU after the runs: {len(apps)} {apps[:3]}")

print("\n## throughput: 1,000 small distinct FWD_D f32 problems, default algorithm\n")
times = dict(l.split() for l in open(os.path.join(out, "tp_times.txt"))) if os.path.exists(os.path.join(out, "tp_times.txt")) else {}
for k in ("run", "probe", "probe_noverify", "probe_j4"):
    rows = load({"run": "tp_run.jsonl", "probe": "tp_probe.jsonl", "probe_noverify": "tp_probe_nv.jsonl", "probe_j4": "tp_probe_j4.jsonl"}[k])
    if k in times:
        t = float(times[k])
        oks = sum(r["outcome"] == "ok" for r in rows)
        print(f"- {k}: {t:.2f} s, {len(rows)} results ({oks} ok), {len(rows) / t:.0f} probes/s")
if "run" in times and "probe" in times:
    print(f"- ratio isolated probe / in-process run (throughput, verification on): {float(times['run']) / float(times['probe']):.2f}")
PY
}

# Only 8 files come back from the device: pack everything but the summary into one.
# Issue 6 on the GPU: the guard's ratios, the guarded ResNet-18 stack, and the seed's
# investigation with real never-ending kernels instead of CPU spins.
measure_guard() {
  cd "$ROOT" || return 1
  local d=$BUILD_PATH
  "$d/guard_bench" --engine cudnn --cpu-engine onednn --mb 8 --repeats 50 \
    >"$OUT/guard_bench.txt" 2>"$OUT/guard_bench.err"
  echo "guard_bench rc=$?" >>"$OUT/guard_bench.txt"
  "$d/resnet18_guarded" --base cudnn --profile /tmp/r18-gpu.profile.json \
    >"$OUT/resnet18.txt" 2>"$OUT/resnet18.err"
  echo "resnet18_guarded rc=$?" >>"$OUT/resnet18.txt"
  local db=/tmp/seed-gpu.db t0 t1
  local sim=(--engine sim --base cudnn --quirks quirks/rx5600xt-rocm57.json)
  t0=$(now)
  "$CG" sweep --db "$db" "${sim[@]}" --batch shapes/seed.txt --jobs 2 >"$OUT/seed.txt" 2>&1
  "$CG" boundary --db "$db" "${sim[@]}" --dir FWD_D --axis ih=8:512:2 --tie iw \
    mb1ic16oc32kh3ph1 >>"$OUT/seed.txt" 2>&1
  t1=$(now)
  "$CG" report --db "$db" --format md >>"$OUT/seed.txt" 2>&1
  echo "seed investigation on the GPU: $(awk "BEGIN{print $t1 - $t0}") s" >>"$OUT/seed.txt"
  nvidia-smi --query-compute-apps=pid,process_name --format=csv >>"$OUT/seed.txt"
  cat "$OUT/guard_bench.txt"; tail -25 "$OUT/resnet18.txt"; grep -E "probes|largest|GPU|pid" "$OUT/seed.txt"
}

# Issue 13: the seed's investigation (scripts/demo.sh's sweep and boundary) over sim+cudnn
# with real never-ending kernels and the default deadlines (no --timeout-exec), each step
# timed; the boundary starts from the speeds the sweep stored.
measure_seed() {
  cd "$ROOT" || return 1
  local db=/tmp/seed13.db t0 t1 t2
  local sim=(--engine sim --base cudnn --quirks quirks/rx5600xt-rocm57.json)
  rm -f "$db"*
  t0=$(now)
  "$CG" sweep --db "$db" "${sim[@]}" --batch shapes/seed.txt --jobs 2 >"$OUT/seed13.txt" 2>&1
  t1=$(now)
  "$CG" boundary --db "$db" "${sim[@]}" --dir FWD_D --axis ih=8:512:2 --tie iw \
    mb1ic16oc32kh3ph1 >>"$OUT/seed13.txt" 2>&1
  t2=$(now)
  "$CG" report --db "$db" --format md >>"$OUT/seed13.txt" 2>&1
  awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "seed on the GPU: sweep %.1f s, boundary %.1f s, total %.1f s\n", b - a, c - b, c - a }' |
    tee -a "$OUT/seed13.txt"
  grep -E "deadline of|largest ok|16→32: largest" "$OUT/seed13.txt" | sed 's/(pid [0-9]*)//' | sort | uniq -c | sort -rn | head -12
}

# Issue 13 on the GPU: before/after side by side, then hang latency and a false-hang soak.
measure_fast() {
  cd "$ROOT" || return 1
  bench/seed_investigation.sh "$BUILD_PATH/convguard-before" "$CG" "${SEED_ROUNDS:-2}" cudnn \
    >"$OUT/seed_investigation.md" 2>&1
  cat "$OUT/seed_investigation.md"
  # Hang latency: 10 hangs (ih 44) between ok probes (ih 42), events timestamped.
  local i
  for i in $(seq 10); do printf '%s\n' mb1ic16ih42oc32kh3ph1 mb1ic16ih44oc32kh3ph1; done >/tmp/hangs.txt
  echo mb1ic16ih42oc32kh3ph1 >>/tmp/hangs.txt
  "$CG" probe --engine sim --base cudnn --quirks quirks/rx5600xt-rocm57.json --dir FWD_D \
    --batch /tmp/hangs.txt --json -v >"$OUT/hangs.jsonl" 2> >(stamp >"$OUT/hangs.err")
  sleep 0.5
  python3 - "$OUT/hangs.err" <<'PY'
import sys
ev = [l.rstrip().split(" ", 1) for l in open(sys.argv[1])]
ev = [(float(t), m) for t, m in ev if t.replace(".", "").isdigit()]
v = [t for t, m in ev if "verdict hang" in m]
nxt = []
for t in v:
    later = [u for u, m in ev if u > t and "verdict ok" in m]
    if later: nxt.append(later[0] - t)
print(f"\n## Hang latency on the GPU: {len(v)} hang verdicts; hang verdict -> next ok verdict (canary on the spare and the next probe, whole): "
      + ", ".join(f"{1000 * x:.0f}" for x in sorted(nxt)) + " ms")
PY
  # False-hang soak: mixed cuDNN problems, default deadlines, jobs 1 and 4.
  python3 - <<'PY' >/tmp/soak.txt
import random
r = random.Random(13)
for i in range(int(__import__("os").environ.get("SOAK", "3000"))):
    k = r.randrange(100)
    if k < 80: mb, c1, c2, h, kk = r.randint(1, 2), r.randint(1, 8), r.randint(1, 8), r.randint(4, 16), r.choice([1, 3])
    elif k < 99: mb, c1, c2, h, kk = 1, r.randint(8, 48), r.randint(8, 48), r.randint(16, 64), 3
    else: mb, c1, c2, h, kk = 1, 64, 64, r.randint(120, 260), 3
    print(f"mb{mb}ic{c1}ih{h}oc{c2}kh{kk}ph{kk // 2}")
PY
  local j t0 t1
  for j in 1 4; do
    t0=$(now)
    "$CG" probe --engine cudnn --dir FWD_D --batch /tmp/soak.txt --no-verify --jobs "$j" --json \
      >"$OUT/soak_j$j.jsonl" 2>/dev/null
    t1=$(now)
    python3 - "$OUT/soak_j$j.jsonl" "$j" "$t0" "$t1" <<'PY'
import json, sys, collections
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
c = collections.Counter(r["outcome"] for r in rows if "outcome" in r)
print(f"soak jobs={sys.argv[2]}: {sum(c.values())} probes in {float(sys.argv[4]) - float(sys.argv[3]):.1f} s: {dict(c)}")
PY
  done
}

# A process that keeps the GPU busy (matrix products in a loop) until killed; returns once the
# GPU reports it busy (importing torch takes seconds), or after 30 s.
start_gpu_load() {
  env -u LD_LIBRARY_PATH python3 -c '
import torch, time
a = torch.randn(4096, 4096, device="cuda")
end = time.time() + 900
while time.time() < end:
    a = (a @ a).clamp_(-1, 1)
' >"$OUT/gpu_load.log" 2>&1 &
  GPU_LOAD=$!
  local i u=0
  for i in $(seq 30); do
    u=$(nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits | head -1)
    [ "${u:-0}" -ge 50 ] && break
    sleep 1
  done
  echo "GPU utilisation with the load after ${i} s: ${u} %" | tee -a "$OUT/gpu_load.log"
}

stop_gpu_load() {
  echo "GPU utilisation before the load stops: $(nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader)" | tee -a "$OUT/gpu_load.log"
  kill "$GPU_LOAD" 2>/dev/null; wait "$GPU_LOAD" 2>/dev/null
}

# /tmp/cg-floor01: this build's convguard with --exec-floor 0.1, to run beside the default.
floor01_wrapper() {
  printf '#!/bin/sh\nexec "%s" "$@" --exec-floor 0.1\n' "$CG" >/tmp/cg-floor01 && chmod +x /tmp/cg-floor01
}

# Issue 13 with one build: the default execute floor (0.2 s) against 0.1 s, alternating, then
# deadline_bench's hang latency and false-hang soak on cudnn beside a busy GPU.
measure_verdicts() {
  cd "$ROOT" || return 1
  floor01_wrapper
  timeout 120 bench/seed_investigation.sh "$CG" /tmp/cg-floor01 "${SEED_ROUNDS:-3}" cudnn \
    >"$OUT/seed_investigation.md" 2>&1
  cat "$OUT/seed_investigation.md"
  start_gpu_load
  timeout 150 "$BUILD_PATH/deadline_bench" --engine cudnn --base cudnn --quirks quirks/rx5600xt-rocm57.json \
    --hangs 10 --soak 10000 --jobs 1,4 --busy 0 >"$OUT/deadline_bench.md" 2>"$OUT/deadline_bench.err"
  echo "deadline_bench rc=$?" >>"$OUT/deadline_bench.md"
  timeout 60 "$BUILD_PATH/deadline_bench" --engine cudnn --base cudnn --quirks quirks/rx5600xt-rocm57.json \
    --floor 0.1 --hangs 10 --soak 10000 --jobs 4 --busy 0 >"$OUT/deadline_bench_floor01.md" 2>>"$OUT/deadline_bench.err"
  echo "deadline_bench --floor 0.1 rc=$?" >>"$OUT/deadline_bench_floor01.md"
  stop_gpu_load
  grep -E "^\| (current|former|[0-9])" "$OUT/deadline_bench.md" "$OUT/deadline_bench_floor01.md"
}

# Issue 18 on one GPU: the all-algorithm f32 sweep of shapes/resnet50.txt by --jobs.
measure_scaling() {
  cd "$ROOT" || return 1
  local j t0 t1 n
  echo "| jobs | probes | wall s | probes/s |" >"$OUT/scaling.md"
  echo "|---:|---:|---:|---:|" >>"$OUT/scaling.md"
  for j in ${SCALING_JOBS:-1 2 4}; do
    rm -f /tmp/scale.db*
    t0=$(now)
    timeout 120 "$CG" sweep --db /tmp/scale.db --engine cudnn --algo all --dir FWD_D,BWD_D,BWD_W \
      --dt f32 --batch shapes/resnet50.txt --jobs "$j" >"$OUT/scaling_j$j.txt" 2>&1
    t1=$(now)
    n=$("$CG" report --db /tmp/scale.db --format json 2>/dev/null | grep -o '"outcome"' | wc -l)
    awk -v j="$j" -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "| %d | %d | %.1f | %.0f |\n", j, n, b - a, n / (b - a) }' >>"$OUT/scaling.md"
  done
  cat "$OUT/scaling.md"
}

# Issue 14: the three lists, then the findings' repro lines (this run's and the earlier table's)
# through cudnn_repro with convguard's fills, four at a time.
measure_numerics() {
  cd "$ROOT" || return 1
  SECONDS_PER_LIST=${SECONDS_PER_LIST:-200} JOBS=${JOBS:-5} bash bench/numerics_gpu.sh sweep
  python3 bench/numerics_table.py "$OUT" --repro-lines /tmp/lines_new.txt >/dev/null 2>"$OUT/table.err"
  { cat /tmp/lines_new.txt
    sed -n 's/ => .*//p' bench/results/2026-12-02-numerics-h200-repro.txt; } | sort -u >"$OUT/repro_lines.txt"
  split -n l/4 "$OUT/repro_lines.txt" /tmp/repro_part.
  local f
  for f in /tmp/repro_part.*; do timeout -k 2 "${REPRO_SECONDS:-80}" bash bench/numerics_gpu.sh repro "$f" >/dev/null & done
  wait
  echo "repro lines: $(wc -l <"$OUT/repro_lines.txt"), reproduced as wrong/error: $(grep -c 'verdict=wrong\|status=cudnn\|status=CUDNN\|rc=' "$OUT/repro.txt")"
  for f in "$OUT"/*.jsonl; do xz -T4 "$f"; done
}

# The last call of a session: issue 14's lists that came back last time, the soak beside a GPU
# that is verified busy, and one worker's stamped events around ten hangs (where a hang's
# 0.3 s goes). Every step is capped, so the logs are packed whatever happens.
measure_final() {
  cd "$ROOT" || return 1
  LISTS=${LISTS:-resnet50 mobilenet_v1} SECONDS_PER_LIST=${SECONDS_PER_LIST:-100} measure_numerics
  start_gpu_load
  timeout -k 3 50 "$BUILD_PATH/deadline_bench" --engine cudnn --base cudnn --hangs 0 --soak 10000 \
    --jobs 4 --busy 0 >"$OUT/deadline_busy_gpu.md" 2>"$OUT/deadline_busy_gpu.err"
  echo "deadline_bench busy GPU rc=$?" >>"$OUT/deadline_busy_gpu.md"
  stop_gpu_load
  grep -E "^\| [0-9]" "$OUT/deadline_busy_gpu.md"
  local i
  for i in $(seq 10); do printf '%s\n' mb1ic16ih42oc32kh3ph1 mb1ic16ih44oc32kh3ph1; done >/tmp/hangs.txt
  timeout -k 3 15 "$CG" probe --engine sim --base cudnn --quirks quirks/rx5600xt-rocm57.json --dir FWD_D \
    --batch /tmp/hangs.txt --json -v >"$OUT/hangs.jsonl" 2> >(stamp >"$OUT/hangs.err")
  sleep 0.3
}

# The three lists side by side again (the load that made five false hangs) and the seed's
# investigation once, default floor against 0.1 s.
measure_recheck() {
  cd "$ROOT" || return 1
  LISTS="resnet50 awkward mobilenet_v1" SECONDS_PER_LIST=${SECONDS_PER_LIST:-170} REPRO_SECONDS=40 measure_numerics
  floor01_wrapper
  timeout -k 3 40 bench/seed_investigation.sh "$CG" /tmp/cg-floor01 1 cudnn >"$OUT/seed_investigation.md" 2>&1
  grep -E "^\| 1 |median" "$OUT/seed_investigation.md"
  for f in "$OUT"/*.jsonl.xz; do
    echo "$(basename "$f"): $(xz -dc "$f" | grep -c '"outcome":"hang"') hangs, attempts > 1: $(xz -dc "$f" | grep -c '"attempt":2')"
  done
}

# Issue 13, fifth session: the seed investigation before/after (the boundary starting from the
# sweep's results, spares killed at exit), the boundary by --jobs, one investigation of each
# build with its events stamped (where the seconds go, the exit included), the GPU tests.
measure_s5() {
  cd "$ROOT" || return 1
  if [ -z "${S5_NO_CTEST:-}" ]; then
    (cd "$BUILD_PATH" && timeout -k 3 150 ctest -L gpu --output-on-failure --timeout 120) >"$OUT/ctest.log" 2>&1
    echo "ctest -L gpu rc=$? $(grep -E 'tests passed' "$OUT/ctest.log")"
  fi
  BEFORE_JOBS=2 timeout -k 3 200 bench/seed_investigation.sh "$BUILD_PATH/convguard-before" "$CG" "${SEED_ROUNDS:-3}" cudnn \
    >"$OUT/seed_investigation.md" 2>&1
  echo "seed_investigation rc=$?"
  local b db=/tmp/s5.db sim=(--engine sim --base cudnn --quirks quirks/rx5600xt-rocm57.json) t0 t1 t2 v
  for b in before after; do
    local cg=$CG v=-vv
    [ $b = before ] && cg=$BUILD_PATH/convguard-before v=-v
    rm -f "$db"*
    t0=$(now)
    timeout -k 2 30 "$cg" sweep --db "$db" "${sim[@]}" --batch shapes/seed.txt --jobs 2 $v \
      >"$OUT/events_$b.txt" 2> >(stamp >"$OUT/events_$b.err")
    t1=$(now)
    timeout -k 2 30 "$cg" boundary --db "$db" "${sim[@]}" --dir FWD_D --axis ih=8:512:2 --tie iw --jobs 2 $v \
      mb1ic16oc32kh3ph1 >>"$OUT/events_$b.txt" 2> >(stamp >>"$OUT/events_$b.err")
    t2=$(now)
    sleep 0.2
    echo "$b: sweep $t0 -> $t1, boundary $t1 -> $t2" | tee -a "$OUT/events_walls.txt"
  done
  grep -E "^\| [0-9]|median|^\| (yes|no) " "$OUT/seed_investigation.md"
  if [ -n "${S5_SOAK:-}" ]; then
    timeout -k 3 100 "$BUILD_PATH/deadline_bench" --engine cudnn --base cudnn --quirks quirks/rx5600xt-rocm57.json \
      --hangs 10 --soak 10000 --jobs 4 --busy 0 >"$OUT/deadline_bench.md" 2>"$OUT/deadline_bench.err"
    echo "deadline_bench rc=$?"
    grep -E "^\| " "$OUT/deadline_bench.md"
  fi
}

# Issue 17 on the GPU: does PyTorch read an exported errata file, and does it then run another
# engine? The engine PyTorch runs for the seed's 44x44 shape is made `wrong` (sim over cudnn),
# the store becomes a profile, the profile an errata file, and PyTorch runs the shape again
# with CUDNN_ERRATA_JSON_FILE; then once more with the cuDNN version bracket removed (the
# frontend compares it with the cuDNN PyTorch was compiled against). A second shape, not in
# the errata, shows whether PyTorch applies the rule's shape.
measure_errata() {
  cd "$ROOT" || return 1
  local d=/tmp/errata eng py=(env -u LD_LIBRARY_PATH python3)
  # PyTorch runs on its own cuDNN, not the one convguard's LD_LIBRARY_PATH points at.
  "${py[@]}" -c 'import torch' 2>/dev/null || py=(env -u LD_LIBRARY_PATH /opt/torch/.venv/bin/python3)
  rm -rf "$d" && mkdir -p "$d"
  local shapes=(1,16,44,44 32,16,3,3 1 8,64,56,56 64,64,3,3 1)
  {
    "${py[@]}" -c 'import torch; print("torch", torch.__version__, "cudnn runtime", torch.backends.cudnn.version(), "compiled", torch._C._cudnn.getCompileVersion())'
    # PyTorch checks plans against errata only when a file is loaded: one that blocks nothing
    # makes the frontend log every plan it checks, so the plan PyTorch runs can be read.
    echo '{"version": 1, "rules": [{"rule_id": "none", "operation": "ConvFwd", "engine": 999999}]}' >"$d/none.json"
    echo "### with an errata file that blocks nothing"
    CUDNN_ERRATA_JSON_FILE=$d/none.json "${py[@]}" bench/errata_torch.py "$d/fe0.log" "${shapes[@]}"
  } >"$OUT/errata.txt" 2>&1
  eng=$(grep -m1 -o 'ran ConvFwd_eng[0-9]*' "$OUT/errata.txt" | grep -o '[0-9]*$')
  if [ -z "$eng" ]; then echo "errata: no plan tag in the frontend log" | tee -a "$OUT/errata.txt"; return; fi
  printf '{"name": "errata-check", "rules": [{"when": {"algo": "engine%s", "dir": ["FWD_D"]}, "effect": "wrong", "message": "planted for the errata check"}]}\n' \
    "$eng" >"$d/q.json"
  {
    "$CG" sweep --db "$d/e.db" --engine sim --base cudnn --quirks "$d/q.json" --algo "engine$eng" \
      --dir FWD_D mb1ic16ih44oc32kh3ph1
    "$CG" profile build --db "$d/e.db" -o "$d/p.json"
    "$CG" profile export --as cudnn-errata "$d/p.json" -o "$d/e.json"
    cat "$d/e.json"
    echo "### with the exported errata file (engine $eng denied for the 44x44 shape)"
    CUDNN_ERRATA_JSON_FILE=$d/e.json "${py[@]}" bench/errata_torch.py "$d/fe1.log" "${shapes[@]}"
    "$CG" profile export --as cudnn-errata --any-cudnn-version "$d/p.json" -o "$d/e-any.json"
    echo "### the same errata for any cuDNN version (--any-cudnn-version)"
    CUDNN_ERRATA_JSON_FILE=$d/e-any.json "${py[@]}" bench/errata_torch.py "$d/fe2.log" "${shapes[@]}"
  } >>"$OUT/errata.txt" 2>&1
  cp "$d"/fe*.log "$OUT/" 2>/dev/null
  grep -E "^torch|^###|^x |cudnn_version|engine\"" "$OUT/errata.txt"
}

# The CPU-side benchmarks, where the cores are not shared with compilers.
measure_benches() {
  cd "$ROOT" || return 1
  local d=$BUILD_PATH
  "$d/engine_bench" --benchmark_min_time=0.5 >"$OUT/engine_bench.txt" 2>&1
  OMP_NUM_THREADS=1 "$d/isolation_bench" --problems 1000 --rounds 5 --min-seconds 2 --hangs 5 --quirks quirks/rx5600xt-rocm57.json \
    >"$OUT/isolation_bench.txt" 2>&1
  (cd /tmp && "$d/store_bench") >"$OUT/store_bench.txt" 2>&1
  tail -22 "$OUT/engine_bench.txt"; tail -25 "$OUT/isolation_bench.txt"; tail -20 "$OUT/store_bench.txt"
}

pack_out() {
  (cd "$OUT" && tar cJf /tmp/cg_logs.tar.xz --exclude=summary.md . && find . -type f ! -name summary.md -delete &&
    mv /tmp/cg_logs.tar.xz logs.tar.xz)
}

main() {
  case "$MODE" in
    stage) stage; return ;;
    validate|full) setup_device; gpu_facts; validate ;;
    guard) setup_device; gpu_facts; measure_guard; return ;;
    benches) setup_device; gpu_facts; validate; measure_benches; measure_guard; return ;;
    seed) setup_device; gpu_facts; validate; measure_seed; return ;;
    fast) setup_device; gpu_facts; measure_fast; return ;;
    verdicts) setup_device; gpu_facts; measure_verdicts; return ;;
    scaling) setup_device; gpu_facts; measure_scaling; return ;;
    numerics) setup_device; gpu_facts; measure_numerics; return ;;
    owed) setup_device; gpu_facts; validate; measure_verdicts; measure_numerics; measure_scaling; return ;;
    final) setup_device; gpu_facts; measure_final; return ;;
    recheck) setup_device; gpu_facts; measure_recheck; return ;;
    s5) setup_device; gpu_facts; measure_s5; return ;;
    errata) setup_device; measure_errata; return ;;
    fast_errata) setup_device; gpu_facts; validate; measure_errata; measure_fast; return ;;
    tables) setup_device; cd "$ROOT" && measure_tables; summarise "$OUT" | tee "$OUT/summary.md" | tail -70
      return ;;
    *) echo "usage: $0 stage|validate|full" >&2; exit 2 ;;
  esac
  [ "$MODE" = full ] || return 0
  measure
}

main
[ "$MODE" = stage ] || pack_out
