// Restart policies, as Docker's restart manager: after an exit the policy decides (no,
// always, unless-stopped, on-failure[:N]); a restart waits 100 ms, doubling after each run
// shorter than 10 s (at most 1 min), reset by a run of 10 s or more. While it waits the
// record says "restarting" (written first); `docker stop`, kill, rm or a manual start
// cancel the wait. At daemon start a container the policy wants running is started.
import { errorText } from '../base/index.js';
import type { EngineCore } from './core.js';
import { failStart, startLocked } from './start.js';
import type { ContainerRecord } from './types.js';

export const RESTART_BASE_DELAY_MS = 100;
export const RESTART_MAX_DELAY_MS = 60_000;
/** A run at least this long resets the backoff. */
export const RESTART_RESET_RUN_MS = 10_000;

export interface RestartInput {
  policy: { Name?: string; MaximumRetryCount?: number } | undefined;
  exitCode: number;
  /** `docker stop` / `docker kill` ended it (Docker's HasBeenManuallyStopped). */
  manuallyStopped: boolean;
  /** Restarts so far (the record's RestartCount; a manual start resets it). */
  restartCount: number;
  /** How long the run that just ended lasted. */
  ranMs: number;
  /** The delay used before the previous restart; 0 for none. */
  previousDelayMs: number;
}

/**
 * Docker's decision after an exit: restart or not, and after how long. A manually stopped
 * container is never restarted here (the daemon start is where `always` differs: see
 * `restartAtDaemonStart`).
 *
 * @example
 * restartDecision({ policy: { Name: 'on-failure', MaximumRetryCount: 2 }, exitCode: 1, manuallyStopped: false, restartCount: 0, ranMs: 50, previousDelayMs: 0 });
 * // { restart: true, delayMs: 100 }
 */
export function restartDecision(i: RestartInput): { restart: boolean; delayMs: number } {
  const delayMs = i.ranMs >= RESTART_RESET_RUN_MS || i.previousDelayMs <= 0 ? RESTART_BASE_DELAY_MS : Math.min(i.previousDelayMs * 2, RESTART_MAX_DELAY_MS);
  if (i.manuallyStopped) return { restart: false, delayMs };
  const name = i.policy?.Name ?? '';
  const max = i.policy?.MaximumRetryCount ?? 0;
  switch (name) {
    case 'always':
    case 'unless-stopped':
      return { restart: true, delayMs };
    case 'on-failure':
      return { restart: i.exitCode !== 0 && (max === 0 || i.restartCount < max), delayMs };
    default:
      return { restart: false, delayMs };
  }
}

/**
 * Whether moatd starts a container when it starts (Docker's restore): only one that ran
 * before; `always` even after `docker stop` (Docker documents it: "restarted only when the
 * Docker daemon restarts"), `unless-stopped` only if it was not stopped by hand,
 * `on-failure` only after a failure with retries left.
 *
 * @example
 * restartAtDaemonStart(record); // true for an exited `always` container
 */
export function restartAtDaemonStart(c: Pick<ContainerRecord, 'HostConfig' | 'State' | 'RestartCount' | 'HasBeenManuallyStopped'>): boolean {
  if (c.State.Status !== 'exited' && c.State.Status !== 'restarting') return false;
  const policy = c.HostConfig.RestartPolicy;
  if (policy?.Name === 'always') return true;
  return restartDecision({ policy, exitCode: c.State.ExitCode, manuallyStopped: c.HasBeenManuallyStopped === true, restartCount: c.RestartCount, ranMs: 0, previousDelayMs: 0 }).restart;
}

export class Restarts {
  readonly #timers = new Map<string, NodeJS.Timeout>();
  /** The last delay per container, for the doubling. */
  readonly #delays = new Map<string, number>();
  #closed = false;

  constructor(private readonly core: EngineCore) {}

  /**
   * After an exit is recorded (the container's lock is not held): restart per the policy.
   * Returns true when a restart was scheduled.
   */
  async afterExit(c: ContainerRecord): Promise<boolean> {
    if (this.#closed) return false;
    const ranMs = Math.max(0, Date.parse(c.State.FinishedAt) - Date.parse(c.State.StartedAt));
    const d = restartDecision({
      policy: c.HostConfig.RestartPolicy,
      exitCode: c.State.ExitCode,
      manuallyStopped: c.HasBeenManuallyStopped === true,
      restartCount: c.RestartCount,
      ranMs: Number.isFinite(ranMs) ? ranMs : 0,
      previousDelayMs: this.#delays.get(c.Id) ?? 0,
    });
    if (!d.restart) {
      this.#delays.delete(c.Id);
      return false;
    }
    const { table } = this.core;
    const scheduled = await table.lock.run(c.Id, async () => {
      if (!table.has(c.Id) || c.State.Status !== 'exited' || c.HasBeenManuallyStopped === true) return false;
      await table.commit(c, (next) => {
        next.State.Status = 'restarting';
        next.RestartCount += 1;
      });
      return true;
    });
    if (!scheduled) return false;
    this.#delays.set(c.Id, d.delayMs);
    this.#schedule(c.Id, d.delayMs);
    return true;
  }

  #schedule(id: string, delayMs: number): void {
    this.cancel(id, { keepDelay: true });
    const timer = setTimeout(() => {
      this.#timers.delete(id);
      void this.#restartNow(id).catch(this.core.failed('restart by policy failed', id));
    }, delayMs);
    timer.unref();
    this.#timers.set(id, timer);
  }

  async #restartNow(id: string): Promise<void> {
    const core = this.core;
    const { table, events } = core;
    const c = table.byId(id);
    if (!c || this.#closed) return;
    await table.lock.run(id, async () => {
      if (!table.has(id) || c.State.Status !== 'restarting') return;
      try {
        await startLocked(core, c);
      } catch (err) {
        // As Docker: a failed restart leaves the container stopped, with the error.
        core.log.warn({ containerId: id, err: errorText(err) }, 'restart by policy: start failed');
        await failStart(core, c, err);
        return;
      }
      events.emit('container', 'restart', id, table.attrs(c));
    });
  }

  /** Stop waiting to restart `id` (stop, kill, rm, manual start). */
  cancel(id: string, o: { keepDelay?: boolean } = {}): void {
    const t = this.#timers.get(id);
    if (t) clearTimeout(t);
    this.#timers.delete(id);
    if (o.keepDelay !== true) this.#delays.delete(id);
  }

  /** At daemon start, after reconciliation: start what the policies want running. */
  async atDaemonStart(): Promise<void> {
    const core = this.core;
    for (const c of core.table.list()) {
      if (core.table.isCorrupt(c.Id) || !restartAtDaemonStart(c)) continue;
      core.log.info({ containerId: c.Id, policy: c.HostConfig.RestartPolicy?.Name }, 'starting a container its restart policy keeps running');
      await core.table.lock
        .run(c.Id, async () => {
          if (c.State.Status !== 'exited' && c.State.Status !== 'restarting') return;
          // An exit found while restoring has already gone through the policy (counted, timer
          // set): leave it to that timer, so the count does not depend on which comes first.
          if (c.State.Status === 'restarting' && this.#timers.has(c.Id)) return;
          this.cancel(c.Id, { keepDelay: true });
          try {
            // As Docker's restore: a fresh start (the count and the manual stop are reset).
            await startLocked(core, c, { manual: true });
          } catch (err) {
            await failStart(core, c, err);
          }
        })
        .catch(core.failed('cannot start a container at daemon start', c.Id));
    }
  }

  close(): void {
    this.#closed = true;
    for (const id of [...this.#timers.keys()]) this.cancel(id);
  }
}
