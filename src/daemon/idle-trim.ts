// Memory given back after a burst of work, once moatd is idle (issue 18). V8 keeps the heap
// it grew to during the work and glibc keeps freed malloc memory; one full GC (`gc`, exposed by
// bin/moatd's --expose-gc) and malloc_trim(3) return it. Measured on moatd after 20 runs and
// 20 detached containers removed (/tmp script, docs/performance.md): RSS 91 → 84 MiB with
// both, ~2 MiB with either alone. Idle means the process used almost no CPU for a whole
// interval; a trim happens only after enough CPU was spent since the last one.
//
// The GC compacts: a plain full GC frees objects but keeps every partly used page of the old
// generation, ~4 MiB of moatd's heap after a burst, which V8's memory reducer compacts only ~10 s
// later (docs/performance.md, stop 36).
import type { Logger } from '../base/index.js';
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';

export interface IdleTrimOptions {
  readonly log: Logger;
  /** How often the CPU use is sampled. Default 5 s. */
  readonly intervalMs?: number;
  /** Below this much CPU in one interval, moatd is idle. Default 25 ms. */
  readonly idleCpuMs?: number;
  /** The CPU spent since the last trim that makes another worth it. Default 500 ms (about ten container runs). */
  readonly burstCpuMs?: number;
  /** The two steps (tests). */
  readonly gc?: (() => void) | undefined;
  readonly trim?: () => void;
  /** CPU use so far in ms (tests). */
  readonly cpuMs?: () => number;
}

function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

let mallocTrimFn: ((pad: number) => number) | undefined;

/** glibc's malloc_trim(0) through koffi, bound on first use (an idle daemon that never trims loads nothing). */
function mallocTrim(): void {
  if (mallocTrimFn === undefined) {
    const koffi = createRequire(import.meta.url)('koffi') as { load(path: string): { func(proto: string): (pad: number) => number } };
    mallocTrimFn = koffi.load('libc.so.6').func('int malloc_trim(size_t pad)');
  }
  mallocTrimFn(0);
}

/**
 * One full GC that also compacts the old generation, so pages left partly free are returned.
 * Node has no call for V8's memory-reducing GC; V8's own flag, set for this one collection only
 * (Node keeps flags writable after start: --no-freeze-flags-after-init is its default).
 */
export function compactingGc(gc: () => void): void {
  setFlagsFromString('--compact-on-every-full-gc');
  try {
    gc();
  } finally {
    setFlagsFromString('--no-compact-on-every-full-gc');
  }
}

/** Starts the sampling timer (unref'd); `stop()` ends it. `check()` is one sample (tests). */
export function startIdleTrim(o: IdleTrimOptions): { stop(): void; check(): boolean } {
  const cpuMs = o.cpuMs ?? processCpuMs;
  const exposed = (globalThis as { gc?: () => void }).gc;
  const gc = 'gc' in o ? o.gc : exposed && ((): void => compactingGc(exposed));
  const trim = o.trim ?? mallocTrim;
  const idleCpuMs = o.idleCpuMs ?? 25;
  const burstCpuMs = o.burstCpuMs ?? 500;
  let last = cpuMs();
  let sinceTrim = 0;
  const check = (): boolean => {
    const now = cpuMs();
    const used = now - last;
    last = now;
    sinceTrim += used;
    if (used >= idleCpuMs || sinceTrim < burstCpuMs) return false;
    sinceTrim = 0;
    const before = process.memoryUsage.rss();
    try {
      gc?.();
      trim();
    } catch (err) {
      o.log.warn({ err }, 'cannot give memory back');
      return false;
    }
    // Our own CPU for this trim is not a burst.
    last = cpuMs();
    o.log.debug({ rssBefore: before, rssAfter: process.memoryUsage.rss() }, 'idle after a burst: memory given back');
    return true;
  };
  const timer = setInterval(check, o.intervalMs ?? 5000);
  timer.unref();
  return { stop: () => clearInterval(timer), check };
}
