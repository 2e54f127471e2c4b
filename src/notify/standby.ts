// The standby listener's watch (host, on the standby process's main thread): it keeps a copy
// of every notify fd the active listener serves, and of its listening socket, so that the
// kernel keeps the filters' notifications for a listener to answer (it answers ENOSYS only
// once no process holds a filter's notify fd). It never reads a notification.
//
// `tick(waitMs)` is one round; it blocks in poll(2) up to `waitMs` (the standby's main thread
// has nothing else to do; a signal interrupts the poll, so SIGTERM is still handled at once):
// - reads the active listener's messages (handoff.ts): the listening socket, each notify fd
//   under its key and in-flight slot, drops, and `stop`;
// - closes copies whose filters have no task left (they poll POLLHUP);
// - when the link hangs up without a `stop`, the active listener died: with copies to keep,
//   takes the lock (released when the dead process's last fd closed), writes `listener.pid`
//   and returns what the active loop must adopt; with none, there is nothing to protect and
//   it returns `exit`.
import { fstatSync, statSync, rmSync, lstatSync, unlinkSync, chmodSync } from 'node:fs';
import type { Logger } from '../base/index.js';
import { lockPath, pidPath, standbyPidPath, writePidFileSync, readPidFileSync } from './paths.js';
import { tryParseHandoff } from './handoff.js';
import { closeFd, isNotifyFd, listenUnix, pollEvents, recvWithFds, tryLockExclusive, POLLERR, POLLHUP, POLLIN, POLLNVAL } from './kernel.js';
import type { AdoptedFd } from './listener.js';

export interface StandbyOptions {
  /** Our end of the link to the active listener. */
  readonly pairFd: number;
  /** `listener.lock`, open (not locked). */
  readonly lockFd: number;
  readonly socketPath: string;
  readonly stateDir: string;
  readonly log: Logger;
}

/** What the standby does next. */
export type StandbyVerdict = { readonly kind: 'keep' } | { readonly kind: 'exit'; readonly why: string } | { readonly kind: 'take-over'; readonly listenFd: number; readonly adopt: readonly AdoptedFd[] };

/** How long a takeover waits for the dead listener's lock to be released. */
const TAKEOVER_LOCK_MS = 2000;
const pauseCell = new Int32Array(new SharedArrayBuffer(4));


export class StandbyKeeper {
  readonly #o: StandbyOptions;
  #pairFd: number;
  #listenFd = -1;
  readonly #held = new Map<number, AdoptedFd>();
  #stopSeen = false;
  /** Set once the active listener is gone and the lock is being waited for. */
  #lockDeadline: number | undefined;

  constructor(o: StandbyOptions) {
    this.#o = o;
    this.#pairFd = o.pairFd;
  }

  /** Copies held (for tests and logs). */
  get held(): number {
    return this.#held.size;
  }

  /** One round, waiting up to `waitMs` for the link or a copy to say something. */
  tick(waitMs: number): StandbyVerdict {
    if (this.#lockDeadline !== undefined) return this.#tryTakeOver();
    const held = [...this.#held.entries()];
    const fds = [this.#pairFd, ...held.map(([, h]) => h.fd)];
    const events = [POLLIN, ...held.map(() => 0)];
    const revents = pollEvents(fds, events, waitMs);
    if (revents === undefined) return { kind: 'keep' };
    held.forEach(([key], i) => {
      if ((revents[i + 1] ?? 0) & (POLLHUP | POLLERR | POLLNVAL)) this.#drop(key);
    });
    const ev = revents[0] ?? 0;
    let gone = (ev & (POLLHUP | POLLERR | POLLNVAL)) !== 0;
    if (ev & POLLIN) gone = this.#read() || gone;
    if (!gone) return { kind: 'keep' };
    closeFd(this.#pairFd);
    this.#pairFd = -1;
    if (this.#stopSeen) return this.#exit('the listener stopped on purpose');
    if (this.#held.size === 0) return this.#exit('the listener is gone and no container filter is left to keep');
    this.#lockDeadline = Date.now() + TAKEOVER_LOCK_MS;
    return this.#tryTakeOver();
  }

  /** Closes everything (SIGTERM, or an exit verdict). */
  close(): void {
    for (const key of [...this.#held.keys()]) this.#drop(key);
    if (this.#pairFd >= 0) closeFd(this.#pairFd);
    this.#pairFd = -1;
    if (this.#listenFd >= 0) closeFd(this.#listenFd);
    this.#listenFd = -1;
  }

  #exit(why: string): StandbyVerdict {
    this.close();
    return { kind: 'exit', why };
  }

  /** Reads the active listener's messages; true when the link ended. */
  #read(): boolean {
    for (;;) {
      let r;
      try {
        r = recvWithFds(this.#pairFd);
      } catch (err) {
        this.#o.log.warn({ err }, 'reading the link to the active listener failed');
        return true;
      }
      if (r.kind === 'again') return false;
      if (r.kind === 'eof') return true;
      const m = tryParseHandoff(r.data);
      const fd = r.fds[0];
      let used: number | undefined;
      if (m?.t === 'hello' && fd !== undefined) {
        if (this.#listenFd >= 0) closeFd(this.#listenFd);
        this.#listenFd = used = fd;
      } else if (m?.t === 'fd' && fd !== undefined && isNotifyFd(fd)) {
        this.#drop(m.key);
        this.#held.set(m.key, { fd, slot: m.slot, id: m.id });
        used = fd;
      } else if (m?.t === 'drop') {
        this.#drop(m.key);
      } else if (m?.t === 'stop') {
        this.#stopSeen = true;
      } else {
        this.#o.log.warn({ bytes: r.data.length }, 'unexpected message from the active listener; ignored');
      }
      for (const x of r.fds) if (x !== used) closeFd(x);
    }
  }

  #drop(key: number): void {
    const h = this.#held.get(key);
    if (h === undefined) return;
    this.#held.delete(key);
    closeFd(h.fd);
  }

  #tryTakeOver(): StandbyVerdict {
    if (!tryLockExclusive(this.#o.lockFd)) {
      if (Date.now() < this.#lockDeadline!) {
        Atomics.wait(pauseCell, 0, 0, 5); // the dead process is still closing its files
        return { kind: 'keep' };
      }
      return this.#exit('the listener is gone but another process holds the lock; running containers now get ENOSYS for blocked syscalls');
    }
    if (!this.#sameLockFile()) return this.#exit('the state directory was removed or replaced');
    writePidFileSync(pidPath(this.#o.stateDir), process.pid);
    if (readPidFileSync(standbyPidPath(this.#o.stateDir)) === process.pid) rmSync(standbyPidPath(this.#o.stateDir), { force: true });
    // A standby that never got the listening socket binds it again (we hold the lock).
    let listenFd = this.#listenFd;
    if (listenFd < 0) {
      try {
        if (lstatSync(this.#o.socketPath).isSocket()) unlinkSync(this.#o.socketPath);
      } catch {
        // not there
      }
      listenFd = listenUnix(this.#o.socketPath);
      chmodSync(this.#o.socketPath, 0o600);
    }
    // Newest copy first: if two share a slot number, the newer fd wrote it last.
    const adopt = [...this.#held.entries()].sort(([a], [b]) => b - a).map(([, h]) => h);
    this.#held.clear();
    this.#listenFd = -1;
    return { kind: 'take-over', listenFd, adopt };
  }

  #sameLockFile(): boolean {
    try {
      const a = fstatSync(this.#o.lockFd);
      const b = statSync(lockPath(this.#o.stateDir));
      return a.ino === b.ino && a.dev === b.dev;
    } catch {
      return false;
    }
  }
}
