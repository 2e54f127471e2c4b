/**
 * Apply an image layer (an uncompressed tar) to a directory, safely, and re-own trees for
 * `--userns-remap`.
 *
 * Safety rules (the same ground as moby `pkg/archive/archive.go` createTarFile/Unpack and
 * its CVE-2014-6407, CVE-2018-15664, CVE-2019-14271 lessons, but refusing instead of clamping):
 * - a leading `/` is relative to the layer root (Docker does the same); a `..` that would
 *   climb above the root is refused (400, naming the entry);
 * - every parent component of an entry is checked with lstat: a symlink there is refused,
 *   so `a -> /etc` followed by `a/passwd` never writes outside; missing parents are made;
 * - files are created with O_CREAT|O_EXCL|O_NOFOLLOW after removing what was there;
 * - hardlink targets follow the same rules and must already exist in the layer (not a dir);
 * - OCI whiteouts become overlayfs whiteouts: `.wh.NAME` a char device 0:0 named NAME,
 *   `.wh..wh..opq` the xattr trusted.overlay.opaque=y on its directory (lsetxattr via
 *   koffi: the `attr` package is not installed here). Other `.wh..wh.*` (aufs meta) are skipped.
 * - char/block devices and fifos are made with mknod(2) via koffi; if the kernel refuses
 *   (EPERM, e.g. in a user namespace) the entry is skipped and a warning is returned.
 *
 * On any failure the contents of `destDir` are removed (destDir itself is kept); nothing is
 * ever written outside it. Callers should pass a fresh private directory.
 */
import { lstat, mkdir, rm, readdir, symlink, link, chmod, lchown, lutimes, open } from 'node:fs/promises';
import { constants as fsConstants, type Stats } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import koffi from 'koffi';
import tar from 'tar-stream';
import { EngineError, findSystemError, invalid, internal, sysError } from '../base/index.js';

/** A uid/gid offset added to every owner (userns remap: container 0 -> host `uid`). */
export interface IdShift {
  uid: number;
  gid: number;
}

export interface ApplyLayerOptions {
  uidShift?: IdShift;
  /** Called for each tar entry before it is applied (path relative to the root, no leading `/`). */
  onEntry?: (entry: { path: string; type: string; size: number }) => void;
}

export interface ApplyLayerResult {
  entries: number;
  /** Bytes of file data written. */
  bytes: number;
  /** Entries skipped, with the reason (devices the kernel refused, unknown types). */
  warnings: string[];
}

// ---- libc through koffi --------------------------------------------------------------

interface Libc {
  mknod: (path: string, mode: number, dev: bigint) => number;
  lsetxattr: (path: string, name: string, value: Buffer, size: number, flags: number) => number;
  lgetxattr: (path: string, name: string, value: Buffer, size: number) => number;
}
let libc: Libc | undefined;
function getLibc(): Libc {
  if (libc === undefined) {
    const lib = koffi.load('libc.so.6');
    libc = {
      mknod: lib.func('int mknod(const char *path, uint32_t mode, uint64_t dev)') as Libc['mknod'],
      lsetxattr: lib.func('int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)') as Libc['lsetxattr'],
      lgetxattr: lib.func('intptr_t lgetxattr(const char *path, const char *name, void *value, size_t size)') as Libc['lgetxattr'],
    };
  }
  return libc;
}



/** glibc's makedev(3) for 64-bit dev_t. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/** glibc's major(3) / minor(3) for a dev_t. */
export function devMajor(dev: number | bigint): number {
  const d = BigInt(dev);
  return Number(((d >> 32n) & 0xfffff000n) | ((d >> 8n) & 0xfffn));
}
export function devMinor(dev: number | bigint): number {
  const d = BigInt(dev);
  return Number(((d >> 12n) & 0xffffff00n) | (d & 0xffn));
}

export function mknodSync(path: string, mode: number, dev: bigint): void {
  if (getLibc().mknod(path, mode, dev) !== 0) throw sysError('mknod', path, koffi.errno());
}

export function lsetxattrSync(path: string, name: string, value: string): void {
  const buf = Buffer.from(value);
  if (getLibc().lsetxattr(path, name, buf, buf.length, 0) !== 0) throw sysError('lsetxattr', path, koffi.errno());
}

/** The xattr's value, or undefined when the file has no such attribute. */
export function lgetxattrSync(path: string, name: string): Buffer | undefined {
  const buf = Buffer.alloc(4096);
  const n = Number(getLibc().lgetxattr(path, name, buf, buf.length));
  if (n >= 0) return buf.subarray(0, n);
  const e = koffi.errno();
  if (e === osConstants.errno.ENODATA || e === osConstants.errno.ENOTSUP) return undefined;
  throw sysError('lgetxattr', path, e);
}

// ---- paths ---------------------------------------------------------------------------

