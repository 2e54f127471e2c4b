// conmon's k8s-file log: `<RFC3339Nano> <stdout|stderr> <F|P> <content>` per line, where
// P marks a partial line (no newline yet). Reading is pure over the text; following polls.
import { open, stat } from 'node:fs/promises';

export interface LogEntry {
  /** RFC3339Nano as conmon wrote it. */
  time: string;
  /** Nanoseconds since the epoch, for since/until. */
  timeNs: bigint;
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

export function rfc3339ToNs(ts: string): bigint {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) return 0n;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  const frac = (m[2] ?? '').padEnd(9, '0').slice(0, 9);
  return BigInt(ms) * 1_000_000n + BigInt(frac);
}

/** Parse complete lines of a k8s-file log; returns entries and the unparsed remainder. */
export function parseLogText(text: Buffer): { entries: LogEntry[]; rest: Buffer } {
  const entries: LogEntry[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf(0x0a, start);
    if (nl < 0) break;
    const line = text.subarray(start, nl);
    start = nl + 1;
    const s1 = line.indexOf(0x20);
    const s2 = line.indexOf(0x20, s1 + 1);
    const s3 = line.indexOf(0x20, s2 + 1);
    if (s1 < 0 || s2 < 0 || s3 < 0) continue;
    const time = line.subarray(0, s1).toString('latin1');
    const stream = line.subarray(s1 + 1, s2).toString('latin1');
    const tag = line.subarray(s2 + 1, s3).toString('latin1');
    const content = line.subarray(s3 + 1);
    const data = tag.startsWith('P') ? Buffer.from(content) : Buffer.concat([content, Buffer.from('\n')]);
    entries.push({ time, timeNs: rfc3339ToNs(time), stream: stream === 'stderr' ? 'stderr' : 'stdout', data });
  }
  return { entries, rest: Buffer.from(text.subarray(start)) };
}

export interface LogQuery {
  stdout: boolean;
  stderr: boolean;
  sinceNs?: bigint;
  untilNs?: bigint;
  /** Number of lines from the end; undefined for all. */
  tail?: number;
}

/** Apply stream, time and tail filters. Pure. */
export function selectEntries(entries: readonly LogEntry[], q: LogQuery): LogEntry[] {
  let out = entries.filter(
    (e) => (e.stream === 'stdout' ? q.stdout : q.stderr) && (q.sinceNs === undefined || e.timeNs >= q.sinceNs) && (q.untilNs === undefined || e.timeNs <= q.untilNs),
  );
  if (q.tail !== undefined) out = q.tail <= 0 ? [] : out.slice(-q.tail);
  return out;
}

/** Read the whole log file; missing file = no entries. Returns the offset read up to. */
export async function readLogFile(path: string): Promise<{ entries: LogEntry[]; offset: number }> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], offset: 0 };
    throw err;
  }
  try {
    const buf = await fh.readFile();
    const { entries, rest } = parseLogText(buf);
    return { entries, offset: buf.length - rest.length };
  } finally {
    await fh.close();
  }
}

/**
 * Follow a log file from `offset`, calling `onEntry` for each new line, until `stop()`
 * resolves (container exited) and the file is drained, or `signal` aborts.
 */
export async function followLogFile(
  path: string,
  offset: number,
  opts: { onEntry: (e: LogEntry) => void; stopped: () => boolean; signal: AbortSignal; pollMs?: number },
): Promise<void> {
  let pos = offset;
  let rest: Buffer = Buffer.alloc(0);
  const poll = opts.pollMs ?? 100;
  for (;;) {
    if (opts.signal.aborted) return;
    const wasStopped = opts.stopped();
    const size = await stat(path).then((s) => s.size, () => 0);
    if (size > pos) {
      const fh = await open(path, 'r');
      try {
        const buf = Buffer.alloc(size - pos);
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        pos += bytesRead;
        const parsed = parseLogText(Buffer.concat([rest, buf.subarray(0, bytesRead)]));
        rest = parsed.rest;
        for (const e of parsed.entries) opts.onEntry(e);
      } finally {
        await fh.close();
      }
      continue;
    }
    if (wasStopped) return;
    await new Promise<void>((resolve) => {
      // One listener per wait, removed when the timer fires: a long follow must not pile
      // listeners onto the request's signal (MaxListenersExceededWarning after 10 polls).
      const onAbort = (): void => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        opts.signal.removeEventListener('abort', onAbort);
        resolve();
      }, poll);
      opts.signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
