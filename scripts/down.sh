#!/usr/bin/env bash
# Stops moatd (SIGTERM); running containers keep running.
set -euo pipefail
EXEC_ROOT=${EXEC_ROOT:-/run/moat}
PIDFILE="$EXEC_ROOT/moatd.pid"
if [ ! -f "$PIDFILE" ]; then echo "moatd is not running"; exit 0; fi
pid=$(cat "$PIDFILE")
if ! kill -0 "$pid" 2>/dev/null || ! grep -q moatd "/proc/$pid/cmdline" 2>/dev/null; then
  echo "moatd is not running (stale pid file)"; rm -f "$PIDFILE"; exit 0
fi
kill -TERM "$pid"
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
echo "moatd stopped; containers keep running"
