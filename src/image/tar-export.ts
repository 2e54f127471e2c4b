/**
 * Tar a directory tree (`docker export`, layers made from a directory, `docker commit` from
 * an overlay upper dir) and list an upper dir's changes (`docker diff`).
 *
 * These trees belong to containers, which may be running and rewriting them while they are
 * read: the walk goes through src/sys, each entry opened from its parent's fd with no
 * symlink followed and described by fstat of what was opened, so a directory swapped for
 * a symlink (RENAME_EXCHANGE) never leads the walk out of the tree.
 */
import type { Stats } from 'node:fs';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { EngineError, internal } from '../base/index.js';
import { openRoot, openAt, walk, reopen, readLink, readExactly, getXattr, errnoOf, O_RDONLY, type Handle } from '../sys/index.js';
import { devMajor, devMinor, type IdShift } from './layer.js';

export interface ExportTreeOptions {
  /**
   * Treat `dir` as an overlayfs upper dir: a char device 0:0 becomes an OCI whiteout
   * `.wh.NAME` and a directory with trusted.overlay.opaque=y gets a `.wh..wh..opq` entry.
   * Default false (a plain tree: devices are exported as devices).
   */
  overlayWhiteouts?: boolean;
  /**
   * Subtract this from every owner (userns remap: a tree owned by host ids 100000+ exported
   * with container ids, for `docker export` of a remapped container). Owners below the
   * shift are written as 0 (as Docker writes ids outside the map).
   */
  unshift?: IdShift;
  /** Leave out the entry at this path (relative, no leading '/') and, for a directory, all below it. */
  exclude?: (path: string) => boolean;
  /** Walk this directory handle (the caller's; not closed) instead of opening `dir`. */
  root?: Handle;
  /** Name the root `prefix` (one entry for it) and everything under it `prefix/…` (docker cp). */
  prefix?: string;
  /** A new handle to export instead of the entry at this path (relative, no leading '/'): what a container mounted there (docker cp). */
  graft?: (path: string) => Handle | undefined;
}

type HeaderArg = Partial<tar.Header> & Pick<tar.Header, 'name'>;

function isWhiteoutDevice(st: Stats): boolean {
  return st.isCharacterDevice() && devMajor(st.rdev) === 0 && devMinor(st.rdev) === 0;
}

function isOpaque(dir: Handle): boolean {
  const v = getXattr(dir, 'trusted.overlay.opaque');
  return v !== undefined && v.toString() === 'y';
}

/** Byte order, as `LC_ALL=C sort`: the same on every host. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

async function writeEntry(pack: tar.Pack, header: HeaderArg, content?: Buffer): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    pack.entry(header, content ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
  });
}

/** A file entry whose data comes from an open file: exactly `size` bytes, even if the file changes meanwhile. */
async function writeFileEntry(pack: tar.Pack, header: HeaderArg, io: Handle, size: number): Promise<void> {
  let sink: ReturnType<tar.Pack['entry']> | undefined;
  const done = new Promise<void>((resolve, reject) => {
    sink = pack.entry({ ...header, size }, (err) => (err ? reject(err) : resolve()));
  });
  // Awaited at the end; when writing fails first (the client hung up and the pack was
  // destroyed) the entry's callback still rejects it, which must not go unhandled.
  done.catch(() => undefined);
  const s = sink!;
  const failed = new Promise<never>((_resolve, reject) => s.once('error', reject));
  failed.catch(() => undefined);
  await Promise.race([
    readExactly(io, size, async (chunk) => {
      if (!s.write(chunk)) await Promise.race([once(s, 'drain'), failed]);
    }),
    failed,
  ]);
  s.end(undefined);
  await done;
}

