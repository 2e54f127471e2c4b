// The serving loop of moat-seccomp-listener (host). It runs on the process's main thread,
// one step per event-loop turn (setImmediate): each step blocks in poll(2) up to 250 ms, a
// signal interrupts that poll (EINTR), and the turn in between runs the signal handlers and
// reaps the standby. No worker thread: a standby that takes over starts serving at once
// with the modules it has loaded, and each process is ~15 MB smaller.
//
// One poll(2) over the listening socket, connections from runc still sending their state
// message, every container's notify fd, and the link to the standby. For each connection runc
// makes (one per `runc create`/`run`, and one per `runc exec`: each loads its own filter), it
// reads the state JSON and the notify fd (SCM_RIGHTS), loads `<id>.rules.json`, passes a
// copy of the fd to the standby (standby.ts), then answers each notification on that fd. A
// notify fd reports POLLHUP when no task uses its filter any more (the container and its
// execs exited): then it is closed and forgotten.
//
// The standby is a second process holding a copy of every notify fd and of the listening
// socket. The kernel answers ENOSYS for a notify rule only once no process holds the filter's
// notify fd, so while the standby lives, killing this listener changes nothing a container
// sees: the callers wait, the standby notices at once (its link hangs up), takes the lock and
// starts this loop with the fds it kept (`adopt`); the loop first answers what the dead
// listener had received but not answered (the in-flight slots, slots.ts), then serves on and
// starts a standby of its own.
//
// Order for one notification: (budget) RECV into the fd's in-flight slot, decide, then (only
// when a record will be written) read /proc/<pid>/status while the task still waits in the
// syscall and check ID_VALID (the pid was not reused meanwhile), SEND the answer, then write
// the record. The answer never waits for the disk. Any failure after RECV still answers
// (EPERM): a task is never left parked.
//
// Cost (issue 11, finding 7): a container past its answer budget (budget.ts) has its fds
// left out of the poll set, so its callers wait in the kernel and the listener does nothing
// for it until its next token; each poll round serves at most one notification per fd, so
// containers take turns.
import { readFileSync, fstatSync, statSync, lstatSync, unlinkSync, openSync, closeSync, constants as fsConstants } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../base/index.js';
import { decodeNotif, encodeResp, denyResp, continueResp, tryParseProcessState, SECCOMP_NOTIF_SIZE, type SeccompNotif } from './structs.js';
import { decide, denialRecord, FALLBACK_ERRNO, type Decision, parseTaskStatus, recordKey, hex, type RuleTable, type TaskInfo, type SyscallRecord, type DroppedRecord } from './policy.js';
import { ContainerBudget, DEFAULT_LIMITS, type BudgetLimits } from './budget.js';
import { JsonlAppender, denialsPath, syscallsPath, lastSeqSync, loadRuleTableSync, lockPath, daemonLockPath, inflightPath } from './files.js';
import { InflightSlots } from './slots.js';
import { encodeHandoff, type HandoffMessage } from './handoff.js';
import { parseIdleExitRequest, IDLE_EXIT_EXITING, IDLE_EXIT_BUSY } from './idle.js';
import { acceptConn, closeFd, isNotifyFd, notifIdValid, notifRecv, notifRecvAt, notifSend, peerCred, pollEvents, recvWithFds, sendWithFds, tryLockExclusive, POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT } from './kernel.js';

/** Starts standbys for the loop (main.ts spawns the process). */
export interface StandbySpawner {
  /** A new standby process and our end of its link, or undefined when it could not start. */
  spawn(): { readonly fd: number; readonly pid: number } | undefined;
}

/** A notify fd a standby kept, handed to the loop it starts: its container and in-flight slot. */
export interface AdoptedFd {
  readonly fd: number;
  readonly slot: number;
  readonly id: string;
}

/** A connection still sending its state message. */
interface Conn {
  readonly fd: number;
  readonly chunks: Buffer[];
  bytes: number;
  fds: number[];
  readonly deadline: number;
}

