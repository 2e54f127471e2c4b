// COPY and ADD on the host side: sources found in a daemon-owned tree (the build context, an
// extracted archive) or in another stage's rootfs, their checksum for the cache, and the copy
// into the step container's rootfs. Every path inside a rootfs resolves through src/sys from
// the rootfs's fd, in-root, so a symlink the image planted cannot send moatd (root on the
// host) outside it; entries are created in their parent's fd and never followed.
import { createHash, type Hash } from 'node:crypto';
import { readSync } from 'node:fs';
import {
  openAt,
  tryOpenAt,
  reopen,
  listDir,
  readLink,
  makeDir,
  makeSymlink,
  setOwner,
  setMode,
  setTimes,
  walk,
  readExactly,
  writeAll,
  mkdirAll,
  errnoOf,
  kindOf,
  O_RDONLY,
  O_WRONLY,
  O_CREAT,
  O_EXCL,
  O_NOFOLLOW,
  O_PATH,
  O_DIRECTORY,
  type Handle,
} from '../sys/index.js';
import { EngineError, invalid } from '../base/index.js';
import { clearTarget } from '../image/index.js';
import { baseName, contextPath, hasWildcard, matchPath } from './paths.js';

/** A source found for COPY/ADD: an O_PATH handle, the name it is copied under, its path as shown. */
export interface Source {
  handle: Handle;
  /** Path relative to the source root (context or stage rootfs). */
  rel: string;
}

function notFound(what: string, src: string): EngineError {
  return invalid(`${what} failed: file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`);
}

/**
 * The entries `sources` name below `root`: wildcards match every path of the tree (Go's
 * filepath.Match on the whole relative path), other paths resolve in-root (a symlink in the
 * context is followed, but never out of it). Close the handles.
 */
export async function findSources(root: Handle, sources: readonly string[], what: string): Promise<Source[]> {
  const out: Source[] = [];
  try {
    for (const src of sources) {
      const rel = contextPath(src);
      if (hasWildcard(rel)) {
        const hits: string[] = [];
        await walk(root, ({ path }) => {
          if (matchPath(rel, path)) hits.push(path);
        });
        if (hits.length === 0) throw invalid(`${what} failed: no source files were specified`);
        for (const h of hits) out.push({ handle: openAt(root, h, { flags: O_PATH | O_NOFOLLOW, resolve: 'beneath' }), rel: h });
        continue;
      }
      let h: Handle | undefined;
      try {
        h = rel === '' ? openAt(root, '.', { flags: O_PATH | O_DIRECTORY }) : openAt(root, rel, { flags: O_PATH, resolve: 'in-root' });
      } catch (err) {
        if (['ENOENT', 'ENOTDIR', 'ELOOP'].includes(errnoOf(err) ?? '')) throw notFound(what, src);
        throw err;
      }
      out.push({ handle: h, rel });
    }
    return out;
  } catch (err) {
    for (const s of out) s.handle.close();
    throw err;
  }
}

async function hashFile(h: Handle, size: number, hash: Hash): Promise<void> {
  const io = reopen(h, O_RDONLY);
  try {
    await readExactly(io, size, (chunk) => {
      hash.update(chunk);
    });
  } finally {
    io.close();
  }
}

function hashEntry(hash: Hash, name: string, h: Handle): { kind: string; size: number } {
  const st = h.stat();
  const kind = kindOf(st);
  const link = kind === 'symlink' ? readLink(h).toString('hex') : '';
  hash.update(`${JSON.stringify([name, kind, st.mode & 0o7777, kind === 'file' ? st.size : 0, link])}\n`);
  return { kind, size: st.size };
}

/**
 * The checksum of what COPY/ADD would copy: names, types, modes, sizes, contents and link
 * targets, not times or owners (COPY sets owners from --chown), as Docker's cache does.
 *
 * @example
 * const sum = await checksumSources(sources); // 'sha256:…'
 */
export async function checksumSources(sources: readonly Source[]): Promise<string> {
  const hash = createHash('sha256');
  for (const s of sources) {
    const top = hashEntry(hash, s.rel, s.handle);
    if (top.kind === 'file') await hashFile(s.handle, top.size, hash);
    if (top.kind !== 'dir') continue;
    const dir = s.handle;
    await walk(dir, async ({ path, handle }) => {
      const e = hashEntry(hash, `${s.rel}/${path}`, handle);
      if (e.kind === 'file') await hashFile(handle, e.size, hash);
    });
  }
  return `sha256:${hash.digest('hex')}`;
}

/** Owners and modes of copied entries. */
export interface CopyOwnership {
  uid: number;
  gid: number;
  /** --chmod: the mode of every copied file and directory. */
  chmod?: number | undefined;
}

/**
 * A name an image layer cannot hold: `.wh.NAME` is how a layer says NAME was deleted, so a
 * file called that would, once committed, hide NAME of the layers below (dockerd commits it
 * as such a whiteout). COPY and ADD refuse it.
 */
export function checkLayerName(name: Buffer | string): void {
  const text = typeof name === 'string' ? name : name.toString('utf8');
  if (text.startsWith('.wh.')) {
    throw new EngineError('invalid', 'ERR_LAYER_WHITEOUT_NAME', `cannot copy ${JSON.stringify(text)}: a name starting with .wh. marks a deleted file in an image layer (an OCI whiteout), so it cannot be stored in one; rename it or leave it out with .dockerignore`);
  }
}

