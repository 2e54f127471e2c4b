/**
 * Apply an image layer (an uncompressed tar) to a directory, safely, and re-own trees for
 * `--userns-remap`.
 *
 * Safety rules (the same ground as moby `pkg/archive/archive.go` createTarFile/Unpack and
 * its CVE-2014-6407, CVE-2018-15664, CVE-2019-14271 lessons, but refusing instead of clamping):
 * - every operation goes through src/sys, relative to an fd on `destDir` with no symlink
 *   followed (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so the same code can extract
 *   into a tree a container can write;
 * - a leading `/` is relative to the layer root (Docker does the same); a `..` that would
 *   climb above the root is refused (400, naming the entry);
 * - a symlink among an entry's parents is refused, so `a -> /etc` followed by `a/passwd`
 *   never writes outside; missing parents are made;
 * - files are created with O_CREAT|O_EXCL|O_NOFOLLOW in their parent's fd after removing
 *   what was there; owner, mode and times are set on the fds that were created;
 * - hardlink targets follow the same rules and must already exist in the layer (not a dir);
 *   the link is made from an fd on the target (linkat AT_EMPTY_PATH);
 * - OCI whiteouts become overlayfs whiteouts: `.wh.NAME` a char device 0:0 named NAME,
 *   `.wh..wh..opq` the xattr trusted.overlay.opaque=y on its directory. Other `.wh..wh.*`
 *   (aufs meta) are skipped. A whiteout of `.`, `..` or of nothing (`.wh.`, `.wh..`,
 *   `.wh...`) is refused: it would remove the directory itself or its parent.
 * - char/block devices and fifos are made with mknodat(2); if the kernel refuses
 *   (EPERM, e.g. in a user namespace) the entry is skipped and a warning is returned.
 *
 * On any failure the contents of `destDir` are removed (destDir itself is kept); nothing is
 * ever written outside it. Callers should pass a fresh private directory.
 */
import { pipeline } from 'node:stream/promises';
import { PassThrough, type Readable } from 'node:stream';
import tar from 'tar-stream';
import { EngineError, findSystemError, invalid, internal } from '../base/index.js';
import {
  openRoot,
  openAt,
  tryOpenAt,
  listDir,
  makeDir,
  makeSymlink,
  makeNode,
  makeLink,
  unlinkAt,
  removeTree,
  setOwner,
  setMode,
  setTimes,
  setXattr,
  walk,
  writeAll,
  errnoOf,
  O_WRONLY,
  O_CREAT,
  O_EXCL,
  O_NOFOLLOW,
  O_PATH,
  O_DIRECTORY,
  S_IFCHR,
  S_IFBLK,
  S_IFIFO,
  type Handle,
} from '../sys/index.js';

/** A uid/gid offset added to every owner (userns remap: container 0 -> host `uid`). */
export interface IdShift {
  uid: number;
  gid: number;
}

export interface ApplyLayerOptions {
  uidShift?: IdShift;
  /** Called for each tar entry before it is applied (path relative to the root, no leading `/`). */
  onEntry?: (entry: { path: string; type: string; size: number }) => void;
  /**
   * The tar is a plain archive, not a layer (a build context, an ADD'ed archive): `.wh.*`
   * entries are files with those names, not whiteouts that remove what is beside them.
   */
  plainArchive?: boolean;
}

/** Extraction into a directory that already holds data (docker cp into a container). */
export interface ExtractArchiveOptions {
  uidShift?: IdShift | undefined;
  /** Every entry owned by this uid/gid (before the shift) instead of the tar's. */
  owner?: IdShift | undefined;
  /** Refuse replacing a directory with a non-directory or the reverse (400) instead of removing what is there. */
  noOverwriteDirNonDir?: boolean;
  /**
   * A new handle to extract into instead of the directory at these components (below `dir`):
   * what the container mounted there (docker cp into a volume below the destination). It may
   * throw to refuse writing there (a read-only mount).
   */
  graft?: ((parts: readonly string[]) => Handle | undefined) | undefined;
}

