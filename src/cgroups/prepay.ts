// The one write moatd makes to cgroupfs (host): a move of moatd into the cgroup it is already
// in, made shortly before runc moves a new process (a container's init, an exec's process).
//
// Every move of a process between cgroups (a write to cgroup.procs, any hierarchy, v1 or v2)
// takes the kernel's global lock for moves, and the first taker after a quiet spell waits a
// whole RCU grace period for it (rcu_sync_enter → synchronize_rcu): 6–23 ms on this host, the
// largest single wait in `runc create`. For about one grace period after a move, the next one
// does not wait. So moatd makes a move that changes nothing while it prepares the container,
// and runc's own move, milliseconds later, finds the grace period passed or under way
// (docs/performance.md, phase J). The move is moatd's own pid into the cgroup /proc/self/cgroup
// names for it, read just before; a write that fails only loses the head start.
import { readFileSync, constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';
import { cgroupDirs, cgroupMounts, ownCgroupPaths, UNIFIED, type CgroupMount } from './layout.js';

/**
 * The cgroup.procs file the no-op move writes: this process's pids cgroup (v1 or hybrid, the
 * controller moat needs), else its v2 cgroup; undefined when neither is mounted.
 *
 * @example
 * prepayTarget({ pids: '/sys/fs/cgroup/pids/x', unified: '/sys/fs/cgroup/unified/x' }); // '/sys/fs/cgroup/pids/x/cgroup.procs'
 */
export function prepayTarget(dirs: Readonly<Record<string, string>>): string | undefined {
  const dir = dirs['pids'] ?? dirs[UNIFIED];
  return dir === undefined ? undefined : `${dir}/cgroup.procs`;
}

let mounts: readonly CgroupMount[] | undefined;
let pending: Promise<void> | undefined;

/**
 * Starts the no-op move in the thread pool and returns at once (the write itself may wait a
 * grace period). One at a time: a second while one waits would only wait for the same one.
 * Resolves when the write is done (tests); never rejects.
 */
export function prepayCgroupMove(): Promise<void> {
  if (pending !== undefined) return pending;
  let file: string | undefined;
  try {
    mounts ??= cgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'));
    file = prepayTarget(cgroupDirs(mounts, ownCgroupPaths(readFileSync('/proc/self/cgroup', 'utf8'))));
  } catch {
    return Promise.resolve();
  }
  if (file === undefined) return Promise.resolve();
  const target = file;
  const p = (async () => {
    // Never O_CREAT: a cgroup gone meanwhile fails the open, nothing is made.
    const h = await open(target, fsConstants.O_WRONLY);
    try {
      await h.write(String(process.pid));
    } finally {
      await h.close();
    }
  })()
    .catch(() => undefined)
    .finally(() => {
      pending = undefined;
    });
  pending = p;
  return p;
}
