#!/usr/bin/env bash
# Runs a command of this repository on a fresh Debian bookworm machine: a minbase chroot.
#
#   scripts/fresh_machine.sh [COMMAND...]        (default: scripts/demo.sh; run as root)
#
# Proves that the README's commands install what they need: the chroot has only what
# `debootstrap --variant=minbase` installs (Essential and Priority: required packages), so a
# package missing from scripts/packages.txt fails the command there.
#
#  - The pristine root ($FRESH_ROOT, default /work/fresh-root, outside the repository) is made
#    once with debootstrap from the Debian mirror this machine's apt uses; each run copies it
#    to $FRESH_RUN (default /work/fresh-run) and starts from that copy, so every run is fresh.
#  - The repository goes in as a `git clone` of its committed HEAD (uncommitted changes do not),
#    at /work/main, with ../shared beside it where there is one.
#  - What the machine image provides and the project does not is copied from this machine: the
#    Debian apt sources, /etc/resolv.conf, local CA certificates (for pip's HTTPS) and the PIP_*
#    settings. The CUDA toolkit is not: the cuDNN engine is skipped there.
#  - /proc, /sys, /dev, /dev/pts and /dev/shm are mounted in, and unmounted when the command ends
#    (slurmd, which the real-Slurm test starts, reads the CPU topology from /sys and needs the
#    cgroup file system under /sys/fs/cgroup: /sys is the host's, bound with what is mounted
#    inside it, as on a booted machine).
# It prints the command's wall time and exits with its status. The copy stays for a look inside
# (chroot $FRESH_RUN bash) until the next run, or `scripts/fresh_machine.sh --clean`.
#
#   scripts/fresh_machine.sh --again COMMAND...   runs in the copy the last run left, its clone
#                                                 moved to HEAD (not fresh: what that run
#                                                 installed and built is still there)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
base=${FRESH_ROOT:-/work/fresh-root}
run=${FRESH_RUN:-/work/fresh-run}
suite=bookworm

[ "$(id -u)" -eq 0 ] || { echo "fresh_machine.sh: needs root (debootstrap, chroot, mount)" >&2; exit 2; }
case "$run/" in "$repo"/*) echo "fresh_machine.sh: keep $run outside the repository" >&2; exit 2 ;; esac
case "$base/" in "$repo"/*) echo "fresh_machine.sh: keep $base outside the repository" >&2; exit 2 ;; esac

unmount_all() {
  local m
  for m in dev/shm dev/pts dev sys proc; do
    if mountpoint -q "$run/$m" 2>/dev/null; then umount -R "$run/$m" || umount -l "$run/$m"; fi
  done
}

if [ "${1:-}" = --clean ]; then
  unmount_all
  rm -rf --one-file-system "$run"
  exit 0
fi
again=0
if [ "${1:-}" = --again ]; then
  again=1
  shift
  [ -d "$run/work/main" ] || { echo "fresh_machine.sh: no earlier run in $run" >&2; exit 2; }
fi
[ $# -gt 0 ] || set -- scripts/demo.sh

# The Debian mirror this machine's apt uses (deb822 .sources files, then one-line lists).
mirror() {
  local f u
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    u=$(awk '/^URIs:/ { print $2; exit }' "$f")
    if grep -q "^Suites:.*\b$suite\b" "$f" && [[ "$u" == */debian ]]; then echo "$u"; return; fi
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    u=$(awk -v s="$suite" '$1 == "deb" && $0 ~ " " s " " { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f")
    [ -n "$u" ] && { echo "$u"; return; }
  done
  echo http://deb.debian.org/debian
}

if [ "$again" -eq 0 ] && [ ! -f "$base/.fresh-machine-ready" ]; then
  command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2
  m=$(mirror)
  echo "fresh_machine: debootstrap --variant=minbase $suite $base $m" >&2
  rm -rf --one-file-system "$base"
  debootstrap --variant=minbase "$suite" "$base" "$m" >&2
  touch "$base/.fresh-machine-ready"
fi

# A fresh copy of the pristine root, with what the machine image provides and the repository.
prepare_copy() {
  rm -rf --one-file-system "$run"
  cp -a "$base" "$run"

  # What the machine image provides: apt sources for Debian (not third-party ones), DNS, local CAs.
  if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
    for f in /etc/apt/sources.list.d/*.sources; do
      if grep -q '^URIs:.*/debian\(-security\)\?/\?$' "$f"; then
        cp "$f" "$run/etc/apt/sources.list.d/"
        : >"$run/etc/apt/sources.list"
      fi
    done
  fi
  for f in /etc/apt/apt.conf.d/*; do
    # This machine's apt Acquire:: settings (proxy, validity of a snapshot), if any.
    if grep -qiE '^\s*Acquire::' "$f" 2>/dev/null; then cp "$f" "$run/etc/apt/apt.conf.d/"; fi
  done
  cp -L /etc/resolv.conf "$run/etc/resolv.conf"
  if compgen -G "/usr/local/share/ca-certificates/*" >/dev/null; then
    mkdir -p "$run/usr/local/share/ca-certificates"
    cp -a /usr/local/share/ca-certificates/. "$run/usr/local/share/ca-certificates/"
  fi

  # The repository as committed, and shared/ beside it.
  mkdir -p "$run/work"
  git clone -q --no-hardlinks "$repo" "$run/work/main"
  if [ -d "$repo/../shared" ]; then cp -a "$repo/../shared" "$run/work/shared"; fi
}

unmount_all
trap unmount_all EXIT
if [ "$again" -eq 1 ]; then
  # The same root, its clone moved to this repository's HEAD (installed packages and build/ stay).
  git -C "$run/work/main" fetch -q "$repo" HEAD
  git -C "$run/work/main" reset -q --hard FETCH_HEAD
else
  prepare_copy
fi
echo "fresh_machine: $(git -C "$run/work/main" log -1 --format='%h %s' | cut -c1-100)" >&2

mount -t proc proc "$run/proc"
mount --rbind /sys "$run/sys" && mount --make-rslave "$run/sys"
mount --bind /dev "$run/dev"
mount --bind /dev/pts "$run/dev/pts"
mount --bind /dev/shm "$run/dev/shm"

envs=(HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
for v in PIP_CERT PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST PIP_DEFAULT_TIMEOUT http_proxy https_proxy no_proxy; do
  if [ -n "${!v:-}" ]; then envs+=("$v=${!v}"); fi
done
cmd=$(printf '%q ' "$@")
echo "fresh_machine: running in $run: $cmd" >&2
start=$(date +%s.%N)
rc=0
chroot "$run" /usr/bin/env -i "${envs[@]}" /bin/bash -c "cd /work/main && $cmd" </dev/null || rc=$?
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" -v rc="$rc" -v c="$cmd" \
  'BEGIN { printf "fresh_machine: %s exited %d after %.1f s (wall, from a fresh minbase root)\n", c, rc, e - s }' >&2
exit "$rc"
