// libc calls the listener needs and Node lacks (host): a unix listening socket, a socket pair
// to its standby, recvmsg(2)/sendmsg(2) with SCM_RIGHTS, poll(2), the seccomp notify ioctls,
// a shared file mapping, flock(2), SO_PEERCRED. The bindings are moat's one libc module
// (sys/libc.ts, imported directly: the listener process loads nothing else of sys/).
import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, readlinkSync, unlinkSync, constants as fsConstants } from 'node:fs';
import { dirname } from 'node:path';
import { constants as osConstants } from 'node:os';
import { sysError } from '../base/index.js';
import { libc, lastErrno, addressOf, viewOf, sockaddrUn, SUN_PATH_MAX } from '../sys/libc.js';
import { lockPath } from './paths.js';
import { SECCOMP_IOCTL_NOTIF_RECV, SECCOMP_IOCTL_NOTIF_SEND, SECCOMP_IOCTL_NOTIF_ID_VALID, SECCOMP_NOTIF_SIZE, MSG_CMSG_CLOEXEC, MSG_DONTWAIT, MSG_CTRUNC, MSG_NOSIGNAL, encodeMsghdr, decodeMsghdrResult, parseScmRights, encodeScmRights, cmsgSpace } from './structs.js';

export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_SEQPACKET = 5;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const POLLIN = 0x1;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
const LOCK_SH = 1;
const LOCK_EX = 2;
const LOCK_NB = 4;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;

const c = libc;

export function closeFd(fd: number): void {
  if (fd >= 0) c().close(fd);
}

/** A bound, listening, non-blocking SOCK_STREAM unix socket at `path` (which must not exist). */
export function listenUnix(path: string, backlog = 64): number {
  if (Buffer.byteLength(path) >= SUN_PATH_MAX) throw new Error(`Cannot listen on ${JSON.stringify(path)}: longer than sun_path (107 bytes); runc could not connect to it either`);
  const fd = c().socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw sysError('socket', path, lastErrno());
  const addr = sockaddrUn(path);
  if (c().bind(fd, addr, addr.length) !== 0 || c().listen(fd, backlog) !== 0) {
    const e = lastErrno();
    c().close(fd);
    throw sysError('bind', path, e);
  }
  return fd;
}

/** accept4(2), non-blocking and close-on-exec; -1 when nothing is pending. */
export function acceptConn(fd: number): number {
  const r = c().accept4(fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (r >= 0) return r;
  const e = lastErrno();
  if (e === osConstants.errno.EAGAIN || e === osConstants.errno.EINTR || e === osConstants.errno.ECONNABORTED) return -1;
  throw sysError('accept4', String(fd), e);
}

/** The peer's { pid, uid, gid } of a connected unix socket (SO_PEERCRED). */
export function peerCred(fd: number): { pid: number; uid: number; gid: number } | undefined {
  const val = Buffer.alloc(12);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(12, 0);
  if (c().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, val, len) !== 0) return undefined;
  return { pid: val.readInt32LE(0), uid: val.readUInt32LE(4), gid: val.readUInt32LE(8) };
}

/** Result of one recvmsg(2): data (empty at EOF), received fds, or `again`. */
export type RecvResult = { kind: 'data'; data: Buffer; fds: number[]; truncated: boolean } | { kind: 'eof' } | { kind: 'again' };

const DATA_MAX = 65536;
const MAX_FDS = 8;

/** recvmsg's buffers, made once: each call copies out what it returns (64 KiB zeroed per call otherwise). */
let recvBuffers: { data: Buffer; control: Buffer; iovHolder: Buffer } | undefined;

