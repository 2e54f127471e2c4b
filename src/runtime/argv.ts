// argv for conmon and runc. Pure: arrays, never a shell.

export interface RuntimePaths {
  /** runc binary. */
  runc: string;
  /** conmon binary. */
  conmon: string;
  /** runc --root (state dir) under the exec root. */
  runcRoot: string;
  /** Directory where conmon writes one exit file per container or exec (named by id). */
  exitDir: string;
  /** Short directory conmon puts attach-socket symlinks in (socket paths are limited to 108 bytes). */
  socketDir: string;
  /** One directory per exec session (process.json, pid, log, exit file). */
  execDir: string;
}

export interface ConmonCreateOptions {
  id: string;
  name: string;
  bundle: string;
  logPath: string;
  pidFile: string;
  runcLog: string;
  stdin: boolean;
  terminal: boolean;
  /** Keep the container's stdin open when an attached client goes away (OpenStdin without StdinOnce). */
  leaveStdinOpen: boolean;
  /** `none`: conmon keeps no log (attach still works). Default: a k8s-file log at logPath. */
  logDriver?: 'k8s-file' | 'none';
  /**
   * conmon's `--log-size-max`: before a line would cross it, conmon starts a new file
   * (`<log>.tmp` renamed over `<log>`). Unset: no cap.
   */
  logSizeMax?: number;
}

/** Exec logs are read by no one (output goes to the attached client): a small cap keeps a
 * detached noisy exec from filling the exec root (often tmpfs). */
export const EXEC_LOG_SIZE_MAX = 1024 * 1024;

function runtimeArgs(p: RuntimePaths, runcLog: string): string[] {
  return ['--runtime-arg', `--root=${p.runcRoot}`, '--runtime-arg', '--log-format=json', '--runtime-arg', `--log=${runcLog}`];
}

/**
 * conmon argv that runs `runc create` for a container and then holds its stdio. `--sync`:
 * conmon does not fork to daemonize (bench/create-parts.ts: 2-3 ms less per create in
 * three runs of four, 1.8 ms more in one; ~1 ms in moatd's create phase, docs/performance.md
 * phase F), so the process moatd spawns is the monitor itself and moatd writes its pid file
 * (conmon writes `-P` only when it forks).
 */
export function conmonCreateArgs(p: RuntimePaths, o: ConmonCreateOptions): string[] {
  return [
    '--api-version', '1',
    '-c', o.id,
    '-u', o.id,
    '-n', o.name,
    '-r', p.runc,
    '-b', o.bundle,
    '-p', o.pidFile,
    '--sync',
    '-l', o.logDriver === 'none' ? 'none' : `k8s-file:${o.logPath}`,
    ...(o.logDriver !== 'none' && o.logSizeMax !== undefined && o.logSizeMax > 0 ? ['--log-size-max', String(o.logSizeMax)] : []),
    '--exit-dir', p.exitDir,
    '--socket-dir-path', p.socketDir,
    '--log-level', 'error',
    ...runtimeArgs(p, o.runcLog),
    ...(o.stdin ? ['-i'] : []),
    ...(o.terminal ? ['-t'] : []),
    ...(o.leaveStdinOpen ? ['--leave-stdin-open'] : []),
  ];
}

export interface ConmonExecOptions {
  containerId: string;
  execId: string;
  /** Directory of the exec session: process.json, pid, log, attach socket. */
  dir: string;
  exitDir: string;
  bundle: string;
  stdin: boolean;
  terminal: boolean;
}

/** conmon argv that runs `runc exec` for a process spec and holds its stdio. */
export function conmonExecArgs(p: RuntimePaths, o: ConmonExecOptions): string[] {
  return [
    '--api-version', '1',
    '-c', o.containerId,
    '-u', o.execId,
    '-r', p.runc,
    '-b', o.dir,
    '-p', `${o.dir}/pid`,
    '-P', `${o.dir}/conmon.pid`,
    '-l', `k8s-file:${o.dir}/log`,
    '--log-size-max', String(EXEC_LOG_SIZE_MAX),
    '--exit-dir', o.exitDir,
    '--socket-dir-path', p.socketDir,
    '--log-level', 'error',
    '-e',
    '--exec-attach',
    '--exec-process-spec', `${o.dir}/process.json`,
    ...runtimeArgs(p, `${o.dir}/runc.log`),
    ...(o.stdin ? ['-i'] : []),
    ...(o.terminal ? ['-t'] : []),
  ];
}

export function runcStartArgs(p: RuntimePaths, id: string): string[] {
  return ['--root', p.runcRoot, 'start', id];
}

export function runcKillArgs(p: RuntimePaths, id: string, signal: number, all = false): string[] {
  return ['--root', p.runcRoot, 'kill', ...(all ? ['--all'] : []), id, String(signal)];
}

export function runcDeleteArgs(p: RuntimePaths, id: string, force: boolean): string[] {
  return ['--root', p.runcRoot, 'delete', ...(force ? ['--force'] : []), id];
}

export function runcStateArgs(p: RuntimePaths, id: string): string[] {
  return ['--root', p.runcRoot, 'state', id];
}

export function runcPauseArgs(p: RuntimePaths, id: string, pause: boolean): string[] {
  return ['--root', p.runcRoot, pause ? 'pause' : 'resume', id];
}

/** `runc update` with the OCI resources JSON on stdin. */
export function runcUpdateArgs(p: RuntimePaths, id: string): string[] {
  return ['--root', p.runcRoot, 'update', '--resources', '-', id];
}

export function runcPsArgs(p: RuntimePaths, id: string): string[] {
  return ['--root', p.runcRoot, 'ps', '--format', 'json', id];
}
