// Small engine helpers: timing (re-exported from base), per-key locks, timeouts, environment merging. Pure.
import { DEFAULT_PATH_ENV } from '../spec/index.js';
import type { ContainerRecord } from './types.js';

export { PhaseTimer } from '../base/index.js';

/** A small per-key async lock: one lifecycle operation per container at a time. */
export class KeyedLock {
  #tails = new Map<string, Promise<unknown>>();
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.#tails.set(key, tail);
    try {
      return await next;
    } finally {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}

export async function withTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => (t = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    if (t) clearTimeout(t);
  }
}

/** Image env overlaid by the container's, by variable name. */
export function mergeEnv(base: readonly string[], over: readonly string[]): string[] {
  const out = [...base];
  for (const e of over) {
    const k = e.split('=', 1)[0]!;
    const i = out.findIndex((x) => x.split('=', 1)[0] === k);
    if (i >= 0) out[i] = e;
    else out.push(e);
  }
  return out;
}

export function buildEnv(c: ContainerRecord, home: string): string[] {
  const env = mergeEnv([`HOSTNAME=${c.Config.Hostname ?? c.Id.slice(0, 12)}`], c.Config.Env ?? []);
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH_ENV);
  if (c.Config.Tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${home}`);
  return env;
}
