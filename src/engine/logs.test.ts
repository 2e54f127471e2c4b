// The log reader against an in-memory oracle (parse everything, filter, slice), on files
// big enough that lines cross the reader's 64 KiB chunks, and the keeper against a
// simulation of conmon 2.1.6's rotation (open <log>.tmp with O_TRUNC, rename it over <log>).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:fs';
import { mkdtemp, open, readFile, readdir, rename, rm, writeFile, appendFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../base/index.js';
import { findTailStart, followLogs, parseLogText, selectEntries, streamLogs, type LogEntry, type LogFileRef, type LogQuery, type LogSink } from './logs.js';
import { LogKeeper, LOG_NAME } from './log-files.js';

/** A line at `i` microseconds after 2026-01-01T00:00:00Z (times only grow, as conmon's do). */
function logLine(i: number, stream: 'stdout' | 'stderr', text: string, partial = false): string {
  const t = new Date(Date.UTC(2026, 0, 1) + Math.floor(i / 1000)).toISOString().slice(0, 19);
  const ns = String((i % 1_000_000) * 1000).padStart(9, '0');
  return `${t}.${ns}Z ${stream} ${partial ? 'P' : 'F'} ${text}\n`;
}

/** Lines of assorted lengths (some longer than a chunk), both streams, some partial. */
function sampleLog(n: number, seed: number, from = 0): string {
  let s = seed;
  const rnd = (): number => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  let out = '';
  for (let i = 0; i < n; i++) {
    const len = rnd() < 0.01 ? 70_000 + Math.floor(rnd() * 10_000) : Math.floor(rnd() * 200);
    out += logLine(from + i * 1000, rnd() < 0.3 ? 'stderr' : 'stdout', `${i}:${'x'.repeat(len)}`, rnd() < 0.05);
  }
  return out;
}

function collector(): { sink: LogSink; got: LogEntry[] } {
  const got: LogEntry[] = [];
  const ac = new AbortController();
  return { got, sink: { write: (e) => (got.push(e), true), drain: async () => undefined, signal: ac.signal } };
}

async function withFiles<T>(texts: string[], fn: (files: LogFileRef[], dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'moat-logs-'));
  const handles: FileHandle[] = [];
  try {
    const files: LogFileRef[] = [];
    for (let i = 0; i < texts.length; i++) {
      await writeFile(join(dir, `f${i}`), texts[i]!);
      const fh = await open(join(dir, `f${i}`), 'r');
      handles.push(fh);
      files.push({ fh, ino: (await fh.stat()).ino });
    }
    return await fn(files, dir);
  } finally {
    await Promise.all(handles.map((h) => h.close()));
    await rm(dir, { recursive: true, force: true });
  }
}

const key = (e: LogEntry): string => `${e.time} ${e.stream} ${e.data.toString('latin1')}`;

