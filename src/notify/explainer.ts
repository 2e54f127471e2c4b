// moatd's side of the denial explainer in one object (host): keeps the listener process
// running, tells the seccomp policy whether to convert profiles, writes each container's
// rule table before `runc create`, follows denial records for `docker events`, and removes a
// container's files on `docker rm`. It never stops the listener: containers outlive moatd.
// A dead listener is replaced by its own standby within milliseconds (listener.ts); the
// check here (every 5 s) only restarts one for new containers when both are gone, which
// running containers cannot be helped with: their notify fds died with the two processes.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError, type Logger } from '../base/index.js';
import type { LinuxSeccomp, NotifyRule, SeccompArch } from '../seccomp/index.js';
import { startListenerProcess, findListenerProcess, findStandbyProcess } from './process.js';
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
  /** How often `available()` is refreshed. Default 5 s. */
  readonly checkIntervalMs?: number;
}

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
  /** Set once a container needed the listener: from then on a dead listener is restarted. */
  #wanted = false;

  private constructor(o: NotifyExplainerOptions) {
    this.#o = o;
    this.listenerPath = join(o.execRoot, 'seccomp.sock');
    this.stateDir = join(o.execRoot, 'seccomp');
  }

  /**
   * Starts (or finds) the listener. Never throws: when the listener cannot run, `available()`
   * stays false and containers get plain ERRNO rules (same behaviour, no records).
   */
  static async start(o: NotifyExplainerOptions): Promise<NotifyExplainer> {
    const x = new NotifyExplainer(o);
    // The listener is started on the first container that needs it (an idle daemon has no
    // listener process); one left by an earlier moatd is found and kept.
    const found = await findListenerProcess({ socket: x.listenerPath, stateDir: x.stateDir }).catch(() => undefined);
    if (found !== undefined) {
      x.#up = true;
      x.#pid = found.pid;
      x.#wanted = true;
    } else {
      // Startable: the program exists and the socket path fits sun_path (108 bytes).
      x.#up = existsSync(o.listenerBin) && Buffer.byteLength(x.listenerPath) < 108;
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
    this.#wanted = true;
    if (!(await this.#ensure())) {
      throw new EngineError('unavailable', 'ERR_SECCOMP_LISTENER', 'Cannot start the container: the seccomp denial listener is not running (restart moatd, or run it with --no-seccomp-explain)');
    }
    await writeRuleTable(this.stateDir, containerId, { rules, arch: this.#o.arch, ...(seccomp !== undefined ? { seccomp } : {}) });
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

  /** Stops watching (daemon shutdown), after any start in progress. The listener keeps running for the containers. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#follower?.close();
    await this.#checking;
  }

  /** One start attempt at a time (the timer and prepare() may overlap). */
  #ensure(): Promise<boolean> {
    this.#checking ??= this.#startOnce().finally(() => (this.#checking = undefined));
    return this.#checking;
  }

  async #startOnce(): Promise<boolean> {
    try {
      const r = await startListenerProcess({ socket: this.listenerPath, stateDir: this.stateDir, listenerBin: this.#o.listenerBin, ...(this.#o.logLevel !== undefined ? { logLevel: this.#o.logLevel } : {}) });
      if (r.started) this.#o.log.info({ pid: r.pid, socket: this.listenerPath }, 'seccomp denial listener started');
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
    if (this.#checking !== undefined || this.#closed || !this.#wanted) return;
    const found = await findListenerProcess({ socket: this.listenerPath, stateDir: this.stateDir }).catch(() => undefined);
    if (found !== undefined) {
      this.#up = true;
      this.#pid = found.pid;
      return;
    }
    if (this.#closed) return;
    // Its standby takes over within milliseconds of a listener's death: give it that round.
    if (findStandbyProcess({ stateDir: this.stateDir }) !== undefined) return;
    if (this.#up) this.#o.log.warn({ pid: this.#pid }, 'seccomp denial listener and its standby are gone: running containers now get ENOSYS for blocked syscalls; restarting it for new containers');
    this.#up = false;
    await this.#ensure();
  }
}
