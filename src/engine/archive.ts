// docker cp out of and into a container (HEAD, GET and PUT /containers/{id}/archive): the path is resolved
// inside the container's root as the kernel would resolve it from inside, with openat2
// RESOLVE_IN_ROOT through src/sys (symlinks to `/`, `..` chains and absolute links all stay
// in the container's tree), then read only through the handles opened there. Docker's
// rule for the last component: followed when the path ends in `/` or `/.`, else the entry
// itself (a symlink is copied as a symlink). The copy sees the container's root filesystem
// (its overlay), not the volumes or bind mounts mounted over it inside the container.
// PUT follows the destination's last component too (in-root), as Docker does, and extracts
// the tar relative to that directory's handle through src/image's safe extractor.
import type { Stats } from 'node:fs';
import { once } from 'node:events';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { EngineError, invalid } from '../base/index.js';
import { exportTree, extractArchiveAt, type IdShift } from '../image/index.js';
import { errnoOf, openAt, openRoot, readExactly, readLink, reopen, O_DIRECTORY, O_NOFOLLOW, O_PATH, O_RDONLY, type Handle } from '../sys/index.js';

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

/** Open `path` inside the tree at `rootfs` (in-root resolution); the caller closes both handles. */
function openContainerPath(rootfs: string, path: string, container: string, followLast = false): { root: Handle; h: Handle; clean: string } {
  const { clean, follow: endsInSlash } = cleanPath(path);
  const follow = followLast || endsInSlash;
  const root = openRoot(rootfs);
  try {
    let h: Handle;
    if (clean === '/') h = openAt(root, '.', { flags: O_PATH | O_DIRECTORY, resolve: 'in-root' });
    else if (follow) h = openAt(root, clean, { flags: O_PATH, resolve: 'in-root' });
    else {
      const parent = openAt(root, posix.dirname(clean), { flags: O_PATH | O_DIRECTORY, resolve: 'in-root' });
      try {
        h = openAt(parent, posix.basename(clean), { flags: O_PATH | O_NOFOLLOW, resolve: 'beneath' });
      } finally {
        parent.close();
      }
    }
    return { root, h, clean };
  } catch (err) {
    root.close();
    const code = errnoOf(err);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') throw notFound(path, container);
    throw err;
  }
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
 * What HEAD /containers/{id}/archive answers: the stat of `path` inside the tree at `rootfs`.
 *
 * @example
 * statContainerPath('/var/lib/moat/containers/abc/rootfs', '/etc/passwd').size;
 */
export function statContainerPath(rootfs: string, path: string, container = ''): ContainerPathStat {
  const { root, h, clean } = openContainerPath(rootfs, path, container);
  try {
    return statOf(h, clean);
  } finally {
    h.close();
    root.close();
  }
}

/**
 * GET /containers/{id}/archive: the stat and a tar of `path` (a directory under its own base
 * name, a file, a symlink as itself). The stream must be consumed while `rootfs` stays mounted.
 *
 * @example
 * const { stat, stream } = archiveContainerPath(rootfs, '/etc');
 */
export function archiveContainerPath(rootfs: string, path: string, container = ''): { stat: ContainerPathStat; stream: Readable } {
  const { root, h, clean } = openContainerPath(rootfs, path, container);
  const close = (): void => {
    h.close();
    root.close();
  };
  try {
    const st = h.stat();
    const stat = statOf(h, clean);
    const name = clean === '/' ? '.' : posix.basename(clean);
    if (st.isDirectory()) {
      // Walked from the handle opened in-root, never from the path string.
      const stream = exportTree(`${rootfs}${clean}`, { root: h, prefix: name });
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
 * PUT /containers/{id}/archive: extract the tar `input` into the directory `path` of the tree
 * at `rootfs`. The directory is resolved in-root (its symlinks, last one included, stay in the
 * container's tree); the entries are written relative to its handle, never through a symlink
 * (src/image extractArchiveAt). 404 for a missing path, 400 for a non-directory or a refused
 * entry. Consumes `input` unless it throws before reading it (the caller drains it then).
 *
 * @example
 * await extractIntoContainer(rootfs, '/tmp', req, { container: 'web', copyUidGid: false, noOverwriteDirNonDir: true });
 */
export async function extractIntoContainer(rootfs: string, path: string, input: Readable, o: ExtractIntoOptions): Promise<void> {
  const { root, h } = openContainerPath(rootfs, path, o.container, true);
  try {
    if (!h.stat().isDirectory()) throw new EngineError('invalid', 'ERR_CP_NOT_A_DIRECTORY', `extraction point is not a directory: ${path}`);
    await extractArchiveAt(input, h, {
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
    root.close();
  }
}
