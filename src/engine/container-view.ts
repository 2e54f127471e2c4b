// A container's files as the container sees them, for docker cp: its root filesystem with the
// volumes, binds and tmpfs mounts of its plan over it. Paths are resolved here in user space,
// one component at a time, each opened with openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS in
// the directory handle reached so far (src/sys). When the path reached so far is a mount
// target, the walk continues in that mount's own root (a volume's `_data`, the pinned bind
// source, a running container's tmpfs); symlinks are read and resolved against the
// container's `/` (absolute) or the directory holding them, `..` steps back to the handle
// it came from and stops at `/`. So a symlink in the rootfs can lead into a mount and a
// link in a mount can lead back into the rootfs, exactly as in the container, and nothing
// is ever resolved against the host's `/`: every name is opened inside a tree the container
// sees. Why not the kernel (RESOLVE_IN_ROOT on one root, or a process in the container's
// mount namespace): a stopped container has no namespace, and this is one resolver for both
// states. A running container's tmpfs, which exists only in its namespace, is the one mount
// reached through it (openRunningTmpfs).
import { posix } from 'node:path';
import { EngineError } from '../base/index.js';
import { errnoOf, openAt, openProcessRoot, openRoot, readLink, sysFail, O_DIRECTORY, O_NOFOLLOW, O_PATH, type Handle } from '../sys/index.js';

/** One mount of the container's plan, seen from the host. */
export interface ViewMount {
  /** Cleaned absolute path in the container. */
  target: string;
  kind: 'volume' | 'bind' | 'tmpfs';
  readOnly: boolean;
  /** A new handle on the root of what is mounted there (a directory, or a file for a file bind); undefined when it shows the rootfs beneath (a stopped container's tmpfs). */
  open(): Handle | undefined;
}

export interface ContainerView {
  /** Opens the container's `/` (its merged rootfs); the caller closes it. */
  openRoot(): Handle;
  mounts: readonly ViewMount[];
  /** `--read-only`: writes outside a writable mount are refused. */
  readOnlyRootfs: boolean;
}

/** What a path resolved to: a handle (O_PATH), its canonical path, and the mount holding it (undefined: the rootfs). */
export interface ResolvedPath {
  h: Handle;
  clean: string;
  mount: ViewMount | undefined;
}

const MAX_LINKS = 40;

interface Step {
  name: string;
  h: Handle;
  /** The mount whose root this step is, if it is one. */
  mount: ViewMount | undefined;
}

function loop(shown: string): Error {
  return sysFail('resolve', shown, 40); // ELOOP, as the kernel after 40 links
}

/**
 * Resolve `path` in the view, following every symlink on the way and the last component
 * too when `followLast`. Throws the errno error (ENOENT, ENOTDIR, ELOOP) of the component
 * that failed.
 *
 * @example
 * const r = resolveInView(view, '/data/x/', true); // r.mount?.target === '/data'
 */
export function resolveInView(view: ContainerView, path: string, followLast: boolean): ResolvedPath {
  const mountAt = new Map(view.mounts.map((m) => [m.target, m]));
  const stack: Step[] = [{ name: '', h: view.openRoot(), mount: undefined }];
  const top = (): Step => stack[stack.length - 1]!;
  const canonical = (): string => `/${stack.slice(1).map((s) => s.name).join('/')}`;
  const popTo = (depth: number): void => {
    while (stack.length > depth) stack.pop()!.h.close();
  };
  let pending = path.split('/').filter((p) => p !== '' && p !== '.');
  let links = 0;
  try {
    while (pending.length > 0) {
      const part = pending.shift()!;
      const here = top();
      if (!here.h.stat().isDirectory()) throw sysFail('resolve', posix.join(canonical(), part), 20); // ENOTDIR
      if (part === '..') {
        if (stack.length > 1) popTo(stack.length - 1);
        continue;
      }
      const target = posix.join(canonical(), part);
      const m = mountAt.get(target);
      const mounted = m?.open();
      const h = mounted ?? openAt(here.h, part, { flags: O_PATH | O_NOFOLLOW, resolve: 'beneath' });
      const isLast = pending.length === 0;
      if (h.stat().isSymbolicLink() && (!isLast || followLast)) {
        let link: string;
        try {
          link = readLink(h).toString('utf8');
        } finally {
          h.close();
        }
        if (++links > MAX_LINKS) throw loop(target);
        if (link.startsWith('/')) popTo(1);
        pending = [...link.split('/').filter((p) => p !== '' && p !== '.'), ...pending];
        continue;
      }
      stack.push({ name: part, h, mount: mounted === undefined ? undefined : m });
    }
    const clean = canonical();
    const mount = [...stack].reverse().find((s) => s.mount !== undefined)?.mount;
    const last = stack.pop()!;
    popTo(0);
    return { h: last.h, clean, mount };
  } catch (err) {
    popTo(0);
    throw err;
  }
}

/**
 * The deepest mount of the view whose target is `path` or a directory above it (lexically,
 * for a canonical path).
 *
 * @example
 * mountHolding(view, '/data/sub/f')?.target; // '/data'
 */
export function mountHolding(view: ContainerView, path: string): ViewMount | undefined {
  let best: ViewMount | undefined;
  for (const m of view.mounts) {
    if (path === m.target || path.startsWith(`${m.target}/`)) {
      if (best === undefined || m.target.length > best.target.length) best = m;
    }
  }
  return best;
}

/** A refusal to write where the container sees a read-only mount or rootfs (Docker's words). */
export function readOnlyError(mount: ViewMount | undefined): EngineError {
  if (mount === undefined) return new EngineError('invalid', 'ERR_CP_READ_ONLY_ROOTFS', 'container rootfs is marked read-only');
  return new EngineError('invalid', 'ERR_CP_READ_ONLY_VOLUME', 'mounted volume is marked read-only');
}

/** The errno of a failed resolution, when it means "no such path". */
export function isMissing(err: unknown): boolean {
  const code = errnoOf(err);
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP';
}

/**
 * A running container's tmpfs at `target`, from its own mount namespace (it exists nowhere
 * else). Refused (409) unless /proc/PID/root is the container's rootfs (same device and inode:
 * a reused pid must not give the host's `/`) and what `target` resolves to there (in-root) is
 * another mount.
 *
 * @example
 * const h = openRunningTmpfs(c.State.Pid, bundle.rootfs, '/scratch');
 */
export function openRunningTmpfs(pid: number, rootfs: string, target: string): Handle {
  const gone = (): EngineError => new EngineError('conflict', 'ERR_CP_TMPFS_NOT_RUNNING', `Cannot copy to or from ${target}: it is a tmpfs mount and the container's process ${pid} is not running any more`);
  const mine = openRoot(rootfs);
  let root: Handle;
  try {
    root = openProcessRoot(pid);
  } catch {
    mine.close();
    throw gone();
  }
  try {
    const a = mine.statBig();
    const b = root.statBig();
    if (a.dev !== b.dev || a.ino !== b.ino) throw gone();
    const h = openAt(root, target, { flags: O_PATH | O_DIRECTORY, resolve: 'in-root' });
    if (h.statBig().dev === a.dev) {
      h.close();
      throw gone();
    }
    return h;
  } finally {
    root.close();
    mine.close();
  }
}