/** Per container, shared by all its notify fds. */
interface ContainerState {
  readonly id: string;
  /** Loaded at attach; retried per notification while missing (a late writer). */
  table: RuleTable | undefined;
  /** The last seq written, read from the files at the first record (most containers write none). */
  seq: number | undefined;
  syscallSeq: number | undefined;
  readonly budget: ContainerBudget;
  suppressed: number;
  readonly seen: Set<string>;
  fds: number;
  denials: JsonlAppender;
  syscalls: JsonlAppender;
  /** Throttled in the last poll round: its fds are not read. */
  throttled: boolean;
  /** Logged once per container. */
  throttleLogged: boolean;
}

interface Notifier {
  readonly fd: number;
  /** This fd's name on the link to the standby. */
  readonly key: number;
  /** In-flight slot, or -1 when none was free (then a kill mid-answer cannot be recovered). */
  readonly slot: number;
  readonly container: ContainerState;
}

interface StandbyLink {
  readonly fd: number;
  readonly pid: number;
  readonly since: number;
  readonly outbox: Array<{ readonly data: Buffer; readonly fds: readonly number[]; readonly key?: number }>;
}

const CONN_TIMEOUT_MS = 5000;
const MAX_STATE_BYTES = 1024 * 1024;
const POLL_MS = 250;
const ORPHAN_CHECK_MS = 2000;
/** How long a pair stays idle with no moatd before it exits on its own (moatd's default grace). */
const DAEMON_GONE_GRACE_MS = 5000;
/** A standby that lived less than this counts as failed: the next spawn waits longer. */
const STANDBY_MIN_LIFE_MS = 10_000;
const STANDBY_MAX_BACKOFF_MS = 60_000;

function readTask(pid: number): TaskInfo {
  try {
    return parseTaskStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return {};
  }
}

const pauseCell = new Int32Array(new SharedArrayBuffer(4));
/** Sleeps the thread (only on error paths and a stop: never in the serving path). */
function pause(ms: number): void {
  Atomics.wait(pauseCell, 0, 0, ms);
}

function isCompleteJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

export interface ListenerLoopOptions {
  readonly listenFd: number;
  readonly lockFd: number;
  readonly stateDir: string;
  /** The listening socket's path: removed at once when an idle exit is agreed. */
  readonly socketPath?: string;
  readonly log: Logger;
  /** Starts standbys; without it none is ever started (tests). */
  readonly spawner?: StandbySpawner;
  /** A standby already started. */
  readonly standby?: { readonly fd: number; readonly pid: number } | undefined;
  /** After a takeover: the fds the standby kept (their in-flight slots are read, not cleared). */
  readonly adopt?: readonly AdoptedFd[] | undefined;
  readonly limits?: BudgetLimits;
  /** Fault injection for tests: SIGKILL this process right after the Nth RECV, before its SEND. */
  readonly killAfterRecv?: number | undefined;
}

export class ListenerLoop {
  readonly #listenFd: number;
  readonly #o: ListenerLoopOptions;
  readonly #log: Logger;
  readonly #limits: BudgetLimits;
  readonly #conns = new Map<number, Conn>();
  readonly #notifiers = new Map<number, Notifier>();
  readonly #containers = new Map<string, ContainerState>();
  readonly #uid = process.getuid?.() ?? 0;
  /** Where RECV writes when there is no slot (never shared). */
  readonly #scratch = Buffer.alloc(SECCOMP_NOTIF_SIZE);
  readonly #slots: InflightSlots;
  #nextKey = 1;
  #recvCount = 0;
  #standby: StandbyLink | undefined;
  #standbyBackoffMs = 0;
  #standbyRetryAt = 0;
  /** Containers throttled in the last round (their fair share of throttledPerSecond). */
  #throttledCount = 0;
  #lastOrphanCheck = 0;
  /** Set when the loop decided to end (state dir gone, or moatd's idle exit accepted). */
  #done = false;
  /** The loop ends on moatd's request: the standby is told to exit too. */
  #idleExit = false;
  /** When this loop last held a notify fd (or started): an idle exit needs a grace period after it. */
  #lastBusy = Date.now();
  #listenClosed = false;
  /** daemon.lock, taken exclusively once moatd is found gone; never closed (the exit releases it). */
  #daemonLockFd: number | undefined;

