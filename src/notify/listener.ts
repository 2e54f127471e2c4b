// The serving loop of moat-seccomp-listener (host). It runs in a worker thread, because
// every call here blocks (poll, ioctl): the main thread stays free for signals.
//
// One poll(2) over: the listening socket, connections from runc still sending their state
// message, and every container's notify fd. For each connection runc makes (one per
// `runc create`/`run`, and one per `runc exec`: each loads its own filter), the listener
// reads the state JSON and the notify fd (SCM_RIGHTS), loads `<id>.rules.json`, then answers
// each notification on that fd. A notify fd reports POLLHUP when no task uses its filter any
// more (the container and its execs exited): then it is closed and forgotten.
//
// Order for one notification: RECV, decide, then (only when a record will be written) read
// /proc/<pid>/status while the task still waits in the syscall and check ID_VALID (the pid
// was not reused meanwhile), SEND the answer, then write the record. The answer never waits
// for the disk. Any failure after RECV still answers (EPERM): a task is never left parked.
import { readFileSync, readlinkSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createLogger, type Logger } from '../base/index.js';
import { decodeNotif, encodeResp, denyResp, continueResp, tryParseProcessState, SECCOMP_NOTIF_SIZE } from './structs.js';
import { decide, denialRecord, FALLBACK_ERRNO, type Decision, parseTaskStatus, recordKey, RecordBudget, hex, type RuleTable, type TaskInfo, type SyscallRecord, type DroppedRecord } from './policy.js';
import { JsonlAppender, denialsPath, syscallsPath, lastSeqSync, loadRuleTableSync } from './files.js';
import { acceptConn, closeFd, notifIdValid, notifRecv, notifSend, peerCred, pollFds, recvWithFds, POLLERR, POLLHUP, POLLIN, POLLNVAL } from './kernel.js';

export const LISTENER_WORKER_TAG = 'moat-seccomp-listener';

export interface ListenerWorkerData {
  readonly tag: typeof LISTENER_WORKER_TAG;
  /** The bound, listening socket (made by the main thread). */
  readonly listenFd: number;
  readonly stateDir: string;
  /** [0] = 1 asks the loop to stop. */
  readonly stop: SharedArrayBuffer;
  readonly logLevel: 'debug' | 'info' | 'warn';
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
  seq: number;
  syscallSeq: number;
  readonly budget: RecordBudget;
  suppressed: number;
  readonly seen: Set<string>;
  fds: number;
  denials: JsonlAppender;
  syscalls: JsonlAppender;
}

interface Notifier {
  readonly fd: number;
  readonly container: ContainerState;
  /** Loaded at attach; retried per notification while missing (a late writer). */
  table: RuleTable | undefined;
}

const CONN_TIMEOUT_MS = 5000;
const MAX_STATE_BYTES = 1024 * 1024;
const POLL_MS = 250;

function readTask(pid: number): TaskInfo {
  try {
    return parseTaskStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return {};
  }
}

/** True when `fd` is a seccomp notify fd (`anon_inode:seccomp notify`), not whatever a peer sent. */
function isNotifyFd(fd: number): boolean {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:seccomp notify';
  } catch {
    return false;
  }
}

const pauseCell = new Int32Array(new SharedArrayBuffer(4));
/** Sleeps the worker thread (it has no event loop work to do meanwhile). */
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

export class ListenerLoop {
  readonly #conns = new Map<number, Conn>();
  readonly #notifiers = new Map<number, Notifier>();
  readonly #containers = new Map<string, ContainerState>();
  readonly #notif = Buffer.alloc(SECCOMP_NOTIF_SIZE);
  readonly #uid = process.getuid?.() ?? 0;

  constructor(
    readonly listenFd: number,
    readonly stateDir: string,
    readonly log: Logger,
  ) {}

