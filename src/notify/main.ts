// moat-seccomp-listener: the process that answers SCMP_ACT_NOTIFY rules for every container
// of one moatd, and writes down each denial. Started detached by moatd (like conmon, it
// outlives moatd, because the containers do); at most one active listener per state dir
// (flock). It keeps a standby (the same program with `--standby`, spawned by itself, linked
// by a socket pair on fd 3) that holds copies of the notify fds and takes over at once if
// the listener dies (listener.ts, standby.ts). Both run on their main thread only.
//
//   moat-seccomp-listener --socket <exec-root>/seccomp.sock --state-dir <exec-root>/seccomp [--log-level info]
//
// Exit status: 0 after SIGTERM/SIGINT, when another listener already holds the state dir, or
// (standby) when there is nothing to take over; 1 on a startup error, 2 on a usage error.
import { mkdirSync, openSync, closeSync, rmSync, constants as fsConstants } from 'node:fs';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createLogger, type LogLevel, type Logger } from '../base/index.js';
import { claimListenerSocket, tryLockExclusive, closeFd, seqpacketPair, setCloexec } from './kernel.js';
import { lockPath, pidPath, logPath, standbyPidPath, readPidFileSync, writePidFileSync } from './paths.js';
import type { AdoptedFd, ListenerLoop } from './listener.js';
import { StandbyKeeper, type StandbyVerdict } from './standby.js';

export interface ListenerArgs {
  socket: string;
  stateDir: string;
  logLevel: 'debug' | 'info' | 'warn';
  /** Started by a listener as its standby, with the link on fd 3. */
  standby: boolean;
  /**
   * Started by moatd with the lock already taken and the socket already listening, on these
   * inherited fds: runc can connect (its fd waits in the backlog) while this process starts.
   */
  inherited?: { lockFd: number; listenFd: number };
}

/** The fd a standby finds its link to the listener on. */
const STANDBY_LINK_FD = 3;
/** Longest a standby round blocks (the link hanging up or a signal end it at once). */
const STANDBY_WAIT_MS = 1000;

/**
 * Fault injection for tests: `kill-after-recv:N` makes the active listener SIGKILL itself
 * right after its Nth RECV, before answering. Never passed to the standby.
 */
const FAULT_ENV = 'MOAT_LISTENER_FAULT';

function killAfterRecv(): number | undefined {
  const m = /^kill-after-recv:(\d+)$/.exec(process.env[FAULT_ENV] ?? '');
  return m ? Number(m[1]) : undefined;
}

/** Fault injection for the early-start test: `delay-start:MS` holds the listener back before it takes its lock and socket. */
function delayStartMs(): number {
  const m = /^delay-start:(\d+)$/.exec(process.env[FAULT_ENV] ?? '');
  return m ? Number(m[1]) : 0;
}

/** Parses the command line; throws on a usage error. */
export function parseListenerArgs(argv: readonly string[]): ListenerArgs {
  let socket: string | undefined;
  let stateDir: string | undefined;
  let logLevel: ListenerArgs['logLevel'] = 'info';
  let standby = false;
  let lockFd: number | undefined;
  let listenFd: number | undefined;
  const fdArg = (name: string, v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < 3) throw new Error(`${name}: an inherited fd number (3 or more), not ${JSON.stringify(v)}`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--socket') socket = next();
    else if (a === '--state-dir') stateDir = next();
    else if (a === '--standby') standby = true;
    else if (a === '--lock-fd') lockFd = fdArg(a, next());
    else if (a === '--listen-fd') listenFd = fdArg(a, next());
    else if (a === '--log-level') {
      const v = next();
      if (v !== 'debug' && v !== 'info' && v !== 'warn') throw new Error(`--log-level: debug, info or warn, not ${JSON.stringify(v)}`);
      logLevel = v;
    } else throw new Error(`unknown argument ${JSON.stringify(a)}`);
  }
  if (socket === undefined || stateDir === undefined) throw new Error('usage: moat-seccomp-listener --socket PATH --state-dir DIR [--log-level debug|info|warn] [--lock-fd N --listen-fd N]');
  if ((lockFd === undefined) !== (listenFd === undefined)) throw new Error('--lock-fd and --listen-fd go together');
  if (lockFd !== undefined && (standby || lockFd === listenFd)) throw new Error('--lock-fd and --listen-fd: two different fds, and not for a standby');
  return { socket: resolve(socket), stateDir: resolve(stateDir), logLevel, standby, ...(lockFd !== undefined && listenFd !== undefined ? { inherited: { lockFd, listenFd } } : {}) };
}

