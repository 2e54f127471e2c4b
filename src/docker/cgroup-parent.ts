// HostConfig.CgroupParent (`docker run --cgroup-parent X`) → the path below moat's own
// cgroup parent that holds the container's cgroup. Docker (cgroupfs driver) puts a relative
// name under dockerd's cgroup and an absolute one from the cgroup root; moat confines both
// under its own parent (`<moatd's cgroup>/<--cgroup-parent>/<X>/<id>`), so a client can never
// place a container in, or write limits on, a cgroup moat did not create. Inspect keeps what
// the client gave. Pure.
import { invalid } from '../base/index.js';

/** Longest value accepted, in characters (a cgroup name is at most 255 bytes: NAME_MAX). */
export const MAX_CGROUP_PARENT_LENGTH = 255;
/** Most levels below moat's parent. */
export const MAX_CGROUP_PARENT_DEPTH = 16;

const FIELD = 'HostConfig.CgroupParent';
const COMPONENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** A container's own cgroup is named by its 64-hex id: never a parent of another container. */
const CONTAINER_ID = /^[0-9a-f]{64}$/i;
/** cgroupfs files: a level named like one would collide with the controller's interface. */
const CONTROL_PREFIXES = new Set([
  'cgroup', 'cpuset', 'cpu', 'cpuacct', 'blkio', 'memory', 'devices', 'freezer', 'net_cls', 'net_prio',
  'perf_event', 'hugetlb', 'pids', 'rdma', 'misc', 'io',
]);
const CONTROL_FILES = new Set(['tasks', 'notify_on_release', 'release_agent']);

/**
 * The cleaned path below moat's cgroup parent (`''` when unset; a leading `/` is dropped:
 * absolute names are confined too). Throws a 400 naming the field for `.`/`..` or empty
 * components, NUL, newlines and other control characters, systemd slice names (`x.slice`:
 * moat drives cgroupfs), names of cgroup control files or of a container's own cgroup,
 * characters outside `[A-Za-z0-9_.-]`, and values over MAX_CGROUP_PARENT_LENGTH characters
 * or MAX_CGROUP_PARENT_DEPTH levels.
 *
 * @example
 * cgroupParentPath('/ci/jobs'); // 'ci/jobs'
 * cgroupParentPath('../x');     // throws: HostConfig.CgroupParent "../x": ".." is not allowed …
 */
export function cgroupParentPath(value: string): string {
  if (value === '') return '';
  const shown = JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  const bad = (why: string): never => {
    throw invalid(`${FIELD} ${shown}: ${why}`);
  };
  if (/[\u0000-\u001f\u007f]/.test(value)) bad('must not contain NUL, newlines or other control characters');
  if (value.length > MAX_CGROUP_PARENT_LENGTH) bad(`longer than ${MAX_CGROUP_PARENT_LENGTH} characters`);
  // Absolute names are interpreted under moat's parent too: `/` alone is moat's parent itself.
  const rel = value.startsWith('/') ? value.slice(1) : value;
  if (rel === '') return '';
  const parts = rel.split('/');
  if (parts.length > MAX_CGROUP_PARENT_DEPTH) bad(`more than ${MAX_CGROUP_PARENT_DEPTH} levels`);
  for (const p of parts) {
    if (p === '') bad('empty path component (a doubled or trailing "/")');
    if (p === '..') bad('".." is not allowed: the cgroup must stay under moat\'s cgroup');
    if (p === '.') bad('"." components are not allowed');
    if (p.endsWith('.slice')) bad('systemd slice names are not supported: moat manages cgroups with cgroupfs, give a path such as "ci/jobs"');
    if (!COMPONENT.test(p)) bad(`component ${JSON.stringify(p)} may hold only [A-Za-z0-9_.-] and must start with a letter, digit or "_"`);
    if (CONTAINER_ID.test(p)) bad(`component ${JSON.stringify(p)} looks like a container ID: a container's own cgroup cannot hold another container`);
    const dot = p.indexOf('.');
    if (CONTROL_FILES.has(p) || (dot > 0 && CONTROL_PREFIXES.has(p.slice(0, dot)))) bad(`component ${JSON.stringify(p)} is the name of a cgroup control file`);
  }
  return parts.join('/');
}

/**
 * The levels of a cleaned CgroupParent path, deepest first: the directories moat may remove
 * once no container uses them.
 *
 * @example
 * cgroupParentLevels('a/b/c'); // ['a/b/c', 'a/b', 'a']
 */
export function cgroupParentLevels(path: string): string[] {
  if (path === '') return [];
  const parts = path.split('/');
  return parts.map((_p, i) => parts.slice(0, parts.length - i).join('/'));
}
