// Watches processes without waiting for them (a container's conmon is moatd's child until
// moatd restarts, reaped by spawn.ts; an exec's conmon double-forks): a pidfd per process
// (pidfd_open(2), Linux 5.3) polled every few hundred milliseconds. A pidfd names
// the process, not the number, so a reused pid is never mistaken for the one watched.
import { readFileSync } from 'node:fs';
import { errnoName } from '../base/index.js';
import { libc, lastErrno } from './libc.js';

const POLLIN = 0x1;
const POLLFD_SIZE = 8; // struct pollfd { int fd; short events; short revents; }

/** The command line of `pid` as its arguments, or undefined when it is gone. */
export function commandLineOf(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((x) => x !== '');
  } catch {
    return undefined;
  }
}

/**
 * Calls `onGone(key)` once the process watched under `key` has exited.
 *
 * @example
 * const w = new ProcessWatcher((id) => reconcile(id));
 * w.watch(containerId, conmonPid, (argv) => argv.includes(containerId));
 */
export class ProcessWatcher {
  #watched = new Map<string, { fd: number; pid: number }>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly onGone: (key: string, pid: number) => void,
    private readonly intervalMs = 200,
  ) {}

  /**
   * Watch `pid` under `key`. `isExpected` checks its command line after the pidfd is open
   * (so the pidfd and the check name the same process). `'gone'`: the process has exited, or
   * the pid is now another process; `'unknown'`: it cannot be watched (no pidfd: EMFILE, an
   * old kernel), which says nothing about the process.
   */
  watch(key: string, pid: number, isExpected: (argv: string[]) => boolean): 'watched' | 'gone' | 'unknown' {
    this.unwatch(key);
    if (!Number.isInteger(pid) || pid <= 0) return 'unknown';
    const fd = libc().pidfd_open(pid, 0);
    if (fd < 0) return errnoName(lastErrno()) === 'ESRCH' ? 'gone' : 'unknown';
    const argv = commandLineOf(pid);
    if (argv === undefined || !isExpected(argv) || this.#exited(fd)) {
      libc().close(fd);
      return 'gone';
    }
    this.#watched.set(key, { fd, pid });
    this.#timer ??= setInterval(() => this.poll(), this.intervalMs).unref();
    return 'watched';
  }

  unwatch(key: string): void {
    const w = this.#watched.get(key);
    if (!w) return;
    this.#watched.delete(key);
    libc().close(w.fd);
    if (this.#watched.size === 0) this.#stopTimer();
  }

  has(key: string): boolean {
    return this.#watched.has(key);
  }

  /** Check every watched process now (also runs on the timer). */
  poll(): void {
    if (this.#watched.size === 0) return;
    const entries = [...this.#watched.entries()];
    const buf = Buffer.alloc(POLLFD_SIZE * entries.length);
    entries.forEach(([, w], i) => {
      buf.writeInt32LE(w.fd, i * POLLFD_SIZE);
      buf.writeInt16LE(POLLIN, i * POLLFD_SIZE + 4);
    });
    if (libc().poll(buf, entries.length, 0) <= 0) return;
    entries.forEach(([key, w], i) => {
      if (buf.readInt16LE(i * POLLFD_SIZE + 6) === 0) return;
      this.unwatch(key);
      this.onGone(key, w.pid);
    });
  }

  close(): void {
    for (const key of [...this.#watched.keys()]) this.unwatch(key);
    this.#stopTimer();
  }

  #exited(fd: number): boolean {
    const buf = Buffer.alloc(POLLFD_SIZE);
    buf.writeInt32LE(fd, 0);
    buf.writeInt16LE(POLLIN, 4);
    return libc().poll(buf, 1, 0) > 0;
  }

  #stopTimer(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
