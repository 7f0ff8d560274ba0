# Sourced by start-local-slurm.sh and stop-local-slurm.sh (which define log()): daemons by pid file.
# A pid is signalled only while that process is alive AND has the expected name, so a stale pid
# file never hits another process.

# alive PIDFILE COMM: the pid in PIDFILE is alive and its command name starts with COMM
alive() {
  local pf=$1 comm=$2 pid
  [[ -s $pf ]] || return 1
  pid=$(<"$pf")
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/comm ]] || return 1
  [[ $(</proc/"$pid"/comm) == "$comm"* ]]
}

# stop_ours PIDFILE COMM: TERM (KILL after 30 s) a daemon started by start-local-slurm.sh
stop_ours() {
  local pf=$1 comm=$2 pid i
  if ! alive "$pf" "$comm"; then rm -f "$pf"; log "$comm: not running (no live pid in $pf)"; return 0; fi
  pid=$(<"$pf"); log "stopping $comm (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 60); do alive "$pf" "$comm" || break; sleep 0.5; done
  if alive "$pf" "$comm"; then log "$comm did not exit after 30 s, sending KILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$pf"
}