/**
 * Starts this program again as the standby, with one end of a socket pair as its fd 3.
 * Returns our end and its pid.
 */
function spawnStandby(args: ListenerArgs, log: Logger): { fd: number; pid: number } | undefined {
  let pair: [number, number];
  try {
    pair = seqpacketPair();
  } catch (err) {
    log.error({ err }, 'cannot make the link to a standby listener');
    return undefined;
  }
  const [mine, theirs] = pair;
  try {
    const logFd = openSync(logPath(args.stateDir), fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW, 0o600);
    try {
      const script = process.argv[1];
      if (script === undefined) throw new Error('no script path in argv');
      const { [FAULT_ENV]: _fault, ...env } = process.env;
      const child = spawn(process.execPath, [...process.execArgv, script, '--standby', '--socket', args.socket, '--state-dir', args.stateDir, '--log-level', args.logLevel], {
        env,
        detached: true,
        stdio: ['ignore', logFd, logFd, theirs],
        cwd: '/',
      });
      child.on('error', (err) => log.error({ err }, 'standby listener failed to start'));
      child.unref();
      if (child.pid === undefined) throw new Error('spawn gave no pid');
      return { fd: mine, pid: child.pid };
    } finally {
      closeSync(logFd);
      closeFd(theirs);
    }
  } catch (err) {
    log.error({ err }, 'cannot start a standby listener');
    closeFd(mine);
    return undefined;
  }
}

/**
 * The serving loop on this thread, with a standby started first (so no notify fd ever has
 * one holder) and a new one whenever the loop asks. Resolves with the exit code: 0, or 1
 * after a failure (the standby then takes over).
 */
async function runActive(args: ListenerArgs, log: Logger, o: { listenFd: number; lockFd: number; stopping: () => boolean; adopt?: readonly AdoptedFd[]; killAfterRecv?: number | undefined }): Promise<number> {
  let loop: ListenerLoop;
  try {
    // Loaded here, not at the top: a standby (resident while containers run) loads the
    // serving loop, its policy and the syscall tables only when it takes over.
    const { ListenerLoop } = await import('./listener.js');
    loop = new ListenerLoop({
      listenFd: o.listenFd,
      lockFd: o.lockFd,
      stateDir: args.stateDir,
      socketPath: args.socket,
      log,
      spawner: { spawn: () => spawnStandby(args, log) },
      standby: spawnStandby(args, log),
      adopt: o.adopt,
      killAfterRecv: o.killAfterRecv,
    });
  } catch (err) {
    log.fatal({ err }, 'cannot start the listener loop');
    return 1;
  }
  try {
    await loop.run(o.stopping);
    return 0;
  } catch (err) {
    log.fatal({ err }, 'listener loop failed');
    return 1;
  }
}

