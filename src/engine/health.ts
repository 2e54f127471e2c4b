// Healthchecks, as Docker's: the container's (or its image's) HEALTHCHECK runs as an exec
// inside the running container, with the container's own user, capabilities, seccomp
// filter and no_new_privs (execs are never privileged in moat), every Interval (every
// StartInterval during StartPeriod), killed after Timeout. A success makes the container
// healthy and resets FailingStreak; Retries failures in a row (not counted during the start
// period) make it unhealthy. Each change of status is a `health_status: …` event; the
// last 5 probes are kept in State.Health.Log, written to the record with the status.
import { errorText, invalid } from '../base/index.js';
import type { AttachSink } from './attach.js';
import type { EngineCore } from './core.js';
import type { ContainerHealth, ContainerRecord, HealthProbe } from './types.js';

/** Docker's defaults (nanoseconds in the API; milliseconds here). */
export const HEALTH_DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, startPeriodMs: 0, startIntervalMs: 5_000, retries: 3 };
/** Probes kept in State.Health.Log. */
export const HEALTH_LOG_KEEP = 5;
/** Output kept per probe (Docker's maxOutputLen). */
export const HEALTH_OUTPUT_MAX = 4096;

export interface HealthConfig {
  Test?: string[] | null;
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** A healthcheck made runnable: the probe's argv and the times in ms. */
export interface HealthPlan {
  argv: string[];
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  startIntervalMs: number;
  retries: number;
}

/**
 * The container's healthcheck over the image's, field by field, as Docker merges them: an
 * empty Test or a zero duration takes the image's.
 *
 * @example
 * mergeHealthcheck({ Interval: 1e9 }, { Test: ['CMD', 'true'] }); // { Test: ['CMD', 'true'], Interval: 1e9 }
 */
export function mergeHealthcheck(own: HealthConfig | null | undefined, image: HealthConfig | null | undefined): HealthConfig | undefined {
  if (!own) return image ?? undefined;
  if (!image) return own;
  const out: HealthConfig = { ...own };
  if (!own.Test || own.Test.length === 0) out.Test = image.Test ?? null;
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const) {
    if (!own[k] && image[k]) out[k] = image[k];
  }
  return out;
}

/** A create's healthcheck checked as Docker checks it (400s naming the field). */
export function checkHealthcheck(h: HealthConfig | null | undefined): void {
  if (!h) return;
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const) {
    const v = h[k] ?? 0;
    if (v !== 0 && v < 1_000_000) throw invalid(`${k} in Healthcheck cannot be less than 1ms`);
  }
  if ((h.Retries ?? 0) < 0) throw invalid('Retries in Healthcheck cannot be negative');
  const t = h.Test ?? [];
  if (t.length > 0 && !['NONE', 'CMD', 'CMD-SHELL'].includes(t[0]!)) throw invalid(`Healthcheck.Test: unknown type ${JSON.stringify(t[0])} (CMD, CMD-SHELL or NONE)`);
  if ((t[0] === 'CMD' || t[0] === 'CMD-SHELL') && t.length < 2) throw invalid(`Healthcheck.Test: ${t[0]} needs a command`);
}

/**
 * What runs, or undefined for no healthcheck (none, `NONE`, or an empty Test).
 *
 * @example
 * healthPlan({ Test: ['CMD-SHELL', 'curl -f localhost'] }, ['/bin/sh', '-c']).argv; // ['/bin/sh', '-c', 'curl -f localhost']
 */
export function healthPlan(h: HealthConfig | null | undefined, shell: readonly string[] | null | undefined): HealthPlan | undefined {
  const t = h?.Test ?? [];
  if (t.length === 0 || t[0] === 'NONE') return undefined;
  const argv = t[0] === 'CMD-SHELL' ? [...(shell && shell.length > 0 ? shell : ['/bin/sh', '-c']), t.slice(1).join(' ')] : t.slice(1);
  if (argv.length === 0) return undefined;
  const ms = (ns: number | undefined, fallback: number): number => (ns && ns > 0 ? Math.max(1, Math.round(ns / 1e6)) : fallback);
  return {
    argv,
    intervalMs: ms(h?.Interval, HEALTH_DEFAULTS.intervalMs),
    timeoutMs: ms(h?.Timeout, HEALTH_DEFAULTS.timeoutMs),
    startPeriodMs: ms(h?.StartPeriod, HEALTH_DEFAULTS.startPeriodMs),
    startIntervalMs: ms(h?.StartInterval, HEALTH_DEFAULTS.startIntervalMs),
    retries: h?.Retries && h.Retries > 0 ? h.Retries : HEALTH_DEFAULTS.retries,
  };
}

/**
 * The health after one probe (pure): Docker's rules for status, streak, start period and log.
 *
 * @example
 * nextHealth({ Status: 'starting', FailingStreak: 0, Log: [] }, probe, { retries: 3, inStartPeriod: false });
 */
