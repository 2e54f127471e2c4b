// Randomised differential test: compiled programs (optimised and not) against the plain
// evaluator in reference.ts, on random small profiles and random seccomp_data.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SeccompAction, SeccompOperator } from '../oci.js';
import { compileSeccomp, type CompileArg, type CompileInput, type CompileOptions, type CompileSyscall } from './compile.js';
import { AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, formatAction, runFilter, type SeccompData } from './emulate.js';
import { evaluateSeccomp } from './reference.js';

/** xorshift128+, seeded: failures are reproducible from the printed seed. */
function rng(seed: number): { int: (n: number) => number; u64: () => bigint; pick: <T>(xs: readonly T[]) => T; chance: (p: number) => boolean } {
  let s0 = BigInt(seed) * 0x9e3779b97f4a7c15n & ((1n << 64n) - 1n) | 1n;
  let s1 = (BigInt(seed) + 0x1234567n) * 0xbf58476d1ce4e5b9n & ((1n << 64n) - 1n) | 1n;
  const M = (1n << 64n) - 1n;
  const next = (): bigint => {
    let x = s0;
    const y = s1;
    s0 = y;
    x = (x ^ (x << 23n)) & M;
    s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    return (s1 + y) & M;
  };
  const int = (n: number): number => Number(next() % BigInt(n));
  return { int, u64: next, pick: (xs) => xs[int(xs.length)]!, chance: (p) => int(1_000_000) < p * 1_000_000 };
}

const ACTIONS: readonly SeccompAction[] = [
  'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO', 'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY',
];
const OPS: readonly SeccompOperator[] = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'];
const BOUNDARIES: readonly bigint[] = [
  0n, 1n, 2n, 0x7fffffffn, 0x80000000n, 0xfffffffen, 0xffffffffn, 0x100000000n, 0x100000001n, 0x1ffffffffn,
  0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffff00000000n, 0xfffffffffffffffen, 0xffffffffffffffffn,
];

interface World { profile: CompileInput; opts: CompileOptions; nrs: Map<string, number[]>; values: bigint[] }

function randomWorld(seed: number): World {
  const r = rng(seed);
  const native = r.chance(0.8) ? 'SCMP_ARCH_X86_64' : 'SCMP_ARCH_AARCH64';
  const subArches = native === 'SCMP_ARCH_X86_64' ? ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'] : ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'];
  // A small random syscall table per arch; some names missing on some arches.
  const names = Array.from({ length: 6 + r.int(10) }, (_, i) => `sc${i}`);
  const table = new Map<string, Map<string, number>>();
  const nrs = new Map<string, number[]>();
  for (const a of subArches) {
    const m = new Map<string, number>();
    for (const n of names) if (!r.chance(0.15)) m.set(n, r.chance(0.5) ? r.int(20) : r.int(600));
    if (a === 'SCMP_ARCH_X32') for (const [n, v] of m) if (r.chance(0.5)) m.set(n, v | 0x40000000); // with and without the bit
    table.set(a, m);
    nrs.set(a, [...m.values()].map((v) => (a === 'SCMP_ARCH_X32' ? (v | 0x40000000) >>> 0 : v)));
  }
  const values: bigint[] = [];
  const value = (): bigint => {
    const v = r.chance(0.6) ? r.pick(BOUNDARIES) : r.chance(0.5) ? BigInt(r.int(64)) : r.u64();
    values.push(v);
    return v;
  };
  const arg = (): CompileArg => {
    const op = r.pick(OPS);
    const index = r.int(3);
    if (op === 'SCMP_CMP_MASKED_EQ') {
      const mask = r.chance(0.3) ? BigInt(1 << r.int(31)) : value();
      const datum = r.chance(0.5) ? 0n : r.chance(0.5) ? mask : mask & value();
      values.push(datum, mask);
      return r.chance(0.2) ? { index, value: mask, op } : { index, value: mask, valueTwo: datum, op };
    }
    const v = value();
    return { index, value: v <= BigInt(Number.MAX_SAFE_INTEGER) && r.chance(0.5) ? Number(v) : v, op };
  };
  const action = (): { action: SeccompAction; errnoRet?: number } => {
    const a = r.pick(ACTIONS);
    return r.chance(0.6) ? { action: a, errnoRet: r.int(4) } : { action: a };
  };
  const syscalls: CompileSyscall[] = Array.from({ length: 1 + r.int(8) }, () => {
    const n = Array.from({ length: 1 + r.int(3) }, () => r.pick([...names, 'unknown_name']));
    const args = r.chance(0.3) ? undefined : Array.from({ length: 1 + r.int(3) }, arg);
    return args === undefined ? { names: n, ...action() } : { names: n, ...action(), args };
  });
  const listed = subArches.filter(() => r.chance(0.6));
  const profile: CompileInput = { ...(r.chance(0.5) ? { defaultAction: r.pick(ACTIONS), defaultErrnoRet: r.int(3) } : { defaultAction: r.pick(ACTIONS) }), architectures: listed, syscalls };
  const opts: CompileOptions = {
    arch: native, resolveNr: (a, n) => table.get(a)?.get(n),
    ...(r.chance(0.3) ? { badArchRet: 0x80000000 } : {}),
    ...(r.chance(0.3) ? { duplicateArgs: 'and' as const } : {}),
    ...(r.chance(0.3) ? { enosysStub: true } : {}),
  };
  return { profile, opts, nrs, values };
}