/** Runs the listener (or its standby) until SIGTERM/SIGINT or until it has nothing left to do. Sets process.exitCode. */
export async function main(argv: readonly string[]): Promise<void> {
  let args: ListenerArgs;
  try {
    args = parseListenerArgs(argv);
  } catch (err) {
    process.stderr.write(`moat-seccomp-listener: ${(err as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const log = createLogger(args.logLevel as LogLevel).child({ component: 'seccomp-listener' });
  process.chdir('/'); // hold no directory (or mount) busy
  // A slow start (the test fault): before the lock and the socket, as Node's own start-up is.
  const delay = args.standby ? 0 : delayStartMs();
  if (delay > 0) await new Promise((r) => setTimeout(r, delay));

  let lockFd = -1;
  let listenFd = -1;
  try {
    if (args.inherited !== undefined) {
      // moatd took the lock and bound the socket (startListenerProcess): ours now. Not to be
      // passed on to the standby or anything else this process starts.
      lockFd = args.inherited.lockFd;
      listenFd = args.inherited.listenFd;
      setCloexec(lockFd);
      setCloexec(listenFd);
      // The lock is held through this very open file (moatd's copy is closed): taking it
      // again succeeds; failing means it was not the lock after all.
      if (!tryLockExclusive(lockFd)) throw new Error('the inherited lock fd does not hold the listener lock');
      writePidFileSync(pidPath(args.stateDir), process.pid);
    } else if (args.standby) {
      // Never recreate a state dir removed meanwhile: the listener that started us made it.
      lockFd = openSync(lockPath(args.stateDir), fsConstants.O_RDWR | fsConstants.O_NOFOLLOW);
      // The link must not leak into the standby this process may start after a takeover.
      setCloexec(STANDBY_LINK_FD);
      // Never a directory made again: a state dir removed since the lock's open fails this.
      writePidFileSync(standbyPidPath(args.stateDir), process.pid);
    } else {
      mkdirSync(args.stateDir, { recursive: true, mode: 0o700 });
      const claimed = claimListenerSocket(args.socket, args.stateDir);
      if (claimed === undefined) {
        log.info({ stateDir: args.stateDir }, 'another listener serves this state dir; exiting');
        process.exitCode = 0;
        return;
      }
      ({ lockFd, listenFd } = claimed);
      writePidFileSync(pidPath(args.stateDir), process.pid);
    }
  } catch (err) {
    log.fatal({ err }, 'cannot start the seccomp listener');
    closeFd(listenFd);
    if (lockFd >= 0) closeSync(lockFd);
    process.exitCode = 1;
    return;
  }

  let stopping = false;
  let keeper: StandbyKeeper | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    stopping = true;
    log.info({ signal: sig }, keeper !== undefined ? 'standby stopping' : 'stopping; containers will get ENOSYS for notified syscalls from now on');
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', () => log.info('SIGHUP ignored'));

  let code = 0;
  if (args.standby) {
    // Watch on this (main) thread, no worker: a poll(2) that blocks up to a second per round
    // wakes at once when the link hangs up, and a signal interrupts it (EINTR).
    const slog = log.child({ role: 'standby' });
    keeper = new StandbyKeeper({ pairFd: STANDBY_LINK_FD, lockFd, socketPath: args.socket, stateDir: args.stateDir, log: slog });
    slog.info({ stateDir: args.stateDir }, 'standby listener ready');
    const k = keeper;
    const verdict = await new Promise<Exclude<StandbyVerdict, { kind: 'keep' }>>((done) => {
      const round = (): void => {
        let v: StandbyVerdict;
        try {
          v = stopping ? { kind: 'exit', why: 'signal' } : k.tick(STANDBY_WAIT_MS);
        } catch (err) {
          slog.error({ err }, 'standby round failed');
          v = { kind: 'exit', why: 'error' };
        }
        if (v.kind === 'keep') setImmediate(round); // lets signal handlers run between rounds
        else done(v);
      };
      setImmediate(round);
    });
    keeper = undefined;
    if (verdict.kind === 'exit') {
      k.close();
      if (verdict.why !== 'signal') slog.info({ why: verdict.why }, 'standby exiting');
    } else {
      log.info({ pid: process.pid, fds: verdict.adopt.length }, 'the listener died: this standby takes over');
      code = await runActive(args, log, { listenFd: verdict.listenFd, lockFd, stopping: () => stopping, adopt: verdict.adopt });
    }
  } else {
    log.info({ socket: args.socket, stateDir: args.stateDir }, 'seccomp listener ready');
    code = await runActive(args, log, { listenFd, lockFd, stopping: () => stopping, killAfterRecv: killAfterRecv() });
  }

  // Our pid files only: after a takeover listener.pid names us; a standby's standby.pid too.
  // After a crash the socket stays: the standby serves on it.
  const clean = code === 0 || stopping;
  try {
    if (clean && readPidFileSync(pidPath(args.stateDir)) === process.pid) {
      rmSync(pidPath(args.stateDir), { force: true });
      rmSync(args.socket, { force: true });
    }
    if (readPidFileSync(standbyPidPath(args.stateDir)) === process.pid) rmSync(standbyPidPath(args.stateDir), { force: true });
  } catch {
    // already gone
  }
  closeSync(lockFd);
  process.exitCode = code === 0 ? 0 : 1;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
}
