// docker exec: sessions in memory (as dockerd keeps them), the process spec built by
// run-plan.ts from the container's stored plan, run by the runtime; the exit code is
// recorded before the client's stream ends, so a client that asks for it at once sees it.
import { conflict, errorText, invalid, newId, noSuchExec } from '../base/index.js';
import { resolveUser } from '../spec/index.js';
import { AttachSession, type AttachSink } from './attach.js';
import type { EngineCore } from './core.js';
import { execProcess } from './run-plan.js';
import { resolveLinks } from './start.js';
import type { ExecRecord } from './types.js';

/** What `POST /containers/{id}/exec` asks for. */
export interface ExecCreate {
  Cmd: string[];
  Env?: string[] | null;
  User?: string;
  WorkingDir?: string;
  Tty?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Privileged?: boolean;
  DetachKeys?: string;
  ConsoleSize?: [number, number] | null;
}

interface ExecSession {
  record: ExecRecord;
  done: Promise<void>;
  markDone: () => void;
}

export class ExecSessions {
  readonly #sessions = new Map<string, ExecSession>();

  constructor(private readonly core: EngineCore) {}

  create(ref: string, o: ExecCreate): string {
    const { table, events } = this.core;
    const c = table.get(ref);
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
    this.#sessions.set(id, { record: rec, done, markDone });
    events.emit('container', `exec_create: ${o.Cmd.join(' ')}`, c.Id, table.attrs(c, { execID: id }));
    return id;
  }

  /** Exec sessions of a container, for inspect's ExecIDs. */
  idsOf(containerId: string): string[] {
    return [...this.#sessions.values()].filter((e) => e.record.ContainerID === containerId).map((e) => e.record.ID);
  }

  get(id: string): ExecRecord {
    const e = this.#sessions.get(id);
    if (!e) throw noSuchExec(id);
    return e.record;
  }

  /** Drop one finished session (healthcheck probes, which Docker does not list). */
  forget(id: string): void {
    this.#sessions.delete(id);
  }

  /** SIGKILL a running exec's process (a healthcheck past its timeout). */
  kill(id: string): void {
    const pid = this.#sessions.get(id)?.record.Pid ?? 0;
    if (pid <= 0) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  /** The container is gone: so are its exec sessions. */
  forgetContainer(containerId: string): void {
    for (const [execId, e] of this.#sessions) if (e.record.ContainerID === containerId) this.#sessions.delete(execId);
  }

  /**
   * Start an exec. With a sink, output goes there and the promise resolves when the
   * process has exited; detached, it resolves once the process runs.
   */
  async start(id: string, sink: AttachSink | undefined, opts: { onSession?: (s: AttachSession) => void } = {}): Promise<void> {
    const core = this.core;
    const e = this.#sessions.get(id);
    if (!e) throw noSuchExec(id);
    const rec = e.record;
    if (rec.Running || rec.ExitCode !== null) throw conflict(`Error: Exec command ${id} has already run`);
    const c = core.table.get(rec.ContainerID);
    if (c.State.Status !== 'running') throw conflict(`Container ${c.Id} is not running`);
    rec.Running = true;
    // conmon may close the attach socket before its sync pipe reports the exit code; the
    // client reads ExitCode (GET /exec/{id}/json) as soon as the stream ends, so end the
    // stream only once the exit is recorded (moby closes exec streams after the exit event).
    const session = sink
      ? new AttachSession({ stdin: rec.OpenStdin, stdout: rec.OpenStdout, stderr: rec.OpenStderr, closeStdinOnEof: true }, { output: (s, data) => sink.output(s, data), end: () => void e.done.then(() => sink.end()) })
      : undefined;
    if (session) opts.onSession?.(session);
    const rootfs = core.bundle(c.Id).rootfs;
    try {
      const passwd = await core.host.rootfs.readText(rootfs, '/etc/passwd');
      const group = await core.host.rootfs.readText(rootfs, '/etc/group');
      const user = resolveUser(rec.User || c.Config.User || '', { passwd, group, groupAdd: c.HostConfig.GroupAdd ?? [] });
      const process = execProcess(c, core.plan(c), rec, user, resolveLinks(core, c, true).env);
      // runc exec moves the new process into the container's cgroups: its wait starts now (start.ts).
      core.host.cgroups.prepayMove();
      const pid = await core.runtime.exec({
        containerId: c.Id,
        execId: id,
        bundle: core.store.dir(c.Id),
        process,
        stdin: rec.OpenStdin,
        terminal: rec.Tty,
        attach: session ? async () => session.connect(() => core.runtime.attach(id)) : undefined,
        onExit: (code) => this.#exited(id, code),
      });
      rec.Pid = pid;
      core.events.emit('container', `exec_start: ${rec.Cmd.join(' ')}`, c.Id, core.table.attrs(c, { execID: id }));
    } catch (err) {
      rec.Running = false;
      rec.ExitCode = 126;
      // dockerd's words: runc exec's own text already starts `exec failed: ` (runc 1.1).
      const msg = errorText(err).replace(/^failed to create task for container: OCI runtime create failed: runc create failed: (exec failed: )?/, 'OCI runtime exec failed: exec failed: ');
      if (session) {
        sink?.output(1, Buffer.from(`${msg}\r\n`));
        session.finish();
      }
      e.markDone();
      if (!session) throw err;
      return;
    }
    if (session) await e.done;
  }

  #exited(id: string, code: number): void {
    const e = this.#sessions.get(id);
    if (!e) return;
    e.record.Running = false;
    e.record.ExitCode = code;
    e.record.Pid = 0;
    const c = this.core.table.byId(e.record.ContainerID);
    if (c) this.core.events.emit('container', 'exec_die', c.Id, this.core.table.attrs(c, { execID: id, exitCode: String(code) }));
    // Give the attach stream a moment to deliver the last output before the session ends.
    setTimeout(() => e.markDone(), 50).unref();
  }

  async resize(id: string, height: number, width: number): Promise<void> {
    const e = this.#sessions.get(id);
    if (!e) throw noSuchExec(id);
    if (!e.record.Tty) return;
    await this.core.runtime.resize({ exec: id }, height, width).catch(() => undefined);
  }
}
