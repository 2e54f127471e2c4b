// Exits and reconciliation: a container's exit (reported by the runtime) is recorded, its
// mounts undone and its waiters answered; the monitor's (conmon's) death is reconciled with
// the runtime at once; at start-up every record is brought in line with the runtime's state.
// An exit whose record cannot be written (a full disk) stays true in memory and durable in
// the runtime's exit file, and its write is retried every second.
import { errorText } from '../base/index.js';
import { isLiveRecord, replaceRecord } from './containers.js';
import type { EngineCore } from './core.js';
import type { LimitHit } from './limits.js';
import { PhaseTimer, withTimeout } from './util.js';
import type { ContainerRecord } from './types.js';

const now = (): string => new Date().toISOString();

/** How long restore waits for an interrupted start to finish (a direct start takes ms). */
const FINISH_START_MS = 5000;

export class Exits {
  readonly #handling = new Map<string, Promise<void>>();
  /** Exits recorded in memory whose record could not be written yet (the exit file stays). */
  readonly #unsaved = new Set<string>();
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly core: EngineCore) {}

  close(): void {
    if (this.#retryTimer) clearInterval(this.#retryTimer);
  }

  /** The runtime reported an exit (or a reconciliation found one): handle it once. */
  async onExit(id: string, code: number): Promise<void> {
    const running = this.#handling.get(id);
    if (running) return await running;
    const p = this.#handle(id, code).finally(() => this.#handling.delete(id));
    this.#handling.set(id, p);
    return await p;
  }

  async #handle(id: string, code: number): Promise<void> {
    const core = this.core;
    const { table, runtime, log } = core;
    const c = table.byId(id);
    if (!c || !isLiveRecord(c)) return;
    const b = core.bundle(id);
    const phases = new PhaseTimer();
    runtime.unwatchMonitor(id);
    core.health.stop(id);
    // Read the cgroup's counters before the runtime deletes it (an OOM kill is recorded),
    // while the log keeper makes its last pass.
    const [counters] = await Promise.all([core.limits?.pollOne(id), core.logKeeper.unwatch(id)]);
    const oomKilled = (counters?.oom ?? 0) > 0 && code === 137;
    core.limits?.forget(id);
    phases.mark('counters');
    // The network's teardown (netavark, most of an exit) needs neither the runtime's state
    // nor the rootfs: it runs alongside them. Nothing is answered before all three are done.
    const released = core.networking.release(id).catch((err: unknown) => log.warn({ containerId: id, err: errorText(err) }, 'cannot release the network'));
    if (runtime.exists(id)) await runtime.delete(id, { force: true }).catch((err: unknown) => log.warn({ containerId: id, err: errorText(err) }, 'runc delete failed'));
    phases.mark('runc-delete');
    await core.host.rootfs.unmount(b.rootfs).catch((err: unknown) => log.warn({ containerId: id, err: errorText(err) }, 'unmount failed'));
    await core.unstage(id);
    phases.mark('unmount');
    await released;
    phases.mark('net-release');
    // The exit file is the exit's only durable trace until the record replacing it is
    // written: it is removed after the write, never before. When the write fails (a full
    // disk), the exit is still true and durable (record + exit file read together, as a
    // restart does), so memory shows it, and the write is retried until it succeeds.
    // A --rm container's exit is written by its removal's record ("removing", next): one
    // durable write fewer; until then a restart finds the exit file and removes it the same way.
    const autoRemove = c.HostConfig.AutoRemove === true && !core.lifecycle.isRestarting(id);
    // After any record write already under way (a rename's, a network's), on the record it left.
    await table.recordWrite(id, async () => {
      const next = structuredClone(c);
      next.State = { ...next.State, Status: 'exited', Pid: 0, ExitCode: code, FinishedAt: now(), OOMKilled: oomKilled };
      delete next.State.ConmonPid;
      next.ExitGeneration += 1;
      if (autoRemove) replaceRecord(c, next);
      else await this.#saveExit(c, next);
    });
    core.events.emit('container', 'die', id, table.attrs(c, { exitCode: String(code) }));
    core.attach.finishLater(id, 5000);
    table.resolveWaiters(c, ['not-running', 'next-exit']);
    phases.mark('record');
    await this.#afterExit(c, autoRemove);
    phases.mark('after');
    log.debug({ containerId: id, exitCode: code, phases: phases.done() }, 'exited');
  }

  /** Write an exit's record, then clear its exit file; a failed write is kept in memory and retried. */
  async #saveExit(c: ContainerRecord, next: ContainerRecord): Promise<void> {
    try {
      await this.core.store.save(next);
      replaceRecord(c, next);
      await this.core.runtime.clearExit(c.Id);
    } catch (err) {
      replaceRecord(c, next);
      this.#deferSave(c.Id, err);
    }
  }

  /** What follows an exit: `--rm` removes the container, else its restart policy decides. */
  async #afterExit(c: ContainerRecord, autoRemove: boolean): Promise<void> {
    if (!autoRemove) {
      await this.core.restarts.afterExit(c).catch(this.core.failed('cannot restart by policy', c.Id));
      return;
    }
    try {
      await this.core.lifecycle.remove(c.Id, { force: true, afterExit: true });
    } catch (err) {
      this.core.log.warn({ containerId: c.Id, err: errorText(err) }, 'auto-remove failed');
      // Its exit was left to the removal's record: when that was not written, write the exit's own.
      if (this.core.table.has(c.Id) && c.State.Status === 'exited') await this.#saveExit(c, structuredClone(c));
    }
  }

  hasUnsaved(id: string): boolean {
    return this.#unsaved.has(id);
  }

  forget(id: string): void {
    this.#unsaved.delete(id);
  }

  /** Retry, every second, the records of exits that could not be written. */
  #deferSave(id: string, err: unknown): void {
    if (!this.#unsaved.has(id)) {
      this.core.log.error({ containerId: id, err: errorText(err) }, 'cannot record the exit: conmon\'s exit file is kept; retrying every second');
    }
    this.#unsaved.add(id);
    this.#retryTimer ??= setInterval(() => void this.#retry(), 1000).unref();
  }

  async #retry(): Promise<void> {
    const { table } = this.core;
    for (const id of [...this.#unsaved]) {
      const c = table.byId(id);
      if (!c) {
        this.#unsaved.delete(id);
        continue;
      }
      await table.lock.run(id, async () => {
        if (this.#unsaved.has(id)) await this.saveUnsaved(c).catch(() => undefined);
      });
    }
    if (this.#unsaved.size === 0 && this.#retryTimer) {
      clearInterval(this.#retryTimer);
      this.#retryTimer = undefined;
    }
  }

  /** Write the record of an exit kept in memory; then the exit file can go. */
  async saveUnsaved(c: ContainerRecord): Promise<void> {
    await this.core.table.recordWrite(c.Id, () => this.core.store.save(c));
    this.#unsaved.delete(c.Id);
    await this.core.runtime.clearExit(c.Id);
    this.core.log.info({ containerId: c.Id, exitCode: c.State.ExitCode }, 'exit recorded');
  }

  /**
   * Watch the monitor (conmon) of a running container: `'gone'` when it is no longer running
   * (or its pid is now another process). A record without a monitor pid, or one that cannot
   * be watched, is `'unknown'` and never taken for a dead monitor.
   */
  watchMonitor(c: ContainerRecord): 'watched' | 'gone' | 'unknown' {
    const pid = c.State.ConmonPid ?? 0;
    if (pid <= 0) return 'unknown';
    const r = this.core.runtime.watchMonitor(c.Id, pid);
    if (r === 'unknown') this.core.log.warn({ containerId: c.Id, conmonPid: pid }, 'cannot watch conmon: its death will be noticed only through the exit file');
    return r;
  }

  /**
   * A container's monitor is gone. Its exit file, if written, is the exit; otherwise the
   * runtime is asked: a process still running has no one holding its stdio or waiting for
   * its exit, so it is killed (Exited (137), as Docker reports a container whose shim died);
   * one already gone without a code is 255.
   */
  async onMonitorGone(id: string): Promise<void> {
    const { table, runtime, log } = this.core;
    const c = table.byId(id);
    if (!c || !isLiveRecord(c)) return;
    const code = await runtime.exitCode(id);
    if (code !== undefined) {
      await this.onExit(id, code);
      return;
    }
    const st = await runtime.state(id).catch(() => undefined);
    let exitCode = 255;
    if (st && st.status !== 'stopped') {
      log.warn({ containerId: id, pid: st.pid }, 'conmon died: stopping its orphaned container');
      if (st.status === 'paused') await runtime.pause(id, false).catch(() => undefined);
      await runtime.kill(id, 9, { all: true }).catch(() => undefined);
      for (let i = 0; i < 50; i++) {
        const s = await runtime.state(id).catch(() => undefined);
        if (!s || s.status === 'stopped') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      exitCode = 137;
    } else {
      log.warn({ containerId: id }, 'conmon died and the container with it: no exit code');
    }
    // An exit file may have appeared meanwhile (conmon writes it just before it exits).
    await this.onExit(id, (await runtime.exitCode(id)) ?? exitCode);
  }

  /** Bring a record in line with the runtime's state and exit files after a restart. */
  async reconcile(rec: ContainerRecord): Promise<void> {
    const core = this.core;
    const { runtime, log } = core;
    const id = rec.Id;
    // Bind staging mounts are only needed until runc has made the container's own copies.
    await core.unstage(id);
    if (rec.State.Status === 'removing') {
      await core.lifecycle.finishRemove(rec);
      return;
    }
    if (!isLiveRecord(rec)) {
      // A start interrupted by a crash (after the runtime created it, before the record said
      // running; the container may have run before, so the record says created or exited)
      // leaves a process, a monitor, a mount and a cgroup no record accounts for: undo them.
      if (await runtime.state(id).catch(() => undefined)) {
        log.warn({ containerId: id }, 'undoing a start that never finished');
        await runtime.delete(id, { force: true }).catch(() => undefined);
        await runtime.waitMonitorGone(id, core.bundle(id).dir);
        await runtime.clearExit(id);
      }
      await core.host.rootfs.unmount(core.bundle(id).rootfs).catch(() => undefined);
      return;
    }
    const code = await runtime.exitCode(id);
    if (code !== undefined) {
      log.info({ containerId: id, exitCode: code }, 'container exited while moatd was down');
      await this.onExit(id, code);
      return;
    }
    let st = await runtime.state(id).catch(() => undefined);
    if (st?.status === 'created') {
      // The record was written while runc started the process (start.ts) and a crash came
      // before runc had: the start was asked for and recorded, so it is finished now. A
      // process that then exits at once has its exit file written by conmon.
      log.warn({ containerId: id }, 'finishing a start that a crash interrupted');
      // Bounded: moatd answers no request until every record is reconciled, and `runc start`
      // (another runc than 1.1) waits forever on a FIFO whose init has exec'd already.
      const finishing = runtime.start(id);
      finishing.catch((err: unknown) => log.warn({ containerId: id, err: errorText(err) }, 'cannot finish the interrupted start'));
      if (!(await withTimeout(finishing.catch(() => undefined), FINISH_START_MS))) log.warn({ containerId: id, ms: FINISH_START_MS }, 'the interrupted start did not finish in time: going on');
      st = await runtime.state(id).catch(() => undefined);
      if (!st || (st.status !== 'running' && st.status !== 'paused')) {
        // Gone already: its conmon writes the exit file and ends, and either is noticed.
        if (this.watchMonitor(rec) === 'gone') await this.onMonitorGone(id);
        return;
      }
    }
    if (st && (st.status === 'running' || st.status === 'paused')) {
      // Its monitor died while moatd was down: nobody holds its stdio or will report its exit.
      if (this.watchMonitor(rec) === 'gone') {
        await this.onMonitorGone(id);
        return;
      }
      if (rec.State.Status !== st.status || rec.State.Pid !== st.pid) {
        await core.table
          .commit(rec, (next) => {
            next.State.Status = st.status as 'running' | 'paused';
            next.State.Pid = st.pid;
          })
          .catch((err: unknown) => log.warn({ containerId: id, err: errorText(err) }, 'cannot record the state runc reports'));
      }
      log.info({ containerId: id, pid: st.pid }, 'container kept running while moatd was down');
      return;
    }
    // Neither an exit file nor a live process: the monitor died with it. Docker reports 255.
    log.warn({ containerId: id }, 'container vanished without an exit code');
    await this.onExit(id, 255);
  }

  /** `docker events` shows which limit a container hit: `oom` (Docker's) and moat's `pids-limit`. */
  onLimitHit(hit: LimitHit): void {
    const { table, events, log } = this.core;
    const c = table.byId(hit.containerId);
    if (!c) return;
    const action = hit.kind === 'oom' ? 'oom' : 'pids-limit';
    const attrs = hit.kind === 'oom' ? { limit: hit.limit, oomKills: String(hit.count) } : { limit: hit.limit, refusedForks: String(hit.count) };
    log.warn({ containerId: c.Id, ...attrs }, hit.kind === 'oom' ? 'container hit its memory limit: OOM kill' : 'container hit its pids limit: fork refused');
    events.emit('container', action, c.Id, table.attrs(c, attrs));
  }
}
