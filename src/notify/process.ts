// Starting and finding the listener process (host, for moatd and tests).
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, constants as fsConstants } from 'node:fs';
import net from 'node:net';
import { EngineError } from '../base/index.js';
import { daemonLockPath, pidPath, logPath, standbyPidPath, readPidFileSync } from './files.js';
import { claimListenerSocket, closeFd, tryLockShared } from './kernel.js';
import { encodeIdleExitRequest, parseIdleExitAnswer } from './idle.js';

export interface ListenerProcessOptions {
  /** Unix socket runc connects to: the `listenerPath` of every converted profile (< 108 bytes). */
  readonly socket: string;
  /** Directory for rule tables, records, pid, lock and log (created 0700). */
  readonly stateDir: string;
  /** `bin/moat-seccomp-listener` (or `dist/src/notify/main.js` run by node). */
  readonly listenerBin: string;
  /** Default `process.execPath`. */
  readonly node?: string;
  readonly logLevel?: 'debug' | 'info' | 'warn';
  /** How long to wait for the socket to accept connections. Default 10 s. */
  readonly timeoutMs?: number;
  /** Extra environment (tests: MOAT_LISTENER_FAULT). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Return once the listener is spawned, not once it serves: this process takes the lock and
   * binds the socket first and hands both to it, so runc can connect at once (its fd waits in
   * the socket's backlog while the listener starts). `ready` then settles when it serves.
   */
  readonly early?: boolean;
}

