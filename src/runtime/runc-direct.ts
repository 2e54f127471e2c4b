// What `runc start` and `runc delete` do for runc 1.1 containers in the common cases, done in
// moatd: each saves a Go process start-up per container (docs/performance.md). The state
// dir is moatd's own (`--root` under the exec root, not writable by containers). Anything
// unexpected answers `undefined`, and the caller runs runc, whose errors are the real ones.
// Host code.
import { closeSync, constants, fstatSync, openSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { EngineError } from '../base/index.js';
import { essentialRuncState, initExeced, initRunning, planDirectDelete, tryParseRuncState, type RuncStateFile } from './runc-state.js';

/** runc 1.1 polls the init this often while it waits on the exec FIFO. */
const INIT_POLL_MS = 100;

/**
 * Parsed `state.json`s by state dir, with the file's identity when read. runc writes the file
 * once at create (a rewrite is a new file, renamed over it), and it holds the whole config
 * (~0.3 ms to parse): the start parses it, the delete finds the same file unchanged.
 */
const parsedStates = new Map<string, { ino: number; size: number; mtimeMs: number; state: RuncStateFile }>();
const PARSED_STATES_MAX = 64;

// runc's state dir is moatd's (under the exec root) and /proc is the kernel's: both read
// synchronously, microseconds where a thread-pool readFile is four round trips.
export function readRuncState(dir: string): RuncStateFile | undefined {
  let fd: number;
  try {
    fd = openSync(join(dir, 'state.json'), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    const known = parsedStates.get(dir);
    if (known !== undefined && known.ino === st.ino && known.size === st.size && known.mtimeMs === st.mtimeMs) return known.state;
    const parsed = tryParseRuncState(readFileSync(fd, 'utf8'));
    parsedStates.delete(dir);
    if (parsed === undefined) return undefined;
    // Only the fields moatd reads are kept: the whole config is ~100 KB of objects per
    // container, and the cache would hold it for every container not deleted directly.
    const state = essentialRuncState(parsed);
    if (parsedStates.size >= PARSED_STATES_MAX) parsedStates.delete(parsedStates.keys().next().value!);
    parsedStates.set(dir, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, state });
    return state;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

function procStat(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
}

function startFailed(message: string): EngineError {
  return new EngineError('internal', 'ERR_RUNTIME_FAILED', `runc start failed: ${message}`);
}

/**
 * `runc start` of a created container: read the init's byte from `exec.fifo` until the init
 * closes it (it is close-on-exec: the container's process now runs), then remove the FIFO.
 * Resolves `false` when the container is not one to start this way (not created, no state):
 * the caller runs `runc start`.
 */
export async function startCreated(runcRoot: string, id: string, timeoutMs: number): Promise<boolean> {
  const dir = join(runcRoot, id);
  const fifo = join(dir, 'exec.fifo');
  const state = readRuncState(dir);
  const before = state === undefined ? undefined : procStat(state.init_process_pid);
  if (state === undefined || !initRunning(state, before)) return false;
  if (initExeced(before)) {
    // Started already (a reader read the byte, the init exec'd, the FIFO was never removed):
    // what is left of the start is the FIFO's removal.
    unlinkSync(fifo);
    return true;
  }
  // Non-blocking: opening never waits for the init, and poll reports no hang-up before a
  // writer has come and gone, so the socket waits for the byte. The socket owns the fd.
  let fd: number;
  try {
    fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  let sock: Socket;
  try {
    sock = new Socket({ fd, readable: true, writable: false });
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  let got = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const poll = setInterval(() => {
        const stat = procStat(state.init_process_pid);
        if (initRunning(state, stat) && Date.now() - started < timeoutMs) return;
        // Output already read by poll arrives before setImmediate: the init may have written
        // its byte, exec'd and exited within one poll interval.
        setImmediate(() => {
          if (got > 0) return;
          reject(startFailed(initRunning(state, stat) ? 'timed out waiting for the container process' : 'container process is already dead'));
        });
      }, INIT_POLL_MS);
      const finish = (err?: Error): void => {
        clearInterval(poll);
        if (err) reject(err);
        else if (got === 0) reject(startFailed('cannot start an already running container'));
        else resolve();
      };
      sock.on('data', (b: Buffer) => {
        got += b.length;
      });
      sock.on('end', () => finish());
      sock.on('error', (err) => finish(err));
      sock.on('close', () => clearInterval(poll));
    });
  } finally {
    sock.destroy();
  }
  unlinkSync(fifo);
  return true;
}

/**
 * `runc delete` of a stopped container whose cleanup moatd knows (planDirectDelete): remove
 * its cgroup dirs, then its state dir. Resolves `false` when runc must do it (the init still
 * runs, hooks, a shared pid namespace, a cgroup still busy, no readable state).
 */
export async function deleteStopped(runcRoot: string, id: string): Promise<boolean> {
  const dir = join(runcRoot, id);
  const state = readRuncState(dir);
  if (state === undefined || initRunning(state, procStat(state.init_process_pid))) return false;
  const cgroups = planDirectDelete(state);
  if (cgroups === undefined) return false;
  // Each hierarchy's leaf (a dozen under cgroup v1) at once: one thread-pool round trip each.
  const removed = await Promise.all(
    cgroups.map((path) =>
      rmdir(path).then(
        () => true,
        // ENOENT: already gone. EBUSY / ENOTEMPTY (a process still leaving, a child cgroup):
        // runc retries and removes children (and the leaves removed here it finds gone).
        (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT',
      ),
    ),
  );
  if (removed.includes(false)) return false;
  // The state dir: state.json and what runc left beside it, a few names.
  rmSync(dir, { recursive: true, force: true });
  parsedStates.delete(dir);
  return true;
}
