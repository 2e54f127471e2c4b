// The log keeper against conmon 2.1.6's rotation (open <log>.tmp with O_WRONLY|O_TRUNC|O_CREAT,
// rename it over <log>, write on) played step by step between the keeper's own file system
// calls: every fs/promises call the keeper makes first lets a fake conmon take its next
// steps, so each interleaving of a pass with conmon is run, not hoped for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, constants, lstatSync, openSync, readdirSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../base/index.js';
import type { LogSettings } from './log-config.js';
import { LogKeeper, LOG_NAME } from './log-files.js';
import { streamLogs, type LogEntry } from './logs.js';

type Fsp = Record<string, (...args: unknown[]) => Promise<unknown>>;
const fsp = createRequire(import.meta.url)('node:fs/promises') as Fsp;
const STEPPED = ['lstat', 'stat', 'link', 'rename', 'unlink', 'open'] as const;
const originals = Object.fromEntries(STEPPED.map((n) => [n, fsp[n]!]));

/** Called before each file system call of the keeper while set. */
let beforeStep: ((call: string) => void) | undefined;
for (const n of STEPPED) {
  fsp[n] = async (...args: unknown[]): Promise<unknown> => {
    beforeStep?.(n);
    return await originals[n]!(...args);
  };
}
syncBuiltinESMExports();
test.after(() => {
  for (const n of STEPPED) fsp[n] = originals[n]!;
  syncBuiltinESMExports();
});

