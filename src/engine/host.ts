// The engine's host seams besides the OCI runtime: the overlay rootfs and files inside it,
// bind staging, device nodes, cgroups, processes and the host's resolv.conf. `hostSystem()`
// is moatd's (root: mounts, chown, cgroups); the engine's unit tests pass fakes, so the
// lifecycle is tested without root. Host code.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, readdir, readFile, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid } from '../base/index.js';
import { prepayCgroupMove, readOwnCgroups, sampleProcessCgroups, type StatsSnapshot } from '../cgroups/index.js';
import { MAX_CGROUP_PARENT_DEPTH, type DeviceMapping, type MountRequest } from '../docker/index.js';
import { mountOverlay, unmountOverlay } from '../image/index.js';
import type { LinuxDevice, ResolvedDevice } from '../spec/index.js';
import { identifyBindSources, stageBinds, unstageBinds, type BindSource } from './binds.js';
import { allHostDevices, blockDeviceNumbers, chownIfRoot, hostDevices, populateVolume } from './host-setup.js';
import { locateCgroups, readLimitCounters, type CgroupLocator, type LimitCounters } from './limits.js';
import { makeWorkdir, readRootfsText } from './rootfs.js';
import { topRow } from './top.js';

/** A host device node and its cgroup rule. */
export interface HostDevice {
  node: LinuxDevice;
  cgroup: ResolvedDevice;
}

/** The container's root filesystem and files in it (container-writable: through src/sys). */
export interface RootfsHost {
  /** Mount the overlay of the image's layers under the container's upper dir at `merged` (`volatile`: see OverlayDirs). */
  mount(layers: readonly string[], dirs: { upper: string; work: string; merged: string; volatile?: boolean }): Promise<void>;
  unmount(merged: string): Promise<void>;
  /** A text file inside the rootfs as the container sees it ('' when absent). */
  readText(rootfs: string, inside: string): Promise<string>;
  /** `mkdir -p` of the working directory inside the rootfs. */
  makeWorkdir(rootfs: string, cwd: string): void;
  /** Copy the image's content at `target` into an empty volume; why it stopped early, if it did. */
  copyUp(rootfs: string, target: string, volumeDir: string): Promise<string | undefined>;
  /** chown a daemon-owned directory when root owns it (userns remap). */
  chownIfRoot(path: string, uid: number, gid: number): void;
  chmod(path: string, mode: number): Promise<void>;
}

/** Bind sources: what the policy approved is what gets mounted (binds.ts). */
export interface BindHost {
  identify(requests: readonly MountRequest[]): BindSource[];
  stage(bundle: string, requests: readonly MountRequest[], recorded: readonly BindSource[] | undefined): Promise<{ staged: Map<string, string>; sources: readonly BindSource[] }>;
  unstage(bundle: string): Promise<void>;
}

export interface CgroupHost {
  /** Find the containers' cgroups (under `parent` in moatd's own), once at start-up. */
  init(parent: string): Promise<void>;
  /** A container's limit counters (pids refusals, OOM kills) and limits; `sub` is its cleaned CgroupParent ('' for none). */
  counters(id: string, sub: string): Promise<LimitCounters>;
  /**
   * rmdir each of `dirs` (relative to moatd's own cgroup, in this order) in every hierarchy;
   * one that still holds a cgroup or a process stays (rmdir fails, harmlessly).
   */
  removeParents(dirs: readonly string[]): Promise<void>;
  /**
   * At start-up: rmdir every directory below `parent` that is not a container's own cgroup
   * (a 64-hex name, never descended into) nor in `keep` (paths relative to `parent`), deepest
   * first: the CgroupParent levels a crash left behind.
   */
  sweep(parent: string, keep: ReadonlySet<string>): Promise<void>;
  /** One stats sample of the cgroups of process `pid` (0: an empty sample). */
  sample(pid: number): Promise<StatsSnapshot>;
  /**
   * Before the runtime moves a new process into its cgroups (after a create, which a start
   * usually follows; at a start; at an exec): starts the kernel's wait such a move begins
   * with, so runc's finds it over or under way. Returns at once.
   */
  prepayMove(): void;
}

export interface ProcessHost {
  /** `docker top`'s default columns (UID PID PPID C STIME TTY TIME CMD) for host pids. */
  rows(pids: readonly number[]): Promise<string[][]>;
  /** The host's `ps` with the client's options (argv, never a shell); its output. */
  ps(args: readonly string[]): Promise<string>;
}

/**
 * Everything the engine asks of the host apart from the OCI runtime.
 *
 * @example
 * new Engine({ ..., runtime: new RuncRuntime(paths), host: hostSystem() });
 */
