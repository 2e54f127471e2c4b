// Network namespaces, links, routes and addresses through iproute2 (`ip -j` gives JSON).
// Host.
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { type Cidr, tryParseCidr } from './ip.js';
import { runCommand, runChecked } from './exec.js';

const IP = 'ip';
const NETNS_DIR = '/run/netns';
const TIMEOUT_MS = 10_000;

/** Where `ip netns` keeps a named namespace (a bind mount of the nsfs file). */
export function netnsPath(name: string): string {
  return `${NETNS_DIR}/${name}`;
}

/** A new empty named namespace. */
export async function addNetns(name: string): Promise<void> {
  await runChecked([IP, 'netns', 'add', name], { timeoutMs: TIMEOUT_MS });
}

/** Name (bind-mount) the network namespace of process `pid`, so it outlives the process for teardown. */
export async function attachNetns(name: string, pid: number): Promise<void> {
  await runChecked([IP, 'netns', 'attach', name, String(pid)], { timeoutMs: TIMEOUT_MS });
}

/** Unmount and remove a named namespace; no error when it is gone already. */
export async function deleteNetns(name: string): Promise<void> {
  if (!(await listNetns()).includes(name)) return;
  await runChecked([IP, 'netns', 'delete', name], { timeoutMs: TIMEOUT_MS });
}

export async function listNetns(): Promise<string[]> {
  try {
    return await readdir(NETNS_DIR);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export interface LinkInfo {
  ifindex: number;
  ifname: string;
  master?: string;
  /** Index of the peer (veth) in its namespace. */
  linkIndex?: number;
  kind?: string;
  address?: string;
}

function toLinks(json: string): LinkInfo[] {
  const raw = JSON.parse(json === '' ? '[]' : json) as Array<Record<string, unknown>>;
  return raw.map((l) => {
    const info = l['linkinfo'] as { info_kind?: string } | undefined;
    return {
      ifindex: Number(l['ifindex']),
      ifname: String(l['ifname']),
      ...(typeof l['master'] === 'string' ? { master: l['master'] } : {}),
      ...(typeof l['link_index'] === 'number' ? { linkIndex: l['link_index'] } : {}),
      ...(info?.info_kind !== undefined ? { kind: info.info_kind } : {}),
      ...(typeof l['address'] === 'string' ? { address: l['address'] } : {}),
    };
  });
}

/** Links on the host, or in a named namespace. */
export async function listLinks(netns?: string): Promise<LinkInfo[]> {
  const r = await runChecked([IP, ...(netns !== undefined ? ['-n', netns] : []), '-d', '-j', 'link', 'show'], { timeoutMs: TIMEOUT_MS });
  return toLinks(r.stdout);
}

export async function findLink(name: string): Promise<LinkInfo | undefined> {
  return (await listLinks()).find((l) => l.ifname === name);
}

export async function deleteLink(name: string): Promise<void> {
  const r = await runCommand([IP, 'link', 'delete', name], { timeoutMs: TIMEOUT_MS });
  if (r.code !== 0 && (await findLink(name)) !== undefined) throw new Error(`Cannot delete link ${name}: ${r.stderr.trim()}`);
}

/**
 * A persistent tap device with no process behind it, made a port of `bridge`: it carries
 * nothing (no carrier, no address), but while it is there netavark never sees the bridge's
 * last port go, so it keeps the bridge and its chains (the kernel here has no `dummy` links).
 */
export async function addIdlePort(name: string, bridge: string): Promise<void> {
  await runChecked([IP, 'tuntap', 'add', 'dev', name, 'mode', 'tap'], { timeoutMs: TIMEOUT_MS });
  const r = await runCommand([IP, 'link', 'set', 'dev', name, 'master', bridge], { timeoutMs: TIMEOUT_MS });
  if (r.code !== 0) {
    await deleteLink(name);
    throw new Error(`Cannot add ${name} to ${bridge}: ${r.stderr.trim()}`);
  }
}

/** Whether `port` is a port of `bridge` (sysfs: no process). */
export function isBridgePort(bridge: string, port: string): boolean {
  return existsSync(`/sys/class/net/${bridge}/brif/${port}`);
}

/**
 * Isolate every port of a bridge: isolated ports cannot exchange frames with each other,
 * only with the bridge itself (the gateway, so routing, NAT, published ports and DNS work)
 * and non-isolated ports. This is `--icc=false` without br_netfilter (the kernel's bridge
 * port flag, Linux 4.18, `/sys/class/net/BRIDGE/brif/PORT/isolated`); ports already
 * isolated are left as they are. Returns the ports changed.
 */
export async function isolateBridgePorts(bridge: string): Promise<string[]> {
  const dir = `/sys/class/net/${bridge}/brif`;
  const changed: string[] = [];
  let ports: string[];
  try {
    ports = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return changed;
    throw err;
  }
  for (const port of ports) {
    const file = `${dir}/${port}/isolated`;
    if ((await readFile(file, 'utf8')).trim() === '1') continue;
    await writeFile(file, '1');
    changed.push(port);
  }
  return changed;
}

/** `10.1.2.3` -> `0302010A`: how /proc/net/udp prints a local IPv4 address (host byte order, x86). */
function procNetHex(ip: string): string {
  return ip
    .split('.')
    .reverse()
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join('')
    .toUpperCase();
}

/**
 * Wait until a UDP socket of this namespace is bound to each `address:port`
 * (/proc/net/udp). aardvark-dns 1.4 reports ready before it binds (its `run` writes the
 * pid and signals its parent, then parses the config and binds), so a container started
 * at once could ask before anyone listens. Returns the addresses still unbound at the end.
 */
export async function waitUdpBound(addresses: readonly string[], port: number, timeoutMs: number): Promise<string[]> {
  const want = new Map(addresses.map((a) => [`${procNetHex(a)}:${port.toString(16).toUpperCase().padStart(4, '0')}`, a]));
  const end = Date.now() + timeoutMs;
  for (;;) {
    const table = await readFile('/proc/net/udp', 'utf8');
    const bound = new Set(table.split('\n').slice(1).map((l) => l.trim().split(/\s+/)[1] ?? ''));
    const missing = [...want].filter(([k]) => !bound.has(k)).map(([, a]) => a);
    if (missing.length === 0 || Date.now() > end) return missing;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Every IPv4 prefix the host routes or holds (for picking a subnet that clashes with none). */
export async function hostPrefixes(): Promise<Cidr[]> {
  const out: Cidr[] = [];
  const routes = JSON.parse((await runChecked([IP, '-4', '-j', 'route', 'show', 'table', 'all'], { timeoutMs: TIMEOUT_MS })).stdout || '[]') as Array<{ dst?: string; type?: string }>;
  for (const r of routes) {
    if (r.dst === undefined || r.dst === 'default' || (r.type !== undefined && r.type !== 'unicast')) continue;
    const c = tryParseCidr(r.dst.includes('/') ? r.dst : `${r.dst}/32`, false);
    if (c !== undefined) out.push(c);
  }
  const addrs = JSON.parse((await runChecked([IP, '-4', '-j', 'addr', 'show'], { timeoutMs: TIMEOUT_MS })).stdout || '[]') as Array<{ addr_info?: Array<{ local?: string; prefixlen?: number }> }>;
  for (const a of addrs) {
    for (const i of a.addr_info ?? []) {
      if (i.local === undefined || i.prefixlen === undefined) continue;
      const c = tryParseCidr(`${i.local}/${i.prefixlen}`, false);
      if (c !== undefined && !i.local.startsWith('127.')) out.push(c);
    }
  }
  return out;
}