/** conmon's k8s-file writer and its rotation, as synchronous steps. */
class FakeConmon {
  readonly #dir: string;
  #fd: number;
  #n = 0;
  constructor(dir: string) {
    this.#dir = dir;
    this.#fd = openSync(join(dir, LOG_NAME), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
  }
  get written(): number {
    return this.#n;
  }
  write(count = 1): void {
    for (let i = 0; i < count; i++) {
      const n = this.#n++;
      writeSync(this.#fd, `2026-01-01T00:00:00.${String(n).padStart(9, '0')}Z stdout F n${n}\n`);
    }
  }
  /** reopen_k8s_file's first half: close, open .tmp truncating it. */
  openTmp(): void {
    closeSync(this.#fd);
    this.#fd = openSync(join(this.#dir, `${LOG_NAME}.tmp`), constants.O_WRONLY | constants.O_TRUNC | constants.O_CREAT, 0o600);
  }
  /** Its second half: .tmp becomes the log. */
  renameTmp(): void {
    renameSync(join(this.#dir, `${LOG_NAME}.tmp`), join(this.#dir, LOG_NAME));
  }
  rotate(): void {
    this.openTmp();
    this.renameTmp();
  }
  close(): void {
    closeSync(this.#fd);
  }
}

interface Rig {
  dir: string;
  keeper: LogKeeper;
  conmon: FakeConmon;
  settings: LogSettings;
  /** One pass, as the watcher runs it (and as at exit). */
  pass: () => Promise<void>;
}

async function withRig(maxFile: number, fn: (r: Rig) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'moat-keeper-'));
  const keeper = new LogKeeper(silentLogger());
  const settings: LogSettings = { driver: 'json-file', maxSize: 1000, maxFile };
  let conmon: FakeConmon | undefined;
  try {
    await keeper.prepare(dir, settings);
    conmon = new FakeConmon(dir);
    const pass = async (): Promise<void> => {
      keeper.watch('c', dir, settings);
      await keeper.unwatch('c');
    };
    await fn({ dir, keeper, conmon, settings, pass });
  } finally {
    beforeStep = undefined;
    conmon?.close();
    keeper.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The line numbers `docker logs` would show. */
async function readAll(r: Rig): Promise<number[]> {
  const files = await r.keeper.open(r.dir, r.settings);
  try {
    const got: LogEntry[] = [];
    const ac = new AbortController();
    await streamLogs(files, { query: { stdout: true, stderr: true }, sink: { write: (e) => (got.push(e), true), drain: async () => undefined, signal: ac.signal } });
    return got.map((e) => Number(/^n(\d+)$/.exec(e.content.toString())?.[1] ?? NaN));
  } finally {
    await Promise.all(files.map((f) => f.fh.close()));
  }
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_v, i) => from + i);

/** How many file system calls one quiet pass makes (the places conmon can step in). */
/** A log that rotated once, with lines on both sides, and a pass after it. */
async function rotatedOnce(r: Rig): Promise<void> {
  r.conmon.write(3);
  r.conmon.rotate();
  r.conmon.write(3);
  await r.pass();
}

async function stepsOfQuietPass(): Promise<number> {
  let steps = 0;
  await withRig(5, async (r) => {
    r.conmon.write(2);
    r.conmon.rotate();
    r.conmon.write(2);
    beforeStep = () => steps++;
    await r.pass();
  });
  return steps;
}

test('a rotation at any step of a pass, then a second one before the next pass, loses no line', async () => {
  const steps = await stepsOfQuietPass();
  assert.ok(steps >= 5, `a pass makes ${steps} calls`);
  const failures: string[] = [];
  // conmon's open of .tmp at step a, its rename at step b (a <= b), lines written after it.
  for (let a = 0; a <= steps; a++) {
    for (let b = a; b <= steps + 1; b++) {
      // Five files at most are made: max-file 5 keeps them all.
      await withRig(5, async (r) => {
        await rotatedOnce(r);
        let step = 0;
        beforeStep = () => {
          if (step === a) r.conmon.openTmp();
          if (step === b) {
            r.conmon.renameTmp();
            r.conmon.write(3);
          }
          step++;
        };
        await r.pass();
        beforeStep = undefined;
        if (step <= a) r.conmon.openTmp();
        if (step <= b) {
          r.conmon.renameTmp();
          r.conmon.write(3);
        }
        // The second rotation since that pass: the file the first one made current goes.
        r.conmon.write(2);
        r.conmon.rotate();
        r.conmon.write(3);
        await r.pass();
        r.conmon.write(1);
        await r.pass();
        const got = await readAll(r);
        const want = range(0, r.conmon.written);
        if (JSON.stringify(got) !== JSON.stringify(want)) failures.push(`open at step ${a}, rename at step ${b}: got ${got.join(',')}`);
      });
    }
  }
  assert.deepEqual(failures, []);
});

test('the unused seed is never linked as .tmp once conmon has made it current (conmon would truncate it)', async () => {
  // The interleaving found for the loss in security/logs.test.ts: conmon takes the seed after
  // the pass compared ctr.log with .keep and before the pass looked at .next and .tmp.
  await withRig(50, async (r) => {
    await rotatedOnce(r);
    let step = 0;
    beforeStep = () => {
      if (step++ === 3) {
        r.conmon.rotate();
        r.conmon.write(3);
      }
    };
    await r.pass();
    beforeStep = undefined;
    r.conmon.write(3);
    r.conmon.rotate();
    r.conmon.write(3);
    await r.pass();
    assert.deepEqual(await readAll(r), range(0, r.conmon.written));
  });
});

/** A seeded generator: the same schedule on every run. */
function random(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}

/**
 * conmon writing and rotating at random steps of passes and between them, at most `perWindow`
 * rotations touching each span from the end of one pass to the end of the next. Returns what
 * was written and read.
 */
async function randomRun(seed: number, o: { maxFile: number; perWindow: number; passes: number }): Promise<{ written: number; got: number[]; names: string[] }> {
  const rnd = random(seed);
  let result: { written: number; got: number[]; names: string[] } | undefined;
  await withRig(o.maxFile, async (r) => {
    let rotation = 0;
    // A rotation opened and not yet renamed.
    const open = { half: false };
    let touched = new Set<number>();
    // One conmon step: a line, or half of a rotation, within this window's allowance.
    const stepConmon = (): void => {
      if (open.half) {
        r.conmon.renameTmp();
        touched.add(rotation);
        open.half = false;
        return;
      }
      if (rnd() < 0.3 && touched.size < o.perWindow) {
        rotation++;
        touched.add(rotation);
        r.conmon.openTmp();
        open.half = true;
        if (rnd() < 0.5) stepConmon();
        return;
      }
      r.conmon.write(1 + Math.floor(rnd() * 3));
    };
    for (let i = 0; i < o.passes; i++) {
      const between = Math.floor(rnd() * 4);
      for (let j = 0; j < between; j++) stepConmon();
      beforeStep = () => {
        if (rnd() < 0.3) stepConmon();
      };
      await r.pass();
      beforeStep = undefined;
      // The next window starts with the rotation still half done, if it is.
      touched = open.half ? new Set([rotation]) : new Set();
    }
    if (open.half) r.conmon.renameTmp();
    r.conmon.write(1);
    await r.pass();
    result = { written: r.conmon.written, got: await readAll(r), names: readdirSync(r.dir).sort() };
  });
  return result!;
}

test('random interleavings with at most two rotations between two passes lose no line', async () => {
  const lost: string[] = [];
  for (let seed = 1; seed <= 80; seed++) {
    const { written, got } = await randomRun(seed, { maxFile: 30, perWindow: 2, passes: 12 });
    if (JSON.stringify(got) !== JSON.stringify(range(0, written))) lost.push(`seed ${seed}: ${written} written, got ${got.join(',')}`);
  }
  assert.deepEqual(lost, []);
});

test('with max-file 3 the kept lines are the newest, in order, and the files stay bounded', async () => {
  for (let seed = 1; seed <= 40; seed++) {
    const { written, got, names } = await randomRun(seed, { maxFile: 3, perWindow: 2, passes: 12 });
    assert.equal(got.at(-1), written - 1, `seed ${seed}: the last line is there`);
    assert.deepEqual(got, range(got[0]!, written), `seed ${seed}: a run of the newest lines`);
    assert.ok(names.every((n) => /^ctr\.log(\.1|\.2|\.keep|\.next|\.tmp)?$/.test(n)), `seed ${seed}: ${names.join(' ')}`);
  }
});

test('three rotations between two passes do lose a file (the stated bound is real, not hidden)', async () => {
  await withRig(50, async (r) => {
    r.conmon.write(3);
    await r.pass();
    for (let i = 0; i < 3; i++) {
      r.conmon.rotate();
      r.conmon.write(3);
    }
    await r.pass();
    const got = await readAll(r);
    assert.deepEqual(got, [...range(0, 6), ...range(9, 12)], 'the second file conmon made, never linked, is gone');
  });
});

/** Each name in the directory with its inode and size. */
function listing(dir: string): Record<string, { ino: number; size: number }> {
  return Object.fromEntries(readdirSync(dir).sort().map((n) => {
    const st = lstatSync(join(dir, n));
    return [n, { ino: st.ino, size: st.size }];
  }));
}

test('a first start is settled at once: the log linked as .keep, an empty seed as .next and .tmp, with no thread-pool call', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'moat-keeper-'));
  const keeper = new LogKeeper(silentLogger());
  try {
    let calls = 0;
    beforeStep = () => calls++;
    await keeper.prepare(dir, { driver: 'json-file', maxSize: 1000, maxFile: 3 });
    beforeStep = undefined;
    assert.equal(calls, 0, 'no asynchronous file system call');
    const l = listing(dir);
    assert.deepEqual(Object.keys(l), [LOG_NAME, `${LOG_NAME}.keep`, `${LOG_NAME}.next`, `${LOG_NAME}.tmp`]);
    assert.equal(l[LOG_NAME]!.ino, l[`${LOG_NAME}.keep`]!.ino);
    assert.equal(l[`${LOG_NAME}.next`]!.ino, l[`${LOG_NAME}.tmp`]!.ino);
    assert.notEqual(l[LOG_NAME]!.ino, l[`${LOG_NAME}.next`]!.ino);
    assert.ok(Object.values(l).every((f) => f.size === 0));
  } finally {
    beforeStep = undefined;
    keeper.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a start that finds a stale .keep without a log takes the full pass: the stale file is kept as .1', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'moat-keeper-'));
  const keeper = new LogKeeper(silentLogger());
  try {
    writeFileSync(join(dir, `${LOG_NAME}.keep`), '2026-01-01T00:00:00.000000000Z stdout F old\n');
    let calls = 0;
    beforeStep = () => calls++;
    await keeper.prepare(dir, { driver: 'json-file', maxSize: 1000, maxFile: 3 });
    beforeStep = undefined;
    assert.ok(calls > 0, 'the full pass ran');
    const l = listing(dir);
    assert.deepEqual(Object.keys(l), [LOG_NAME, `${LOG_NAME}.1`, `${LOG_NAME}.keep`, `${LOG_NAME}.next`, `${LOG_NAME}.tmp`]);
    assert.equal(l[`${LOG_NAME}.1`]!.size, 44, 'the stale file became the newest numbered one');
    assert.equal(l[LOG_NAME]!.ino, l[`${LOG_NAME}.keep`]!.ino);
    assert.equal(l[`${LOG_NAME}.next`]!.ino, l[`${LOG_NAME}.tmp`]!.ino);
  } finally {
    beforeStep = undefined;
    keeper.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('an exit with no rotation since the last pass makes no thread-pool call; one after a rotation passes and keeps every line', async () => {
  await withRig(3, async (r) => {
    r.conmon.write(3);
    let calls = 0;
    beforeStep = () => calls++;
    await r.pass();
    assert.equal(calls, 0, 'settled already: nothing to move');
    r.conmon.rotate();
    r.conmon.write(2);
    await r.pass();
    assert.ok(calls > 0, 'the rotation is moved into the numbered files');
    beforeStep = undefined;
    assert.deepEqual(await readAll(r), range(0, 5));
  });
});
