// The runtime seam: everything the engine asks of conmon + runc, as one interface. RuncRuntime
// (runner.ts) is the real one; the engine's unit tests drive the engine through a recording
// fake (test/helpers/fake-runtime.ts), so a broken lifecycle shows without root. Types only.
import type { Writable } from 'node:stream';
import type { LinuxResources, Process, Spec } from '../spec/index.js';

/** runc's view of a container (`runc state`). */
export interface RuntimeState {
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  bundle: string;
}

/** What the runtime reports, set once before anything else is asked of it. */
export interface RuntimeEvents {
  /** A container's process exited with `code` (conmon wrote it down). */
  exited(id: string, code: number): void;
  /** The monitor (conmon) of a container that was running is gone: reconcile with runc at once. */
  monitorGone(id: string): void;
  /** The containers whose exits are wanted (running or paused): others' exit files wait. */
  isLive(id: string): boolean;
}

export interface RuntimeCreateOptions {
  id: string;
  name: string;
  /** The bundle dir: `config.json` is written there from the spec given to `create`. */
  bundle: string;
  /** `none`: no log (attach still works); `k8s-file` at `path`, capped at `sizeMax` bytes per file. */
  log: { driver: 'k8s-file' | 'none'; path: string; sizeMax?: number };
  stdin: boolean;
  terminal: boolean;
  /** Keep the container's stdin open when an attached client goes away (OpenStdin without StdinOnce). */
  leaveStdinOpen: boolean;
}

export interface RuntimeExecOptions {
  containerId: string;
  execId: string;
  /** The container's bundle dir. */
  bundle: string;
  process: Process;
  stdin: boolean;
  terminal: boolean;
  /** Connect the client once the exec's attach socket exists, before the process runs. */
  attach?: (() => Promise<void>) | undefined;
  /** The process exited (after this the runtime removes the exec's files). -1: unknown. */
  onExit(code: number): void;
}

/** A create begun before its spec is ready: the monitor runs and waits for it. */
export interface PendingCreate {
  /**
   * Write `<bundle>/config.json` from `spec`, clear what an earlier run of the same id left
   * (exit file, runc state), then let the monitor create the container (stopped before its
   * process runs). Resolves with the container's init pid and its monitor's (conmon's) pid.
   */
  create(spec: Spec): Promise<{ pid: number; monitorPid: number }>;
  /** The start failed before `create`: end the waiting monitor. Nothing after `create`. */
  cancel(): void;
}

/** One client's connection to a process's stdio (conmon's attach socket). */
export interface AttachStream {
  /** Every packet of output, in order: 1 stdout, 2 stderr. */
  onOutput(fn: (stream: 1 | 2, data: Buffer) => void): void;
  /** The stream ended: the process exited and its last output was delivered, or an error. */
  onEnd(fn: () => void): void;
  /** The process's stdin; `end()` is EOF. */
  readonly stdin: Writable;
  destroy(): void;
}

/** Which process a terminal resize is for. */
export type ResizeTarget = { container: string; bundle: string } | { exec: string };

/**
 * What the engine asks of the OCI runtime stack. Container ids and exec ids share one name
 * space (attach sockets and exit files are per id).
 *
 * @example
 * const runtime: OciRuntime = new RuncRuntime(paths);
 * await runtime.prepare({ exited, monitorGone, isLive });
 * const pending = runtime.beginCreate({ id, name, bundle, log, stdin: false, terminal: false, leaveStdinOpen: false });
 * const { pid, monitorPid } = await pending.create(spec);
 * await runtime.start(id);
 */
export interface OciRuntime {
  /** Make the runtime's directories and take the event handlers. Called once, first. */
  prepare(events: RuntimeEvents): Promise<void>;
  /** Start reporting exits (after the engine has reconciled its records). */
  watchExits(): void;
  /** Stop watching; containers keep running. */
  close(): void;

  /**
   * Start the container's monitor (conmon), which waits until the returned `create` is
   * called: its own start runs while the engine makes the rootfs and the spec. Call it only
   * once the log files are in place (the monitor opens its log at once). Clears the FIFOs,
   * sockets and spec an earlier run left. A monitor that cannot start fails `create`.
   */
  beginCreate(o: RuntimeCreateOptions): PendingCreate;
  start(id: string): Promise<void>;
  kill(id: string, signal: number, opts?: { all?: boolean }): Promise<void>;
  delete(id: string, opts: { force: boolean }): Promise<void>;
  /** Undefined when the runtime does not know the container. */
  state(id: string): Promise<RuntimeState | undefined>;
  /** True when the runtime keeps state for `id` (cheap: no process is run). */
  exists(id: string): boolean;
  pause(id: string, pause: boolean): Promise<void>;
  /** Change a live container's cgroup limits (`runc update`): memory, cpu, pids. */
  update(id: string, resources: LinuxResources): Promise<void>;
  /** The host pids of the container's processes. */
  pids(id: string): Promise<number[]>;
  /** Run a process in a running container; resolves with its pid once it runs. */
  exec(o: RuntimeExecOptions): Promise<number>;
  /** Connect to the stdio of a running container or exec (by id). */
  attach(id: string): Promise<AttachStream>;
  /** Set a terminal's size (nothing happens without a terminal). */
  resize(target: ResizeTarget, height: number, width: number): Promise<void>;

  /** The exit code written for `id`, if its process has exited. */
  exitCode(id: string): Promise<number | undefined>;
  /** Forget an exit (its record is written); a later exit of the same id is reported again. */
  clearExit(id: string): Promise<void>;
  /** Look for exits now (a waiter is waiting). */
  scanExits(): void;

  /**
   * Watch the monitor (conmon) of a running container: `gone` when it is no longer running,
   * `unknown` when it cannot be watched (that says nothing about the monitor). Later deaths
   * are reported through `monitorGone`.
   */
  watchMonitor(id: string, pid: number): 'watched' | 'gone' | 'unknown';
  unwatchMonitor(id: string): void;
  /** After a forced delete: wait (briefly) for the container's monitor to end. */
  waitMonitorGone(id: string, bundle: string): Promise<void>;
  /** Remove what the runtime keeps outside the bundle for a container that is gone. */
  forget(id: string): Promise<void>;
  /** The runtime's own words about a failed create or start, for the daemon log. */
  failureDetail(bundle: string): Promise<Record<string, string>>;
}
