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

const envName = (e: string): string => e.split('=', 1)[0]!;

/**
 * A container's Config.Env from its own and its image's, as moby's create merges them: the
 * container's entries as given, then each image variable the container does not name (an entry
 * without `=` names one too, so `-e NAME` keeps the image's NAME out).
 *
 * @example
 * mergeConfigEnv(['PATH=/bin', 'A=img'], ['B=1', 'A=own']); // ['B=1', 'A=own', 'PATH=/bin']
 */
export function mergeConfigEnv(image: readonly string[], own: readonly string[]): string[] {
  if (own.length === 0) return [...image];
  const named = new Set(own.map(envName));
  return [...own, ...image.filter((e) => !named.has(envName(e)))];
}

/**
 * moby's ReplaceOrAppendEnvValues: each override replaces the default of the same name in place
 * or is appended; one without `=` removes that default and is never passed on (runc refuses such
 * an entry).
 *
 * @example
 * replaceOrAppendEnv(['PATH=/d', 'HOSTNAME=h'], ['A=1', 'PATH=/bin', 'HOSTNAME']); // ['PATH=/bin', 'A=1']
 */
export function replaceOrAppendEnv(defaults: readonly string[], overrides: readonly string[]): string[] {
  const out: Array<string | undefined> = [...defaults];
  const at = new Map(defaults.map((e, i) => [envName(e), i]));
  for (const e of overrides) {
    const i = at.get(envName(e));
    if (!e.includes('=')) {
      if (i !== undefined) out[i] = undefined;
    } else if (i !== undefined) out[i] = e;
    else out.push(e);
  }
  return out.filter((e): e is string => e !== undefined);
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
 * The environment dockerd gives a container's process (CreateDaemonEnvironment): PATH, HOSTNAME,
 * TERM with a terminal and the links' variables, then Config.Env over them; HOME last when unset,
 * as runc would add it.
 */
export function daemonEnv(c: Pick<ContainerRecord, 'Id' | 'Config'>, tty: boolean, linkEnv: readonly string[] = []): string[] {
  const defaults = [DEFAULT_PATH_ENV, `HOSTNAME=${c.Config.Hostname ?? c.Id.slice(0, 12)}`, ...(tty ? ['TERM=xterm'] : []), ...linkEnv];
  return replaceOrAppendEnv(defaults, c.Config.Env ?? []);
}

export function buildEnv(c: ContainerRecord, home: string, linkEnv: readonly string[] = []): string[] {
  const env = daemonEnv(c, c.Config.Tty === true, linkEnv);
  // runc sets HOME when the process has none, whatever Env says.
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${home}`);
  return env;
}