export interface ApplyLayerResult {
  entries: number;
  /** Bytes of file data written. */
  bytes: number;
  /** Entries skipped, with the reason (devices the kernel refused, unknown types). */
  warnings: string[];
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

// ---- paths ---------------------------------------------------------------------------

const WHITEOUT_PREFIX = '.wh.';
const WHITEOUT_OPAQUE = '.wh..wh..opq';
const WHITEOUT_META_PREFIX = '.wh..wh.';

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

function unsafeParent(shown: string, err: unknown): EngineError {
  const code = errnoOf(err);
  if (code === 'ELOOP' || code === 'EXDEV') return invalid(`Cannot import layer: entry ${JSON.stringify(shown)} goes through a symlink`, { cause: err });
  if (code === 'ENOTDIR' || code === 'EEXIST') return invalid(`Cannot import layer: entry ${JSON.stringify(shown)} has a parent that is not a directory`, { cause: err });
  return err instanceof EngineError ? err : internal(`Cannot import layer: ${(err as Error).message}`, { cause: err });
}

/**
 * The directory holding `parts` below `root`, as a handle: every parent must be a real
 * directory (missing ones are made); a symlink or a non-directory there is refused.
 */
function ensureParents(root: Handle, parts: readonly string[], shown: string, graft?: TarRules['graft']): Handle {
  let dir = openAt(root, '.', { flags: O_PATH | O_DIRECTORY });
  try {
    for (const [i, part] of parts.slice(0, -1).entries()) {
      let next: Handle | undefined;
      try {
        next = graft?.(parts.slice(0, i + 1));
        if (next !== undefined && !next.stat().isDirectory()) {
          next.close();
          throw invalid(`Cannot import layer: entry ${JSON.stringify(shown)} has a parent that is not a directory`);
        }
        next ??= tryOpenAt(dir, part, { flags: O_PATH | O_DIRECTORY | O_NOFOLLOW });
        if (next === undefined) {
          makeDir(dir, part, 0o755);
          next = openAt(dir, part, { flags: O_PATH | O_DIRECTORY | O_NOFOLLOW });
        }
      } catch (err) {
        if (errnoOf(err) === 'ENOTDIR') {
          // O_DIRECTORY on a symlink says ENOTDIR too: name the symlink for what it is.
          const h = tryOpenAt(dir, part);
          const isLink = h?.stat().isSymbolicLink() === true;
          h?.close();
          if (isLink) throw invalid(`Cannot import layer: entry ${JSON.stringify(shown)} goes through the symlink ${JSON.stringify(part)}`);
        }
        throw unsafeParent(shown, err);
      }
      dir.close();
      dir = next;
    }
    return dir;
  } catch (err) {
    dir.close();
    throw err;
  }
}

/**
 * Remove what is at `name` in `parent` unless both it and the new entry are directories; true
 * when a directory stays. With `keepDirNonDir` (the entry's name), a directory replaced by a
 * non-directory or the reverse is refused instead (docker cp's noOverwriteDirNonDir).
 */
export async function clearTarget(parent: Handle, name: Buffer | string, newIsDir: boolean, keepDirNonDir?: string): Promise<boolean> {
  const h = tryOpenAt(parent, name);
  if (h === undefined) return false;
  let isDir: boolean;
  try {
    isDir = h.stat().isDirectory();
  } finally {
    h.close();
  }
  if (isDir && newIsDir) return true;
  if (keepDirNonDir !== undefined && isDir !== newIsDir) {
    const what = isDir ? `cannot overwrite directory ${JSON.stringify(keepDirNonDir)} with non-directory` : `cannot overwrite non-directory ${JSON.stringify(keepDirNonDir)} with directory`;
    throw new EngineError('invalid', 'ERR_CP_DIR_NON_DIR', `Cannot import layer: ${what}`);
  }
  if (isDir) await removeTree(parent, name);
  else unlinkAt(parent, name);
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
  let root: Handle | undefined;
  try {
    root = openRoot(destDir);
    return await applyTar(input, root, { shift: opts.uidShift ?? { uid: 0, gid: 0 }, onEntry: opts.onEntry, plainArchive: opts.plainArchive === true, strictNames: false, noOverwriteDirNonDir: false });
  } catch (err) {
    input.destroy();
    if (root !== undefined) await emptyDir(root).catch(() => undefined);
    throw err;
  } finally {
    root?.close();
  }
}

/**
 * Extract a plain tar (docker cp into a container) into the directory `dir` (a handle the
 * caller resolved and keeps open), with the layer rules above and stricter names: an
 * absolute name is refused, and a `..` is cleaned but may not climb out of `dir`. On an error what was already written stays (the
 * directory holds the container's own files) and the rest of `input` is left to the caller
 * to drain; nothing is ever written outside `dir`.
 *
 * @example
 * await extractArchiveAt(req, dirHandle, { owner: { uid: 0, gid: 0 }, noOverwriteDirNonDir: true });
 */
export async function extractArchiveAt(input: Readable, dir: Handle, opts: ExtractArchiveOptions = {}): Promise<ApplyLayerResult> {
  // Fed through a pass-through so a refused entry does not destroy `input` (a request: its
  // socket would go, and the client would never read the 400); the caller drains it instead.
  const pass = new PassThrough();
  const cut = (err?: Error): void => {
    if (!input.readableEnded) pass.destroy(err ?? new Error('the archive was cut off'));
  };
  input.on('error', cut);
  input.on('close', cut);
  input.pipe(pass);
  try {
    return await applyTar(pass, dir, { shift: opts.uidShift ?? { uid: 0, gid: 0 }, owner: opts.owner, plainArchive: true, strictNames: true, noOverwriteDirNonDir: opts.noOverwriteDirNonDir === true, graft: opts.graft });
  } finally {
    input.unpipe(pass);
    input.off('error', cut);
    input.off('close', cut);
  }
}

interface TarRules {
  shift: IdShift;
  owner?: IdShift | undefined;
  onEntry?: ApplyLayerOptions['onEntry'];
  plainArchive: boolean;
  strictNames: boolean;
  noOverwriteDirNonDir: boolean;
  graft?: ExtractArchiveOptions['graft'];
}

/** Refuse an absolute name (cleanEntryPath would quietly fold it); a `..` that stays inside is cleaned as Docker does, one that climbs out is refused there. */
function checkStrictName(name: string): void {
  if (name.startsWith('/')) throw escapes(name);
}

async function applyTar(input: Readable, root: Handle, rules: TarRules): Promise<ApplyLayerResult> {
  const { shift } = rules;
  const result: ApplyLayerResult = { entries: 0, bytes: 0, warnings: [] };
  const dirTimes: Array<{ parts: string[]; mtime: Date }> = [];
  const extract = tar.extract();
  const feeding = pipeline(input, extract);
  feeding.catch(() => undefined); // surfaced by the iterator below
  try {
    for await (const entry of extract) {
      const h = entry.header;
      const type = h.type ?? 'file';
      const shown = h.name;
      result.entries++;
      if (rules.strictNames) {
        checkStrictName(h.name);
        if (type === 'link') checkStrictName(h.linkname ?? '');
      }
      const parts = cleanEntryPath(h.name, shown);
      rules.onEntry?.({ path: parts.join('/'), type, size: h.size ?? 0 });
      const base = parts[parts.length - 1];
      if (base === undefined) {
        // The root itself ("./"): only a directory entry makes sense; apply its metadata.
        if (type !== 'directory') throw invalid(`Cannot import layer: entry ${JSON.stringify(shown)} replaces the layer root`);
        await drain(entry);
        setOwnerMode(root, h, ownerOf(h, rules), false);
        if (h.mtime) dirTimes.push({ parts: [], mtime: h.mtime });
        continue;
      }
      // The entry is itself where the container has a mount (`data/` for a volume at /data).
      const mounted = rules.graft?.(parts);
      if (mounted !== undefined) {
        try {
          await drain(entry);
          if (type !== 'directory' || !mounted.stat().isDirectory()) throw invalid(`Cannot import layer: entry ${JSON.stringify(shown)} would replace a mount point of the container`);
          setOwnerMode(mounted, h, ownerOf(h, rules), false);
        } finally {
          mounted.close();
        }
        continue;
      }
      const parent = ensureParents(root, parts, shown, rules.graft);
      try {
        await applyEntry(entry, { root, parent, base, parts, shown, type, shift, ids: ownerOf(h, rules), result, dirTimes, plainArchive: rules.plainArchive, noOverwriteDirNonDir: rules.noOverwriteDirNonDir });
      } finally {
        parent.close();
      }
    }
    await feeding;
    // Directory times last: creating entries inside changed them.
    for (const d of dirTimes.reverse()) {
      let dir: Handle;
      try {
        dir = openAt(root, d.parts.join('/'), { flags: O_PATH | O_DIRECTORY | O_NOFOLLOW });
      } catch (err) {
        if (['ENOENT', 'ENOTDIR', 'ELOOP'].includes(errnoOf(err) ?? '')) continue; // replaced by a later entry
        throw err;
      }
      try {
        setTimes(dir, d.mtime, d.mtime);
      } finally {
        dir.close();
      }
    }
    return result;
  } catch (err) {
    extract.destroy();
    input.destroy();
    await feeding.catch(() => undefined);
    if (err instanceof EngineError) throw err;
    // A host failure (a full disk, EIO) is the daemon's; anything else is the tar stream the
    // client sent (a bad header, a short or cut upload): a 400, not a 500.
    if (findSystemError(err) !== undefined) throw internal(`Cannot import layer: ${(err as Error).message}`, { cause: err });
    throw new EngineError('invalid', 'ERR_IMAGE_BAD_TAR', `Cannot import layer: ${(err as Error).message}`, { cause: err });
  }
}

/** The final owner of an entry: the fixed owner or the tar's, plus the remap shift. */
function ownerOf(h: tar.Header, rules: TarRules): IdShift {
  const base = rules.owner ?? { uid: h.uid ?? 0, gid: h.gid ?? 0 };
  return { uid: base.uid + rules.shift.uid, gid: base.gid + rules.shift.gid };
}

interface EntryContext {
  root: Handle;
  parent: Handle;
  base: string;
  parts: string[];
  shown: string;
  type: string;
  shift: IdShift;
  /** The owner every new entry gets (shift included). */
  ids: IdShift;
  result: ApplyLayerResult;
  dirTimes: Array<{ parts: string[]; mtime: Date }>;
  plainArchive: boolean;
  noOverwriteDirNonDir: boolean;
}

/** One entry from tar-stream's extractor: its header and a stream of its data. */
type TarEntry = AsyncIterable<unknown> & { header: tar.Header };

async function applyEntry(entry: TarEntry, x: EntryContext): Promise<void> {
  const h = entry.header;
  const { parent, base, shown, shift, ids, result } = x;
  const clear = (newIsDir: boolean): Promise<boolean> => clearTarget(parent, base, newIsDir, x.noOverwriteDirNonDir ? shown : undefined);
  if (base.startsWith(WHITEOUT_PREFIX) && !x.plainArchive) {
    await drain(entry);
    if (base === WHITEOUT_OPAQUE) {
      setXattr(parent, 'trusted.overlay.opaque', 'y');
    } else if (base.startsWith(WHITEOUT_META_PREFIX)) {
      result.warnings.push(`skipped aufs metadata entry ${JSON.stringify(shown)}`);
    } else {
      const victim = base.slice(WHITEOUT_PREFIX.length);
      // `.wh.`, `.wh..`, `.wh...` would whiteout nothing, the directory itself, or its parent.
      if (victim === '' || victim === '.' || victim === '..') throw invalid(`Cannot import layer: entry ${JSON.stringify(shown)} is a whiteout of ${JSON.stringify(victim)}, not of a name in its directory`);
      await clearTarget(parent, victim, false);
      makeNode(parent, victim, S_IFCHR | 0o000, makedev(0, 0));
      const wh = openAt(parent, victim);
      try {
        setOwner(wh, shift.uid, shift.gid);
      } finally {
        wh.close();
      }
    }
    return;
  }

  switch (x.type) {
    case 'directory': {
      await drain(entry);
      if (!(await clear(true))) makeDir(parent, base, 0o700);
      const dir = openAt(parent, base, { flags: O_PATH | O_DIRECTORY | O_NOFOLLOW });
      try {
        setOwnerMode(dir, h, ids, false);
      } finally {
        dir.close();
      }
      if (h.mtime) x.dirTimes.push({ parts: x.parts, mtime: h.mtime });
      break;
    }
    case 'file':
    case 'contiguous-file': {
      await clear(false);
      const out = openAt(parent, base, { flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600 });
      try {
        for await (const chunk of entry as AsyncIterable<Buffer>) {
          await writeAll(out, chunk);
          result.bytes += chunk.length;
        }
        setOwnerMode(out, h, ids, false);
        if (h.mtime) setTimes(out, h.mtime, h.mtime);
      } finally {
        out.close();
      }
      break;
    }
    case 'symlink': {
      await drain(entry);
      if (h.linkname == null) throw invalid(`Cannot import layer: symlink ${JSON.stringify(shown)} has no target`);
      await clear(false);
      makeSymlink(parent, base, h.linkname);
      const link = openAt(parent, base);
      try {
        setOwnerMode(link, h, ids, true);
        if (h.mtime) setTimes(link, h.mtime, h.mtime);
      } finally {
        link.close();
      }
      break;
    }
    case 'link': {
      await drain(entry);
      const linkname = h.linkname ?? '';
      const targetParts = cleanEntryPath(linkname, shown);
      if (targetParts.length === 0) throw escapes(shown);
      const notAFile = (): EngineError => invalid(`Cannot import layer: hardlink ${JSON.stringify(shown)} points to ${JSON.stringify(linkname)}, which is not a file in the layer`);
      let target: Handle | undefined;
      try {
        target = tryOpenAt(x.root, targetParts.join('/'));
      } catch (err) {
        const code = errnoOf(err);
        if (code === 'ELOOP' || code === 'EXDEV' || code === 'ENOTDIR') throw notAFile();
        throw err;
      }
      if (target === undefined) throw notAFile();
      try {
        if (target.stat().isDirectory()) throw notAFile();
        if (targetParts.join('/') === x.parts.join('/')) break;
        await clear(false);
        makeLink(target, parent, base);
      } finally {
        target.close();
      }
      break;
    }
    case 'character-device':
    case 'block-device':
    case 'fifo': {
      await drain(entry);
      await clear(false);
      const kind = x.type === 'fifo' ? S_IFIFO : x.type === 'block-device' ? S_IFBLK : S_IFCHR;
      try {
        makeNode(parent, base, kind | ((h.mode ?? 0o644) & 0o7777), makedev(h.devmajor ?? 0, h.devminor ?? 0));
      } catch (err) {
        if (errnoOf(err) === 'EPERM') {
          result.warnings.push(`skipped ${x.type} ${JSON.stringify(shown)}: mknod not permitted`);
          break;
        }
        throw err;
      }
      const node = openAt(parent, base);
      try {
        setOwnerMode(node, h, ids, false);
        if (h.mtime) setTimes(node, h.mtime, h.mtime);
      } finally {
        node.close();
      }
      break;
    }
    default:
      await drain(entry);
      result.warnings.push(`skipped entry ${JSON.stringify(shown)} of unsupported type ${x.type}`);
  }
}

function setOwnerMode(h: Handle, hdr: tar.Header, ids: IdShift, isSymlink: boolean): void {
  setOwner(h, ids.uid, ids.gid);
  // chmod after chown: chown clears setuid/setgid bits. Symlinks have no mode on Linux.
  if (!isSymlink) setMode(h, (hdr.mode ?? 0o644) & 0o7777);
}

async function emptyDir(root: Handle): Promise<void> {
  for (const e of listDir(root)) {
    try {
      await removeTree(root, e.raw);
    } catch {
      // best effort: the caller reports the first error
    }
  }
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
  const shiftOne = (h: Handle): void => {
    const st = h.stat();
    entries++;
    if (!st.isDirectory() && st.nlink > 1) {
      const id = h.statBig();
      const key = `${id.dev}:${id.ino}`;
      if (seen.has(key)) return;
      seen.add(key);
    }
    setOwner(h, st.uid + shift.uid, st.gid + shift.gid);
    if (!st.isSymbolicLink() && (st.mode & 0o6000) !== 0) setMode(h, st.mode & 0o7777);
  };
  const root = openRoot(dir);
  try {
    shiftOne(root);
    await walk(root, ({ handle }) => shiftOne(handle));
  } finally {
    root.close();
  }
  return { entries };
}
