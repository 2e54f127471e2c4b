// Container records on disk: `<data-root>/containers/<id>/container.json`, written
// atomically after the record schema checked it. A directory without that file is a create
// that never finished; a file the schema refuses is a corrupt record, reported with its reason.
import { randomBytes } from 'node:crypto';
import { renameSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { EngineError, internal, removeStaleTempFiles, replaceFileAtomic, syncDir, writeJsonAtomic } from '../base/index.js';
import { mountPointsUnder, removePath, spreadSubdirectories } from '../sys/index.js';
import { assertRecord, checkRecordText } from './record.js';
import type { ContainerRecord } from './types.js';

export const RECORD_FILE = 'container.json';

export type ScanEntry =
  | { id: string; kind: 'record'; record: ContainerRecord }
  | { id: string; kind: 'unfinished' }
  | { id: string; kind: 'corrupt'; path: string; reason: string; raw: unknown; modified: Date };

export class ContainerStore {
  /** Directories of removed containers, moved out of `root` and deleted after the answer. */
  readonly trash: string;

  constructor(readonly root: string) {
    this.trash = join(dirname(root), 'container-trash');
  }

  dir(id: string): string {
    return join(this.root, id);
  }

  recordPath(id: string): string {
    return join(this.dir(id), RECORD_FILE);
  }

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    await mkdir(this.trash, { recursive: true, mode: 0o700 });
    // Each container's directory in another block group: its files' inodes then come from
    // groups with little churn (src/sys/spread.ts; the trash only gets renames).
    spreadSubdirectories(this.root);
    // What a crash (or a stuck mount) left of earlier removals: the containers are gone.
    for (const name of await readdir(this.trash)) await removePath(join(this.trash, name)).catch(() => undefined);
  }

  /**
   * Write a record atomically; durable (file and directory fsynced) unless `durable: false`,
   * for a record whose loss in a power cut changes nothing (see Lifecycle.removeLocked).
   */
  async save(rec: ContainerRecord, o: { durable?: boolean } = {}): Promise<void> {
    assertRecord(rec);
    if (o.durable === false) await replaceFileAtomic(this.recordPath(rec.Id), JSON.stringify(rec, null, 2) + '\n');
    else await writeJsonAtomic(this.recordPath(rec.Id), rec);
  }

  /**
   * After a create's first record: the new container directory's own entry in the root, so a
   * power cut cannot lose a container whose create was answered (the record's write syncs
   * only the container's directory; a journal-less ext4 keeps no order between the two).
   */
  async syncRoot(): Promise<void> {
    await syncDir(this.root);
  }

  /** Remove the record only (the directory becomes an unfinished create, cleaned at start). */
  async dropRecord(id: string): Promise<void> {
    await unlink(this.recordPath(id)).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    });
  }

  /** Every container directory, with its record, as an unfinished create, or as a corrupt record. */
  async scan(): Promise<ScanEntry[]> {
    const out: ScanEntry[] = [];
    for (const id of await readdir(this.root)) {
      if (!/^[a-f0-9]{64}$/.test(id)) continue;
      // A crash during an atomic write leaves its temporary file: the record is the old one.
      await removeStaleTempFiles(this.dir(id));
      const path = this.recordPath(id);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') out.push({ id, kind: 'unfinished' });
        else out.push({ id, kind: 'corrupt', path, reason: `cannot read the record: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, raw: undefined, modified: new Date() });
        continue;
      }
      const checked = checkRecordText(id, text);
      if (checked.ok) {
        out.push({ id, kind: 'record', record: checked.record });
        continue;
      }
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        raw = undefined;
      }
      const modified = await stat(path).then((s) => s.mtime, () => new Date());
      out.push({ id, kind: 'corrupt', path, reason: checked.reason, raw, modified });
    }
    return out;
  }

  /**
   * Take a container's directory out of the store at once (one rename into the trash dir)
   * and delete it in the background: a removal answers without waiting for the files.
   * A mount point still inside keeps the removal synchronous, so its error reaches the
   * caller as before; a background failure goes to `onError` and is retried at next start.
   */
  async removeDirSoon(id: string, onError: (err: unknown) => void): Promise<void> {
    const dir = this.dir(id);
    if (mountPointsUnder(dir).length > 0) return await this.removeDir(id);
    const trashed = join(this.trash, `${id}.${randomBytes(4).toString('hex')}`);
    try {
      // One rename within the data root (moatd's own): synchronous, on the way to an answer.
      renameSync(dir, trashed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      return await this.removeDir(id);
    }
    // removePath's calls are synchronous: start it after this turn's answers are written.
    setImmediate(() => void removePath(trashed).catch(onError));
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