const WHITEOUT_PREFIX = '.wh.';
const WHITEOUT_OPAQUE = '.wh..wh..opq';
const WHITEOUT_META_PREFIX = '.wh..wh.';
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

function escapes(name: string): EngineError {
  return invalid(`Cannot import layer: entry ${JSON.stringify(name)} escapes the layer`);
}

/**
 * Clean a tar path into components below the root. A leading `/` is relative to the root;
 * `.` and empty parts are dropped; `..` pops, and popping past the root is refused. Pure.
 *
 * @example
 * cleanEntryPath('/bin/./sh')   // ['bin', 'sh']
 * cleanEntryPath('a/../../evil') // throws EngineError invalid
 */
export function cleanEntryPath(name: string, shown: string = name): string[] {
  if (name.includes('\0')) throw invalid(`Cannot import layer: entry ${JSON.stringify(shown)} has a NUL byte in its name`);
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) throw escapes(shown);
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out;
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Make sure every parent of `parts` below `root` is a real directory (creating missing
 * ones); refuse symlinks and non-directories there. Returns the absolute parent path.
 */
async function ensureParents(root: string, parts: readonly string[], shown: string): Promise<string> {
  let dir = root;
  for (const part of parts.slice(0, -1)) {
    dir = join(dir, part);
    const st = await lstatOrUndefined(dir);
    if (st === undefined) {
      await mkdir(dir, { mode: 0o755 });
    } else if (st.isSymbolicLink()) {
      throw invalid(`Cannot import layer: entry ${JSON.stringify(shown)} goes through the symlink ${JSON.stringify(dir.slice(root.length + 1))}`);
    } else if (!st.isDirectory()) {
      throw invalid(`Cannot import layer: entry ${JSON.stringify(shown)} has a parent that is not a directory`);
    }
  }
  return dir;
}

/** Remove what is at `path` unless both it and the new entry are directories. */
async function clearTarget(path: string, newIsDir: boolean): Promise<boolean> {
  const st = await lstatOrUndefined(path);
  if (st === undefined) return false;
  if (st.isDirectory() && newIsDir) return true;
  await rm(path, { recursive: true, force: true });
  return false;
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _chunk of stream) {
    /* discard */
  }
}

// ---- apply ---------------------------------------------------------------------------

/**
 * Extract a layer tar into `destDir` (see the module comment for the safety rules).
 * Consumes the whole input, including the padding after the end-of-archive blocks (callers
 * hash it as it flows). Refused entries throw EngineError `invalid` (400) naming the entry;
 * on any error destDir is emptied.
 */
