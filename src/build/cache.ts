// The build cache: a step is reused when its parent image, its instruction after
// substitution (with the config it leads to and, for RUN, the build args it sees) and, for
// COPY/ADD, the checksum of its sources are the same. The key is the sha256 of those; the
// index (key -> image id) lives beside the image store and forgets images that are gone.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { errorText, readJsonIfExists, writeJsonAtomic } from '../base/index.js';
import type { ImageStore } from '../image/index.js';

/**
 * The cache key of a step. Pure.
 *
 * @example
 * cacheKey('sha256:parent…', { kind: 'run', cmd: ['/bin/sh', '-c', 'make'], env: [] }) // 'sha256:…'
 */
export function cacheKey(parentId: string, step: unknown): string {
  return `sha256:${createHash('sha256').update(JSON.stringify([parentId, step])).digest('hex')}`;
}

/** Where the cache's warnings go (the daemon's logger). */
export interface CacheLog {
  warn(fields: object, message: string): void;
}

/** What the cache needs of the image store: where it lives and which images still exist. */
export type CacheImages = Pick<ImageStore, 'root' | 'find'>;

/**
 * One writer queue per index file: concurrent builds (several BuildCache objects on one
 * store too) read, merge and write it one at a time, so no entry is lost to a stale copy.
 */
const writers = new Map<string, Promise<unknown>>();
async function serialized<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const prev = writers.get(file) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  const tail = next.catch(() => undefined);
  writers.set(file, tail);
  try {
    return await next;
  } finally {
    if (writers.get(file) === tail) writers.delete(file);
  }
}

export class BuildCache {
  readonly #images: CacheImages;
  readonly #log: CacheLog;
  #index: Map<string, string> | undefined;

  constructor(images: CacheImages, log: CacheLog) {
    this.#images = images;
    this.#log = log;
  }

  get #file(): string {
    return join(this.#images.root, 'build-cache.json');
  }

  /**
   * The index on disk. A file that cannot be read or parsed (a torn write by another tool, a
   * bad disk) is an empty index and a warning: every step misses and the next write replaces it.
   */
  async #read(): Promise<Map<string, string>> {
    let saved: unknown;
    try {
      saved = await readJsonIfExists<unknown>(this.#file);
    } catch (err) {
      this.#log.warn({ file: this.#file, err: errorText(err) }, 'build cache index unreadable: treated as empty (cache misses)');
      return new Map();
    }
    if (saved === undefined) return new Map();
    if (typeof saved !== 'object' || saved === null || Array.isArray(saved)) {
      this.#log.warn({ file: this.#file }, 'build cache index is not a JSON object: treated as empty (cache misses)');
      return new Map();
    }
    return new Map(Object.entries(saved).filter((e): e is [string, string] => typeof e[1] === 'string'));
  }

  async #load(): Promise<Map<string, string>> {
    this.#index ??= await this.#read();
    return this.#index;
  }

  /** The image a step with this key made, if it is still stored. */
  async find(key: string): Promise<string | undefined> {
    const index = await this.#load();
    const id = index.get(key);
    if (id === undefined) return undefined;
    if (this.#images.find(id) === undefined) return undefined;
    return id;
  }

  /**
   * Remember a step's image: the file is re-read, merged and replaced atomically in the
   * store's writer queue; memory follows the disk. A failed write loses only this entry (a
   * later miss), never the build.
   */
  async add(key: string, imageId: string): Promise<void> {
    await serialized(this.#file, async () => {
      const next = await this.#read();
      next.set(key, imageId);
      // Entries of deleted images go when the index is written.
      for (const [k, v] of next) if (this.#images.find(v) === undefined) next.delete(k);
      try {
        await writeJsonAtomic(this.#file, Object.fromEntries(next), 0o600);
      } catch (err) {
        this.#log.warn({ file: this.#file, err: errorText(err) }, 'cannot write the build cache index: this step will not be reused');
        return;
      }
      this.#index = next;
    });
  }
}
