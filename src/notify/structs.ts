// The kernel's seccomp user-notification structs and the socket structs the listener needs,
// as pure encoders and decoders over Buffers (x86_64 / little-endian 64-bit layout).
//
// Sources: include/uapi/linux/seccomp.h (struct seccomp_notif, seccomp_notif_resp,
// seccomp_data, SECCOMP_IOCTL_NOTIF_*), man-pages seccomp_unotify.2, cmsg.3, recvmsg.2.
// The sizes and ioctl numbers were checked on the target machine by compiling a C program
// against linux/seccomp.h (SECCOMP_GET_NOTIF_SIZES also reports 80 / 24 / 64 there).
import { parseJsonObject } from '../base/index.js';

/** `_IOWR('!', 0, struct seccomp_notif)` */
export const SECCOMP_IOCTL_NOTIF_RECV = 0xc0502100;
/** `_IOWR('!', 1, struct seccomp_notif_resp)` */
export const SECCOMP_IOCTL_NOTIF_SEND = 0xc0182101;
/** `_IOW('!', 2, __u64)` */
export const SECCOMP_IOCTL_NOTIF_ID_VALID = 0x40082102;
/** Lets the syscall run (the kernel header warns: racy, never a security decision). */
export const SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1;

export const SECCOMP_NOTIF_SIZE = 80;
export const SECCOMP_NOTIF_RESP_SIZE = 24;
export const SECCOMP_DATA_SIZE = 64;

/** One notification as the kernel reports it (`struct seccomp_notif`). */
export interface SeccompNotif {
  /** Cookie to answer with; valid until answered or the task leaves the syscall. */
  readonly id: bigint;
  /** Thread id of the caller in the listener's pid namespace. */
  readonly pid: number;
  readonly flags: number;
  /** `seccomp_data.nr`: x32 calls carry bit 30. Unsigned here. */
  readonly nr: number;
  /** `seccomp_data.arch`: AUDIT_ARCH_* */
  readonly arch: number;
  readonly ip: bigint;
  /** Six u64 arguments as the registers held them. */
  readonly args: readonly bigint[];
}

/**
 * Decodes a filled `struct seccomp_notif` (80 bytes).
 *
 * @example
 * const n = decodeNotif(buf); // { id: 17n, pid: 4242, nr: 250, arch: 0xc000003e, args: [...] }
 */
export function decodeNotif(buf: Uint8Array): SeccompNotif {
  if (buf.byteLength < SECCOMP_NOTIF_SIZE) throw new RangeError(`seccomp_notif needs ${SECCOMP_NOTIF_SIZE} bytes, got ${buf.byteLength}`);
  const v = new DataView(buf.buffer, buf.byteOffset, SECCOMP_NOTIF_SIZE);
  const args: bigint[] = [];
  for (let i = 0; i < 6; i++) args.push(v.getBigUint64(32 + 8 * i, true));
  return {
    id: v.getBigUint64(0, true),
    pid: v.getUint32(8, true),
    flags: v.getUint32(12, true),
    nr: v.getUint32(16, true),
    arch: v.getUint32(20, true),
    ip: v.getBigUint64(24, true),
    args,
  };
}

/** Encodes a notification (the inverse of {@link decodeNotif}); for tests and fakes. */
export function encodeNotif(n: SeccompNotif): Buffer {
  const buf = Buffer.alloc(SECCOMP_NOTIF_SIZE);
  buf.writeBigUInt64LE(n.id, 0);
  buf.writeUInt32LE(n.pid >>> 0, 8);
  buf.writeUInt32LE(n.flags >>> 0, 12);
  buf.writeUInt32LE(n.nr >>> 0, 16);
  buf.writeUInt32LE(n.arch >>> 0, 20);
  buf.writeBigUInt64LE(BigInt.asUintN(64, n.ip), 24);
  for (let i = 0; i < 6; i++) buf.writeBigUInt64LE(BigInt.asUintN(64, n.args[i] ?? 0n), 32 + 8 * i);
  return buf;
}

