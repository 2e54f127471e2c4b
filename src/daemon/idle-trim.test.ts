import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { silentLogger } from '../base/index.js';
import { startIdleTrim } from './idle-trim.js';

test('idle trim: only after a burst, only once idle, once per burst', () => {
  let cpu = 0;
  let gcs = 0;
  let trims = 0;
  const t = startIdleTrim({ log: silentLogger(), intervalMs: 3_600_000, idleCpuMs: 50, burstCpuMs: 500, cpuMs: () => cpu, gc: () => gcs++, trim: () => trims++ });
  try {
    cpu += 10;
    assert.equal(t.check(), false, 'idle, but no burst since start');
    cpu += 400;
    assert.equal(t.check(), false, 'busy');
    cpu += 300;
    assert.equal(t.check(), false, 'still busy: a burst in progress');
    cpu += 5;
    assert.equal(t.check(), true, 'idle after 715 ms of work');
    assert.deepEqual([gcs, trims], [1, 1]);
    cpu += 5;
    assert.equal(t.check(), false, 'nothing new to give back');
    assert.deepEqual([gcs, trims], [1, 1]);
  } finally {
    t.stop();
  }
});

test('idle trim: without an exposed gc, malloc_trim still runs; a failing step is logged, not thrown', () => {
  let cpu = 0;
  let trims = 0;
  const t = startIdleTrim({ log: silentLogger(), intervalMs: 3_600_000, cpuMs: () => cpu, gc: undefined, trim: () => trims++ });
  cpu += 600;
  t.check();
  cpu += 1;
  assert.equal(t.check(), true);
  assert.equal(trims, 1);
  const bad = startIdleTrim({ log: silentLogger(), intervalMs: 3_600_000, cpuMs: () => cpu, gc: undefined, trim: () => { throw new Error('no libc'); } });
  cpu += 600;
  bad.check();
  cpu += 1;
  assert.equal(bad.check(), false);
  t.stop();
  bad.stop();
});

test('compacting GC: returns old-space pages a plain full GC keeps, and leaves later GCs plain', () => {
  // A real V8 (bin/moatd's flags) in a child process: three of four small objects dropped leaves
  // every page of the old generation partly used.
  const script = `
    const { compactingGc } = await import(${JSON.stringify(new URL('./idle-trim.js', import.meta.url).href)});
    const total = () => process.memoryUsage().heapTotal / 1048576;
    const fragment = () => {
      const xs = [];
      for (let i = 0; i < 200000; i++) xs.push({ a: i, b: 'x' + i, c: [i, i + 1] });
      gc(); gc();
      for (let i = 0; i < xs.length; i++) if (i % 4 !== 0) xs[i] = null;
      return xs;
    };
    let kept = fragment();
    const grown = total();
    gc();
    const plain = total();
    compactingGc(gc);
    const compacted = total();
    kept = [kept, fragment()];
    const grownAgain = total();
    gc();
    const plainAgain = total();
    console.log(JSON.stringify({ grown, plain, compacted, grownAgain, plainAgain, n: kept.length }));
  `;
  const out = execFileSync(process.execPath, ['--expose-gc', '--max-semi-space-size=1', '--no-opt', '--no-sparkplug', '--input-type=module', '-e', script], { encoding: 'utf8' });
  const r = JSON.parse(out) as { grown: number; plain: number; compacted: number; grownAgain: number; plainAgain: number };
  const mib = JSON.stringify(r);
  assert.ok(r.grown > 25, `the fragmented heap is large: ${mib}`);
  assert.ok(r.plain - r.compacted > 10, `the compacting GC returned what the plain one kept: ${mib}`);
  assert.ok(r.grownAgain - r.plainAgain < (r.plain - r.compacted) / 2, `a later plain GC does not compact (the flag was set back): ${mib}`);
});