function randomData(seed: number, w: World, count: number): SeccompData[] {
  const r = rng(seed ^ 0x5bd1e995);
  const arches = w.opts.arch === 'SCMP_ARCH_X86_64' ? [AUDIT_ARCH_X86_64, AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64] : [AUDIT_ARCH_AARCH64, AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, AUDIT_ARCH_X86_64];
  const allNrs = [...w.nrs.values()].flat();
  const near = (): bigint => {
    const base = w.values.length > 0 && r.chance(0.8) ? r.pick(w.values) : r.pick(BOUNDARIES);
    const d = r.pick([-1n, 0n, 0n, 1n, 0x100000000n, -0x100000000n]);
    const mix = r.chance(0.2) ? (r.u64() & 0xffffffff00000000n) | (base & 0xffffffffn) : base + d;
    return BigInt.asUintN(64, mix);
  };
  return Array.from({ length: count }, () => {
    const nr = r.chance(0.85) && allNrs.length > 0 ? r.pick(allNrs) + r.pick([0, 0, 0, 1, -1]) : r.pick([0, 1, 0x3fffffff, 0x40000000, 0x40000001, 0x7fffffff, 0xfffffffe, 0xffffffff, r.int(1000)]);
    return { nr: nr >>> 0, arch: r.pick(arches), args: [near(), near(), near(), r.u64(), 0n, 0n] };
  });
}

test('compiled programs agree with the reference evaluator on random profiles', (t) => {
  const PROFILES = Number(process.env["SECCOMP_RANDOM_PROFILES"] ?? 400);
  const PER_PROFILE = 150;
  let checks = 0;
  let insns = 0;
  for (let seed = 1; seed <= PROFILES; seed++) {
    const w = randomWorld(seed);
    const optimised = compileSeccomp(w.profile, w.opts);
    const plain = compileSeccomp(w.profile, { ...w.opts, optimize: false });
    assert.ok(optimised.length <= plain.length, `seed ${seed}: optimiser grew the program`);
    insns += optimised.length;
    for (const d of randomData(seed, w, PER_PROFILE)) {
      const want = evaluateSeccomp(w.profile, d, w.opts);
      const got = runFilter(optimised, d);
      const gotPlain = runFilter(plain, d);
      if (got !== want || gotPlain !== want) {
        assert.fail(`seed ${seed}: nr 0x${d.nr.toString(16)} arch 0x${d.arch.toString(16)} args ${String(d.args)}: `
          + `reference ${formatAction(want)}, compiled ${formatAction(got)}, unoptimised ${formatAction(gotPlain)}\n`
          + JSON.stringify(w.profile, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)));
      }
      checks++;
    }
  }
  t.diagnostic(`${PROFILES} profiles, ${checks} verdicts compared, mean program ${(insns / PROFILES).toFixed(1)} instructions`);
});
