/**
 * Who is on the other end of a unix socket: SO_PEERCRED through libc's getsockopt (koffi),
 * and names for uids/gids from the host's /etc/passwd and /etc/group. dockerd sees nobody
 * on its unix socket; moat does.
 *
 * Host code: FFI and file reads.
 */
import { readFileSync } from 'node:fs';
import { EngineError } from '../base/index.js';
import { libc, lastErrno } from '../sys/index.js';

/**
 * The kernel's record of a unix socket peer.
 *
 * @example
 * const { uid }: PeerCred = getPeerCred(fd);
 */
export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
/** struct ucred { pid_t pid; uid_t uid; gid_t gid; } */
const UCRED_SIZE = 12;

/**
 * The credentials of the process that connected a unix socket, as the kernel recorded them
 * at connect time (not spoofable by the peer).
 *
 * @example
 * const fd = (req.socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
 * const { uid, gid, pid } = getPeerCred(fd!);
 */
export function getPeerCred(fd: number): PeerCred {
  if (!Number.isInteger(fd) || fd < 0) throw new EngineError('internal', 'ERR_AUTHZ_PEERCRED', `Cannot read peer credentials: invalid file descriptor ${fd}`);
  const buf = Buffer.alloc(UCRED_SIZE);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(UCRED_SIZE, 0);
  if (libc().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, buf, len) !== 0) {
    const errno = lastErrno();
    throw new EngineError('internal', 'ERR_AUTHZ_PEERCRED', `Cannot read peer credentials: getsockopt(SO_PEERCRED) failed with errno ${errno}`);
  }
  if (len.readUInt32LE(0) !== UCRED_SIZE) throw new EngineError('internal', 'ERR_AUTHZ_PEERCRED', `Cannot read peer credentials: unexpected length ${len.readUInt32LE(0)}`);
  return { pid: buf.readInt32LE(0), uid: buf.readUInt32LE(4), gid: buf.readUInt32LE(8) };
}

/**
 * The file descriptor under a Node unix-socket connection (`req.socket`), or undefined (TCP
 * handles have one too; only call this for connections accepted on a unix listener).
 *
 * @example
 * const fd = socketFd(req.socket);
 */
export function socketFd(socket: unknown): number | undefined {
  const fd = (socket as { _handle?: { fd?: unknown } } | null)?._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

interface FileOption {
  /** Default /etc/passwd. */
  passwdPath?: string;
  /** Default /etc/group. */
  groupPath?: string;
}

// Read at once, not through the thread pool: two small host files at every connection, where
// four pool round trips each cost the caller ~0.5 ms per connection (docs/performance.md, phase F).
function readLines(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/**
 * The user name of a uid from /etc/passwd (first match), or undefined.
 *
 * @example
 * await userNameForUid(0) // 'root'
 */
export async function userNameForUid(uid: number, options: FileOption = {}): Promise<string | undefined> {
  for (const line of readLines(options.passwdPath ?? '/etc/passwd')) {
    const f = line.split(':');
    if (f.length >= 4 && f[2] === String(uid) && f[0]) return f[0];
  }
  return undefined;
}

/**
 * The group names of a user: the primary group (by gid) and every group in /etc/group that
 * lists the user as a member.
 *
 * @example
 * await groupsForUser('alice', 1000) // ['alice', 'docker']
 */
export async function groupsForUser(user: string | undefined, gid: number | undefined, options: FileOption = {}): Promise<string[]> {
  const out: string[] = [];
  for (const line of readLines(options.groupPath ?? '/etc/group')) {
    const f = line.split(':');
    if (f.length < 4 || !f[0]) continue;
    const members = (f[3] ?? '').split(',').map((m) => m.trim());
    if ((gid !== undefined && f[2] === String(gid)) || (user !== undefined && members.includes(user))) {
      if (!out.includes(f[0])) out.push(f[0]);
    }
  }
  return out;
}

/**
 * The identity of a unix-socket caller: uid/gid/pid, user name (decimal uid when /etc/passwd
 * has none) and groups, with auth method `SO_PEERCRED`.
 *
 * @example
 * const identity = await identifyUnixPeer(socketFd(req.socket)!);
 */
export async function identifyUnixPeer(fd: number, options: FileOption = {}): Promise<{ user: string; authMethod: string; uid: number; gid: number; pid: number; groups: string[] }> {
  const cred = getPeerCred(fd);
  const name = (await userNameForUid(cred.uid, options)) ?? String(cred.uid);
  const groups = await groupsForUser(name, cred.gid, options);
  return { user: name, authMethod: 'SO_PEERCRED', uid: cred.uid, gid: cred.gid, pid: cred.pid, groups };
}
