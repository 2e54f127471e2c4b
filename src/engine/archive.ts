// docker cp out of and into a container (HEAD, GET and PUT /containers/{id}/archive), on the
// container's files as it sees them: the rootfs with the volumes, binds and tmpfs mounts of
// its plan over it (container-view.ts resolves a path through them, one openat2 component at
// a time, symlinks resolved against the container's `/`, never the host's). Docker's rule
// for the last component: followed when the path ends in `/` or `/.`, else the entry itself
// (a symlink is copied as a symlink). A directory archive includes what is mounted below it.
// PUT follows the destination's last component too, refuses a read-only mount or rootfs with
// Docker's words, and extracts the tar relative to that directory's handle through src/image's
// safe extractor, stepping into mounts below it the same way.
import type { Stats } from 'node:fs';
import { once } from 'node:events';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { EngineError, invalid } from '../base/index.js';
import { exportTree, extractArchiveAt, type IdShift } from '../image/index.js';
import { readExactly, readLink, reopen, O_RDONLY, type Handle } from '../sys/index.js';
import { isMissing, mountHolding, readOnlyError, resolveInView, type ContainerView, type ViewMount } from './container-view.js';

/** `X-Docker-Container-Path-Stat`, as moby's `container.PathStat` (mode is a Go os.FileMode). */
export interface ContainerPathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

// Go's os.FileMode type bits.
const GO_DIR = 2 ** 31;
const GO_SYMLINK = 2 ** 27;
const GO_DEVICE = 2 ** 26;
const GO_PIPE = 2 ** 25;
const GO_SOCKET = 2 ** 24;
const GO_SETUID = 2 ** 23;
const GO_SETGID = 2 ** 22;
const GO_CHARDEV = 2 ** 21;
const GO_STICKY = 2 ** 20;

/**
 * A Unix mode as Go's os.FileMode (what the docker CLI decodes).
 *
 * @example
 * goFileMode(statOfDir); // 2147484141 (ModeDir | 0755)
 */
export function goFileMode(st: Pick<Stats, 'mode' | 'isDirectory' | 'isSymbolicLink' | 'isBlockDevice' | 'isCharacterDevice' | 'isFIFO' | 'isSocket'>): number {
  let m = st.mode & 0o777;
  if (st.isDirectory()) m += GO_DIR;
  else if (st.isSymbolicLink()) m += GO_SYMLINK;
  else if (st.isBlockDevice()) m += GO_DEVICE;
  else if (st.isCharacterDevice()) m += GO_DEVICE + GO_CHARDEV;
  else if (st.isFIFO()) m += GO_PIPE;
  else if (st.isSocket()) m += GO_SOCKET;
  if (st.mode & 0o4000) m += GO_SETUID;
  if (st.mode & 0o2000) m += GO_SETGID;
  if (st.mode & 0o1000) m += GO_STICKY;
  return m;
}

function notFound(path: string, container: string): EngineError {
  return new EngineError('not-found', 'ERR_NO_SUCH_PATH', `Could not find the file ${path} in container ${container}`.trimEnd());
}

/** The path cleaned as Docker cleans it (lexically, absolute) and whether its last component is followed. */
function cleanPath(path: string): { clean: string; follow: boolean } {
  if (path === '') throw invalid('path: a path inside the container is required');
  const follow = path.endsWith('/') || path.endsWith('/.');
  return { clean: posix.normalize(`/${path}`), follow };
}

/** Resolve `path` in the container's view; the caller closes the handle. */
function openContainerPath(view: ContainerView, path: string, container: string, followLast = false): { h: Handle; clean: string; mount: ViewMount | undefined } {
  const { clean, follow: endsInSlash } = cleanPath(path);
  try {
    return resolveInView(view, clean, followLast || endsInSlash);
  } catch (err) {
    if (isMissing(err)) throw notFound(path, container);
    throw err;
  }
}

/** The mount targeted at `path` (canonical): a new handle on its root, or undefined when nothing is mounted there. */
function graftAt(view: ContainerView, path: string, forWrite: boolean): Handle | undefined {
  const m = view.mounts.find((x) => x.target === path);
  if (m === undefined) return undefined;
  if (forWrite && m.readOnly) throw readOnlyError(m);
  const h = m.open();
  if (h === undefined && forWrite && m.kind === 'tmpfs') throw tmpfsNotRunning(m.target);
  return h;
}

function tmpfsNotRunning(target: string): EngineError {
  return new EngineError('conflict', 'ERR_CP_TMPFS_NOT_RUNNING', `Cannot copy into ${target}: it is a tmpfs mount, which exists only while the container runs; start the container first`);
}

function statOf(h: Handle, clean: string): ContainerPathStat {
  const st = h.stat();
  let linkTarget = '';
  if (st.isSymbolicLink()) {
    const t = readLink(h).toString('utf8');
    linkTarget = t.startsWith('/') ? posix.normalize(t) : posix.join(posix.dirname(clean), t);
  }
  return { name: clean === '/' ? '/' : posix.basename(clean), size: st.size, mode: goFileMode(st), mtime: st.mtime.toISOString(), linkTarget };
}