/** The answer to one notification (`struct seccomp_notif_resp`). */
export interface SeccompNotifResp {
  readonly id: bigint;
  /** Return value when `error` is 0 (and no CONTINUE). */
  readonly val: bigint;
  /** A negative errno, or 0. */
  readonly error: number;
  readonly flags: number;
}

/**
 * Encodes `struct seccomp_notif_resp` (24 bytes).
 *
 * @example
 * encodeResp(denyResp(n.id, 1)); // the caller sees -1 / EPERM
 */
export function encodeResp(r: SeccompNotifResp): Buffer {
  const buf = Buffer.alloc(SECCOMP_NOTIF_RESP_SIZE);
  buf.writeBigUInt64LE(r.id, 0);
  buf.writeBigInt64LE(r.val, 8);
  buf.writeInt32LE(r.error, 16);
  buf.writeUInt32LE(r.flags >>> 0, 20);
  return buf;
}

/** Decodes `struct seccomp_notif_resp`; for tests. */
export function decodeResp(buf: Uint8Array): SeccompNotifResp {
  const v = new DataView(buf.buffer, buf.byteOffset, SECCOMP_NOTIF_RESP_SIZE);
  return { id: v.getBigUint64(0, true), val: v.getBigInt64(8, true), error: v.getInt32(16, true), flags: v.getUint32(20, true) };
}

/** The answer that fails the syscall with `errno` (1..4095). */
export function denyResp(id: bigint, errno: number): SeccompNotifResp {
  return { id, val: 0n, error: -Math.min(Math.max(errno | 0, 1), 4095), flags: 0 };
}

/** The answer that lets the syscall run (kernel >= 5.5); `val` and `error` must be 0. */
export function continueResp(id: bigint): SeccompNotifResp {
  return { id, val: 0n, error: 0, flags: SECCOMP_USER_NOTIF_FLAG_CONTINUE };
}

// ---- recvmsg(2) with SCM_RIGHTS --------------------------------------------------------

export const SOL_SOCKET = 1;
export const SCM_RIGHTS = 1;
export const MSG_CTRUNC = 0x8;
export const MSG_CMSG_CLOEXEC = 0x40000000;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
export const MSGHDR_SIZE = 56;
export const IOVEC_SIZE = 16;
const CMSGHDR_SIZE = 16; // size_t cmsg_len; int cmsg_level; int cmsg_type
const align8 = (n: number): number => (n + 7) & ~7;

/** `CMSG_SPACE(4 * fds)`: control buffer bytes for `fds` descriptors. */
export function cmsgSpace(fds: number): number {
  return CMSGHDR_SIZE + align8(4 * fds);
}

/**
 * Encodes `struct iovec` + `struct msghdr` for recvmsg(2) or sendmsg(2) from buffer addresses
 * (`koffi.address(buf)`). Returns the two buffers; the caller keeps the data and control
 * buffers alive for the call.
 */
export function encodeMsghdr(o: { dataAddr: bigint; dataLen: number; controlAddr: bigint; controlLen: number; iovAddr: bigint }): { iov: Buffer; msg: Buffer } {
  const iov = Buffer.alloc(IOVEC_SIZE);
  iov.writeBigUInt64LE(o.dataAddr, 0);
  iov.writeBigUInt64LE(BigInt(o.dataLen), 8);
  const msg = Buffer.alloc(MSGHDR_SIZE);
  // msg_name NULL, msg_namelen 0
  msg.writeBigUInt64LE(o.iovAddr, 16); // msg_iov
  msg.writeBigUInt64LE(1n, 24); // msg_iovlen
  msg.writeBigUInt64LE(o.controlAddr, 32); // msg_control
  msg.writeBigUInt64LE(BigInt(o.controlLen), 40); // msg_controllen
  return { iov, msg };
}

/** Reads back `msg_controllen` and `msg_flags` after recvmsg(2). */
export function decodeMsghdrResult(msg: Uint8Array): { controlLen: number; flags: number } {
  const v = new DataView(msg.buffer, msg.byteOffset, MSGHDR_SIZE);
  return { controlLen: Number(v.getBigUint64(40, true)), flags: v.getInt32(48, true) };
}

