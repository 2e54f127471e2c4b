// Host-side file operations inside trees a container can write (its rootfs and upper dir,
// volumes, bind sources): every operation is relative to an fd on the tree's root and goes
// through openat2(2), so a symlink or a rename planted by the container cannot send moatd
// (root on the host) anywhere else:
// - 'in-root' (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): paths resolve as the container
//   sees them; an absolute symlink or `..` stops at the tree's root (reading /etc/passwd of
//   an image, making the working directory);
// - 'beneath' (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS): no symlink
//   is followed at all (writing into a volume, walking a tree for export, extracting).
// What was opened is then inspected with fstat on the fd (never lstat then open). Entries are
// opened O_PATH | O_NOFOLLOW first, so a FIFO or a device is never opened for I/O; only
// regular files and directories are re-opened (through the fd itself) to read or write.
import { chmodSync, closeSync, fstatSync, openSync, readSync, read, write, type BigIntStats, type Stats, constants as fsConstants } from 'node:fs';
import { promisify } from 'node:util';
import { EngineError, errnoName } from '../base/index.js';
import { libc, lastErrno, cPath, sysFail, errnoOf, type PathArg } from './libc.js';

const readAsync = promisify(read);
const writeAsync = promisify(write);

/** The syscalls here are synchronous: long walks give the event loop a turn every so often. */
function yielder(every = 256): () => Promise<void> {
  let n = 0;
  return async () => {
    if (++n % every === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  };
}

// open(2) flags (x86_64 and aarch64 share these values).
export const O_RDONLY = fsConstants.O_RDONLY;
export const O_WRONLY = fsConstants.O_WRONLY;
export const O_CREAT = fsConstants.O_CREAT;
export const O_EXCL = fsConstants.O_EXCL;
export const O_TRUNC = fsConstants.O_TRUNC;
export const O_NONBLOCK = fsConstants.O_NONBLOCK;
export const O_NOCTTY = fsConstants.O_NOCTTY;
export const O_DIRECTORY = fsConstants.O_DIRECTORY;
export const O_NOFOLLOW = fsConstants.O_NOFOLLOW;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;

// openat2(2) resolve flags (linux/openat2.h).
const RESOLVE_NO_XDEV = 0x01;
const RESOLVE_NO_MAGICLINKS = 0x02;
const RESOLVE_NO_SYMLINKS = 0x04;
const RESOLVE_BENEATH = 0x08;
const RESOLVE_IN_ROOT = 0x10;

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_REMOVEDIR = 0x200;
const AT_EMPTY_PATH = 0x1000;
const ELOOP = 40;

export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

/** How paths resolve inside a tree: as the container sees them, or with no symlink at all. */
export type Resolve = 'in-root' | 'beneath';

/**
 * An open file descriptor inside a tree. Close it; nothing else does.
 *
 * @example
 * const h = openAt(root, 'etc/passwd');
 * try { if (h.stat().isFile()) use(h); } finally { h.close(); }
 */
export class Handle {
  #fd: number;
  /** The path shown in messages (host path of a root, or the path inside its tree). */
  readonly shown: string;
  constructor(fd: number, shown: string) {
    this.#fd = fd;
    this.shown = shown;
  }
  get fd(): number {
    if (this.#fd < 0) throw new EngineError('internal', 'ERR_SYSCALL', `Handle on ${JSON.stringify(this.shown)} used after close`);
    return this.#fd;
  }
  /** fstat of what was opened. */
  stat(): Stats {
    return fstatSync(this.fd);
  }
  /** fstat with exact (bigint) numbers: device and inode for identity checks, nanosecond times. */
  statBig(): BigIntStats {
    return fstatSync(this.fd, { bigint: true });
  }
  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }
}

/**
 * Runs `fn` with the handle and closes it afterwards.
 *
 * @example
 * await withHandle(openRoot(dir), (root) => walk(root, visit));
 */
export async function withHandle<T>(h: Handle, fn: (h: Handle) => Promise<T> | T): Promise<T> {
  try {
    return await fn(h);
  } finally {
    h.close();
  }
}

function resolveFlags(mode: Resolve, noXdev: boolean): number {
  const base = mode === 'in-root' ? RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS : RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return noXdev ? base | RESOLVE_NO_XDEV : base;
}

function openHow(flags: number, mode: number, resolve: number): Buffer {
  const how = Buffer.alloc(24);
  how.writeBigUInt64LE(BigInt(flags >>> 0), 0);
  how.writeBigUInt64LE(BigInt(mode), 8);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  return how;
}

/** A relative path for openat2: no leading slash (RESOLVE_BENEATH refuses absolute paths), '' is '.'. */
function relPath(p: PathArg): Buffer {
  let b = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
  let i = 0;
  while (i < b.length && b[i] === 0x2f) i++;
  b = b.subarray(i);
  return b.length === 0 ? Buffer.from('.') : b;
}

function shownOf(base: string, p: PathArg): string {
  const s = typeof p === 'string' ? p : p.toString('utf8');
  if (base === '' || base === '/') return s.startsWith('/') ? s : `/${s}`;
  return s === '' || s === '.' ? base : `${base.replace(/\/+$/, '')}/${s.replace(/^\/+/, '')}`;
}

export interface OpenOptions {
  /** open(2) flags; O_CLOEXEC is always added. Default O_PATH | O_NOFOLLOW. */
  flags?: number;
  /** Mode for O_CREAT. */
  mode?: number;
  /** Default 'beneath'. */
  resolve?: Resolve;
  /** Refuse to cross a mount point (RESOLVE_NO_XDEV). */
  noXdev?: boolean;
}

/**
 * Open a directory the daemon itself owns (no component of its path is writable by a
 * container: `<data-root>/containers/<id>/rootfs`, a volume's `_data`, `/`) as a tree root.
 *
 * @example
 * const root = openRoot('/var/lib/moat/containers/abc/rootfs');
 */
export function openRoot(path: string): Handle {
  // Its last component must be the directory itself, not a link to one.
  const fd = libc().openat2(AT_FDCWD, cPath(path), openHow(O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0, RESOLVE_NO_MAGICLINKS), 24);
  if (fd < 0) throw sysFail('open', path, lastErrno());
  return new Handle(fd, path);
}

/**
 * The root directory of a running process, as its mount namespace shows it (`/proc/PID/root`,
 * the one magic link followed on purpose): to reach what exists only in a container's
 * namespace (its tmpfs mounts). The pid may have been reused: check the handle is the tree
 * you expect (device and inode) before resolving anything in it.
 *
 * @example
 * const root = openProcessRoot(c.State.Pid);
 */
export function openProcessRoot(pid: number): Handle {
  if (!Number.isInteger(pid) || pid <= 0) throw new EngineError('internal', 'ERR_SYSCALL', `no process root for pid ${pid}`);
  const path = `/proc/${pid}/root`;
  const fd = libc().openat2(AT_FDCWD, cPath(path), openHow(O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0), 24);
  if (fd < 0) throw sysFail('open', path, lastErrno());
  return new Handle(fd, path);
}

/**
 * openat2 relative to `dir` (a root or any directory handle inside it).
 *
 * @example
 * const h = openAt(root, 'etc/passwd', { flags: O_PATH | O_NOFOLLOW, resolve: 'in-root' });
 */
export function openAt(dir: Handle, path: PathArg, o: OpenOptions = {}): Handle {
  const flags = (o.flags ?? O_PATH | O_NOFOLLOW) | O_CLOEXEC;
  const fd = libc().openat2(dir.fd, cPath(relPath(path)), openHow(flags, o.mode ?? 0, resolveFlags(o.resolve ?? 'beneath', o.noXdev === true)), 24);
  if (fd < 0) throw sysFail('openat2', shownOf(dir.shown, path), lastErrno());
  return new Handle(fd, shownOf(dir.shown, path));
}

/**
 * `openAt`, or undefined when the path does not exist (ENOENT).
 *
 * @example
 * const h = tryOpenAt(root, 'data'); // undefined when there is no 'data'
 */
export function tryOpenAt(dir: Handle, path: PathArg, o: OpenOptions = {}): Handle | undefined {
  try {
    return openAt(dir, path, o);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw err;
  }
}

export type Kind = 'dir' | 'file' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

/**
 * The kind of an fstat result.
 *
 * @example
 * kindOf(h.stat()) // 'symlink'
 */
export function kindOf(st: Stats): Kind {
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'socket';
}

/**
 * Open a regular file or directory handle (usually O_PATH) again for I/O: the same inode,
 * never whatever its name points to now. Anything else is refused: a device is never opened.
 *
 * @example
 * const io = reopen(h, O_RDONLY); // the inode h was opened on
 */
export function reopen(h: Handle, flags: number): Handle {
  const st = h.stat();
  if (st.isDirectory()) return openAt(h, '.', { flags: flags | O_DIRECTORY | O_NOFOLLOW });
  if (!st.isFile()) throw new EngineError('internal', 'ERR_SYSCALL', `Refusing to open ${JSON.stringify(h.shown)}: not a regular file or directory`);
  // The magic link of our own fd names exactly the opened inode; O_NOFOLLOW would refuse the link itself.
  const fd = openSync(`/proc/self/fd/${h.fd}`, flags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  return new Handle(fd, h.shown);
}

export interface DirEntry {
  /** The name as text (UTF-8; lossy for names that are not). */
  name: string;
  /** The name's bytes, for opening it. */
  raw: Buffer;
  /**
   * getdents64's d_type: what the name was when listed (DT_DIR, DT_REG, …; DT_UNKNOWN where the
   * filesystem does not say). A hint that may be stale by the time it is used, never a safety check.
   */
  type: number;
}

/** d_type values of getdents64 (dirent.h). */
export const DT_UNKNOWN = 0;
export const DT_DIR = 4;

/** Byte order, as `LC_ALL=C sort`: the same on every host. */
export function byteOrder(a: Buffer, b: Buffer): number {
  return Buffer.compare(a, b);
}

/**
 * The names in a directory (without `.` and `..`), in byte order, read from its fd.
 *
 * @example
 * for (const e of listDir(dir)) openAt(dir, e.raw);
 */
export function listDir(dir: Handle): DirEntry[] {
  return readEntries(reopen(dir, O_RDONLY), dir.shown).sort((a, b) => byteOrder(a.raw, b.raw));
}

// One scratch buffer for getdents64: the reads below are synchronous, so no two use it at once.
let direntBuf: Buffer | undefined;

/** The entries of the directory open for reading as `h` (closed here), in the kernel's order. */
function readEntries(h: Handle, shown: string): DirEntry[] {
  const out: DirEntry[] = [];
  try {
    const buf = (direntBuf ??= Buffer.allocUnsafe(64 * 1024));
    for (;;) {
      const n = libc().getdents64(h.fd, buf, buf.length);
      if (n < 0) throw sysFail('getdents64', shown, lastErrno());
      if (n === 0) break;
      for (let off = 0; off < n; ) {
        const reclen = buf.readUInt16LE(off + 16);
        const type = buf[off + 18] ?? DT_UNKNOWN;
        const start = off + 19;
        const end = buf.indexOf(0, start);
        const raw = Buffer.from(buf.subarray(start, end < 0 || end > off + reclen ? off + reclen : end));
        off += reclen;
        if (raw.length === 1 && raw[0] === 0x2e) continue;
        if (raw.length === 2 && raw[0] === 0x2e && raw[1] === 0x2e) continue;
        out.push({ name: raw.toString('utf8'), raw, type });
      }
    }
  } finally {
    h.close();
  }
  return out;
}

/**
 * The target of a symlink handle (opened O_PATH | O_NOFOLLOW).
 *
 * @example
 * readLink(openAt(dir, 'sh')).toString() // 'busybox'
 */
export function readLink(h: Handle): Buffer {
  const buf = Buffer.alloc(4096);
  const n = libc().readlinkat(h.fd, cPath(''), buf, buf.length);
  if (n < 0) throw sysFail('readlinkat', h.shown, lastErrno());
  return Buffer.from(buf.subarray(0, n));
}

/**
 * mkdirat(2): one directory named `name` in `dir`; EEXIST is an error (ERR_PATH_EXISTS).
 *
 * @example
 * makeDir(parent, 'etc', 0o755);
 */
export function makeDir(dir: Handle, name: PathArg, mode: number): void {
  if (libc().mkdirat(dir.fd, cPath(name), mode) !== 0) throw sysFail('mkdirat', shownOf(dir.shown, name), lastErrno());
}

/**
 * symlinkat(2): `name` in `dir` pointing to `target` (never followed here).
 *
 * @example
 * makeSymlink(parent, 'sh', 'busybox');
 */
export function makeSymlink(dir: Handle, name: PathArg, target: PathArg): void {
  if (libc().symlinkat(cPath(target), dir.fd, cPath(name)) !== 0) throw sysFail('symlinkat', shownOf(dir.shown, name), lastErrno());
}

/**
 * mknodat(2): a device or FIFO (`mode` includes S_IFCHR / S_IFBLK / S_IFIFO).
 *
 * @example
 * makeNode(parent, 'null', S_IFCHR | 0o666, makedev(1, 3));
 */
export function makeNode(dir: Handle, name: PathArg, mode: number, dev: bigint): void {
  if (libc().mknodat(dir.fd, cPath(name), mode, dev) !== 0) throw sysFail('mknodat', shownOf(dir.shown, name), lastErrno());
}

/**
 * linkat(2) from an open handle (AT_EMPTY_PATH): a hard link to exactly that inode.
 *
 * @example
 * makeLink(openAt(root, 'bin/busybox'), binDir, 'sh');
 */
export function makeLink(from: Handle, dir: Handle, name: PathArg): void {
  if (libc().linkat(from.fd, cPath(''), dir.fd, cPath(name), AT_EMPTY_PATH) !== 0) throw sysFail('linkat', shownOf(dir.shown, name), lastErrno());
}

/**
 * unlinkat(2) of one name in `dir` (a directory must be empty).
 *
 * @example
 * unlinkAt(parent, 'old', { dir: true });
 */
export function unlinkAt(dir: Handle, name: PathArg, o: { dir?: boolean } = {}): void {
  if (libc().unlinkat(dir.fd, cPath(name), o.dir === true ? AT_REMOVEDIR : 0) !== 0) throw sysFail('unlinkat', shownOf(dir.shown, name), lastErrno());
}

/**
 * chown what the handle refers to (a symlink itself, not its target).
 *
 * @example
 * setOwner(h, 0, 0);
 */
export function setOwner(h: Handle, uid: number, gid: number): void {
  if (libc().fchownat(h.fd, cPath(''), uid >>> 0, gid >>> 0, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) !== 0) throw sysFail('fchownat', h.shown, lastErrno());
}

/**
 * chmod what the handle refers to (not a symlink: Linux symlinks have no mode).
 *
 * @example
 * setMode(h, 0o4755);
 */
export function setMode(h: Handle, mode: number): void {
  try {
    chmodSync(`/proc/self/fd/${h.fd}`, mode & 0o7777);
  } catch (err) {
    throw sysFail('chmod', h.shown, -((err as NodeJS.ErrnoException).errno ?? -5));
  }
}

/**
 * Access and modification times (a Date, or nanoseconds since the epoch) of what the handle refers to (a symlink itself too).
 *
 * @example
 * setTimes(h, new Date(0), new Date(0));
 */
export function setTimes(h: Handle, atime: Date | bigint, mtime: Date | bigint): void {
  const ts = Buffer.alloc(32);
  for (const [i, d] of [atime, mtime].entries()) {
    const ns = typeof d === 'bigint' ? d : BigInt(d.getTime()) * 1_000_000n;
    ts.writeBigInt64LE(ns / 1_000_000_000n, i * 16);
    ts.writeBigInt64LE(ns % 1_000_000_000n, i * 16 + 8);
  }
  if (libc().utimensat(h.fd, cPath(''), ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) !== 0) throw sysFail('utimensat', h.shown, lastErrno());
}

/**
 * An extended attribute of a regular file or directory; undefined when it has none.
 *
 * @example
 * getXattr(dir, 'trusted.overlay.opaque')?.toString() // 'y'
 */
export function getXattr(h: Handle, name: string): Buffer | undefined {
  const io = reopen(h, O_RDONLY);
  try {
    const buf = Buffer.alloc(4096);
    const n = libc().fgetxattr(io.fd, name, buf, buf.length);
    if (n >= 0) return Buffer.from(buf.subarray(0, n));
    const e = lastErrno();
    const code = errnoName(e);
    if (code === 'ENODATA' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') return undefined;
    throw sysFail('fgetxattr', h.shown, e);
  } finally {
    io.close();
  }
}

/**
 * Set an extended attribute on a regular file or directory.
 *
 * @example
 * setXattr(dir, 'trusted.overlay.opaque', 'y');
 */
export function setXattr(h: Handle, name: string, value: string): void {
  const io = reopen(h, O_RDONLY);
  try {
    const buf = Buffer.from(value);
    if (libc().fsetxattr(io.fd, name, buf, buf.length, 0) !== 0) throw sysFail('fsetxattr', h.shown, lastErrno());
  } finally {
    io.close();
  }
}

// ---- composite operations -----------------------------------------------------------------

/**
 * The contents of a regular file at `path` inside the tree, or undefined when there is
 * none there, it is not a regular file, or it is larger than `maxBytes`.
 *
 * @example
 * const passwd = readFileAt(rootfs, '/etc/passwd', { resolve: 'in-root' });
 */
export function readFileAt(root: Handle, path: PathArg, o: { resolve?: Resolve; maxBytes?: number } = {}): Buffer | undefined {
  let h: Handle | undefined;
  try {
    // In the root, a trailing symlink is followed as the container would; beneath, never.
    h = openAt(root, path, { flags: o.resolve === 'in-root' ? O_PATH : O_PATH | O_NOFOLLOW, resolve: o.resolve ?? 'beneath' });
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'EXDEV') return undefined;
    throw err;
  }
  try {
    const st = h.stat();
    if (!st.isFile() || st.size > (o.maxBytes ?? 1 << 20)) return undefined;
    const io = reopen(h, O_RDONLY);
    try {
      const max = o.maxBytes ?? 1 << 20;
      const buf = Buffer.alloc(Math.min(max, st.size) + 1);
      let n = 0;
      for (;;) {
        const got = readSync(io.fd, buf, n, buf.length - n, null);
        if (got === 0) break;
        n += got;
        if (n > max) return undefined;
        if (n === buf.length) break;
      }
      return buf.subarray(0, n);
    } finally {
      io.close();
    }
  } finally {
    h.close();
  }
}

/**
 * `mkdir -p` inside the tree; returns an O_PATH handle on the directory. With 'in-root'
 * symlinks resolve as in the container (a dangling one is created at its target, as
 * runc's MkdirAllInRoot does); with 'beneath' a symlink anywhere is refused
 * (ERR_UNSAFE_PATH). Existing directories are kept as they are.
 *
 * @example
 * mkdirAll(rootfs, '/app/work', { resolve: 'in-root' }).close();
 */
export function mkdirAll(root: Handle, path: string, o: { mode?: number; resolve?: Resolve } = {}): Handle {
  const mode = o.mode ?? 0o755;
  const resolve = o.resolve ?? 'beneath';
  let pending = path.split('/').filter((p) => p !== '' && p !== '.');
  let done: string[] = [];
  let links = 0;
  let cur = openAt(root, '.', { flags: O_PATH | O_DIRECTORY, resolve });
  try {
    while (pending.length > 0) {
      const part = pending.shift()!;
      // Each step resolves the whole prefix again from the root: symlinks and `..` are the kernel's job.
      const rel = [...done, part].join('/');
      let next = tryOpenAt(root, rel, { flags: O_PATH | O_DIRECTORY, resolve });
      if (next === undefined && resolve === 'in-root') {
        const link = tryOpenAt(root, rel, { resolve });
        const target = link !== undefined && link.stat().isSymbolicLink() ? readLink(link).toString('utf8') : undefined;
        link?.close();
        if (target !== undefined) {
          if (++links > 40) throw sysFail('mkdir', shownOf(root.shown, path), ELOOP);
          // A dangling symlink: continue at its target, relative to the root or to its directory.
          const t = target.split('/').filter((p) => p !== '' && p !== '.');
          if (target.startsWith('/')) {
            done = [];
            cur.close();
            cur = openAt(root, '.', { flags: O_PATH | O_DIRECTORY, resolve });
          }
          pending = [...t, ...pending];
          continue;
        }
      }
      if (next === undefined) {
        try {
          makeDir(cur, part, mode);
        } catch (err) {
          if (errnoOf(err) !== 'EEXIST') throw err;
        }
        next = openAt(root, rel, { flags: O_PATH | O_DIRECTORY, resolve });
      }
      cur.close();
      cur = next;
      done.push(part);
    }
    return cur;
  } catch (err) {
    cur.close();
    throw err;
  }
}

/**
 * Remove `name` in `dir` and everything below it, never following a symlink and never
 * entering a mount point (a bind mount below is refused with ERR_UNSAFE_PATH, so nothing
 * of the mounted tree is removed). A name that is already gone is fine.
 *
 * @example
 * await removeTree(volumesDir, 'old-volume');
 */
export async function removeTree(dir: Handle, name: PathArg): Promise<void> {
  const pause = yielder();
  const remove = async (parent: Handle, n: PathArg, listedAs = DT_UNKNOWN): Promise<void> => {
    await pause();
    // A name listed as not a directory is unlinked at once: unlinkat(2) without AT_REMOVEDIR
    // acts on the name itself (a symlink goes, its target is never looked at). That saves an
    // open, fstat and close per file, most of a container directory's removal (issue 18).
    // What became a directory since (EISDIR) or is a mount point here (EBUSY) takes the full
    // path below, which refuses the mount point as before.
    if (listedAs !== DT_UNKNOWN && listedAs !== DT_DIR) {
      try {
        unlinkAt(parent, n);
        return;
      } catch (err) {
        const code = errnoOf(err);
        if (code === 'ENOENT') return;
        if (code !== 'EISDIR' && code !== 'EBUSY') throw err;
      }
    }
    const h = tryOpenAt(parent, n, { noXdev: true });
    if (h === undefined) return;
    let isDir: boolean;
    try {
      isDir = h.stat().isDirectory();
      // Opened as the directory it is (no reopen's second fstat); the kernel's order will do.
      if (isDir) for (const e of readEntries(openAt(h, '.', { flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW }), h.shown)) await remove(h, e.raw, e.type);
    } finally {
      h.close();
    }
    try {
      unlinkAt(parent, n, { dir: isDir });
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw err;
    }
  };
  await remove(dir, name);
}

/**
 * Remove a whole tree given by a daemon-owned host path (its parent must be daemon-owned too).
 *
 * @example
 * await removePath('/var/lib/moat/containers/abc');
 */
export async function removePath(path: string): Promise<void> {
  const i = path.replace(/\/+$/, '').lastIndexOf('/');
  const parent = openRoot(i <= 0 ? '/' : path.slice(0, i));
  try {
    await removeTree(parent, path.slice(i + 1));
  } finally {
    parent.close();
  }
}

export interface WalkEntry {
  /** Path relative to the walk's root, '/'-separated, no leading '/'. */
  path: string;
  name: DirEntry;
  /** O_PATH | O_NOFOLLOW handle, valid during the visit only. */
  handle: Handle;
  /** fstat of `handle`. */
  stat: Stats;
}

export interface WalkOptions {
  /** Skip mount points (RESOLVE_NO_XDEV). */
  noXdev?: boolean;
  /**
   * A new handle to visit instead of the entry at this path (relative to the walk's root),
   * e.g. the root of what a container has mounted there; the walk closes it.
   */
  graft?: (path: string) => Handle | undefined;
}

/**
 * Visit every entry below `root` depth first, names in byte order, each opened relative to
 * its parent's fd with no symlink followed (a symlink is visited as itself). An entry that
 * vanishes between listing and opening is skipped; so is a mount point when `noXdev`.
 * Return false from `visit` to not descend into a directory.
 *
 * @example
 * await walk(root, ({ stat }) => { if (stat.isFile()) total += stat.size; });
 */
export async function walk(root: Handle, visit: (e: WalkEntry) => Promise<boolean | void> | boolean | void, o: WalkOptions = {}): Promise<void> {
  const pause = yielder();
  const walkDir = async (dir: Handle, rel: string): Promise<void> => {
    for (const name of listDir(dir)) {
      await pause();
      let h: Handle | undefined;
      try {
        h = o.graft?.(rel === '' ? name.name : `${rel}/${name.name}`) ?? openAt(dir, name.raw, { noXdev: o.noXdev === true });
      } catch (err) {
        const code = errnoOf(err);
        if (code === 'ENOENT' || (code === 'EXDEV' && o.noXdev === true)) continue;
        throw err;
      }
      try {
        const stat = h.stat();
        const path = rel === '' ? name.name : `${rel}/${name.name}`;
        const descend = await visit({ path, name, handle: h, stat });
        if (stat.isDirectory() && descend !== false) await walkDir(h, path);
      } finally {
        h.close();
      }
    }
  };
  await walkDir(root, '');
}

/**
 * Read up to `size` bytes from an open file into `sink`; a file that shrank is padded with zeros.
 *
 * @example
 * await readExactly(io, st.size, (chunk) => sink.write(chunk));
 */
export async function readExactly(io: Handle, size: number, sink: (chunk: Buffer) => Promise<void> | void): Promise<void> {
  let pos = 0;
  while (pos < size) {
    const buf = Buffer.alloc(Math.min(256 * 1024, size - pos));
    let { bytesRead } = await readAsync(io.fd, buf, 0, buf.length, pos);
    if (bytesRead === 0) bytesRead = buf.length; // shrank while read: zeros keep the header's size true
    await sink(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
}

/**
 * Write all of `data` at the handle's current offset.
 *
 * @example
 * await writeAll(out, Buffer.from('data'));
 */
export async function writeAll(io: Handle, data: Buffer): Promise<void> {
  for (let off = 0; off < data.length; ) {
    const { bytesWritten } = await writeAsync(io.fd, data, off, data.length - off);
    off += bytesWritten;
  }
}

/** What `copyTree` did: entries copied, and why it stopped early (undefined when it did not). */
export interface CopyResult {
  entries: number;
  stopped?: string;
}

/**
 * Copy the directory `src` (contents, owners, modes, times, hard links inside it, symlinks
 * as symlinks, devices and FIFOs as nodes; sockets skipped) into the directory `dst`, like
 * `cp -a src/. dst`. Every destination entry is created with O_EXCL / mkdirat / symlinkat /
 * mknodat in its parent's fd: nothing in `dst` is ever followed or overwritten. When a name
 * already exists in `dst` (someone else is writing it) the copy stops there and says so.
 *
 * @example
 * const r = await copyTree(mountPoint, volumeRoot); // r.stopped: why it stopped early
 */
export async function copyTree(src: Handle, dst: Handle): Promise<CopyResult> {
  const result: CopyResult = { entries: 0 };
  const links = new Map<string, Handle>(); // first copy of each multiply-linked inode
  const MAX_LINK_HANDLES = 512;
  const copyDir = async (from: Handle, to: Handle): Promise<void> => {
    for (const name of listDir(from)) {
      const h = tryOpenAt(from, name.raw);
      if (h === undefined) continue;
      try {
        const st = h.stat();
        const ns = h.statBig();
        const kind = kindOf(st);
        if (kind === 'socket') continue;
        let made: Handle;
        if (kind === 'dir') {
          makeDir(to, name.raw, 0o700);
          made = openAt(to, name.raw, { flags: O_PATH | O_DIRECTORY | O_NOFOLLOW });
          try {
            await copyDir(h, made);
            setOwner(made, st.uid, st.gid);
            setMode(made, st.mode);
            setTimes(made, ns.atimeNs, ns.mtimeNs);
          } finally {
            made.close();
          }
          result.entries++;
          continue;
        }
        const key = st.nlink > 1 ? `${ns.dev}:${ns.ino}` : '';
        const first = key === '' ? undefined : links.get(key);
        if (first !== undefined) {
          makeLink(first, to, name.raw);
          result.entries++;
          continue;
        }
        if (kind === 'file') {
          // Owner, mode and times go on the fd that O_EXCL created: ours, whatever the name holds now.
          const out = openAt(to, name.raw, { flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600 });
          try {
            const io = reopen(h, O_RDONLY);
            try {
              await readExactly(io, st.size, (chunk) => writeAll(out, chunk));
            } finally {
              io.close();
            }
            setOwner(out, st.uid, st.gid);
            setMode(out, st.mode);
            setTimes(out, ns.atimeNs, ns.mtimeNs);
          } catch (err) {
            out.close();
            throw err;
          }
          if (key !== '' && links.size < MAX_LINK_HANDLES) links.set(key, out);
          else out.close();
          result.entries++;
          continue;
        }
        if (kind === 'symlink') {
          makeSymlink(to, name.raw, readLink(h));
        } else {
          const type = kind === 'char' ? S_IFCHR : kind === 'block' ? S_IFBLK : S_IFIFO;
          makeNode(to, name.raw, type | (st.mode & 0o7777), BigInt(st.rdev));
        }
        made = openAt(to, name.raw);
        const mk = made.stat();
        if (kindOf(mk) !== kind) {
          made.close();
          throw new EngineError('conflict', 'ERR_PATH_EXISTS', `Copy into ${JSON.stringify(to.shown)} stopped: ${JSON.stringify(name.name)} was replaced while it was copied`);
        }
        setOwner(made, st.uid, st.gid);
        if (kind !== 'symlink') setMode(made, st.mode);
        setTimes(made, ns.atimeNs, ns.mtimeNs);
        if (key !== '' && links.size < MAX_LINK_HANDLES) links.set(key, made);
        else made.close();
        result.entries++;
      } finally {
        h.close();
      }
    }
  };
  try {
    await copyDir(src, dst);
  } catch (err) {
    // Another writer changed the destination under the copy: stop, never follow or overwrite.
    const code = errnoOf(err);
    const raced = err instanceof EngineError && (err.code === 'ERR_PATH_EXISTS' || code === 'ELOOP' || code === 'EXDEV' || code === 'ENOENT' || code === 'ENOTDIR');
    if (!raced) throw err;
    result.stopped = err.message;
  } finally {
    for (const h of links.values()) h.close();
  }
  return result;
}
