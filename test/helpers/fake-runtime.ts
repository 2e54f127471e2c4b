// In-memory fakes of the engine's seams, for the engine's unit suite (no root, no runc, no
// conmon, no mounts): FakeRuntime records every call and plays conmon + runc (processes that
// run until signalled or told to exit, exit files that outlive the engine, a monitor that
// can die, exec processes, attach streams); fakeHost() plays the mounts, bind staging,
// devices, cgroups and /proc. Both keep their state across an Engine's close and a new
// Engine on the same data root, which is how live restore is tested.
import { PassThrough } from 'node:stream';
import { EngineError, noSuchImage } from '../../src/base/index.js';
import type { EngineHost, EngineImages } from '../../src/engine/index.js';
import type { ImageRecord } from '../../src/image/index.js';
import type { AttachStream, OciRuntime, PendingCreate, ResizeTarget, RuntimeCreateOptions, RuntimeEvents, RuntimeExecOptions, RuntimeState } from '../../src/runtime/index.js';
import type { LinuxResources, Spec } from '../../src/spec/index.js';

export interface RuntimeCall {
  verb: string;
  id: string;
  detail?: unknown;
}

/** What a fake container's process does with a signal: exit with a code, or ignore it. */
export type SignalBehaviour = (signal: number) => number | 'ignore';

interface FakeContainer {
  id: string;
  bundle: string;
  spec: Spec;
  pid: number;
  monitorPid: number;
  status: RuntimeState['status'];
  monitorAlive: boolean;
  onSignal: SignalBehaviour;
  streams: Set<FakeAttachStream>;
}

/** The default process: SIGKILL is 137, any other fatal signal 128 + n. */
const dies: SignalBehaviour = (sig) => 128 + sig;

export class FakeAttachStream implements AttachStream {
  readonly stdin = new PassThrough();
  readonly received: Buffer[] = [];
  #output: Array<(stream: 1 | 2, data: Buffer) => void> = [];
  #end: Array<() => void> = [];
  #ended = false;

  constructor() {
    this.stdin.on('data', (b: Buffer) => this.received.push(b));
  }

  onOutput(fn: (stream: 1 | 2, data: Buffer) => void): void {
    this.#output.push(fn);
  }

