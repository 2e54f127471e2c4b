import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allSettledOrThrow } from './cleanup.js';

const after = <T>(ms: number, fn: () => T): Promise<T> => new Promise((res, rej) => setTimeout(() => {
  try {
    res(fn());
  } catch (err) {
    rej(err);
  }
}, ms));

test('allSettledOrThrow resolves when every one succeeds', async () => {
  const done: number[] = [];
  await allSettledOrThrow([after(5, () => done.push(1)), after(1, () => done.push(2))]);
  assert.deepEqual(done.sort(), [1, 2]);
});

test('allSettledOrThrow throws the first failure only after the slower ones have finished', async () => {
  let slowDone = false;
  const slow = after(30, () => (slowDone = true));
  await assert.rejects(
    allSettledOrThrow([after(1, () => { throw new Error('first'); }), slow, after(2, () => { throw new Error('second'); })]),
    (err: Error) => {
      assert.equal(err.message, 'first');
      assert.equal(slowDone, true, 'the slow one had finished before the throw');
      return true;
    },
  );
});
