#!/usr/bin/env bash
# ci/slurm/start.sh - a one-node Slurm cluster on this machine, for dsd's Slurm tests.
#
# Installs Debian's slurmctld/slurmd/slurm-client/munge (and slurmdbd + MariaDB so that `sacct`,
# which submitit polls, answers), writes a localhost-only slurm.conf (no systemd, no cgroups),
# starts each daemon that is not running yet, and waits for the node to be idle. Root only.
# Safe to run twice. Stop everything with ci/slurm/stop.sh (by pid, nothing else is touched).
#
#   DSD_SLURM_DIR   state, logs and pid files          [${TMPDIR:-/tmp}/dsd-slurm]
#   DSD_SLURM_WAIT  seconds to wait for each daemon    [60]
set -euo pipefail

DIR=${DSD_SLURM_DIR:-${TMPDIR:-/tmp}/dsd-slurm}
WAIT=${DSD_SLURM_WAIT:-60}
PIDS=$DIR/pid LOGS=$DIR/log SPOOL=$DIR/spool DBDATA=$DIR/mariadb
SOCK=/run/mysqld/mysqld.sock      # where libmariadb (slurmdbd's client) looks by default
HOST=$(hostname -s)

say() { echo "[dsd-slurm $(date +%T)] $*" >&2; }
fail() {
  say "FAILED: $*"
  for f in "$LOGS"/*.log "$DBDATA"/error.log; do [ -f "$f" ] && { echo "== $f" >&2; tail -n 12 "$f" >&2; }; done
  exit 1
}
# until_ok SECONDS CMD...: retry CMD every 0.2 s
until_ok() { local end=$(( $(date +%s) + $1 )); shift; while ! "$@" >/dev/null 2>&1; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 0.2; done; }
# up PIDFILE NAME: the process in PIDFILE lives (not a zombie) and is called NAME
up() {
  local p st; p=$(cat "$1" 2>/dev/null) || return 1; [ -n "$p" ] || return 1
  st=$(cat /proc/"$p"/stat 2>/dev/null) || return 1; st=${st##*) }
  [ "${st:0:1}" != Z ] && [ "$(cat /proc/"$p"/comm 2>/dev/null)" = "$2" ]
}

[ "$(id -u)" = 0 ] || fail "must run as root (it installs packages and starts system daemons)"
command -v apt-get >/dev/null || fail "needs a Debian/Ubuntu system (apt-get)"
mkdir -p "$PIDS" "$LOGS" "$SPOOL/ctld" "$SPOOL/node"
t0=$(date +%s)

# 1. packages ------------------------------------------------------------------------------
want=(slurmctld slurmd slurm-client munge slurmdbd mariadb-server)
need=()
for p in "${want[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  say "apt-get install ${need[*]}"
  # no init system here: keep the packages' scripts from starting services themselves
  own_policy=0
  [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; own_policy=1; }
  ok=0
  for i in 1 2 3; do
    if DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$LOGS/apt.log" 2>&1 &&
       DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >>"$LOGS/apt.log" 2>&1; then
      ok=1; break
    fi
    say "apt-get failed (try $i of 3)"; sleep 3
  done
  [ "$own_policy" = 0 ] || rm -f /usr/sbin/policy-rc.d
  [ "$ok" = 1 ] || { tail -n 20 "$LOGS/apt.log" >&2; fail "could not install ${need[*]}"; }
fi

# 2. munge ---------------------------------------------------------------------------------
install -d -o munge -g munge -m 0755 /run/munge
[ -s /etc/munge/munge.key ] || head -c 1024 /dev/urandom >/etc/munge/munge.key
chown munge:munge /etc/munge /etc/munge/munge.key; chmod 0700 /etc/munge; chmod 0400 /etc/munge/munge.key
munge_works() { munge -n </dev/null | unmunge >/dev/null; }
if ! munge_works 2>/dev/null; then
  rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
  runuser -u munge -- /usr/sbin/munged </dev/null >/dev/null 2>&1 || fail "munged did not start"
  until_ok "$WAIT" munge_works || fail "munge does not answer"
  cp /run/munge/munged.pid "$PIDS/munged.pid"   # ours: stop.sh may stop it
fi

# 3. accounting: MariaDB + slurmdbd ----------------------------------------------------------
install -d -o mysql -g mysql -m 0755 /run/mysqld "$DBDATA"
db_works() { mariadb --socket="$SOCK" -e 'select 1'; }
if ! db_works >/dev/null 2>&1; then
  [ -d "$DBDATA/mysql" ] || mariadb-install-db --no-defaults --user=mysql --datadir="$DBDATA" \
      --auth-root-authentication-method=socket --skip-test-db >"$LOGS/mariadb-init.log" 2>&1 ||
    fail "mariadb-install-db failed"
  setsid /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$DBDATA" --socket="$SOCK" \
    --pid-file="$DBDATA/mariadbd.pid" --skip-networking --log-error="$DBDATA/error.log" \
    --innodb-buffer-pool-size=128M </dev/null >/dev/null 2>&1 &
  until_ok "$WAIT" db_works || fail "MariaDB did not come up"
  cp "$DBDATA/mariadbd.pid" "$PIDS/mariadbd.pid"
fi
cat >/etc/slurm/slurmdbd.conf <<CONF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
LogFile=$LOGS/slurmdbd.log
PidFile=$PIDS/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc=dsd_slurm_acct
CONF
chmod 600 /etc/slurm/slurmdbd.conf
if ! up "$PIDS/slurmdbd.pid" slurmdbd; then
  /usr/sbin/slurmdbd </dev/null >/dev/null 2>&1 || fail "slurmdbd did not start"
  until_ok "$WAIT" bash -c 'exec 3<>/dev/tcp/127.0.0.1/6819' || fail "slurmdbd does not listen on 6819"
fi

# 4. slurm.conf, slurmctld, slurmd ------------------------------------------------------------
hw=$(slurmd -C | head -n 1)
field() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$hw"; }
conf=$(cat <<CONF
# written by dsd's ci/slurm/start.sh
ClusterName=dsdci
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=cred_expire=10
StateSaveLocation=$SPOOL/ctld
SlurmdSpoolDir=$SPOOL/node
SlurmctldPidFile=$PIDS/slurmctld.pid
SlurmdPidFile=$PIDS/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_interval=2,bf_interval=2
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=5
MinJobAge=300
SlurmdTimeout=300
InactiveLimit=0
MailProg=/bin/true
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$(field CPUs) Boards=1 SocketsPerBoard=$(field SocketsPerBoard) CoresPerSocket=$(field CoresPerSocket) ThreadsPerCore=$(field ThreadsPerCore) RealMemory=$(( $(field RealMemory) * 9 / 10 )) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
)
if [ "$(cat /etc/slurm/slurm.conf 2>/dev/null)" != "$conf" ]; then
  printf '%s\n' "$conf" >/etc/slurm/slurm.conf
  for d in slurmd slurmctld; do   # running with an older config: restart
    if up "$PIDS/$d.pid" "$d"; then kill "$(cat "$PIDS/$d.pid")"; until_ok 30 bash -c "! kill -0 $(cat "$PIDS/$d.pid")" || true; fi
  done
fi
if ! up "$PIDS/slurmctld.pid" slurmctld; then
  /usr/sbin/slurmctld -i </dev/null >/dev/null 2>&1 || fail "slurmctld did not start"
  until_ok "$WAIT" bash -c 'scontrol ping | grep -q "is UP"' || fail "slurmctld does not answer"
fi
if ! up "$PIDS/slurmd.pid" slurmd; then
  /usr/sbin/slurmd </dev/null >/dev/null 2>&1 || fail "slurmd did not start"
  until_ok "$WAIT" up "$PIDS/slurmd.pid" slurmd || fail "slurmd died"
fi

# 5. the node ----------------------------------------------------------------------------------
state() { sinfo -h -N -n "$HOST" -o %T 2>/dev/null | head -n 1; }
end=$(( $(date +%s) + WAIT ))
while :; do
  case "$(state)" in
    idle|mixed|allocated|completing) break ;;
    down*|drain*|fail*) scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true ;;
  esac
  [ "$(date +%s)" -lt "$end" ] || fail "node $HOST is $(state), not idle"
  sleep 0.2
done
say "Slurm is up after $(( $(date +%s) - t0 ))s: node $HOST $(state) (stop it with: bash ci/slurm/stop.sh)"