  onEnd(fn: () => void): void {
    if (this.#ended) fn();
    else this.#end.push(fn);
  }

  /** The process writes. */
  emit(stream: 1 | 2, text: string): void {
    for (const fn of this.#output) fn(stream, Buffer.from(text));
  }

  /** The process exited: the stream ends after its last output. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const fn of this.#end.splice(0)) fn();
  }

  destroy(): void {
    this.end();
  }
}

/** What an exec process does: its output and exit code (the default: no output, exit 0). */
export type ExecBehaviour = (o: RuntimeExecOptions) => { code: number; stdout?: string; stderr?: string; delayMs?: number };

export class FakeRuntime implements OciRuntime {
  readonly calls: RuntimeCall[] = [];
  readonly containers = new Map<string, FakeContainer>();
  /** Exit files: they outlive the engine, as conmon's do. */
  readonly exitFiles = new Map<string, number>();
  /** The process specs of execs, by exec id. */
  readonly execs = new Map<string, RuntimeExecOptions>();
  execBehaviour: ExecBehaviour = () => ({ code: 0 });
  #events: RuntimeEvents | undefined;
  #watching = false;
  #seen = new Set<string>();
  #watched = new Set<string>();
  #nextPid = 1000;
  #failures = new Map<string, Error>();
  #onSignal = new Map<string, SignalBehaviour>();

  /** Make the next call of `verb` fail with `err` (e.g. runtimeFailure('exec: "nope": executable file not found')). */
  failNext(verb: 'create' | 'start' | 'exec', err: Error): void {
    this.#failures.set(verb, err);
  }

  /** How the next container created with this name or id answers signals. */
  signals(idOrName: string, fn: SignalBehaviour): void {
    this.#onSignal.set(idOrName, fn);
  }

  callsOf(id: string): string[] {
    return this.calls.filter((c) => c.id === id).map((c) => (c.detail === undefined ? c.verb : `${c.verb} ${JSON.stringify(c.detail)}`));
  }

  #record(verb: string, id: string, detail?: unknown): void {
    this.calls.push(detail === undefined ? { verb, id } : { verb, id, detail });
  }

  #fail(verb: string): void {
    const err = this.#failures.get(verb);
    if (err !== undefined) {
      this.#failures.delete(verb);
      throw err;
    }
  }

  async prepare(events: RuntimeEvents): Promise<void> {
    this.#events = events;
    this.#watching = false;
    this.#seen.clear();
    this.#watched.clear();
    this.#record('prepare', '');
  }

  watchExits(): void {
    this.#watching = true;
    this.scanExits();
  }

  close(): void {
    this.#watching = false;
    this.#watched.clear();
    this.#events = undefined;
  }

  /** Ids whose monitor was begun and neither let create nor cancelled: a failed start must leave none. */
  readonly waitingMonitors = new Set<string>();

  beginCreate(o: RuntimeCreateOptions): PendingCreate {
    this.waitingMonitors.add(o.id);
    let state: 'waiting' | 'going' | 'cancelled' = 'waiting';
    return {
      create: async (spec) => {
        if (state !== 'waiting') throw new EngineError('internal', 'ERR_RUNTIME_FAILED', 'conmon was cancelled');
        state = 'going';
        this.waitingMonitors.delete(o.id);
        return this.#create(o, spec);
      },
      cancel: () => {
        if (state !== 'waiting') return;
        state = 'cancelled';
        this.waitingMonitors.delete(o.id);
      },
    };
  }

  #create(o: RuntimeCreateOptions, spec: Spec): { pid: number; monitorPid: number } {
    this.#record('create', o.id);
    this.exitFiles.delete(o.id);
    this.#seen.delete(o.id);
    this.#fail('create');
    const c: FakeContainer = {
      id: o.id,
      bundle: o.bundle,
      spec,
      pid: this.#nextPid++,
      monitorPid: this.#nextPid++,
      status: 'created',
      monitorAlive: true,
      onSignal: this.#onSignal.get(o.id) ?? this.#onSignal.get(o.name) ?? dies,
      streams: new Set(),
    };
    this.containers.set(o.id, c);
    return { pid: c.pid, monitorPid: c.monitorPid };
  }

  async start(id: string): Promise<void> {
    this.#record('start', id);
    this.#fail('start');
    const c = this.#get(id);
    c.status = 'running';
  }

  async kill(id: string, signal: number, opts: { all?: boolean } = {}): Promise<void> {
    this.#record('kill', id, opts.all === true ? `${signal} --all` : signal);
    const c = this.#get(id);
    if (c.status === 'stopped') throw new EngineError('internal', 'ERR_RUNTIME_FAILED', 'runc kill failed: container not running');
    const r = c.onSignal(signal);
    if (r !== 'ignore' || signal === 9) this.#processExit(c, r === 'ignore' ? 137 : r);
  }

  async delete(id: string, opts: { force: boolean }): Promise<void> {
    this.#record('delete', id, opts.force ? 'force' : undefined);
    const c = this.containers.get(id);
    if (c === undefined) throw new EngineError('internal', 'ERR_RUNTIME_FAILED', `runc delete failed: container "${id}" does not exist`);
    if (c.status === 'running' || c.status === 'paused') {
      if (!opts.force) throw new EngineError('internal', 'ERR_RUNTIME_FAILED', 'runc delete failed: container is running');
      this.#processExit(c, 137);
    }
    this.containers.delete(id);
  }

  async state(id: string): Promise<RuntimeState | undefined> {
    const c = this.containers.get(id);
    return c === undefined ? undefined : { id, pid: c.pid, status: c.status, bundle: c.bundle };
  }

  exists(id: string): boolean {
    return this.containers.has(id);
  }

