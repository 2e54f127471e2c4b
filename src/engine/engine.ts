// The container state machine. moatd never owns a container's life: conmon holds stdio and
// the exit code; this class decides, records and reconciles.
import { mkdir, rm, writeFile, readFile, rmdir, realpath, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError, CleanupStack, noSuchContainer, noSuchExec, conflict, invalid, newId, isValidName, randomName, errorText, type Logger } from '../base/index.js';
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
import { generateSpec, resolveUser, toOciJson, checkVolumeName, bindToOciMount, tmpfsToOciMount, type Mount } from '../spec/index.js';
import { writeFileAtomic, writeJsonAtomic } from '../base/index.js';
import { ContainerStore } from './store.js';
import { ExitMonitor } from './monitor.js';
import { EventBus } from './events.js';
import { AttachSession, type AttachSink } from './attach.js';
import { planContainer, validateHostConfig, securitySummary, type DaemonDefaults, type PlanInputs } from './plan.js';
import { readRootfsText, secureJoin } from './rootfs.js';
import { parseSignal } from './signals.js';
import type { ContainerConfig, ContainerRecord, ExecRecord, HostConfig } from './types.js';
import { SeccompPolicy } from './seccomp-policy.js';
import { PhaseTimer, KeyedLock, withTimeout, mergeEnv, buildEnv } from './util.js';
import { writeResize, hostDevices, allHostDevices, chownIfRoot, populateVolume } from './host-setup.js';
import { LimitWatcher, locateCgroups, type CgroupLocator, type LimitHit } from './limits.js';
import type { NotifyRule, LinuxSeccomp } from '../seccomp/index.js';
import type { MountRequest } from '../spec/index.js';
import type { NamespaceRequests } from './plan.js';
import { VolumeStore } from './volumes.js';

export interface EngineOptions {
  dataRoot: string;
  execRoot: string;
  runtime: RuntimePaths;
  images: ImageStore;
  events: EventBus;
  log: Logger;
  defaults: DaemonDefaults;
  seccomp: SeccompPolicy;
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