  /** Runs until `stop[0]` becomes 1; then closes every fd it holds (containers then get ENOSYS). */
  run(stop: Int32Array): void {
    try {
      while (Atomics.load(stop, 0) === 0) this.step(POLL_MS);
    } finally {
      for (const c of this.#conns.values()) this.#dropConn(c);
      for (const n of [...this.#notifiers.values()]) this.#detach(n, 'listener stopping');
      closeFd(this.listenFd);
    }
  }

  /** One poll round. */
  step(timeoutMs: number): void {
    const fds = [this.listenFd, ...this.#conns.keys(), ...this.#notifiers.keys()];
    const revents = pollFds(fds, timeoutMs);
    if (revents === undefined) return;
    fds.forEach((fd, i) => {
      const ev = revents[i] ?? 0;
      if (ev === 0) return;
      // One bad fd must not end the loop: that would turn every container's notified
      // syscalls into ENOSYS.
      try {
        if (fd === this.listenFd) this.#acceptAll();
        else if (this.#conns.has(fd)) this.#readConn(this.#conns.get(fd)!);
        else {
          const n = this.#notifiers.get(fd);
          if (n === undefined) return;
          if (ev & POLLIN) this.#serveOne(n);
          else if (ev & (POLLHUP | POLLERR | POLLNVAL)) this.#detach(n, 'filter has no tasks left');
        }
      } catch (err) {
        this.log.error({ err, fd }, 'seccomp listener step failed');
        if (fd === this.listenFd) pause(100); // e.g. EMFILE: do not spin
      }
    });
    const now = Date.now();
    for (const c of [...this.#conns.values()]) {
      if (now > c.deadline) {
        this.log.warn({ fd: c.fd }, 'runc connection sent no complete state message in time; closed');
        this.#dropConn(c);
      }
    }
  }

  #acceptAll(): void {
    for (;;) {
      const fd = acceptConn(this.listenFd);
      if (fd < 0) return;
      const cred = peerCred(fd);
      if (cred === undefined || cred.uid !== this.#uid) {
        this.log.warn({ peer: cred }, 'refused a connection from another user');
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
        this.log.warn({ err }, 'reading a runc connection failed');
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
        this.log.warn({ bytes: c.bytes, truncated: r.truncated }, 'runc connection sent too much; closed');
        this.#dropConn(c);
        return;
      }
    }
    const text = Buffer.concat(c.chunks).toString('utf8');
    if (!eof && !isCompleteJson(text)) return; // more to come
    const state = tryParseProcessState(text);
    this.#conns.delete(c.fd);
    closeFd(c.fd);
    if (c.bytes === 0 && c.fds.length === 0) {
      this.log.debug('empty connection (a liveness check)');
      return;
    }
    const fd = state === undefined ? undefined : c.fds[state.seccompFdIndex];
    for (const x of c.fds) if (x !== fd) closeFd(x);
    if (state === undefined || fd === undefined || !isNotifyFd(fd)) {
      if (fd !== undefined) closeFd(fd);
      this.log.warn({ bytes: c.bytes, fds: c.fds.length }, 'connection did not carry a container state and a seccomp notify fd; closed');
      return;
    }
    this.#attach(state.state.id, state.pid, state.state.status, fd);
  }

  #attach(id: string, pid: number, status: string, fd: number): void {
    const table = loadRuleTableSync(this.stateDir, id);
    if (table === undefined) this.log.warn({ containerId: id }, 'no valid rule table for the container; every notified syscall gets EPERM');
    let container = this.#containers.get(id);
    if (container === undefined) {
      container = { id, seq: lastSeqSync(denialsPath(this.stateDir, id)), syscallSeq: lastSeqSync(syscallsPath(this.stateDir, id)), budget: new RecordBudget(), suppressed: 0, seen: new Set(), fds: 0, denials: new JsonlAppender(denialsPath(this.stateDir, id)), syscalls: new JsonlAppender(syscallsPath(this.stateDir, id)) };
      this.#containers.set(id, container);
    }
    container.fds += 1;
    this.#notifiers.set(fd, { fd, container, table });
    this.log.debug({ containerId: id, pid, status, mode: table?.mode ?? 'fail-closed', fd }, 'attached to container filter');
  }

  #detach(n: Notifier, why: string): void {
    this.#notifiers.delete(n.fd);
    closeFd(n.fd);
    const c = n.container;
    c.fds -= 1;
    this.log.debug({ containerId: c.id, fd: n.fd, why }, 'detached from container filter');
    if (c.fds > 0) return;
    if (c.suppressed > 0) {
      const rec: DroppedRecord = { kind: 'dropped', seq: ++c.seq, time: new Date().toISOString(), containerId: c.id, count: c.suppressed };
      this.#write(c.denials, rec);
    }
    c.denials.close();
    c.syscalls.close();
    this.#containers.delete(c.id);
  }

  #write(file: JsonlAppender, rec: unknown): void {
    try {
      file.append(rec);
    } catch (err) {
      file.close(); // reopened by the next record
      this.log.error({ err, path: file.path }, 'cannot write a seccomp record');
    }
  }

  #serveOne(n: Notifier): void {
    const e = notifRecv(n.fd, this.#notif);
    if (e === osConstants.errno.ENOENT) return; // the task left the syscall (signal) first
    if (e !== 0) {
      this.#detach(n, `NOTIF_RECV failed: ${e}`);
      return;
    }
    const notif = decodeNotif(this.#notif);
    let d: Decision;
    try {
      n.table ??= loadRuleTableSync(this.stateDir, n.container.id);
      d = decide(n.table, notif);
    } catch (err) {
      // Never leave a task parked in its syscall: answer, fail closed.
      this.log.error({ err, containerId: n.container.id, nr: notif.nr }, 'cannot decide a notification; answering EPERM');
      d = { kind: 'deny', errno: FALLBACK_ERRNO, syscall: null, arch: null, rule: null, reason: 'internal-error' };
    }
    const c = n.container;
    const now = new Date();
    // Decide first whether a record will be written: /proc is read only then (a denial
    // loop past the budget costs just RECV + SEND).
    let key: string | undefined;
    let record: boolean;
    if (d.kind === 'continue') {
      key = recordKey(d.syscall, notif.nr, notif.args);
      record = !c.seen.has(key);
    } else {
      record = c.budget.take(now.getTime());
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
    if (sent !== 0 && sent !== osConstants.errno.ENOENT) this.log.warn({ containerId: c.id, errno: sent }, 'NOTIF_SEND failed');
    if (!record) return;
    if (d.kind === 'continue') {
      c.seen.add(key!);
      const rec: SyscallRecord = {
        kind: 'syscall',
        seq: ++c.syscallSeq,
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
    const rec = denialRecord({ containerId: c.id, seq: ++c.seq, now, notif, decision: d, task, suppressed: c.suppressed });
    c.suppressed = 0;
    this.#write(c.denials, rec);
  }
}

if (!isMainThread && parentPort && (workerData as Partial<ListenerWorkerData> | undefined)?.tag === LISTENER_WORKER_TAG) {
  const data = workerData as ListenerWorkerData;
  const log = createLogger(data.logLevel).child({ component: 'seccomp-listener' });
  try {
    new ListenerLoop(data.listenFd, data.stateDir, log).run(new Int32Array(data.stop));
  } catch (err) {
    log.fatal({ err }, 'listener loop failed');
    throw err;
  }
}
