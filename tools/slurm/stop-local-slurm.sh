#!/usr/bin/env bash
# tools/slurm/stop-local-slurm.sh [DAEMON...] -- stop the daemons that start-local-slurm.sh started,
# by the pid files it keeps under $RESREPRO_SLURM_BASE/{run,mysql-run}. A pid is signalled only
# while that process is alive AND has the expected name, so a stale pid file never hits another
# process; a daemon without a pid file of ours (a munged someone else started) is left alone.
# With DAEMON names (munged mariadbd slurmdbd slurmctld slurmd), only those are stopped: the
# tests pass the "started:" line of start-local-slurm.sh, so a cluster that was already running
# before them keeps running. Jobs still on the cluster are cancelled first when slurmctld stops.
# Packages, configuration and state are left in place (a restart takes a few seconds).
set -uo pipefail
BASE=${RESREPRO_SLURM_BASE:-/tmp/resrepro-slurm}
RUN=$BASE/run DB_RUN=$BASE/mysql-run

log() { printf '[stop-local-slurm %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
source "$(dirname "${BASH_SOURCE[0]}")/pidfile.sh"  # alive, stop_ours
SELECTED=("$@")
want() { # no names given: every daemon of ours
  ((${#SELECTED[@]} == 0)) && return 0
  local d; for d in "${SELECTED[@]}"; do [[ $d == "$1" ]] && return 0; done; return 1
}

if want slurmctld && alive "$RUN/slurmctld.pid" slurmctld; then
  jobs=$(squeue -h -o %A 2>/dev/null | tr '\n' ' ')
  if [[ -n ${jobs// /} ]]; then
    log "cancelling jobs still on the local cluster: $jobs"
    # shellcheck disable=SC2086
    scancel $jobs 2>/dev/null
    for i in $(seq 20); do [[ -z $(squeue -h -t R,CG,PD -o %A 2>/dev/null) ]] && break; sleep 0.5; done
  fi
fi
want slurmd && stop_ours "$RUN/slurmd.pid" slurmd
want slurmctld && stop_ours "$RUN/slurmctld.pid" slurmctld
want slurmdbd && stop_ours "$RUN/slurmdbd.pid" slurmdbd
want mariadbd && stop_ours "$DB_RUN/mysqld.pid" mariadbd
want munged && stop_ours "$RUN/munged.pid" munged
log "done"
exit 0
