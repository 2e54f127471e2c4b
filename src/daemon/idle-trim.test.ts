import { test } from 'node:test';
import assert from 'node:assert/strict';
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
