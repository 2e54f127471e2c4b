// Reading conmon's k8s-file log: `<RFC3339Nano> <stdout|stderr> <F|P> <content>` per line,
// where P marks a partial line (no newline yet).
//
// Every read streams with bounded memory, whatever the log's size: `--tail N` scans
// backwards from the end only to find where the last N entries start (counting, keeping no
// data), then everything is read forwards in chunks, and the caller's sink can push back
// (a slow client pauses the read) or stop it (the client went away).
import type { FileHandle } from 'node:fs/promises';

export interface LogEntry {
  /** RFC3339Nano as conmon wrote it. */
  readonly time: string;
  /** Nanoseconds since the epoch, for since/until. */
  readonly timeNs: bigint;
  readonly stream: 'stdout' | 'stderr';
  /** The output: the content and, unless the line is partial, its newline. */
  readonly data: Buffer;
  /** The content alone (a view into the read buffer, valid while the entry is). */
  readonly content: Buffer;
  /** conmon's P tag: the line goes on in the next entry. */
  readonly partial: boolean;
}

// Seconds-resolution prefixes repeat line after line: parse each once.
let lastPrefix = '';
let lastPrefixMs = 0;

export function rfc3339ToNs(ts: string): bigint {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) return 0n;
  const prefix = `${m[1]}${m[3]}`;
  if (prefix !== lastPrefix) {
    const ms = Date.parse(prefix);
    if (Number.isNaN(ms)) return 0n;
    lastPrefix = prefix;
    lastPrefixMs = ms;
  }
  const frac = (m[2] ?? '').padEnd(9, '0').slice(0, 9);
  return BigInt(lastPrefixMs) * 1_000_000n + BigInt(frac);
}

const NL = Buffer.from('\n');

/**
 * One parsed line. Fields other than the stream are computed when first read: a plain
 * `docker logs` of a big log never parses a timestamp.
 */
