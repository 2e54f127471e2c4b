// The engine: what the API asks of containers. moatd never owns a container's life (the
// runtime's monitor holds stdio and the exit code); the engine decides, records and
// reconciles. The verbs live by concern: create.ts, lifecycle.ts (start.ts), exits.ts
// (exits and live restore), exec.ts, attach.ts; plan.ts and run-plan.ts decide what runs.
import os from 'node:os';
import { stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { EngineError, conflict, errorText, noSuchContainer, type Logger } from '../base/index.js';
import { toDockerStats, type DockerStats, type StatsSnapshot } from '../cgroups/index.js';
import { AttachSession, type AttachSink } from './attach.js';
import { isLiveRecord, type WaitCondition, type WaitResult } from './containers.js';
import { EngineCore, type EngineOptions } from './core.js';
import { createContainer, discardUnfinished, type CreateRequest } from './create.js';
import type { EventBus } from './events.js';
import { ExecSessions, type ExecCreate } from './exec.js';
import { Restarts } from './restart.js';
import { HealthMonitors } from './health.js';
import { Exits } from './exits.js';
import { namespaceFacts, type JoinKind } from './join-facts.js';
import { Lifecycle, type ContainerUpdate, type StopOptions } from './lifecycle.js';
import { cgroupSubPathOrNone, usedLevels } from './cgroup-parents.js';
import { LimitWatcher } from './limits.js';
import { logSettings } from './log-config.js';
import { LOG_NAME, type OpenLogFile } from './log-files.js';
import { containerCapabilities, planOf, ZERO_TIME } from './plan.js';
import type { SeccompAssessment } from './seccomp-policy.js';
import type { ScanEntry } from './store.js';
import { parsePsOutput } from './top.js';
import type { ContainerRecord, ExecRecord, HostConfig, NetworkingConfig } from './types.js';
import { dirSize, type VolumeStore } from './volumes.js';
import { openPinnedBind } from './binds.js';
import { openRunningTmpfs, type ContainerView, type ViewMount } from './container-view.js';
import { openRoot, tryOpenAt, type Handle } from '../sys/index.js';

/** See Engine.openLogs. */
export interface ContainerLogs {
  readonly files: readonly OpenLogFile[];
  successors(ino: number): Promise<OpenLogFile[]>;
  currentIno(): Promise<number | undefined>;
  close(): Promise<void>;
}

/** Where a container's files are, as inspect shows them. */
export interface ContainerPaths {
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  /** '' with the `none` log driver. */
  LogPath: string;
  /** The overlay dirs (GraphDriver.Data). */
  UpperDir: string;
  WorkDir: string;
  MergedDir: string;
  /** The volumes' directory: a volume's data is `<VolumesDir>/<name>/_data` (Mounts[].Source). */
  VolumesDir: string;
}

export class Engine {
  readonly events: EventBus;
  readonly #core: EngineCore;
  readonly #log: Logger;

  constructor(o: EngineOptions) {
    const core = new EngineCore(o);
    core.lifecycle = new Lifecycle(core);
    core.exits = new Exits(core);
    core.execs = new ExecSessions(core);
    core.restarts = new Restarts(core);
    core.health = new HealthMonitors(core);
    this.#core = core;
    this.#log = core.log;
    this.events = o.events;
  }

  // ---- startup and live restore -------------------------------------------------------

  async init(): Promise<void> {
    const core = this.#core;
    const { table, exits, runtime } = core;
    await runtime.prepare({
      exited: (id, code) => void exits.onExit(id, code).catch(core.failed('cannot handle the exit', id)),
      monitorGone: (id) => void exits.onMonitorGone(id).catch(core.failed('cannot handle the end of conmon', id)),
      isLive: (id) => table.isLive(id),
    });
    await core.store.init();
    const corrupt: Array<Extract<ScanEntry, { kind: 'corrupt' }>> = [];
    for (const e of await core.store.scan()) {
      if (e.kind === 'unfinished') {
        this.#log.warn({ containerId: e.id }, 'removing a container whose create never finished');
        await discardUnfinished(core, e.id, this.#log).catch((err: unknown) => this.#log.error({ containerId: e.id, err: errorText(err) }, 'cannot remove an unfinished create'));
      } else if (e.kind === 'corrupt') corrupt.push(e);
      else table.add(e.record);
    }
    // After the good records, so a damaged record never takes a name a good one holds.
    for (const e of corrupt) {
      this.#log.error({ containerId: e.id, path: e.path, reason: e.reason }, 'container record is corrupt: listed as Dead until removed with rm -f');
      table.addCorrupt(e);
    }
    // Volumes: half-made directories of a create that never finished go now.
    const volumes = await core.volumes.load();
    for (const v of volumes.removed) this.#log.warn({ volume: v }, 'removed a volume directory whose create never finished');
    for (const v of volumes.corrupt) this.#log.error({ volume: v.name, path: v.path, reason: v.reason }, 'volume record is corrupt: not listed');
    // Networking first: reconciling may release a container's network.
    await core.networking.restore(new Set(table.list().filter((c) => isLiveRecord(c) && !table.isCorrupt(c.Id)).map((c) => c.Id)));
    for (const rec of table.list()) {
      if (table.isCorrupt(rec.Id)) continue;
      await exits.reconcile(rec).catch((err: unknown) => this.#log.error({ containerId: rec.Id, err: errorText(err) }, 'cannot reconcile the container with runc'));
    }
    for (const rec of table.list()) {
      if (isLiveRecord(rec)) core.logKeeper.watch(rec.Id, core.store.dir(rec.Id), logSettings(rec.HostConfig.LogConfig, core.logConfig));
      if (rec.State.Status === 'running') core.health.start(rec);
    }
    // CgroupParent levels a crash left behind (their last container's removal did not finish).
    await core.host.cgroups.sweep(core.o.defaults.cgroupParent, usedLevels(table.list()));
    await core.host.cgroups.init(core.o.defaults.cgroupParent);
    // A parent a stopped moatd left with no live container in it goes after the idle period.
    core.daemonCgroup.scheduleIfIdle();
    core.limits = new LimitWatcher(
      (id) => {
        const c = table.byId(id);
        return c === undefined ? Promise.resolve({}) : core.host.cgroups.counters(id, cgroupSubPathOrNone(c));
      },
      () => table.list().filter((c) => c.State.Status === 'running').map((c) => c.Id),
      (hit) => exits.onLimitHit(hit),
    );
    core.limits.start();
    runtime.watchExits();
    await core.restarts.atDaemonStart();
  }

  async close(): Promise<void> {
    const core = this.#core;
    core.runtime.close();
    core.restarts.close();
    core.health.close();
    core.exits.close();
    core.limits?.stop();
    core.logKeeper.close();
    core.attach.close();
    await core.networking.close();
    // A parent waiting for its idle period goes now: a stopped moatd leaves none behind.
    await core.daemonCgroup.close();
  }

  // ---- lookup ------------------------------------------------------------------------

  list(): ContainerRecord[] {
    return this.#core.table.list();
  }

  /** By full id, name (with or without '/'), or unique id prefix. */
  find(ref: string): ContainerRecord | undefined {
    return this.#core.table.find(ref);
  }

  /** `find`, with an ambiguous id prefix (which names no one container) as none. */
  findOne(ref: string): ContainerRecord | undefined {
    try {
      return this.find(ref);
    } catch {
      return undefined;
    }
  }

  get(ref: string): ContainerRecord {
    return this.#core.table.get(ref);
  }

  isRunning(ref: string): boolean {
    const c = this.find(ref);
    return c !== undefined && isLiveRecord(c);
  }

  /** A container using the image, for `rmi` conflicts. */
  containerUsingImage(imageId: string): string | undefined {
    return this.list().find((c) => c.Image === imageId)?.Id;
  }

  /** Local named volumes under `<dataRoot>/volumes`. */
  get volumes(): VolumeStore {
    return this.#core.volumes;
  }

  // ---- the verbs -----------------------------------------------------------------------

  create(req: CreateRequest): Promise<{ Id: string; Warnings: string[] }> {
    return createContainer(this.#core, req);
  }

  start(ref: string): Promise<void> {
    return this.#core.lifecycle.start(ref);
  }

  stop(ref: string, opts: StopOptions = {}): Promise<void> {
    return this.#core.lifecycle.stop(ref, opts);
  }

  /** `docker update`; resolves with Docker's warnings. */
  update(ref: string, u: ContainerUpdate): Promise<string[]> {
    return this.#core.lifecycle.update(ref, u);
  }

  kill(ref: string, signal?: string): Promise<void> {
    return this.#core.lifecycle.kill(ref, signal);
  }

  restart(ref: string, opts: StopOptions = {}): Promise<void> {
    return this.#core.lifecycle.restart(ref, opts);
  }

  pause(ref: string, pause: boolean): Promise<void> {
    return this.#core.lifecycle.pause(ref, pause);
  }

  remove(ref: string, opts: { force: boolean; volumes?: boolean }): Promise<void> {
    return this.#core.lifecycle.remove(ref, opts);
  }

  rename(ref: string, newName: string): Promise<void> {
    return this.#core.lifecycle.rename(ref, newName);
  }

  /**
   * `docker network connect` / `disconnect`: runs `change` under the container's lock with
   * whether it runs; the networks it returns (NetworkMode and the endpoint settings) are
   * written to the record, so the next start attaches the same networks.
   */
  async changeNetworks(ref: string, change: (c: ContainerRecord, running: boolean) => Promise<{ networkMode: string; networkingConfig: NetworkingConfig }>): Promise<void> {
    const core = this.#core;
    const c = this.get(ref);
    await core.table.lock.run(c.Id, async () => {
      if (!core.table.has(c.Id)) throw noSuchContainer(ref);
      const next = await change(c, c.State.Status === 'running' || c.State.Status === 'paused');
      await core.table.commit(c, (r) => {
        r.HostConfig = { ...r.HostConfig, NetworkMode: next.networkMode };
        r.NetworkingConfig = next.networkingConfig;
      });
    });
  }

  wait(ref: string, condition: WaitCondition): Promise<WaitResult> {
    return this.#core.table.wait(this.get(ref), condition);
  }

  // ---- attach, exec ------------------------------------------------------------------

  /**
   * Attach a client to a container's stdio. Before start the session waits (and buffers
   * stdin); on a running container it connects now; on a stopped one it ends at once.
   */
  async attach(ref: string, opts: { stdin: boolean; stdout: boolean; stderr: boolean }, sink: AttachSink): Promise<AttachSession> {
    const core = this.#core;
    const c = this.get(ref);
    const cfg = c.Config;
    const session = new AttachSession({ stdin: opts.stdin && cfg.OpenStdin === true, stdout: opts.stdout, stderr: opts.stderr, closeStdinOnEof: cfg.StdinOnce === true && cfg.Tty !== true }, sink);
    if (c.State.Status === 'created' || c.State.Status === 'exited') core.attach.wait(c.Id, session);
    else if (isLiveRecord(c)) {
      const err = await core.attach.connect(c.Id, session, () => core.runtime.attach(c.Id));
      if (err !== undefined) this.#log.warn({ containerId: c.Id, err: errorText(err) }, 'attach failed');
    } else session.finish();
    this.events.emit('container', 'attach', c.Id, core.table.attrs(c));
    return session;
  }

  async resize(ref: string, height: number, width: number): Promise<void> {
    const c = this.get(ref);
    if (!isLiveRecord(c)) throw conflict(`Container ${c.Id} is not running`);
    if (c.Config.Tty !== true) return;
    await this.#core.runtime.resize({ container: c.Id, bundle: this.#core.store.dir(c.Id) }, height, width);
    // dockerd's event after a resize it applied (moby daemon/resize.go).
    this.events.emit('container', 'resize', c.Id, this.#core.table.attrs(c, { height: String(height), width: String(width) }));
  }

  execCreate(ref: string, o: ExecCreate): string {
    return this.#core.execs.create(ref, o);
  }

  /** Exec sessions of a container, for inspect's ExecIDs. */
  execIdsOf(containerId: string): string[] {
    return this.#core.execs.idsOf(containerId);
  }

  getExec(id: string): ExecRecord {
    return this.#core.execs.get(id);
  }

  /**
   * Start an exec. With a sink, output goes there and the promise resolves when the
   * process has exited; detached, it resolves once the process runs.
   */
  execStart(id: string, sink: AttachSink | undefined, opts: { onSession?: (s: AttachSession) => void } = {}): Promise<void> {
    return this.#core.execs.start(id, sink, opts);
  }

  execResize(id: string, height: number, width: number): Promise<void> {
    return this.#core.execs.resize(id, height, width);
  }

  // ---- what the API shows --------------------------------------------------------------

  /** The last seccomp denials recorded for a container (newest last). */
  async seccompDenials(ref: string, last = 20): Promise<unknown[]> {
    const c = this.get(ref);
    return (await this.#core.o.seccompExplainer?.denials(c.Id, last).catch(() => [])) ?? [];
  }

  /** Where a container's files are (inspect's paths). */
  pathsOf(c: ContainerRecord): ContainerPaths {
    const b = this.#core.bundle(c.Id);
    return { ResolvConfPath: b.resolvConf, HostnamePath: b.hostname, HostsPath: b.hosts, LogPath: this.logPath(c), UpperDir: b.upper, WorkDir: b.work, MergedDir: b.rootfs, VolumesDir: this.#core.volumes.root };
  }

  /** The container's log file ('' with the `none` driver). */
  logPath(c: ContainerRecord): string {
    return logSettings(c.HostConfig.LogConfig, this.#core.logConfig).driver === 'none' ? '' : join(this.#core.store.dir(c.Id), LOG_NAME);
  }

  /**
   * A container's log files, opened for one reader (oldest first), and what a follower
   * needs to cross conmon's rotations. The reader closes them. A container with the `none`
   * driver has no log: 501, as dockerd.
   */
  async openLogs(c: ContainerRecord): Promise<ContainerLogs> {
    const core = this.#core;
    const settings = logSettings(c.HostConfig.LogConfig, core.logConfig);
    if (settings.driver === 'none') throw new EngineError('not-implemented', 'ERR_LOGS_NOT_READABLE', 'configured logging driver does not support reading');
    const dir = core.store.dir(c.Id);
    const files = await core.logKeeper.open(dir, settings);
    return {
      files,
      successors: (ino) => core.logKeeper.openAfter(dir, settings, ino),
      currentIno: () => stat(join(dir, LOG_NAME)).then((st) => st.ino, () => undefined),
      close: async () => {
        await Promise.all(files.map((f) => f.fh.close().catch(() => undefined)));
      },
    };
  }

  /**
   * `docker top`: the container's processes with Docker's default columns, or the host's
   * `ps` with the client's options, rows kept by the PID column (moby `daemon/top_unix.go`).
   */
  async top(ref: string, psArgs = ''): Promise<{ Titles: string[]; Processes: string[][] }> {
    const core = this.#core;
    const c = this.get(ref);
    if (!isLiveRecord(c)) throw conflict(`Container ${c.Id} is not running`);
    const pids = await core.lifecycle.onLiveProcess(c, () => core.runtime.pids(c.Id), `Container ${c.Id} is not running`);
    const args = psArgs.split(/\s+/).filter((x) => x !== '');
    if (args.length === 0) return { Titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'], Processes: await core.host.processes.rows(pids) };
    return parsePsOutput(await core.host.processes.ps(args), new Set(pids.map(String)));
  }

  /** One stats sample of a container's cgroups (an empty one when it is not running). */
  async sampleStats(ref: string): Promise<StatsSnapshot> {
    const c = this.find(ref);
    return await this.#core.host.cgroups.sample(c !== undefined && isLiveRecord(c) ? c.State.Pid : 0);
  }

  /** Docker's stats JSON from two samples. */
  statsView(c: ContainerRecord, cur: StatsSnapshot, prev: StatsSnapshot | undefined): DockerStats {
    return toDockerStats(cur, prev, { machineMemory: os.totalmem(), name: this.find(c.Id)?.Name ?? c.Name, id: c.Id });
  }

  // ---- what authorization needs to know about a create --------------------------------

  /**
   * A create's seccomp filter compared with the daemon's default, by the code that builds
   * the filter (seccomp-policy.ts). Bad options come back as `error` (the create is refused
   * with them later).
   */
  assessSeccomp(hc: HostConfig): SeccompAssessment {
    try {
      return this.#core.o.seccomp.assess({ HostConfig: hc }, containerCapabilities(hc, this.#core.o.defaults));
    } catch (err) {
      return { profile: 'invalid', weakerThanDefault: undefined, error: errorText(err) };
    }
  }

  /** The `kind` namespace of container `ref`: the host's, or shared with a privileged container? */
  namespaceOf(ref: string, kind: JoinKind): { id: string; host: boolean; privileged: boolean } | undefined {
    const find = (r: string): ContainerRecord | undefined => this.findOne(r);
    const c = find(ref);
    if (!c) return undefined;
    return { id: c.Id, ...namespaceFacts(this.list(), { find, target: c.Id, kind }) };
  }

  /**
   * What `--volumes-from ref` would mount: the host paths of its binds and the names of its
   * volumes (from its plan, as the create copies them).
   */
  mountsOf(ref: string): { id: string; bindSources: string[]; volumes: string[] } | undefined {
    const c = this.findOne(ref);
    if (!c) return undefined;
    const mounts = planOf(c, this.#core.o.defaults).mounts;
    return {
      id: c.Id,
      bindSources: mounts.filter((m) => m.kind === 'bind').map((m) => m.source),
      volumes: mounts.filter((m) => m.kind === 'volume').map((m) => m.source),
    };
  }

  // ---- the container's filesystem (export, diff; commit later) -----------------------------

  /** `size=1` on ps and inspect, `system df`: the container's own files, and those plus its image's (moby's SizeRootFs). */
  async sizes(ref: string): Promise<{ SizeRw: number; SizeRootFs: number }> {
    const c = this.#core.table.get(ref);
    const rw = await dirSize(this.#core.bundle(c.Id).upper).catch(() => 0);
    let image = 0;
    try {
      image = this.#core.o.images.get(c.Image).size;
    } catch {
      // an image removed under it (rmi -f) adds nothing
    }
    return { SizeRw: rw, SizeRootFs: rw + image };
  }

  /** For diff: a container that never started gets its working directory (see `withRootfs`). */
  async makeCreatedWorkdir(ref: string): Promise<void> {
    if (this.#workdirPending(this.get(ref))) await this.withRootfs(ref, async () => undefined, { asCreated: true });
  }

  layersOf(ref: string): { upper: string; lowers: string[] } {
    const c = this.get(ref);
    const images = this.#core.o.images;
    return { upper: this.#core.bundle(c.Id).upper, lowers: images.layerDirs(images.get(c.Image)) };
  }

  /**
   * Runs `fn` on the container's files as it sees them (docker cp): its merged rootfs (mounted
   * for the call when the container is not running) with its plan's volumes (their `_data`),
   * binds (the pinned source, checked as at start) and, while it runs, tmpfs mounts (reached
   * through /proc/PID/root, checked to be this container's root) over it.
   */
  async withContainerView<T>(ref: string, fn: (view: ContainerView) => Promise<T>): Promise<T> {
    const core = this.#core;
    const c = this.get(ref);
    const mounts: ViewMount[] = [];
    const copyUps: Array<{ target: string; dir: string }> = [];
    for (const m of core.plan(c).mounts) {
      const base = { target: m.target, kind: m.kind, readOnly: m.readOnly };
      if (m.kind === 'volume') {
        // Made now if the container never started: what is copied in is what it will mount.
        const dir = await core.volumes.ensure(m.source);
        // A container that never ran has not copied the image's content into its empty volumes yet (start does it): done first, as Docker does at create, so a copy is not lost behind it nor stops it.
        if (c.State.StartedAt === ZERO_TIME && m.noCopy !== true) copyUps.push({ target: m.target, dir });
        mounts.push({ ...base, open: () => openRoot(dir) });
      } else if (m.kind === 'bind') {
        mounts.push({ ...base, open: () => openPinnedBind(m, c.BindSources) });
      } else {
        mounts.push({ ...base, open: () => (isLiveRecord(c) ? openRunningTmpfs(c.State.Pid, core.bundle(c.Id).rootfs, m.target) : undefined) });
      }
    }
    // /etc/hostname, hosts and resolv.conf: moat's files from the bundle (daemon-owned), unless a mount of the plan replaces them.
    const b = core.bundle(c.Id);
    for (const [target, file] of [['/etc/hostname', b.hostname], ['/etc/hosts', b.hosts], ['/etc/resolv.conf', b.resolvConf]] as const) {
      if (mounts.some((m) => m.target === target)) continue;
      mounts.push({ target, kind: 'bind', readOnly: false, open: () => withDir(dirname(file), (dir) => tryOpenAt(dir, basename(file))) });
    }
    return await this.withRootfs(ref, async (dir) => {
      for (const u of copyUps) {
        const stopped = await core.host.rootfs.copyUp(dir, u.target, u.dir);
        if (stopped !== undefined) this.#log.warn({ containerId: c.Id, volume: u.dir, reason: stopped }, 'volume changed during copy-up; copy stopped');
      }
      return await fn({ openRoot: () => openRoot(dir), mounts, readOnlyRootfs: c.HostConfig.ReadonlyRootfs === true });
    }, { asCreated: true });
  }

  #workdirPending(c: ContainerRecord): boolean {
    const cwd = c.Config.WorkingDir ?? '';
    return c.State.StartedAt === ZERO_TIME && cwd !== '' && cwd !== '/' && !isLiveRecord(c);
  }

  /**
   * Runs `fn` on the container's merged rootfs, mounting it for the call when the container is
   * not running. `asCreated`: a container that never started gets its working directory first
   * (dockerd makes it at create, moat at the first start): what `docker cp`, export and diff
   * see before a start is what they see with dockerd.
   */
  async withRootfs<T>(ref: string, fn: (dir: string) => Promise<T>, o: { asCreated?: boolean } = {}): Promise<T> {
    const core = this.#core;
    const c = this.get(ref);
    const b = core.bundle(c.Id);
    if (isLiveRecord(c)) return await fn(b.rootfs);
    return await core.table.lock.run(c.Id, async () => {
      if (!core.table.has(c.Id)) throw noSuchContainer(ref);
      await core.host.rootfs.mount(core.o.images.layerDirs(core.o.images.get(c.Image)), { upper: b.upper, work: b.work, merged: b.rootfs });
      try {
        const now = core.table.get(c.Id);
        if (o.asCreated === true && this.#workdirPending(now)) core.host.rootfs.makeWorkdir(b.rootfs, now.Config.WorkingDir!);
        return await fn(b.rootfs);
      } finally {
        await core.host.rootfs.unmount(b.rootfs).catch((err: unknown) => this.#log.warn({ containerId: c.Id, err: errorText(err) }, 'unmount after export failed'));
      }
    });
  }
}

function withDir<T>(path: string, fn: (dir: Handle) => T): T {
  const dir = openRoot(path);
  try {
    return fn(dir);
  } finally {
    dir.close();
  }
}

export type { WaitCondition, WaitResult, CreateRequest, EngineOptions, StopOptions, ExecCreate };
