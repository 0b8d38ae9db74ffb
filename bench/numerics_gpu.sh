#!/usr/bin/env bash
# Device side of issue 14's measurement (run from the repo root with .carry/ staged by
#   GPU_TARGETS="convguard cudnn_repro" scripts/gpu_session.sh stage):
#   bench/numerics_gpu.sh sweep     every cuDNN algorithm x FWD_D/BWD_D/BWD_W x f32/f16/bf16
#                                   over resnet50, awkward, mobilenet_v1 -> $OUT/<list>.jsonl
#   bench/numerics_gpu.sh repro F   runs each line of F (cudnn_repro arguments, one finding
#                                   per line, '#' comments) -> $OUT/repro.txt
# bench/numerics_table.py turns the results into bench/results/ tables.
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/out}
mkdir -p "$OUT" /tmp/cglib
tar xJf "$ROOT/.carry/libs.tar.xz" -C /tmp/cglib
cudnn=$(ldconfig -p | awk '/libcudnn.so.9 /{print $NF; exit}')
[ -n "$cudnn" ] || cudnn=$(find / -name libcudnn.so.9 -not -path '/proc/*' 2>/dev/null | head -1)
export LD_LIBRARY_PATH=/tmp/cglib:$(dirname "${cudnn:-/x/x}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
BIN=$ROOT/.carry/build-gpu
cd "$ROOT" || exit 1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$OUT/device.txt"
case "${1:-}" in
  sweep)
    # The lists run side by side (the CPU references of one overlap the GPU work of the
    # others), each stopped after SECONDS; a stopped list's table is partial and says so.
    for list in ${LISTS:-resnet50 awkward mobilenet_v1}; do
      (start=$(date +%s)
       timeout -k 5 -s INT "${SECONDS_PER_LIST:-290}" "$BIN/convguard" probe --engine cudnn --algo all \
         --dir FWD_D,BWD_D,BWD_W --dt f32,f16,bf16 --batch "shapes/$list.txt" --json \
         -j "${JOBS:-5}" >"$OUT/$list.jsonl" 2>"$OUT/$list.err"
       rc=$?
       echo "$list rc=$rc lines=$(wc -l <"$OUT/$list.jsonl") seconds=$(( $(date +%s) - start ))" \
         | tee -a "$OUT/sweep.log") &
    done
    wait ;;
  repro)
    while read -r line; do
      case "$line" in ''|'#'*) continue ;; esac
      # shellcheck disable=SC2086
      res=$(timeout 30 "$BIN/cudnn_repro" $line 2>&1 | tail -1)
      echo "$line => ${res:-status=killed rc=$?}" | tee -a "$OUT/repro.txt"
    done <"$2" ;;
  *) echo "usage: $0 sweep | repro FILE" >&2; exit 2 ;;
esac