export function nextHealth(h: ContainerHealth, probe: HealthProbe, o: { retries: number; inStartPeriod: boolean }): ContainerHealth {
  const log = [...h.Log, probe].slice(-HEALTH_LOG_KEEP);
  if (probe.ExitCode === 0) return { Status: 'healthy', FailingStreak: 0, Log: log };
  // A failure during the start period does not count (Docker), unless the container was already healthy.
  if (o.inStartPeriod && h.Status === 'starting') return { ...h, Log: log };
  const streak = h.FailingStreak + 1;
  return { Status: streak >= o.retries ? 'unhealthy' : h.Status, FailingStreak: streak, Log: log };
}

export function initialHealth(): ContainerHealth {
  return { Status: 'starting', FailingStreak: 0, Log: [] };
}

interface Monitor {
  timer: NodeJS.Timeout | undefined;
  startedAt: number;
  stopped: boolean;
}

export class HealthMonitors {
  readonly #monitors = new Map<string, Monitor>();

  constructor(private readonly core: EngineCore) {}

  /** The healthcheck a container runs (its own over its image's, merged at create). */
  planOf(c: ContainerRecord): HealthPlan | undefined {
    // CMD-SHELL runs with /bin/sh -c (Config.Shell is kept for image builds only).
    return healthPlan(c.Config.Healthcheck as HealthConfig | null | undefined, undefined);
  }

  /** After a start (the record says running with Health starting): probe on schedule. */
  start(c: ContainerRecord): void {
    const plan = this.planOf(c);
    this.stop(c.Id);
    if (!plan) return;
    const m: Monitor = { timer: undefined, startedAt: Date.now(), stopped: false };
    this.#monitors.set(c.Id, m);
    this.#next(c.Id, m, plan);
  }

  stop(id: string): void {
    const m = this.#monitors.get(id);
    if (!m) return;
    m.stopped = true;
    if (m.timer) clearTimeout(m.timer);
    this.#monitors.delete(id);
  }

  close(): void {
    for (const id of [...this.#monitors.keys()]) this.stop(id);
  }

  #next(id: string, m: Monitor, plan: HealthPlan): void {
    if (m.stopped) return;
    const inStart = Date.now() - m.startedAt < plan.startPeriodMs;
    const delay = inStart ? plan.startIntervalMs : plan.intervalMs;
    m.timer = setTimeout(() => {
      void this.#probeOnce(id, m, plan)
        .catch(this.core.failed('healthcheck failed', id))
        .finally(() => this.#next(id, m, plan));
    }, delay);
    m.timer.unref();
  }

  async #probeOnce(id: string, m: Monitor, plan: HealthPlan): Promise<void> {
    const core = this.core;
    const c = core.table.byId(id);
    if (!c || c.State.Status !== 'running' || m.stopped) return;
    const inStartPeriod = Date.now() - m.startedAt < plan.startPeriodMs;
    const probe = await this.#run(c, plan);
    if (m.stopped) return;
    await core.table.lock.run(id, async () => {
      if (m.stopped || c.State.Status !== 'running') return;
      const before = c.State.Health ?? initialHealth();
      const after = nextHealth(before, probe, { retries: plan.retries, inStartPeriod });
      await core.table.commit(c, (next) => {
        next.State.Health = after;
      });
      if (after.Status !== before.Status) core.events.emit('container', `health_status: ${after.Status}`, id, core.table.attrs(c));
    });
  }

  /** One probe: an exec with the container's settings; killed (exit -1) after the timeout. */
  async #run(c: ContainerRecord, plan: HealthPlan): Promise<HealthProbe> {
    const core = this.core;
    const start = new Date().toISOString();
    let output = '';
    const sink: AttachSink = {
      output: (_s, data) => {
        if (output.length < HEALTH_OUTPUT_MAX) output = (output + data.toString()).slice(0, HEALTH_OUTPUT_MAX);
      },
      end: () => undefined,
    };
    let execId: string | undefined;
    try {
      execId = core.execs.create(c.Id, { Cmd: plan.argv, AttachStdout: true, AttachStderr: true, Privileged: false });
      const id = execId;
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        core.execs.kill(id);
      }, plan.timeoutMs);
      try {
        await core.execs.start(id, sink);
      } finally {
        clearTimeout(timer);
      }
      if (timedOut) return { Start: start, End: new Date().toISOString(), ExitCode: -1, Output: `Health check exceeded timeout (${plan.timeoutMs / 1000}s)` };
      return { Start: start, End: new Date().toISOString(), ExitCode: core.execs.get(id).ExitCode ?? -1, Output: output };
    } catch (err) {
      return { Start: start, End: new Date().toISOString(), ExitCode: -1, Output: errorText(err) };
    } finally {
      if (execId) core.execs.forget(execId);
    }
  }
}
