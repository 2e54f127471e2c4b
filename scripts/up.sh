#!/usr/bin/env bash
# Starts moatd in the background on the default socket and runs one demo container.
set -euo pipefail
cd "$(dirname "$0")/.."
EXEC_ROOT=${EXEC_ROOT:-/run/moat}
SOCK="$EXEC_ROOT/moat.sock"
LOG_DIR=${LOG_DIR:-/var/log/moat}
mkdir -p "$LOG_DIR"
if [ -S "$SOCK" ] && bin/moat -H "unix://$SOCK" version >/dev/null 2>&1; then
  echo "moatd is already running on $SOCK"
else
  nohup bin/moatd --exec-root "$EXEC_ROOT" >>"$LOG_DIR/moatd.log" 2>&1 </dev/null &
  for _ in $(seq 1 100); do
    [ -S "$SOCK" ] && bin/moat -H "unix://$SOCK" version >/dev/null 2>&1 && break
    sleep 0.1
  done
  if ! [ -S "$SOCK" ]; then
    echo "moatd did not start; see $LOG_DIR/moatd.log:" >&2
    tail -n 20 "$LOG_DIR/moatd.log" >&2
    exit 1
  fi
  echo "moatd started (pid $(cat "$EXEC_ROOT/moatd.pid")), log: $LOG_DIR/moatd.log"
fi
echo
echo "Demo: a container from the built-in busybox image, showing its security:"
bin/moat -H "unix://$SOCK" run --rm busybox sh -c '
  echo "user:        $(id)"
  echo "hostname:    $(hostname)"
  echo "capabilities (effective): $(grep CapEff /proc/self/status | cut -f2)"
  echo "capabilities (bounding):  $(grep CapBnd /proc/self/status | cut -f2)"
  echo "seccomp mode: $(grep "^Seccomp:" /proc/self/status | cut -f2)  (0 off, 2 filter)"
  echo "no_new_privs: $(grep NoNewPrivs /proc/self/status | cut -f2)"
  echo "pids limit:  $(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)"
'
echo
echo "Point the docker CLI at moatd with:"
echo "  export DOCKER_HOST=unix://$SOCK"
echo "  docker run --rm -it busybox"
