#!/usr/bin/env bash
# A real single-node Slurm (slurmctld + slurmd from Debian's slurm-wlm, started here and stopped
# on exit) runs what `convguard slurm` writes: a 4-task array sweep over `sim`, one fake GPU a
# task, and the merge after it. The merged store must report what one sweep's store reports.
#
#   scripts/slurm_test.sh CONVGUARD_BIN
#
# Exit 0 passed, 1 failed, 77 skipped (no slurmctld, or not root: the fake GPUs are device
# nodes made with mknod).
set -uo pipefail
cg=$(realpath "${1:?usage: slurm_test.sh CONVGUARD_BIN}")
skip() { echo "slurm_test: skipped: $*"; exit 77; }
command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null ||
  skip "slurmctld/slurmd/sbatch not installed (Debian: slurm-wlm)"
[ "$(id -u)" = 0 ] || skip "not root (slurmd and the fake GPU devices need it)"

dir=$(mktemp -d /tmp/cg_slurm_test.XXXXXX)
node=$(hostname -s)
# Ports of our own, so that a Slurm already on this machine is left alone.
base=$((20000 + $$ % 20000))
export SLURM_CONF=$dir/etc/slurm.conf
cleanup() {
  for pid in "$dir"/run/slurmd.pid "$dir"/run/slurmctld.pid; do
    [ -s "$pid" ] && kill "$(cat "$pid")" 2>/dev/null
  done
  sleep 1
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "slurm_test: FAILED: $*"
  for f in "$dir"/log/*.log "$dir"/work/stores/*.log; do [ -f "$f" ] && { echo "== $f"; tail -n 20 "$f"; }; done
  exit 1
}

mkdir -p "$dir"/{etc,state,spool,log,run,dev,work}
for i in 0 1 2 3; do mknod -m 666 "$dir/dev/gpu$i" c 1 3 || skip "mknod failed"; done
cat >"$SLURM_CONF" <<CONF
ClusterName=convguard
SlurmctldHost=$node(127.0.0.1)
AuthType=auth/none
CredType=cred/none
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$base
SlurmdPort=$((base + 1))
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
GresTypes=gpu
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) Gres=gpu:4 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
echo "NodeName=$node Name=gpu File=$dir/dev/gpu[0-3]" >"$dir/etc/gres.conf"

slurmctld -f "$SLURM_CONF" -i || fail "slurmctld did not start"
slurmd -f "$SLURM_CONF" || fail "slurmd did not start"
for _ in $(seq 1 30); do
  sinfo -h -o %t 2>/dev/null | grep -qx idle && break
  sleep 1
done
sinfo -h -o %t | grep -qx idle || fail "the node did not come up: $(sinfo -h 2>&1)"

cd "$dir/work"
cat >q.json <<'Q'
{"name": "slurm", "rules": [
  {"when": {"ic": 4, "ih": [[14, 14], [28, 28]]}, "effect": "crash"},
  {"when": {"ih": [[11, 11], [22, 22]]}, "effect": "wrong"}]}
Q
sweep=(--engine sim --base ref --quirks q.json --grid 'ic=4,8 ih=8:30 oc=4 kh=3 ph=1' --dir FWD_D,BWD_D)
"$cg" sweep --db one.db "${sweep[@]}" >/dev/null 2>&1
[ $? -le 1 ] || fail "the one-store sweep failed"
"$cg" slurm --gpus 4 --db-dir stores -- sweep "${sweep[@]}" >submit.sh || fail "convguard slurm"
bash submit.sh || fail "submitting"
for _ in $(seq 1 180); do
  [ -z "$(squeue -h 2>/dev/null)" ] && break
  sleep 1
done
[ -z "$(squeue -h)" ] || fail "jobs still queued after 180 s: $(squeue)"
[ -f stores/all.db ] || fail "the merge job wrote no stores/all.db"

# Measured times and the last run's command line (its --db) differ between any two sweeps.
normal() { "$cg" report --db "$1" | sed -e '/| last run |/d' -e 's/| [0-9.e+-]*s |/| T |/g'; }
diff <(normal one.db) <(normal stores/all.db) || fail "the merged report differs from one store's"
echo "slurm_test: passed: 4-task array + merge on Slurm $(sinfo -V) = one sweep"
