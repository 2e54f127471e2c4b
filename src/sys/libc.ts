// The host's libc through koffi, loaded on first use: the system calls Node does not offer
// (openat2 and the other *at calls, mount, getdents64, xattrs on fds, unix sockets Node's
// `net` refuses, SCM_RIGHTS, the seccomp notify ioctls, SO_PEERCRED). The one binding module
// of moat: the notify listener loads this file directly (it imports only base/), everything
// else goes through sys/index.js. errno values become
// errors in one place: `sysFail` (an EngineError with its HTTP kind) or, where a caller
// keeps Node's shape, base's `sysError`.
//
// Path arguments are passed as NUL-terminated byte buffers, so a file name that is not
// UTF-8 reaches the kernel unchanged.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';
import type Koffi from 'koffi';
import { EngineError, errnoName, sysError } from '../base/index.js';

/** A path or file name as the kernel takes it: text (UTF-8) or raw bytes. */
export type PathArg = string | Buffer;

export interface Libc {
  openat2(dirfd: number, path: Buffer, how: Buffer, size: number): number;
  close(fd: number): number;
  mkdirat(dirfd: number, path: Buffer, mode: number): number;
  symlinkat(target: Buffer, dirfd: number, path: Buffer): number;
  readlinkat(dirfd: number, path: Buffer, buf: Buffer, size: number): number;
  mknodat(dirfd: number, path: Buffer, mode: number, dev: bigint): number;
  unlinkat(dirfd: number, path: Buffer, flags: number): number;
  linkat(olddirfd: number, oldpath: Buffer, newdirfd: number, newpath: Buffer, flags: number): number;
  fchownat(dirfd: number, path: Buffer, uid: number, gid: number, flags: number): number;
  utimensat(dirfd: number, path: Buffer, times: Buffer, flags: number): number;
  getdents64(fd: number, buf: Buffer, size: number): number;
  fgetxattr(fd: number, name: string, value: Buffer, size: number): number;
  fsetxattr(fd: number, name: string, value: Buffer, size: number, flags: number): number;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): number;
  umount2(target: string, flags: number): number;
  statx(dirfd: number, path: string, flags: number, mask: number, buf: Buffer): number;
  mount_setattr(dirfd: number, path: string, flags: number, attr: Buffer, size: number): number;
  pidfd_open(pid: number, flags: number): number;
  poll(fds: Buffer, nfds: number, timeout: number): number;
  /** poll(2) on libuv's thread pool (koffi's async call); errno of a failure is not readable. */
  pollAsync(fds: Buffer, nfds: number, timeout: number, done: (err: unknown, ready: number) => void): void;
  // sockets
  socket(domain: number, type: number, protocol: number): number;
  socketpair(domain: number, type: number, protocol: number, sv: Buffer): number;
  connect(fd: number, addr: Buffer, len: number): number;
  bind(fd: number, addr: Buffer, len: number): number;
  listen(fd: number, backlog: number): number;
  accept4(fd: number, addr: null, len: null, flags: number): number;
  recv(fd: number, buf: Buffer, len: number, flags: number): number;
  recvmsg(fd: number, msg: Buffer, flags: number): number;
  sendmsg(fd: number, msg: Buffer, flags: number): number;
  getsockopt(fd: number, level: number, name: number, val: Buffer, len: Buffer): number;
  // descriptors, locks, memory
  fcntl(fd: number, cmd: number, arg: number): number;
  flock(fd: number, op: number): number;
  ioctl(fd: number, req: number, arg: Buffer): number;
  /** The same ioctl with the argument as an address (a buffer inside a shared mapping). */
  ioctlAt(fd: number, req: number, arg: bigint): number;
  /** A pointer (koffi's opaque value; see `addressOf`, `viewOf`), or null. */
  mmap(addr: null, len: number, prot: number, flags: number, fd: number, off: number): unknown;
  // processes (spawn.ts): posix_spawn answers an errno value, not -1
  pipe2(fds: Buffer, flags: number): number;
  posix_spawn(pid: number[], path: string, actions: Buffer, attr: Buffer, argv: Array<string | null>, envp: Array<string | null>): number;
  posix_spawn_file_actions_init(actions: Buffer): number;
  posix_spawn_file_actions_destroy(actions: Buffer): number;
  posix_spawn_file_actions_adddup2(actions: Buffer, fd: number, newfd: number): number;
  posix_spawn_file_actions_addopen(actions: Buffer, fd: number, path: string, oflag: number, mode: number): number;
  posix_spawn_file_actions_addchdir_np(actions: Buffer, path: string): number;
  posix_spawnattr_init(attr: Buffer): number;
  posix_spawnattr_destroy(attr: Buffer): number;
  posix_spawnattr_setflags(attr: Buffer, flags: number): number;
  posix_spawnattr_setsigdefault(attr: Buffer, set: Buffer): number;
  posix_spawnattr_setsigmask(attr: Buffer, set: Buffer): number;
  sigfillset(set: Buffer): number;
  sigemptyset(set: Buffer): number;
  waitpid(pid: number, status: number[], options: number): number;
}