/** Copy `src` (any entry) as `name` in the directory `parent`, replacing what is there (directories merge). */
async function copyEntry(src: Handle, parent: Handle, name: Buffer | string, own: CopyOwnership): Promise<void> {
  checkLayerName(name);
  const st = src.stat();
  const ns = src.statBig();
  const kind = kindOf(st);
  if (kind === 'dir') {
    const existed = await clearTarget(parent, name, true);
    if (!existed) makeDir(parent, name, 0o700);
    const made = openAt(parent, name, { flags: O_PATH | O_DIRECTORY | O_NOFOLLOW });
    try {
      await copyChildren(src, made, own);
      setOwner(made, own.uid, own.gid);
      setMode(made, own.chmod ?? st.mode);
      setTimes(made, ns.atimeNs, ns.mtimeNs);
    } finally {
      made.close();
    }
    return;
  }
  if (kind === 'file') {
    await clearTarget(parent, name, false);
    const out = openAt(parent, name, { flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600 });
    try {
      const io = reopen(src, O_RDONLY);
      try {
        await readExactly(io, st.size, (chunk) => writeAll(out, chunk));
      } finally {
        io.close();
      }
      setOwner(out, own.uid, own.gid);
      setMode(out, own.chmod ?? st.mode);
      setTimes(out, ns.atimeNs, ns.mtimeNs);
    } finally {
      out.close();
    }
    return;
  }
  if (kind === 'symlink') {
    await clearTarget(parent, name, false);
    makeSymlink(parent, name, readLink(src));
    const made = openAt(parent, name);
    try {
      setOwner(made, own.uid, own.gid);
      setTimes(made, ns.atimeNs, ns.mtimeNs);
    } finally {
      made.close();
    }
  }
  // devices, FIFOs and sockets are not copied by COPY/ADD here
}

async function copyChildren(srcDir: Handle, destDir: Handle, own: CopyOwnership): Promise<void> {
  for (const e of listDir(srcDir)) {
    const h = tryOpenAt(srcDir, e.raw);
    if (h === undefined) continue;
    try {
      await copyEntry(h, destDir, e.raw, own);
    } finally {
      h.close();
    }
  }
}

/**
 * `mkdir -p` of an absolute path inside a rootfs, in-root; the directories it makes are owned
 * by `own` (Docker's MkdirAllAndChownNew). Returns an O_PATH handle on the directory.
 */
export function makeDirs(rootfs: Handle, path: string, own: { uid: number; gid: number }): Handle {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  let firstMissing = parts.length + 1;
  for (let k = 1; k <= parts.length; k++) {
    const h = tryOpenAt(rootfs, parts.slice(0, k).join('/'), { flags: O_PATH | O_DIRECTORY, resolve: 'in-root' });
    if (h === undefined) {
      firstMissing = k;
      break;
    }
    h.close();
  }
  const dir = mkdirAll(rootfs, path, { mode: 0o755, resolve: 'in-root' });
  try {
    // The directories made now (a dangling symlink's target is made elsewhere: left as made).
    for (let k = firstMissing; k <= parts.length; k++) {
      const h = tryOpenAt(rootfs, parts.slice(0, k).join('/'), { flags: O_PATH | O_DIRECTORY, resolve: 'in-root' });
      if (h === undefined) continue;
      try {
        setOwner(h, own.uid, own.gid);
      } finally {
        h.close();
      }
    }
    return dir;
  } catch (err) {
    dir.close();
    throw err;
  }
}

/**
 * Copy the sources into `dest` of the rootfs with Docker's rules: a directory's contents go
 * into `dest`; a file goes to `dest/<name>` when `dest` ends in '/' or is a directory, else to
 * `dest` itself; missing parents are made. `asDir` makes `dest` a directory (an extracted
 * archive).
 *
 * @example
 * await copyInto(rootfs, sources, '/app/', { uid: 0, gid: 0 });
 */
export async function copyInto(rootfs: Handle, sources: ReadonlyArray<Source & { name?: string }>, dest: string, own: CopyOwnership): Promise<void> {
  const dirLike = dest.endsWith('/');
  for (const s of sources) {
    const st = s.handle.stat();
    if (st.isDirectory()) {
      const d = makeDirs(rootfs, dest, own);
      try {
        await copyChildren(s.handle, d, own);
      } finally {
        d.close();
      }
      continue;
    }
    let intoDir = dirLike;
    if (!intoDir) {
      const existing = tryOpenAt(rootfs, dest, { flags: O_PATH | O_DIRECTORY, resolve: 'in-root' });
      if (existing !== undefined) {
        intoDir = true;
        existing.close();
      }
    }
    const name = s.name ?? baseName(s.rel);
    const parentPath = intoDir ? dest : dest.slice(0, dest.replace(/\/+$/, '').lastIndexOf('/') + 1) || '/';
    const finalName = intoDir ? name : baseName(dest);
    if (finalName === '') throw invalid(`cannot copy to ${JSON.stringify(dest)}: no file name`);
    const parent = makeDirs(rootfs, parentPath, own);
    try {
      await copyEntry(s.handle, parent, finalName, own);
    } finally {
      parent.close();
    }
  }
}

/** The kind of archive at the start of `head`, for ADD's auto-extraction; undefined: not one. */
export function archiveKind(head: Buffer): 'gzip' | 'bzip2' | 'xz' | 'tar' | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
  return undefined;
}

/** The first bytes of a regular file handle. */
export function readHead(h: Handle, n: number): Buffer {
  const io = reopen(h, O_RDONLY);
  try {
    const buf = Buffer.alloc(n);
    let got = 0;
    for (;;) {
      const r = readSyncAt(io.fd, buf, got);
      if (r === 0) break;
      got += r;
      if (got === n) break;
    }
    return buf.subarray(0, got);
  } finally {
    io.close();
  }
}

function readSyncAt(fd: number, buf: Buffer, off: number): number {
  return readSync(fd, buf, off, buf.length - off, off);
}
