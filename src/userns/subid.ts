/**
 * Host side of `--userns-remap`: read and extend /etc/subuid and /etc/subgid, create the
 * `dockremap` user.
 *
 * Locking: the shadow-utils protocol (`lib/commonio.c` commonio_lock_nowait), so useradd,
 * usermod and other moat processes all exclude each other: write our pid to
 * `<file>.<pid>.<random>`, link(2) it to `<file>.lock` (atomic: the lock never exists
 * without its pid), retry with backoff while it exists; a lock whose pid is not alive
 * (kill(pid, 0) -> ESRCH) is stale and is removed, after checking it is still the same
 * inode. Two processes that find the same stale lock at the same instant can still race
 * (as in shadow-utils); callers in one process are also queued in memory, so they never
 * compete for the file. Edits are atomic: temp file in the same dir, same mode and owner,
 * fsync, rename, fsync the dir.
 */
import { readFile, writeFile, link, unlink, stat, open, rename, rm } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { EngineError, invalid, internal } from '../base/index.js';
import {
  parseSubIdFile,
  appendSubIdEntry,
  rangesFor,
  allocateRange,
  parseRemapSpec,
  parsePasswd,
  parseGroup,
  findUser,
  findGroup,
  idMapsFromRanges,
  rootRemapWarning,
  DEFAULT_RANGE_SIZE,
  type RemapSpec,
  type SubIdEntry,
  type IdMap,
} from './idmap.js';

export interface LockOptions {
  /** Give up after this long (default 10 s) with EngineError `unavailable`. */
  timeoutMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// In-process queue per lock path: callers in this process wait here, not on the file.
const queues = new Map<string, Promise<unknown>>();

async function acquireFileLock(path: string, timeoutMs: number): Promise<string> {
  const lock = `${path}.lock`;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}`);
  await writeFile(tmp, String(process.pid), { mode: 0o600, flag: 'wx' });
  try {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        await link(tmp, lock);
        return lock;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      // Held: stale when its pid is dead (or it is ours: we only get here when no caller
      // in this process holds it, so it is a leftover).
      try {
        const before = await stat(lock);
        const pid = Number((await readFile(lock, 'utf8')).trim());
        if (Number.isSafeInteger(pid) && pid > 0 && (pid === process.pid || !pidAlive(pid))) {
          const now = await stat(lock);
          if (now.ino === before.ino && now.dev === before.dev) {
            await unlink(lock);
            continue;
          }
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile
        throw err;
      }
      if (Date.now() > deadline) {
        throw new EngineError('unavailable', 'ERR_SUBID_LOCKED', `Cannot lock ${path}: ${lock} is held by another process`);
      }
      await sleep(Math.min(5 * 2 ** Math.min(attempt, 6), 200) * (0.5 + Math.random()));
    }
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Run `fn` holding the shadow-utils lock of `path` (`<path>.lock`). Callers in the same
 * process are serialised in memory first.
 *
 * @example
 * await withFileLock('/etc/subuid', async () => { ... read, change, write atomically ... });
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const prev = queues.get(path) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const tail = prev.then(() => mine);
  queues.set(path, tail);
  try {
    await prev.catch(() => undefined);
    const lock = await acquireFileLock(path, opts.timeoutMs ?? 10_000);
    try {
      return await fn();
    } finally {
      await unlink(lock).catch(() => undefined);
    }
  } finally {
    release();
    if (queues.get(path) === tail) queues.delete(path);
  }
}

/**
 * Replace a file's contents atomically, keeping its mode and owner: temp file in the same
 * directory, fchown/fchmod, write, fsync, rename, fsync the directory.
 */
export async function replaceFileAtomic(path: string, data: string): Promise<void> {
  const st = await stat(path);
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', st.mode & 0o7777);
  try {
    try {
      await fh.chown(st.uid, st.gid);
      await fh.chmod(st.mode & 0o7777);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const dh = await open(dirname(path), 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

async function readSubIds(path: string): Promise<{ text: string; entries: SubIdEntry[] }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw internal(`Cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  return { text, entries: parseSubIdFile(text, path) };
}

/**
 * The ranges of `user` in a subuid/subgid file; when it has none, append one of `size` ids
 * that overlaps no entry of the file (allocation from 100000, see `allocateRange`), under
 * the file's lock. Returns the user's ranges in file order.
 *
 * @example
 * await ensureSubIdRange('/etc/subuid', { name: 'dockremap', uid: 102 }) // [{ name: 'dockremap', start: 100000, count: 65536 }]
 */
export async function ensureSubIdRange(path: string, user: { name: string; uid: number }, opts: LockOptions & { size?: number } = {}): Promise<SubIdEntry[]> {
  const existing = rangesFor((await readSubIds(path)).entries, user);
  if (existing.length > 0) return existing;
  return withFileLock(
    path,
    async () => {
      const { text, entries } = await readSubIds(path); // again, under the lock
      const mine = rangesFor(entries, user);
      if (mine.length > 0) return mine;
      const entry = { name: user.name, start: allocateRange(entries, opts.size ?? DEFAULT_RANGE_SIZE), count: opts.size ?? DEFAULT_RANGE_SIZE };
      await replaceFileAtomic(path, appendSubIdEntry(text, entry));
      return [entry];
    },
    opts,
  );
}

