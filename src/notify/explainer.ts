// moatd's side of the denial explainer in one object (host): starts the listener process on
// the first container that needs it, tells the seccomp policy whether to convert profiles,
// writes each container's rule table before `runc create`, follows denial records for
// `docker events`, and removes a container's files on `docker rm`. Containers outlive moatd,
// and so does the listener while it holds their notify fds.
//
// While no container uses it, the pair (listener + standby, two Node processes, ~60 MiB each)
// is asked to exit (issue 18): the check (every 5 s) asks only when no create of this moatd is
// between `prepare()` and its `start`/`die` event (a pin), and the listener agrees only when
// it has held no notify fd and no half-read runc connection for the grace period, so
// containers left by an earlier moatd keep it. A `prepare()` during the request waits until
// the old pair has gone, then starts a new one. A dead listener is replaced by its own
// standby within milliseconds (listener.ts); when both are gone, running containers cannot
// be helped (their notify fds died with the two processes) and the next create starts a new pair.
import { closeSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError, type Logger } from '../base/index.js';
import type { LinuxSeccomp, NotifyRule, SeccompArch } from '../seccomp/index.js';
import { startListenerProcess, findListenerProcess, findStandbyProcess, holdDaemonLock, isListenerRunning, requestIdleExit, waitForExit } from './process.js';
import { writeRuleTable, followDenials, readDenials, removeContainerState, type DenialFollower } from './files.js';
import type { DenialLine } from './policy.js';

export interface NotifyExplainerOptions {
  /** The socket is `<execRoot>/seccomp.sock` (must stay under 108 bytes), the state `<execRoot>/seccomp`. */
  readonly execRoot: string;
  /** Path of `bin/moat-seccomp-listener`. */
  readonly listenerBin: string;
  /** The daemon's arch (`hostArch(process.arch)`). */
  readonly arch: SeccompArch;
  readonly log: Logger;
  readonly logLevel?: 'debug' | 'info' | 'warn';
  /** How often `available()` is refreshed and an idle pair asked to exit. Default 5 s. */
  readonly checkIntervalMs?: number;
  /** How long the listener must have held no notify fd before it agrees to exit. Default 5 s; `Infinity`: never asked. */
  readonly idleGraceMs?: number;
  /** The process functions (tests pass fakes). */
  readonly processes?: ListenerProcesses;
}

/** What the explainer does to the listener processes (process.ts; fakes in tests). */
export interface ListenerProcesses {
  start: typeof startListenerProcess;
  find: typeof findListenerProcess;
  findStandby: typeof findStandbyProcess;
  running: typeof isListenerRunning;
  requestIdleExit: typeof requestIdleExit;
  waitForExit: typeof waitForExit;
  holdDaemonLock: typeof holdDaemonLock;
}

const REAL_PROCESSES: ListenerProcesses = { start: startListenerProcess, find: findListenerProcess, findStandby: findStandbyProcess, running: isListenerRunning, requestIdleExit, waitForExit, holdDaemonLock };

/**
 * How long a create keeps the pair from an idle exit when no `start`/`die` event settles it
 * (a start that failed without one): twice the runtime's 60 s limit for `runc create`.
 */
const PIN_MS = 120_000;
/** How long moatd waits for a pair that agreed to exit before giving up on it. */
const EXIT_WAIT_MS = 5000;

/**
 * The explainer moatd hands to SeccompPolicy (it has the `listenerPath` and `available()`
 * the engine's `DenialExplainer` asks for) and whose `prepare` is the engine's
 * `onSeccompNotify`.
 */
export class NotifyExplainer {
  readonly listenerPath: string;
  readonly stateDir: string;
  readonly #o: NotifyExplainerOptions;
  #up = false;
  #pid: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #follower: DenialFollower | undefined;
  #warned = false;
  #checking: Promise<boolean> | undefined;
  #closed = false;
  /** Set while a pair this moatd started or found may be running. */
  #wanted = false;
  /** Creates between `prepare()` and their start/die event: container id → expiry. */
  readonly #pins = new Map<string, number>();
  /** An idle-exit request and the wait for the pair to go. */
  #stopping: Promise<void> | undefined;
  readonly #p: ListenerProcesses;
  readonly #graceMs: number;
  /** moatd's shared lock on the state dir's daemon.lock (process.ts holdDaemonLock), until close. */
  #daemonLock: number | undefined;

  private constructor(o: NotifyExplainerOptions) {
    this.#o = o;
    this.#p = o.processes ?? REAL_PROCESSES;
    this.#graceMs = o.idleGraceMs ?? 5000;
    this.listenerPath = join(o.execRoot, 'seccomp.sock');
    this.stateDir = join(o.execRoot, 'seccomp');
  }

