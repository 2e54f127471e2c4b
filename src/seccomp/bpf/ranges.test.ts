import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  U64_MAX, buildRangeTree, highWordSegments, lowWordSet, rangeTreeDepth, setHas,
  wordSegments, type IntervalSet, type RangeTree, type Segment,
} from './ranges.js';
import { opSet } from './semantics.js';

/** The outcome a tree gives `v` (what the emitted compares do). */
function evalRangeTree<T>(tree: RangeTree<T>, v: number): T {
  let n = tree;
  while (n.kind === 'cmp') n = (n.op === 'jeq' ? v === n.k : v >= n.k) ? n.t : n.f;
  return n.out;
}

test('opSet() gives the unsigned 64-bit value sets of each operator', () => {
  assert.deepEqual(opSet('SCMP_CMP_EQ', 5n, U64_MAX), [[5n, 5n]]);
  assert.deepEqual(opSet('SCMP_CMP_NE', 0n, U64_MAX), [[1n, U64_MAX]]);
  assert.deepEqual(opSet('SCMP_CMP_LT', 0n, U64_MAX), []);
  assert.deepEqual(opSet('SCMP_CMP_LE', U64_MAX, U64_MAX), [[0n, U64_MAX]]);
  assert.deepEqual(opSet('SCMP_CMP_GT', U64_MAX, U64_MAX), []);
  assert.deepEqual(opSet('SCMP_CMP_GE', 7n, U64_MAX), [[7n, U64_MAX]]);
});

test('highWordSegments() splits a u64 set into high-word ranges and low-word sets', () => {
  const set: IntervalSet = [[0n, 37n], [39n, 39n], [41n, U64_MAX]];
  const segs = highWordSegments(set, 'in', 'out');
  assert.equal(segs.length, 2);
  assert.deepEqual(segs[1], { lo: 1, hi: 0xffffffff, out: 'in' });
  assert.deepEqual(segs[0]!.out, [[0n, 37n], [39n, 39n], [41n, 0xffffffffn]]);
  assert.deepEqual(lowWordSet([[0x100000005n, 0x200000003n]], 2), [[0n, 3n]]);
});

test('buildRangeTree() finds the right segment for every boundary value', () => {
  let seed = 7;
  const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  for (let round = 0; round < 300; round++) {
    const cuts = [...new Set(Array.from({ length: 1 + rand(40) }, () => (rand(4) === 0 ? rand(2 ** 31) * 2 : rand(100))))].filter((c) => c > 0).sort((a, b) => a - b);
    const segs: Segment<number>[] = [];
    let lo = 0;
    for (const c of [...cuts, 2 ** 32]) { segs.push({ lo, hi: c - 1, out: rand(4) }); lo = c; }
    const merged = segs.filter((s, i) => i === 0 || s.out !== segs[i - 1]!.out || true);
    const tree = buildRangeTree(merged);
    for (const s of merged) {
      for (const v of [s.lo, s.hi, Math.floor((s.lo + s.hi) / 2)]) assert.equal(evalRangeTree(tree, v), s.out, `value ${v}`);
    }
    assert.ok(rangeTreeDepth(tree) <= Math.ceil(Math.log2(merged.length)) + 1, `depth ${rangeTreeDepth(tree)} for ${merged.length}`);
  }
});

test('wordSegments() covers the word space', () => {
  const segs = wordSegments([[5n, 9n]], true, false);
  assert.deepEqual(segs, [{ lo: 0, hi: 4, out: false }, { lo: 5, hi: 9, out: true }, { lo: 10, hi: 0xffffffff, out: false }]);
  assert.ok(setHas([[5n, 9n]], 9n) && !setHas([[5n, 9n]], 10n));
});
