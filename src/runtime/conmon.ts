// Running conmon and runc (host): conmon outlives us (a container's conmon runs with
// --sync: it stays the process moatd spawned, in a session of its own, and goes to init when
// moatd ends; an exec's conmon double-forks); we learn the container's pid (or runc's error)
// from conmon's sync pipe (_OCI_SYNCPIPE). RuncRuntime (runner.ts) is built on these.
import { spawn, execFile } from 'node:child_process';
import { openSync, closeSync, writeFileSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { EngineError } from '../base/index.js';
import { spawnDetached } from '../sys/index.js';
import { conmonCreateArgs, conmonExecArgs, type ConmonCreateOptions, type ConmonExecOptions, type RuntimePaths } from './argv.js';

export const RUNC_TIMEOUT_MS = 60_000;

interface SyncMessage {
  data: number;
  message?: string;
}

/** End offset of the first complete JSON object in `text` (strings may hold braces), or -1. */
export function jsonObjectEnd(text: string): number {
  let depth = 0;
  let inString = false;
  let started = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === '{') {
      depth++;
      started = true;
    } else if (ch === '}') {
      depth--;
      if (started && depth === 0) return i + 1;
    }
  }
  return -1;
}

/** conmon's sync/attach pipes carry one JSON object per message; read them in order. */
class SyncPipe {
  #buf = '';
  #queue: SyncMessage[] = [];
  #waiters: Array<{ resolve: (m: SyncMessage) => void; reject: (e: Error) => void }> = [];
  #closed: Error | undefined;

  constructor(readonly stream: Readable) {
    stream.on('data', (chunk: Buffer) => {
      this.#buf += chunk.toString('utf8');
      for (;;) {
        const end = jsonObjectEnd(this.#buf);
        if (end < 0) break;
        const text = this.#buf.slice(0, end);
        this.#buf = this.#buf.slice(end);
        try {
          this.#push(JSON.parse(text) as SyncMessage);
        } catch {
          this.#fail(new Error(`conmon sent garbage: ${text}`));
        }
      }
    });
    const onEnd = (): void => this.#fail(new Error(`conmon exited without reporting${this.#buf ? `: ${this.#buf}` : ''}`));
    stream.on('end', onEnd);
    stream.on('error', onEnd);
    stream.on('close', onEnd);
  }

  #push(m: SyncMessage): void {
    const w = this.#waiters.shift();
    if (w) w.resolve(m);
    else this.#queue.push(m);
  }

  #fail(err: Error): void {
    if (this.#closed) return;
    this.#closed = err;
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }

  next(timeoutMs?: number): Promise<SyncMessage> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => reject(new Error(`conmon did not report within ${timeoutMs} ms`)), timeoutMs);
      const done = <T>(fn: (v: T) => void) => (v: T): void => {
        if (timer) clearTimeout(timer);
        fn(v);
      };
      this.#waiters.push({ resolve: done(resolve), reject: done(reject) });
    });
  }

  close(): void {
    this.stream.destroy();
  }
}

/** Runtime errors keep runc's words: the docker CLI picks its exit code (126/127) from them. */
export function runtimeFailure(message: string, cause?: unknown): EngineError {
  const text = message.trim().replace(/^runc create failed: /, '');
  const lower = text.toLowerCase();
  if (lower.includes('executable file not found') || lower.includes('no such file or directory')) {
    return new EngineError('invalid', 'ERR_RUNTIME_NOT_FOUND', `failed to create task for container: OCI runtime create failed: runc create failed: ${text}: unknown`, { cause });
  }
  if (lower.includes('permission denied') || lower.includes('is a directory')) {
    const suffix = lower.includes('is a directory') && !lower.includes('permission denied') ? ': permission denied' : '';
    return new EngineError('invalid', 'ERR_RUNTIME_PERMISSION', `failed to create task for container: OCI runtime create failed: runc create failed: ${text}${suffix}: unknown`, { cause });
  }
  return new EngineError('internal', 'ERR_RUNTIME_FAILED', `OCI runtime create failed: runc create failed: ${text}: unknown`, { cause });
}

/** Exit code Docker records for a failed start, chosen by the error text (moby daemon/errors.go). */
export function startFailureExitCode(err: unknown): number {
  const code = err instanceof EngineError ? err.code : '';
  if (code === 'ERR_RUNTIME_NOT_FOUND') return 127;
  if (code === 'ERR_RUNTIME_PERMISSION') return 126;
  return 128;
}

/** A container's conmon, started and waiting on its start pipe until `go`. */
export interface WaitingConmon {
  /** Let it run `runc create`; resolves with the container's pid and conmon's own. */
  go(): Promise<{ pid: number; monitorPid: number }>;
  /** End it while it waits (it never runs runc); nothing once `go` was called. */
  cancel(): void;
}

/**
 * Spawn a container's conmon (--sync: the spawned process is the monitor) waiting on its
 * start pipe (_OCI_STARTPIPE): its own start (exec and eleven libraries, ~1 ms after the
 * spawn's) runs while moatd makes the rootfs, mounts and spec. Its pid is written to `monitorPidFile` as conmon's
 * `-P` would: live restore and removals read it. Before the start pipe is read conmon only
 * opens its log file: the bundle's config.json must not exist until just before `go`, since
 * conmon reads the pipe's end (moatd gone) as a go and would create what it finds.
 */
