// The container state machine. moatd never owns a container's life: conmon holds stdio and
// the exit code; this class decides, records and reconciles.
import { mkdir, rm, writeFile, readFile, rmdir, chmod, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError, CleanupStack, noSuchContainer, noSuchExec, conflict, invalid, newId, isValidName, randomName, errorText, resourceError, type Logger } from '../base/index.js';
import type { ImageStore, ImageRecord } from '../image/index.js';
import { mountOverlay, unmountOverlay } from '../image/index.js';
import {
  createContainer,
  startContainer,
  killContainer,
  deleteContainer,
  stateOf,
  pauseContainer,
  listPids,
  spawnExec,
  startFailureExitCode,
  type RuntimePaths,
} from '../runtime/index.js';
import { ProcessWatcher, commandLineOf } from '../sys/index.js';
import { generateSpec, resolveUser, toOciJson, bindToOciMount, tmpfsToOciMount, type Mount } from '../spec/index.js';
import { checkVolumeName, type MountRequest } from '../docker/index.js';
import { writeFileAtomic, writeJsonAtomic } from '../base/index.js';
import { ContainerStore, type ScanEntry } from './store.js';
import { ExitMonitor } from './monitor.js';
import { EventBus } from './events.js';
import { AttachSession, type AttachSink } from './attach.js';
import { planContainer, validateHostConfig, securitySummary, containerCapabilities, type DaemonDefaults, type PlanInputs } from './plan.js';
import { readRootfsText, makeWorkdir } from './rootfs.js';
import { parseSignal } from './signals.js';
import type { ContainerConfig, ContainerRecord, ExecRecord, HostConfig } from './types.js';
import { SeccompPolicy, type SeccompAssessment } from './seccomp-policy.js';
import { namespaceFacts, type JoinKind } from './join-facts.js';
import { PhaseTimer, KeyedLock, withTimeout, mergeEnv, buildEnv } from './util.js';
import { writeResize, hostDevices, allHostDevices, chownIfRoot, populateVolume } from './host-setup.js';
import { LimitWatcher, locateCgroups, type CgroupLocator, type LimitHit } from './limits.js';
import type { NotifyRule, LinuxSeccomp } from '../seccomp/index.js';
import type { NamespaceRequests } from './plan.js';
import { VolumeStore } from './volumes.js';
import { identifyBindSources, stageBinds, unstageBinds } from './binds.js';
import { DEFAULT_DAEMON_LOG_CONFIG, effectiveLogConfig, logSettings, type DaemonLogConfig } from './log-config.js';
import { LogKeeper, LOG_NAME, type OpenLogFile } from './log-files.js';

export interface EngineOptions {
  dataRoot: string;
  execRoot: string;
  runtime: RuntimePaths;
  images: ImageStore;
  events: EventBus;
  log: Logger;
  defaults: DaemonDefaults;
  seccomp: SeccompPolicy;
  /** `--log-driver` / `--log-opt`; default json-file with moat's cap. */
  logConfig?: DaemonLogConfig;
  /**
   * Asked at every create with the reference as given and the image it resolved to: throws
   * (403) when the image trust policy refuses to run it.
   */
  imageGate?: (ref: string, image: ImageRecord) => void;
  /** The seccomp denial explainer: rule tables before runc create, records for inspect, cleanup. */
  seccompExplainer?: {
    prepare(containerId: string, rules: readonly NotifyRule[], spec?: LinuxSeccomp): Promise<void>;
    denials(containerId: string, last: number): Promise<unknown[]>;
    remove(containerId: string): Promise<void>;
  };
}

export interface CreateRequest {
  name?: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export interface WaitResult {
  StatusCode: number;
  Error: { Message: string } | null;
}

/** See Engine.openLogs. */
export interface ContainerLogs {
  readonly files: readonly OpenLogFile[];
  successors(ino: number): Promise<OpenLogFile[]>;
  currentIno(): Promise<number | undefined>;
  close(): Promise<void>;
}

interface Waiter {
  condition: WaitCondition;
  generation: number;
  resolve: (r: WaitResult) => void;
}

interface ExecSession {
  record: ExecRecord;
  dir: string;
  pending: AttachSession[];
  done: Promise<void>;
  markDone: () => void;
}

const now = (): string => new Date().toISOString();
const ZERO_TIME = '0001-01-01T00:00:00Z';

export class Engine {
  readonly events: EventBus;
  readonly images: ImageStore;
  #o: EngineOptions;
  #log: Logger;
  #store: ContainerStore;
  #monitor: ExitMonitor;
  #containers = new Map<string, ContainerRecord>();
  #waiters = new Map<string, Waiter[]>();
  #attachPending = new Map<string, AttachSession[]>();
  #attached = new Map<string, Set<AttachSession>>();
  #execs = new Map<string, ExecSession>();
  #stopping = new Set<string>();
  #lock = new KeyedLock();
  #exitHandled = new Map<string, Promise<void>>();
  #cgroups: CgroupLocator | undefined;
  #limits: LimitWatcher | undefined;
  /** Names taken by creates and renames still writing their record (name -> container id). */
  #reservedNames = new Map<string, string>();
  /** Containers whose record on disk is corrupt: listed as Dead, never written over. */
  #corrupt = new Set<string>();
  /** Exits recorded in memory whose record could not be written yet (conmon's exit file stays). */
  #unsavedExits = new Set<string>();
  #unsavedTimer: NodeJS.Timeout | undefined;
  /** Each running container's conmon: when it dies, reconcile with runc at once. */
  #conmons: ProcessWatcher;
  #logKeeper: LogKeeper;

  constructor(o: EngineOptions) {
    this.#o = o;
    this.events = o.events;
    this.images = o.images;
    this.#log = o.log.child({ component: 'engine' });
    this.#store = new ContainerStore(join(o.dataRoot, 'containers'));
    const failed = (what: string, id: string) => (err: unknown): void => this.#log.error({ containerId: id, err: errorText(err) }, what);
    this.#monitor = new ExitMonitor(o.runtime.exitDir, (id, code) => void this.#onExit(id, code).catch(failed('cannot handle the exit', id)), (id) => this.#isLive(id));
    this.#conmons = new ProcessWatcher((id) => void this.#onConmonGone(id).catch(failed('cannot handle the end of conmon', id)));
    this.#logKeeper = new LogKeeper(o.log);
  }

  get #logConfig(): DaemonLogConfig {
    return this.#o.logConfig ?? DEFAULT_DAEMON_LOG_CONFIG;
  }

