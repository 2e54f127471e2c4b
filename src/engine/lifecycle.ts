// The container verbs after create: start, stop (signal, then SIGKILL after the timeout),
// kill, restart, pause, remove, rename. Each runs under the container's lock; the record
// changes only after it is written (ContainerTable.commit).
import { checkRestartPolicy } from '../docker/index.js';
import { planResources } from '../spec/index.js';
import { conflict, EngineError, errorText, invalid, isValidName, resourceError } from '../base/index.js';
import { parentLevelsToRemove } from './cgroup-parents.js';
import { isLiveRecord } from './containers.js';
import type { EngineCore } from './core.js';
import { failStart, startLocked } from './start.js';
import { parseSignal } from './signals.js';
import type { RuntimeState } from '../runtime/index.js';
import type { ContainerRecord } from './types.js';
import { PhaseTimer, withTimeout } from './util.js';
import { parseLink, storedLink } from './links.js';

/** The limits `docker update` changes (others are a 400 at the API). */
export const UPDATE_RESOURCE_FIELDS = ['Memory', 'MemorySwap', 'MemoryReservation', 'NanoCpus', 'CpuShares', 'CpuQuota', 'CpuPeriod', 'PidsLimit'] as const;

/** `POST /containers/{id}/update`'s body, as far as moat implements it. */
export type ContainerUpdate = Partial<Record<(typeof UPDATE_RESOURCE_FIELDS)[number], number | null>> & {
  RestartPolicy?: { Name?: string; MaximumRetryCount?: number } | null;
};

export interface StopOptions {
  /** Seconds before SIGKILL (the container's StopTimeout, else 10); 0 kills at once, negative waits forever. */
  timeout?: number;
  signal?: string;
}

export interface RemoveOptions {
  force: boolean;
  /** rm -v: the anonymous volumes go too (always for --rm). */
  volumes?: boolean;
  /** The auto-removal right after a --rm container's exit (exits.ts): its record needs no fsync. */
  afterExit?: boolean;
}

/** The container's StopSignal, or SIGTERM when it has none or one that does not parse. */
function storedStopSignal(c: ContainerRecord): number {
  try {
    return parseSignal(c.Config.StopSignal, 15);
  } catch {
    return 15;
  }
}

export class Lifecycle {
  /** Containers a `docker restart` is stopping: their exit does not auto-remove them (Docker keeps a `--rm` container across a restart). */
  readonly #restarting = new Set<string>();

  constructor(private readonly core: EngineCore) {}

  /** True while a `docker restart` stops this container. */
  isRestarting(id: string): boolean {
    return this.#restarting.has(id);
  }

  async start(ref: string): Promise<void> {
    const { table, exits } = this.core;
    const c = table.get(ref);
    await table.lock.run(c.Id, async () => {
      if (isLiveRecord(c)) throw new EngineError('not-modified', 'ERR_ALREADY_STARTED', 'container already started');
      if (c.State.Status === 'removing' || c.State.Status === 'dead') throw conflict(`container ${c.Id} is marked for removal and cannot be started`);
      // The last exit lives only in conmon's exit file until its record is written: write it
      // before this start clears that file (a full disk fails the start, not the exit code).
      if (exits.hasUnsaved(c.Id)) await exits.saveUnsaved(c);
      this.core.restarts.cancel(c.Id);
      try {
        await startLocked(this.core, c, { manual: true });
      } catch (err) {
        await failStart(this.core, c, err);
        throw err;
      }
    });
  }

  async stop(ref: string, opts: StopOptions = {}): Promise<void> {
    const c = this.core.table.get(ref);
    const signalled = await this.core.table.lock.run(c.Id, async () => {
      if (await this.endRestarting(c)) return undefined;
      if (!isLiveRecord(c)) throw new EngineError('not-modified', 'ERR_NOT_RUNNING', 'container already stopped');
      await this.markManuallyStopped(c);
      return await this.#signalStop(c, opts);
    });
    // The wait for the exit holds no lock, as dockerd's: `rm -f`, `restart`, `pause` and
    // `update` are not kept waiting for this stop's timeout (`-t -1`: for ever).
    if (signalled !== undefined) await this.#awaitStop(c, signalled);
    this.core.events.emit('container', 'stop', c.Id, this.core.table.attrs(c));
  }

