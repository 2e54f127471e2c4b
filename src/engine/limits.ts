// Limits that explain themselves: watches running containers' cgroups and reports when the
// pids limit refuses a fork or the OOM killer fires, naming the container and the limit.
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readOwnCgroups, readPidsEvents, readOomKillCount, type CgroupMode } from '../cgroups/index.js';
import { blkioSupportFrom, type BlkioSupport } from '../spec/index.js';

export interface LimitHit {
  containerId: string;
  kind: 'pids' | 'oom';
  /** The configured limit (pids.max or memory limit in bytes; 'max' when none). */
  limit: string;
  /** Total refusals (pids.events max) or OOM kills so far. */
  count: number;
}

export interface CgroupLocator {
  mode: CgroupMode;
  /** The container's directory in one controller (v1 name or 'unified'); `sub`: its cleaned CgroupParent. */
  dir(containerId: string, controller: string, sub?: string): string | undefined;
}

export async function locateCgroups(parent: string): Promise<CgroupLocator> {
  const own = await readOwnCgroups();
  return {
    mode: own.mode,
    dir(id, controller, sub = '') {
      const base = own.mode === 'v2' ? own.dirs['unified'] : own.dirs[controller];
      return base === undefined ? undefined : join(base, parent, sub, id);
    },
  };
}

/**
 * What the block I/O controller can apply to containers nested under moatd's own cgroups
 * (`own`: readOwnCgroups' answer): v1 (and hybrid) by the blkio directory's files, v2 by the
 * io controller. Nothing where the directory cannot be read.
 */
export async function readBlkioSupport(own?: { mode: CgroupMode; dirs: Readonly<Record<string, string>> }): Promise<BlkioSupport> {
  const o = own ?? (await readOwnCgroups());
  if (o.mode === 'v2') {
    const dir = o.dirs['unified'];
    return blkioSupportFrom(2, [], dir === undefined ? '' : (await readFile(join(dir, 'cgroup.controllers'), 'utf8').catch(() => '')).trim());
  }
  const dir = o.dirs['blkio'];
  return blkioSupportFrom(1, dir === undefined ? [] : await readdir(dir).catch(() => []));
}

/** A cgroupfs file's text ('' when missing): synchronous, as the cgroups module reads counters. */
function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

/** A container's limit counters: pids.events max, OOM kills, and the limits themselves. */
export interface LimitCounters {
  pids?: number;
  pidsMax?: string;
  oom?: number;
  memMax?: string;
}

/**
 * Current counters of one container (`sub`: its cleaned CgroupParent below the daemon's
 * parent). Four small cgroupfs files read synchronously: at an exit this is on the way to
 * the wait's answer (0.9 ms through the thread pool, 16 round trips).
 */
export async function readLimitCounters(loc: CgroupLocator, id: string, sub = ''): Promise<LimitCounters> {
  const pidsDir = loc.dir(id, 'pids', sub);
  const memDir = loc.dir(id, 'memory', sub);
  const out: LimitCounters = {};
  const orUndefined = <T>(read: () => T): T | undefined => {
    try {
      return read();
    } catch {
      return undefined;
    }
  };
  if (pidsDir) {
    const n = orUndefined(() => readPidsEvents(pidsDir));
    if (n !== undefined) out.pids = n;
    out.pidsMax = readText(join(pidsDir, 'pids.max'));
  }
  if (memDir) {
    const n = orUndefined(() => readOomKillCount(memDir, { mode: loc.mode }));
    if (n !== undefined) out.oom = n;
    out.memMax = readText(join(memDir, loc.mode === 'v2' ? 'memory.max' : 'memory.limit_in_bytes'));
  }
  return out;
}

/** Polls running containers; calls `onHit` once per increase of a counter. */
export class LimitWatcher {
  #timer: NodeJS.Timeout | undefined;
  #last = new Map<string, { pids: number; oom: number }>();
  #busy = false;

  constructor(
    private readonly counters: (id: string) => Promise<LimitCounters>,
    private readonly running: () => string[],
    private readonly onHit: (hit: LimitHit) => void,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    this.#timer = setInterval(() => void this.poll(), this.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  forget(id: string): void {
    this.#last.delete(id);
  }

  async poll(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      for (const id of this.running()) await this.pollOne(id);
    } finally {
      this.#busy = false;
    }
  }

  /** Check one container now (e.g. as it exits, before its cgroup goes); returns its counters. */
  async pollOne(id: string): Promise<{ pids?: number; oom?: number }> {
    const c = await this.counters(id);
    const prev = this.#last.get(id) ?? { pids: 0, oom: 0 };
    const pids = c.pids ?? prev.pids;
    const oom = c.oom ?? prev.oom;
    if (pids > prev.pids) this.onHit({ containerId: id, kind: 'pids', limit: c.pidsMax ?? 'max', count: pids });
    if (oom > prev.oom) this.onHit({ containerId: id, kind: 'oom', limit: c.memMax ?? 'max', count: oom });
    this.#last.set(id, { pids, oom });
    return { pids, oom };
  }
}