  async pause(id: string, pause: boolean): Promise<void> {
    this.#record(pause ? 'pause' : 'resume', id);
    const c = this.#get(id);
    if (c.status === 'stopped') throw new EngineError('internal', 'ERR_RUNTIME_FAILED', 'runc pause failed: container not running');
    c.status = pause ? 'paused' : 'running';
  }

  async update(id: string, resources: LinuxResources): Promise<void> {
    this.#record('update', id, JSON.stringify(resources));
    const c = this.#get(id);
    if (c.status === 'stopped') throw new EngineError('internal', 'ERR_RUNTIME_FAILED', 'runc update failed: container not running');
  }

  async pids(id: string): Promise<number[]> {
    const c = this.#get(id);
    if (c.status === 'stopped') throw new EngineError('internal', 'ERR_RUNTIME_FAILED', 'runc ps failed: container not running');
    return [c.pid];
  }

  async exec(o: RuntimeExecOptions): Promise<number> {
    this.#record('exec', o.containerId, o.execId);
    this.#fail('exec');
    this.execs.set(o.execId, o);
    const stream = new FakeAttachStream();
    this.#execStreams.set(o.execId, stream);
    if (o.attach) await o.attach();
    const b = this.execBehaviour(o);
    const pid = this.#nextPid++;
    setTimeout(() => {
      if (b.stdout) stream.emit(1, b.stdout);
      if (b.stderr) stream.emit(2, b.stderr);
      stream.end();
      o.onExit(b.code);
      this.#execStreams.delete(o.execId);
    }, b.delayMs ?? 5);
    return pid;
  }

  readonly #execStreams = new Map<string, FakeAttachStream>();

  async attach(id: string): Promise<AttachStream> {
    this.#record('attach', id);
    const exec = this.#execStreams.get(id);
    if (exec) return exec;
    const c = this.#get(id);
    const s = new FakeAttachStream();
    c.streams.add(s);
    if (c.status === 'stopped') s.end();
    return s;
  }

  /** The attach streams of a container, to write its output. */
  streamsOf(id: string): FakeAttachStream[] {
    return [...(this.containers.get(id)?.streams ?? [])];
  }

  async resize(target: ResizeTarget, height: number, width: number): Promise<void> {
    this.#record('resize', 'exec' in target ? target.exec : target.container, [height, width]);
  }

  async exitCode(id: string): Promise<number | undefined> {
    return this.exitFiles.get(id);
  }

  async clearExit(id: string): Promise<void> {
    this.#seen.delete(id);
    this.exitFiles.delete(id);
  }

