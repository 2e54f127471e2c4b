// RuncRuntime: the OciRuntime moatd runs containers with. conmon holds each container's
// stdio, log and exit code and outlives moatd; runc applies the spec. Exits come from
// conmon's exit files (exit-files.ts), conmon's own death from a pidfd (src/sys), stdio
// from conmon's attach socket (seqpacket.ts). Host code.
import { existsSync, rmSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineError, internal, replaceFileAtomic, writeJsonAtomic } from '../base/index.js';
import { ProcessWatcher, commandLineOf, spreadSubdirectories } from '../sys/index.js';
import { toOciJson, type LinuxResources, type Spec } from '../spec/index.js';
import { runcDeleteArgs, runcKillArgs, runcPauseArgs, runcPsArgs, runcUpdateArgs, runcStartArgs, runcStateArgs, type RuntimePaths } from './argv.js';
import { RUNC_TIMEOUT_MS, runRunc, spawnConmonCreate, spawnConmonExec, type WaitingConmon } from './conmon.js';
import { deleteStopped, startCreated } from './runc-direct.js';
import { directStateSupported } from './runc-state.js';
import { ExitMonitor } from './exit-files.js';
import { connectSeqpacket, onAttachPackets, attachStdin, ATTACH_STDERR } from './seqpacket.js';
import { writeResize } from './resize.js';
import type { AttachStream, OciRuntime, PendingCreate, ResizeTarget, RuntimeCreateOptions, RuntimeEvents, RuntimeExecOptions, RuntimeState } from './oci.js';

/** Files conmon and runc keep in a bundle dir (the engine owns the rest of it). */
const BUNDLE = { config: 'config.json', ctl: 'ctl', winsz: 'winsz', attach: 'attach', pidFile: 'pidfile', monitorPid: 'conmon.pid', runcLog: 'runc.log', conmonStderr: 'conmon.stderr' } as const;

/**
 * conmon + runc behind the OciRuntime interface.
 *
 * @example
 * const runtime = new RuncRuntime({ runc: '/usr/sbin/runc', conmon: '/usr/bin/conmon', runcRoot, exitDir, socketDir, execDir });
 */
export class RuncRuntime implements OciRuntime {
  readonly #p: RuntimePaths;
  #exits: ExitMonitor | undefined;
  #monitors: ProcessWatcher | undefined;
  /** runc's `--version` and whether moatd starts and deletes its containers itself (runc 1.1). */
  #runc = { version: '', direct: false };

  constructor(paths: RuntimePaths) {
    this.#p = paths;
  }

  get paths(): RuntimePaths {
    return this.#p;
  }