/**
 * The descriptors of every SCM_RIGHTS message in a control buffer (`CMSG_FIRSTHDR` /
 * `CMSG_NXTHDR` walk). Other control messages are skipped.
 *
 * @example
 * parseScmRights(control.subarray(0, controlLen)); // [7]
 */
export function parseScmRights(control: Uint8Array): number[] {
  const v = new DataView(control.buffer, control.byteOffset, control.byteLength);
  const fds: number[] = [];
  let off = 0;
  while (off + CMSGHDR_SIZE <= control.byteLength) {
    const len = Number(v.getBigUint64(off, true));
    if (len < CMSGHDR_SIZE || off + len > control.byteLength) break;
    const level = v.getInt32(off + 8, true);
    const type = v.getInt32(off + 12, true);
    if (level === SOL_SOCKET && type === SCM_RIGHTS) {
      for (let p = off + CMSGHDR_SIZE; p + 4 <= off + len; p += 4) fds.push(v.getInt32(p, true));
    }
    off += align8(len);
  }
  return fds;
}

/** Builds one SCM_RIGHTS control message (the inverse of {@link parseScmRights}). */
export function encodeScmRights(fds: readonly number[]): Buffer {
  const buf = Buffer.alloc(cmsgSpace(fds.length));
  buf.writeBigUInt64LE(BigInt(CMSGHDR_SIZE + 4 * fds.length), 0);
  buf.writeInt32LE(SOL_SOCKET, 8);
  buf.writeInt32LE(SCM_RIGHTS, 12);
  fds.forEach((fd, i) => buf.writeInt32LE(fd, CMSGHDR_SIZE + 4 * i));
  return buf;
}

// ---- the message runc sends --------------------------------------------------------------

/**
 * What runc sends on `listenerPath` (runc `libcontainer/specconv`/`seccomp` 1.1:
 * `specs.ContainerProcessState`), with the notify fd as SCM_RIGHTS.
 */
export interface ContainerProcessState {
  readonly ociVersion: string;
  /** Names of the attached fds, in order; the notify fd is `"seccompFd"`. */
  readonly fds: readonly string[];
  readonly pid: number;
  readonly metadata: string;
  readonly state: { readonly ociVersion: string; readonly id: string; readonly status: string; readonly pid: number; readonly bundle: string; readonly annotations?: Readonly<Record<string, string>> };
}

/** Container ids runc accepts (runc `validateID`); also safe as a file name. */
const ID = /^[A-Za-z0-9][A-Za-z0-9_+.-]{0,127}$/;

/** True when `id` can name a container's state files (no slashes, no dot files). */
export function isSafeContainerId(id: string): boolean {
  return ID.test(id) && id !== '.' && id !== '..';
}

/**
 * Parses runc's state message; undefined when it is not one (wrong shape, unsafe id, no
 * `seccompFd`).
 *
 * @example
 * tryParseProcessState(text)?.state.id; // 'c0ffee…'
 */
export function tryParseProcessState(text: string): (ContainerProcessState & { seccompFdIndex: number }) | undefined {
  const o = parseJsonObject(text);
  if (o === undefined) return undefined;
  const state = o['state'] as Record<string, unknown> | undefined;
  if (!Array.isArray(o['fds']) || typeof state !== 'object' || state === null) return undefined;
  if (typeof state['id'] !== 'string' || !isSafeContainerId(state['id'])) return undefined;
  const fds = (o['fds'] as unknown[]).map(String);
  const seccompFdIndex = fds.indexOf('seccompFd');
  if (seccompFdIndex < 0) return undefined;
  return {
    ociVersion: String(o['ociVersion'] ?? ''),
    fds,
    pid: Number(o['pid'] ?? 0),
    metadata: String(o['metadata'] ?? ''),
    state: {
      ociVersion: String(state['ociVersion'] ?? ''),
      id: state['id'],
      status: String(state['status'] ?? ''),
      pid: Number(state['pid'] ?? 0),
      bundle: String(state['bundle'] ?? ''),
      ...(typeof state['annotations'] === 'object' && state['annotations'] !== null ? { annotations: state['annotations'] as Record<string, string> } : {}),
    },
    seccompFdIndex,
  };
}
