// The listener's files under its state dir (host side). One writer per file (the listener
// process), any number of readers (moatd, `moat seccomp record`).
//
//   <state-dir>/listener.pid          pid of the running (active) listener
//   <state-dir>/listener.lock         flock(2)ed by the running listener
//   <state-dir>/listener.log          its and its standby's stdout/stderr (JSON lines)
//   <state-dir>/standby.pid           pid of the standby that holds copies of the notify fds
//   <state-dir>/listener.inflight     one 80-byte slot per notify fd: the notification being answered
//   <state-dir>/<id>.rules.json       written by moatd before `runc create` (RuleTable)
//   <state-dir>/<id>.denials.jsonl    DenialLine per line, rotated to .1 at 1 MiB
//   <state-dir>/<id>.syscalls.jsonl   SyscallRecord per line (record mode), same rotation
import { openSync, readSync, writeSync, closeSync, fstatSync, renameSync, readFileSync, rmSync, statSync, readdirSync, constants as fsConstants, watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { replaceFileAtomic } from '../base/index.js';
import type { NotifyRule, SeccompArch, LinuxSeccomp } from '../seccomp/index.js';
import { isSafeContainerId } from './structs.js';
import { planRuleTable, tryParseRuleTable, type DenialLine, type RuleTable, type SyscallRecord } from './policy.js';

/** Rotation size of the jsonl files: at most twice this per container and kind. */
export const RECORDS_MAX_BYTES = 1024 * 1024;

function checkedId(id: string): string {
  if (!isSafeContainerId(id)) throw new Error(`Invalid container id for seccomp state: ${JSON.stringify(id)}`);
  return id;
}

export const rulesPath = (stateDir: string, id: string): string => join(stateDir, `${checkedId(id)}.rules.json`);
export const denialsPath = (stateDir: string, id: string): string => join(stateDir, `${checkedId(id)}.denials.jsonl`);
export const syscallsPath = (stateDir: string, id: string): string => join(stateDir, `${checkedId(id)}.syscalls.jsonl`);
// The process files live in paths.ts: the standby imports that alone (issue 18).
export { pidPath, lockPath, daemonLockPath, logPath, standbyPidPath, inflightPath, writePidFileSync, readPidFileSync } from './paths.js';

/**
 * Writes `<state-dir>/<id>.rules.json` atomically (moatd, before `runc create`).
 * `rules` is toNotifyProfile's `table`; `seccomp` its converted section (optional, lets
 * records name the exact rule when several share a syscall); `mode: 'record'` makes the
 * listener let every notified call run and record it instead.
 *
 * @example
 * const { seccomp, table } = toNotifyProfile(resolved.seccomp, socket, { comments });
 * await writeRuleTable(stateDir, id, { rules: table, arch: 'SCMP_ARCH_X86_64', seccomp });
 */
/** The last table's text per rule list: moatd hands most containers the same (cached) objects. */
const tableText = new WeakMap<readonly NotifyRule[], { seccomp: LinuxSeccomp | undefined; arch: SeccompArch; mode: string | undefined; text: string }>();

function ruleTableText(table: { rules: readonly NotifyRule[]; arch: SeccompArch; seccomp?: LinuxSeccomp; mode?: 'enforce' | 'record' }): string {
  const hit = tableText.get(table.rules);
  if (hit !== undefined && hit.seccomp === table.seccomp && hit.arch === table.arch && hit.mode === table.mode) return hit.text;
  const text = JSON.stringify(planRuleTable(table), null, 2) + '\n';
  tableText.set(table.rules, { seccomp: table.seccomp, arch: table.arch, mode: table.mode, text });
  return text;
}

export async function writeRuleTable(stateDir: string, containerId: string, table: { rules: readonly NotifyRule[]; arch: SeccompArch; seccomp?: LinuxSeccomp; mode?: 'enforce' | 'record' }): Promise<void> {
  // Written again at every create: no fsync (replaceFileAtomic says why). The text is
  // made once per rule list (~0.5 ms of moatd's main thread on a start's path).
  await replaceFileAtomic(rulesPath(stateDir, containerId), ruleTableText(table), 0o600);
}

/** Parsed tables by file text: most containers share moatd's default table, text for text. */
const parsedTables = new Map<string, RuleTable>();
const PARSED_TABLES_MAX = 16;

/** Reads a container's rule table synchronously (the listener, at connect time); undefined if missing or invalid. */
export function loadRuleTableSync(stateDir: string, containerId: string): RuleTable | undefined {
  let text: string;
  try {
    text = readFileSync(rulesPath(stateDir, containerId), 'utf8');
  } catch {
    return undefined;
  }
  const known = parsedTables.get(text);
  if (known !== undefined) return known;
  let table: RuleTable | undefined;
  try {
    table = tryParseRuleTable(JSON.parse(text));
  } catch {
    return undefined;
  }
  if (table === undefined) return undefined;
  // Tables are read-only; the oldest goes when the cache is full.
  if (parsedTables.size >= PARSED_TABLES_MAX) parsedTables.delete(parsedTables.keys().next().value!);
  parsedTables.set(text, table);
  return table;
}

/**
 * Appends JSON lines to one file, rotating it to `<file>.1` past `maxBytes`. Opened with
 * O_APPEND | O_NOFOLLOW per write, so a rename or removal by a reader is harmless.
 */
export function appendJsonLineSync(path: string, value: unknown, maxBytes = RECORDS_MAX_BYTES): void {
  const line = Buffer.from(JSON.stringify(value) + '\n');
  let fd = openSync(path, fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW, 0o600);
  try {
    const size = fstatSync(fd).size;
    if (size > 0 && size + line.length > maxBytes) {
      closeSync(fd);
      fd = -1;
      renameSync(path, `${path}.1`);
      fd = openSync(path, fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW, 0o600);
    }
    writeSync(fd, line);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/**
 * Keeps one jsonl file open for appending (the listener's writer per container): one
 * write(2) per record instead of open + fstat + write + close. Rotates like
 * {@link appendJsonLineSync}.
 */
export class JsonlAppender {
  #fd = -1;
  #size = 0;
  constructor(
    readonly path: string,
    readonly maxBytes = RECORDS_MAX_BYTES,
  ) {}

  append(value: unknown): void {
    const line = Buffer.from(JSON.stringify(value) + '\n');
    if (this.#fd < 0) this.#open();
    if (this.#size > 0 && this.#size + line.length > this.maxBytes) {
      this.close();
      renameSync(this.path, `${this.path}.1`);
      this.#open();
    }
    writeSync(this.#fd, line);
    this.#size += line.length;
  }

  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }

  #open(): void {
    this.#fd = openSync(this.path, fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW, 0o600);
    this.#size = fstatSync(this.#fd).size;
  }
}

function parseLines<T>(text: string): T[] {
  const out: T[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      // a torn last line (the writer is mid-write): skip it
    }
  }
  return out;
}

function readLinesSync<T>(path: string): T[] {
  let text = '';
  for (const p of [`${path}.1`, path]) {
    try {
      text += readFileSync(p, 'utf8');
    } catch {
      // missing
    }
  }
  return parseLines<T>(text);
}

/** The highest `seq` written to a jsonl file and its rotation (0 when none). */
export function lastSeqSync(path: string): number {
  let max = 0;
  for (const r of readLinesSync<{ seq?: number }>(path)) if (typeof r.seq === 'number' && r.seq > max) max = r.seq;
  return max;
}

/**
 * A container's denial records, oldest first (the rotated file, then the current one).
 * `last` keeps the newest n; `sinceSeq` only those with a larger seq.
 *
 * @example
 * const recent = await readDenials(stateDir, id, { last: 20 });
 */
export async function readDenials(stateDir: string, containerId: string, opts: { last?: number; sinceSeq?: number } = {}): Promise<DenialLine[]> {
  return await readJsonl<DenialLine>(denialsPath(stateDir, containerId), opts);
}

/**
 * Record mode: the syscalls a container made (first call of each), oldest first.
 *
 * @example
 * const seen = await readSyscalls(stateDir, id); // [{ syscall: 'execve', … }, …]
 */
export async function readSyscalls(stateDir: string, containerId: string, opts: { last?: number; sinceSeq?: number } = {}): Promise<SyscallRecord[]> {
  return await readJsonl<SyscallRecord>(syscallsPath(stateDir, containerId), opts);
}

async function readJsonl<T extends { seq: number }>(path: string, opts: { last?: number; sinceSeq?: number }): Promise<T[]> {
  let text = '';
  for (const p of [`${path}.1`, path]) {
    try {
      text += await readFile(p, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  let out = parseLines<T>(text);
  if (opts.sinceSeq !== undefined) out = out.filter((r) => r.seq > (opts.sinceSeq ?? 0));
  if (opts.last !== undefined) out = out.slice(Math.max(0, out.length - opts.last));
  return out;
}

/**
 * Removes every file of a container (rules, denials, syscalls and their rotations); for
 * `docker rm`. Safe to call twice.
 *
 * @example
 * await removeContainerState(stateDir, id);
 */
export async function removeContainerState(stateDir: string, containerId: string): Promise<void> {
  // Six unlinks (most of the names missing) in the listener's state dir, under moatd's exec
  // root: synchronous, microseconds each, where each was a thread-pool round trip on the way
  // to a removal's answer.
  const files = [rulesPath(stateDir, containerId), denialsPath(stateDir, containerId), syscallsPath(stateDir, containerId)];
  for (const p of files) {
    rmSync(p, { force: true });
    rmSync(`${p}.1`, { force: true });
  }
}

/** A running {@link followDenials}. */
export interface DenialFollower {
  /** Scans now (also done on every change and every `intervalMs`). */
  poll(): void;
  close(): void;
}

interface Tail {
  ino: number;
  offset: number;
  lastSeq: number;
  partial: string;
}

const SUFFIX = '.denials.jsonl';

/**
 * Follows the denial files of every container in `stateDir` and calls `onRecord` once per
 * new line, in order per container (for moatd's `docker events`). Starts at the end of the
 * existing files unless `fromStart`. Survives rotation and removal. Errors go to `onError`.
 *
 * @example
 * const f = followDenials(stateDir, { onRecord: (r) => { if (r.kind === 'denial') events.emit(denialEvent(r)); } });
 * // on shutdown: f.close();
 */
export function followDenials(stateDir: string, opts: { onRecord: (r: DenialLine) => void; onError?: (err: unknown) => void; fromStart?: boolean; intervalMs?: number }): DenialFollower {
  const tails = new Map<string, Tail>();
  let closed = false;
  let first = true;

  const readFrom = (path: string, offset: number): string => {
    let fd: number;
    try {
      fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    } catch {
      return '';
    }
    try {
      const size = fstatSync(fd).size;
      if (size <= offset) return '';
      const buf = Buffer.alloc(size - offset);
      let got = 0;
      while (got < buf.length) {
        const n = readSyncAt(fd, buf, got, offset + got);
        if (n <= 0) break;
        got += n;
      }
      return buf.subarray(0, got).toString('utf8');
    } finally {
      closeSync(fd);
    }
  };

  const deliver = (tail: Tail, text: string): void => {
    const all = tail.partial + text;
    const cut = all.lastIndexOf('\n');
    tail.partial = cut < 0 ? all : all.slice(cut + 1);
    if (cut < 0) return;
    for (const r of parseLines<DenialLine>(all.slice(0, cut))) {
      if (typeof r.seq !== 'number' || r.seq <= tail.lastSeq) continue;
      tail.lastSeq = r.seq;
      try {
        opts.onRecord(r);
      } catch (err) {
        opts.onError?.(err);
      }
    }
  };

  let watcher: FSWatcher | undefined;
  const ensureWatch = (): void => {
    if (watcher !== undefined || closed) return;
    try {
      watcher = watch(stateDir, { persistent: false }, () => scan());
      watcher.on('error', () => {
        watcher?.close();
        watcher = undefined; // the dir went away: the interval re-arms it
      });
    } catch {
      // no dir yet, or no inotify: the interval alone
    }
  };

  const scan = (): void => {
    if (closed) return;
    let names: string[];
    try {
      names = readdirSync(stateDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') opts.onError?.(err);
      first = false; // files that appear later are new: read them from the start
      return;
    }
    ensureWatch();
    try {
      const seen = new Set<string>();
      for (const name of names) {
        if (!name.endsWith(SUFFIX)) continue;
        const path = join(stateDir, name);
        seen.add(path);
        let st;
        try {
          st = statSync(path);
        } catch {
          continue;
        }
        let tail = tails.get(path);
        if (tail === undefined) {
          tail = { ino: st.ino, offset: 0, lastSeq: 0, partial: '' };
          tails.set(path, tail);
          if (first && opts.fromStart !== true) {
            tail.offset = st.size;
            tail.lastSeq = lastSeqSync(path);
            continue;
          }
        }
        if (st.ino !== tail.ino) {
          // rotated: finish the old file (now <path>.1), then start the new one
          try {
            if (statSync(`${path}.1`).ino === tail.ino) deliver(tail, readFrom(`${path}.1`, tail.offset));
          } catch {
            // the rotation is gone too
          }
          tail.ino = st.ino;
          tail.offset = 0;
          tail.partial = '';
        }
        if (st.size > tail.offset) {
          const text = readFrom(path, tail.offset);
          tail.offset += Buffer.byteLength(text);
          deliver(tail, text);
        } else if (st.size < tail.offset) {
          tail.offset = 0; // truncated by someone else
          tail.partial = '';
        }
      }
      for (const p of tails.keys()) if (!seen.has(p)) tails.delete(p);
    } catch (err) {
      opts.onError?.(err);
    }
    first = false;
  };

  const timer = setInterval(scan, opts.intervalMs ?? 1000);
  timer.unref();
  scan();
  return {
    poll: scan,
    close() {
      closed = true;
      clearInterval(timer);
      watcher?.close();
    },
  };
}

function readSyncAt(fd: number, buf: Buffer, off: number, position: number): number {
  return readSync(fd, buf, off, buf.length - off, position);
}
