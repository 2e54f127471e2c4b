import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ContainerBudget, TokenBucket, DEFAULT_LIMITS, type BudgetLimits } from './budget.js';

test('TokenBucket allows a burst, then a steady rate, and says how long to wait', () => {
  const b = new TokenBucket(3, 2);
  assert.deepEqual([b.take(0), b.take(0), b.take(0), b.take(0)], [true, true, true, false]);
  assert.equal(b.waitMs(0), 500);
  assert.equal(b.take(400), false, '0.8 tokens after 400 ms');
  assert.equal(b.waitMs(400), 100);
  assert.equal(b.take(600), true, '1.2 tokens after 600 ms');
  assert.equal(b.take(100_000), true);
  assert.equal(b.available(100_000), true, 'refilled to capacity, not beyond');
  assert.deepEqual([b.take(100_000), b.take(100_000), b.take(100_000)], [true, true, false]);
  assert.equal(b.take(50), false, 'a clock going backwards adds nothing');
});

const SMALL: BudgetLimits = { answerBurst: 10, answerPerSecond: 100, throttledPerSecond: 100, recordBurst: 5, recordPerSecond: 1, syscallRecordBurst: 2, syscallRecordPerSecond: 1 };

test('ContainerBudget: after the burst, answers follow the rate; a flood over 10 s gets burst + rate x 10 s answers', () => {
  const b = new ContainerBudget(SMALL);
  let answered = 0;
  // A task that asks again as soon as it is answered; the listener polls every ms.
  for (let t = 0; t <= 10_000; t += 1) {
    while (!b.isThrottled(t, 1) && b.takeAnswer(t, 1)) answered += 1;
  }
  // Never more than burst + rate x time; floating-point refills may leave one short.
  assert.ok(answered <= 10 + 100 * 10 && answered >= 10 + 100 * 10 - 1, `answered ${answered}`);
  assert.equal(b.answered, answered);
});

test('ContainerBudget: throttled containers share throttledPerSecond fairly', () => {
  const limits: BudgetLimits = { ...SMALL, answerPerSecond: 100, throttledPerSecond: 120 };
  const bs = [new ContainerBudget(limits), new ContainerBudget(limits), new ContainerBudget(limits)];
  const counts = [0, 0, 0];
  for (let t = 0; t <= 10_000; t += 1) {
    const throttled = bs.filter((b) => b.isThrottled(t, 3)).length;
    bs.forEach((b, i) => {
      while (b.takeAnswer(t, Math.max(1, throttled))) counts[i]! += 1;
    });
  }
  // 10 burst + ~40/s each (120 / 3), not 100/s each.
  for (const c of counts) assert.ok(c >= 10 + 380 && c <= 10 + 420, `answers ${c}`);
  assert.equal(new ContainerBudget(limits).answerRate(1), 100, 'alone: its own rate');
  assert.equal(new ContainerBudget(limits).answerRate(4), 30);
});

test('ContainerBudget: records are limited per syscall and per container', () => {
  const b = new ContainerBudget(SMALL);
  const keyctl = [0, 0, 0, 0].map(() => b.takeRecord(0, 'keyctl'));
  assert.deepEqual(keyctl, [true, true, false, false], 'two per syscall at once');
  assert.deepEqual([b.takeRecord(0, 'mount'), b.takeRecord(0, 'mount'), b.takeRecord(0, 'bpf')], [true, true, true], "another syscall has its own");
  assert.equal(b.takeRecord(0, 'ptrace'), false, 'the container total (5) is spent');
  assert.equal(b.takeRecord(1000, 'keyctl'), true, 'refilled a second later');
  assert.equal(b.recorded, 6);
});

test('DEFAULT_LIMITS bound a throttled flood to a small rate', () => {
  assert.ok(DEFAULT_LIMITS.answerPerSecond <= DEFAULT_LIMITS.throttledPerSecond);
  assert.ok(DEFAULT_LIMITS.syscallRecordBurst <= DEFAULT_LIMITS.recordBurst);
});