/**
 * A tar stream of the tree under `dir` (paths relative, directories ending in `/`, the root
 * itself not included). Entries come in byte order of their names, depth first, with mode,
 * uid/gid, mtime (seconds), symlink targets, hardlinks (later names of an inode become
 * `link` entries to the first) and device numbers; uname/gname are left empty and atime is
 * not recorded, so the same tree gives the same bytes. Sockets are skipped; so are entries
 * that vanish while the walk runs and mount points below `dir`. A file's data is exactly
 * the size its header says (a file that shrinks meanwhile is padded with zeros). A walk
 * error destroys the stream with an EngineError `internal`.
 *
 * @example
 * await store.addLayer(exportTree('/tmp/rootfs'));
 */
export function exportTree(dir: string, opts: ExportTreeOptions = {}): Readable {
  const pack = tar.pack();
  const links = new Map<string, string>();

  const prefix = opts.prefix === undefined || opts.prefix === '' ? '' : `${opts.prefix.replace(/\/+$/, '')}/`;
  const header = (name: string, st: Stats): HeaderArg => ({
    name: prefix + name,
    mode: st.mode & 0o7777,
    uid: Math.max(0, st.uid - (opts.unshift?.uid ?? 0)),
    gid: Math.max(0, st.gid - (opts.unshift?.gid ?? 0)),
    mtime: new Date(Math.floor(st.mtimeMs / 1000) * 1000),
    uname: '',
    gname: '',
  });

  const run = async (): Promise<void> => {
    const root = opts.root ?? openRoot(dir);
    try {
      if (prefix !== '') await writeEntry(pack, { ...header('', root.stat()), type: 'directory' });
      await walk(
        root,
        async ({ path: relName, name, handle, stat: st }) => {
          if (opts.exclude?.(relName) === true) return false;
          const slash = relName.lastIndexOf('/');
          const rel = slash < 0 ? '' : relName.slice(0, slash);
          if (opts.overlayWhiteouts && name.name.startsWith('.wh.') && !isWhiteoutDevice(st)) {
            // In a layer this name would be a whiteout that hides a file of the layers below.
            throw new EngineError('invalid', 'ERR_LAYER_WHITEOUT_NAME', `cannot store ${JSON.stringify(`/${relName}`)} in an image layer: a name starting with .wh. marks a deleted file (an OCI whiteout); rename or remove it first`);
          }
          if (opts.overlayWhiteouts && isWhiteoutDevice(st)) {
            const wh = rel === '' ? `.wh.${name.name}` : `${rel}/.wh.${name.name}`;
            await writeEntry(pack, { ...header(wh, st), type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0 });
          } else if (st.isDirectory()) {
            await writeEntry(pack, { ...header(`${relName}/`, st), type: 'directory' });
            if (opts.overlayWhiteouts && isOpaque(handle)) {
              await writeEntry(pack, { ...header(`${relName}/.wh..wh..opq`, st), type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0 });
            }
          } else if (st.isSymbolicLink()) {
            await writeEntry(pack, { ...header(relName, st), type: 'symlink', linkname: readLink(handle).toString('utf8') });
          } else if (st.isFile()) {
            const id = st.nlink > 1 ? handle.statBig() : undefined;
            const key = id === undefined ? '' : `${id.dev}:${id.ino}`;
            const first = key === '' ? undefined : links.get(key);
            if (first !== undefined) {
              await writeEntry(pack, { ...header(relName, st), type: 'link', linkname: first });
              return;
            }
            if (key !== '') links.set(key, relName);
            if (st.size === 0) {
              await writeEntry(pack, { ...header(relName, st), type: 'file', size: 0 });
              return;
            }
            // Read the inode that was opened (not whatever the name holds by now).
            const io = reopen(handle, O_RDONLY);
            try {
              await writeFileEntry(pack, { ...header(relName, st), type: 'file' }, io, st.size);
            } finally {
              io.close();
            }
          } else if (st.isCharacterDevice() || st.isBlockDevice()) {
            await writeEntry(pack, {
              ...header(relName, st),
              type: st.isCharacterDevice() ? 'character-device' : 'block-device',
              devmajor: devMajor(st.rdev),
              devminor: devMinor(st.rdev),
            });
          } else if (st.isFIFO()) {
            await writeEntry(pack, { ...header(relName, st), type: 'fifo' });
          }
          // sockets: not representable in tar, skipped (as GNU tar and moby do)
        },
        opts.graft === undefined ? { noXdev: true } : { noXdev: true, graft: opts.graft },
      );
    } finally {
      if (opts.root === undefined) root.close();
    }
  };

  run().then(
    () => pack.finalize(),
    (err: unknown) => pack.destroy(err instanceof EngineError && err.code === 'ERR_LAYER_WHITEOUT_NAME' ? err : internal(`Cannot export ${dir}: ${(err as Error).message}`, { cause: err })),
  );
  return Readable.from(pack, { objectMode: false });
}

