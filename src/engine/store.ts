// Container records on disk: `<data-root>/containers/<id>/container.json`, written
// atomically. A directory without that file is a create that never finished.
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineError, internal, readJsonIfExists, writeJsonAtomic } from '../base/index.js';
import { removePath } from '../sys/index.js';
import type { ContainerRecord } from './types.js';

export const RECORD_FILE = 'container.json';

export class ContainerStore {
  constructor(readonly root: string) {}

  dir(id: string): string {
    return join(this.root, id);
  }

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
  }

  async save(rec: ContainerRecord): Promise<void> {
    await writeJsonAtomic(join(this.dir(rec.Id), RECORD_FILE), rec);
  }

  /** Every container directory: with its record, or `undefined` for an unfinished create. */
  async scan(): Promise<Array<{ id: string; record: ContainerRecord | undefined }>> {
    const out: Array<{ id: string; record: ContainerRecord | undefined }> = [];
    for (const id of await readdir(this.root)) {
      if (!/^[a-f0-9]{64}$/.test(id)) continue;
      out.push({ id, record: await readJsonIfExists<ContainerRecord>(join(this.dir(id), RECORD_FILE)) });
    }
    return out;
  }

  /** Remove a container's directory; never enters a mount point left in it (a bind staging point, a rootfs still mounted). */
  async removeDir(id: string): Promise<void> {
    try {
      await removePath(this.dir(id));
    } catch (err) {
      if (err instanceof EngineError && err.code === 'ERR_UNSAFE_PATH') throw internal(`Cannot remove ${this.dir(id)}: a mount point is still inside it`, { cause: err });
      throw err;
    }
  }
}