  #isLive(id: string): boolean {
    const c = this.#containers.get(id);
    return c !== undefined && (c.State.Status === 'running' || c.State.Status === 'paused');
  }

  // ---- startup and live restore -------------------------------------------------------

  async init(): Promise<void> {
    const r = this.#o.runtime;
    for (const d of [r.runcRoot, r.exitDir, r.socketDir, join(this.#o.execRoot, 'exec')]) await mkdir(d, { recursive: true, mode: 0o700 });
    await this.#store.init();
    const corrupt: Array<Extract<ScanEntry, { kind: 'corrupt' }>> = [];
    for (const e of await this.#store.scan()) {
      if (e.kind === 'unfinished') {
        this.#log.warn({ containerId: e.id }, 'removing a container whose create never finished');
        await this.#discard(e.id).catch((err: unknown) => this.#log.error({ containerId: e.id, err: errorText(err) }, 'cannot remove an unfinished create'));
      } else if (e.kind === 'corrupt') corrupt.push(e);
      else this.#containers.set(e.id, e.record);
    }
    // After the good records, so a damaged record never takes a name a good one holds.
    for (const e of corrupt) {
      this.#log.error({ containerId: e.id, path: e.path, reason: e.reason }, 'container record is corrupt: listed as Dead until removed with rm -f');
      this.#corrupt.add(e.id);
      this.#containers.set(e.id, this.#deadRecord(e));
    }
    // Volumes: half-made directories of a create that never finished go now.
    const volumes = await this.volumes.load();
    for (const v of volumes.removed) this.#log.warn({ volume: v }, 'removed a volume directory whose create never finished');
    for (const v of volumes.corrupt) this.#log.error({ volume: v.name, path: v.path, reason: v.reason }, 'volume record is corrupt: not listed');
    for (const rec of [...this.#containers.values()]) {
      if (this.#corrupt.has(rec.Id)) continue;
      await this.#reconcile(rec).catch((err: unknown) => this.#log.error({ containerId: rec.Id, err: errorText(err) }, 'cannot reconcile the container with runc'));
    }
    for (const rec of this.#containers.values()) {
      if (this.#isLive(rec.Id)) this.#logKeeper.watch(rec.Id, this.#store.dir(rec.Id), logSettings(rec.HostConfig.LogConfig, this.#logConfig));
    }
    this.#cgroups = await locateCgroups(this.#o.defaults.cgroupParent);
    this.#limits = new LimitWatcher(
      this.#cgroups,
      () => [...this.#containers.values()].filter((c) => c.State.Status === 'running').map((c) => c.Id),
      (hit) => this.#onLimitHit(hit),
    );
    this.#limits.start();
    this.#monitor.start();
    void this.#monitor.scan();
  }

  /** A placeholder for a record that cannot be read: Dead, with the reason, its name kept when readable. */
  #deadRecord(e: Extract<ScanEntry, { kind: 'corrupt' }>): ContainerRecord {
    const raw = typeof e.raw === 'object' && e.raw !== null && !Array.isArray(e.raw) ? (e.raw as Record<string, unknown>) : {};
    const rawName = typeof raw['Name'] === 'string' ? raw['Name'].replace(/^\//, '') : '';
    const name = isValidName(rawName) && this.#nameHolder(rawName) === undefined ? rawName : e.id.slice(0, 12);
    const created = typeof raw['Created'] === 'string' && !Number.isNaN(Date.parse(raw['Created'])) ? raw['Created'] : e.modified.toISOString();
    const rawConfig = typeof raw['Config'] === 'object' && raw['Config'] !== null ? (raw['Config'] as Record<string, unknown>) : {};
    return {
      Id: e.id,
      Name: `/${name}`,
      Created: created,
      Image: typeof raw['Image'] === 'string' ? raw['Image'] : '',
      Path: '',
      Args: [],
      Config: { Image: typeof rawConfig['Image'] === 'string' ? rawConfig['Image'] : '' },
      HostConfig: {},
      State: { Status: 'dead', Pid: 0, ExitCode: 0, Error: `the container record is corrupt: ${e.reason}`, StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME, OOMKilled: false },
      RestartCount: 0,
      ExitGeneration: 0,
    };
  }

  /**
   * Change a container's record: the change is made on a copy, the copy is written, and only
   * then does the record in memory become the copy. A failed write leaves memory as the disk.
   */
  async #commit(c: ContainerRecord, change: (next: ContainerRecord) => void): Promise<void> {
    if (this.#corrupt.has(c.Id)) throw conflict(`container ${c.Id} has a corrupt record: remove it with rm -f`);
    const next = structuredClone(c);
    change(next);
    await this.#store.save(next);
    replaceRecord(c, next);
  }

  async close(): Promise<void> {
    this.#monitor.stop();
    this.#conmons.close();
    if (this.#unsavedTimer) clearInterval(this.#unsavedTimer);
    this.#limits?.stop();
    this.#logKeeper.close();
    for (const set of this.#attached.values()) for (const s of set) s.finish();
  }

  /** Bring a record in line with runc's state and conmon's exit file after a restart. */
  async #reconcile(rec: ContainerRecord): Promise<void> {
    const id = rec.Id;
    // Bind staging mounts are only needed until runc has made the container's own copies.
    await this.#unstage(id);
    if (rec.State.Status === 'removing') {
      await this.#finishRemove(rec);
      return;
    }
    if (rec.State.Status !== 'running' && rec.State.Status !== 'paused') {
      // A start interrupted by a crash (after conmon ran `runc create`, before the record said
      // running; the container may have run before, so the record says created or exited)
      // leaves a process, a conmon, a mount and a cgroup no record accounts for: undo them.
      if (await stateOf(this.#o.runtime, id).catch(() => undefined)) {
        this.#log.warn({ containerId: id }, 'undoing a start that never finished');
        await deleteContainer(this.#o.runtime, id, true).catch(() => undefined);
        await this.#waitConmonGone(id);
        await this.#monitor.clear(id);
      }
      await unmountOverlay(join(this.#store.dir(id), 'rootfs')).catch(() => undefined);
      return;
    }
    const code = await this.#monitor.read(id);
    if (code !== undefined) {
      this.#log.info({ containerId: id, exitCode: code }, 'container exited while moatd was down');
      await this.#onExit(id, code);
      return;
    }
    const st = await stateOf(this.#o.runtime, id).catch(() => undefined);
    if (st && (st.status === 'running' || st.status === 'paused')) {
      // Its conmon died while moatd was down: nobody holds its stdio or will report its exit.
      if (this.#watchConmon(rec) === 'gone') {
        await this.#onConmonGone(id);
        return;
      }
      if (rec.State.Status !== st.status || rec.State.Pid !== st.pid) {
        await this.#commit(rec, (next) => {
          next.State.Status = st.status as 'running' | 'paused';
          next.State.Pid = st.pid;
        }).catch((err: unknown) => this.#log.warn({ containerId: id, err: errorText(err) }, 'cannot record the state runc reports'));
      }
      this.#log.info({ containerId: id, pid: st.pid }, 'container kept running while moatd was down');
      return;
    }
    // Neither an exit file nor a live process: conmon died with it. Docker reports 255.
    this.#log.warn({ containerId: id }, 'container vanished without an exit code');
    await this.#onExit(id, 255);
  }

  /**
   * Watch the conmon of a running container: `'gone'` when it is no longer running (or its
   * pid is now another process). A record without a conmon pid, or a pidfd that cannot be
   * had, is `'unknown'` and never taken for a dead conmon.
   */
  #watchConmon(c: ContainerRecord): 'watched' | 'gone' | 'unknown' {
    const pid = c.State.ConmonPid ?? 0;
    if (pid <= 0) return 'unknown';
    const r = this.#conmons.watch(c.Id, pid, (argv) => (argv[0] ?? '').endsWith('conmon') && argv.includes(c.Id));
    if (r === 'unknown') this.#log.warn({ containerId: c.Id, conmonPid: pid }, 'cannot watch conmon: its death will be noticed only through the exit file');
    return r;
  }

  /**
   * A container's conmon is gone. Its exit file, if written, is the exit; otherwise runc is
   * asked: a process still running has no one holding its stdio or waiting for its exit, so it
   * is killed (Exited (137), as Docker reports a container whose shim died); one already gone
   * without a code is 255.
   */
  async #onConmonGone(id: string): Promise<void> {
    const c = this.#containers.get(id);
    if (!c || (c.State.Status !== 'running' && c.State.Status !== 'paused')) return;
    const code = await this.#monitor.read(id);
    if (code !== undefined) {
      await this.#onExit(id, code);
      return;
    }
    const st = await stateOf(this.#o.runtime, id).catch(() => undefined);
    let exitCode = 255;
    if (st && st.status !== 'stopped') {
      this.#log.warn({ containerId: id, pid: st.pid }, 'conmon died: stopping its orphaned container');
      if (st.status === 'paused') await pauseContainer(this.#o.runtime, id, false).catch(() => undefined);
      await killContainer(this.#o.runtime, id, 9, true).catch(() => undefined);
      for (let i = 0; i < 50; i++) {
        const now = await stateOf(this.#o.runtime, id).catch(() => undefined);
        if (!now || now.status === 'stopped') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      exitCode = 137;
    } else {
      this.#log.warn({ containerId: id }, 'conmon died and the container with it: no exit code');
    }
    // An exit file may have appeared meanwhile (conmon writes it just before it exits).
    await this.#onExit(id, (await this.#monitor.read(id)) ?? exitCode);
  }

  async #discard(id: string): Promise<void> {
    const dir = this.#store.dir(id);
    await deleteContainer(this.#o.runtime, id, true).catch(() => undefined);
    await unmountOverlay(join(dir, 'rootfs')).catch(() => undefined);
    await this.#unstage(id);
    // The anonymous volumes this create made (listed before it made them) go with it.
    for (const name of await readCreateVolumes(dir)) {
      if ([...this.#containers.values()].some((o) => (o.Volumes ?? []).some((v) => v.name === name))) continue;
      await this.volumes.remove(name, { force: true }).catch((err: unknown) => this.#log.warn({ containerId: id, volume: name, err: errorText(err) }, 'cannot remove a volume of an unfinished create'));
    }
    await this.#store.removeDir(id);
  }

  // ---- lookup ------------------------------------------------------------------------

  list(): ContainerRecord[] {
    return [...this.#containers.values()];
  }

  /** The container holding a name (without '/'). Names are unique among names only: a name
   * may look like another container's id prefix, as with moby's name index. */
  #byName(name: string): ContainerRecord | undefined {
    for (const c of this.#containers.values()) if (c.Name === `/${name}`) return c;
    return undefined;
  }

  /** The id holding a name: a container's, or a create or rename still writing its record. */
  #nameHolder(name: string): string | undefined {
    return this.#reservedNames.get(name) ?? this.#byName(name)?.Id;
  }

  /**
   * Take a name for `id` now, before any await: parallel requests for one name see it taken
   * (moby reserves names in its registrar the same way). Returns the release function.
   */
  #reserveName(name: string, id: string): () => void {
    const holder = this.#nameHolder(name);
    if (holder !== undefined && holder !== id) {
      throw conflict(`Conflict. The container name "/${name}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    this.#reservedNames.set(name, id);
    return () => {
      if (this.#reservedNames.get(name) === id) this.#reservedNames.delete(name);
    };
  }

  /** By full id, name (with or without '/'), or unique id prefix. */
  find(ref: string): ContainerRecord | undefined {
    const byId = this.#containers.get(ref);
    if (byId) return byId;
    const name = ref.startsWith('/') ? ref : `/${ref}`;
    for (const c of this.#containers.values()) if (c.Name === name) return c;
    if (/^[a-f0-9]+$/.test(ref)) {
      const hits = [...this.#containers.values()].filter((c) => c.Id.startsWith(ref));
      if (hits.length === 1) return hits[0];
      if (hits.length > 1) throw invalid(`multiple IDs found with provided prefix: ${ref}`);
    }
    return undefined;
  }

  get(ref: string): ContainerRecord {
    const c = this.find(ref);
    if (!c) throw noSuchContainer(ref);
    return c;
  }

  /** A container using the image, for `rmi` conflicts. */
  containerUsingImage(imageId: string): string | undefined {
    for (const c of this.#containers.values()) if (c.Image === imageId) return c.Id;
    return undefined;
  }

  #attrs(c: ContainerRecord, extra: Record<string, string> = {}): Record<string, string> {
    return { ...(c.Config.Labels ?? {}), image: c.Config.Image, name: c.Name.slice(1), ...extra };
  }

  // ---- create ------------------------------------------------------------------------

  async create(req: CreateRequest): Promise<{ Id: string; Warnings: string[] }> {
    let name = req.name ?? '';
    if (name.startsWith('/')) name = name.slice(1);
    if (name !== '' && !isValidName(name)) throw invalid(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const cfg = req.config;
    if (typeof cfg.Image !== 'string' || cfg.Image === '') throw invalid('No image specified');
    const image = this.images.get(cfg.Image);
    this.#o.imageGate?.(cfg.Image, image);
    const id = newId();
    if (name === '') {
      do name = randomName();
      while (this.#nameHolder(name) !== undefined);
    }
    const releaseName = this.#reserveName(name, id);
    try {
      return await this.#createReserved(id, name, image, req);
    } finally {
      releaseName();
    }
  }

  async #createReserved(id: string, name: string, image: ImageRecord, req: CreateRequest): Promise<{ Id: string; Warnings: string[] }> {
    const cfg = req.config;
    const imgCfg = image.config.config;
    const entrypoint = cfg.Entrypoint !== undefined && cfg.Entrypoint !== null ? cfg.Entrypoint : imgCfg.Entrypoint ?? [];
    const cmd = cfg.Cmd !== undefined && cfg.Cmd !== null && cfg.Cmd.length > 0 ? cfg.Cmd : cfg.Entrypoint ? [] : imgCfg.Cmd ?? [];
    const argv = [...entrypoint, ...cmd];
    if (argv.length === 0) throw invalid('No command specified');
    const hc: HostConfig = { ...req.hostConfig, LogConfig: effectiveLogConfig(req.hostConfig.LogConfig, this.#logConfig) };
    const rec: ContainerRecord = {
      Id: id,
      Name: `/${name}`,
      Created: now(),
      Image: image.id,
      Path: argv[0]!,
      Args: argv.slice(1),
      Config: {
        ...cfg,
        Hostname: cfg.Hostname || id.slice(0, 12),
        Env: mergeEnv(imgCfg.Env ?? [], cfg.Env ?? []),
        Cmd: cmd.length > 0 ? cmd : null,
        Entrypoint: entrypoint.length > 0 ? entrypoint : null,
        WorkingDir: cfg.WorkingDir || imgCfg.WorkingDir || '',
        User: cfg.User || imgCfg.User || '',
        Labels: { ...(imgCfg.Labels ?? {}), ...(cfg.Labels ?? {}) },
        ...(cfg.StopSignal || imgCfg.StopSignal ? { StopSignal: cfg.StopSignal || imgCfg.StopSignal } : {}),
      },
      HostConfig: hc,
      State: { Status: 'created', Pid: 0, ExitCode: 0, Error: '', StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME, OOMKilled: false },
      RestartCount: 0,
      ExitGeneration: 0,
    };
    // Validate everything that start would reject, so a bad create creates nothing.
    const checked = validateHostConfig(rec, this.#o.defaults);
    rec.Security = securitySummary(rec, checked, this.#o.seccomp.forContainer(rec, checked.caps), this.#o.defaults);
    for (const m of checked.mounts) {
      if (m.kind === 'volume' && m.source !== '') checkVolumeName(m.source);
    }
    // What the policy approved is what gets mounted: record each bind source's identity now.
    rec.BindSources = identifyBindSources(checked.mounts);
    // Volumes the container mounts: named ones, and anonymous ones (Config.Volumes `-v /path`,
    // `--mount type=volume` without a source) named now with a random id, as Docker does.
    const mounted = new Set(checked.mounts.map((m) => m.target));
    const anonTargets = [
      ...checked.mounts.filter((m) => m.kind === 'volume' && m.source === '').map((m) => m.target),
      ...Object.keys(cfg.Volumes ?? {}).filter((t) => !mounted.has(t)),
    ];
    for (const t of anonTargets) if (!t.startsWith('/') || t === '/') throw invalid(`invalid volume specification: '${t}': mount path must be absolute`);
    rec.Volumes = [
      ...checked.mounts.filter((m) => m.kind === 'volume' && m.source !== '').map((m) => ({ name: m.source, target: m.target, anonymous: false })),
      ...anonTargets.map((t) => ({ name: newId(), target: t, anonymous: true, ...(checked.mounts.some((m) => m.target === t && m.noCopy === true) ? { noCopy: true } : {}) })),
    ];
    const warnings = checked.warnings;
    const dir = this.#store.dir(id);
    const undo = new CleanupStack();
    try {
      await mkdir(dir, { mode: 0o700 });
      undo.defer(() => this.#store.removeDir(id));
      await mkdir(join(dir, 'upper'), { mode: 0o755 });
      await mkdir(join(dir, 'work'), { mode: 0o700 });
      await mkdir(join(dir, 'rootfs'), { mode: 0o755 });
      // The volumes are listed before they are made: a crash from here on leaves a directory
      // without a record, and its cleanup at the next start removes them too.
      const anonymous = rec.Volumes.filter((x) => x.anonymous).map((v) => v.name);
      if (anonymous.length > 0) await writeCreateVolumes(dir, anonymous);
      for (const v of anonymous) {
        undo.defer(() => this.volumes.remove(v, { force: true }));
        await this.volumes.create(v, { anonymous: true });
      }
      await this.#writeEtcFiles(rec);
      // The record is written last: a directory without it is an unfinished create.
      await this.#store.save(rec);
      this.#containers.set(id, rec);
      undo.dismiss();
      if (anonymous.length > 0) await rm(join(dir, CREATE_VOLUMES_FILE), { force: true }).catch(() => undefined);
    } catch (err) {
      const failures = await undo.unwind();
      if (failures.length > 0) this.#log.warn({ containerId: id, failures: failures.map(errorText) }, 'cleanup after failed create');
      throw err;
    }
    this.events.emit('container', 'create', id, this.#attrs(rec));
    return { Id: id, Warnings: warnings };
  }

  async #writeEtcFiles(rec: ContainerRecord): Promise<void> {
    const dir = this.#store.dir(rec.Id);
    const host = rec.Config.Hostname ?? rec.Id.slice(0, 12);
    await writeFile(join(dir, 'hostname'), `${host}\n`, { mode: 0o644 });
    const extra = (rec.HostConfig.ExtraHosts ?? []).map((h) => {
      const i = h.indexOf(':');
      return `${h.slice(i + 1)}\t${h.slice(0, i)}`;
    });
    await writeFile(
      join(dir, 'hosts'),
      ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', 'fe00::0\tip6-localnet', 'ff00::0\tip6-mcastprefix', 'ff02::1\tip6-allnodes', 'ff02::2\tip6-allrouters', ...extra, `127.0.0.1\t${host}`, ''].join('\n'),
      { mode: 0o644 },
    );
    let resolv = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
    // Loopback resolvers of the host are unreachable from the container's own network namespace.
    resolv = resolv.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1)/.test(l)).join('\n');
    const dns = rec.HostConfig.Dns ?? [];
    if (dns.length > 0) resolv = [...dns.map((d) => `nameserver ${d}`), ...(rec.HostConfig.DnsSearch ?? []).map((s) => `search ${s}`)].join('\n') + '\n';
    await writeFile(join(dir, 'resolv.conf'), resolv, { mode: 0o644 });
  }

  // ---- start -------------------------------------------------------------------------

  async start(ref: string): Promise<void> {
    const c = this.get(ref);
    await this.#lock.run(c.Id, async () => {
      if (c.State.Status === 'running' || c.State.Status === 'paused') throw new EngineError('not-modified', 'ERR_ALREADY_STARTED', 'container already started');
      if (c.State.Status === 'removing' || c.State.Status === 'dead') throw conflict(`container ${c.Id} is marked for removal and cannot be started`);
      // The last exit lives only in conmon's exit file until its record is written: write it
      // before this start clears that file (a full disk fails the start, not the exit code).
      if (this.#unsavedExits.has(c.Id)) await this.#saveUnsavedExit(c);
      try {
        await this.#startLocked(c);
      } catch (err) {
        await this.#failStart(c, err);
        throw err;
      }
    });
  }

  async #startLocked(c: ContainerRecord): Promise<void> {
    const phases = new PhaseTimer();
    const id = c.Id;
    const dir = this.#store.dir(id);
    const image = this.images.get(c.Image);
    const rootfs = join(dir, 'rootfs');
    const remapped = this.#o.defaults.userns !== undefined && (c.HostConfig.UsernsMode ?? '') !== 'host';
    // Ownership first: overlayfs takes the root directory's owner from the upper dir at mount.
    if (remapped) await this.#chownForUserns(dir);
    await mountOverlay(this.images.layerDirs(image), { upper: join(dir, 'upper'), work: join(dir, 'work'), merged: rootfs });
    phases.mark('mount');
    const passwd = await readRootfsText(rootfs, '/etc/passwd');
    const group = await readRootfsText(rootfs, '/etc/group');
    const user = resolveUser(c.Config.User ?? '', { passwd, group, groupAdd: c.HostConfig.GroupAdd ?? [] });
    const cwd = c.Config.WorkingDir || '/';
    makeWorkdir(rootfs, cwd);
    const env = buildEnv(c, user.home);
    const etcMounts = [
      { destination: '/etc/hostname', type: 'bind', source: join(dir, 'hostname'), options: ['rbind', 'rprivate'] },
      { destination: '/etc/hosts', type: 'bind', source: join(dir, 'hosts'), options: ['rbind', 'rprivate'] },
      { destination: '/etc/resolv.conf', type: 'bind', source: join(dir, 'resolv.conf'), options: ['rbind', 'rprivate'] },
    ];
    const checked = validateHostConfig(c, this.#o.defaults);
    const requests: MountRequest[] = checked.mounts.filter((m) => !(m.kind === 'volume' && m.source === ''));
    for (const v of c.Volumes ?? []) {
      if (v.anonymous) requests.push({ kind: 'volume', source: v.name, target: v.target, readOnly: false, propagation: 'rprivate', options: [], origin: 'Mounts', ...(v.noCopy ? { noCopy: true } : {}) });
    }
    const mounts = await this.#hostMounts(c, requests, rootfs);
    const devices = c.HostConfig.Privileged === true ? await allHostDevices() : await hostDevices(c.HostConfig.Devices ?? []);
    const joined = this.#joinedNamespaces(c, checked.ns);
    const seccomp = this.#o.seccomp.forContainer(c, checked.caps);
    const inputs: PlanInputs = { record: c, rootfs, user, env, cwd, etcMounts, mounts, devices, joined: joined.paths, joinedUserns: joined.userns, seccomp };
    const { plan, security } = planContainer(inputs, this.#o.defaults);
    if (seccomp.notifyRules && this.#o.seccompExplainer) await this.#o.seccompExplainer.prepare(id, seccomp.notifyRules, seccomp.spec);
    await writeFileAtomic(join(dir, 'config.json'), toOciJson(generateSpec(plan), { indent: 2 }), 0o600);
    phases.mark('spec');
    // A stale exit file from a previous run must not end this one.
    await this.#monitor.clear(id);
    await rm(join(dir, 'ctl'), { force: true });
    await rm(join(dir, 'winsz'), { force: true });
    await rm(join(dir, 'attach'), { force: true });
    if (existsSync(join(this.#o.runtime.runcRoot, id))) await deleteContainer(this.#o.runtime, id, true).catch(() => undefined);
    const cfg = c.Config;
    const logs = logSettings(c.HostConfig.LogConfig, this.#logConfig);
    await this.#logKeeper.prepare(dir, logs);
    phases.mark('cleanup');
    const pid = await createContainer(this.#o.runtime, {
      id,
      name: c.Name.slice(1),
      bundle: dir,
      logPath: join(dir, LOG_NAME),
      logDriver: logs.driver === 'none' ? 'none' : 'k8s-file',
      logSizeMax: logs.maxSize,
      pidFile: join(dir, 'pidfile'),
      conmonPidFile: join(dir, 'conmon.pid'),
      runcLog: join(dir, 'runc.log'),
      stdin: cfg.OpenStdin === true,
      terminal: cfg.Tty === true,
      leaveStdinOpen: cfg.OpenStdin === true && cfg.StdinOnce !== true,
    });
    // runc has made the container's own bind mounts: the staging mounts can go.
    await this.#unstage(id);
    // Sessions attached before start connect now, so they see the first byte of output.
    const pending = this.#attachPending.get(id) ?? [];
    this.#attachPending.delete(id);
    phases.mark('create');
    await Promise.all(pending.map(async (s) => this.#connectSession(c, s)));
    phases.mark('attach');
    await startContainer(this.#o.runtime, id);
    phases.mark('runc-start');
    const conmonPid = Number((await readFile(join(dir, 'conmon.pid'), 'utf8').catch(() => '0')).trim()) || 0;
    this.#monitor.reset(id);
    // If this write fails, start fails and #failStart stops what runc started.
    await this.#commit(c, (next) => {
      next.Security = security;
      next.State = { ...next.State, Status: 'running', Pid: pid, ExitCode: 0, Error: '', StartedAt: now(), FinishedAt: ZERO_TIME, OOMKilled: false, ConmonPid: conmonPid };
    });
    this.#logKeeper.watch(id, dir, logs);
    phases.mark('save');
    if (this.#watchConmon(c) === 'gone') void this.#onConmonGone(id).catch((err: unknown) => this.#log.error({ containerId: id, err: errorText(err) }, 'cannot handle the end of conmon'));
    this.#log.debug({ containerId: id, phases: phases.done() }, 'started');
    this.events.emit('container', 'start', id, this.#attrs(c));
    void this.#monitor.scan();
  }

  async #connectSession(c: ContainerRecord, s: AttachSession): Promise<void> {
    try {
      await s.connect(join(this.#o.runtime.socketDir, c.Id, 'attach'));
      let set = this.#attached.get(c.Id);
      if (!set) this.#attached.set(c.Id, (set = new Set()));
      set.add(s);
      s.onEnded(() => set.delete(s));
    } catch (err) {
      this.#log.warn({ containerId: c.Id, err: errorText(err) }, 'attach failed');
      s.finish();
    }
  }

  async #failStart(c: ContainerRecord, err: unknown): Promise<void> {
    const id = c.Id;
    // runc's and conmon's own words stay in the daemon log (the client sees the short form).
    const tail = async (name: string): Promise<string> => (await readFile(join(this.#store.dir(id), name), 'utf8').catch(() => '')).slice(-2000);
    this.#log.info({ containerId: id, err: errorText(err), runcLog: await tail('runc.log'), conmonStderr: await tail('conmon.stderr') }, 'start failed');
    for (const s of this.#attachPending.get(id) ?? []) s.finish();
    this.#attachPending.delete(id);
    for (const s of this.#attached.get(id) ?? []) s.finish();
    await deleteContainer(this.#o.runtime, id, true).catch(() => undefined);
    await unmountOverlay(join(this.#store.dir(id), 'rootfs')).catch(() => undefined);
    await this.#unstage(id);
    await this.#monitor.clear(id);
    this.#conmons.unwatch(id);
    const exitCode = startFailureExitCode(err);
    await this.#commit(c, (next) => {
      next.State = { ...next.State, Status: next.State.StartedAt === ZERO_TIME ? 'created' : 'exited', Pid: 0, ExitCode: exitCode, Error: errorText(err), FinishedAt: now() };
      delete next.State.ConmonPid;
      next.ExitGeneration += 1;
    }).catch((saveErr: unknown) => this.#log.warn({ containerId: id, err: errorText(saveErr) }, 'cannot record the failed start'));
    this.#resolveWaiters(c, ['not-running', 'next-exit'], { exitCode });
    // Called with the container's lock held (from start).
    if (c.HostConfig.AutoRemove) await this.#removeLocked(c, { force: true }).catch(() => undefined);
  }

  // ---- host work for a start: mounts, devices, joined namespaces, userns ownership -----

  /** Binds (staged from the source checked against the record: see binds.ts), volumes, tmpfs. */
  async #hostMounts(c: ContainerRecord, requests: readonly MountRequest[], rootfs: string): Promise<Mount[]> {
    const out: Mount[] = [];
    const { staged, sources } = await stageBinds(this.#store.dir(c.Id), requests, c.BindSources);
    c.BindSources ??= [...sources];
    const remap = this.#o.defaults.userns !== undefined && (c.HostConfig.UsernsMode ?? '') !== 'host';
    for (const m of requests) {
      if (m.kind === 'tmpfs') {
        out.push(tmpfsToOciMount(m));
        continue;
      }
      if (m.kind === 'volume') {
        const name = m.source;
        const hostPath = await this.volumes.ensure(name);
        // An empty volume takes the image's content at its mount point, as Docker does
        // (not with `nocopy`).
        if (m.noCopy !== true) {
          const stopped = await populateVolume(rootfs, m.target, hostPath);
          if (stopped !== undefined) this.#log.warn({ containerId: c.Id, volume: name, reason: stopped }, 'volume changed during copy-up; copy stopped');
        }
        if (remap) chownIfRoot(hostPath, this.#o.defaults.userns!.uidMappings[0]!.hostID, this.#o.defaults.userns!.gidMappings[0]!.hostID);
        this.volumes.use(name, c.Id);
        out.push(bindToOciMount(m, { source: hostPath }));
        continue;
      }
      out.push(bindToOciMount(m, { source: staged.get(m.target)! }));
    }
    return out;
  }

  /** Undo a container's bind staging mounts; a failure is logged (removal never enters a mount). */
  async #unstage(id: string): Promise<void> {
    await unstageBinds(this.#store.dir(id)).catch((err: unknown) => this.#log.warn({ containerId: id, err: errorText(err) }, 'cannot undo bind staging mounts'));
  }

  /** The pid, ipc and net namespaces of containers joined with `container:X`. */
  #joinedNamespaces(c: ContainerRecord, ns: NamespaceRequests): { paths: PlanInputs['joined']; userns: string | undefined } {
    const paths: PlanInputs['joined'] = {};
    let userns: string | undefined;
    const join1 = (kind: 'pid' | 'ipc' | 'network', ref: string): void => {
      const other = this.find(ref);
      if (!other) throw noSuchContainer(ref);
      if (other.Id === c.Id) throw invalid(`cannot join own ${kind} namespace`);
      if (other.State.Status !== 'running' || other.State.Pid <= 0) {
        throw conflict(`cannot join ${kind} namespace of a non running container: ${ref}`);
      }
      if (kind === 'ipc' && (other.HostConfig.IpcMode ?? '') !== 'shareable' && other.HostConfig.IpcMode !== 'host') {
        throw conflict(`can't join IPC of container ${other.Id}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)`);
      }
      paths[kind] = `/proc/${other.State.Pid}/ns/${kind === 'network' ? 'net' : kind}`;
      if (ns.userns) userns = `/proc/${other.State.Pid}/ns/user`;
    };
    if (ns.pid.kind === 'container') join1('pid', ns.pid.ref);
    if (ns.ipc.kind === 'container') join1('ipc', ns.ipc.ref);
    if (ns.network.kind === 'container') join1('network', ns.network.ref);
    return { paths, userns };
  }

  /** Under --userns-remap the container's root owns its writable layer and mount points. */
  async #chownForUserns(dir: string): Promise<void> {
    const u = this.#o.defaults.userns!;
    const uid = u.uidMappings[0]!.hostID;
    const gid = u.gidMappings[0]!.hostID;
    for (const p of [dir, join(dir, 'upper'), join(dir, 'work'), join(dir, 'rootfs')]) chownIfRoot(p, uid, gid);
    await chmod(dir, 0o711);
  }

  // ---- exit --------------------------------------------------------------------------

  async #onExit(id: string, code: number): Promise<void> {
    const running = this.#exitHandled.get(id);
    if (running) return await running;
    const p = this.#handleExit(id, code).finally(() => this.#exitHandled.delete(id));
    this.#exitHandled.set(id, p);
    return await p;
  }

  async #handleExit(id: string, code: number): Promise<void> {
    const c = this.#containers.get(id);
    if (!c || (c.State.Status !== 'running' && c.State.Status !== 'paused')) return;
    const dir = this.#store.dir(id);
    const phases = new PhaseTimer();
    this.#conmons.unwatch(id);
    // Read the cgroup's counters before runc delete removes it: an OOM kill is recorded.
    const counters = (await this.#limits?.pollOne(id)) ?? {};
    const oomKilled = (counters.oom ?? 0) > 0 && code === 137;
    this.#limits?.forget(id);
    await this.#logKeeper.unwatch(id);
    phases.mark('counters');
    if (existsSync(join(this.#o.runtime.runcRoot, id))) {
      await deleteContainer(this.#o.runtime, id, true).catch((err: unknown) => this.#log.warn({ containerId: id, err: errorText(err) }, 'runc delete failed'));
    }
    phases.mark('runc-delete');
    await unmountOverlay(join(dir, 'rootfs')).catch((err: unknown) => this.#log.warn({ containerId: id, err: errorText(err) }, 'unmount failed'));
    await this.#unstage(id);
    phases.mark('unmount');
    const next = structuredClone(c);
    next.State = { ...next.State, Status: 'exited', Pid: 0, ExitCode: code, FinishedAt: now(), OOMKilled: oomKilled };
    delete next.State.ConmonPid;
    next.ExitGeneration += 1;
    // conmon's exit file is the exit's only durable trace until the record replacing it is
    // written: it is removed after the write, never before. When the write fails (a full
    // disk), the exit is still true and durable (record + exit file read together, as a
    // restart does), so memory shows it, and the write is retried until it succeeds.
    try {
      await this.#store.save(next);
      replaceRecord(c, next);
      await this.#monitor.clear(id);
    } catch (err) {
      replaceRecord(c, next);
      this.#deferExitSave(id, err);
    }
    this.events.emit('container', 'die', id, this.#attrs(c, { exitCode: String(code) }));
    // Sessions end when conmon closes the attach socket after the last output; this only
    // covers a conmon that died without closing it.
    for (const s of this.#attached.get(id) ?? []) setTimeout(() => s.finish(), 5000).unref();
    this.#resolveWaiters(c, ['not-running', 'next-exit']);
    this.#stopping.delete(id);
    phases.mark('record');
    if (c.HostConfig.AutoRemove) {
      await this.remove(id, { force: true }).catch((err: unknown) => this.#log.warn({ containerId: id, err: errorText(err) }, 'auto-remove failed'));
      phases.mark('remove');
    }
    this.#log.debug({ containerId: id, exitCode: code, phases: phases.done() }, 'exited');
  }

  /** Retry, every second, the records of exits that could not be written. */
  #deferExitSave(id: string, err: unknown): void {
    if (!this.#unsavedExits.has(id)) {
      this.#log.error({ containerId: id, err: errorText(err) }, 'cannot record the exit: conmon\'s exit file is kept; retrying every second');
    }
    this.#unsavedExits.add(id);
    this.#unsavedTimer ??= setInterval(() => void this.#retryUnsavedExits(), 1000).unref();
  }

  async #retryUnsavedExits(): Promise<void> {
    for (const id of [...this.#unsavedExits]) {
      const c = this.#containers.get(id);
      if (!c) {
        this.#unsavedExits.delete(id);
        continue;
      }
      await this.#lock.run(id, async () => {
        if (this.#unsavedExits.has(id)) await this.#saveUnsavedExit(c).catch(() => undefined);
      });
    }
    if (this.#unsavedExits.size === 0 && this.#unsavedTimer) {
      clearInterval(this.#unsavedTimer);
      this.#unsavedTimer = undefined;
    }
  }

  async #saveUnsavedExit(c: ContainerRecord): Promise<void> {
    await this.#store.save(c);
    this.#unsavedExits.delete(c.Id);
    await this.#monitor.clear(c.Id);
    this.#log.info({ containerId: c.Id, exitCode: c.State.ExitCode }, 'exit recorded');
  }

  /** `docker events` shows which limit a container hit: `oom` (Docker's) and moat's `pids-limit`. */
  #onLimitHit(hit: LimitHit): void {
    const c = this.#containers.get(hit.containerId);
    if (!c) return;
    const action = hit.kind === 'oom' ? 'oom' : 'pids-limit';
    const attrs = hit.kind === 'oom' ? { limit: hit.limit, oomKills: String(hit.count) } : { limit: hit.limit, refusedForks: String(hit.count) };
    this.#log.warn({ containerId: c.Id, ...attrs }, hit.kind === 'oom' ? 'container hit its memory limit: OOM kill' : 'container hit its pids limit: fork refused');
    this.events.emit('container', action, c.Id, this.#attrs(c, attrs));
  }

  /** Answer waiters; `endedRun` says a run just ended even if its record could not be written. */
  #resolveWaiters(c: ContainerRecord, conditions: WaitCondition[], endedRun?: { exitCode: number }): void {
    const list = this.#waiters.get(c.Id);
    if (!list) return;
    const keep: Waiter[] = [];
    for (const w of list) {
      if (conditions.includes(w.condition) && (w.condition !== 'next-exit' || endedRun !== undefined || c.ExitGeneration > w.generation)) {
        w.resolve({ StatusCode: endedRun?.exitCode ?? c.State.ExitCode, Error: null });
      } else keep.push(w);
    }
    if (keep.length > 0) this.#waiters.set(c.Id, keep);
    else this.#waiters.delete(c.Id);
  }

  // ---- stop, kill, restart, pause ----------------------------------------------------

  async stop(ref: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    const c = this.get(ref);
    await this.#lock.run(c.Id, async () => {
      if (c.State.Status !== 'running' && c.State.Status !== 'paused') {
        throw new EngineError('not-modified', 'ERR_NOT_RUNNING', 'container already stopped');
      }
      await this.#stopLocked(c, opts);
    });
  }

  async #stopLocked(c: ContainerRecord, opts: { timeout?: number; signal?: string }): Promise<void> {
    const sig = parseSignal(opts.signal ?? c.Config.StopSignal, 15);
    const timeout = opts.timeout ?? c.Config.StopTimeout ?? 10;
    this.#stopping.add(c.Id);
    if (c.State.Status === 'paused') await pauseContainer(this.#o.runtime, c.Id, false).catch(() => undefined);
    const exited = this.#exitPromise(c);
    if (timeout !== 0) {
      await killContainer(this.#o.runtime, c.Id, sig).catch(() => undefined);
      if (timeout < 0) {
        await exited;
        return;
      }
      if (await withTimeout(exited, timeout * 1000)) return;
      this.#log.info({ containerId: c.Id, timeout }, 'container did not stop in time; sending SIGKILL');
    }
    await killContainer(this.#o.runtime, c.Id, 9, true).catch(() => undefined);
    if (!(await withTimeout(exited, 30_000))) throw new EngineError('internal', 'ERR_STOP_TIMEOUT', `Cannot stop container ${c.Id}: it did not exit after SIGKILL`);
  }

  /** Resolves when the container's current run has exited (exit file processed). */
  #exitPromise(c: ContainerRecord): Promise<void> {
    if (c.State.Status !== 'running' && c.State.Status !== 'paused') return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.#waiters.get(c.Id) ?? [];
      list.push({ condition: 'next-exit', generation: c.ExitGeneration, resolve: () => resolve() });
      this.#waiters.set(c.Id, list);
      void this.#monitor.scan();
    });
  }

  async kill(ref: string, signal?: string): Promise<void> {
    const c = this.get(ref);
    const sig = parseSignal(signal, 9);
    if (c.State.Status !== 'running' && c.State.Status !== 'paused') {
      throw conflict(`Cannot kill container: ${ref}: Container ${c.Id} is not running`);
    }
    await this.#onLiveProcess(c, () => killContainer(this.#o.runtime, c.Id, sig, sig === 9), `Cannot kill container: ${ref}: Container ${c.Id} is not running`);
    this.events.emit('container', 'kill', c.Id, this.#attrs(c, { signal: String(sig) }));
    if (sig === 9) await withTimeout(this.#exitPromise(c), 10_000);
  }

  /**
   * Run a runc verb that needs the container's process. Between the process's exit and the
   * engine reading conmon's exit file the record still says running: runc then refuses,
   * which is the client's 409 (as Docker answers), not a daemon failure.
   */
  async #onLiveProcess<T>(c: ContainerRecord, verb: () => Promise<T>, notRunning: string): Promise<T> {
    try {
      return await verb();
    } catch (err) {
      const st = await stateOf(this.#o.runtime, c.Id).catch(() => undefined);
      if (st === undefined || st.status === 'stopped') throw conflict(notRunning);
      throw err;
    }
  }

  async restart(ref: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    const c = this.get(ref);
    await this.#lock.run(c.Id, async () => {
      if (c.State.Status === 'running' || c.State.Status === 'paused') await this.#stopLocked(c, opts);
    });
    await this.start(c.Id);
    this.events.emit('container', 'restart', c.Id, this.#attrs(c));
  }

  async pause(ref: string, pause: boolean): Promise<void> {
    const c = this.get(ref);
    await this.#lock.run(c.Id, async () => {
      if (pause) {
        if (c.State.Status === 'paused') throw conflict(`Container ${c.Id} is already paused`);
        if (c.State.Status !== 'running') throw conflict(`Container ${c.Id} is not running`);
      } else if (c.State.Status !== 'paused') throw conflict(`Container ${c.Id} is not paused`);
      await this.#onLiveProcess(c, () => pauseContainer(this.#o.runtime, c.Id, pause), `Container ${c.Id} is not running`);
      try {
        await this.#commit(c, (next) => {
          next.State.Status = pause ? 'paused' : 'running';
        });
      } catch (err) {
        // The record still says the old state: make runc say it too.
        await pauseContainer(this.#o.runtime, c.Id, !pause).catch(() => undefined);
        throw err;
      }
      this.events.emit('container', pause ? 'pause' : 'unpause', c.Id, this.#attrs(c));
    });
  }

  // ---- remove, rename ----------------------------------------------------------------

  async remove(ref: string, opts: { force: boolean; volumes?: boolean }): Promise<void> {
    const c = this.get(ref);
    await this.#lock.run(c.Id, async () => this.#removeLocked(c, opts));
  }

  async #removeLocked(c: ContainerRecord, opts: { force: boolean; volumes?: boolean }): Promise<void> {
    if (!this.#containers.has(c.Id)) return;
    if (c.State.Status === 'running' || c.State.Status === 'paused') {
      if (!opts.force) {
        throw conflict(`You cannot remove a ${c.State.Status} container ${c.Id}. Stop the container before attempting removal or force remove`);
      }
      await this.#stopLocked(c, { timeout: 0 });
    }
    if (this.#corrupt.has(c.Id)) {
      // Nothing of its record can be trusted: runc's state and the directory are what remain.
      await this.#finishRemove(c, { volumes: false });
      return;
    }
    const volumes = opts.volumes === true || c.HostConfig.AutoRemove === true;
    try {
      await this.#commit(c, (next) => {
        next.State.Status = 'removing';
        if (volumes) next.RemoveVolumes = true;
      });
    } catch (err) {
      // A full disk cannot take the "removing" record, and removing is how space is freed:
      // drop the record instead (a directory without one is cleaned at the next start).
      if (resourceError(err) === undefined) throw err;
      this.#log.warn({ containerId: c.Id, err: errorText(err) }, 'cannot record the removal: removing without it');
      await this.#store.dropRecord(c.Id);
      c.State.Status = 'removing';
    }
    await this.#finishRemove(c, { volumes });
  }

  /** The end of a removal; with `volumes`, the container's anonymous volumes go too (rm -v, --rm). */
  async #finishRemove(c: ContainerRecord, opts: { volumes: boolean } = { volumes: false }): Promise<void> {
    const id = c.Id;
    this.#conmons.unwatch(id);
    if (existsSync(join(this.#o.runtime.runcRoot, id))) {
      // A Dead record's process may still run: runc delete --force kills it; then its conmon
      // writes an exit file and ends, and both must be gone before the directory is.
      await deleteContainer(this.#o.runtime, id, true).catch(() => undefined);
      await this.#waitConmonGone(id);
    }
    await unmountOverlay(join(this.#store.dir(id), 'rootfs'));
    await this.#unstage(id);
    await this.#monitor.clear(id);
    this.#unsavedExits.delete(id);
    this.#corrupt.delete(id);
    await rm(join(this.#o.runtime.socketDir, id), { force: true });
    this.volumes.release(undefined, id);
    // The volumes go before the directory: the record ("removing", with RemoveVolumes) is
    // what finishes this removal after a crash, so it must outlive them.
    if (opts.volumes || c.RemoveVolumes === true) {
      for (const v of c.Volumes ?? []) {
        if (!v.anonymous || [...this.#containers.values()].some((o) => o.Id !== id && (o.Volumes ?? []).some((x) => x.name === v.name))) continue;
        await this.volumes.remove(v.name, { force: true }).then(
          () => this.events.emit('volume', 'destroy', v.name, { driver: 'local' }),
          (err: unknown) => this.#log.warn({ containerId: id, volume: v.name, err: errorText(err) }, 'cannot remove anonymous volume'),
        );
      }
    }
    await this.#store.removeDir(id);
    await this.#o.seccompExplainer?.remove(id).catch(() => undefined);
    await this.#removeCgroupParents();
    this.#containers.delete(id);
    for (const [execId, e] of this.#execs) if (e.record.ContainerID === id) this.#execs.delete(execId);
    this.events.emit('container', 'destroy', id, this.#attrs(c));
    const list = this.#waiters.get(id) ?? [];
    this.#waiters.delete(id);
    for (const w of list) w.resolve({ StatusCode: c.State.ExitCode, Error: null });
  }

  /** After runc delete --force: wait (2 s at most) for the container's conmon to end. */
  async #waitConmonGone(id: string): Promise<void> {
    const pid = Number((await readFile(join(this.#store.dir(id), 'conmon.pid'), 'utf8').catch(() => '0')).trim()) || 0;
    const isOurs = (): boolean => {
      const argv = pid > 0 ? commandLineOf(pid) : undefined;
      return argv !== undefined && (argv[0] ?? '').endsWith('conmon') && argv.includes(id);
    };
    for (let i = 0; i < 100 && isOurs(); i++) await new Promise((r) => setTimeout(r, 20));
  }

  /** runc removes each container's leaf cgroup; the shared parent goes when it is empty. */
  async #removeCgroupParents(): Promise<void> {
    if ([...this.#containers.values()].some((c) => c.State.Status === 'running' || c.State.Status === 'paused')) return;
    const own = await readFile('/proc/self/cgroup', 'utf8').catch(() => '');
    for (const line of own.split('\n')) {
      const [, ctrls, path] = line.split(':');
      if (ctrls === undefined || path === undefined) continue;
      const base = ctrls === '' ? '/sys/fs/cgroup/unified' : `/sys/fs/cgroup/${ctrls.startsWith('name=') ? ctrls.slice(5) : ctrls}`;
      await rmdir(join(base, path, this.#o.defaults.cgroupParent)).catch(() => undefined);
    }
  }

  async rename(ref: string, newName: string): Promise<void> {
    const c = this.get(ref);
    const name = newName.startsWith('/') ? newName.slice(1) : newName;
    if (!isValidName(name)) throw invalid(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    if (`/${name}` === c.Name) throw invalid(`Renaming a container with the same name as its current name`);
    if (this.#corrupt.has(c.Id)) throw conflict(`container ${c.Id} has a corrupt record: remove it with rm -f`);
    // Taken before the first await; the old name stays taken until the new record is written.
    const release = this.#reserveName(name, c.Id);
    const old = c.Name;
    try {
      await this.#commit(c, (next) => {
        next.Name = `/${name}`;
      });
    } finally {
      release();
    }
    this.events.emit('container', 'rename', c.Id, this.#attrs(c, { oldName: old }));
  }

  // ---- wait --------------------------------------------------------------------------

  wait(ref: string, condition: WaitCondition): Promise<WaitResult> {
    const c = this.get(ref);
    if (condition === 'not-running' && c.State.Status !== 'running' && c.State.Status !== 'paused') {
      return Promise.resolve({ StatusCode: c.State.ExitCode, Error: null });
    }
    return new Promise((resolve) => {
      const list = this.#waiters.get(c.Id) ?? [];
      list.push({ condition, generation: c.ExitGeneration, resolve });
      this.#waiters.set(c.Id, list);
    });
  }

  // ---- attach ------------------------------------------------------------------------

  /**
   * Attach a client to a container's stdio. Before start the session waits (and buffers
   * stdin); on a running container it connects now; on a stopped one it ends at once.
   */
  async attach(ref: string, opts: { stdin: boolean; stdout: boolean; stderr: boolean }, sink: AttachSink): Promise<AttachSession> {
    const c = this.get(ref);
    const cfg = c.Config;
    const session = new AttachSession(
      {
        stdin: opts.stdin && cfg.OpenStdin === true,
        stdout: opts.stdout,
        stderr: opts.stderr,
        closeStdinOnEof: cfg.StdinOnce === true && cfg.Tty !== true,
      },
      sink,
    );
    // A stopped container's session waits for the next start (`docker start -a` attaches first).
    if (c.State.Status === 'created' || c.State.Status === 'exited') {
      const list = this.#attachPending.get(c.Id) ?? [];
      list.push(session);
      this.#attachPending.set(c.Id, list);
      session.onEnded(() => {
        const l = this.#attachPending.get(c.Id);
        if (l) this.#attachPending.set(c.Id, l.filter((x) => x !== session));
      });
    } else if (c.State.Status === 'running' || c.State.Status === 'paused') {
      await this.#connectSession(c, session);
    } else {
      session.finish();
    }
    this.events.emit('container', 'attach', c.Id, this.#attrs(c));
    return session;
  }

  async resize(ref: string, height: number, width: number): Promise<void> {
    const c = this.get(ref);
    if (c.State.Status !== 'running' && c.State.Status !== 'paused') throw conflict(`Container ${c.Id} is not running`);
    if (c.Config.Tty !== true) return;
    await writeResize(join(this.#store.dir(c.Id), 'ctl'), height, width);
  }

  /** The last seccomp denials recorded for a container (newest last). */
  async seccompDenials(ref: string, last = 20): Promise<unknown[]> {
    const c = this.get(ref);
    return (await this.#o.seccompExplainer?.denials(c.Id, last).catch(() => [])) ?? [];
  }

  logPath(c: ContainerRecord): string {
    return logSettings(c.HostConfig.LogConfig, this.#logConfig).driver === 'none' ? '' : join(this.#store.dir(c.Id), LOG_NAME);
  }

  /**
   * A container's log files, opened for one reader (oldest first), and what a follower
   * needs to cross conmon's rotations. The reader closes them. A container with the `none`
   * driver has no log: 501, as dockerd.
   */
  async openLogs(c: ContainerRecord): Promise<ContainerLogs> {
    const settings = logSettings(c.HostConfig.LogConfig, this.#logConfig);
    if (settings.driver === 'none') {
      throw new EngineError('not-implemented', 'ERR_LOGS_NOT_READABLE', 'configured logging driver does not support reading');
    }
    const dir = this.#store.dir(c.Id);
    const files = await this.#logKeeper.open(dir, settings);
    return {
      files,
      successors: (ino) => this.#logKeeper.openAfter(dir, settings, ino),
      currentIno: () => stat(join(dir, LOG_NAME)).then((st) => st.ino, () => undefined),
      close: async () => {
        await Promise.all(files.map((f) => f.fh.close().catch(() => undefined)));
      },
    };
  }

  // ---- what authorization needs to know about a create --------------------------------

  /**
   * A create's seccomp filter compared with the daemon's default, by the code that builds
   * the filter (seccomp-policy.ts). Bad options come back as `error` (the create is refused
   * with them later).
   */
  assessSeccomp(hc: HostConfig): SeccompAssessment {
    try {
      return this.#o.seccomp.assess({ HostConfig: hc }, containerCapabilities(hc, this.#o.defaults));
    } catch (err) {
      return { profile: 'invalid', weakerThanDefault: undefined, error: errorText(err) };
    }
  }

  /** The `kind` namespace of container `ref`: the host's, or shared with a privileged container? */
  namespaceOf(ref: string, kind: JoinKind): { id: string; host: boolean; privileged: boolean } | undefined {
    let c: ContainerRecord | undefined;
    try {
      c = this.find(ref);
    } catch {
      return undefined; // an ambiguous prefix names no one container
    }
    if (!c) return undefined;
    const find = (r: string): ContainerRecord | undefined => {
      try {
        return this.find(r);
      } catch {
        return undefined;
      }
    };
    return { id: c.Id, ...namespaceFacts(this.list(), { find, target: c.Id, kind }) };
  }

  // ---- volumes, export, changes (used by the API) -------------------------------------

  #volumes: VolumeStore | undefined;

  /** Local named volumes under `<dataRoot>/volumes`. */
  get volumes(): VolumeStore {
    return (this.#volumes ??= new VolumeStore(this.#o.dataRoot));
  }

  /** A container's overlay: its upper dir and the image's layer dirs (for `docker diff`). */
  layersOf(ref: string): { upper: string; lowers: string[] } {
    const c = this.get(ref);
    return { upper: join(this.#store.dir(c.Id), 'upper'), lowers: this.images.layerDirs(this.images.get(c.Image)) };
  }

  /** Runs `fn` on the container's merged rootfs, mounting it for the call when the container is not running. */
  async withRootfs<T>(ref: string, fn: (dir: string) => Promise<T>): Promise<T> {
    const c = this.get(ref);
    const dir = this.#store.dir(c.Id);
    const merged = join(dir, 'rootfs');
    if (c.State.Status === 'running' || c.State.Status === 'paused') return await fn(merged);
    return await this.#lock.run(c.Id, async () => {
      if (!this.#containers.has(c.Id)) throw noSuchContainer(ref);
      await mountOverlay(this.images.layerDirs(this.images.get(c.Image)), { upper: join(dir, 'upper'), work: join(dir, 'work'), merged });
      try {
        return await fn(merged);
      } finally {
        await unmountOverlay(merged).catch((err: unknown) => this.#log.warn({ containerId: c.Id, err: errorText(err) }, 'unmount after export failed'));
      }
    });
  }

  isRunning(ref: string): boolean {
    const c = this.find(ref);
    return c !== undefined && (c.State.Status === 'running' || c.State.Status === 'paused');
  }

  async top(ref: string): Promise<{ Titles: string[]; Processes: string[][] }> {
    const c = this.get(ref);
    if (c.State.Status !== 'running' && c.State.Status !== 'paused') throw conflict(`Container ${c.Id} is not running`);
    const pids = await this.#onLiveProcess(c, () => listPids(this.#o.runtime, c.Id), `Container ${c.Id} is not running`);
    const rows: string[][] = [];
    for (const pid of pids) {
      const st = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').filter((x) => x !== '').join(' ');
      const uid = /^Uid:\s+(\d+)/m.exec(st)?.[1] ?? '?';
      const ppid = /^PPid:\s+(\d+)/m.exec(st)?.[1] ?? '?';
      rows.push([uid === '0' ? 'root' : uid, String(pid), ppid, '0', '', '?', '00:00:00', cmd]);
    }
    return { Titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'], Processes: rows };
  }

  // ---- exec --------------------------------------------------------------------------

  execCreate(ref: string, o: { Cmd: string[]; Env?: string[] | null; User?: string; WorkingDir?: string; Tty?: boolean; AttachStdin?: boolean; AttachStdout?: boolean; AttachStderr?: boolean; Privileged?: boolean; DetachKeys?: string; ConsoleSize?: [number, number] | null }): string {
    const c = this.get(ref);
    if (c.State.Status !== 'running') {
      if (c.State.Status === 'paused') throw conflict(`Container ${c.Id} is paused, unpause the container before exec`);
      throw conflict(`Container ${c.Id} is not running`);
    }
    if (!Array.isArray(o.Cmd) || o.Cmd.length === 0) throw invalid('No exec command specified');
    if (o.Privileged === true) throw invalid('Privileged exec is not supported by moat: it would escape the container\'s capability set');
    const id = newId();
    let markDone!: () => void;
    const done = new Promise<void>((r) => (markDone = r));
    const rec: ExecRecord = {
      ID: id,
      ContainerID: c.Id,
      Running: false,
      ExitCode: null,
      Pid: 0,
      OpenStdin: o.AttachStdin === true,
      OpenStdout: o.AttachStdout !== false,
      OpenStderr: o.AttachStderr !== false,
      Tty: o.Tty === true,
      Privileged: false,
      User: o.User ?? '',
      WorkingDir: o.WorkingDir ?? '',
      Env: o.Env ?? [],
      Cmd: o.Cmd,
      DetachKeys: o.DetachKeys ?? '',
      CanRemove: false,
      ...(o.ConsoleSize ? { ConsoleSize: o.ConsoleSize } : {}),
    };
    this.#execs.set(id, { record: rec, dir: join(this.#o.execRoot, 'exec', id), pending: [], done, markDone });
    this.events.emit('container', `exec_create: ${o.Cmd.join(' ')}`, c.Id, this.#attrs(c, { execID: id }));
    return id;
  }

  /** Exec sessions of a container, for inspect's ExecIDs. */
  execIdsOf(containerId: string): string[] {
    return [...this.#execs.values()].filter((e) => e.record.ContainerID === containerId).map((e) => e.record.ID);
  }

  getExec(id: string): ExecRecord {
    const e = this.#execs.get(id);
    if (!e) throw noSuchExec(id);
    return e.record;
  }

  /**
   * Start an exec. With a sink, output goes there and the promise resolves when the
   * process has exited; detached, it resolves once the process runs.
   */
  async execStart(id: string, sink: AttachSink | undefined, opts: { tty?: boolean; onSession?: (s: AttachSession) => void } = {}): Promise<void> {
    const e = this.#execs.get(id);
    if (!e) throw noSuchExec(id);
    const rec = e.record;
    if (rec.Running || rec.ExitCode !== null) throw conflict(`Error: Exec command ${id} has already run`);
    const c = this.get(rec.ContainerID);
    if (c.State.Status !== 'running') throw conflict(`Container ${c.Id} is not running`);
    rec.Running = true;
    // conmon may close the attach socket before its sync pipe reports the exit code; the
    // client reads ExitCode (GET /exec/{id}/json) as soon as the stream ends, so end the
    // stream only once the exit is recorded (moby closes exec streams after the exit event).
    const session = sink
      ? new AttachSession({ stdin: rec.OpenStdin, stdout: rec.OpenStdout, stderr: rec.OpenStderr, closeStdinOnEof: true }, { output: (s, data) => sink.output(s, data), end: () => void e.done.then(() => sink.end()) })
      : undefined;
    if (session) opts.onSession?.(session);
    const rootfs = join(this.#store.dir(c.Id), 'rootfs');
    try {
      const passwd = await readRootfsText(rootfs, '/etc/passwd');
      const group = await readRootfsText(rootfs, '/etc/group');
      const user = resolveUser(rec.User || c.Config.User || '', { passwd, group, groupAdd: c.HostConfig.GroupAdd ?? [] });
      const spec = JSON.parse(await readFile(join(this.#store.dir(c.Id), 'config.json'), 'utf8')) as { process: Record<string, unknown> & { capabilities?: { bounding: string[] } } };
      const caps = spec.process.capabilities?.bounding ?? [];
      const env = mergeEnv(c.Config.Env ?? [], rec.Env);
      if (rec.Tty && !env.some((x) => x.startsWith('TERM='))) env.push('TERM=xterm');
      const proc = {
        ...spec.process,
        terminal: rec.Tty,
        args: rec.Cmd,
        env,
        cwd: rec.WorkingDir || c.Config.WorkingDir || '/',
        user: { uid: user.uid, gid: user.gid, ...(user.additionalGids.length ? { additionalGids: user.additionalGids } : {}) },
        capabilities: user.uid === 0 ? { bounding: caps, effective: caps, permitted: caps } : { bounding: caps, effective: [], permitted: [] },
        ...(rec.Tty && rec.ConsoleSize && rec.ConsoleSize[0] > 0 ? { consoleSize: { height: rec.ConsoleSize[0], width: rec.ConsoleSize[1] } } : {}),
      };
      await mkdir(join(e.dir, 'exit'), { recursive: true, mode: 0o700 });
      await writeJsonAtomic(join(e.dir, 'process.json'), proc);
      const pid = await spawnExec(this.#o.runtime, {
        containerId: c.Id,
        execId: id,
        dir: e.dir,
        exitDir: join(e.dir, 'exit'),
        bundle: this.#store.dir(c.Id),
        stdin: rec.OpenStdin,
        terminal: rec.Tty,
        attach: session ? async () => session.connect(join(this.#o.runtime.socketDir, id, 'attach')) : undefined,
        onExit: (code) => void this.#execExited(id, code),
      });
      rec.Pid = pid;
      this.events.emit('container', `exec_start: ${rec.Cmd.join(' ')}`, c.Id, this.#attrs(c, { execID: id }));
    } catch (err) {
      rec.Running = false;
      rec.ExitCode = 126;
      const msg = errorText(err).replace(/^failed to create task for container: OCI runtime create failed: runc create failed: /, 'OCI runtime exec failed: exec failed: ');
      if (session) {
        sink?.output(1, Buffer.from(`${msg}\r\n`));
        session.finish();
      }
      e.markDone();
      await rm(e.dir, { recursive: true, force: true }).catch(() => undefined);
      if (!session) throw err;
      return;
    }
    if (session) await e.done;
  }

  async #execExited(id: string, code: number): Promise<void> {
    const e = this.#execs.get(id);
    if (!e) return;
    e.record.Running = false;
    e.record.ExitCode = code;
    e.record.Pid = 0;
    const c = this.#containers.get(e.record.ContainerID);
    if (c) this.events.emit('container', 'exec_die', c.Id, this.#attrs(c, { execID: id, exitCode: String(code) }));
    // Give the attach socket a moment to drain the last output before the session ends.
    setTimeout(() => e.markDone(), 50).unref();
    await rm(join(this.#o.runtime.socketDir, id), { force: true }).catch(() => undefined);
    await rm(e.dir, { recursive: true, force: true }).catch(() => undefined);
  }

  async execResize(id: string, height: number, width: number): Promise<void> {
    const e = this.#execs.get(id);
    if (!e) throw noSuchExec(id);
    if (!e.record.Tty) return;
    await writeResize(join(e.dir, 'ctl'), height, width).catch(() => undefined);
  }
}

export type { ImageRecord };

/** Make `target` (the object everyone holds) equal to `next`, keeping its identity. */
function replaceRecord(target: ContainerRecord, next: ContainerRecord): void {
  for (const k of Object.keys(target)) if (!(k in next)) delete (target as unknown as Record<string, unknown>)[k];
  Object.assign(target, next);
}

/** The anonymous volumes a create is about to make, kept in its directory until its record exists. */
const CREATE_VOLUMES_FILE = 'create-volumes.json';

async function writeCreateVolumes(dir: string, names: readonly string[]): Promise<void> {
  await writeJsonAtomic(join(dir, CREATE_VOLUMES_FILE), names);
}

async function readCreateVolumes(dir: string): Promise<string[]> {
  const text = await readFile(join(dir, CREATE_VOLUMES_FILE), 'utf8').catch(() => '[]');
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && /^[a-f0-9]{64}$/.test(x)) : [];
  } catch {
    return [];
  }
}
