// Preflight for `make up` and `make test`: every external command, header and client the
// engine and its tests use, each with the Debian package that provides it. A missing
// install step then fails in the first second, naming the package, instead of as a failing
// (or silently skipped) test minutes later. `node scripts/preflight.mjs up|test`.
import { accessSync, constants, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const purpose = process.argv[2] === 'up' ? 'up' : 'test';

/** what: a path (or several alternatives); pkg: the Debian package; for: up (engine) or test. */
const CHECKS = [
  // the engine
  { what: ['/usr/sbin/runc', '/usr/bin/runc'], pkg: 'runc', for: 'up' },
  { what: ['/usr/bin/conmon'], pkg: 'conmon', for: 'up' },
  { what: ['/bin/busybox'], pkg: 'busybox-static', for: 'up', check: staticBinary },
  { what: ['/usr/bin/tini-static'], pkg: 'tini', for: 'up' },
  { what: ['/usr/lib/podman/netavark'], pkg: 'netavark', for: 'up' },
  { what: ['/usr/lib/podman/aardvark-dns'], pkg: 'aardvark-dns', for: 'up' },
  { what: ['/usr/sbin/iptables'], pkg: 'iptables', for: 'up' },
  { what: ['/usr/sbin/iptables-save'], pkg: 'iptables', for: 'up' },
  // networking: `ip netns`, `ip -j link/route/addr`
  { what: ['/usr/sbin/ip', '/sbin/ip'], pkg: 'iproute2', for: 'up' },
  { what: ['/usr/bin/scmp_sys_resolver'], pkg: 'seccomp', for: 'up' },
  { what: ['/usr/bin/strace'], pkg: 'strace', for: 'up' },
  // the tests
  { what: ['/usr/bin/gcc'], pkg: 'gcc', for: 'test' },
  { what: ['/usr/include/stdio.h'], pkg: 'libc6-dev', for: 'test' },
  { what: ['/usr/include/seccomp.h'], pkg: 'libseccomp-dev', for: 'test' },
  { what: ['/usr/bin/unshare'], pkg: 'util-linux', for: 'test' },
  { what: ['/usr/bin/openssl'], pkg: 'openssl', for: 'test' },
  { what: ['/usr/bin/curl'], pkg: 'curl', for: 'test' },
  { what: ['/usr/sbin/dockerd', '/usr/bin/dockerd'], pkg: 'docker.io', for: 'test' },
  { what: ['/usr/bin/podman'], pkg: 'podman', for: 'test' },
  { what: ['/usr/bin/time'], pkg: 'time', for: 'test' },
  { what: ['/usr/bin/docker-registry'], pkg: 'docker-registry', for: 'test' },
  { what: ['/usr/bin/htpasswd'], pkg: 'apache2-utils', for: 'test' },
  { what: ['/usr/bin/docker-compose'], pkg: 'docker-compose', for: 'test' },
  { what: ['/usr/lib/python3/dist-packages/docker/__init__.py'], pkg: 'python3-docker', for: 'test' },
  { what: ['/usr/local/bin/docker', '/usr/bin/docker'], pkg: 'the docker CLI 28 (on these machines in /usr/local/bin)', for: 'test', check: dockerCli28 },
];

function staticBinary(path) {
  const r = spawnSync('file', ['-L', path], { encoding: 'utf8' });
  if (r.status !== 0) return true; // `file` absent: do not guess
  return /statically linked|static-pie/.test(r.stdout) || 'is not statically linked';
}

function dockerCli28(path) {
  const r = spawnSync(path, ['--version'], { encoding: 'utf8' });
  return /version (2[5-9]|[3-9]\d)\./.test(r.stdout ?? '') || `is ${String(r.stdout).trim() || 'not runnable'}; the compat tests need 25 or newer`;
}

const problems = [];
if (process.getuid?.() !== 0) problems.push('run as root: moat manages namespaces, cgroups and mounts');
const major = Number(process.versions.node.split('.')[0]);
if (major < 20) problems.push(`Node.js ${process.versions.node} is too old: moat needs 20 or newer`);
for (const c of CHECKS) {
  if (purpose === 'up' && c.for !== 'up') continue;
  const found = c.what.find((p) => existsSync(p));
  if (found === undefined) {
    problems.push(`missing ${c.what[0]}: install the Debian package ${c.pkg} (add it to scripts/install-deps.sh)`);
    continue;
  }
  if (/\/(s?bin|libexec|podman)\//.test(found)) {
    try {
      accessSync(found, constants.X_OK);
    } catch {
      problems.push(`${found} is not executable (package ${c.pkg})`);
      continue;
    }
  }
  const verdict = c.check ? c.check(found) : true;
  if (verdict !== true) problems.push(`${found} ${verdict} (package ${c.pkg})`);
}
if (!existsSync('node_modules/.package-lock.json')) problems.push('node_modules is missing: run `npm ci` (scripts/install-deps.sh does)');

if (problems.length > 0) {
  console.error(`preflight (${purpose}): ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`preflight (${purpose}): ok`);
