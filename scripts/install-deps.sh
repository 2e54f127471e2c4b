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

# One line per purpose, so a new dependency has an obvious home.
#   engine:   runc, conmon, busybox-static (built-in image), tini (--init)
#   networks: netavark, aardvark-dns, iptables, containernetworking-plugins (fallback)
#   seccomp:  seccomp (scmp_sys_resolver), libseccomp-dev (seccomp.h for the workbench's
#             libseccomp exporter), strace (`moat seccomp record`)
#   tests:    gcc + libc6-dev (static probes), make, iproute2, util-linux, openssl, curl,
#             docker-registry (local registry on 127.0.0.1), apache2-utils (htpasswd
#             bcrypt entries for its basic auth), python3-docker and docker-compose (real clients)
#   peers:    docker.io (dockerd for the authz test and the benchmark), podman (benchmark),
#             time (GNU time: the benchmark's CLI peak RSS)
PKGS="runc conmon busybox-static tini
  netavark aardvark-dns iptables containernetworking-plugins
  seccomp libseccomp-dev strace
  gcc libc6-dev make iproute2 util-linux openssl ca-certificates curl docker-registry apache2-utils python3-docker docker-compose
  docker.io podman time"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "install-deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # No package may start its own service (dockerd on the default socket, a registry on
  # :5000): the tests start what they need on temporary sockets and ports.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "install-deps: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