export interface EnsureRemapOptions extends LockOptions {
  /** The `--userns-remap` value, or an already parsed one. */
  spec: string | RemapSpec;
  subuidPath?: string;
  subgidPath?: string;
  passwdPath?: string;
  groupPath?: string;
  /** Creates the `dockremap` user and group; default runs `useradd -r -s /bin/false dockremap`. */
  createUser?: (name: string) => Promise<void>;
  /** Range size when one is created (default 65536). */
  size?: number;
}

export type RemapResult =
  | { enabled: false; warning: string }
  | {
      enabled: true;
      /** The remap user and group as resolved (names). */
      user: string;
      group: string;
      /** Host ids of container root: the first range's starts (`<uid>.<gid>` remap root). */
      uidStart: number;
      gidStart: number;
      /** Size of the first uid range. */
      size: number;
      /** For the OCI spec `linux.uidMappings` / `linux.gidMappings`. */
      uidMappings: IdMap[];
      gidMappings: IdMap[];
    };

/** `useradd -r -s /bin/false NAME` (Debian: also makes the group NAME). */
export function defaultCreateUser(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('useradd', ['-r', '-s', '/bin/false', name], { timeout: 30_000 }, (err, _out, stderr) => {
      if (err) reject(internal(`Cannot create user ${JSON.stringify(name)}: ${String(stderr).trim() || err.message}`, { cause: err }));
      else resolve();
    });
  });
}

let createQueue: Promise<unknown> = Promise.resolve();

/**
 * Resolve `--userns-remap` to the id ranges to use, creating what `default` needs.
 * `default` uses the `dockremap` user, its existing subuid/subgid ranges if any (so a host
 * set up by Docker is reused), else creates the user (`createUser`) and appends a 65536-wide
 * range to each file that overlaps no other entry. Other users must exist and already have
 * ranges (Docker's rule). `root`/`0` (or a spec resolving to uid 0) turn remapping off.
 * Both files are searched by the user's name or uid (not the group's).
 *
 * @example
 * const r = await ensureRemapRanges({ spec: 'default' });
 * if (r.enabled) spec.linux.uidMappings = r.uidMappings; // [{ containerID: 0, hostID: 100000, size: 65536 }]
 */
export async function ensureRemapRanges(opts: EnsureRemapOptions): Promise<RemapResult> {
  const spec = typeof opts.spec === 'string' ? parseRemapSpec(opts.spec) : opts.spec;
  if (spec.mode === 'off') return { enabled: false, warning: spec.warning };
  const subuidPath = opts.subuidPath ?? '/etc/subuid';
  const subgidPath = opts.subgidPath ?? '/etc/subgid';
  const passwdPath = opts.passwdPath ?? '/etc/passwd';
  const groupPath = opts.groupPath ?? '/etc/group';
  const readUsers = async (): Promise<ReturnType<typeof parsePasswd>> => parsePasswd(await readFile(passwdPath, 'utf8'));

  let user = findUser(await readUsers(), spec.user);
  if (user === undefined && spec.mode === 'default') {
    // One creation at a time in this process; another process may win the race, so a
    // failure is fine when the user exists afterwards.
    const run = createQueue.then(async () => {
      if (findUser(await readUsers(), spec.user)) return;
      try {
        await (opts.createUser ?? defaultCreateUser)(spec.user);
      } catch (err) {
        if (!findUser(await readUsers(), spec.user)) throw err;
      }
    });
    createQueue = run.catch(() => undefined);
    await run;
    user = findUser(await readUsers(), spec.user);
  }
  if (user === undefined) {
    throw invalid(`Error during uid lookup for ${JSON.stringify(spec.user)}: getent unable to find entry ${JSON.stringify(spec.user)} in passwd database`);
  }
  const groupRef = spec.group ?? (/^[0-9]+$/.test(spec.user) ? String(user.uid) : spec.user);
  const group = findGroup(parseGroup(await readFile(groupPath, 'utf8')), groupRef);
  if (group === undefined) {
    throw invalid(`Error during gid lookup for ${JSON.stringify(groupRef)}: getent unable to find entry ${JSON.stringify(groupRef)} in group database`);
  }
  if (user.uid === 0) return { enabled: false, warning: rootRemapWarning() };

  let uidRanges: SubIdEntry[];
  let gidRanges: SubIdEntry[];
  const lockOpts: LockOptions & { size?: number } = {};
  if (opts.timeoutMs !== undefined) lockOpts.timeoutMs = opts.timeoutMs;
  if (opts.size !== undefined) lockOpts.size = opts.size;
  if (spec.mode === 'default') {
    uidRanges = await ensureSubIdRange(subuidPath, user, lockOpts);
    gidRanges = await ensureSubIdRange(subgidPath, user, lockOpts);
  } else {
    uidRanges = rangesFor((await readSubIds(subuidPath)).entries, user);
    gidRanges = rangesFor((await readSubIds(subgidPath)).entries, user);
    if (uidRanges.length === 0) throw invalid(`Can't create ID mappings: no subuid ranges found for user ${JSON.stringify(user.name)}`);
    if (gidRanges.length === 0) throw invalid(`Can't create ID mappings: no subgid ranges found for user ${JSON.stringify(user.name)}`);
  }
  return {
    enabled: true,
    user: user.name,
    group: group.name,
    uidStart: uidRanges[0]!.start,
    gidStart: gidRanges[0]!.start,
    size: uidRanges[0]!.count,
    uidMappings: idMapsFromRanges(uidRanges),
    gidMappings: idMapsFromRanges(gidRanges),
  };
}