  /** conmon's exit-file scan: each exit of a live container is reported once. */
  scanExits(): void {
    if (!this.#watching) return;
    queueMicrotask(() => {
      for (const [id, code] of this.exitFiles) {
        if (this.#seen.has(id) || this.#events === undefined || !this.#events.isLive(id)) continue;
        this.#seen.add(id);
        this.#events.exited(id, code);
      }
    });
  }

  watchMonitor(id: string, pid: number): 'watched' | 'gone' | 'unknown' {
    this.#record('watchMonitor', id, pid);
    const c = this.containers.get(id);
    if (c === undefined || !c.monitorAlive || c.monitorPid !== pid) return 'gone';
    this.#watched.add(id);
    return 'watched';
  }

  unwatchMonitor(id: string): void {
    this.#watched.delete(id);
  }

  async waitMonitorGone(id: string): Promise<void> {
    this.#record('waitMonitorGone', id);
  }

  async forget(id: string): Promise<void> {
    this.#record('forget', id);
  }

  async failureDetail(): Promise<Record<string, string>> {
    return { runcLog: 'fake' };
  }

  // ---- what a test makes happen ------------------------------------------------------------

  /** The container's process exits with `code` (conmon writes the exit file). */
  exit(id: string, code: number): void {
    this.#processExit(this.#get(id), code);
  }

  /** conmon dies; the container's process keeps running (if it was), or dies with it unrecorded. */
  killMonitor(id: string, o: { withProcess?: boolean } = {}): void {
    const c = this.#get(id);
    c.monitorAlive = false;
    if (o.withProcess === true) c.status = 'stopped';
    for (const s of c.streams) s.end();
    if (this.#watched.delete(id)) this.#events?.monitorGone(id);
  }

  /** The container and its monitor vanish without an exit file (a host reboot, a kill -9 of both). */
  vanish(id: string): void {
    this.containers.delete(id);
  }

  #processExit(c: FakeContainer, code: number): void {
    if (c.status === 'stopped') return;
    c.status = 'stopped';
    for (const s of c.streams) s.end();
    if (!c.monitorAlive) return; // nobody writes the exit file
    this.exitFiles.set(c.id, code);
    this.scanExits();
  }

  #get(id: string): FakeContainer {
    const c = this.containers.get(id);
    if (c === undefined) throw new EngineError('internal', 'ERR_RUNTIME_FAILED', `runc failed: container "${id}" does not exist`);
    return c;
  }
}

export interface HostCall {
  verb: string;
  arg: string;
}

/** A fake EngineHost: records mounts and staging, no root needed. */
export function fakeHost(calls: HostCall[] = []): EngineHost & { calls: HostCall[]; mounted: Set<string> } {
  const mounted = new Set<string>();
  const rec = (verb: string, arg: string): void => void calls.push({ verb, arg });
  return {
    calls,
    mounted,
    rootfs: {
      async mount(_layers, dirs) {
        rec(dirs.volatile === true ? 'mount-volatile' : 'mount', dirs.merged);
        mounted.add(dirs.merged);
      },
      async unmount(merged) {
        rec('unmount', merged);
        mounted.delete(merged);
      },
      readText: async () => '',
      makeWorkdir: () => undefined,
      copyUp: async () => undefined,
      chownIfRoot: () => undefined,
      chmod: async () => undefined,
    },
    binds: {
      identify: (requests) => requests.filter((m) => m.kind === 'bind').map((m) => ({ Source: m.source, Target: m.target, Device: '1', Inode: '2' })),
      async stage(bundle, requests, recorded) {
        rec('stage', bundle);
        const binds = requests.filter((m) => m.kind === 'bind');
        return { staged: new Map(binds.map((m, i) => [m.target, `${bundle}/binds/${i}`])), sources: recorded ?? [] };
      },
      async unstage(bundle) {
        rec('unstage', bundle);
      },
    },
    devices: { resolve: async () => [], all: async () => [], blockNumbers: async (paths) => new Map(paths.map((p, i) => [p, { major: 254, minor: i }])) },
    cgroups: {
      init: async () => undefined,
      counters: async () => ({}),
      async removeParents(dirs) {
        rec('removeCgroupParents', dirs.join(' '));
      },
      async sweep(parent, keep) {
        rec('sweepCgroups', [parent, ...[...keep].sort()].join(' '));
      },
      sample: async () => ({ read: '2026-01-01T00:00:00.000000000Z', cgroup: { version: 2 as const }, systemCpuUsage: 0, onlineCpus: 1 }),
      prepayMove() {
        rec('prepayMove', '');
      },
    },
    processes: {
      rows: async (pids) => pids.map((pid) => ['root', String(pid), '0', '0', '', '?', '00:00:00', 'fake']),
      ps: async () => 'PID CMD\n',
    },
    resolvConf: async () => 'nameserver 192.0.2.53\nnameserver 127.0.0.53\n',
  };
}

/** One image, `busybox`, whose command is `sh`. */
export function fakeImages(): EngineImages {
  const image = {
    id: `sha256:${'b'.repeat(64)}`,
    repoTags: ['busybox:latest'],
    repoDigests: [],
    size: 0,
    config: { architecture: 'amd64', os: 'linux', created: new Date(0).toISOString(), config: { Cmd: ['sh'], Env: ['PATH=/bin'] }, rootfs: { type: 'layers', diff_ids: [] } },
  } as unknown as ImageRecord;
  return {
    get(ref) {
      if (ref === 'busybox' || ref === 'busybox:latest' || ref === image.id) return image;
      throw noSuchImage(ref);
    },
    layerDirs: () => ['/fake/layer'],
  };
}
