#!/usr/bin/env bash
# The torch engine on the lent GPU (issue 11).
#
#   scripts/gpu_torch.sh stage   here: build convguard, convguard-torch-worker and
#                                torch_engine_gpu_test in build/, copy them with the Debian
#                                libraries the device lacks into .carry/torch/
#   scripts/gpu_torch.sh run     device: the torch GPU tests, every knob on shapes/resnet50.txt,
#                                the seed's investigation through sim --base torch (real GPU hangs),
#                                isolated probes against a plain PyTorch loop, and the guard under
#                                PyTorch (bench/torch_guard_bench.py, guarded training under quirks)
#   scripts/gpu_torch.sh guard   device: the guard under PyTorch: guarded training steps under the
#                                seed's quirks (TF32 on and off), tiles against native, a cached
#                                route's cost
#   scripts/gpu_torch.sh resnet50 device: ResNet-50 training steps guarded against unguarded, TF32 as
#                                PyTorch runs it and with every library's TF32 off; resnet18 under
#                                the seed's quirks
#   scripts/gpu_torch.sh throughput device: isolated probes against the in-process loop by --jobs
#   scripts/gpu_torch.sh tiles   device: tiles against native (f32 mb 8 and 32, the device-time
#                                trace), then zero_copy_tiles_bench (tiles as strided cuDNN calls
#                                without copies, TF32 off, mb 8 and 32)
#
# Modes of earlier sessions (final, final2, owed, recheck, s5, s5b, notf32) are in the history at
# the commits their results files name.
#
# On the device: run(command="scripts/gpu_torch.sh run", carry=[".carry"]). The worker was built
# here against this machine's torch 2.11 wheel and runs there against the image's torch 2.11
# (same version, same C++ ABI), found through LD_LIBRARY_PATH. Logs under $OUT; a table last.
set -u -o pipefail
MODE=${1:-run}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/out}
BIN=$ROOT/.carry/torch
TARGETS=(convguard convguard-torch-worker torch_engine_gpu_test convguard_torch_guard zero_copy_tiles_bench)
FILES=(convguard convguard-torch-worker torch_engine_gpu_test libconvguard_torch_guard.so zero_copy_tiles_bench)