  /**
   * A container waiting to be restarted by its policy is stopped by hand: no restart, and
   * the record says exited (its lock held). False when it was not waiting.
   */
  async endRestarting(c: ContainerRecord): Promise<boolean> {
    if (c.State.Status !== 'restarting') return false;
    this.core.restarts.cancel(c.Id);
    await this.core.table.commit(c, (next) => {
      next.State.Status = 'exited';
      next.HasBeenManuallyStopped = true;
    });
    this.core.table.resolveWaiters(c, ['not-running']);
    return true;
  }

  /** `docker stop` and `docker kill` end a restart policy's hold (Docker's HasBeenManuallyStopped), written before the signal. */
  async markManuallyStopped(c: ContainerRecord): Promise<void> {
    if (c.HasBeenManuallyStopped === true) return;
    await this.core.table.commit(c, (next) => {
      next.HasBeenManuallyStopped = true;
    });
  }

  /** The stop signal (StopSignal, else SIGTERM), SIGKILL after the timeout; resolves once the exit is handled. */
  async stopLocked(c: ContainerRecord, opts: StopOptions): Promise<void> {
    await this.#awaitStop(c, await this.#signalStop(c, opts));
  }

  /** A stop's first step, under the container's lock: thawed if paused, the stop signal sent (none with timeout 0). */
  async #signalStop(c: ContainerRecord, opts: StopOptions): Promise<{ exited: Promise<void>; timeout: number }> {
    const { runtime } = this.core;
    // The caller's signal must parse (a 400); a stored one that does not (an image's, a record
    // from before create checked it) falls back to SIGTERM, as moby's StopSignal(): a stop or
    // an rm -f must never fail on it.
    const sig = opts.signal !== undefined && opts.signal !== '' ? parseSignal(opts.signal, 15) : storedStopSignal(c);
    const timeout = opts.timeout ?? c.Config.StopTimeout ?? 10;
    if (c.State.Status === 'paused') await this.#thawForStop(c);
    const exited = this.exited(c);
    if (timeout !== 0) await runtime.kill(c.Id, sig).then(() => this.#sent(c, sig), () => undefined);
    return { exited, timeout };
  }