/** Docker's change kinds (`GET /containers/{id}/changes`). */
export const CHANGE_MODIFIED = 0;
export const CHANGE_ADDED = 1;
export const CHANGE_DELETED = 2;

export interface Change {
  Path: string;
  Kind: 0 | 1 | 2;
}

/**
 * The changes an overlay upper dir makes over its lower dirs (highest first or any order:
 * a path present in any lower counts as existing), as `docker diff` shows them, sorted by
 * path. Follows moby `pkg/archive/changes.go` with its overlay rules: a whiteout (char
 * device 0:0) or an opaque directory is Deleted; a path that exists in a lower dir is
 * Modified, except directories whose mode, size and mtime are unchanged (copied up only
 * because something inside changed); anything else is Added; the parent of an added or
 * deleted path is reported as Modified. The upper dir is walked and the lower dirs are
 * looked up through src/sys, from their roots' fds with no symlink followed (a path that
 * goes through a symlink in a lower dir is not in it).
 *
 * @example
 * await diffTree('/var/lib/moat/containers/abc/upper', layerDirs)
 * // [{ Path: '/etc', Kind: 0 }, { Path: '/etc/motd', Kind: 1 }, { Path: '/tmp/x', Kind: 2 }]
 */
export async function diffTree(upperDir: string, lowerDirs: readonly string[]): Promise<Change[]> {
  const changes = new Map<string, Change['Kind']>();
  const lowers: Handle[] = [];
  /** The entry at `rel` in the first lower dir that has one (no symlink followed on the way). */
  const inLower = (rel: string): Stats | undefined => {
    for (const lower of lowers) {
      let h: Handle;
      try {
        h = openAt(lower, rel);
      } catch (err) {
        const code = errnoOf(err);
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'EXDEV') continue;
        throw err;
      }
      try {
        return h.stat();
      } finally {
        h.close();
      }
    }
    return undefined;
  };
  const markParent = (rel: string): void => {
    const i = rel.lastIndexOf('/');
    if (i <= 0) return; // the parent is the root
    const parent = rel.slice(0, i);
    if (!changes.has(parent)) changes.set(parent, CHANGE_MODIFIED);
  };
  const upper = openRoot(upperDir);
  try {
    for (const dir of lowerDirs) lowers.push(openRoot(dir));
    await walk(
      upper,
      ({ path, handle, stat: st }) => {
        const relName = `/${path}`;
        if (isWhiteoutDevice(st) || (st.isDirectory() && isOpaque(handle))) {
          changes.set(relName, CHANGE_DELETED);
          markParent(relName);
          return;
        }
        const low = inLower(relName);
        if (low === undefined) {
          changes.set(relName, CHANGE_ADDED);
          markParent(relName);
        } else if (
          !(st.isDirectory() && low.isDirectory() && st.mode === low.mode && st.size === low.size && Math.floor(st.mtimeMs) === Math.floor(low.mtimeMs))
        ) {
          changes.set(relName, CHANGE_MODIFIED);
        }
      },
      { noXdev: true },
    );
  } finally {
    upper.close();
    for (const l of lowers) l.close();
  }
  return [...changes.entries()].map(([Path, Kind]) => ({ Path, Kind })).sort((a, b) => byteOrder(a.Path, b.Path));
}