/** One non-blocking recvmsg(2) with room for {@link MAX_FDS} descriptors (close-on-exec). */
export function recvWithFds(fd: number): RecvResult {
  recvBuffers ??= { data: Buffer.alloc(DATA_MAX), control: Buffer.alloc(cmsgSpace(MAX_FDS)), iovHolder: Buffer.alloc(16) };
  const { data, control, iovHolder } = recvBuffers;
  const { iov, msg } = encodeMsghdr({ dataAddr: addressOf(data), dataLen: data.length, controlAddr: addressOf(control), controlLen: control.length, iovAddr: addressOf(iovHolder) });
  iov.copy(iovHolder);
  for (;;) {
    const n = c().recvmsg(fd, msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0) {
      const e = lastErrno();
      if (e === osConstants.errno.EINTR) continue;
      if (e === osConstants.errno.EAGAIN) return { kind: 'again' };
      throw sysError('recvmsg', String(fd), e);
    }
    const res = decodeMsghdrResult(msg);
    const fds = parseScmRights(control.subarray(0, Math.min(res.controlLen, control.length)));
    if (n === 0 && fds.length === 0) return { kind: 'eof' };
    return { kind: 'data', data: Buffer.from(data.subarray(0, n)), fds, truncated: (res.flags & MSG_CTRUNC) !== 0 };
  }
}

/** poll(2) over `fds`, each for POLLIN; returns each fd's revents (0 = nothing), or undefined on EINTR. */
export function pollFds(fds: readonly number[], timeoutMs: number): number[] | undefined {
  return pollEvents(fds, fds.map(() => POLLIN), timeoutMs);
}

/**
 * poll(2) over `fds` for `events[i]` each (0 still reports POLLHUP / POLLERR); returns each
 * fd's revents, or undefined on EINTR.
 */
export function pollEvents(fds: readonly number[], events: readonly number[], timeoutMs: number): number[] | undefined {
  const buf = Buffer.alloc(8 * fds.length);
  fds.forEach((fd, i) => {
    buf.writeInt32LE(fd, 8 * i);
    buf.writeInt16LE(events[i] ?? 0, 8 * i + 4);
  });
  const r = c().poll(buf, fds.length, timeoutMs);
  if (r < 0) {
    const e = lastErrno();
    if (e === osConstants.errno.EINTR) return undefined;
    throw sysError('poll', `${fds.length} fds`, e);
  }
  return fds.map((_, i) => buf.readUInt16LE(8 * i + 6));
}

/**
 * SECCOMP_IOCTL_NOTIF_RECV into `buf` (80 bytes, zeroed here: kernels >= 5.5 refuse a
 * dirty buffer). Returns 0 or the errno (ENOENT: the task left the syscall before we read it).
 */
export function notifRecv(fd: number, buf: Buffer): number {
  buf.fill(0, 0, SECCOMP_NOTIF_SIZE);
  for (;;) {
    if (c().ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, buf) === 0) return 0;
    const e = lastErrno();
    if (e !== osConstants.errno.EINTR) return e;
  }
}

/**
 * SECCOMP_IOCTL_NOTIF_RECV straight into shared memory at `address` (`view` is the same 80
 * bytes, zeroed here): the kernel writes the notification there before the ioctl returns,
 * so it survives this process being killed the next instant. 0 or the errno.
 */
export function notifRecvAt(fd: number, address: bigint, view: Buffer): number {
  view.fill(0, 0, SECCOMP_NOTIF_SIZE);
  for (;;) {
    if (c().ioctlAt(fd, SECCOMP_IOCTL_NOTIF_RECV, address) === 0) return 0;
    const e = lastErrno();
    if (e !== osConstants.errno.EINTR) return e;
  }
}

/** SECCOMP_IOCTL_NOTIF_SEND; 0 or the errno (ENOENT: the task is gone or was interrupted). */
export function notifSend(fd: number, resp: Buffer): number {
  for (;;) {
    if (c().ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, resp) === 0) return 0;
    const e = lastErrno();
    if (e !== osConstants.errno.EINTR) return e;
  }
}

/** SECCOMP_IOCTL_NOTIF_ID_VALID: true while the task still waits in that notification. */
export function notifIdValid(fd: number, id: bigint): boolean {
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64LE(id, 0);
  return c().ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, buf) === 0;
}

/** flock(fd, LOCK_EX | LOCK_NB): false when another process holds it. */
export function tryLockExclusive(fd: number): boolean {
  return tryLock(fd, LOCK_EX);
}

/** flock(fd, LOCK_SH | LOCK_NB): false when another process holds it exclusively. */
export function tryLockShared(fd: number): boolean {
  return tryLock(fd, LOCK_SH);
}

