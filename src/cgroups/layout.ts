// Which cgroup hierarchies the host has and where this process sits in them. Pure:
// callers pass the text of /proc/self/mountinfo and /proc/self/cgroup (cgroupfs.ts reads them).
// Formats: proc(5) "/proc/pid/mountinfo", cgroups(7) "/proc/pid/cgroup".

import { internal } from '../base/index.js';

/** `v1`: only v1 controllers; `v2`: the unified hierarchy only; `hybrid`: v1 controllers plus a cgroup2 mount. */
export type CgroupMode = 'v1' | 'v2' | 'hybrid';

/** The v1 controllers the kernel can mount (cgroups(7)). */
export const V1_CONTROLLERS: readonly string[] = Object.freeze([
  'cpuset', 'cpu', 'cpuacct', 'blkio', 'memory', 'devices', 'freezer', 'net_cls', 'perf_event',
  'net_prio', 'hugetlb', 'pids', 'rdma', 'misc',
]);

/** Key of the unified (v2) hierarchy in the maps below. */
export const UNIFIED = 'unified';

export interface CgroupMount {
  version: 1 | 2;
  /** Where it is mounted, unescaped. */
  mountPoint: string;
  /** The cgroup that is the root of this mount (`/` on the host). */
  root: string;
  /** v1: its controllers and any `name=X`; v2: `[]`. */
  controllers: string[];
}

const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The cgroup and cgroup2 mounts listed in a mountinfo text. */
export function cgroupMounts(mountinfo: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    const fstype = post[0];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const root = unescape(pre[3] ?? '/');
    const mountPoint = unescape(pre[4] ?? '');
    if (fstype === 'cgroup2') {
      out.push({ version: 2, mountPoint, root, controllers: [] });
    } else {
      const superOpts = (post[2] ?? '').split(',');
      const controllers = superOpts.filter((o) => V1_CONTROLLERS.includes(o) || o.startsWith('name='));
      out.push({ version: 1, mountPoint, root, controllers });
    }
  }
  return out;
}

/**
 * The host's cgroup mode from /proc/self/mountinfo: v1 controllers and a cgroup2 mount →
 * `hybrid`; v1 controllers only → `v1`; cgroup2 only (a named v1 hierarchy such as
 * `name=systemd` alone does not count) → `v2`. No cgroup filesystem → internal error.
 */
export function detectCgroupMode(mountinfo: string): CgroupMode {
  const mounts = cgroupMounts(mountinfo);
  const v1 = mounts.some((m) => m.version === 1 && m.controllers.some((c) => V1_CONTROLLERS.includes(c)));
  const v2 = mounts.some((m) => m.version === 2);
  if (v1) return v2 ? 'hybrid' : 'v1';
  if (v2) return 'v2';
  throw internal('Cannot detect the cgroup mode: no cgroup filesystem is mounted');
}

/**
 * This process's cgroup per controller from /proc/self/cgroup: `4:cpu,cpuacct:/x` gives
 * `cpu` and `cpuacct` → `/x`; `1:name=systemd:/x` gives `name=systemd`; the v2 line
 * `0::/x` gives `unified` (UNIFIED).
 */
export function ownCgroupPaths(procSelfCgroup: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of procSelfCgroup.split('\n')) {
    if (line.trim() === '') continue;
    const a = line.indexOf(':');
    const b = line.indexOf(':', a + 1);
    if (a < 0 || b < 0) continue;
    const list = line.slice(a + 1, b);
    const path = line.slice(b + 1);
    if (line.slice(0, a) === '0' && list === '') out[UNIFIED] = path;
    else for (const c of list.split(',')) if (c !== '') out[c] = path;
  }
  return out;
}

/**
 * Absolute directories of this process's cgroups, per controller (and `unified`), from
 * the mounts and /proc/self/cgroup. A path under the mount's root is made relative to it
 * (needed inside a cgroup namespace or a bind-mounted subtree).
 */
export function cgroupDirs(mounts: readonly CgroupMount[], own: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, path] of Object.entries(own)) {
    const m = key === UNIFIED ? mounts.find((x) => x.version === 2) : mounts.find((x) => x.version === 1 && x.controllers.includes(key));
    if (m === undefined) continue;
    let rel = path;
    if (m.root !== '/' && (path === m.root || path.startsWith(`${m.root}/`))) rel = path.slice(m.root.length);
    out[key] = joinPath(m.mountPoint, rel);
  }
  return out;
}

function joinPath(a: string, b: string): string {
  const s = `${a}/${b}`.replace(/\/+/g, '/');
  return s.length > 1 && s.endsWith('/') ? s.slice(0, -1) : s;
}
