// Bind sources: what the authorization policy approved is exactly what gets mounted.
//
// The policy judges the canonical (symlink-resolved) path. At create, that path is opened
// with no symlink in any component (a missing `-v` source is made the same way, as Docker
// does; `--mount` refuses) and its device and inode are recorded with it. At every start
// it is opened again the same way, checked against the record, and bind-mounted from the
// open fd onto a staging point in the container's bundle dir (daemon-owned); runc is given
// the staging point, so it never resolves a path a container can change. The staging
// mounts are undone as soon as runc has made the container's own copies, and again on
// every exit, failed start, removal and daemon start.
import { lstatSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineError, invalid, errorText } from '../base/index.js';
import {
  openRoot,
  openAt,
  tryOpenAt,
  listDir,
  unlinkAt,
  mkdirAll,
  mountBind,
  remountReadOnly,
  unmount,
  mountPointsUnder,
  errnoOf,
  MNT_DETACH,
  O_PATH,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_CREAT,
  O_EXCL,
  O_WRONLY,
  type Handle,
} from '../sys/index.js';
import type { MountRequest } from '../docker/index.js';

/** One bind source as approved at create (kept in the container record). */
export interface BindSource {
  /** The canonical host path the policy approved. */
  Source: string;
  Target: string;
  /** st_dev and st_ino, as decimal strings (64-bit). */
  Device: string;
  Inode: string;
}

/** The bundle's staging dir for bind sources. */
export function stagingDir(bundle: string): string {
  return join(bundle, 'binds');
}

function changed(source: string, why: string, cause?: unknown): EngineError {
  return new EngineError('forbidden', 'ERR_BIND_SOURCE_CHANGED', `Cannot mount bind source ${JSON.stringify(source)}: ${why}; it is not what was authorized (remove and recreate the container to approve it again)`, cause === undefined ? undefined : { cause });
}

/** Open `source` from `/` with no symlink in any component; undefined when it does not exist. */
function openSource(source: string): Handle | undefined {
  const root = openRoot('/');
  try {
    return openAt(root, source, { flags: O_PATH | O_NOFOLLOW });
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (code === 'ELOOP' || code === 'EXDEV') throw changed(source, 'a component of the path is a symbolic link now', err);
    throw err;
  } finally {
    root.close();
  }
}

function openChecked(source: string): Handle | undefined {
  const h = openSource(source);
  if (h?.stat().isSymbolicLink() === true) {
    h.close();
    throw changed(source, 'it is a symbolic link now');
  }
  return h;
}

/**
 * At create: open every bind source (making a missing `-v` source directory), and return
 * what each one is. Throws 403 ERR_BIND_SOURCE_CHANGED when a path component is a symlink
 * (the path changed after the policy resolved it), 400 for a missing `--mount` source.
 *
 * @example
 * rec.BindSources = identifyBindSources(checked.mounts);
 */
export function identifyBindSources(requests: readonly MountRequest[]): BindSource[] {
  const out: BindSource[] = [];
  for (const m of requests) {
    if (m.kind !== 'bind') continue;
    let h = openChecked(m.source);
    if (h === undefined) {
      // `-v /host:/ctr` creates a missing source directory, as Docker does; `--mount` refuses.
      if (m.origin !== 'Binds') throw invalid(`invalid mount config for type "bind": bind source path does not exist: ${m.source}`);
      const root = openRoot('/');
      try {
        h = mkdirAll(root, m.source, { mode: 0o755 });
      } catch (err) {
        const code = errnoOf(err);
        if (code === 'ELOOP' || code === 'EXDEV') throw changed(m.source, 'a component of the path is a symbolic link now', err);
        throw err;
      } finally {
        root.close();
      }
    }
    try {
      const id = h.statBig();
      out.push({ Source: m.source, Target: m.target, Device: String(id.dev), Inode: String(id.ino) });
    } finally {
      h.close();
    }
  }
  return out;
}

/**
 * At start: open each bind source again with no symlink in any component, check it is the
 * recorded one, and bind it from the fd onto `<bundle>/binds/<n>` (read-only binds made
 * read-only there, recursively). Returns the staging path per target; on failure nothing
 * stays mounted. `recorded` undefined (a record from before this check existed) records
 * what is there now.
 */
