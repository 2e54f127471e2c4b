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
// A pass moves the files conmon left into the numbered ones (.keep, then .next if conmon
// wrote it, dropping the oldest), links the current file as .keep and makes a new seed. Its
// decisions rest only on facts conmon cannot undo between two of its steps (see #round), and
// it goes round again until it ends settled (current file linked, seed waiting), so a
// rotation during a pass is caught whole, not half seen. From one settled pass to the end of the next, conmon
// may rotate twice without a line lost (the seed keeps the first file, .keep the one before);
// a third rotation in that span loses the second file (conmon's own .tmp, never linked) - the
// one bound left, tested both ways in log-files.test.ts. Passes come faster when the log grows
// fast (one per max-size written, at most every 10 ms; the first ones, from just before the
// container starts, every 10, 20, 40 … ms), so that takes three max-size files written within
// one pass interval (at most 500 ms), or moatd stalled that long.
//
// The directory is the container's bundle dir: moatd's, never container-writable.
import { closeSync, constants, linkSync, lstatSync, openSync } from 'node:fs';
import { link, lstat, open, rename, unlink, type FileHandle } from 'node:fs/promises';
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

/**
 * The current file and .tmp, seen with no rotation between: ctr.log is the same before and
 * after .tmp is looked at. undefined when there is no log yet (or conmon rotated through
 * every try: the pass comes again).
 */
async function currentAndTmp(dir: string): Promise<{ cur: { ino: number; size: number }; tmp: { ino: number; size: number } | undefined } | undefined> {
  for (let i = 0; i < 10; i++) {
    const before = await inoOf(join(dir, LOG_NAME));
    if (before === undefined) return undefined;
    const tmp = await inoOf(join(dir, TMP));
    const after = await inoOf(join(dir, LOG_NAME));
    if (after === undefined) return undefined;
    if (after.ino === before.ino) return { cur: after, tmp };
  }
  return undefined;
}

/**
 * A first start (no log file yet, no conmon): the state a settled pass leaves, made at once
 * with synchronous calls in moatd's own directory (~0.1 ms instead of ~20 thread-pool round
 * trips, ~3 ms, on a start's path): ctr.log linked as .keep, an empty seed linked as .next
 * and .tmp. false when any of the four names is already there (a restart, or what an
 * interrupted start left): the full pass sorts that out, from what this call made too.
 */