  constructor(o: ListenerLoopOptions) {
    this.#o = o;
    this.#listenFd = o.listenFd;
    this.#log = o.log;
    this.#limits = o.limits ?? DEFAULT_LIMITS;
    this.#slots = InflightSlots.open(inflightPath(o.stateDir), { fresh: o.adopt === undefined });
    if (o.adopt !== undefined) this.#adopt(o.adopt);
    if (o.standby !== undefined) this.#linkStandby(o.standby.fd, o.standby.pid);
  }

  /**
   * Runs until `stopping()` is true or the state dir is gone, one step per event-loop turn.
   * A deliberate stop tells the standby to exit too; then every fd is closed (containers get
   * ENOSYS). If a step throws (a bug), the promise rejects and the standby's copies keep the
   * containers served.
   */
  async run(stopping: () => boolean): Promise<void> {
    let stopped = false;
    try {
      while (!this.#done) {
        if (stopping()) {
          stopped = true;
          break;
        }
        this.step(POLL_MS);
        await new Promise<void>((r) => setImmediate(r));
      }
    } finally {
      if (stopped || this.#idleExit) this.#stopStandby();
      this.#closeAll();
    }
  }

  /** One poll round. */
  step(maxWaitMs: number): void {
    this.#activeStep(maxWaitMs);
    const now = Date.now();
    if (now - this.#lastOrphanCheck >= ORPHAN_CHECK_MS) {
      this.#lastOrphanCheck = now;
      this.#checkOrphaned();
    }
  }

  #activeStep(maxWaitMs: number): void {
    if (this.#notifiers.size > 0) this.#lastBusy = Date.now();
    this.#maybeStartStandby();
    const now = performance.now();
    let throttled = 0;
    let waitMs = maxWaitMs;
    for (const c of this.#containers.values()) {
      const isRecord = c.table?.mode === 'record';
      const t = !isRecord && c.budget.isThrottled(now, this.#throttledCount);
      if (t) {
        throttled += 1;
        waitMs = Math.min(waitMs, Math.max(1, c.budget.answerWaitMs(now, this.#throttledCount)));
        if (!c.throttleLogged) this.#log.info({ containerId: c.id, answered: c.budget.answered }, 'container calls blocked syscalls faster than its budget: its notifications now wait their turn');
        c.throttleLogged = true;
      }
      c.throttled = t;
    }
    this.#throttledCount = throttled;

    const fds: number[] = [this.#listenFd];
    const events: number[] = [POLLIN];
    for (const fd of this.#conns.keys()) {
      fds.push(fd);
      events.push(POLLIN);
    }
    const sb = this.#standby;
    if (sb !== undefined) {
      fds.push(sb.fd);
      events.push(POLLIN | (sb.outbox.length > 0 ? POLLOUT : 0));
    }
    for (const n of this.#notifiers.values()) {
      fds.push(n.fd);
      events.push(n.container.throttled ? 0 : POLLIN); // 0: still told about POLLHUP
    }
    const revents = pollEvents(fds, events, Math.ceil(waitMs));
    if (revents === undefined) return;
    fds.forEach((fd, i) => {
      const ev = revents[i] ?? 0;
      if (ev === 0) return;
      // One bad fd must not end the loop: that would turn every container's notified
      // syscalls into waits for the standby (or ENOSYS without one).
      try {
        if (fd === this.#listenFd) this.#acceptAll();
        else if (this.#conns.has(fd)) this.#readConn(this.#conns.get(fd)!);
        else if (sb !== undefined && fd === sb.fd) this.#standbyEvent(ev);
        else {
          const n = this.#notifiers.get(fd);
          if (n === undefined) return;
          if (ev & POLLIN) this.#serveOne(n);
          else if (ev & (POLLHUP | POLLERR | POLLNVAL)) this.#detach(n, 'filter has no tasks left');
        }
      } catch (err) {
        this.#log.error({ err, fd }, 'seccomp listener step failed');
        if (fd === this.#listenFd) pause(100); // e.g. EMFILE: do not spin
      }
    });
    this.#flushStandby();
    const wall = Date.now();
    for (const c of [...this.#conns.values()]) {
      if (wall > c.deadline) {
        this.#log.warn({ fd: c.fd }, 'runc connection sent no complete state message in time; closed');
        this.#dropConn(c);
      }
    }
  }

  #acceptAll(): void {
    for (;;) {
      const fd = acceptConn(this.#listenFd);
      if (fd < 0) return;
      const cred = peerCred(fd);
      if (cred === undefined || cred.uid !== this.#uid) {
        this.#log.warn({ peer: cred }, 'refused a connection from another user');
        closeFd(fd);
        continue;
      }
      this.#conns.set(fd, { fd, chunks: [], bytes: 0, fds: [], deadline: Date.now() + CONN_TIMEOUT_MS });
    }
  }

  #dropConn(c: Conn): void {
    this.#conns.delete(c.fd);
    closeFd(c.fd);
    for (const fd of c.fds) closeFd(fd);
  }

  #readConn(c: Conn): void {
    // runc 1.1 sends the state JSON and the fd in one sendmsg(2) but never closes its end
    // (`sendContainerProcessState` closes only a dup of the conn; the conn lives until runc
    // exits, i.e. as long as `runc run` does). So the message ends when it parses as JSON,
    // not at EOF; a stream may still split it, hence the accumulation.
    let eof = false;
    for (;;) {
      let r;
      try {
        r = recvWithFds(c.fd);
      } catch (err) {
        this.#log.warn({ err }, 'reading a runc connection failed');
        this.#dropConn(c);
        return;
      }
      if (r.kind === 'again') break;
      if (r.kind === 'eof') {
        eof = true;
        break;
      }
      c.fds.push(...r.fds);
      c.chunks.push(r.data);
      c.bytes += r.data.length;
      if (r.truncated || c.bytes > MAX_STATE_BYTES) {
        this.#log.warn({ bytes: c.bytes, truncated: r.truncated }, 'runc connection sent too much; closed');
        this.#dropConn(c);
        return;
      }
    }
    const text = Buffer.concat(c.chunks).toString('utf8');
    if (!eof && !isCompleteJson(text)) return; // more to come
    this.#conns.delete(c.fd);
    const idle = c.fds.length === 0 ? parseIdleExitRequest(text) : undefined;
    if (idle !== undefined) {
      this.#answerIdleExit(c.fd, idle.graceMs);
      closeFd(c.fd);
      return;
    }
    const state = tryParseProcessState(text);
    closeFd(c.fd);
    if (c.bytes === 0 && c.fds.length === 0) {
      this.#log.debug('empty connection (a liveness check)');
      return;
    }
    const fd = state === undefined ? undefined : c.fds[state.seccompFdIndex];
    for (const x of c.fds) if (x !== fd) closeFd(x);
    if (state === undefined || fd === undefined || !isNotifyFd(fd)) {
      if (fd !== undefined) closeFd(fd);
      this.#log.warn({ bytes: c.bytes, fds: c.fds.length }, 'connection did not carry a container state and a seccomp notify fd; closed');
      return;
    }
    // A filter no task uses any more: the container ended before this connection was taken
    // (it waited in the backlog while this listener started). Nothing to serve or explain.
    if (((pollEvents([fd], [POLLIN], 0)?.[0] ?? 0) & (POLLHUP | POLLERR | POLLNVAL)) !== 0) {
      closeFd(fd);
      this.#log.debug({ containerId: state.state.id }, 'container filter has no tasks left; not attached');
      return;
    }
    const n = this.#attach(state.state.id, fd, this.#slots.alloc() ?? -1);
    this.#log.debug({ containerId: n.container.id, pid: state.pid, status: state.state.status, mode: n.container.table?.mode ?? 'fail-closed', fd, slot: n.slot }, 'attached to container filter');
    // The standby gets its copy before the first notification is answered.
    this.#toStandby({ t: 'fd', key: n.key, slot: n.slot, id: n.container.id }, [fd], n.key);
    this.#flushStandby();
  }

  /**
   * moatd asks the pair to exit while no container uses it. Accepted only when this loop holds
   * no notify fd, no runc connection is half-read, and none was held for `graceMs`: then the
   * socket file is removed, the answer sent, and the loop ends, telling the standby to exit.
   * moatd starts no container with notify rules until it has seen this process go, so
   * no runc connects to a listener that is leaving.
   */
  #answerIdleExit(fd: number, graceMs: number): void {
    const idleMs = Date.now() - this.#lastBusy;
    const busy = this.#notifiers.size > 0 || this.#conns.size > 0 || idleMs < graceMs || this.#done;
    if (!busy) this.#beginIdleExit();
    try {
      sendWithFds(fd, Buffer.from(busy ? IDLE_EXIT_BUSY : IDLE_EXIT_EXITING), []);
    } catch (err) {
      this.#log.warn({ err }, 'cannot answer an idle-exit request');
    }
    // A decline comes every few seconds while containers run: debug only.
    if (busy) this.#log.debug({ fds: this.#notifiers.size, connections: this.#conns.size, idleMs }, 'idle-exit request declined: the listener is in use');
    else this.#log.info({ idleMs }, 'no container uses the listener: exiting on moatd\'s request');
  }

  /** No new connection from here on; the standby is told to exit with the loop's end. */
  #beginIdleExit(): void {
    this.#closeListen();
    // The standby holds a copy of the socket: without its file, a connect fails at once.
    if (this.#o.socketPath !== undefined) {
      try {
        if (lstatSync(this.#o.socketPath).isSocket()) unlinkSync(this.#o.socketPath);
      } catch {
        // gone already
      }
    }
    this.#idleExit = true;
    this.#done = true;
  }

  #closeListen(): void {
    if (this.#listenClosed) return;
    this.#listenClosed = true;
    closeFd(this.#listenFd);
  }

  #container(id: string): ContainerState {
    let c = this.#containers.get(id);
    if (c === undefined) {
      const table = loadRuleTableSync(this.#o.stateDir, id);
      if (table === undefined) this.#log.warn({ containerId: id }, 'no valid rule table for the container; every notified syscall gets EPERM');
      c = {
        id,
        table,
        seq: undefined,
        syscallSeq: undefined,
        budget: new ContainerBudget(this.#limits),
        suppressed: 0,
        seen: new Set(),
        fds: 0,
        denials: new JsonlAppender(denialsPath(this.#o.stateDir, id)),
        syscalls: new JsonlAppender(syscallsPath(this.#o.stateDir, id)),
        throttled: false,
        throttleLogged: false,
      };
      this.#containers.set(id, c);
    }
    return c;
  }

  #attach(id: string, fd: number, slot: number): Notifier {
    const container = this.#container(id);
    container.fds += 1;
    const n: Notifier = { fd, key: this.#nextKey++, slot, container };
    this.#notifiers.set(fd, n);
    if (slot < 0) this.#log.warn({ containerId: id }, 'no free in-flight slot: a notification being answered when the listener dies cannot be recovered');
    return n;
  }

  #detach(n: Notifier, why: string): void {
    this.#notifiers.delete(n.fd);
    this.#forgetInOutbox(n.key);
    closeFd(n.fd);
    if (n.slot >= 0) this.#slots.release(n.slot);
    this.#toStandby({ t: 'drop', key: n.key }, []);
    const c = n.container;
    c.fds -= 1;
    this.#log.debug({ containerId: c.id, fd: n.fd, why }, 'detached from container filter');
    if (c.fds > 0) return;
    if (c.suppressed > 0) {
      const rec: DroppedRecord = { kind: 'dropped', seq: this.#nextSeq(c), time: new Date().toISOString(), containerId: c.id, count: c.suppressed };
      this.#write(c.denials, rec);
    }
    c.denials.close();
    c.syscalls.close();
    this.#containers.delete(c.id);
  }

  /** A restarted container goes on from the seq its files end at. */
  #nextSeq(c: ContainerState): number {
    c.seq = (c.seq ?? lastSeqSync(denialsPath(this.#o.stateDir, c.id))) + 1;
    return c.seq;
  }

  #nextSyscallSeq(c: ContainerState): number {
    c.syscallSeq = (c.syscallSeq ?? lastSeqSync(syscallsPath(this.#o.stateDir, c.id))) + 1;
    return c.syscallSeq;
  }

  #write(file: JsonlAppender, rec: unknown): void {
    try {
      file.append(rec);
    } catch (err) {
      file.close(); // reopened by the next record
      this.#log.error({ err, path: file.path }, 'cannot write a seccomp record');
    }
  }

  #serveOne(n: Notifier): void {
    const c = n.container;
    if (c.table?.mode !== 'record' && !c.budget.takeAnswer(performance.now(), this.#throttledCount)) return; // wait for a token
    const view = n.slot >= 0 ? this.#slots.view(n.slot) : this.#scratch;
    const e = n.slot >= 0 ? notifRecvAt(n.fd, this.#slots.address(n.slot), view) : notifRecv(n.fd, view);
    if (e === osConstants.errno.ENOENT) return; // the task left the syscall (signal) first
    if (e !== 0) {
      this.#detach(n, `NOTIF_RECV failed: ${e}`);
      return;
    }
    if (this.#o.killAfterRecv !== undefined && ++this.#recvCount >= this.#o.killAfterRecv) process.kill(process.pid, 'SIGKILL');
    this.#answer(n, decodeNotif(view));
  }

  /** Decides, answers and records one received notification. */
  #answer(n: Notifier, notif: SeccompNotif): void {
    const c = n.container;
    let d: Decision;
    try {
      c.table ??= loadRuleTableSync(this.#o.stateDir, c.id);
      d = decide(c.table, notif);
    } catch (err) {
      // Never leave a task parked in its syscall: answer, fail closed.
      this.#log.error({ err, containerId: c.id, nr: notif.nr }, 'cannot decide a notification; answering EPERM');
      d = { kind: 'deny', errno: FALLBACK_ERRNO, syscall: null, arch: null, rule: null, reason: 'internal-error' };
    }
    // Decide first whether a record will be written: /proc is read only then (a denial
    // loop past the budget costs just RECV + SEND).
    let key: string | undefined;
    let record: boolean;
    if (d.kind === 'continue') {
      key = recordKey(d.syscall, notif.nr, notif.args);
      record = !c.seen.has(key);
    } else {
      record = c.budget.takeRecord(performance.now(), d.syscall ?? `#${notif.nr}`);
      if (!record) c.suppressed += 1;
    }
    let task: TaskInfo = {};
    if (record) {
      task = readTask(notif.pid);
      // The pid is only meaningful while the task still waits in this notification.
      if (!notifIdValid(n.fd, notif.id)) task = {};
    }
    const resp = d.kind === 'deny' ? denyResp(notif.id, d.errno) : continueResp(notif.id);
    const sent = notifSend(n.fd, encodeResp(resp));
    if (sent !== 0 && sent !== osConstants.errno.ENOENT) this.#log.warn({ containerId: c.id, errno: sent }, 'NOTIF_SEND failed');
    if (!record) return;
    const now = new Date();
    if (d.kind === 'continue') {
      c.seen.add(key!);
      const rec: SyscallRecord = {
        kind: 'syscall',
        seq: this.#nextSyscallSeq(c),
        time: now.toISOString(),
        containerId: c.id,
        pid: notif.pid,
        ...(task.comm !== undefined ? { comm: task.comm } : {}),
        syscall: d.syscall,
        nr: notif.nr,
        arch: d.arch,
        args: notif.args.map(hex),
      };
      this.#write(c.syscalls, rec);
      return;
    }
    const rec = denialRecord({ containerId: c.id, seq: this.#nextSeq(c), now, notif, decision: d, task, suppressed: c.suppressed });
    c.suppressed = 0;
    this.#write(c.denials, rec);
  }

  // ---- the link to the standby (active side) --------------------------------------------

  #linkStandby(fd: number, pid: number): void {
    const sb: StandbyLink = { fd, pid, since: Date.now(), outbox: [] };
    this.#standby = sb;
    // Everything the standby needs to take over: the listening socket, then every fd. Queued
    // in the kernel at once, so they are safe even before the standby process has started.
    this.#toStandby({ t: 'hello', v: 1 }, [this.#listenFd]);
    for (const n of this.#notifiers.values()) this.#toStandby({ t: 'fd', key: n.key, slot: n.slot, id: n.container.id }, [n.fd], n.key);
    this.#flushStandby();
    this.#log.info({ standbyPid: pid, fds: this.#notifiers.size }, 'standby listener started');
  }

  /** The listener always keeps a standby (a new one after the last one died, with backoff). */
  #maybeStartStandby(): void {
    if (this.#o.spawner === undefined || this.#standby !== undefined || Date.now() < this.#standbyRetryAt) return;
    const sb = this.#o.spawner.spawn();
    if (sb === undefined) this.#standbyFailed();
    else this.#linkStandby(sb.fd, sb.pid);
  }

  #standbyFailed(): void {
    this.#standbyBackoffMs = Math.min(STANDBY_MAX_BACKOFF_MS, Math.max(1000, this.#standbyBackoffMs * 2));
    this.#standbyRetryAt = Date.now() + this.#standbyBackoffMs;
    this.#log.warn({ retryInMs: this.#standbyBackoffMs }, 'standby listener is not running: if this listener dies, running containers get ENOSYS for blocked syscalls');
  }

  #toStandby(m: HandoffMessage, fds: readonly number[], key?: number): void {
    this.#standby?.outbox.push({ data: encodeHandoff(m), fds, ...(key !== undefined ? { key } : {}) });
  }

  /** A detached fd's pending message would send a closed (or reused) fd number. */
  #forgetInOutbox(key: number): void {
    const sb = this.#standby;
    if (sb === undefined) return;
    for (let i = sb.outbox.length - 1; i >= 0; i--) if (sb.outbox[i]!.key === key) sb.outbox.splice(i, 1);
  }

  #flushStandby(): void {
    const sb = this.#standby;
    if (sb === undefined) return;
    try {
      while (sb.outbox.length > 0) {
        const m = sb.outbox[0]!;
        if (sendWithFds(sb.fd, m.data, m.fds) === 'again') return;
        sb.outbox.shift();
      }
    } catch (err) {
      this.#loseStandby(`send failed: ${(err as Error).message}`);
    }
  }

  #standbyEvent(ev: number): void {
    if (ev & (POLLHUP | POLLERR | POLLNVAL | POLLIN)) {
      // The standby never writes: readable means it hung up.
      this.#loseStandby('its link closed');
      return;
    }
  }

  #loseStandby(why: string): void {
    const sb = this.#standby;
    if (sb === undefined) return;
    this.#standby = undefined;
    closeFd(sb.fd);
    const lived = Date.now() - sb.since;
    if (lived >= STANDBY_MIN_LIFE_MS) {
      this.#standbyBackoffMs = 0;
      this.#standbyRetryAt = 0;
      this.#log.warn({ standbyPid: sb.pid, why }, 'standby listener gone; starting another');
    } else {
      this.#standbyFailed();
    }
  }

  /** A deliberate stop: the standby must not take over. Best effort (the link may be full or gone). */
  #stopStandby(): void {
    const sb = this.#standby;
    if (sb === undefined) return;
    sb.outbox.length = 0;
    const until = Date.now() + 500;
    try {
      while (sendWithFds(sb.fd, encodeHandoff({ t: 'stop' }), []) === 'again' && Date.now() < until) pause(5);
    } catch {
      // gone already
    }
  }

  // ---- after a takeover -----------------------------------------------------------------

  /** Serves the fds a standby kept, and first what the dead listener received but never answered. */
  #adopt(adopt: readonly AdoptedFd[]): void {
    const started = Date.now();
    const attached: Notifier[] = [];
    for (const h of adopt) {
      const slot = this.#slots.claim(h.slot) ? h.slot : (this.#slots.alloc() ?? -1);
      attached.push(this.#attach(h.id, h.fd, slot));
    }
    let recovered = 0;
    for (const n of attached) {
      if (n.slot < 0) continue;
      const notif = decodeNotif(this.#slots.view(n.slot));
      // Received by the dead listener and not answered: the task still waits for it.
      if (notif.id === 0n || !notifIdValid(n.fd, notif.id)) continue;
      try {
        this.#answer(n, notif);
        recovered += 1;
      } catch (err) {
        this.#log.error({ err, containerId: n.container.id }, 'cannot answer a recovered notification');
      }
    }
    this.#log.warn({ ms: Date.now() - started, fds: attached.length, containers: this.#containers.size, recovered }, 'took over from the listener that died: running containers keep their answers');
  }

  // ---- both -----------------------------------------------------------------------------

  /** True while `listener.lock` in the state dir is still the file we opened. */
  #sameLockFile(): boolean {
    try {
      const a = fstatSync(this.#o.lockFd);
      const b = statSync(lockPath(this.#o.stateDir));
      return a.ino === b.ino && a.dev === b.dev;
    } catch {
      return false;
    }
  }

  /**
   * A listener whose state directory was removed (tests, uninstall) serves nobody new: it
   * exits once it holds no container filter. Keeps a taken-over pair from outliving its
   * directory.
   */
  #checkOrphaned(): void {
    if (this.#notifiers.size > 0 || this.#conns.size > 0) return;
    if (!this.#sameLockFile()) {
      this.#log.info('state directory gone and no container filter held; exiting');
      this.#done = true;
      return;
    }
    // Only moatd asks an idle pair to exit: with moatd gone (killed, or stopped while
    // containers held the pair) the pair goes on its own once idle.
    if (Date.now() - this.#lastBusy >= DAEMON_GONE_GRACE_MS && this.#daemonGone()) {
      this.#log.info({ idleMs: Date.now() - this.#lastBusy }, 'moatd is gone and no container uses the listener: exiting');
      this.#beginIdleExit();
    }
  }

  /**
   * True when no moatd holds its shared lock on the state dir's daemon.lock. The lock is then
   * kept (released at exit), so a moatd starting meanwhile waits for this pair to go rather
   * than find it. A missing file (a moatd from before the lock) says nothing: false.
   */
  #daemonGone(): boolean {
    if (this.#daemonLockFd !== undefined) return true;
    let fd: number;
    try {
      fd = openSync(daemonLockPath(this.#o.stateDir), fsConstants.O_RDWR | fsConstants.O_NOFOLLOW);
    } catch {
      return false;
    }
    try {
      if (tryLockExclusive(fd)) {
        this.#daemonLockFd = fd;
        return true;
      }
    } catch {
      // flock refused: say nothing.
    }
    closeSync(fd);
    return false;
  }

  #closeAll(): void {
    // The link goes first, with nothing more sent: after a crash the standby must keep its copies.
    if (this.#standby !== undefined) closeFd(this.#standby.fd);
    this.#standby = undefined;
    for (const c of [...this.#conns.values()]) this.#dropConn(c);
    for (const n of [...this.#notifiers.values()]) this.#detach(n, 'listener stopping');
    this.#closeListen();
  }
}
