/**
 * Host system calls (koffi) and the one symlink-safe way to touch trees a container can
 * write: open the tree's root as an fd, then resolve every path relative to it with
 * openat2 (`'in-root'` as the container sees it, `'beneath'` with no symlink at all).
 * Nothing else in moatd calls `node:fs` on such a tree (scripts/lint.mjs checks it).
 *
 * @example
 * import { openRoot, readFileAt } from '../sys/index.js';
 * const root = openRoot(rootfsDir);
 * try { passwd = readFileAt(root, '/etc/passwd', { resolve: 'in-root' }); } finally { root.close(); }
 */
export { libc, kernelRunsX32, lastErrno, cPath, sysFail, errnoOf, addressOf, viewOf, sockaddrUn, SUN_PATH_MAX, type Libc, type PathArg } from './libc.js';
export {
  Handle,
  withHandle,
  openRoot,
  openProcessRoot,
  openAt,
  tryOpenAt,
  reopen,
  kindOf,
  listDir,
  DT_DIR,
  DT_UNKNOWN,
  readLink,
  makeDir,
  makeSymlink,
  makeNode,
  makeLink,
  unlinkAt,
  setOwner,
  setMode,
  setTimes,
  getXattr,
  setXattr,
  readFileAt,
  mkdirAll,
  removeTree,
  removePath,
  walk,
  readExactly,
  writeAll,
  copyTree,
  byteOrder,
  O_RDONLY,
  O_WRONLY,
  O_CREAT,
  O_EXCL,
  O_TRUNC,
  O_NONBLOCK,
  O_NOCTTY,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_CLOEXEC,
  O_PATH,
  S_IFCHR,
  S_IFBLK,
  S_IFIFO,
  type Resolve,
  type OpenOptions,
  type Kind,
  type DirEntry,
  type WalkEntry,
  type WalkOptions,
  type CopyResult,
} from './tree.js';
export { mountBind, mountFs, remountReadOnly, unmount, isMounted, mountPoints, mountPointsUnder, MNT_DETACH } from './mount.js';
export { ProcessWatcher, commandLineOf } from './process-watch.js';
export { spreadSubdirectories } from './spread.js';
export { spawnDetached, unreapedChildren, type DetachedSpawn } from './spawn.js';
