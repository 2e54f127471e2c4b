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

/**
 * moby's merge of an image's ExposedPorts or Volumes with a container's: the union (as a
 * `docker run -P` or an image's VOLUME needs), or null when neither has any.
 */
export function mergeKeys(image: Readonly<Record<string, object>> | null | undefined, own: Readonly<Record<string, object>> | null | undefined): Record<string, object> | null {
  const out: Record<string, object> = { ...(image ?? {}), ...(own ?? {}) };
  return Object.keys(out).length > 0 ? out : null;
}

/**
 * Docker's unset: an Env entry without `=` (`-e NAME` with NAME not set where the CLI ran, or
 * to drop an image's variable) removes the variable (moby ReplaceOrAppendEnvValues); runc
 * refuses such an entry.
 */
export function dropUnsetEnv(env: readonly string[]): string[] {
  return env.filter((e) => e.includes('='));
}

const namesVariable = (e: string, name: string): boolean => e === name || e.startsWith(`${name}=`);

export function buildEnv(c: ContainerRecord, home: string): string[] {
  const merged = mergeEnv([`HOSTNAME=${c.Config.Hostname ?? c.Id.slice(0, 12)}`], c.Config.Env ?? []);
  const env = dropUnsetEnv(merged);
  // The defaults dockerd starts from (PATH, TERM with a terminal) unless Env sets or unsets them.
  if (!merged.some((e) => namesVariable(e, 'PATH'))) env.unshift(DEFAULT_PATH_ENV);
  if (c.Config.Tty && !merged.some((e) => namesVariable(e, 'TERM'))) env.push('TERM=xterm');
  // runc sets HOME when the process has none, whatever Env says.
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${home}`);
  return env;
}
