// Helpers for the network tests: unique namespaces, bridges and subnets per run (other
// worktrees run the same tests at the same time), a tiny HTTP server inside a namespace,
// and host snapshots (iptables-save, links, addresses) to prove teardown left nothing.
// Traffic goes only to 127.0.0.1 and to the test's own namespaces and bridges.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';

export function uniqueName(prefix: string, hexChars = 6): string {
  return `${prefix}${randomBytes(8).toString('hex').slice(0, hexChars)}`;
}

/** Run a command; stdout, or throw with stderr. */
export function sh(argv: string[], input?: string): string {
  return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], ...(input !== undefined ? { input } : {}) });
}

/** Run a command inside a namespace; never throws. */
export function nsRun(ns: string, argv: string[], timeoutMs = 10_000): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    return { code: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    return { code: e.status ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Every IPv4 prefix the host has routes for (all tables). */
function hostRoutes(): string[] {
  const routes = JSON.parse(sh(['ip', '-4', '-j', 'route', 'show', 'table', 'all']) || '[]') as Array<{ dst?: string }>;
  return routes.map((r) => r.dst ?? '').filter((d) => d.startsWith('10.231.'));
}

/** A /24 in 10.231.0.0/16 that no route on the host touches yet. */
export function freeSubnet(avoid: readonly string[] = []): { subnet: string; prefix: string } {
  const used = new Set([...hostRoutes(), ...avoid].map((d) => d.split('.').slice(0, 3).join('.')));
  for (let i = 0; i < 200; i++) {
    const third = 100 + (randomBytes(1)[0]! % 150);
    const prefix = `10.231.${third}`;
    if (!used.has(prefix)) return { subnet: `${prefix}.0/24`, prefix };
  }
  throw new Error('no free 10.231.x.0/24 subnet');
}

/** A /24 in 10.232.0.0/13 that no route on the host touches yet: test daemons' default bridges. */
export function freeDaemonSubnet(): { subnet: string; prefix: string } {
  const used = new Set(hostRoutes().map((d) => d.split('.').slice(0, 3).join('.')));
  for (let i = 0; i < 200; i++) {
    const [a, b] = randomBytes(2);
    const prefix = `10.${232 + (a! % 8)}.${b!}`;
    if (!used.has(prefix)) return { subnet: `${prefix}.0/24`, prefix };
  }
  throw new Error('no free 10.232.0.0/13 subnet');
}

export interface HostSnapshot {
  iptables: Set<string>;
  links: Set<string>;
  addrs: Set<string>;
}

/** iptables-save without counters, timestamps and table framing; link names; addresses. */
export function hostSnapshot(): HostSnapshot {
  const iptables = new Set<string>();
  let table = '';
  for (const raw of sh(['iptables-save']).split('\n')) {
    const line = raw.replace(/\s*\[\d+:\d+\]$/, '');
    if (line.startsWith('*')) table = line.slice(1);
    if (line === '' || line.startsWith('#') || line === 'COMMIT' || line.startsWith('*')) continue;
    iptables.add(`${table} ${line}`);
  }
  const links = new Set(
    (JSON.parse(sh(['ip', '-j', 'link', 'show'])) as Array<{ ifname: string }>).map((l) => l.ifname),
  );
  const addrs = new Set<string>();
  for (const a of JSON.parse(sh(['ip', '-j', 'addr', 'show'])) as Array<{ ifname: string; addr_info: Array<{ local: string; prefixlen: number }> }>) {
    for (const i of a.addr_info) addrs.add(`${a.ifname} ${i.local}/${i.prefixlen}`);
  }
  return { iptables, links, addrs };
}

/**
 * The chains and jumps netavark 1.4 creates on first use and never removes (its teardown
 * policy `Never`, measured): shared with podman on the same host, so not torn down.
 */
export const NETAVARK_SCAFFOLDING: ReadonlySet<string> = new Set([
  'filter :NETAVARK_FORWARD -',
  'filter -A FORWARD -m comment --comment "netavark firewall plugin rules" -j NETAVARK_FORWARD',
  'nat :NETAVARK-HOSTPORT-DNAT -',
  'nat :NETAVARK-HOSTPORT-MASQ -',
  'nat :NETAVARK-HOSTPORT-SETMARK -',
  'nat -A PREROUTING -m addrtype --dst-type LOCAL -j NETAVARK-HOSTPORT-DNAT',
  'nat -A OUTPUT -m addrtype --dst-type LOCAL -j NETAVARK-HOSTPORT-DNAT',
  'nat -A POSTROUTING -j NETAVARK-HOSTPORT-MASQ',
  'nat -A NETAVARK-HOSTPORT-MASQ -m comment --comment "netavark portfw masq mark" -m mark --mark 0x2000/0x2000 -j MASQUERADE',
  'nat -A NETAVARK-HOSTPORT-SETMARK -j MARK --set-xmark 0x2000/0x2000',
]);

/** Built-in chain policy lines appear with their table the first time anything uses it. */
function isBuiltinPolicy(line: string): boolean {
  return /^\w+ :(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) (ACCEPT|DROP)$/.test(line);
}

/** What one test made: only these count as "left behind", so runs in other worktrees do not disturb the check. */
export interface Owned {
  /** Bridge names (links, addresses, `-i/-o` in rules). */
  bridges: readonly string[];
  /** Subnets as `10.231.x.` prefixes. */
  prefixes: readonly string[];
  /** Driver instance tags (`moat:<tag>:` comments). */
  tags: readonly string[];
  /** netavark chain hashes of this test's networks (`NETAVARK-<hash>`, `NETAVARK-DN-<hash>`). */
  hashes?: readonly string[];
}

function mentions(line: string, o: Owned): boolean {
  return (
    o.bridges.some((b) => new RegExp(`(^|[ "])${b.replaceAll('.', '\\.')}([ "]|$)`).test(line)) ||
    o.prefixes.some((p) => line.includes(p)) ||
    o.tags.some((t) => line.includes(`moat:${t}:`) || line.startsWith(`link mta-${t}`)) ||
    (o.hashes ?? []).some((h) => line.includes(h))
  );
}

/** Lines any moat test or netavark network may add and remove on its own (other worktrees run too). */
function isSomeTestsResource(line: string): boolean {
  return /moat:[0-9a-f]{8}:|10\.23[1-9]\.|NETAVARK-(DN-)?[0-9A-F]{13}|^(link|addr) (veth|mtb|moatbr|mtn-|mta-[0-9a-f]{8}\b|mt[0-9a-f]{8}\b)/.test(line);
}

/**
 * What this test left behind (lines of `after` not in `before` that name one of its
 * resources), and what it removed that was not some test's (`before` lines gone from
 * `after`). netavark's scaffolding and built-in policies never count.
 */
export function snapshotDiff(before: HostSnapshot, after: HostSnapshot, owned: Owned): { added: string[]; removed: string[] } {
  const added: string[] = [];
  const removed: string[] = [];
  const pairs: Array<[string, Set<string>, Set<string>]> = [
    ['iptables', before.iptables, after.iptables],
    ['link', before.links, after.links],
    ['addr', before.addrs, after.addrs],
  ];
  for (const [kind, b, a] of pairs) {
    for (const l of a) {
      if (b.has(l) || NETAVARK_SCAFFOLDING.has(l) || isBuiltinPolicy(l)) continue;
      if (mentions(`${kind} ${l}`, owned)) added.push(`${kind} ${l}`);
    }
    for (const l of b) if (!a.has(l) && !isSomeTestsResource(`${kind} ${l}`)) removed.push(`${kind} ${l}`);
  }
  return { added, removed };
}

/** The netavark chain hash of a network name (its id for moat): SHA-512, upper hex, 13 digits. */
export function netavarkHash(name: string): string {
  return createHash('sha512').update(name).digest('hex').toUpperCase().slice(0, 13);
}

export interface TestNetns {
  name: string;
  /** Start busybox httpd on port 80 in the namespace, serving `text` at /. */
  serve(text: string): void;
  /** Make `ip netns exec` show this resolv.conf as /etc/resolv.conf (iproute2's /etc/netns/NAME). */
  setResolvConf(text: string): void;
  run(argv: string[], timeoutMs?: number): { code: number; stdout: string; stderr: string };
  remove(): void;
}

/** A named namespace for one test; `remove` stops its server and deletes it (call it in t.after). */
export function makeNetns(prefix = 'mtn-'): TestNetns {
  const name = uniqueName(prefix, 10);
  sh(['ip', 'netns', 'add', name]);
  const servers: ChildProcess[] = [];
  const dirs: string[] = [];
  let etcDir: string | undefined;
  return {
    name,
    serve(text: string): void {
      const dir = mkdtempSync('/tmp/mtn-www-');
      dirs.push(dir);
      writeFileSync(join(dir, 'index.html'), text);
      // `ip netns exec` execs the command: the child's pid is httpd's.
      const child = spawn('ip', ['netns', 'exec', name, 'busybox', 'httpd', '-f', '-p', '80', '-h', dir], { stdio: 'ignore' });
      servers.push(child);
    },
    setResolvConf(text: string): void {
      etcDir = `/etc/netns/${name}`;
      mkdirSync(etcDir, { recursive: true });
      writeFileSync(join(etcDir, 'resolv.conf'), text);
    },
    run: (argv, timeoutMs) => nsRun(name, argv, timeoutMs),
    remove(): void {
      for (const s of servers) if (s.exitCode === null && s.pid !== undefined) s.kill('SIGKILL');
      try {
        sh(['ip', 'netns', 'delete', name]);
      } catch {
        // already gone
      }
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
      if (etcDir !== undefined) rmSync(etcDir, { recursive: true, force: true });
    },
  };
}

/** GET http://host:port/ with a short timeout: the body, or an error code string. */
export function httpGet(host: string, port: number, timeoutMs = 3000, path = '/'): Promise<{ ok: true; body: string } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path, timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ ok: true, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e) => resolve({ ok: false, error: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ ok: false, error: e.code ?? e.message }));
  });
}

/** Poll until `fn` returns true (a server inside a namespace takes a moment to listen). */
export async function eventually(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