export interface EngineHost {
  rootfs: RootfsHost;
  binds: BindHost;
  devices: {
    resolve(list: readonly DeviceMapping[]): Promise<HostDevice[]>;
    all(): Promise<HostDevice[]>;
    /** Block device paths (blkio settings) → their device numbers now; a 400 for one that is not a whole disk. */
    blockNumbers(paths: readonly string[]): Promise<Map<string, { major: number; minor: number }>>;
  };
  cgroups: CgroupHost;
  processes: ProcessHost;
  /** The host's /etc/resolv.conf ('' when unreadable). */
  resolvConf(): Promise<string>;
}

const CONTAINER_LEAF = /^[0-9a-f]{64}$/;

/**
 * rmdir the directories below `root`/`rel` deepest first, skipping containers' own cgroups
 * and the levels in `keep`. cgroupfs holds no symlinks and only moatd creates levels here
 * (a container can write at most inside its own leaf, which is never entered).
 */
async function sweepCgroupLevels(root: string, rel: string, keep: ReadonlySet<string>, depth = 0): Promise<void> {
  if (depth > MAX_CGROUP_PARENT_DEPTH) return;
  const entries = await readdir(rel === '' ? root : join(root, rel), { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isDirectory() || CONTAINER_LEAF.test(e.name)) continue;
    const child = rel === '' ? e.name : `${rel}/${e.name}`;
    await sweepCgroupLevels(root, child, keep, depth + 1);
    if (!keep.has(child)) await rmdir(join(root, child)).catch(() => undefined);
  }
}

/**
 * moatd's host: overlayfs, src/sys for container trees, cgroupfs, /proc, ps.
 *
 * @example
 * const host = hostSystem();
 */
export function hostSystem(): EngineHost {
  let cgroups: CgroupLocator | undefined;
  return {
    rootfs: {
      mount: (layers, dirs) => mountOverlay([...layers], dirs),
      unmount: (merged) => unmountOverlay(merged),
      readText: (rootfs, inside) => readRootfsText(rootfs, inside),
      makeWorkdir: (rootfs, cwd) => makeWorkdir(rootfs, cwd),
      copyUp: (rootfs, target, volumeDir) => populateVolume(rootfs, target, volumeDir),
      chownIfRoot: (path, uid, gid) => chownIfRoot(path, uid, gid),
      chmod: (path, mode) => chmod(path, mode),
    },
    binds: { identify: identifyBindSources, stage: stageBinds, unstage: unstageBinds },
    devices: { resolve: (list) => hostDevices(list), all: () => allHostDevices(), blockNumbers: (paths) => blockDeviceNumbers(paths) },
    cgroups: {
      async init(parent) {
        cgroups = await locateCgroups(parent);
      },
      counters: async (id, sub) => (cgroups === undefined ? {} : await readLimitCounters(cgroups, id, sub)),
      async removeParents(dirs) {
        // runc removes each container's leaf; the parents go when they are empty.
        const own = await readOwnCgroups().catch(() => undefined);
        // The hierarchies (a dozen under cgroup v1) in parallel, each one's levels in order:
        // one after another they were 13+ thread-pool round trips on every last removal.
        const inOrder = async (base: string): Promise<void> => {
          for (const d of dirs) await rmdir(join(base, d)).catch(() => undefined);
        };
        await Promise.all([...new Set(Object.values(own?.dirs ?? {}))].map(inOrder));
      },
      async sweep(parent, keep) {
        const own = await readOwnCgroups().catch(() => undefined);
        for (const base of new Set(Object.values(own?.dirs ?? {}))) await sweepCgroupLevels(join(base, parent), '', keep);
      },
      sample: (pid) => sampleProcessCgroups(pid),
      prepayMove: () => void prepayCgroupMove(),
    },
    processes: {
      async rows(pids) {
        const uptime = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]);
        const now = new Date();
        const rows: string[][] = [];
        for (const pid of pids) {
          const [status, stat, cmdline] = await Promise.all(['status', 'stat', 'cmdline'].map((f) => readFile(`/proc/${pid}/${f}`, 'utf8').catch(() => '')));
          const row = topRow({ pid, uid: /^Uid:\s+(\d+)/m.exec(status ?? '')?.[1] ?? '?', stat: stat ?? '', cmdline: cmdline ?? '' }, uptime, now);
          if (row) rows.push(row); // gone since the pid list was read
        }
        return rows;
      },
      ps: (args) =>
        new Promise<string>((resolve, reject) => {
          execFile('ps', [...args], { timeout: 10_000, maxBuffer: 8 << 20 }, (err, stdout, stderr) => (err ? reject(invalid(`Error running ps: ${stderr.trim() || err.message}`)) : resolve(stdout)));
        }),
    },
    // The host's small /etc/resolv.conf, at every create: read synchronously (four
    // thread-pool round trips before, on the way to the create's answer).
    resolvConf: () => {
      try {
        return Promise.resolve(readFileSync('/etc/resolv.conf', 'utf8'));
      } catch {
        return Promise.resolve('');
      }
    },
  };
}
