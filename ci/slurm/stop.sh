#!/usr/bin/env bash
# ci/slurm/stop.sh - stop what ci/slurm/start.sh started: cancel the jobs, then each daemon by the
# pid start.sh recorded (checked against /proc/PID/comm; nothing is killed by name).
set -uo pipefail
DIR=${DSD_SLURM_DIR:-${TMPDIR:-/tmp}/dsd-slurm}
PIDS=$DIR/pid
say() { echo "[dsd-slurm $(date +%T)] $*" >&2; }
up() {
  local p st; p=$(cat "$1" 2>/dev/null) || return 1; [ -n "$p" ] || return 1
  st=$(cat /proc/"$p"/stat 2>/dev/null) || return 1; st=${st##*) }
  [ "${st:0:1}" != Z ] && [ "$(cat /proc/"$p"/comm 2>/dev/null)" = "$2" ]
}
# halt PIDFILE NAME: SIGTERM, up to 30 s, then SIGKILL
halt() {
  up "$1" "$2" || { rm -f "$1"; return 0; }
  local p i; p=$(cat "$1"); kill -TERM "$p" 2>/dev/null
  for ((i = 0; i < 300; i++)); do up "$1" "$2" || break; sleep 0.1; done
  up "$1" "$2" && kill -KILL "$p" 2>/dev/null
  say "stopped $2 ($p)"; rm -f "$1"
}
if up "$PIDS/slurmctld.pid" slurmctld && [ -n "$(squeue -h -o %A 2>/dev/null)" ]; then
  scancel $(squeue -h -o %A) 2>/dev/null
  for ((i = 0; i < 300; i++)); do [ -z "$(squeue -h -o %A 2>/dev/null)" ] && break; sleep 0.1; done
fi
halt "$PIDS/slurmd.pid" slurmd
halt "$PIDS/slurmctld.pid" slurmctld
halt "$PIDS/slurmdbd.pid" slurmdbd
halt "$PIDS/mariadbd.pid" mariadbd
halt "$PIDS/munged.pid" munged
exit 0