function tryLock(fd: number, how: number): boolean {
  if (c().flock(fd, how | LOCK_NB) === 0) return true;
  const e = lastErrno();
  if (e === osConstants.errno.EWOULDBLOCK || e === osConstants.errno.EAGAIN) return false;
  throw sysError('flock', String(fd), e);
}

/**
 * The listener's lock on `stateDir` (flock) and a listening socket at `socket` in place of a
 * dead listener's, or undefined when another process holds the lock. What a listener does as
 * it starts, and what moatd does for it to start one early (process.ts).
 */
export function claimListenerSocket(socket: string, stateDir: string): { lockFd: number; listenFd: number } | undefined {
  mkdirSync(dirname(socket), { recursive: true, mode: 0o700 });
  const lockFd = openSync(lockPath(stateDir), fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW, 0o600);
  try {
    if (!tryLockExclusive(lockFd)) {
      closeSync(lockFd);
      return undefined;
    }
    // We hold the lock, so a socket file left there belongs to a dead listener.
    try {
      if (!lstatSync(socket).isSocket()) throw new Error(`Cannot listen on ${JSON.stringify(socket)}: a file that is not a socket is in the way`);
      unlinkSync(socket);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const listenFd = listenUnix(socket);
    try {
      chmodSync(socket, 0o600);
    } catch (err) {
      closeFd(listenFd);
      throw err;
    }
    return { lockFd, listenFd };
  } catch (err) {
    closeSync(lockFd);
    throw err;
  }
}

/** A connected pair of SOCK_SEQPACKET unix sockets, close-on-exec (the listener and its standby). */
export function seqpacketPair(): [number, number] {
  const sv = Buffer.alloc(8);
  if (c().socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) !== 0) throw sysError('socketpair', 'AF_UNIX', lastErrno());
  return [sv.readInt32LE(0), sv.readInt32LE(4)];
}

/** Sets close-on-exec on an inherited fd (so it does not leak into processes we spawn). */
export function setCloexec(fd: number): void {
  if (c().fcntl(fd, F_SETFD, FD_CLOEXEC) !== 0) throw sysError('fcntl', String(fd), lastErrno());
}

/**
 * One non-blocking sendmsg(2) of `data` (one packet on SOCK_SEQPACKET) with `fds` as
 * SCM_RIGHTS. `again` when the peer's queue is full; throws on other errors (EPIPE: peer gone).
 */
export function sendWithFds(fd: number, data: Buffer, fds: readonly number[]): 'sent' | 'again' {
  const control = fds.length > 0 ? encodeScmRights(fds) : undefined;
  const iovHolder = Buffer.alloc(16);
  const { iov, msg } = encodeMsghdr({ dataAddr: addressOf(data), dataLen: data.length, controlAddr: control ? addressOf(control) : 0n, controlLen: control?.length ?? 0, iovAddr: addressOf(iovHolder) });
  iov.copy(iovHolder);
  for (;;) {
    if (c().sendmsg(fd, msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) return 'sent';
    const e = lastErrno();
    if (e === osConstants.errno.EINTR) continue;
    if (e === osConstants.errno.EAGAIN) return 'again';
    throw sysError('sendmsg', String(fd), e);
  }
}

/** A file mapped MAP_SHARED read-write: `address` for the kernel, `view` for us. Never unmapped (lives as long as the process). */
export function mapShared(fd: number, length: number): { address: bigint; view: Buffer } {
  const p = c().mmap(null, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const address = addressOf(p);
  if (address === 0n || address === 0xffffffffffffffffn) throw sysError('mmap', String(fd), lastErrno());
  return { address, view: Buffer.from(viewOf(p, length)) };
}

/** True when `fd` is a seccomp notify fd (`anon_inode:seccomp notify`), not whatever a peer sent. */
export function isNotifyFd(fd: number): boolean {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:seccomp notify';
  } catch {
    return false;
  }
}

/** An Error shaped like Node's system errors (`code` 'ENOENT', `errno` negative). */
export { sysError };
