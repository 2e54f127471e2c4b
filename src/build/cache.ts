// The build cache: a step is reused when its parent image, its instruction after
// substitution (with the config it leads to and, for RUN, the build args it sees) and, for
// COPY/ADD, the checksum of its sources are the same. The key is the sha256 of those; the
// index (key -> image id) lives beside the image store and forgets images that are gone.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { readJsonIfExists, writeJsonAtomic } from '../base/index.js';
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

export class BuildCache {
  readonly #images: ImageStore;
  #index: Map<string, string> | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(images: ImageStore) {
    this.#images = images;
  }

  get #file(): string {
    return join(this.#images.root, 'build-cache.json');
  }

  async #load(): Promise<Map<string, string>> {
    if (this.#index === undefined) {
      const saved = (await readJsonIfExists<Record<string, string>>(this.#file)) ?? {};
      this.#index = new Map(Object.entries(saved).filter(([, v]) => typeof v === 'string'));
    }
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

  /** Remember a step's image; written to disk before it is used (a crash loses only the entry). */
  async add(key: string, imageId: string): Promise<void> {
    const index = await this.#load();
    const next = new Map(index);
    next.set(key, imageId);
    // Entries of deleted images go when the index is written.
    for (const [k, v] of next) if (this.#images.find(v) === undefined) next.delete(k);
    const write = this.#writing.then(() => writeJsonAtomic(this.#file, Object.fromEntries(next), 0o600));
    this.#writing = write.catch(() => undefined);
    await write;
    this.#index = next;
  }
}