test('streamLogs() returns what filtering the whole parsed log returns, for tails, streams and times', async () => {
  const texts = [sampleLog(800, 1), sampleLog(50, 2, 1e6), '', sampleLog(1200, 3, 2e6)];
  const oracle = parseLogText(Buffer.from(texts.join(''))).entries;
  await withFiles(texts, async (files) => {
    const queries: LogQuery[] = [
      { stdout: true, stderr: true },
      { stdout: true, stderr: true, tail: 0 },
      { stdout: true, stderr: true, tail: 1 },
      { stdout: true, stderr: true, tail: 7 },
      { stdout: true, stderr: false, tail: 900 },
      { stdout: false, stderr: true, tail: 5000 },
      { stdout: true, stderr: true, sinceNs: oracle[500]!.timeNs, tail: 10 },
      { stdout: true, stderr: true, untilNs: oracle[300]!.timeNs },
      { stdout: true, stderr: true, sinceNs: oracle[100]!.timeNs, untilNs: oracle[1400]!.timeNs, tail: 1000 },
    ];
    for (const q of queries) {
      const { sink, got } = collector();
      await streamLogs(files, { query: q, sink });
      const want = selectEntries(oracle, q);
      assert.equal(got.length, want.length, JSON.stringify(q, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
      assert.deepEqual(got.map(key), want.map(key));
    }
  });
});

test('findTailStart() skips a partial last line and reads no more than it needs', async () => {
  const text = logLine(1, 'stdout', 'a') + logLine(2, 'stdout', 'b') + '2026-01-01T00:00:00.000000003Z stdout F unfinished';
  await withFiles([text], async (files) => {
    const at = await findTailStart(files, { query: { stdout: true, stderr: true, tail: 1 } });
    assert.deepEqual(at, { file: 0, offset: logLine(1, 'stdout', 'a').length });
    const { sink, got } = collector();
    await streamLogs(files, { query: { stdout: true, stderr: true, tail: 5 }, sink });
    assert.deepEqual(got.map((e) => e.data.toString()), ['a\n', 'b\n']);
  });
});

test('streamLogs() waits for the sink to drain and stops when the client goes away', async () => {
  await withFiles([sampleLog(3000, 4)], async (files) => {
    const ac = new AbortController();
    let written = 0;
    let drains = 0;
    const sink: LogSink = {
      write: () => ++written % 100 !== 0,
      drain: async () => {
        drains++;
        if (drains === 5) ac.abort();
      },
      signal: ac.signal,
    };
    const end = await streamLogs(files, { query: { stdout: true, stderr: true }, sink });
    assert.equal(end, undefined, 'stopped');
    assert.equal(written, 500, 'nothing more after the client left');
  });
});

/** conmon 2.1.6's reopen_k8s_file(): open <log>.tmp O_TRUNC|O_CREAT, rename it over <log>. */
async function conmonRotate(dir: string): Promise<FileHandle> {
  const fh = await open(join(dir, `${LOG_NAME}.tmp`), constants.O_WRONLY | constants.O_TRUNC | constants.O_CREAT, 0o600);
  await rename(join(dir, `${LOG_NAME}.tmp`), join(dir, LOG_NAME));
  return fh;
}

test('the keeper keeps every file conmon rotates away, up to max-file, even two rotations between passes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'moat-keeper-'));
  const keeper = new LogKeeper(silentLogger());
  const settings = { driver: 'json-file' as const, maxSize: 1000, maxFile: 4 };
  let fh: FileHandle | undefined;
  try {
    await keeper.prepare(dir, settings);
    fh = await open(join(dir, LOG_NAME), constants.O_WRONLY | constants.O_APPEND);
    let n = 0;
    const write = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++) await fh!.write(logLine(n++, 'stdout', `n${n - 1}`));
    };
    const pass = async (): Promise<void> => {
      // `unwatch` runs one pass (as at exit); watch again for the next round.
      keeper.watch('c', dir, settings);
      await keeper.unwatch('c');
    };
    await write(3);
    await fh.close();
    fh = await conmonRotate(dir);
    await write(3);
    await pass();
    // Two rotations with no pass between them.
    await fh.close();
    fh = await conmonRotate(dir);
    await write(3);
    await fh.close();
    fh = await conmonRotate(dir);
    await write(3);
    await pass();
    const names = (await readdir(dir)).sort();
    assert.deepEqual(names, ['ctr.log', 'ctr.log.1', 'ctr.log.2', 'ctr.log.3', 'ctr.log.keep', 'ctr.log.next', 'ctr.log.tmp']);
    const files = await keeper.open(dir, settings);
    try {
      assert.deepEqual(files.map((f) => f.name), ['ctr.log.3', 'ctr.log.2', 'ctr.log.1', 'ctr.log']);
      const { sink, got } = collector();
      await streamLogs(files, { query: { stdout: true, stderr: true }, sink });
      assert.deepEqual(got.map((e) => e.data.toString().trim()), Array.from({ length: 12 }, (_v, i) => `n${i}`), 'nothing lost, in order');
    } finally {
      await Promise.all(files.map((f) => f.fh.close()));
    }
    // One more rotation: the oldest file goes (max-file 4 = the current one and 3 more).
    await fh.close();
    fh = await conmonRotate(dir);
    await write(1);
    await pass();
    const again = await keeper.open(dir, settings);
    try {
      const { sink, got } = collector();
      await streamLogs(again, { query: { stdout: true, stderr: true }, sink });
      assert.deepEqual(got.map((e) => e.data.toString().trim()), Array.from({ length: 10 }, (_v, i) => `n${i + 3}`));
    } finally {
      await Promise.all(again.map((f) => f.fh.close()));
    }
  } finally {
    await fh?.close().catch(() => undefined);
    keeper.close();
    await rm(dir, { recursive: true, force: true });
  }
});