stage() {
  cd "$ROOT" || exit 1
  cmake --build build --target "${TARGETS[@]}" -j2 || exit 1
  rm -rf "$BIN" && mkdir -p "$BIN"
  for f in "${FILES[@]}"; do cp "build/$f" "$BIN/" && strip "$BIN/$f"; done
  local libs=(libdnnl.so.2 libfmt.so.9 libsqlite3.so.0 libOpenCL.so.1 libgomp.so.1)
  (cd /lib/x86_64-linux-gnu && tar chJf "$BIN/libs.tar.xz" "${libs[@]}")
  du -sh "$BIN"
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
stamp() { python3 -u -c 'import sys,time
for l in sys.stdin: print(f"{time.time():.3f} {l}", end="", flush=True)'; }

setup() {
  mkdir -p "$OUT" /tmp/cglib && tar xJf "$BIN/libs.tar.xz" -C /tmp/cglib
  PY=python3
  python3 -c 'import torch' 2>/dev/null || PY=/opt/torch/.venv/bin/python3
  local torch_lib
  torch_lib=$("$PY" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
  export LD_LIBRARY_PATH=/tmp/cglib:$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export PATH=$(dirname "$(command -v "$PY")"):$PATH
  CG=$BIN/convguard
  export CONVGUARD_BUILD_DIR=$BIN PYTHONPATH=$ROOT/python
  { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
    "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())'
  } | tee "$OUT/facts.txt"
}

gpu_tests() {
  timeout -k 3 "${GPU_TEST_SECONDS:-90}" "$BIN/torch_engine_gpu_test" >"$OUT/gpu_test.log" 2>&1
  echo "torch_engine_gpu_test rc=$? $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$OUT/gpu_test.log" | tr '\n' ' ')" | tee -a "$OUT/steps.txt"
}

knobs() {
  local t0=$(now)
  timeout -s INT 80 "$CG" probe --engine torch --algo all --dir FWD_D,BWD_D,BWD_W --dt f32 \
    --batch shapes/resnet50.txt -j 4 --json >"$OUT/knobs_f32.jsonl" 2>"$OUT/knobs_f32.err"
  echo "knobs f32 rc=$? $(wc -l <"$OUT/knobs_f32.jsonl") probes $(since "$t0") s" | tee -a "$OUT/steps.txt"
  t0=$(now)
  timeout -s INT 40 "$CG" probe --engine torch --algo all --dir FWD_D,BWD_D,BWD_W --dt f16,bf16 \
    --batch shapes/resnet50.txt -j 4 --json >"$OUT/knobs_half.jsonl" 2>"$OUT/knobs_half.err"
  echo "knobs f16,bf16 rc=$? $(wc -l <"$OUT/knobs_half.jsonl") probes $(since "$t0") s" | tee -a "$OUT/steps.txt"
}

seed() {
  local db=/tmp/seed-torch.db t0=$(now)
  local sim=(--engine sim --base torch --quirks quirks/rx5600xt-rocm57.json)
  timeout 60 "$CG" sweep --db "$db" "${sim[@]}" --batch shapes/seed.txt --jobs 2 >"$OUT/seed.txt" 2>&1
  local t1=$(now)
  timeout 60 "$CG" boundary --db "$db" "${sim[@]}" --dir FWD_D --axis ih=8:512:2 --tie iw \
    mb1ic16oc32kh3ph1 >>"$OUT/seed.txt" 2>&1
  echo "seed via sim --base torch: sweep $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s, whole $(since "$t0") s" | tee -a "$OUT/steps.txt"
  "$CG" report --db "$db" --format md >>"$OUT/seed.txt" 2>&1
  grep -E "largest|smallest|boundary|confirmed" "$OUT/seed.txt" | head -5 | tee -a "$OUT/steps.txt"
  nvidia-smi --query-compute-apps=pid,process_name --format=csv,noheader | wc -l |
    sed 's/^/compute processes left on the GPU: /' | tee -a "$OUT/steps.txt"
}

throughput() {
  local ic oc ih t0
  for ic in 1 2 3 4 5 6 7 8 9 10; do for oc in 1 2 3 4 5 6 7 8 9 10; do
    for ih in 5 6 7 8 9 10 11 12 13 14; do echo "mb1ic${ic}ih${ih}oc${oc}kh3ph1"; done
  done; done >/tmp/small1000.txt
  local common=(--engine torch --dir FWD_D --dt f32 --batch /tmp/small1000.txt --json)
  t0=$(now); "$CG" probe "${common[@]}" >"$OUT/tp_probe.jsonl" 2>"$OUT/tp.err"
  echo "probe_j1 $(since "$t0") $(grep -c '"ok"' "$OUT/tp_probe.jsonl")" >"$OUT/tp_times.txt"
  t0=$(now); "$CG" probe "${common[@]}" --no-verify >"$OUT/tp_probe_nv.jsonl" 2>>"$OUT/tp.err"
  echo "probe_noverify $(since "$t0") $(grep -c '"ok"' "$OUT/tp_probe_nv.jsonl")" >>"$OUT/tp_times.txt"
  t0=$(now); "$CG" probe "${common[@]}" -j 4 >"$OUT/tp_probe_j4.jsonl" 2>>"$OUT/tp.err"
  echo "probe_j4 $(since "$t0") $(grep -c '"ok"' "$OUT/tp_probe_j4.jsonl")" >>"$OUT/tp_times.txt"
  t0=$(now); "$PY" bench/torch_loop.py /tmp/small1000.txt >"$OUT/loop.txt" 2>&1
  echo "loop_process $(since "$t0") 1000" >>"$OUT/tp_times.txt"
  "$PY" bench/torch_loop.py /tmp/small1000.txt --check >>"$OUT/loop.txt" 2>&1
  cat "$OUT/loop.txt" "$OUT/tp_times.txt" | tee -a "$OUT/steps.txt"
  # Init and first call: one worker's events, stamped.
  "$CG" probe --engine torch -v --json mb1ic16ih32oc16kh3ph1 mb1ic16ih33oc16kh3ph1 \
    >"$OUT/init.jsonl" 2> >(stamp >"$OUT/init.err")
  t0=$(now); "$PY" -c 'import torch; torch.zeros(1, device="cuda")'
  echo "python: import torch + CUDA context $(since "$t0") s" | tee -a "$OUT/steps.txt"
  sleep 0.3
}

# Isolated torch probes of 1,000 small distinct problems against the in-process loop, by --jobs:
# the whole command, and the steady state (first verdict to last, from the stamped -v events).
throughput_jobs() {
  local ic oc ih t0 j
  for ic in 1 2 3 4 5 6 7 8 9 10; do for oc in 1 2 3 4 5 6 7 8 9 10; do
    for ih in 5 6 7 8 9 10 11 12 13 14; do echo "mb1ic${ic}ih${ih}oc${oc}kh3ph1"; done
  done; done >/tmp/small1000.txt
  timeout -k 3 25 "$PY" bench/torch_loop.py /tmp/small1000.txt >"$OUT/loop.txt" 2>&1
  timeout -k 3 25 "$PY" bench/torch_loop.py /tmp/small1000.txt --check >>"$OUT/loop.txt" 2>&1
  for j in 1 4 8; do
    t0=$(now)
    timeout -k 3 25 "$CG" probe --engine torch --dir FWD_D --dt f32 --batch /tmp/small1000.txt --json -v -j "$j" \
      >"$OUT/tp_j$j.jsonl" 2> >(stamp >"$OUT/tp_j$j.err")
    echo "probe_j$j whole $(since "$t0") s, ok $(grep -c '"ok"' "$OUT/tp_j$j.jsonl")" >>"$OUT/tp_times.txt"
  done
  sleep 0.3
  "$PY" - "$OUT" <<'PY' | tee -a "$OUT/steps.txt"
import os, sys
out = sys.argv[1]
for j in (1, 4, 8):
    ev = [l.split(" ", 1) for l in open(os.path.join(out, f"tp_j{j}.err"))]
    v = [float(t) for t, l in ev if "verdict" in l]
    if len(v) > 1:
        print(f"probe --engine torch -j {j}: {len(v)} verdicts, steady state {(len(v) - 1) / (v[-1] - v[0]):.0f} probes/s")
PY
  cat "$OUT/loop.txt" "$OUT/tp_times.txt" | tee -a "$OUT/steps.txt"
}

tiles() {
  local t0 mb
  for mb in 8 32; do
    t0=$(now)
    timeout -k 3 "${TILES_SECONDS:-90}" "$PY" bench/torch_tiles_bench.py --mb "$mb" --rounds "${TILES_ROUNDS:-5}" --trace \
      >"$OUT/tiles_mb$mb.md" 2>"$OUT/tiles_mb$mb.err"
    echo "torch_tiles_bench mb $mb rc=$? $(since "$t0") s" | tee -a "$OUT/steps.txt"
  done
  for mb in 8 32; do
    t0=$(now)
    NVIDIA_TF32_OVERRIDE=0 timeout -k 3 60 "$BIN/zero_copy_tiles_bench" --mb "$mb" >"$OUT/zero_copy_mb$mb.md" 2>&1
    echo "zero_copy_tiles_bench mb $mb rc=$? $(since "$t0") s" | tee -a "$OUT/steps.txt"
  done
}

# ResNet-50 training steps guarded and unguarded (bench/torch_guard_bench.py): learning every
# distinct problem of an f32 and a bf16 step in isolated workers comes first, so it gets time.
guard_resnet50() {
  local t0=$(now) tag=${1:-}
  # shellcheck disable=SC2086
  timeout -k 3 "${R50_SECONDS:-480}" "$PY" bench/torch_guard_bench.py --profile "/tmp/r50$tag.profile.json" ${R50_ARGS:---steps 10} \
    >"$OUT/guard_bench$tag.md" 2> >(stamp >"$OUT/guard_bench$tag.err")
  echo "torch_guard_bench$tag rc=$? $(since "$t0") s" | tee -a "$OUT/steps.txt"
  tail -5 "$OUT/guard_bench$tag.err"
  cp "/tmp/r50$tag.profile.json" "/tmp/r50$tag.profile.json.quirks.json" "$OUT/" 2>/dev/null
}

# A model's training step under the seed's quirks against the fault-free run: $1 model, $2
# input, further arguments to guarded_training.py (e.g. --no-tf32).
guarded_step() {
  local m=$1 input=$2 t0=$(now) tag
  shift 2
  tag=$m$(printf '%s' "$*" | tr -d ' -')${NVIDIA_TF32_OVERRIDE:+nvtf32off}$(basename "${QUIRKS:-}" .json)
  timeout 90 "$PY" python/tests/guarded_training.py "$m" "/tmp/$tag.profile.json" --device cuda \
    --quirks "${QUIRKS:-quirks/rx5600xt-rocm57.json}" --input "$input" "$@" >"$OUT/guarded_$tag.json" 2>"$OUT/guarded_$tag.err"
  echo "guarded $m $* on cuda under the seed's quirks rc=$? $(since "$t0") s: $("$PY" -c 'import json,sys
d = json.loads(open(sys.argv[1]).read().splitlines()[-1])
k = {}
for r in d["routes"]: k[r["route"]] = k.get(r["route"], 0) + 1
print("error", d["error"], "max normwise diff", max(d["diffs"] or [0]), "two unguarded runs", max(d["noise"] or [0]), "routes", k)' "$OUT/guarded_$tag.json" 2>&1 | tail -1)" | tee -a "$OUT/steps.txt"
}

guard() {
  guarded_step small 2x3x44x44
  guarded_step resnet18 8x3x176x176
  guarded_step resnet18 8x3x176x176 --no-tf32
  local t0=$(now)
  timeout 150 "$PY" bench/torch_tiles_bench.py >"$OUT/tiles_bench.md" 2>"$OUT/tiles_bench.err"
  echo "torch_tiles_bench rc=$? $(since "$t0") s" | tee -a "$OUT/steps.txt"
  timeout 60 "$PY" bench/torch_guard_overhead.py --device cuda >"$OUT/overhead.md" 2>&1
  echo "torch_guard_overhead rc=$?" | tee -a "$OUT/steps.txt"
}

summary() {
  "$PY" - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
def load(n):
    p = os.path.join(out, n)
    return [json.loads(l) for l in open(p) if l.startswith("{")] if os.path.exists(p) else []
rows = load("knobs_f32.jsonl") + load("knobs_half.jsonl")
cols = [(d, t) for t in ("f32", "f16", "bf16") for d in ("FWD_D", "BWD_D", "BWD_W")]
cells = {}
for r in rows:
    c = cells.setdefault(r["algo"], {}).setdefault((r["dir"], r["dt"]), {})
    c[r["outcome"]] = c.get(r["outcome"], 0) + 1
print(f"\n## every torch knob on shapes/resnet50.txt: {len(rows)} probes\n")
print("| knob | " + " | ".join(f"{d} {t}" for d, t in cols) + " |")
print("|---|" + "---|" * len(cols))
for k in sorted(cells):
    print(f"| {k} | " + " | ".join(" ".join(f"{o} {n}" for o, n in sorted(cells[k].get(c, {}).items())) or "-" for c in cols) + " |")
bad = [r for r in rows if r["outcome"] not in ("ok", "unsupported")]
for r in bad[:12]:
    print(f"- {r['outcome']} {r['algo']} {r['dir']} {r['dt']} {r['problem'].split()[-1]}: {r.get('message', '')[:140]}")
ev = [l.split(" ", 1) for l in open(os.path.join(out, "init.err"))] if os.path.exists(os.path.join(out, "init.err")) else []
t = lambda word: next((float(a) for a, l in ev if word in l), None)
start, canary = t("started"), t("canary")
init = load("init.jsonl")
if start and canary:
    print(f"\nworker start -> canary passed (libtorch load, CUDA context, canary): {canary - start:.2f} s")
for r in init:
    print(f"first calls: {r['problem'].split()[-1]} {r['outcome']} wall {r.get('wall_ms', 0):.0f} ms, time {r.get('time_ms', 0):.3f} ms")
PY
}

# The logs in one file, so that a call's files come back whole.
pack() { (cd "$OUT" && tar cJf /tmp/torch_logs.tar.xz . && find . -type f -delete && mv /tmp/torch_logs.tar.xz logs.tar.xz); }

case "$MODE" in
  stage) stage ;;
  run)
    cd "$ROOT" || exit 1
    setup
    gpu_tests
    throughput
    seed
    guard
    guard_resnet50
    knobs
    echo; cat "$OUT/steps.txt"
    cat "$OUT/guard_bench.md"
    summary | tee "$OUT/summary.md" ;;
  guard)
    cd "$ROOT" || exit 1
    setup
    guard
    echo; cat "$OUT/steps.txt"
    cat "$OUT/tiles_bench.md" "$OUT/overhead.md" ;;
  resnet50)  # ResNet-50 as PyTorch runs it (TF32 convolutions), then with every library's TF32 off
    cd "$ROOT" || exit 1
    setup
    R50_SECONDS=${R50_SECONDS:-220} guard_resnet50
    NVIDIA_TF32_OVERRIDE=0 R50_SECONDS=${R50_SECONDS:-220} guard_resnet50 -notf32
    guarded_step resnet18 8x3x176x176
    echo; cat "$OUT/steps.txt" "$OUT/guard_bench.md" "$OUT/guard_bench-notf32.md"
    pack ;;
  throughput)
    cd "$ROOT" || exit 1
    setup
    throughput_jobs
    echo; cat "$OUT/steps.txt" ;;
  tiles)
    cd "$ROOT" || exit 1
    setup
    tiles
    echo; cat "$OUT/steps.txt"; grep -h "^|" "$OUT"/tiles_mb*.md "$OUT"/zero_copy_mb*.md
    pack ;;
  *) echo "gpu_torch.sh: unknown mode $MODE (stage|run|guard|resnet50|throughput|tiles)" >&2; exit 2 ;;
esac
