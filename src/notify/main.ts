// moat-seccomp-listener: the process that answers SCMP_ACT_NOTIFY rules for every container
// of one moatd, and writes down each denial. Started detached by moatd (like conmon, it
// outlives moatd, because the containers do); at most one per state dir (flock).
//
//   moat-seccomp-listener --socket <exec-root>/seccomp.sock --state-dir <exec-root>/seccomp [--log-level info]
//
// Exit status: 0 after SIGTERM/SIGINT or when another listener already holds the state dir,
// 1 on a startup error, 2 on a usage error.
import { mkdirSync, openSync, closeSync, lstatSync, unlinkSync, chmodSync, readFileSync, rmSync, constants as fsConstants } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import { createLogger, writeFileAtomic, type LogLevel } from '../base/index.js';
import { listenUnix, tryLockExclusive, closeFd } from './kernel.js';
import { lockPath, pidPath } from './files.js';
import { LISTENER_WORKER_TAG, type ListenerWorkerData } from './listener.js';

export interface ListenerArgs {
  socket: string;
  stateDir: string;
  logLevel: 'debug' | 'info' | 'warn';
}

/** Parses the command line; throws on a usage error. */
export function parseListenerArgs(argv: readonly string[]): ListenerArgs {
  let socket: string | undefined;
  let stateDir: string | undefined;
  let logLevel: ListenerArgs['logLevel'] = 'info';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--socket') socket = next();
    else if (a === '--state-dir') stateDir = next();
    else if (a === '--log-level') {
      const v = next();
      if (v !== 'debug' && v !== 'info' && v !== 'warn') throw new Error(`--log-level: debug, info or warn, not ${JSON.stringify(v)}`);
      logLevel = v;
    } else throw new Error(`unknown argument ${JSON.stringify(a)}`);
  }
  if (socket === undefined || stateDir === undefined) throw new Error('usage: moat-seccomp-listener --socket PATH --state-dir DIR [--log-level debug|info|warn]');
  return { socket: resolve(socket), stateDir: resolve(stateDir), logLevel };
}

/** Runs the listener until SIGTERM/SIGINT. Sets process.exitCode. */
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

  let lockFd = -1;
  let listenFd = -1;
  try {
    mkdirSync(args.stateDir, { recursive: true, mode: 0o700 });
    mkdirSync(dirname(args.socket), { recursive: true, mode: 0o700 });
    lockFd = openSync(lockPath(args.stateDir), fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW, 0o600);
    if (!tryLockExclusive(lockFd)) {
      log.info({ stateDir: args.stateDir }, 'another listener serves this state dir; exiting');
      closeSync(lockFd);
      process.exitCode = 0;
      return;
    }
    // We hold the lock, so a socket file left there belongs to a dead listener.
    try {
      if (!lstatSync(args.socket).isSocket()) throw new Error(`Cannot listen on ${JSON.stringify(args.socket)}: a file that is not a socket is in the way`);
      unlinkSync(args.socket);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    listenFd = listenUnix(args.socket);
    chmodSync(args.socket, 0o600);
    await writeFileAtomic(pidPath(args.stateDir), `${process.pid}\n`, 0o644);
  } catch (err) {
    log.fatal({ err }, 'cannot start the seccomp listener');
    closeFd(listenFd);
    if (lockFd >= 0) closeSync(lockFd);
    process.exitCode = 1;
    return;
  }

  const stop = new Int32Array(new SharedArrayBuffer(4));
  const data: ListenerWorkerData = { tag: LISTENER_WORKER_TAG, listenFd, stateDir: args.stateDir, stop: stop.buffer as SharedArrayBuffer, logLevel: args.logLevel };
  const worker = new Worker(new URL('./listener.js', import.meta.url), { workerData: data });
  const onSignal = (sig: NodeJS.Signals): void => {
    log.info({ signal: sig }, 'stopping; containers will get ENOSYS for notified syscalls from now on');
    Atomics.store(stop, 0, 1);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', () => log.info('SIGHUP ignored'));
  log.info({ socket: args.socket, stateDir: args.stateDir }, 'seccomp listener ready');

  const code = await new Promise<number>((done) => {
    worker.on('error', (err) => log.fatal({ err }, 'listener worker failed'));
    worker.on('exit', (c) => done(c));
  });
  try {
    if (readFileSync(pidPath(args.stateDir), 'utf8').trim() === String(process.pid)) {
      rmSync(pidPath(args.stateDir), { force: true });
      rmSync(args.socket, { force: true });
    }
  } catch {
    // already gone
  }
  closeSync(lockFd);
  process.exitCode = Atomics.load(stop, 0) === 1 && code === 0 ? 0 : 1;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
}
