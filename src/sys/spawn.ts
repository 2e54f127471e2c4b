// A long-running helper (a container's conmon) started with posix_spawn instead of Node's
// spawn. libuv forks: the kernel copies the page tables of moatd (~70 MiB resident) and the
// child execs from that copy, 1.3 ms of moatd's main thread per container on this VM, on
// the way to every start. glibc's posix_spawn runs the child on moatd's memory until it
// execs (CLONE_VM | CLONE_VFORK): ~0.2 ms (docs/performance.md, phase G). Host code.
//
// What libuv does for a child is done here: stdin from /dev/null, the given fds, the working
// directory, a session of its own, every signal back to its default and none blocked (Node
// ignores SIGPIPE, and an ignored signal stays ignored across exec: conmon, runc and the
// container's process would inherit it). Node does not reap a child it did not spawn: a
// SIGCHLD listener reaps these by pid (waitpid(-1) would take libuv's children from it).
import { EngineError, errnoName } from '../base/index.js';
import { libc, lastErrno } from './libc.js';

const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const WNOHANG = 1;
// glibc's spawn.h
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
// x86_64 and aarch64 glibc: sizeof(posix_spawn_file_actions_t), sizeof(posix_spawnattr_t), sizeof(sigset_t)
const FILE_ACTIONS_SIZE = 80;
const ATTR_SIZE = 336;
const SIGSET_SIZE = 128;

export interface DetachedSpawn {
  /** The program (absolute path: posix_spawn does not search PATH). */
  file: string;
  argv: readonly string[];
  env: Readonly<Record<string, string>>;
  cwd: string;
  /** The child's stdout and stderr (stdin is /dev/null). */
  outputFd: number;
  /** How many pipes the child gets as fds 3, 4 …, each child-to-moatd (the child writes). */
  pipes: number;
  /** How many moatd-to-child pipes (the child reads) follow those. */
  inputPipes?: number;
}

/** Children spawned here that have not been reaped yet. */
const unreaped = new Set<number>();
let reaping = false;

function reap(): void {
  for (const pid of unreaped) {
    const r = libc().waitpid(pid, [0], WNOHANG);
    // r === pid: reaped; -1 (ECHILD): not ours any more; 0: still running.
    if (r !== 0) unreaped.delete(pid);
  }
}

/** How many of these children are still to be reaped (tests). */
export function unreapedChildren(): number {
  reap();
  return unreaped.size;
}

function check(rc: number, what: string): void {
  if (rc !== 0) throw new EngineError('internal', 'ERR_SPAWN', `${what} failed: ${errnoName(rc)}`);
}

/**
 * Start `o.file` detached (its own session), not waited for; resolves with its pid, the
 * read ends of its pipes (O_CLOEXEC, for a net.Socket) and the write ends of its input
 * pipes (O_CLOEXEC, blocking). Throws an EngineError naming the errno
 * when it cannot be started (ENOENT for a missing program, EACCES …).
 *
 * @example
 * const { pid, pipes: [sync] } = spawnDetached({ file: '/usr/bin/conmon', argv: ['conmon', ...args], env, cwd: bundle, outputFd: errFd, pipes: 1 });
 */
export function spawnDetached(o: DetachedSpawn): { pid: number; pipes: number[]; inputPipes: number[] } {
  const c = libc();
  if (!reaping) {
    reaping = true;
    process.on('SIGCHLD', reap);
  }
  const ours: number[] = [];
  const theirs: number[] = [];
  const actions = Buffer.alloc(FILE_ACTIONS_SIZE);
  const attr = Buffer.alloc(ATTR_SIZE);
  let actionsMade = false;
  let attrMade = false;
  try {
    const inputs = o.inputPipes ?? 0;
    for (let i = 0; i < o.pipes + inputs; i++) {
      const fds = Buffer.alloc(8);
      if (c.pipe2(fds, O_CLOEXEC) !== 0) throw new EngineError('internal', 'ERR_SPAWN', `pipe2 failed: ${errnoName(lastErrno())}`);
      // [read, write]: the child writes the first `pipes`, reads the rest.
      const input = i >= o.pipes;
      ours.push(fds.readInt32LE(input ? 4 : 0));
      theirs.push(fds.readInt32LE(input ? 0 : 4));
    }
    check(c.posix_spawn_file_actions_init(actions), 'posix_spawn_file_actions_init');
    actionsMade = true;
    check(c.posix_spawn_file_actions_addopen(actions, 0, '/dev/null', O_RDONLY, 0), 'posix_spawn_file_actions_addopen');
    check(c.posix_spawn_file_actions_adddup2(actions, o.outputFd, 1), 'posix_spawn_file_actions_adddup2');
    check(c.posix_spawn_file_actions_adddup2(actions, o.outputFd, 2), 'posix_spawn_file_actions_adddup2');
    // dup2 onto 3, 4 … clears O_CLOEXEC there (glibc ≥ 2.29 also when the numbers are
    // equal); the originals close at exec. libuv's own fds hold moatd's 3 and 4, so no
    // pipe end is a target of another pipe's dup2.
    theirs.forEach((fd, i) => check(c.posix_spawn_file_actions_adddup2(actions, fd, 3 + i), 'posix_spawn_file_actions_adddup2'));
    check(c.posix_spawn_file_actions_addchdir_np(actions, o.cwd), 'posix_spawn_file_actions_addchdir_np');
    check(c.posix_spawnattr_init(attr), 'posix_spawnattr_init');
    attrMade = true;
    const all = Buffer.alloc(SIGSET_SIZE);
    const none = Buffer.alloc(SIGSET_SIZE);
    c.sigfillset(all);
    // glibc's two internal signals (32, 33) are left out of sigfillset, and its spawned child
    // ignores those not in this set: put in by bit, as libuv's child has them at default.
    all.writeUInt8(all.readUInt8(3) | 0x80, 3);
    all.writeUInt8(all.readUInt8(4) | 0x01, 4);
    c.sigemptyset(none);
    check(c.posix_spawnattr_setsigdefault(attr, all), 'posix_spawnattr_setsigdefault');
    check(c.posix_spawnattr_setsigmask(attr, none), 'posix_spawnattr_setsigmask');
    check(c.posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK), 'posix_spawnattr_setflags');
    const pid = [0];
    const env = Object.entries(o.env).map(([k, v]) => `${k}=${v}`);
    const rc = c.posix_spawn(pid, o.file, actions, attr, [...o.argv, null], [...env, null]);
    if (rc !== 0) throw new EngineError('internal', 'ERR_SPAWN', `Cannot run ${o.file}: ${errnoName(rc)}`);
    unreaped.add(pid[0]!);
    const out = { pid: pid[0]!, pipes: ours.slice(0, o.pipes), inputPipes: ours.slice(o.pipes) };
    ours.length = 0;
    return out;
  } finally {
    if (actionsMade) c.posix_spawn_file_actions_destroy(actions);
    if (attrMade) c.posix_spawnattr_destroy(attr);
    for (const fd of [...theirs, ...ours]) c.close(fd);
  }
}
