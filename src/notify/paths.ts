// The listener's process files in its state dir, and pid files read and written
// synchronously. Kept apart from files.ts so the standby process loads only this (and not
// the rule tables' policy and syscall tables): it is resident whenever containers run.
import { openSync, writeSync, closeSync, renameSync, readFileSync, constants as fsConstants } from 'node:fs';
import { join } from 'node:path';

export const pidPath = (stateDir: string): string => join(stateDir, 'listener.pid');
export const lockPath = (stateDir: string): string => join(stateDir, 'listener.lock');
/** flock(2)ed shared by moatd while it runs: a listener that can lock it exclusively knows moatd is gone. */
export const daemonLockPath = (stateDir: string): string => join(stateDir, 'daemon.lock');
export const logPath = (stateDir: string): string => join(stateDir, 'listener.log');
export const standbyPidPath = (stateDir: string): string => join(stateDir, 'standby.pid');
export const inflightPath = (stateDir: string): string => join(stateDir, 'listener.inflight');

/** Writes `<pid>\n` to `path` atomically, synchronously (from inside a standby's round). */
export function writePidFileSync(path: string, pid: number): void {
  const tmp = `${path}.${pid}.tmp`;
  const fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | fsConstants.O_NOFOLLOW, 0o644);
  try {
    writeSync(fd, `${pid}\n`);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** The pid in a pid file, or undefined. */
export function readPidFileSync(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
