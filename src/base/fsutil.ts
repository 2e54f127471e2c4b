import { open, rename, mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

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
  // The directory is made only when the open says it is missing: it nearly always exists
  // (a container's records), and a mkdir first was one more thread-pool round trip (issue 18).
  const fh = await open(tmp, 'wx', mode).catch(async (err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dir, { recursive: true });
    return await open(tmp, 'wx', mode);
  });
  // Any failure before the rename (a full disk fails the write or the fsync, not the open)
  // removes the temporary file: a failed write leaves the old file and nothing else.
  try {
    try {
      await fh.writeFile(data);
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  if (!durable) return;
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
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
