import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkHealthcheck, healthPlan, initialHealth, mergeHealthcheck, nextHealth } from './health.js';
import type { HealthProbe } from './types.js';

const probe = (code: number): HealthProbe => ({ Start: 's', End: 'e', ExitCode: code, Output: '' });

test('healthPlan: CMD, CMD-SHELL, NONE and Docker\'s defaults', () => {
  assert.deepEqual(healthPlan({ Test: ['CMD', 'true', 'x'] }, undefined), { argv: ['true', 'x'], intervalMs: 30_000, timeoutMs: 30_000, startPeriodMs: 0, startIntervalMs: 5_000, retries: 3 });
  assert.deepEqual(healthPlan({ Test: ['CMD-SHELL', 'exit 1'], Interval: 2e8, Retries: 1 }, undefined)?.argv, ['/bin/sh', '-c', 'exit 1']);
  assert.equal(healthPlan({ Test: ['CMD-SHELL', 'exit 1'], Interval: 2e8 }, undefined)?.intervalMs, 200);
  assert.equal(healthPlan({ Test: ['NONE'] }, undefined), undefined);
  assert.equal(healthPlan({ Test: [] }, undefined), undefined);
  assert.equal(healthPlan(undefined, undefined), undefined);
});

test('mergeHealthcheck: the container\'s fields over the image\'s, empty ones inherited', () => {
  assert.deepEqual(mergeHealthcheck({ Interval: 1e9 }, { Test: ['CMD', 'true'], Retries: 5 }), { Interval: 1e9, Test: ['CMD', 'true'], Retries: 5 });
  assert.deepEqual(mergeHealthcheck({ Test: ['NONE'] }, { Test: ['CMD', 'true'] }), { Test: ['NONE'] });
  assert.deepEqual(mergeHealthcheck(undefined, { Test: ['CMD', 'true'] }), { Test: ['CMD', 'true'] });
});

test('checkHealthcheck: Docker\'s 400s', () => {
  assert.throws(() => checkHealthcheck({ Test: ['CMD', 'true'], Interval: 1000 }), /Interval in Healthcheck cannot be less than 1ms/);
  assert.throws(() => checkHealthcheck({ Test: ['CMD', 'true'], Retries: -1 }), /Retries in Healthcheck cannot be negative/);
  assert.throws(() => checkHealthcheck({ Test: ['SHELL', 'true'] }), /unknown type/);
  assert.throws(() => checkHealthcheck({ Test: ['CMD'] }), /needs a command/);
  assert.doesNotThrow(() => checkHealthcheck({ Test: ['NONE'] }));
});

test('nextHealth: streaks, retries, the start period and a log of 5', () => {
  let h = initialHealth();
  h = nextHealth(h, probe(1), { retries: 2, inStartPeriod: true });
  assert.deepEqual([h.Status, h.FailingStreak], ['starting', 0], 'a failure in the start period does not count');
  h = nextHealth(h, probe(1), { retries: 2, inStartPeriod: false });
  assert.deepEqual([h.Status, h.FailingStreak], ['starting', 1]);
  h = nextHealth(h, probe(1), { retries: 2, inStartPeriod: false });
  assert.deepEqual([h.Status, h.FailingStreak], ['unhealthy', 2]);
  h = nextHealth(h, probe(0), { retries: 2, inStartPeriod: false });
  assert.deepEqual([h.Status, h.FailingStreak], ['healthy', 0]);
  for (let i = 0; i < 4; i++) h = nextHealth(h, probe(0), { retries: 2, inStartPeriod: false });
  assert.equal(h.Log.length, 5);
  h = nextHealth(h, probe(1), { retries: 2, inStartPeriod: false });
  assert.deepEqual([h.Status, h.FailingStreak], ['healthy', 1], 'one failure of two allowed');
});