  constructor(o: EngineOptions) {
    this.#o = o;
    this.events = o.events;
    this.images = o.images;
    this.#log = o.log.child({ component: 'engine' });
    this.#store = new ContainerStore(join(o.dataRoot, 'containers'));
    this.#monitor = new ExitMonitor(o.runtime.exitDir, (id, code) => void this.#onExit(id, code), (id) => this.#isLive(id));
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
    for (const { id, record } of await this.#store.scan()) {
      if (record === undefined) {
        this.#log.warn({ containerId: id }, 'removing a container whose create never finished');
        await this.#discard(id);
        continue;
      }
      this.#containers.set(id, record);
    }
    for (const rec of this.#containers.values()) await this.#reconcile(rec);
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

  async close(): Promise<void> {
    this.#monitor.stop();
    this.#limits?.stop();
    for (const set of this.#attached.values()) for (const s of set) s.finish();
  }

  /** Bring a record in line with runc's state and conmon's exit file after a restart. */
  async #reconcile(rec: ContainerRecord): Promise<void> {
    const id = rec.Id;
    if (rec.State.Status === 'removing') {
      await this.#finishRemove(rec);
      return;
    }
    if (rec.State.Status === 'created') {
      // A start interrupted by a crash (after conmon ran `runc create`, before the record said
      // running) leaves a process, a mount and a cgroup no record accounts for: undo them.
      if (await stateOf(this.#o.runtime, id).catch(() => undefined)) {
        this.#log.warn({ containerId: id }, 'undoing a start that never finished');
        await deleteContainer(this.#o.runtime, id, true).catch(() => undefined);
        await this.#monitor.clear(id);
      }
      await unmountOverlay(join(this.#store.dir(id), 'rootfs')).catch(() => undefined);
      return;
    }
    if (rec.State.Status !== 'running' && rec.State.Status !== 'paused') return;
    const code = await this.#monitor.read(id);
    if (code !== undefined) {
      this.#log.info({ containerId: id, exitCode: code }, 'container exited while moatd was down');
      await this.#onExit(id, code);
      return;
    }
    const st = await stateOf(this.#o.runtime, id).catch(() => undefined);
    if (st && (st.status === 'running' || st.status === 'paused')) {
      rec.State.Status = st.status;
      rec.State.Pid = st.pid;
      await this.#store.save(rec);
      this.#log.info({ containerId: id, pid: st.pid }, 'container kept running while moatd was down');
      return;
    }
    // Neither an exit file nor a live process: conmon died with it. Docker reports 255.
    this.#log.warn({ containerId: id }, 'container vanished without an exit code');
    await this.#onExit(id, 255);
  }

  async #discard(id: string): Promise<void> {
    const dir = this.#store.dir(id);
    await deleteContainer(this.#o.runtime, id, true).catch(() => undefined);
    await unmountOverlay(join(dir, 'rootfs')).catch(() => undefined);
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
      while (this.#byName(name));
    }
    const holder = this.#byName(name);
    if (holder) {
      throw conflict(`Conflict. The container name "/${name}" is already in use by container "${holder.Id}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    const imgCfg = image.config.config;
    const entrypoint = cfg.Entrypoint !== undefined && cfg.Entrypoint !== null ? cfg.Entrypoint : imgCfg.Entrypoint ?? [];
    const cmd = cfg.Cmd !== undefined && cfg.Cmd !== null && cfg.Cmd.length > 0 ? cfg.Cmd : cfg.Entrypoint ? [] : imgCfg.Cmd ?? [];
    const argv = [...entrypoint, ...cmd];
    if (argv.length === 0) throw invalid('No command specified');
    const hc: HostConfig = { ...req.hostConfig };
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
      for (const v of rec.Volumes.filter((x) => x.anonymous)) {
        await this.volumes.create(v.name, { anonymous: true });
        undo.defer(() => this.volumes.remove(v.name, { force: true }));
      }
      await this.#writeEtcFiles(rec);
      // The record is written last: a directory without it is an unfinished create.
      await this.#store.save(rec);
      this.#containers.set(id, rec);
      undo.dismiss();
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
    const cwdHost = await secureJoin(rootfs, cwd);
    await mkdir(cwdHost, { recursive: true, mode: 0o755 }).catch(() => undefined);
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
    c.Security = security;
    // A stale exit file from a previous run must not end this one.
    await this.#monitor.clear(id);
    await rm(join(dir, 'ctl'), { force: true });
    await rm(join(dir, 'winsz'), { force: true });
    await rm(join(dir, 'attach'), { force: true });
    if (existsSync(join(this.#o.runtime.runcRoot, id))) await deleteContainer(this.#o.runtime, id, true).catch(() => undefined);
    const cfg = c.Config;
    phases.mark('cleanup');
    const pid = await createContainer(this.#o.runtime, {
      id,
      name: c.Name.slice(1),
      bundle: dir,
      logPath: join(dir, 'ctr.log'),
      pidFile: join(dir, 'pidfile'),
      conmonPidFile: join(dir, 'conmon.pid'),
      runcLog: join(dir, 'runc.log'),
      stdin: cfg.OpenStdin === true,
      terminal: cfg.Tty === true,
      leaveStdinOpen: cfg.OpenStdin === true && cfg.StdinOnce !== true,
    });
    // Sessions attached before start connect now, so they see the first byte of output.
    const pending = this.#attachPending.get(id) ?? [];
    this.#attachPending.delete(id);
    phases.mark('create');
    await Promise.all(pending.map(async (s) => this.#connectSession(c, s)));
    phases.mark('attach');
    await startContainer(this.#o.runtime, id);
    phases.mark('runc-start');
    c.State = {
      ...c.State,
      Status: 'running',
      Pid: pid,
      ExitCode: 0,
      Error: '',
      StartedAt: now(),
      FinishedAt: ZERO_TIME,
      OOMKilled: false,
      ConmonPid: Number((await readFile(join(dir, 'conmon.pid'), 'utf8').catch(() => '0')).trim()) || 0,
    };
    this.#monitor.reset(id);
    await this.#store.save(c);
    phases.mark('save');
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
    this.#log.info({ containerId: id, err: errorText(err) }, 'start failed');
    for (const s of this.#attachPending.get(id) ?? []) s.finish();
    this.#attachPending.delete(id);
    for (const s of this.#attached.get(id) ?? []) s.finish();
    await deleteContainer(this.#o.runtime, id, true).catch(() => undefined);
    await unmountOverlay(join(this.#store.dir(id), 'rootfs')).catch(() => undefined);
    await this.#monitor.clear(id);
    c.State = { ...c.State, Status: c.State.StartedAt === ZERO_TIME ? 'created' : 'exited', Pid: 0, ExitCode: startFailureExitCode(err), Error: errorText(err), FinishedAt: now() };
    c.ExitGeneration += 1;
    await this.#store.save(c);
    this.#resolveWaiters(c, ['not-running', 'next-exit']);
    // Called with the container's lock held (from start).
    if (c.HostConfig.AutoRemove) await this.#removeLocked(c, { force: true }).catch(() => undefined);
  }

  // ---- host work for a start: mounts, devices, joined namespaces, userns ownership -----

  /** Binds (sources cleaned and symlinks resolved: the mounted path is the checked one), volumes, tmpfs. */
  async #hostMounts(c: ContainerRecord, requests: readonly MountRequest[], rootfs: string): Promise<Mount[]> {
    const out: Mount[] = [];
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
        if (m.noCopy !== true) await populateVolume(await secureJoin(rootfs, m.target), hostPath);
        if (remap) await chownIfRoot(hostPath, this.#o.defaults.userns!.uidMappings[0]!.hostID, this.#o.defaults.userns!.gidMappings[0]!.hostID);
        this.volumes.use(name, c.Id);
        out.push(bindToOciMount(m, { source: hostPath }));
        continue;
      }
      let source: string;
      try {
        source = await realpath(m.source);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        // `-v /host:/ctr` creates a missing source directory, as Docker does; `--mount` refuses.
        if (m.origin !== 'Binds') throw invalid(`invalid mount config for type "bind": bind source path does not exist: ${m.source}`);
        await mkdir(m.source, { recursive: true, mode: 0o755 });
        source = await realpath(m.source);
      }
      out.push(bindToOciMount(m, { source }));
    }
    return out;
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
    for (const p of [dir, join(dir, 'upper'), join(dir, 'work'), join(dir, 'rootfs')]) await chownIfRoot(p, uid, gid);
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
    // Read the cgroup's counters before runc delete removes it: an OOM kill is recorded.
    const counters = (await this.#limits?.pollOne(id)) ?? {};
    const oomKilled = (counters.oom ?? 0) > 0 && code === 137;
    this.#limits?.forget(id);
    phases.mark('counters');
    await deleteContainer(this.#o.runtime, id, true).catch((err: unknown) => this.#log.warn({ containerId: id, err: errorText(err) }, 'runc delete failed'));
    phases.mark('runc-delete');
    await unmountOverlay(join(dir, 'rootfs')).catch((err: unknown) => this.#log.warn({ containerId: id, err: errorText(err) }, 'unmount failed'));
    phases.mark('unmount');
    await this.#monitor.clear(id);
    c.State = { ...c.State, Status: 'exited', Pid: 0, ExitCode: code, FinishedAt: now(), OOMKilled: oomKilled };
    delete c.State.ConmonPid;
    c.ExitGeneration += 1;
    await this.#store.save(c);
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

  /** `docker events` shows which limit a container hit: `oom` (Docker's) and moat's `pids-limit`. */
  #onLimitHit(hit: LimitHit): void {
    const c = this.#containers.get(hit.containerId);
    if (!c) return;
    const action = hit.kind === 'oom' ? 'oom' : 'pids-limit';
    const attrs = hit.kind === 'oom' ? { limit: hit.limit, oomKills: String(hit.count) } : { limit: hit.limit, refusedForks: String(hit.count) };
    this.#log.warn({ containerId: c.Id, ...attrs }, hit.kind === 'oom' ? 'container hit its memory limit: OOM kill' : 'container hit its pids limit: fork refused');
    this.events.emit('container', action, c.Id, this.#attrs(c, attrs));
  }

  #resolveWaiters(c: ContainerRecord, conditions: WaitCondition[]): void {
    const list = this.#waiters.get(c.Id);
    if (!list) return;
    const keep: Waiter[] = [];
    for (const w of list) {
      if (conditions.includes(w.condition) && (w.condition !== 'next-exit' || c.ExitGeneration > w.generation)) {
        w.resolve({ StatusCode: c.State.ExitCode, Error: null });
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
    await killContainer(this.#o.runtime, c.Id, sig, sig === 9);
    this.events.emit('container', 'kill', c.Id, this.#attrs(c, { signal: String(sig) }));
    if (sig === 9) await withTimeout(this.#exitPromise(c), 10_000);
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
      await pauseContainer(this.#o.runtime, c.Id, pause);
      c.State.Status = pause ? 'paused' : 'running';
      await this.#store.save(c);
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
    c.State.Status = 'removing';
    await this.#store.save(c);
    await this.#finishRemove(c, { volumes: opts.volumes === true || c.HostConfig.AutoRemove === true });
  }

  /** The end of a removal; with `volumes`, the container's anonymous volumes go too (rm -v, --rm). */
  async #finishRemove(c: ContainerRecord, opts: { volumes: boolean } = { volumes: false }): Promise<void> {
    const id = c.Id;
    if (existsSync(join(this.#o.runtime.runcRoot, id))) await deleteContainer(this.#o.runtime, id, true).catch(() => undefined);
    await unmountOverlay(join(this.#store.dir(id), 'rootfs'));
    await this.#monitor.clear(id);
    await rm(join(this.#o.runtime.socketDir, id), { force: true });
    await this.#store.removeDir(id);
    await this.#o.seccompExplainer?.remove(id).catch(() => undefined);
    this.volumes.release(undefined, id);
    await this.#removeCgroupParents();
    this.#containers.delete(id);
    for (const [execId, e] of this.#execs) if (e.record.ContainerID === id) this.#execs.delete(execId);
    if (opts.volumes) {
      for (const v of c.Volumes ?? []) {
        if (!v.anonymous || [...this.#containers.values()].some((o) => (o.Volumes ?? []).some((x) => x.name === v.name))) continue;
        await this.volumes.remove(v.name, { force: true }).then(
          () => this.events.emit('volume', 'destroy', v.name, { driver: 'local' }),
          (err: unknown) => this.#log.warn({ containerId: id, volume: v.name, err: errorText(err) }, 'cannot remove anonymous volume'),
        );
      }
    }
    this.events.emit('container', 'destroy', id, this.#attrs(c));
    const list = this.#waiters.get(id) ?? [];
    this.#waiters.delete(id);
    for (const w of list) w.resolve({ StatusCode: c.State.ExitCode, Error: null });
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
    const holder = this.#byName(name);
    if (holder && holder.Id !== c.Id) {
      throw conflict(`Conflict. The container name "/${name}" is already in use by container "${holder.Id}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    const old = c.Name;
    c.Name = `/${name}`;
    await this.#store.save(c);
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
    return join(this.#store.dir(c.Id), 'ctr.log');
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
    const pids = await listPids(this.#o.runtime, c.Id);
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
