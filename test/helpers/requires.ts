// Skip with a reason when the host cannot run a test (runc's `requires`, crun's exit 77).
import type { TestContext } from 'node:test';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export type Requirement = 'root' | 'runc' | 'conmon' | 'docker-cli' | 'dockerd' | 'gcc' | 'strace' | 'busybox' | 'netavark' | 'curl' | 'docker-registry' | 'htpasswd' | 'docker-compose' | 'docker-py';

function has(req: Requirement): boolean {
  switch (req) {
    case 'root':
      return process.getuid?.() === 0 && process.env['ENGINE_TEST_ROOT'] !== '0';
    case 'runc':
      return existsSync('/usr/sbin/runc') || existsSync('/usr/bin/runc');
    case 'conmon':
      return existsSync('/usr/bin/conmon');
    case 'docker-cli':
      return dockerCli() !== undefined;
    case 'dockerd':
      return existsSync('/usr/sbin/dockerd') || existsSync('/usr/bin/dockerd');
    case 'gcc':
      return existsSync('/usr/bin/gcc');
    case 'strace':
      return existsSync('/usr/bin/strace');
    case 'busybox':
      return existsSync('/bin/busybox');
    case 'netavark':
      return ['/usr/lib/podman/netavark', '/usr/lib/podman/aardvark-dns', '/usr/sbin/iptables', '/usr/sbin/ip', '/usr/sbin/iptables-save'].every((p) => existsSync(p));
    case 'curl':
      return existsSync('/usr/bin/curl');
    case 'docker-compose':
      return existsSync('/usr/bin/docker-compose');
    case 'docker-registry':
      return existsSync('/usr/bin/docker-registry');
    case 'htpasswd':
      return existsSync('/usr/bin/htpasswd');
    case 'docker-py':
      // Debian's python3-docker, run with Debian's python3 (`python3` on PATH may be another build).
      return existsSync('/usr/bin/python3') && existsSync('/usr/lib/python3/dist-packages/docker/__init__.py');
  }
}

/** The docker CLI 28 (in /usr/local/bin on these machines; Debian's docker.io brings an older one). */
export function dockerCli(): string | undefined {
  for (const p of ['/usr/local/bin/docker', '/usr/bin/docker']) {
    if (!existsSync(p)) continue;
    try {
      const v = execFileSync(p, ['--version'], { encoding: 'utf8' });
      if (/version (2[5-9]|[3-9]\d)\./.test(v)) return p;
    } catch {
      // not usable
    }
  }
  return undefined;
}

/**
 * Returns false (and marks the test skipped with the reason) when a requirement is missing.
 * Under `make test` (MOAT_TEST_STRICT=1, after the preflight) a missing tool is an install
 * bug, not a reason to skip: the test fails naming it. Only ENGINE_TEST_ROOT=0 (no root
 * wanted) still skips.
 */
export function requires(t: TestContext, ...reqs: Requirement[]): boolean {
  const missing = reqs.filter((r) => !has(r));
  if (missing.length === 0) return true;
  const strict = process.env['MOAT_TEST_STRICT'] === '1' && !(missing.length === 1 && missing[0] === 'root' && process.env['ENGINE_TEST_ROOT'] === '0');
  if (strict) throw new Error(`requires ${missing.join(', ')}: missing on this machine although the preflight passed; add it to scripts/install-deps.sh and scripts/preflight.mjs`);
  t.skip(`requires ${missing.join(', ')}`);
  return false;
}
