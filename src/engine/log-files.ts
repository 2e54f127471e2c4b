// A container's log files and their rotation.
//
// conmon 2.1.6 (read in src/ctr_logging.c, measured here) caps its k8s-file log with
// `--log-size-max`: before a line would cross the cap it opens `<log>.tmp` with O_TRUNC and
// renames it over `<log>`, so the old file is gone unless something else links it. Its ctl
// FIFO's "reopen" does the same without resetting the byte counter, so moatd cannot rotate
// by renaming and reopening without conmon later truncating a file early. moat therefore
// lets conmon cap (the disk stays bounded while moatd is down) and keeps history by links:
//
//   ctr.log         the file conmon writes
//   ctr.log.keep    a second link to it, so conmon's rename does not free it
//   ctr.log.next    an empty file, also linked as ctr.log.tmp: conmon's next open of .tmp
//   ctr.log.tmp     truncates it (empty anyway) and renames it over ctr.log - the new
//                   current file has a second link from its first byte
//   ctr.log.1 … .N-1  older files, .1 the newest (N = max-file)
//
// After a rotation the keeper moves .keep into the numbered files (dropping the oldest),
// .next becomes .keep, and a new seed is made. Two rotations between two passes lose
// nothing (the second file is still linked as .next); a third loses one whole file, never the
// current one. Passes come faster when the log grows fast (at most every 10 ms).
//
// The directory is the container's bundle dir: moatd's, never container-writable.
import { constants } from 'node:fs';
import { link, lstat, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { errorText, type Logger } from '../base/index.js';
import type { LogSettings } from './log-config.js';
import { KeyedLock } from './util.js';

export const LOG_NAME = 'ctr.log';
const KEEP = `${LOG_NAME}.keep`;
const NEXT = `${LOG_NAME}.next`;
const TMP = `${LOG_NAME}.tmp`;

const MIN_PASS_MS = 10;
const MAX_PASS_MS = 500;

/** One open log file, oldest first in a list; the last is the one conmon writes. */
export interface OpenLogFile {
  readonly name: string;
  readonly fh: FileHandle;
  readonly ino: number;
}

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'ENOENT';

async function inoOf(path: string): Promise<{ ino: number; size: number } | undefined> {
  try {
    const st = await lstat(path);
    return { ino: st.ino, size: st.size };
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

async function unlinkIfPresent(path: string): Promise<void> {
  await unlink(path).catch((err: unknown) => {
    if (!isMissing(err)) throw err;
  });
}

async function renameIfPresent(from: string, to: string): Promise<void> {
  await rename(from, to).catch((err: unknown) => {
    if (!isMissing(err)) throw err;
  });
}

interface Watched {
  dir: string;
  settings: LogSettings;
  timer: NodeJS.Timeout | undefined;
  lastIno: number;
  lastSize: number;
  lastAt: number;
  /** Bytes per ms, smoothed. */
  rate: number;
  stopped: boolean;
}

/**
 * Rotation and reading of container logs. `prepare` before conmon starts, `watch` while the
 * container runs, `unwatch` when it exits; `open` lists the files for a reader.
 *
 * @example
 * await keeper.prepare(dir, settings); // then start conmon with --log-size-max settings.maxSize
 * keeper.watch(id, dir, settings);
 */
export class LogKeeper {
  readonly #log: Logger;
  readonly #lock = new KeyedLock();
  readonly #watched = new Map<string, Watched>();

  constructor(log: Logger) {
    this.#log = log.child({ component: 'logs' });
  }

  /**
   * Before conmon starts: a current file linked as .keep and the seed for conmon's next
   * rotation. conmon counts bytes from its own start and appends to what is there, so a file
   * already half full is rotated now: no file grows past 1.5 × max-size.
   */
  async prepare(dir: string, settings: LogSettings): Promise<void> {
    if (settings.driver === 'none') return;
    await this.#lock.run(dir, async () => {
      const path = join(dir, LOG_NAME);
      const before = await inoOf(path);
      if (before !== undefined && before.size >= settings.maxSize / 2) {
        if (settings.maxFile > 1) {
          await this.#pass(dir, settings);
          await this.#shiftIn(dir, KEEP, settings);
        }
        await unlinkIfPresent(path);
      }
      const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_NOFOLLOW, 0o600);
      await fh.close();
      if (settings.maxFile > 1) await this.#pass(dir, settings);
    });
  }

  /** Keep rotating a running container's log. */
  watch(id: string, dir: string, settings: LogSettings): void {
    if (settings.driver === 'none' || settings.maxFile <= 1 || this.#watched.has(id)) return;
    const w: Watched = { dir, settings, timer: undefined, lastIno: 0, lastSize: 0, lastAt: Date.now(), rate: 0, stopped: false };
    this.#watched.set(id, w);
    this.#schedule(id, w, 0);
  }

  /** The container exited: one last pass (conmon wrote its last line), then stop. */
  async unwatch(id: string): Promise<void> {
    const w = this.#watched.get(id);
    if (!w) return;
    this.#watched.delete(id);
    w.stopped = true;
    if (w.timer) clearTimeout(w.timer);
    await this.#lock.run(w.dir, () => this.#pass(w.dir, w.settings)).catch((err: unknown) => this.#log.warn({ containerId: id, err: errorText(err) }, 'log rotation failed'));
  }

  close(): void {
    for (const w of this.#watched.values()) {
      w.stopped = true;
      if (w.timer) clearTimeout(w.timer);
    }
    this.#watched.clear();
  }

  #schedule(id: string, w: Watched, ms: number): void {
    w.timer = setTimeout(() => {
      void this.#tick(id, w);
    }, ms);
    w.timer.unref();
  }

  async #tick(id: string, w: Watched): Promise<void> {
    if (w.stopped) return;
    let next = MAX_PASS_MS;
    try {
      const r = await this.#lock.run(w.dir, () => this.#pass(w.dir, w.settings));
      if (r !== undefined) {
        const now = Date.now();
        const grown = (r.rotations * w.settings.maxSize) + (r.ino === w.lastIno ? Math.max(0, r.size - w.lastSize) : r.size);
        const dt = Math.max(1, now - w.lastAt);
        w.rate = 0.5 * w.rate + 0.5 * (grown / dt);
        w.lastIno = r.ino;
        w.lastSize = r.size;
        w.lastAt = now;
        // One pass per max-size written at the current rate: conmon's second rotation in a
        // row is still caught (see the header).
        if (w.rate > 0) next = Math.min(MAX_PASS_MS, Math.max(MIN_PASS_MS, Math.floor(w.settings.maxSize / w.rate)));
      }
    } catch (err) {
      this.#log.warn({ containerId: id, err: errorText(err) }, 'log rotation failed');
    }
    if (!w.stopped) this.#schedule(id, w, next);
  }

  /**
   * One rotation pass (with the directory's lock held). Returns the current file's inode and
   * size and how many of conmon's rotations it found, or undefined when there is no log yet.
   */
  async #pass(dir: string, s: LogSettings): Promise<{ ino: number; size: number; rotations: number } | undefined> {
    const p = (n: string): string => join(dir, n);
    let cur: { ino: number; size: number };
    try {
      const st = await stat(p(LOG_NAME));
      cur = { ino: st.ino, size: st.size };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
    const keep = await inoOf(p(KEEP));
    let rotations = 0;
    if (keep === undefined || keep.ino !== cur.ino) {
      // conmon rotated since the last pass (or this is the first pass): the files it left,
      // oldest first, become numbered files.
      const next = await inoOf(p(NEXT));
      const tmp = await inoOf(p(TMP));
      const seedUnused = next !== undefined && tmp !== undefined && tmp.ino === next.ino;
      if (keep !== undefined) {
        await this.#shiftIn(dir, KEEP, s);
        rotations++;
      }
      if (next !== undefined && next.ino !== cur.ino && !seedUnused) {
        rotations++;
        if (next.size > 0) await this.#shiftIn(dir, NEXT, s);
        else await unlinkIfPresent(p(NEXT));
      }
      if (next !== undefined && next.ino === cur.ino) await rename(p(NEXT), p(KEEP));
      else await link(p(LOG_NAME), p(KEEP));
    }
    await this.#seed(dir);
    return { ...cur, rotations };
  }

  /** `name` becomes .1; .1 … .N-2 move up one; what would be .N is removed. */
  async #shiftIn(dir: string, name: string, s: LogSettings): Promise<void> {
    const p = (n: string): string => join(dir, n);
    const last = s.maxFile - 1;
    if (last < 1) {
      await unlinkIfPresent(p(name));
      return;
    }
    await unlinkIfPresent(p(`${LOG_NAME}.${last}`));
    for (let i = last - 1; i >= 1; i--) await renameIfPresent(p(`${LOG_NAME}.${i}`), p(`${LOG_NAME}.${i + 1}`));
    await rename(p(name), p(`${LOG_NAME}.1`));
  }

  /** An empty file linked as .next and .tmp, for conmon's next rotation to open. */
  async #seed(dir: string): Promise<void> {
    const p = (n: string): string => join(dir, n);
    const next = await inoOf(p(NEXT));
    const tmp = await inoOf(p(TMP));
    if (next !== undefined && tmp !== undefined && next.ino === tmp.ino) return;
    if (next !== undefined && tmp === undefined) {
      await link(p(NEXT), p(TMP)).catch((err: unknown) => {
        // conmon is creating its own .tmp this instant: the next pass seeds again.
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      });
      return;
    }
    // A .tmp without our link: conmon stopped between its open and its rename. It truncates
    // the file at its next rotation, so it can be the seed.
    if (next !== undefined) await unlinkIfPresent(p(NEXT));
    if (tmp !== undefined) {
      await link(p(TMP), p(NEXT));
      return;
    }
    const fh = await open(p(NEXT), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    await fh.close();
    await link(p(NEXT), p(TMP)).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    });
  }

  /**
   * Open every log file of a container, oldest first, the one conmon writes last. The list
   * is taken with the keeper's lock, so no rotation renames a file between listing and
   * opening; the caller reads through the handles and closes them.
   */
  async open(dir: string, settings: LogSettings): Promise<OpenLogFile[]> {
    return await this.#lock.run(dir, async () => {
      const names: string[] = [];
      for (let i = Math.max(0, settings.maxFile - 1); i >= 1; i--) names.push(`${LOG_NAME}.${i}`);
      names.push(KEEP, NEXT, LOG_NAME);
      const tmp = await inoOf(join(dir, TMP));
      const out: OpenLogFile[] = [];
      try {
        for (const name of names) {
          let fh: FileHandle;
          try {
            fh = await open(join(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW);
          } catch (err) {
            if (isMissing(err)) continue;
            throw err;
          }
          const { ino } = await fh.stat();
          // The unused seed is not a log file; a file listed twice counts at its last place.
          const dup = out.findIndex((f) => f.ino === ino);
          if ((name === NEXT && tmp?.ino === ino) || (dup >= 0 && name !== LOG_NAME)) {
            await fh.close();
            continue;
          }
          if (dup >= 0) {
            await out[dup]!.fh.close();
            out.splice(dup, 1);
          }
          out.push({ name, fh, ino });
        }
      } catch (err) {
        await Promise.all(out.map((f) => f.fh.close().catch(() => undefined)));
        throw err;
      }
      return out;
    });
  }

  /**
   * The files that came after the one with inode `ino` (a follower reached its end and
   * conmon has moved on), opened; all of them when `ino` is no longer listed.
   */
  async openAfter(dir: string, settings: LogSettings, ino: number): Promise<OpenLogFile[]> {
    const all = await this.open(dir, settings);
    const i = all.findIndex((f) => f.ino === ino);
    const keep = i >= 0 ? all.slice(i + 1) : all;
    await Promise.all(all.filter((f) => !keep.includes(f)).map((f) => f.fh.close().catch(() => undefined)));
    return keep;
  }
}