  /** What prepare() found: runc's version line and whether start/delete skip runc. */
  get runcInfo(): { version: string; direct: boolean } {
    return { ...this.#runc };
  }

  async prepare(events: RuntimeEvents): Promise<void> {
    const p = this.#p;
    for (const d of [p.runcRoot, p.exitDir, p.socketDir, p.execDir]) await mkdir(d, { recursive: true, mode: 0o700 });
    // runc's state dirs and the attach socket dirs, one per container: spread across block
    // groups like the containers' own (src/sys/spread.ts).
    for (const d of [p.runcRoot, p.socketDir]) spreadSubdirectories(d);
    this.#exits = new ExitMonitor(p.exitDir, (id, code) => events.exited(id, code), (id) => events.isLive(id));
    this.#monitors = new ProcessWatcher((id) => events.monitorGone(id));
    // The state layout is runc's private format: read it only from the version it was
    // checked against. Another version (or none answering) keeps every step in runc.
    const version = await runRunc(p, ['--version']).catch(() => '');
    this.#runc = { version: version.split('\n')[0] ?? '', direct: directStateSupported(version) };
  }

  watchExits(): void {
    this.#exitFiles().start();
    void this.#exitFiles().scan();
  }

  close(): void {
    this.#exits?.stop();
    this.#monitors?.close();
  }

  #exitFiles(): ExitMonitor {
    if (this.#exits === undefined) throw internal('the OCI runtime was used before prepare()');
    return this.#exits;
  }

  beginCreate(o: RuntimeCreateOptions): PendingCreate {
    const dir = o.bundle;
    // What a previous run left, before conmon starts: stale FIFOs and sockets would be reused
    // by conmon; a stale conmon.pid would name another process; a stale config.json would be
    // created by a waiting conmon whose start pipe closes with moatd (it reads the end as a
    // go). All in moatd's own directories: synchronous unlinks, microseconds each.
    for (const f of [BUNDLE.config, BUNDLE.ctl, BUNDLE.winsz, BUNDLE.attach, BUNDLE.monitorPid]) rmSync(join(dir, f), { force: true });
    let waiting: WaitingConmon;
    try {
      waiting = spawnConmonCreate(this.#p, {
        id: o.id,
        name: o.name,
        bundle: dir,
        logPath: o.log.path,
        logDriver: o.log.driver,
        ...(o.log.sizeMax !== undefined ? { logSizeMax: o.log.sizeMax } : {}),
        pidFile: join(dir, BUNDLE.pidFile),
        monitorPidFile: join(dir, BUNDLE.monitorPid),
        runcLog: join(dir, BUNDLE.runcLog),
        stdin: o.stdin,
        terminal: o.terminal,
        leaveStdinOpen: o.leaveStdinOpen,
      });
    } catch (err) {
      // A monitor that cannot start fails the create, where the start waits for it.
      return { create: () => Promise.reject(err), cancel: () => undefined };
    }
    const create = async (spec: Spec): Promise<{ pid: number; monitorPid: number }> => {
      try {
        // The spec (written again at every create: no fsync, replaceFileAtomic says why), and
        // a stale exit file, which must not end this run. Then runc's leftovers: it refuses an
        // id it still has state for.
        await Promise.all([replaceFileAtomic(join(dir, BUNDLE.config), toOciJson(spec, { indent: 2 }), 0o600), this.#exitFiles().clear(o.id)]);
        if (this.exists(o.id)) await this.delete(o.id, { force: true }).catch(() => undefined);
      } catch (err) {
        waiting.cancel();
        throw err;
      }
      return await waiting.go();
    };
    return { create, cancel: () => waiting.cancel() };
  }

  async start(id: string): Promise<void> {
    if (this.#runc.direct && (await startCreated(this.#p.runcRoot, id, RUNC_TIMEOUT_MS))) return;
    await runRunc(this.#p, runcStartArgs(this.#p, id));
  }

  async kill(id: string, signal: number, opts: { all?: boolean } = {}): Promise<void> {
    await runRunc(this.#p, runcKillArgs(this.#p, id, signal, opts.all === true));
  }

  async delete(id: string, opts: { force: boolean }): Promise<void> {
    // A stopped container: the same for --force (runc deletes a stopped one either way).
    if (this.#runc.direct && (await deleteStopped(this.#p.runcRoot, id).catch(() => false))) return;
    await runRunc(this.#p, runcDeleteArgs(this.#p, id, opts.force));
  }

  async state(id: string): Promise<RuntimeState | undefined> {
    try {
      return JSON.parse(await runRunc(this.#p, runcStateArgs(this.#p, id))) as RuntimeState;
    } catch (err) {
      if (err instanceof EngineError && /does not exist|not exist/.test(err.message)) return undefined;
      throw err;
    }
  }

  exists(id: string): boolean {
    return existsSync(join(this.#p.runcRoot, id));
  }

  async pause(id: string, pause: boolean): Promise<void> {
    await runRunc(this.#p, runcPauseArgs(this.#p, id, pause));
  }

  async update(id: string, resources: LinuxResources): Promise<void> {
    await runRunc(this.#p, runcUpdateArgs(this.#p, id), JSON.stringify(resources));
  }

  async pids(id: string): Promise<number[]> {
    const out = await runRunc(this.#p, runcPsArgs(this.#p, id));
    return (JSON.parse(out) as number[] | null) ?? [];
  }

  async exec(o: RuntimeExecOptions): Promise<number> {
    const dir = join(this.#p.execDir, o.execId);
    const cleanup = async (): Promise<void> => {
      await rm(join(this.#p.socketDir, o.execId), { force: true }).catch(() => undefined);
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    };
    try {
      await mkdir(join(dir, 'exit'), { recursive: true, mode: 0o700 });
      await writeJsonAtomic(join(dir, 'process.json'), o.process);
      return await spawnConmonExec(this.#p, {
        containerId: o.containerId,
        execId: o.execId,
        dir,
        exitDir: join(dir, 'exit'),
        bundle: o.bundle,
        stdin: o.stdin,
        terminal: o.terminal,
        attach: o.attach,
        onExit: (code) => {
          o.onExit(code);
          void cleanup();
        },
      });
    } catch (err) {
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw err;
    }
  }

  async attach(id: string): Promise<AttachStream> {
    const sock = await connectSeqpacket(join(this.#p.socketDir, id, 'attach'));
    const stdin = attachStdin(sock);
    stdin.on('error', () => undefined);
    return {
      onOutput: (fn) => void onAttachPackets(sock, (p) => fn(p.stream === ATTACH_STDERR ? 2 : 1, p.data)),
      onEnd: (fn) => {
        sock.on('end', fn);
        sock.on('close', fn);
        sock.on('error', fn);
      },
      stdin,
      destroy: () => sock.destroy(),
    };
  }

  async resize(target: ResizeTarget, height: number, width: number): Promise<void> {
    const dir = 'exec' in target ? join(this.#p.execDir, target.exec) : target.bundle;
    await writeResize(join(dir, BUNDLE.ctl), height, width);
  }

  exitCode(id: string): Promise<number | undefined> {
    return this.#exitFiles().read(id);
  }

  async clearExit(id: string): Promise<void> {
    await this.#exitFiles().clear(id);
  }

  scanExits(): void {
    void this.#exits?.scan();
  }

  watchMonitor(id: string, pid: number): 'watched' | 'gone' | 'unknown' {
    if (this.#monitors === undefined) return 'unknown';
    return this.#monitors.watch(id, pid, (argv) => isConmonOf(argv, id));
  }

  unwatchMonitor(id: string): void {
    this.#monitors?.unwatch(id);
  }

  async waitMonitorGone(id: string, bundle: string): Promise<void> {
    const pid = await this.#monitorPidOf(bundle);
    const alive = (): boolean => {
      const argv = pid > 0 ? commandLineOf(pid) : undefined;
      return argv !== undefined && isConmonOf(argv, id);
    };
    for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 20));
  }

  async forget(id: string): Promise<void> {
    // conmon's link to the attach socket's dir, in moatd's own socket dir: one unlink.
    rmSync(join(this.#p.socketDir, id), { force: true });
  }

  async failureDetail(bundle: string): Promise<Record<string, string>> {
    const tail = async (name: string): Promise<string> => (await readFile(join(bundle, name), 'utf8').catch(() => '')).slice(-2000);
    return { runcLog: await tail(BUNDLE.runcLog), conmonStderr: await tail(BUNDLE.conmonStderr) };
  }

  async #monitorPidOf(bundle: string): Promise<number> {
    return Number((await readFile(join(bundle, BUNDLE.monitorPid), 'utf8').catch(() => '0')).trim()) || 0;
  }
}

/** True when `argv` is the conmon of container `id` (a reused pid is some other process). */
function isConmonOf(argv: readonly string[], id: string): boolean {
  return (argv[0] ?? '').endsWith('conmon') && argv.includes(id);
}