export async function stageBinds(bundle: string, requests: readonly MountRequest[], recorded: readonly BindSource[] | undefined): Promise<{ staged: Map<string, string>; sources: readonly BindSource[] }> {
  const dir = stagingDir(bundle);
  await unstageBinds(bundle);
  const staged = new Map<string, string>();
  const binds = requests.filter((m) => m.kind === 'bind');
  const sources = recorded ?? identifyBindSources(binds);
  if (binds.length === 0) return { staged, sources };
  // 0711: under userns remap the container's root must reach the staging points.
  await mkdir(dir, { mode: 0o711 });
  try {
    for (const [i, m] of binds.entries()) {
      const want = sources.find((s) => s.Target === m.target && s.Source === m.source);
      if (want === undefined) throw changed(m.source, 'no identity was recorded for it at create');
      const h = openChecked(m.source);
      if (h === undefined) throw changed(m.source, 'it does not exist any more');
      try {
        const id = h.statBig();
        if (String(id.dev) !== want.Device || String(id.ino) !== want.Inode) {
          throw changed(m.source, `it changed (device:inode ${want.Device}:${want.Inode} at create, ${id.dev}:${id.ino} now)`);
        }
        const point = join(dir, String(i));
        if (h.stat().isDirectory()) await mkdir(point, { mode: 0o700 });
        else makeEmptyFile(point);
        mountBind(h, point, { recursive: true });
        if (m.readOnly) remountReadOnly(point);
        staged.set(m.target, point);
      } finally {
        h.close();
      }
    }
  } catch (err) {
    await unstageBinds(bundle);
    throw err;
  }
  return { staged, sources };
}

/**
 * For docker cp: a handle on the bind source the container has mounted at `m.target`, opened
 * as at start (no symlink in any component) and checked against the identity recorded at
 * create (403 ERR_BIND_SOURCE_CHANGED when it differs or is gone).
 *
 * @example
 * const h = openPinnedBind(m, c.BindSources);
 */
export function openPinnedBind(m: MountRequest, recorded: readonly BindSource[] | undefined): Handle {
  const h = openChecked(m.source);
  if (h === undefined) throw changed(m.source, 'it does not exist any more');
  const want = recorded?.find((s) => s.Target === m.target && s.Source === m.source);
  const id = h.statBig();
  if (recorded !== undefined && (want === undefined || String(id.dev) !== want.Device || String(id.ino) !== want.Inode)) {
    h.close();
    throw changed(m.source, want === undefined ? 'no identity was recorded for it at create' : `it changed (device:inode ${want.Device}:${want.Inode} at create, ${id.dev}:${id.ino} now)`);
  }
  return h;
}

function makeEmptyFile(path: string): void {
  const dir = openRoot(path.slice(0, path.lastIndexOf('/')));
  try {
    openAt(dir, path.slice(path.lastIndexOf('/') + 1), { flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600 }).close();
  } finally {
    dir.close();
  }
}

/**
 * Unmount every staging mount of a bundle and remove the staging points (never
 * recursively: a point that still holds something stays, and the error is thrown).
 */
export async function unstageBinds(bundle: string): Promise<void> {
  const dir = stagingDir(bundle);
  // No staging directory, no staging mount below it: skip reading and parsing
  // /proc/self/mountinfo (~1 ms of CPU with 20 containers mounted) for a container without
  // binds, most of them (issue 18).
  try {
    lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const failures: string[] = [];
  for (const point of mountPointsUnder(dir)) {
    try {
      unmount(point);
    } catch {
      try {
        unmount(point, MNT_DETACH); // busy: detach now, the kernel finishes later
      } catch (err) {
        failures.push(`${point}: ${errorText(err)}`);
      }
    }
  }
  if (failures.length > 0) throw new EngineError('internal', 'ERR_SYSCALL', `Cannot unmount bind staging points: ${failures.join('; ')}`);
  let parent: Handle;
  try {
    parent = openRoot(bundle);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return;
    throw err;
  }
  try {
    const points = tryOpenAt(parent, 'binds', { flags: O_PATH | O_DIRECTORY | O_NOFOLLOW });
    if (points === undefined) return;
    try {
      for (const e of listDir(points)) removePoint(points, e.raw);
    } finally {
      points.close();
    }
    unlinkAt(parent, 'binds', { dir: true });
  } finally {
    parent.close();
  }
}

/** rmdir or unlink one staging point; both refuse anything that is not empty or still mounted. */
function removePoint(dir: Handle, name: Buffer): void {
  try {
    unlinkAt(dir, name, { dir: true });
  } catch (err) {
    if (errnoOf(err) !== 'ENOTDIR') throw err;
    unlinkAt(dir, name);
  }
}