function spawnWaitingConmon(conmon: string, args: string[], dir: string, timeoutMs: number, monitorPidFile: string): WaitingConmon {
  const errFd = openSync(`${dir}/conmon.stderr`, 'a', 0o600);
  let child: { pid: number; pipes: number[]; inputPipes: number[] };
  try {
    // conmon writes an `oom` file in its working directory when the container is OOM-killed:
    // the container's own directory, not moatd's (`/` under systemd).
    // posix_spawn, not Node's spawn (a fork of moatd: 1.3 ms of its main thread): sys/spawn.ts.
    // Not waited for (it runs as long as its container); reaped when it exits.
    child = spawnDetached({ file: conmon, argv: [conmon, ...args], env: { ...pickEnv(), _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' }, cwd: dir, outputFd: errFd, pipes: 1, inputPipes: 1 });
  } finally {
    closeSync(errFd);
  }
  const monitorPid = child.pid;
  const startFd = child.inputPipes[0]!;
  const pipe = new SyncPipe(new Socket({ fd: child.pipes[0]!, readable: true, writable: false }));
  let state: 'waiting' | 'going' | 'cancelled' = 'waiting';
  const cancel = (): void => {
    if (state !== 'waiting') return;
    state = 'cancelled';
    // Killed before its start pipe closes: it never reads that end as a go.
    try {
      process.kill(monitorPid, 'SIGKILL');
    } catch {
      // Gone already.
    }
    closeSync(startFd);
    pipe.close();
  };
  try {
    writeFileSync(monitorPidFile, String(monitorPid), { mode: 0o600 });
  } catch (err) {
    cancel();
    throw err;
  }
  const go = async (): Promise<{ pid: number; monitorPid: number }> => {
    if (state !== 'waiting') throw new EngineError('internal', 'ERR_RUNTIME_FAILED', 'conmon was cancelled');
    state = 'going';
    try {
      try {
        writeSync(startFd, '0');
      } catch {
        // conmon is gone (EPIPE): its sync pipe says so below.
      } finally {
        closeSync(startFd);
      }
      const msg = await pipe.next(timeoutMs);
      if (msg.data < 0) throw runtimeFailure(msg.message ?? 'unknown error');
      return { pid: msg.data, monitorPid };
    } finally {
      pipe.close();
    }
  };
  return { go, cancel };
}

function pickEnv(): Record<string, string> {
  return { PATH: process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
}

/** Start conmon for a container; it runs `runc create` at `go` (see spawnWaitingConmon). */
export function spawnConmonCreate(p: RuntimePaths, o: ConmonCreateOptions & { monitorPidFile: string }): WaitingConmon {
  return spawnWaitingConmon(p.conmon, conmonCreateArgs(p, o), o.bundle, RUNC_TIMEOUT_MS, o.monitorPidFile);
}

export interface ExecHooks {
  /** Connect the client's session once conmon's attach socket exists (before the process starts). */
  attach?: (() => Promise<void>) | undefined;
  /** The exec process exited with this code (conmon reports it on the sync pipe). */
  onExit: (code: number) => void;
}

/**
 * Run conmon in exec mode (`--exec-attach`): conmon waits on the start pipe, makes the
 * attach socket, reports on the attach pipe, waits for a second start message, then runs
 * `runc exec`; the sync pipe carries the pid and later the exit code.
 */
export async function spawnConmonExec(p: RuntimePaths, o: ConmonExecOptions & ExecHooks): Promise<number> {
  const errFd = openSync(`${o.dir}/conmon.stderr`, 'a', 0o600);
  try {
    const child = spawn(p.conmon, conmonExecArgs(p, o), {
      cwd: o.dir,
      stdio: ['ignore', errFd, errFd, 'pipe', 'pipe', 'pipe'],
      env: { ...pickEnv(), _OCI_SYNCPIPE: '3', _OCI_ATTACHPIPE: '4', _OCI_STARTPIPE: '5' },
      detached: true,
    });
    child.on('error', () => undefined);
    child.unref();
    const sync = new SyncPipe(child.stdio[3] as Readable);
    const attachPipe = new SyncPipe(child.stdio[4] as Readable);
    const startPipe = (child.stdio as unknown as Array<NodeJS.WritableStream & { destroy(): void }>)[5]!;
    try {
      startPipe.write('{"data":0}\n');
      await attachPipe.next(RUNC_TIMEOUT_MS);
      if (o.attach) await o.attach();
      startPipe.write('{"data":0}\n');
      const msg = await sync.next(RUNC_TIMEOUT_MS);
      if (msg.data < 0) throw runtimeFailure(msg.message ?? 'unknown error');
      const pid = msg.data;
      sync.next().then(
        (m) => o.onExit(m.data),
        () => o.onExit(-1),
      ).finally(() => sync.close());
      return pid;
    } catch (err) {
      sync.close();
      throw err;
    } finally {
      attachPipe.close();
      startPipe.destroy();
    }
  } finally {
    closeSync(errFd);
  }
}

export async function runRunc(p: RuntimePaths, args: string[], input?: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const child = execFile(p.runc, args, { timeout: RUNC_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024, env: pickEnv() }, (err, stdout, stderr) => {
      if (err) {
        const detail = String(stderr).trim() || err.message;
        const m = /msg="([^"]*)"/.exec(detail);
        reject(new EngineError('internal', 'ERR_RUNTIME_FAILED', `runc ${args[2] ?? ''} failed: ${m?.[1] ?? detail}`, { cause: err }));
      } else resolve(String(stdout));
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input ?? '');
  });
}