/** The current log file's inode, as the engine asks for it. */
async function currentIno(dir: string): Promise<number> {
  const h = await open(join(dir, LOG_NAME), 'r');
  try {
    return (await h.stat()).ino;
  } finally {
    await h.close();
  }
}

/**
 * A follower of a kept log that holds the line 'one'; `act` writes and rotates while it
 * follows (`beforeIno` runs inside the follower's first "which file is current" question).
 * Returns the lines the follower saw once the container counts as stopped.
 */
async function follow(o: { act?: (dir: string) => Promise<void>; beforeIno?: (dir: string) => Promise<void> }): Promise<{ lines: string[]; keep: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'moat-follow-'));
  const keeper = new LogKeeper(silentLogger());
  const settings = { driver: 'json-file' as const, maxSize: 1000, maxFile: 3 };
  try {
    await keeper.prepare(dir, settings);
    await appendFile(join(dir, LOG_NAME), logLine(1, 'stdout', 'one'));
    const files = await keeper.open(dir, settings);
    const { sink, got } = collector();
    const end = await streamLogs(files, { query: { stdout: true, stderr: true }, sink });
    let stopped = false;
    let asked = false;
    const following = followLogs(files[end!.file]!, {
      offset: end!.offset,
      query: { stdout: true, stderr: true },
      sink,
      stopped: () => stopped,
      successors: (ino) => keeper.openAfter(dir, settings, ino),
      currentIno: async () => {
        if (!asked) {
          asked = true;
          await o.beforeIno?.(dir);
        }
        return currentIno(dir);
      },
      pollMs: 5,
    });
    await o.act?.(dir);
    await new Promise((r) => setTimeout(r, 50));
    stopped = true;
    await following;
    await Promise.all(files.map((f) => f.fh.close()));
    return { lines: got.map((e) => e.data.toString().trim()), keep: await readFile(join(dir, `${LOG_NAME}.keep`), 'utf8') };
  } finally {
    keeper.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** conmon writes 'two' to the current file, rotates, and writes 'three' to the new one. */
async function twoRotateThree(dir: string): Promise<void> {
  await appendFile(join(dir, LOG_NAME), logLine(2, 'stdout', 'two'));
  const fh = await conmonRotate(dir);
  await fh.write(logLine(3, 'stdout', 'three'));
  await fh.close();
}

test('followLogs() crosses a rotation by inode and ends when the container stops', async () => {
  const { lines, keep } = await follow({ act: twoRotateThree });
  assert.deepEqual(lines, ['one', 'two', 'three']);
  assert.match(keep, /one/, 'the rotated file is still linked');
});

test('followLogs() reads what conmon wrote to the old file between the follower\'s last read and the rotation', async () => {
  // The follower found the end of the file; before it asks which file is current, conmon
  // writes one more line to the old file and rotates (what a loaded machine interleaves).
  const { lines } = await follow({ beforeIno: twoRotateThree });
  assert.deepEqual(lines, ['one', 'two', 'three']);
});