  /**
   * A paused container takes its stop signal only thawed. The record says running again (as
   * dockerd's resume event does): the stop waits without the lock, and an unpause meanwhile
   * must not find a record that says paused over a running container.
   */
  async #thawForStop(c: ContainerRecord): Promise<void> {
    const thawed = await this.core.runtime.pause(c.Id, false).then(() => true, () => false);
    if (!thawed) return;
    await this.core.table
      .commit(c, (next) => {
        next.State.Status = 'running';
      })
      .catch((err: unknown) => this.core.log.warn({ containerId: c.Id, err: errorText(err) }, 'cannot record the thaw before a stop'));
    this.core.events.emit('container', 'unpause', c.Id, this.core.table.attrs(c));
  }

  /** The rest of a stop: the exit within the timeout (a negative one waits for ever), else SIGKILL. */
  async #awaitStop(c: ContainerRecord, s: { exited: Promise<void>; timeout: number }): Promise<void> {
    const { runtime, log } = this.core;
    if (s.timeout < 0) return await s.exited;
    if (s.timeout > 0) {
      if (await withTimeout(s.exited, s.timeout * 1000)) return;
      log.info({ containerId: c.Id, timeout: s.timeout }, 'container did not stop in time; sending SIGKILL');
    }
    // A pause while the stop waited does not keep it frozen: runc's `kill --all` thaws the
    // cgroup after signalling (runc 1.1 signalAllProcesses; compat/lifecycle.test.ts).
    await runtime.kill(c.Id, 9, { all: true }).then(() => this.#sent(c, 9), () => undefined);
    if (!(await withTimeout(s.exited, 30_000))) throw new EngineError('internal', 'ERR_STOP_TIMEOUT', `Cannot stop container ${c.Id}: it did not exit after SIGKILL`);
  }

  /** Docker's `kill` event for a signal a stop sent. */
  #sent(c: ContainerRecord, signal: number): void {
    this.core.events.emit('container', 'kill', c.Id, this.core.table.attrs(c, { signal: String(signal) }));
  }

  /** Resolves when the container's current run has exited (its exit handled); looks for the exit now. */
  exited(c: ContainerRecord): Promise<void> {
    const p = this.core.table.exited(c);
    this.core.runtime.scanExits();
    return p;
  }

  async kill(ref: string, signal?: string): Promise<void> {
    const { table, runtime, events } = this.core;
    const c = table.get(ref);
    const sig = parseSignal(signal, 9);
    // The lock only when there is something to write: a kill must get through while a stop holds it (and has set the flag).
    if (c.State.Status === 'restarting' && (await table.lock.run(c.Id, async () => this.endRestarting(c)))) return;
    if (!isLiveRecord(c)) throw conflict(`Cannot kill container: ${ref}: Container ${c.Id} is not running`);
    if (c.HasBeenManuallyStopped !== true) await table.lock.run(c.Id, async () => this.markManuallyStopped(c));
    await this.onLiveProcess(c, () => runtime.kill(c.Id, sig, { all: sig === 9 }), `Cannot kill container: ${ref}: Container ${c.Id} is not running`);
    events.emit('container', 'kill', c.Id, table.attrs(c, { signal: String(sig) }));
    if (sig === 9) await withTimeout(this.exited(c), 10_000);
  }

  /**
   * Run a runtime verb that needs the container's process. Between the process's exit and
   * the engine reading its exit the record still says running: the runtime then refuses,
   * which is the client's 409 (as Docker answers), not a daemon failure.
   */
  async onLiveProcess<T>(c: ContainerRecord, verb: () => Promise<T>, notRunning: string): Promise<T> {
    try {
      return await verb();
    } catch (err) {
      await this.#stateAfterFailure(c, notRunning);
      throw err;
    }
  }

  /** The runtime's state after a verb on the container's process failed; the 409 `notRunning` when the process is gone. */
  async #stateAfterFailure(c: ContainerRecord, notRunning: string): Promise<RuntimeState> {
    const st = await this.core.runtime.state(c.Id).catch(() => undefined);
    if (st === undefined || st.status === 'stopped') throw conflict(notRunning);
    return st;
  }

  async restart(ref: string, opts: StopOptions = {}): Promise<void> {
    const { table, events } = this.core;
    const c = table.get(ref);
    const signalled = await table.lock.run(c.Id, async () => {
      await this.endRestarting(c);
      if (!isLiveRecord(c)) return undefined;
      // The policy must not restart what this restart stops (Docker's HasBeenManuallyRestarted); the start clears it.
      await this.markManuallyStopped(c);
      // The exit handler decides on auto-removal synchronously when the exit is handled, before this resumes.
      this.#restarting.add(c.Id);
      try {
        return await this.#signalStop(c, opts);
      } catch (err) {
        this.#restarting.delete(c.Id);
        throw err;
      }
    });
    if (signalled !== undefined) {
      // As stop's, the wait holds no lock: an rm -f meanwhile is not kept waiting (the start then fails: removing, or gone).
      try {
        await this.#awaitStop(c, signalled);
      } finally {
        this.#restarting.delete(c.Id);
      }
      events.emit('container', 'stop', c.Id, table.attrs(c));
    }
    await this.start(c.Id);
    events.emit('container', 'restart', c.Id, table.attrs(c));
  }

  /**
   * `docker update`: the restart policy and the memory, cpu and pids limits. Checked by the
   * same code as create (planResources); a live container's cgroups are changed through the
   * runtime (`runc update`, only the container's own cgroups under moat's), then the record.
   * A zero (or absent) value leaves a limit as it is, as Docker's update does.
   */
  async update(ref: string, u: ContainerUpdate): Promise<string[]> {
    const { table, runtime } = this.core;
    const c = table.get(ref);
    return await table.lock.run(c.Id, async () => {
      if (c.State.Status === 'removing' || c.State.Status === 'dead') throw conflict(`Cannot update container ${c.Id}: it is ${c.State.Status}`);
      const hc = { ...c.HostConfig };
      if (u.RestartPolicy) {
        checkRestartPolicy(u.RestartPolicy);
        if (hc.AutoRemove === true && u.RestartPolicy.Name !== '' && u.RestartPolicy.Name !== 'no') throw invalid('Restart policy cannot be updated because AutoRemove is enabled for the container');
        hc.RestartPolicy = { Name: u.RestartPolicy.Name ?? '', MaximumRetryCount: u.RestartPolicy.MaximumRetryCount ?? 0 };
      }
      for (const k of UPDATE_RESOURCE_FIELDS) {
        const v = u[k];
        if (typeof v === 'number' && (v !== 0 || k === 'PidsLimit')) (hc as Record<string, unknown>)[k] = v;
      }
      // NanoCpus and CpuQuota/CpuPeriod exclude each other: the one the update sets wins.
      if (typeof u.NanoCpus === 'number' && u.NanoCpus !== 0) {
        delete hc.CpuQuota;
        delete hc.CpuPeriod;
      } else if ((u.CpuQuota ?? 0) !== 0 || (u.CpuPeriod ?? 0) !== 0) delete hc.NanoCpus;
      const planned = planResources(hc, { defaultPidsLimit: this.core.o.defaults.pidsLimit, numCpus: this.core.o.defaults.numCpus, blkio: this.core.o.defaults.blkio });
      const resources = { ...planned.resources };
      delete resources.devices;
      if (isLiveRecord(c)) await runtime.update(c.Id, resources);
      await table.commit(c, (next) => {
        next.HostConfig = hc;
        if (next.Plan) next.Plan = { ...next.Plan, resources };
        if (next.Security) next.Security = { ...next.Security, PidsLimit: resources.pids?.limit ?? null };
      });
      this.core.events.emit('container', 'update', c.Id, table.attrs(c));
      return planned.warnings;
    });
  }

  async pause(ref: string, pause: boolean): Promise<void> {
    const { table, runtime, events } = this.core;
    const c = table.get(ref);
    await table.lock.run(c.Id, async () => {
      if (pause) {
        if (c.State.Status === 'paused') throw conflict(`Container ${c.Id} is already paused`);
        if (c.State.Status !== 'running') throw conflict(`Container ${c.Id} is not running`);
      } else if (c.State.Status !== 'paused') throw conflict(`Container ${c.Id} is not paused`);
      try {
        await runtime.pause(c.Id, pause);
      } catch (err) {
        // Already as asked (a stop's `runc kill --all` thaws a container paused while the stop
        // waited): the record follows the runtime instead of a 500.
        const st = await this.#stateAfterFailure(c, `Container ${c.Id} is not running`);
        if (st.status !== (pause ? 'paused' : 'running')) throw err;
      }
      try {
        await table.commit(c, (next) => {
          next.State.Status = pause ? 'paused' : 'running';
        });
      } catch (err) {
        // The record still says the old state: make the runtime say it too.
        await runtime.pause(c.Id, !pause).catch(() => undefined);
        throw err;
      }
      events.emit('container', pause ? 'pause' : 'unpause', c.Id, table.attrs(c));
    });
  }

  async remove(ref: string, opts: RemoveOptions): Promise<void> {
    const c = this.core.table.get(ref);
    await this.core.table.lock.run(c.Id, async () => this.removeLocked(c, opts));
  }

  async removeLocked(c: ContainerRecord, opts: RemoveOptions): Promise<void> {
    const { table, store, log } = this.core;
    if (!table.has(c.Id)) return;
    this.core.restarts.cancel(c.Id);
    if (isLiveRecord(c)) {
      if (!opts.force) {
        throw conflict(`You cannot remove a ${c.State.Status} container ${c.Id}. Stop the container before attempting removal or force remove`);
      }
      await this.stopLocked(c, { timeout: 0 });
    }
    if (table.isCorrupt(c.Id)) {
      // Nothing of its record can be trusted: runtime state and the directory are what remain.
      await this.finishRemove(c, { volumes: false });
      return;
    }
    const volumes = opts.volumes === true || c.HostConfig.AutoRemove === true;
    const phases = new PhaseTimer();
    try {
      // The removal that follows a --rm container's exit writes its record without fsync:
      // after a power cut the record on disk says running (its exit was never written on
      // its own) or removing, and either way the next start removes the container, which
      // was no longer running. The page cache keeps the record across a crash of moatd.
      await table.commit(
        c,
        (next) => {
          next.State.Status = 'removing';
          if (volumes) next.RemoveVolumes = true;
        },
        { durable: opts.afterExit !== true },
      );
    } catch (err) {
      // A full disk cannot take the "removing" record, and removing is how space is freed:
      // drop the record instead (a directory without one is cleaned at the next start).
      if (resourceError(err) === undefined) throw err;
      log.warn({ containerId: c.Id, err: errorText(err) }, 'cannot record the removal: removing without it');
      await store.dropRecord(c.Id);
      c.State.Status = 'removing';
    }
    phases.mark('record');
    await this.finishRemove(c, { volumes }, phases);
    log.debug({ containerId: c.Id, phases: phases.done() }, 'removed');
  }

  /** The end of a removal; with `volumes`, the container's anonymous volumes go too (rm -v, --rm). */
  async finishRemove(c: ContainerRecord, opts: { volumes: boolean } = { volumes: false }, phases = new PhaseTimer()): Promise<void> {
    const core = this.core;
    const { table, runtime, events, log } = core;
    const id = c.Id;
    const b = core.bundle(id);
    runtime.unwatchMonitor(id);
    if (runtime.exists(id)) {
      // A Dead record's process may still run: a forced delete kills it; then its conmon
      // writes an exit file and ends, and both must be gone before the directory is.
      await runtime.delete(id, { force: true }).catch(() => undefined);
      await runtime.waitMonitorGone(id, b.dir);
    }
    phases.mark('runtime');
    // No process of it is left to be denied a syscall: its seccomp state files can go, in
    // parallel with the rest (each a thread-pool round trip), before its directory does.
    const explainerGone = core.o.seccompExplainer?.remove(id).catch(() => undefined);
    await core.networking.release(id).catch(core.failed('cannot release the network', id));
    await core.host.rootfs.unmount(b.rootfs);
    await core.unstage(id);
    // The exit file (in the runtime's exit dir) and the attach socket dir: apart, at once.
    await Promise.all([runtime.clearExit(id), runtime.forget(id)]);
    core.exits.forget(id);
    core.volumes.release(undefined, id);
    phases.mark('unmount');
    // The volumes go before the directory: the record ("removing", with RemoveVolumes) is
    // what finishes this removal after a crash, so it must outlive them.
    if (opts.volumes || c.RemoveVolumes === true) {
      for (const v of c.Volumes ?? []) {
        if (!v.anonymous || table.list().some((o) => o.Id !== id && (o.Volumes ?? []).some((x) => x.name === v.name))) continue;
        await core.volumes.remove(v.name, { force: true }).then(
          () => events.emit('volume', 'destroy', v.name, { driver: 'local' }),
          (err: unknown) => log.warn({ containerId: id, volume: v.name, err: errorText(err) }, 'cannot remove anonymous volume'),
        );
      }
    }
    phases.mark('volumes');
    await explainerGone;
    phases.mark('explainer');
    await core.store.removeDirSoon(id, (err) => log.warn({ containerId: id, err: errorText(err) }, 'cannot delete the removed container\'s directory: retried at the next start'));
    phases.mark('dir');
    table.delete(id);
    // runc removed the container's leaf cgroup; its CgroupParent levels go when no other
    // container names them, the daemon's parent when no container is live. After the
    // delete: of containers removed at once under one parent, the last to go sees no other.
    const others = table.list();
    const parents = parentLevelsToRemove(core.o.defaults.cgroupParent, c, others);
    const cantRemove = (err: unknown): void => log.warn({ containerId: id, err: errorText(err) }, 'cannot remove cgroup parents');
    if (parents.length > 0) await core.host.cgroups.removeParents(parents).catch(cantRemove);
    phases.mark('cgroups');
    core.execs.forgetContainer(id);
    events.emit('container', 'destroy', id, table.attrs(c));
    table.releaseWaiters(c);
    // The daemon's own parent goes an idle period after the last live container
    // (daemon-cgroup.ts): a `run --rm` right after this one finds it still there.
    if (!others.some((o) => isLiveRecord(o))) core.daemonCgroup.scheduleIfIdle();
  }

  async rename(ref: string, newName: string): Promise<void> {
    const { table, events } = this.core;
    const c = table.get(ref);
    const name = newName.startsWith('/') ? newName.slice(1) : newName;
    if (!isValidName(name)) throw invalid(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    if (`/${name}` === c.Name) throw invalid(`Renaming a container with the same name as its current name`);
    if (table.isCorrupt(c.Id)) throw conflict(`container ${c.Id} has a corrupt record: remove it with rm -f`);
    // Taken before the first await; the old name stays taken until the new record is written.
    const release = table.reserveName(name, c.Id);
    const old = c.Name;
    try {
      await table.commit(c, (next) => {
        next.Name = `/${name}`;
        // Its links name it (`/target:/source/alias`), as Docker's link graph does.
        if (next.HostConfig.Links) next.HostConfig.Links = next.HostConfig.Links.map((l) => storedLink(parseLink(l), name));
      });
    } finally {
      release();
    }
    events.emit('container', 'rename', c.Id, table.attrs(c, { oldName: old }));
  }
}