/**
 * What HEAD /containers/{id}/archive answers: the stat of `path` as the container sees it.
 *
 * @example
 * statContainerPath(view, '/etc/passwd').size;
 */
export function statContainerPath(view: ContainerView, path: string, container = ''): ContainerPathStat {
  const { h, clean } = openContainerPath(view, path, container);
  try {
    return statOf(h, clean);
  } finally {
    h.close();
  }
}

/**
 * GET /containers/{id}/archive: the stat and a tar of `path` (a directory under its own base
 * name, a file, a symlink as itself). The stream must be consumed while the view's trees stay mounted.
 *
 * @example
 * const { stat, stream } = archiveContainerPath(view, '/etc');
 */
export function archiveContainerPath(view: ContainerView, path: string, container = ''): { stat: ContainerPathStat; stream: Readable } {
  const { h, clean } = openContainerPath(view, path, container);
  const close = (): void => {
    h.close();
  };
  try {
    const st = h.stat();
    const stat = statOf(h, clean);
    const name = clean === '/' ? '.' : posix.basename(clean);
    if (st.isDirectory()) {
      // Walked from the resolved handle, never from the path string; mounts below it are walked from their own roots.
      const stream = exportTree(clean, { root: h, prefix: name, graft: (rel) => graftAt(view, posix.join(clean, rel), false) });
      stream.once('close', close);
      return { stat, stream };
    }
    const pack = tar.pack();
    const header = { name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime, uname: '', gname: '' };
    const write = async (): Promise<void> => {
      if (st.isSymbolicLink()) {
        pack.entry({ ...header, type: 'symlink', linkname: readLink(h).toString('utf8') });
      } else if (st.isFile()) {
        const io = reopen(h, O_RDONLY);
        try {
          const entry = pack.entry({ ...header, type: 'file', size: st.size });
          await readExactly(io, st.size, async (chunk) => {
            if (!entry.write(chunk)) await once(entry, 'drain');
          });
          entry.end(undefined);
        } finally {
          io.close();
        }
      } else throw invalid(`${clean}: not a file, directory or symlink`);
    };
    write().then(
      () => {
        close();
        pack.finalize();
      },
      (err: unknown) => {
        close();
        pack.destroy(err as Error);
      },
    );
    return { stat, stream: Readable.from(pack, { objectMode: false }) };
  } catch (err) {
    close();
    throw err;
  }
}

export interface ExtractIntoOptions {
  /** The container's name or id as the client gave it (for Docker's not-found message). */
  container: string;
  /** Keep the tar's uid/gid (copyUIDGID); else every entry is owned by the container's root. */
  copyUidGid: boolean;
  noOverwriteDirNonDir: boolean;
  /** userns-remap: container ids are stored shifted by this on the host. */
  idShift?: IdShift | undefined;
}

/**
 * PUT /containers/{id}/archive: extract the tar `input` into the directory `path` as the
 * container sees it (its symlinks, last one included, resolved in the container's view, into
 * a volume or bind when one is mounted there); the entries are written relative to its handle,
 * never through a symlink (src/image extractArchiveAt), and into the mounts below it. 404 for a
 * missing path, 400 for a non-directory, a refused entry or a read-only mount or rootfs. Consumes `input` unless it throws before reading it (the caller drains it then).
 *
 * @example
 * await extractIntoContainer(view, '/tmp', req, { container: 'web', copyUidGid: false, noOverwriteDirNonDir: true });
 */
export async function extractIntoContainer(view: ContainerView, path: string, input: Readable, o: ExtractIntoOptions): Promise<void> {
  const { h, clean, mount } = openContainerPath(view, path, o.container, true);
  try {
    if (!h.stat().isDirectory()) throw new EngineError('invalid', 'ERR_CP_NOT_A_DIRECTORY', `extraction point is not a directory: ${path}`);
    // The mount the container sees there, not the directory beneath it (a stopped container's tmpfs).
    const holder = mountHolding(view, clean);
    if (holder !== mount && holder?.kind === 'tmpfs') throw tmpfsNotRunning(holder.target);
    if (mount === undefined ? view.readOnlyRootfs : mount.readOnly) throw readOnlyError(mount);
    await extractArchiveAt(input, h, {
      graft: (parts) => graftAt(view, posix.join(clean, ...parts), true),
      uidShift: o.idShift,
      owner: o.copyUidGid ? undefined : { uid: 0, gid: 0 },
      noOverwriteDirNonDir: o.noOverwriteDirNonDir,
    }).catch((err: unknown) => {
      // The extractor speaks of layers; this is a copy.
      if (err instanceof EngineError && err.message.startsWith('Cannot import layer: ')) {
        throw new EngineError(err.kind, err.code, `Cannot copy into the container: ${err.message.slice('Cannot import layer: '.length)}`, { cause: err });
      }
      throw err;
    });
  } finally {
    h.close();
  }
}
