#!/usr/bin/env bash
# Installs what moat needs on Debian 12, as root: the runtime stack (runc, conmon),
# busybox-static for the built-in image, test tools, and the npm dependencies.
# Idempotent: only missing packages are installed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (moat manages namespaces, cgroups and mounts)" >&2
  exit 1
fi

# runc/conmon/busybox-static: the engine; seccomp: scmp_sys_resolver (syscall tables);
# strace: `moat seccomp record`; gcc + libc6-dev: the static probe built by the kernel
# tests; iproute2, util-linux, openssl: tests; docker.io: the real dockerd the authz
# integration test and the benchmark run side by side with moatd.
PKGS="runc conmon busybox-static seccomp strace gcc libc6-dev make iproute2 util-linux openssl ca-certificates curl docker.io"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "install-deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # docker.io must not start its own daemon on the default socket: moat's tests start one
  # on a temporary socket when they need it.
  if echo "$missing" | grep -q docker.io; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "install-deps: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