export async function applyLayer(input: Readable, destDir: string, opts: ApplyLayerOptions = {}): Promise<ApplyLayerResult> {
  const shift = opts.uidShift ?? { uid: 0, gid: 0 };
  const result: ApplyLayerResult = { entries: 0, bytes: 0, warnings: [] };
  const dirTimes: Array<{ path: string; mtime: Date }> = [];
  const extract = tar.extract();
  const feeding = pipeline(input, extract);
  feeding.catch(() => undefined); // surfaced by the iterator below
  try {
    for await (const entry of extract) {
      const h = entry.header;
      const type = h.type ?? 'file';
      const shown = h.name;
      result.entries++;
      const parts = cleanEntryPath(h.name, shown);
      opts.onEntry?.({ path: parts.join('/'), type, size: h.size ?? 0 });
      const base = parts[parts.length - 1];
      if (base === undefined) {
        // The root itself ("./"): only a directory entry makes sense; apply its metadata.
        if (type !== 'directory') throw invalid(`Cannot import layer: entry ${JSON.stringify(shown)} replaces the layer root`);
        await drain(entry);
        await setOwnerMode(destDir, h, shift, false);
        if (h.mtime) dirTimes.push({ path: destDir, mtime: h.mtime });
        continue;
      }
      const parent = await ensureParents(destDir, parts, shown);
      const path = join(parent, base);

      if (base.startsWith(WHITEOUT_PREFIX)) {
        await drain(entry);
        if (base === WHITEOUT_OPAQUE) {
          lsetxattrSync(parent, 'trusted.overlay.opaque', 'y');
        } else if (base.startsWith(WHITEOUT_META_PREFIX)) {
          result.warnings.push(`skipped aufs metadata entry ${JSON.stringify(shown)}`);
        } else {
          const victim = join(parent, base.slice(WHITEOUT_PREFIX.length));
          await clearTarget(victim, false);
          mknodSync(victim, S_IFCHR | 0o000, makedev(0, 0));
          await lchown(victim, shift.uid, shift.gid);
        }
        continue;
      }

      switch (type) {
        case 'directory': {
          await drain(entry);
          await clearTarget(path, true);
          const st = await lstatOrUndefined(path);
          if (st === undefined) await mkdir(path, { mode: 0o700 });
          await setOwnerMode(path, h, shift, false);
          if (h.mtime) dirTimes.push({ path, mtime: h.mtime });
          break;
        }
        case 'file':
        case 'contiguous-file': {
          await clearTarget(path, false);
          const fh = await open(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
          try {
            for await (const chunk of entry as AsyncIterable<Buffer>) {
              await fh.write(chunk);
              result.bytes += chunk.length;
            }
          } finally {
            await fh.close();
          }
          await setOwnerMode(path, h, shift, false);
          if (h.mtime) await lutimes(path, h.mtime, h.mtime);
          break;
        }
        case 'symlink': {
          await drain(entry);
          if (h.linkname == null) throw invalid(`Cannot import layer: symlink ${JSON.stringify(shown)} has no target`);
          await clearTarget(path, false);
          await symlink(h.linkname, path);
          await setOwnerMode(path, h, shift, true);
          if (h.mtime) await lutimes(path, h.mtime, h.mtime);
          break;
        }
        case 'link': {
          await drain(entry);
          const linkname = h.linkname ?? '';
          const targetParts = cleanEntryPath(linkname, shown);
          if (targetParts.length === 0) throw escapes(shown);
          const targetParent = await ensureParents(destDir, targetParts, shown);
          const target = join(targetParent, targetParts[targetParts.length - 1]!);
          const tst = await lstatOrUndefined(target);
          if (tst === undefined || tst.isDirectory()) {
            throw invalid(`Cannot import layer: hardlink ${JSON.stringify(shown)} points to ${JSON.stringify(linkname)}, which is not a file in the layer`);
          }
          if (target === path) break;
          await clearTarget(path, false);
          await link(target, path);
          break;
        }
        case 'character-device':
        case 'block-device':
        case 'fifo': {
          await drain(entry);
          await clearTarget(path, false);
          const kind = type === 'fifo' ? S_IFIFO : type === 'block-device' ? S_IFBLK : S_IFCHR;
          try {
            mknodSync(path, kind | ((h.mode ?? 0o644) & 0o7777), makedev(h.devmajor ?? 0, h.devminor ?? 0));
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'EPERM') {
              result.warnings.push(`skipped ${type} ${JSON.stringify(shown)}: mknod not permitted`);
              break;
            }
            throw err;
          }
          await setOwnerMode(path, h, shift, false);
          if (h.mtime) await lutimes(path, h.mtime, h.mtime);
          break;
        }
        default:
          await drain(entry);
          result.warnings.push(`skipped entry ${JSON.stringify(shown)} of unsupported type ${type}`);
      }
    }
    await feeding;
    // Directory times last: creating entries inside changed them.
    for (const d of dirTimes.reverse()) await lutimes(d.path, d.mtime, d.mtime);
    return result;
  } catch (err) {
    extract.destroy();
    input.destroy();
    await feeding.catch(() => undefined);
    await emptyDir(destDir).catch(() => undefined);
    if (err instanceof EngineError) throw err;
    // A host failure (a full disk, EIO) is the daemon's; anything else is the tar stream the
    // client sent (a bad header, a short or cut upload): a 400, not a 500.
    if (findSystemError(err) !== undefined) throw internal(`Cannot import layer: ${(err as Error).message}`, { cause: err });
    throw new EngineError('invalid', 'ERR_IMAGE_BAD_TAR', `Cannot import layer: ${(err as Error).message}`, { cause: err });
  }
}

async function setOwnerMode(path: string, h: tar.Header, shift: IdShift, isSymlink: boolean): Promise<void> {
  await lchown(path, (h.uid ?? 0) + shift.uid, (h.gid ?? 0) + shift.gid);
  // chmod after chown: chown clears setuid/setgid bits. Symlinks have no mode on Linux.
  if (!isSymlink) await chmod(path, (h.mode ?? 0o644) & 0o7777);
}

async function emptyDir(dir: string): Promise<void> {
  for (const name of await readdir(dir)) await rm(join(dir, name), { recursive: true, force: true });
}

// ---- re-own --------------------------------------------------------------------------

/**
 * Add `shift` to the owner of every entry under (and including) `dir`, without following
 * symlinks; used to make a per-remapped-root copy of a layer. setuid/setgid bits are
 * restored after the chown (the kernel clears them). File capabilities
 * (security.capability) are also cleared by chown and are not restored.
 */
export async function reownTree(dir: string, shift: IdShift): Promise<{ entries: number }> {
  let entries = 0;
  const seen = new Set<string>(); // hardlinked inodes are shifted once
  const visit = async (path: string): Promise<void> => {
    const st = await lstat(path);
    entries++;
    if (!st.isDirectory() && st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) return;
      seen.add(key);
    }
    await lchown(path, st.uid + shift.uid, st.gid + shift.gid);
    if (!st.isSymbolicLink() && (st.mode & 0o6000) !== 0) await chmod(path, st.mode & 0o7777);
    if (st.isDirectory()) {
      for (const name of (await readdir(path)).sort()) await visit(join(path, name));
    }
  };
  await visit(dir);
  return { entries };
}