export interface StartedListener {
  pid: number;
  /** False when a running listener was found. */
  started: boolean;
  /** With `early`: true once the started listener serves, false if it exits or never does. */
  ready?: Promise<boolean>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** True while `pid` runs: a zombie (exited, not yet reaped by its new parent, init) is gone. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function readPid(stateDir: string): number | undefined {
  return readPidFileSync(pidPath(stateDir));
}

/** True when `pid` runs the listener program (not a reused pid). */
function isListener(pid: number): boolean {
  try {
    return /seccomp-listener|notify\/main\.js/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * True while `pid` runs the listener program: what a create checks of a listener it already
 * found (two reads in /proc, no connection).
 */
export function isListenerRunning(pid: number): boolean {
  return alive(pid) && isListener(pid);
}

/** True when something accepts connections on `socket`. */
export function canConnect(socket: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ path: socket });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * The running listener for `stateDir` (pid from its pid file, process alive, socket
 * accepting), or undefined.
 *
 * @example
 * const l = await findListenerProcess({ socket, stateDir }); // { pid: 4242 } | undefined
 */
export async function findListenerProcess(o: { socket: string; stateDir: string }): Promise<{ pid: number } | undefined> {
  const pid = readPid(o.stateDir);
  if (pid === undefined || !isListenerRunning(pid)) return undefined;
  return (await canConnect(o.socket)) ? { pid } : undefined;
}

/**
 * moatd's shared lock on `<stateDir>/daemon.lock`, held (the fd left open, close-on-exec) for
 * as long as the process lives: a listener that finds it free knows no moatd will ask it to
 * exit, and exits on its own once idle. A listener that just took the lock exclusively to
 * exit holds it for a moment: retried for up to `waitMs`. Undefined when it cannot be had.
 */
export async function holdDaemonLock(stateDir: string, waitMs = 5000): Promise<number | undefined> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const fd = openSync(daemonLockPath(stateDir), fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW, 0o600);
  const end = Date.now() + waitMs;
  try {
    for (;;) {
      if (tryLockShared(fd)) return fd;
      if (Date.now() >= end) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  } catch {
    // flock refused: the same as not having it.
  }
  closeSync(fd);
  return undefined;
}

/**
 * The standby of `stateDir`'s listener (the process that holds copies of the notify fds and
 * takes over if the listener dies), or undefined.
 *
 * @example
 * const s = findStandbyProcess({ stateDir }); // { pid: 4243 } | undefined
 */
export function findStandbyProcess(o: { stateDir: string }): { pid: number } | undefined {
  const pid = readPidFileSync(standbyPidPath(o.stateDir));
  return pid !== undefined && isListenerRunning(pid) ? { pid } : undefined;
}

/**
 * Starts the listener detached (its own session, stdio to `<stateDir>/listener.log`) unless
 * one already serves `stateDir`; waits until its socket accepts connections, or with `early`
 * binds the socket itself and returns at once (`ready` tells when the listener serves).
 * Idempotent: call it at moatd startup and before each container create. `started` is false
 * when an existing listener was found. Throws EngineError `internal` (ERR_SECCOMP_LISTENER).
 *
 * @example
 * const { pid } = await startListenerProcess({ socket: join(execRoot, 'seccomp.sock'), stateDir: join(execRoot, 'seccomp'), listenerBin: join(repo, 'bin/moat-seccomp-listener') });
 */
export async function startListenerProcess(o: ListenerProcessOptions): Promise<StartedListener> {
  const existing = await findListenerProcess(o);
  if (existing !== undefined) return { ...existing, started: false };
  mkdirSync(o.stateDir, { recursive: true, mode: 0o700 });
  const logFd = openSync(logPath(o.stateDir), fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW, 0o600);
  let early: { lockFd: number; listenFd: number } | undefined;
  let exited: number | null | undefined;
  let child;
  try {
    try {
      // Another process holding the lock (a listener starting) leaves the plain start below.
      early = o.early === true ? claimListenerSocket(o.socket, o.stateDir) : undefined;
    } catch (err) {
      throw new EngineError('internal', 'ERR_SECCOMP_LISTENER', `Cannot start the seccomp listener: ${(err as Error).message}`, { cause: err });
    }
    const args = [o.listenerBin, '--socket', o.socket, '--state-dir', o.stateDir, '--log-level', o.logLevel ?? 'info'];
    child = spawn(o.node ?? process.execPath, early !== undefined ? [...args, '--lock-fd', '3', '--listen-fd', '4'] : args, {
      detached: true,
      ...(o.env !== undefined ? { env: { ...process.env, ...o.env } } : {}),
      stdio: early !== undefined ? ['ignore', logFd, logFd, early.lockFd, early.listenFd] : ['ignore', logFd, logFd],
      cwd: '/',
    });
  } finally {
    closeSync(logFd);
    // The child holds its own copies: the lock stays taken through them, and the socket
    // closes (refusing runc at once) if the child dies before it serves.
    if (early !== undefined) {
      closeSync(early.lockFd);
      closeFd(early.listenFd);
    }
  }
  child.on('exit', (code) => (exited = code));
  child.on('error', () => (exited = -1));
  child.unref();
  const deadline = Date.now() + (o.timeoutMs ?? 10_000);
  if (early !== undefined && child.pid !== undefined) {
    const pid = child.pid;
    const ready = (async (): Promise<boolean> => {
      while (Date.now() < deadline) {
        if ((await findListenerProcess(o))?.pid === pid) return true;
        if (exited !== undefined) return false;
        await sleep(20);
      }
      // Alive but not serving: runc's fds would wait in its backlog, and their containers'
      // notified syscalls with them. Ended, it closes the socket and they get ENOSYS.
      if (exited === undefined) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      return false;
    })();
    return { pid, started: true, ready };
  }
  while (Date.now() < deadline) {
    const found = await findListenerProcess(o);
    if (found !== undefined) return { pid: found.pid, started: found.pid === child.pid };
    if (exited !== undefined && exited !== 0) break;
    await sleep(exited === 0 ? 50 : 20); // 0: lost a start race; the winner is coming up
  }
  let tail = '';
  try {
    tail = readFileSync(logPath(o.stateDir), 'utf8').split('\n').slice(-5).join('\n');
  } catch {
    // no log
  }
  if (child.pid !== undefined && exited === undefined) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  throw new EngineError('internal', 'ERR_SECCOMP_LISTENER', `Cannot start the seccomp listener: ${exited !== undefined ? `exit status ${String(exited)}` : 'socket not ready in time'}`, { cause: new Error(tail) });
}

/**
 * Asks the listener on `socket` to exit (with its standby) if it has held no notify fd for
 * `graceMs`. `exiting` once it agreed (then wait for its pid to go before starting another);
 * `busy` when it declined, did not answer in time, or is not there.
 *
 * @example
 * if ((await requestIdleExit({ socket, graceMs: 5000 })) === 'exiting') await waitForExit([pid], 5000);
 */
export function requestIdleExit(o: { socket: string; graceMs: number; timeoutMs?: number }): Promise<'exiting' | 'busy'> {
  return new Promise((resolve) => {
    const s = net.connect({ path: o.socket });
    const chunks: Buffer[] = [];
    let settled = false;
    const done = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve(parseIdleExitAnswer(Buffer.concat(chunks).toString('utf8')));
    };
    const timer = setTimeout(done, o.timeoutMs ?? 2000);
    s.once('connect', () => s.write(encodeIdleExitRequest(o.graceMs)));
    s.on('data', (d: Buffer) => chunks.push(d));
    s.once('end', done);
    s.once('close', done);
    s.once('error', done);
  });
}

/** Waits until none of `pids` runs (a zombie counts as gone); false when one still runs at the deadline. */
export async function waitForExit(pids: readonly number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!pids.some((p) => alive(p))) return true;
    if (Date.now() >= deadline) return false;
    await sleep(20);
  }
}

/**
 * Sends SIGTERM to the listener of `stateDir` and waits for it and its standby to exit
 * (tests, uninstall): the listener tells its standby not to take over. Containers then get
 * ENOSYS for their notified syscalls.
 */
export async function stopListenerProcess(o: { stateDir: string; timeoutMs?: number }): Promise<void> {
  const pid = readPid(o.stateDir);
  const standby = findStandbyProcess(o)?.pid;
  const deadline = Date.now() + (o.timeoutMs ?? 5000);
  const kill = (p: number, sig: NodeJS.Signals): void => {
    try {
      process.kill(p, sig);
    } catch {
      // gone
    }
  };
  if (pid !== undefined && isListenerRunning(pid)) {
    kill(pid, 'SIGTERM');
    while (alive(pid) && Date.now() < deadline) await sleep(20);
    if (alive(pid)) {
      // The standby first, so it cannot take over from a listener we kill.
      if (standby !== undefined) kill(standby, 'SIGKILL');
      kill(pid, 'SIGKILL');
    }
  }
  if (standby !== undefined) {
    // It exits on the listener's stop message, or when its link closes with nothing to keep.
    while (alive(standby) && Date.now() < deadline + 2000) await sleep(20);
    if (alive(standby)) kill(standby, 'SIGKILL');
  }
}