class LogLine implements LogEntry {
  readonly #line: Buffer;
  readonly #s1: number;
  readonly #s3: number;
  readonly stream: 'stdout' | 'stderr';
  readonly partial: boolean;
  #time: string | undefined;
  #timeNs: bigint | undefined;
  constructor(line: Buffer, s1: number, s2: number, s3: number) {
    this.#line = line;
    this.#s1 = s1;
    this.#s3 = s3;
    // "stdout" / "stderr": the fourth letter tells them apart.
    this.stream = s2 - s1 === 7 && line[s1 + 4] === 0x65 ? 'stderr' : 'stdout';
    this.partial = line[s2 + 1] === 0x50;
  }
  get time(): string {
    return (this.#time ??= this.#line.toString('latin1', 0, this.#s1));
  }
  get timeNs(): bigint {
    return (this.#timeNs ??= rfc3339ToNs(this.time));
  }
  get content(): Buffer {
    return this.#line.subarray(this.#s3 + 1);
  }
  get data(): Buffer {
    return this.partial ? Buffer.from(this.content) : Buffer.concat([this.content, NL]);
  }
}

/** One line without its newline -> entry, or undefined for a line that is not a log entry. */
function parseLine(line: Buffer): LogEntry | undefined {
  const s1 = line.indexOf(0x20);
  if (s1 < 0) return undefined;
  const s2 = line.indexOf(0x20, s1 + 1);
  if (s2 < 0) return undefined;
  const s3 = line.indexOf(0x20, s2 + 1);
  if (s3 < 0) return undefined;
  return new LogLine(line, s1, s2, s3);
}

/** Parse complete lines of a k8s-file log; returns entries and the unparsed remainder. */
export function parseLogText(text: Buffer): { entries: LogEntry[]; rest: Buffer } {
  const entries: LogEntry[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf(0x0a, start);
    if (nl < 0) break;
    const e = parseLine(text.subarray(start, nl));
    start = nl + 1;
    if (e) entries.push(e);
  }
  return { entries, rest: Buffer.from(text.subarray(start)) };
}

export interface LogQuery {
  stdout: boolean;
  stderr: boolean;
  sinceNs?: bigint;
  untilNs?: bigint;
  /** Number of entries from the end; undefined for all. */
  tail?: number;
}

const matches = (e: Pick<LogEntry, 'stream' | 'timeNs'>, q: LogQuery): boolean =>
  (e.stream === 'stdout' ? q.stdout : q.stderr) && (q.sinceNs === undefined || e.timeNs >= q.sinceNs) && (q.untilNs === undefined || e.timeNs <= q.untilNs);

/** Apply stream, time and tail filters to entries in memory. Pure. */
export function selectEntries(entries: readonly LogEntry[], q: LogQuery): LogEntry[] {
  let out = entries.filter((e) => matches(e, q));
  if (q.tail !== undefined) out = q.tail <= 0 ? [] : out.slice(-q.tail);
  return out;
}

/** Bytes read per step, forwards and backwards. */
const CHUNK = 64 * 1024;
/**
 * A "line" longer than this is not conmon's (it splits lines at 8 KiB into P entries): it is
 * dropped rather than held, so a corrupt file cannot make a reader grow.
 */
const MAX_LINE = 1024 * 1024;

/** A readable log file: its handle and where reading starts. */
export interface LogFileRef {
  readonly fh: FileHandle;
  readonly ino: number;
}

/** Where in a list of files a read starts: file index and byte offset. */
export interface LogPosition {
  file: number;
  offset: number;
}

/** Header fields of a line, enough to filter it (no copy of the content). */
function lineHeader(line: Buffer): { stream: 'stdout' | 'stderr'; timeNs: bigint } | undefined {
  const s1 = line.indexOf(0x20);
  const s2 = line.indexOf(0x20, s1 + 1);
  if (s1 < 0 || s2 < 0) return undefined;
  const stream = line.subarray(s1 + 1, s2).toString('latin1') === 'stderr' ? 'stderr' : 'stdout';
  return { stream, timeNs: rfc3339ToNs(line.subarray(0, s1).toString('latin1')) };
}

/**
 * Where the last `q.tail` matching entries begin, found by reading backwards from the end of
 * the last file: memory is one chunk plus one line, whatever the log's size.
 */
export async function findTailStart(files: readonly LogFileRef[], o: { query: LogQuery; signal?: AbortSignal }): Promise<LogPosition> {
  const q = o.query;
  const signal = o.signal;
  const want = q.tail ?? 0;
  if (q.tail === undefined) return { file: 0, offset: 0 };
  if (want <= 0) return { file: files.length, offset: 0 };
  let found = 0;
  for (let f = files.length - 1; f >= 0; f--) {
    const fh = files[f]!.fh;
    let end = (await fh.stat()).size;
    // Bytes of the file from `end` up to the next newline already seen (a line in pieces).
    let carry = Buffer.alloc(0);
    let tailPartial = true; // the file's last bytes may be a line without its newline yet
    while (end > 0) {
      if (signal?.aborted) return { file: files.length, offset: 0 };
      const start = Math.max(0, end - CHUNK);
      const buf = Buffer.alloc(end - start);
      const { bytesRead } = await fh.read(buf, 0, buf.length, start);
      let block = carry.length > 0 ? Buffer.concat([buf.subarray(0, bytesRead), carry]) : buf.subarray(0, bytesRead);
      // Complete lines in `block` are those after a newline; walk them from the end.
      let lineEnd = block.length;
      if (tailPartial) {
        const lastNl = block.lastIndexOf(0x0a);
        if (lastNl < 0) {
          carry = Buffer.from(block);
          end = start;
          if (carry.length > MAX_LINE) carry = Buffer.alloc(0);
          continue;
        }
        lineEnd = lastNl; // bytes after the last newline are not an entry yet
        tailPartial = false;
      }
      for (;;) {
        const nl = lineEnd > 0 ? block.lastIndexOf(0x0a, lineEnd - 1) : -1;
        if (nl < 0 && start > 0) break; // the line starts in an earlier chunk
        const lineStart = nl + 1;
        const h = lineHeader(block.subarray(lineStart, lineEnd));
        if (h && matches(h, q) && ++found >= want) return { file: f, offset: start + lineStart };
        if (nl < 0) break;
        lineEnd = nl;
      }
      carry = Buffer.from(block.subarray(0, lineEnd));
      if (carry.length > MAX_LINE) carry = Buffer.alloc(0);
      end = start;
    }
  }
  return { file: 0, offset: 0 };
}

/** Where a sink wants the reader to go next. */
export interface LogSink {
  /** Write one entry (copy what it keeps); false asks the reader to wait for `drain()`. */
  write(e: LogEntry): boolean;
  drain(): Promise<void>;
  /** Called after each chunk read: send what was batched (a follower must see lines promptly). */
  flush?(): boolean;
  /** Aborted when the client goes away: the reader stops. */
  readonly signal: AbortSignal;
}

/**
 * Read one file forwards from `offset` to its current end, handing matching entries to the
 * sink. Returns the offset of the first byte not yet consumed (a partial last line stays
 * unread), or undefined when `until` was passed or the sink stopped.
 */
async function readForward(fh: FileHandle, offset: number, q: LogQuery, sink: LogSink): Promise<number | undefined> {
  let pos = offset;
  let rest = Buffer.alloc(0);
  for (;;) {
    if (sink.signal.aborted) return undefined;
    if (sink.flush !== undefined && !sink.flush()) {
      await sink.drain();
      if (sink.signal.aborted) return undefined;
    }
    // A fresh buffer per read: entries handed out are views into it.
    const buf = Buffer.allocUnsafe(CHUNK);
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) return pos - rest.length;
    pos += bytesRead;
    let text = rest.length > 0 ? Buffer.concat([rest, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
    let start = 0;
    for (;;) {
      const nl = text.indexOf(0x0a, start);
      if (nl < 0) break;
      const e = parseLine(text.subarray(start, nl));
      start = nl + 1;
      if (!e) continue;
      if (q.untilNs !== undefined && e.timeNs > q.untilNs) {
        sink.flush?.();
        return undefined;
      }
      if (q.untilNs === undefined && q.sinceNs === undefined ? !(e.stream === 'stdout' ? q.stdout : q.stderr) : !matches(e, q)) continue;
      if (!sink.write(e)) {
        await sink.drain();
        if (sink.signal.aborted) return undefined;
      }
    }
    rest = Buffer.from(text.subarray(start));
    if (rest.length > MAX_LINE) {
      // Not a log line: skip it rather than hold it.
      rest = Buffer.alloc(0);
    }
    text = Buffer.alloc(0);
  }
}

/**
 * Stream the selected entries of a container's files (oldest first) to the sink. Returns
 * where the last file's reading stopped (for a follower), or undefined when it is over.
 */
export async function streamLogs(files: readonly LogFileRef[], o: { query: LogQuery; sink: LogSink }): Promise<{ file: number; offset: number } | undefined> {
  const { query: q, sink } = o;
  const from = await findTailStart(files, { query: q, signal: sink.signal });
  let last: { file: number; offset: number } | undefined;
  for (let f = from.file; f < files.length; f++) {
    const offset = await readForward(files[f]!.fh, f === from.file ? from.offset : 0, q, sink);
    if (offset === undefined) return undefined;
    last = { file: f, offset };
  }
  return last ?? (files.length > 0 ? { file: files.length - 1, offset: (await files[files.length - 1]!.fh.stat()).size } : undefined);
}

export interface FollowOptions {
  /** Where in `file` to go on from (streamLogs' result). */
  offset: number;
  query: LogQuery;
  sink: LogSink;
  /** True once the container has exited: drain what is left, then stop. */
  stopped: () => boolean;
  /** The current file no longer is conmon's (rotated): the files after it, opened. */
  successors: (ino: number) => Promise<LogFileRef[]>;
  /** Inode of the file conmon writes now. */
  currentIno: () => Promise<number | undefined>;
  pollMs?: number;
}

/**
 * Follow the log from a position in `file` (the last file read) until the container stops
 * and the file is drained, or the sink's signal aborts. Rotation is followed by inode: at the
 * end of a file conmon no longer writes, reading continues in the files after it. Files it
 * opens are closed; `file` itself is the caller's.
 */
export async function followLogs(file: LogFileRef, o: FollowOptions): Promise<void> {
  const { offset, query: q, sink } = o;
  const pass: LogQuery = { stdout: q.stdout, stderr: q.stderr, ...(q.sinceNs !== undefined ? { sinceNs: q.sinceNs } : {}) };
  const poll = o.pollMs ?? 100;
  let cur = file;
  let pos = offset;
  const owned: LogFileRef[] = [];
  try {
    for (;;) {
      if (sink.signal.aborted) return;
      const wasStopped = o.stopped();
      const next = await readForward(cur.fh, pos, pass, sink);
      if (next === undefined) return;
      const grew = next !== pos;
      pos = next;
      if (grew) continue;
      const ino = await o.currentIno();
      if (ino !== undefined && ino !== cur.ino) {
        // conmon moved on. It may have written to this file after the read above and before
        // its rotation: read this file to its (now final) end, then the ones after it.
        const tail = await readForward(cur.fh, pos, pass, sink);
        if (tail === undefined) return;
        pos = tail;
        const after = await o.successors(cur.ino);
        if (after.length > 0) {
          owned.push(...after);
          for (let i = 0; i < after.length - 1; i++) {
            if ((await readForward(after[i]!.fh, 0, pass, sink)) === undefined) return;
          }
          cur = after[after.length - 1]!;
          pos = 0;
          continue;
        }
      }
      if (wasStopped) return;
      await new Promise<void>((resolve) => {
        // One listener per wait, removed when the timer fires: a long follow must not pile
        // listeners onto the request's signal.
        const onAbort = (): void => {
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(() => {
          sink.signal.removeEventListener('abort', onAbort);
          resolve();
        }, poll);
        sink.signal.addEventListener('abort', onAbort, { once: true });
      });
    }
  } finally {
    await Promise.all(owned.map((f) => f.fh.close().catch(() => undefined)));
  }
}
