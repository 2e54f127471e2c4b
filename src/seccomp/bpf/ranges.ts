// Interval sets over unsigned words and balanced decision trees over them.
// u64 sets use bigint; the trees work on one u32 word (BPF compares 32 bits at a time).

/** Sorted, disjoint, non-adjacent inclusive intervals. */
export type IntervalSet = readonly (readonly [bigint, bigint])[];

/** A piece of a complete cover of [0, 2^32-1] with an outcome. Inclusive bounds. */
export interface Segment<T> {
  lo: number;
  hi: number;
  out: T;
}

export const U32_MAX = 0xffffffff;
export const U64_MAX = (1n << 64n) - 1n;

/** Sort and merge overlapping or adjacent intervals. */
export function normalizeSet(list: readonly (readonly [bigint, bigint])[]): IntervalSet {
  const sorted = list.filter(([a, b]) => a <= b).slice().sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const out: [bigint, bigint][] = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && a <= last[1] + 1n) { if (b > last[1]) last[1] = b; } else out.push([a, b]);
  }
  return out;
}

export function unionSets(a: IntervalSet, b: IntervalSet): IntervalSet {
  return normalizeSet([...a, ...b]);
}

export function intersectSets(a: IntervalSet, b: IntervalSet): IntervalSet {
  const out: [bigint, bigint][] = [];
  for (const [a0, a1] of a) {
    for (const [b0, b1] of b) {
      const lo = a0 > b0 ? a0 : b0;
      const hi = a1 < b1 ? a1 : b1;
      if (lo <= hi) out.push([lo, hi]);
    }
  }
  return normalizeSet(out);
}

export function isFullSet(s: IntervalSet, max: bigint): boolean {
  return s.length === 1 && s[0]![0] === 0n && s[0]![1] === max;
}

export function setHas(s: IntervalSet, v: bigint): boolean {
  return s.some(([a, b]) => a <= v && v <= b);
}

/** Merge neighbouring segments with the same outcome. */
export function mergeSegments<T>(segs: readonly Segment<T>[]): Segment<T>[] {
  const out: Segment<T>[] = [];
  for (const s of segs) {
    const last = out[out.length - 1];
    if (last !== undefined && last.out === s.out && last.hi + 1 === s.lo) last.hi = s.hi;
    else out.push({ ...s });
  }
  return out;
}

/** Cover of the u32 space by a set of u32 values: inside -> `inside`, outside -> `outside`. */
export function wordSegments<T>(set: IntervalSet, inside: T, outside: T): Segment<T>[] {
  const segs: Segment<T>[] = [];
  let cursor = 0;
  for (const [a, b] of set) {
    const lo = Number(a);
    const hi = Number(b);
    if (cursor < lo) segs.push({ lo: cursor, hi: lo - 1, out: outside });
    segs.push({ lo, hi, out: inside });
    cursor = hi + 1;
  }
  if (cursor <= U32_MAX) segs.push({ lo: cursor, hi: U32_MAX, out: outside });
  return mergeSegments(segs);
}

/** For a u64 set: the low-word set for one fixed high word. */
export function lowWordSet(set: IntervalSet, hiWord: number): IntervalSet {
  const base = BigInt(hiWord) << 32n;
  return intersectSets(set, [[base, base + 0xffffffffn]]).map(([a, b]) => [a - base, b - base] as const);
}

/**
 * Split a u64 set by its high word: a cover of the high-word space whose outcomes are
 * `inside`, `outside` or, for high words where only some low words match, the low-word set.
 */
export function highWordSegments<T>(set: IntervalSet, inside: T, outside: T): Segment<T | IntervalSet>[] {
  const points = [...new Set(set.flatMap(([a, b]) => [Number(a >> 32n), Number(b >> 32n)]))].sort((x, y) => x - y);
  const segs: Segment<T | IntervalSet>[] = [];
  let cursor = 0;
  const constant = (h: number): T => (setHas(set, BigInt(h) << 32n) ? inside : outside);
  for (const p of points) {
    if (cursor < p) segs.push({ lo: cursor, hi: p - 1, out: constant(cursor) });
    const low = lowWordSet(set, p);
    const out = low.length === 0 ? outside : isFullSet(low, 0xffffffffn) ? inside : low;
    segs.push({ lo: p, hi: p, out });
    cursor = p + 1;
  }
  if (cursor <= U32_MAX) segs.push({ lo: cursor, hi: U32_MAX, out: constant(cursor) });
  return mergeSegments(segs);
}

/** A decision tree over one u32 word: jeq/jge compares, outcomes at the leaves. */
export type RangeTree<T> =
  | { readonly kind: 'leaf'; readonly out: T }
  | { readonly kind: 'cmp'; readonly op: 'jeq' | 'jge'; readonly k: number; readonly t: RangeTree<T>; readonly f: RangeTree<T> };

export interface RangeTreeOptions {
  /**
   * Use a `jeq` chain when all but one outcome are single values and there are at most
   * this many of them and no more than the depth of a balanced tree. Default 4.
   */
  maxChain?: number;
}

/** Balanced search tree over a complete, merged cover of the u32 space (or a part of it). */
export function buildRangeTree<T>(segs: readonly Segment<T>[], opts: RangeTreeOptions = {}): RangeTree<T> {
  if (segs.length === 0) throw new Error('buildRangeTree: no segments');
  const maxChain = opts.maxChain ?? 4;
  const build = (i: number, j: number): RangeTree<T> => {
    const first = segs[i]!;
    if (i === j) return { kind: 'leaf', out: first.out };
    // Dominant outcome with single-value exceptions: a chain of jeq. Try each outcome as
    // the dominant one; keep the one with the fewest exceptions.
    // A chain no deeper than the balanced tree would be, and at most maxChain long.
    const limit = Math.min(maxChain, Math.ceil(Math.log2(j - i + 1)));
    const outs = [...new Set(segs.slice(i, j + 1).map((s) => s.out))];
    let best: Segment<T>[] | undefined;
    let dominant = first.out;
    for (const o of outs) {
      const exceptions = segs.slice(i, j + 1).filter((s) => s.out !== o);
      if (exceptions.length <= limit && exceptions.every((s) => s.lo === s.hi) && (best === undefined || exceptions.length < best.length)) {
        best = exceptions;
        dominant = o;
      }
    }
    if (best !== undefined) {
      let tree: RangeTree<T> = { kind: 'leaf', out: dominant };
      for (let x = best.length - 1; x >= 0; x--) {
        const e = best[x]!;
        tree = { kind: 'cmp', op: 'jeq', k: e.lo, t: { kind: 'leaf', out: e.out }, f: tree };
      }
      return tree;
    }
    const m = i + Math.ceil((j - i + 1) / 2);
    return { kind: 'cmp', op: 'jge', k: segs[m]!.lo, t: build(m, j), f: build(i, m - 1) };
  };
  return build(0, segs.length - 1);
}

/** Depth in compares of the deepest leaf. */
export function rangeTreeDepth<T>(tree: RangeTree<T>): number {
  return tree.kind === 'leaf' ? 0 : 1 + Math.max(rangeTreeDepth(tree.t), rangeTreeDepth(tree.f));
}
