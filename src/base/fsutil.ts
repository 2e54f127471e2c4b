import { closeSync, fsync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

const fsyncFd = promisify(fsync);

/**
 * Write a file atomically: temp name in the same directory, fsync, rename, fsync the
 * directory. A crash leaves the old or the new file, never a torn one.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  await writeViaRename(path, data, mode, true);
}

/**
 * Replace a file atomically without making it durable (no fsync): readers see the old or
 * the new file. Only for files rebuilt before every use from durable state, whose loss in a
 * power cut loses nothing (a bundle's config.json, a seccomp rule table: the container they
 * serve does not survive the host going down, and its next start writes them again).
 */
export async function replaceFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  await writeViaRename(path, data, mode, false);
}

async function writeViaRename(path: string, data: string | Uint8Array, mode: number, durable: boolean): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  // The open, write, close and rename are synchronous: small files in the daemon's own
  // directories, microseconds each, where each was a thread-pool round trip (~0.1-0.3 ms,
  // a record's write was eight of them; issue 18). Only the fsyncs, which wait for the
  // disk, go to the pool. The directory is made only when the open says it is missing.
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dir, { recursive: true });
    fd = openSync(tmp, 'wx', mode);
  }
  // Any failure before the rename (a full disk fails the write or the fsync, not the open)
  // removes the temporary file: a failed write leaves the old file and nothing else.
  try {
    try {
      writeFileSync(fd, data);
      if (durable) await fsyncFd(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  if (durable) await syncDir(dir);
}

/** The name writeFileAtomic gives its temporary file: `.NAME.<8 hex>.tmp`. */
const ATOMIC_TEMP = /^\..+\.[0-9a-f]{8}\.tmp$/;

/**
 * Remove the temporary files of atomic writes that a crash interrupted (between the open of
 * the temporary file and its rename) in `dir`; returns their names. Run at startup, before
 * anything writes there.
 */
export async function removeStaleTempFiles(dir: string): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return removed;
  }
  for (const n of names) {
    if (!ATOMIC_TEMP.test(n)) continue;
    await rm(join(dir, n), { force: true });
    removed.push(n);
  }
  return removed;
}

/**
 * fsync a directory, so the names made or removed in it (a new subdirectory's entry) survive
 * a power cut; writeFileAtomic syncs the directory of the file it writes, not that one's parent.
 */
export async function syncDir(path: string): Promise<void> {
  const fd = openSync(path, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

export async function writeJsonAtomic(path: string, value: unknown, mode = 0o600): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n', mode);
}

/** Read and parse JSON; undefined when the file does not exist. */
export async function readJsonIfExists<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