// x86_64 and aarch64 share the numbers of the syscalls added from 424 on (glibc wraps neither).
const SYS_OPENAT2 = 437;
const SYS_MOUNT_SETATTR = 442;

let bound: Libc | undefined;
let rawSyscall: ((...args: unknown[]) => number | bigint) | undefined;
let koffiModule: typeof Koffi | undefined;

/** koffi itself, loaded on first use: importing this module loads no native code. */
function koffi(): typeof Koffi {
  return (koffiModule ??= createRequire(import.meta.url)('koffi') as typeof Koffi);
}

/**
 * The bindings, loaded once.
 *
 * @example
 * if (libc().mkdirat(dir.fd, cPath('etc'), 0o755) !== 0) throw sysFail('mkdirat', 'etc', lastErrno());
 */
export function libc(): Libc {
  if (bound !== undefined) return bound;
  const lib = koffi().load('libc.so.6');
  const syscall = (rawSyscall = lib.func('long syscall(long nr, ...)') as (...args: unknown[]) => number | bigint);
  const num = (v: number | bigint): number => Number(v);
  const f = <T>(proto: string): T => lib.func(proto) as T;
  const poll = f<Libc['poll'] & { async: Libc['pollAsync'] }>('int poll(void *fds, unsigned long nfds, int timeout)');
  bound = {
    openat2: (dirfd, path, how, size) => num(syscall(SYS_OPENAT2, 'int', dirfd, 'void *', path, 'void *', how, 'size_t', size)),
    close: f('int close(int fd)'),
    mkdirat: f('int mkdirat(int dirfd, const void *path, uint32_t mode)'),
    symlinkat: f('int symlinkat(const void *target, int dirfd, const void *path)'),
    readlinkat: ((fn: (...a: unknown[]) => number | bigint) => (d: number, p: Buffer, b: Buffer, s: number) => num(fn(d, p, b, s)))(f('intptr_t readlinkat(int dirfd, const void *path, void *buf, size_t size)')),
    mknodat: f('int mknodat(int dirfd, const void *path, uint32_t mode, uint64_t dev)'),
    unlinkat: f('int unlinkat(int dirfd, const void *path, int flags)'),
    linkat: f('int linkat(int olddirfd, const void *oldpath, int newdirfd, const void *newpath, int flags)'),
    fchownat: f('int fchownat(int dirfd, const void *path, uint32_t uid, uint32_t gid, int flags)'),
    utimensat: f('int utimensat(int dirfd, const void *path, const void *times, int flags)'),
    getdents64: ((fn: (...a: unknown[]) => number | bigint) => (d: number, b: Buffer, s: number) => num(fn(d, b, s)))(f('intptr_t getdents64(int fd, void *buf, size_t size)')),
    fgetxattr: ((fn: (...a: unknown[]) => number | bigint) => (d: number, n: string, b: Buffer, s: number) => num(fn(d, n, b, s)))(f('intptr_t fgetxattr(int fd, const char *name, void *value, size_t size)')),
    fsetxattr: f('int fsetxattr(int fd, const char *name, const void *value, size_t size, int flags)'),
    mount: f('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
    umount2: f('int umount2(const char *target, int flags)'),
    // glibc 2.28 wraps statx.
    statx: f('int statx(int dirfd, const char *path, int flags, unsigned int mask, void *buf)'),
    // glibc 2.36 wraps pidfd_open (Debian 12); the kernel gives ESRCH for a pid that is gone.
    pidfd_open: f('int pidfd_open(int pid, unsigned int flags)'),
    poll,
    pollAsync: (fds, nfds, timeout, done) => poll.async(fds, nfds, timeout, done),
    mount_setattr: (dirfd, path, flags, attr, size) => num(syscall(SYS_MOUNT_SETATTR, 'int', dirfd, 'str', path, 'unsigned int', flags, 'void *', attr, 'size_t', size)),
    socket: f('int socket(int domain, int type, int protocol)'),
    socketpair: f('int socketpair(int domain, int type, int protocol, void *sv)'),
    connect: f('int connect(int fd, const void *addr, uint32_t addrlen)'),
    bind: f('int bind(int fd, const void *addr, uint32_t addrlen)'),
    listen: f('int listen(int fd, int backlog)'),
    accept4: f('int accept4(int fd, void *addr, void *addrlen, int flags)'),
    recv: long(f('intptr_t recv(int fd, void *buf, size_t len, int flags)')),
    recvmsg: long(f('intptr_t recvmsg(int fd, void *msg, int flags)')),
    sendmsg: long(f('intptr_t sendmsg(int fd, const void *msg, int flags)')),
    getsockopt: f('int getsockopt(int fd, int level, int name, void *val, void *len)'),
    fcntl: f('int fcntl(int fd, int cmd, int arg)'),
    flock: f('int flock(int fd, int op)'),
    // ioctl is variadic in C; the x86_64 and aarch64 calls are the same for one pointer argument.
    ioctl: f('int ioctl(int fd, unsigned long req, void *arg)'),
    ioctlAt: f('int ioctl(int fd, unsigned long req, uintptr_t arg)'),
    mmap: f('void *mmap(void *addr, size_t len, int prot, int flags, int fd, intptr_t off)'),
    pipe2: f('int pipe2(void *fds, int flags)'),
    posix_spawn: f('int posix_spawn(_Out_ int *pid, const char *path, const void *actions, const void *attr, const char **argv, const char **envp)'),
    posix_spawn_file_actions_init: f('int posix_spawn_file_actions_init(void *actions)'),
    posix_spawn_file_actions_destroy: f('int posix_spawn_file_actions_destroy(void *actions)'),
    posix_spawn_file_actions_adddup2: f('int posix_spawn_file_actions_adddup2(void *actions, int fd, int newfd)'),
    posix_spawn_file_actions_addopen: f('int posix_spawn_file_actions_addopen(void *actions, int fd, const char *path, int oflag, uint32_t mode)'),
    // glibc 2.29
    posix_spawn_file_actions_addchdir_np: f('int posix_spawn_file_actions_addchdir_np(void *actions, const char *path)'),
    posix_spawnattr_init: f('int posix_spawnattr_init(void *attr)'),
    posix_spawnattr_destroy: f('int posix_spawnattr_destroy(void *attr)'),
    posix_spawnattr_setflags: f('int posix_spawnattr_setflags(void *attr, short flags)'),
    posix_spawnattr_setsigdefault: f('int posix_spawnattr_setsigdefault(void *attr, const void *set)'),
    posix_spawnattr_setsigmask: f('int posix_spawnattr_setsigmask(void *attr, const void *set)'),
    sigfillset: f('int sigfillset(void *set)'),
    sigemptyset: f('int sigemptyset(void *set)'),
    waitpid: f('int waitpid(int pid, _Out_ int *status, int options)'),
  };
  return bound;
}

// x32 syscalls are x86_64 calls with this bit in the number; getpid is 39 in both tables.
const X32_GETPID = 0x40000000 | 39;
const ENOSYS = osConstants.errno.ENOSYS;

/**
 * Whether the running kernel executes x32 syscalls (CONFIG_X86_X32_ABI, and not turned off
 * with `syscall.x32=n`). Asks the kernel itself: an x32 getpid answers the pid where the
 * ABI runs and ENOSYS where it does not; false only then, and on hosts that are not x86_64.
 * When this process is itself under a seccomp filter, whose bad-arch action could kill it
 * for the question, it does not ask and answers true (the cautious answer: x32 stays
 * filtered).
 *
 * @example
 * kernelRunsX32(); // false on Debian 12's kernels (# CONFIG_X86_X32_ABI is not set)
 */
export function kernelRunsX32(): boolean {
  if (process.arch !== 'x64') return false;
  const mode = /^Seccomp:\s*(\d+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  if (mode !== '0') return true;
  libc();
  // Only ENOSYS means no x32; any other answer keeps x32 filtered rather than stop moatd.
  return Number(rawSyscall!(X32_GETPID)) >= 0 || lastErrno() !== ENOSYS;
}

/** An ssize_t-returning binding as a function returning a number. */
function long<A extends unknown[]>(fn: (...a: A) => number | bigint): (...a: A) => number {
  return (...a) => Number(fn(...a));
}

/**
 * The address of a buffer (or of a pointer koffi returned), for structures that hold
 * pointers (msghdr, iovec) and for `ioctlAt`.
 *
 * @example
 * const iovAddr = addressOf(iovHolder);
 */
export function addressOf(value: unknown): bigint {
  if (value === null) return 0n;
  return koffi().address(value as Buffer);
}

/**
 * `length` bytes at a pointer koffi returned (`mmap`), as an ArrayBuffer over that memory.
 *
 * @example
 * const view = Buffer.from(viewOf(p, 4096));
 */
export function viewOf(pointer: unknown, length: number): ArrayBuffer {
  return koffi().view(pointer as never, length);
}

const AF_UNIX = 1;
/** sizeof(sun_path): 107 bytes and the terminating NUL. */
export const SUN_PATH_MAX = 108;

/**
 * A `struct sockaddr_un` for `path` (AF_UNIX; the caller checks that the path fits).
 *
 * @example
 * libc().connect(fd, sockaddrUn('/run/moat/s/abc/attach'), 2 + SUN_PATH_MAX);
 */
export function sockaddrUn(path: string): Buffer {
  const addr = Buffer.alloc(2 + SUN_PATH_MAX);
  addr.writeUInt16LE(AF_UNIX, 0); // sa_family_t is host-endian; moat's targets are little-endian
  Buffer.from(path).copy(addr, 2);
  return addr;
}

/**
 * errno of the last failed call made through `libc()` on this thread.
 *
 * @example
 * const e = lastErrno(); // right after the failed call
 */
export function lastErrno(): number {
  return koffi().errno();
}

/**
 * A path argument as the NUL-terminated bytes the kernel reads.
 *
 * @example
 * cPath('etc') // <Buffer 65 74 63 00>
 */
export function cPath(p: PathArg): Buffer {
  const b = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
  if (b.includes(0)) throw new EngineError('invalid', 'ERR_INVALID_ARGUMENT', `Invalid path ${JSON.stringify(b.toString('utf8'))}: it contains a NUL byte`);
  return Buffer.concat([b, Buffer.alloc(1)]);
}

const E = osConstants.errno;

/**
 * The one errno -> EngineError mapping for host file operations. The Node-style error
 * (`code` = errno name) is the cause, so callers can test it with `errnoOf`:
 * - ELOOP, EXDEV: a symlink or mount point where none may be crossed (openat2 RESOLVE_*) —
 *   forbidden (403) ERR_UNSAFE_PATH;
 * - ENOENT, ENOTDIR: not-found (404) ERR_PATH_NOT_FOUND;
 * - EEXIST: conflict (409) ERR_PATH_EXISTS;
 * - anything else: internal (500) ERR_SYSCALL.
 *
 * @example
 * if (libc().mkdirat(dir.fd, cPath(name), 0o755) !== 0) throw sysFail('mkdirat', name, lastErrno());
 */
export function sysFail(call: string, what: string, errno: number): EngineError {
  const cause = sysError(call, what, errno);
  const name = errnoName(errno);
  if (errno === E.ELOOP || errno === E.EXDEV) {
    return new EngineError('forbidden', 'ERR_UNSAFE_PATH', `Refusing to follow ${JSON.stringify(what)}: it goes through a symbolic link or a mount point (${call}: ${name})`, { cause });
  }
  if (errno === E.ENOENT || errno === E.ENOTDIR) return new EngineError('not-found', 'ERR_PATH_NOT_FOUND', `No such file or directory: ${JSON.stringify(what)}`, { cause });
  if (errno === E.EEXIST) return new EngineError('conflict', 'ERR_PATH_EXISTS', `File exists: ${JSON.stringify(what)}`, { cause });
  return new EngineError('internal', 'ERR_SYSCALL', `${call} ${JSON.stringify(what)} failed: ${name}`, { cause });
}

/**
 * The errno name (`'ENOENT'`) behind an error from `sysFail` or a Node fs call; undefined otherwise.
 *
 * @example
 * if (errnoOf(err) === 'ENOENT') return undefined;
 */
export function errnoOf(err: unknown): string | undefined {
  for (let e: unknown = err, i = 0; e !== undefined && e !== null && i < 4; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code;
  }
  return undefined;
}
