// docker cp out of a container (HEAD and GET /containers/{id}/archive): the path is resolved
// inside the container's root as the kernel would resolve it from inside, with openat2
// RESOLVE_IN_ROOT through src/sys (symlinks to `/`, `..` chains and absolute links all stay
// in the container's tree), then read only through the handles opened there. Docker's
// rule for the last component: followed when the path ends in `/` or `/.`, else the entry
// itself (a symlink is copied as a symlink). The copy sees the container's root filesystem
// (its overlay), not the volumes or bind mounts mounted over it inside the container.
import type { Stats } from 'node:fs';
import { once } from 'node:events';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { EngineError, invalid } from '../base/index.js';
import { exportTree } from '../image/index.js';
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

function notFound(path: string): EngineError {
  return new EngineError('not-found', 'ERR_NO_SUCH_PATH', `Could not find the file ${path} in container`);
}

/** The path cleaned as Docker cleans it (lexically, absolute) and whether its last component is followed. */
function cleanPath(path: string): { clean: string; follow: boolean } {
  if (path === '') throw invalid('path: a path inside the container is required');
  const follow = path.endsWith('/') || path.endsWith('/.');
  return { clean: posix.normalize(`/${path}`), follow };
}

/** Open `path` inside the tree at `rootfs` (in-root resolution); the caller closes both handles. */
function openContainerPath(rootfs: string, path: string): { root: Handle; h: Handle; clean: string } {
  const { clean, follow } = cleanPath(path);
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
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') throw notFound(path);
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
export function statContainerPath(rootfs: string, path: string): ContainerPathStat {
  const { root, h, clean } = openContainerPath(rootfs, path);
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
export function archiveContainerPath(rootfs: string, path: string): { stat: ContainerPathStat; stream: Readable } {
  const { root, h, clean } = openContainerPath(rootfs, path);
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