function settleFresh(dir: string): boolean {
  const p = (n: string): string => join(dir, n);
  const excl = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  try {
    closeSync(openSync(p(LOG_NAME), excl, 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    linkSync(p(LOG_NAME), p(KEEP));
    closeSync(openSync(p(NEXT), excl, 0o600));
    linkSync(p(NEXT), p(TMP));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * What #settled checks, synchronously (four lstats in moatd's own directory), and that the
 * seed is not the current file: then a pass would find nothing to do, and this is the
 * current file's inode and size (undefined when not settled). Names are looked at in
 * #settled's order, so a rotation by conmon between two of them reads as not settled.
 */
function settledNow(dir: string): { ino: number; size: number } | undefined {
  const stat = (n: string): { ino: number; size: number } | undefined => {
    try {
      const st = lstatSync(join(dir, n));
      return { ino: st.ino, size: st.size };
    } catch {
      return undefined;
    }
  };
  const keep = stat(KEEP)?.ino;
  const cur = stat(LOG_NAME);
  const next = stat(NEXT)?.ino;
  const tmp = stat(TMP)?.ino;
  return cur !== undefined && keep === cur.ino && next !== undefined && next === tmp && next !== cur.ino ? cur : undefined;
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
  /** The most the next pass waits: from MIN_PASS_MS at the start, doubling up to MAX_PASS_MS. */
  rampMs: number;
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
      if (settings.maxFile > 1 && settleFresh(dir)) return;
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
    const w: Watched = { dir, settings, timer: undefined, lastIno: 0, lastSize: 0, lastAt: Date.now(), rate: 0, rampMs: MIN_PASS_MS, stopped: false };
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
    await this.#lock
      .run(w.dir, async () => {
        // No rotation since the last pass (most exits): nothing for this one to move.
        if (settledNow(w.dir) === undefined) await this.#pass(w.dir, w.settings);
      })
      .catch((err: unknown) => this.#log.warn({ containerId: id, err: errorText(err) }, 'log rotation failed'));
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
    // A container often writes most right after it starts, before any rate is known: the
    // first passes come quickly (10, 20, 40 … ms), then only as the rate asks.
    let next = w.rampMs;
    w.rampMs = Math.min(MAX_PASS_MS, w.rampMs * 2);
    try {
      // Nothing rotated since the last pass (most ticks): no pass, no thread-pool round
      // trips competing with the container's start for moatd's main thread.
      const quiet = settledNow(w.dir);
      const r = quiet !== undefined ? { ...quiet, rotations: 0 } : await this.#lock.run(w.dir, () => this.#pass(w.dir, w.settings));
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
        if (w.rate > 0) next = Math.min(next, Math.max(MIN_PASS_MS, Math.floor(w.settings.maxSize / w.rate)));
      }
    } catch (err) {
      this.#log.warn({ containerId: id, err: errorText(err) }, 'log rotation failed');
    }
    if (!w.stopped) this.#schedule(id, w, next);
  }

  /**
   * One rotation pass (with the directory's lock held). Returns the current file's inode and
   * size and how many rotated files it moved into the numbered ones, or undefined when there
   * is no log yet. When conmon rotates while a round runs, another round follows (up to four),
   * so a pass ends settled: the current file linked as .keep and a seed waiting as .tmp.
   */
  async #pass(dir: string, s: LogSettings): Promise<{ ino: number; size: number; rotations: number } | undefined> {
    let rotations = 0;
    for (let round = 0; ; round++) {
      const r = await this.#round(dir, s);
      if (r === undefined) return undefined;
      rotations += r.rotations;
      if (r.settled || round === 3) return { ino: r.ino, size: r.size, rotations };
    }
  }

  /**
   * .keep and .next change only here; ctr.log and .tmp are conmon's and can change between
   * any two steps, so every decision rests on facts a later conmon step cannot make false:
   * .next exists only if it was linked as .tmp (a seed), a seed leaves .tmp only by becoming
   * the current file, and a file conmon no longer writes is never written again.
   */
  async #round(dir: string, s: LogSettings): Promise<{ ino: number; size: number; rotations: number; settled: boolean } | undefined> {
    const p = (n: string): string => join(dir, n);
    const next = await inoOf(p(NEXT));
    const view = await currentAndTmp(dir);
    if (view === undefined) return undefined;
    const { cur, tmp } = view;
    // The seed: still waiting as .tmp, the file conmon writes now, or one it wrote before.
    const seed = next === undefined ? 'none' : next.ino === cur.ino ? 'current' : tmp?.ino === next.ino ? 'unused' : 'old';
    const keep = await inoOf(p(KEEP));
    let rotations = 0;
    let kept = keep?.ino === cur.ino;
    if (keep !== undefined && !kept) {
      // conmon rotated since the last pass: the files it left, oldest first, become numbered.
      await this.#shiftIn(dir, KEEP, s);
      rotations++;
    }
    if (seed === 'old') {
      // Its size now, not when first looked at: conmon may have written to it in between.
      if (((await inoOf(p(NEXT)))?.size ?? 0) > 0) {
        await this.#shiftIn(dir, NEXT, s);
        rotations++;
      } else await unlinkIfPresent(p(NEXT));
    } else if (seed === 'current') {
      if (kept) await unlink(p(NEXT));
      else await rename(p(NEXT), p(KEEP));
      kept = true;
    }
    if (!kept) {
      // The current file is conmon's own (made when no seed was waiting): link it by name.
      await link(p(LOG_NAME), p(KEEP));
      if ((await inoOf(p(KEEP)))?.ino !== cur.ino) {
        // conmon rotated again before the link: the file it left had no second link.
        this.#log.warn({ dir }, 'conmon rotated its log faster than the keeper passes: the lines of one file are lost');
      }
    }
    await this.#seed(dir);
    return { ...cur, rotations, settled: await this.#settled(dir) };
  }

  /**
   * The current file is linked as .keep and a seed waits as .tmp. ctr.log is looked at before
   * .tmp: a seed still there then was there all along, so conmon cannot have rotated between.
   */
  async #settled(dir: string): Promise<boolean> {
    const p = (n: string): string => join(dir, n);
    const keep = await inoOf(p(KEEP));
    const cur = await inoOf(p(LOG_NAME));
    const next = await inoOf(p(NEXT));
    const tmp = await inoOf(p(TMP));
    return keep !== undefined && keep.ino === cur?.ino && next !== undefined && next.ino === tmp?.ino;
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

  /**
   * An empty file linked as .next and .tmp, for conmon's next rotation to open. Only a file
   * made here, never written, is linked as .tmp: conmon truncates whatever .tmp names.
   */
  async #seed(dir: string): Promise<void> {
    const p = (n: string): string => join(dir, n);
    const next = await inoOf(p(NEXT));
    // Still waiting, or taken by conmon while this round ran: the next round sorts it out.
    if (next !== undefined) return;
    const tmp = await inoOf(p(TMP));
    if (tmp === undefined) {
      const fh = await open(p(NEXT), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      await fh.close();
      await link(p(NEXT), p(TMP)).catch(async (err: unknown) => {
        // conmon is making its own .tmp this instant; this file never was .tmp, so it goes.
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        await unlink(p(NEXT));
      });
      return;
    }
    const cur = await inoOf(p(LOG_NAME));
    const tmpNow = await inoOf(p(TMP));
    if (cur !== undefined && tmpNow?.ino === cur.ino) {
      // .tmp names the current file (left so by an older moatd): conmon would truncate it at
      // its next rotation. conmon's rename of a file onto itself does nothing, so this lasts
      // until removed here.
      await unlinkIfPresent(p(TMP));
      return;
    }
    // conmon's own .tmp, between its open and its rename (or left by a conmon that died
    // there): still empty, and the next current file, so it is linked as the seed.
    await link(p(TMP), p(NEXT)).catch((err: unknown) => {
      if (!isMissing(err)) throw err;
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
          // The unused seed is not a log file (.tmp is looked at after .next is open: a seed
          // still waiting then holds nothing); a file listed twice counts at its last place.
          const unusedSeed = name === NEXT && (await inoOf(join(dir, TMP)))?.ino === ino;
          const dup = out.findIndex((f) => f.ino === ino);
          if (unusedSeed || (dup >= 0 && name !== LOG_NAME)) {
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