  /**
   * Starts (or finds) the listener. Never throws: when the listener cannot run, `available()`
   * stays false and containers get plain ERRNO rules (same behaviour, no records).
   */
  static async start(o: NotifyExplainerOptions): Promise<NotifyExplainer> {
    const x = new NotifyExplainer(o);
    // Held first: a pair left idle by an earlier moatd that finds this lock free exits on its own.
    x.#daemonLock = await x.#p.holdDaemonLock(x.stateDir).catch(() => undefined);
    if (x.#daemonLock === undefined) o.log.warn('seccomp denial listener: cannot take the daemon lock; an idle pair may exit on its own');
    // The listener is started on the first container that needs it (an idle daemon has no
    // listener process); one left by an earlier moatd is found and kept.
    const found = await x.#p.find({ socket: x.listenerPath, stateDir: x.stateDir }).catch(() => undefined);
    if (found !== undefined) {
      x.#up = true;
      x.#pid = found.pid;
      x.#wanted = true;
    } else {
      x.#up = x.#startable();
    }
    x.#timer = setInterval(() => void x.#refresh(), o.checkIntervalMs ?? 5000);
    x.#timer.unref();
    return x;
  }

  /** True when the listener was up at the last check: new containers may use notify rules. */
  available(): boolean {
    return this.#up;
  }

  /** The listener's pid, when known. */
  get pid(): number | undefined {
    return this.#pid;
  }

  /**
   * Before `runc create`: makes sure the listener runs (restarting it if it died) and writes
   * the container's rule table. Pass the converted section as `seccomp` so records can name
   * the exact rule when several share a syscall. Throws EngineError `unavailable`
   * (ERR_SECCOMP_LISTENER) when the listener cannot be started: runc would refuse to start
   * a container whose listener is missing anyway.
   */
  async prepare(containerId: string, rules: readonly NotifyRule[], seccomp?: LinuxSeccomp): Promise<void> {
    // Pinned before any await: an idle check from now on leaves the pair alone.
    this.#pins.set(containerId, Date.now() + PIN_MS);
    try {
      // An idle exit asked before this create: let the old pair go, then start a new one.
      await this.#stopping;
      this.#wanted = true;
      // The listener found or started earlier still runs: no connection to check it (a
      // round trip on every create). One that died is found again, or started, by #ensure.
      const serving = this.#up && this.#checking === undefined && this.#pid !== undefined && this.#p.running(this.#pid);
      if (!serving && !(await this.#ensure())) {
        throw new EngineError('unavailable', 'ERR_SECCOMP_LISTENER', 'Cannot start the container: the seccomp denial listener is not running (restart moatd, or run it with --no-seccomp-explain)');
      }
      await writeRuleTable(this.stateDir, containerId, { rules, arch: this.#o.arch, ...(seccomp !== undefined ? { seccomp } : {}) });
    } catch (err) {
      this.#pins.delete(containerId);
      throw err;
    }
  }

  /**
   * The container's create is over (its `start` or `die` event, or `destroy`): the listener
   * now holds its notify fd, or never will. Until then the pair is never asked to exit.
   */
  settled(containerId: string): void {
    this.#pins.delete(containerId);
  }

  /** Calls `onRecord` for every new denial line of any container (once; `close()` stops it). */
  follow(onRecord: (r: DenialLine) => void): void {
    this.#follower?.close();
    this.#follower = followDenials(this.stateDir, { onRecord, onError: (err) => this.#o.log.warn({ err }, 'cannot read seccomp denial records') });
  }

  /** A container's recent denials (for `inspect`). */
  async denials(containerId: string, last = 20): Promise<DenialLine[]> {
    return await readDenials(this.stateDir, containerId, { last });
  }

  /** `docker rm`: the container's rule table and records. */
  async remove(containerId: string): Promise<void> {
    await removeContainerState(this.stateDir, containerId);
  }

  /**
   * Stops watching (daemon shutdown), after any start in progress. The listener keeps running
   * for the containers that hold its fds; a pair no container holds is asked to exit now, with
   * no grace: only moatd asks, so one left idle would run until the next moatd starts. A create
   * still between prepare() and its start/die event pins it (runc may be about to connect).
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#follower?.close();
    await this.#checking;
    await this.#stopping;
    try {
      if (!Number.isFinite(this.#graceMs) || !this.#wanted || this.#pid === undefined || this.#pinned() > 0) return;
      this.#stopping = this.#stopIfIdle(this.#pid, 0).catch((err: unknown) => this.#o.log.warn({ err }, 'seccomp denial listener: idle-exit request at shutdown failed'));
      await this.#stopping;
    } finally {
      // From now on a pair that containers still hold exits on its own once they are gone.
      if (this.#daemonLock !== undefined) closeSync(this.#daemonLock);
      this.#daemonLock = undefined;
    }
  }

  /** The program exists and the socket path fits sun_path (108 bytes). */
  #startable(): boolean {
    return existsSync(this.#o.listenerBin) && Buffer.byteLength(this.listenerPath) < 108;
  }

  /** Creates still pinning the pair (expired pins dropped). */
  #pinned(): number {
    const now = Date.now();
    for (const [id, until] of this.#pins) if (until <= now) this.#pins.delete(id);
    return this.#pins.size;
  }

  /** One start attempt at a time (the timer and prepare() may overlap). */
  #ensure(): Promise<boolean> {
    this.#checking ??= this.#startOnce().finally(() => (this.#checking = undefined));
    return this.#checking;
  }

  async #startOnce(): Promise<boolean> {
    try {
      // Early: the socket listens before the listener's own start (~100-200 ms of Node
      // start-up), so the create that needs it goes on at once and runc's connection waits
      // in the backlog (issue 18: the first run after an idle spell).
      const r = await this.#p.start({ socket: this.listenerPath, stateDir: this.stateDir, listenerBin: this.#o.listenerBin, early: true, ...(this.#o.logLevel !== undefined ? { logLevel: this.#o.logLevel } : {}) });
      if (r.started) this.#o.log.info({ pid: r.pid, socket: this.listenerPath }, 'seccomp denial listener started');
      r.ready?.then((ok) => {
        if (!ok) this.#o.log.warn({ pid: r.pid }, 'seccomp denial listener did not come up: containers started meanwhile get ENOSYS for blocked syscalls; the next container that needs it starts it again');
      }, () => undefined);
      this.#pid = r.pid;
      this.#up = true;
      this.#warned = false;
    } catch (err) {
      if (!this.#warned) this.#o.log.warn({ err }, 'seccomp denial listener unavailable: new containers get plain errno rules');
      this.#warned = true;
      this.#up = false;
    }
    return this.#up;
  }

  async #refresh(): Promise<void> {
    if (this.#checking !== undefined || this.#stopping !== undefined || this.#closed || !this.#wanted) return;
    const found = await this.#p.find({ socket: this.listenerPath, stateDir: this.stateDir }).catch(() => undefined);
    if (this.#closed) return;
    if (found !== undefined) {
      this.#up = true;
      this.#pid = found.pid;
      // Re-checked after the await: a prepare() may have pinned or started meanwhile.
      if (Number.isFinite(this.#graceMs) && this.#pinned() === 0 && this.#checking === undefined && this.#stopping === undefined) {
        this.#stopping = this.#stopIfIdle(found.pid).finally(() => (this.#stopping = undefined));
        await this.#stopping;
      }
      return;
    }
    // Started early and still starting (no pid file yet): not gone. One that never serves is
    // killed by its start's own watchdog, and is then gone.
    if (this.#pid !== undefined && this.#p.running(this.#pid)) return;
    // Its standby takes over within milliseconds of a listener's death: give it that round.
    if (this.#p.findStandby({ stateDir: this.stateDir }) !== undefined) return;
    if (this.#pinned() > 0) {
      // A create between prepare() and runc's connect still needs a listener.
      this.#o.log.warn({ pid: this.#pid }, 'seccomp denial listener and its standby are gone: running containers now get ENOSYS for blocked syscalls; restarting it for the containers being created');
      this.#up = false;
      await this.#ensure();
      return;
    }
    this.#o.log.warn({ pid: this.#pid }, 'seccomp denial listener and its standby are gone: running containers now get ENOSYS for blocked syscalls; the next container that needs it starts a new one');
    this.#wanted = false;
    this.#pid = undefined;
    this.#up = this.#startable();
  }

  /** Asks the pair to exit if it is idle (no notify fd held for `graceMs`), and waits for both processes to go. */
  async #stopIfIdle(pid: number, graceMs = this.#graceMs): Promise<void> {
    const standby = this.#p.findStandby({ stateDir: this.stateDir })?.pid;
    const answer = await this.#p.requestIdleExit({ socket: this.listenerPath, graceMs });
    if (answer !== 'exiting') return;
    const pids = standby !== undefined ? [pid, standby] : [pid];
    const gone = await this.#p.waitForExit(pids, EXIT_WAIT_MS);
    this.#wanted = false;
    this.#pid = undefined;
    if (gone) this.#o.log.info({ pid, standbyPid: standby }, 'seccomp denial listener stopped: no container uses it (the next container that needs it starts it again)');
    else this.#o.log.warn({ pid, standbyPid: standby }, 'seccomp denial listener agreed to exit but still runs');
  }
}
