/**
 * Tar a directory tree (`docker export`, layers made from a directory, `docker commit` from
 * an overlay upper dir) and list an upper dir's changes (`docker diff`).
 */
import { lstat, readdir, readlink, open } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { internal } from '../base/index.js';
import { devMajor, devMinor, lgetxattrSync, type IdShift } from './layer.js';

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
}

type HeaderArg = Partial<tar.Header> & Pick<tar.Header, 'name'>;

function isWhiteoutDevice(st: Stats): boolean {
  return st.isCharacterDevice() && devMajor(st.rdev) === 0 && devMinor(st.rdev) === 0;
}

function isOpaque(path: string): boolean {
  const v = lgetxattrSync(path, 'trusted.overlay.opaque');
  return v !== undefined && v.toString() === 'y';
}

/** Byte order, as `LC_ALL=C sort`: the same on every host. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

async function writeEntry(pack: tar.Pack, header: HeaderArg, content?: Buffer | Readable): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    if (content === undefined || Buffer.isBuffer(content)) {
      pack.entry(header, content ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
      return;
    }
    const sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
    // A destroyed pack (the client hung up) destroys the entry with an error: without a
    // listener that error would end the process.
    sink.on('error', reject);
    content.on('error', (err) => {
      sink.destroy(err);
      reject(err);
    });
    content.on('data', (chunk: Buffer) => {
      if (!sink.write(chunk)) content.pause();
    });
    sink.on('drain', () => content.resume());
    content.on('end', () => void sink.end(undefined));
  });
}

/**
 * A tar stream of the tree under `dir` (paths relative, directories ending in `/`, the root
 * itself not included). Entries come in byte order of their names, depth first, with mode,
 * uid/gid, mtime (seconds), symlink targets, hardlinks (later names of an inode become
 * `link` entries to the first) and device numbers; uname/gname are left empty and atime is
 * not recorded, so the same tree gives the same bytes. Sockets are skipped. A walk error
 * destroys the stream with an EngineError `internal`.
 *
 * @example
 * await store.addLayer(exportTree('/tmp/rootfs'));
 */
export function exportTree(dir: string, opts: ExportTreeOptions = {}): Readable {
  const pack = tar.pack();
  const links = new Map<string, string>();

  const header = (name: string, st: Stats): HeaderArg => ({
    name,
    mode: st.mode & 0o7777,
    uid: Math.max(0, st.uid - (opts.unshift?.uid ?? 0)),
    gid: Math.max(0, st.gid - (opts.unshift?.gid ?? 0)),
    mtime: new Date(Math.floor(st.mtimeMs / 1000) * 1000),
    uname: '',
    gname: '',
  });

  const walk = async (abs: string, rel: string): Promise<void> => {
    const names = (await readdir(abs)).sort(byteOrder);
    for (const name of names) {
      const path = join(abs, name);
      const relName = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(path);
      if (opts.overlayWhiteouts && isWhiteoutDevice(st)) {
        const wh = rel === '' ? `.wh.${name}` : `${rel}/.wh.${name}`;
        await writeEntry(pack, { ...header(wh, st), type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0 });
        continue;
      }
      if (st.isDirectory()) {
        await writeEntry(pack, { ...header(`${relName}/`, st), type: 'directory' });
        if (opts.overlayWhiteouts && isOpaque(path)) {
          await writeEntry(pack, { ...header(`${relName}/.wh..wh..opq`, st), type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0 });
        }
        await walk(path, relName);
      } else if (st.isSymbolicLink()) {
        await writeEntry(pack, { ...header(relName, st), type: 'symlink', linkname: await readlink(path) });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? links.get(key) : undefined;
        if (first !== undefined) {
          await writeEntry(pack, { ...header(relName, st), type: 'link', linkname: first });
          continue;
        }
        if (st.nlink > 1) links.set(key, relName);
        const fh = await open(path, 'r');
        try {
          // The size is fixed in the header: read exactly that much even if the file changes.
          const stream = fh.createReadStream({ start: 0, end: Math.max(0, st.size - 1), autoClose: false });
          await writeEntry(pack, { ...header(relName, st), type: 'file', size: st.size }, st.size === 0 ? undefined : stream);
        } finally {
          await fh.close();
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
    }
  };

  walk(dir, '').then(
    () => pack.finalize(),
    (err: unknown) => pack.destroy(internal(`Cannot export ${dir}: ${(err as Error).message}`, { cause: err })),
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
 * deleted path is reported as Modified. Lower dirs are looked up with lstat (no symlink is
 * followed).
 *
 * @example
 * await diffTree('/var/lib/moat/containers/abc/upper', layerDirs)
 * // [{ Path: '/etc', Kind: 0 }, { Path: '/etc/motd', Kind: 1 }, { Path: '/tmp/x', Kind: 2 }]
 */
export async function diffTree(upperDir: string, lowerDirs: readonly string[]): Promise<Change[]> {
  const changes = new Map<string, Change['Kind']>();
  const inLower = async (rel: string): Promise<Stats | undefined> => {
    for (const lower of lowerDirs) {
      try {
        return await lstat(join(lower, rel));
      } catch {
        /* not in this one */
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
  const walk = async (abs: string, rel: string): Promise<void> => {
    for (const name of (await readdir(abs)).sort(byteOrder)) {
      const path = join(abs, name);
      const relName = `${rel}/${name}`;
      const st = await lstat(path);
      if (isWhiteoutDevice(st) || (st.isDirectory() && isOpaque(path))) {
        changes.set(relName, CHANGE_DELETED);
        markParent(relName);
        if (st.isDirectory()) await walk(path, relName);
        continue;
      }
      const low = await inLower(relName);
      if (low === undefined) {
        changes.set(relName, CHANGE_ADDED);
        markParent(relName);
      } else if (
        !(st.isDirectory() && low.isDirectory() && st.mode === low.mode && st.size === low.size && Math.floor(st.mtimeMs) === Math.floor(low.mtimeMs))
      ) {
        changes.set(relName, CHANGE_MODIFIED);
      }
      if (st.isDirectory()) await walk(path, relName);
    }
  };
  await walk(upperDir, '');
  return [...changes.entries()].map(([Path, Kind]) => ({ Path, Kind })).sort((a, b) => byteOrder(a.Path, b.Path));
}
