import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../../base/errors.js';
import type { SeccompAction, SeccompOperator } from '../oci.js';
import { compileSeccomp, type CompileInput, type CompileOptions } from './compile.js';
import {
  AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, AUDIT_ARCH_I386, AUDIT_ARCH_MIPS, AUDIT_ARCH_X86_64, SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_LOG, SECCOMP_RET_TRACE,
  SECCOMP_RET_TRAP, SECCOMP_RET_USER_NOTIF,
} from './constants.js';
import { runFilter } from './emulate.js';
import { setHas } from './ranges.js';
import { evaluateRules, evaluateSeccomp } from './reference.js';
import {
  ACTION_RET, ENOSYS_RET, acceptedValues, actionRet, argMatches, argWidth, enosysCutoff, retLetsCallRun, retRank,
  ruleArgsMatch, subArchOf,
} from './semantics.js';

test('actionRet() maps every SCMP_ACT_* to its SECCOMP_RET_* value, errno EPERM when absent', () => {
  const cases: [SeccompAction, number | undefined, number][] = [
    ['SCMP_ACT_KILL', undefined, SECCOMP_RET_KILL_THREAD], ['SCMP_ACT_KILL_THREAD', 9, SECCOMP_RET_KILL_THREAD],
    ['SCMP_ACT_KILL_PROCESS', undefined, SECCOMP_RET_KILL_PROCESS], ['SCMP_ACT_TRAP', 5, SECCOMP_RET_TRAP],
    ['SCMP_ACT_ERRNO', undefined, SECCOMP_RET_ERRNO | 1], ['SCMP_ACT_ERRNO', 0, SECCOMP_RET_ERRNO], ['SCMP_ACT_ERRNO', 4095, SECCOMP_RET_ERRNO | 4095],
    ['SCMP_ACT_TRACE', undefined, SECCOMP_RET_TRACE | 1], ['SCMP_ACT_TRACE', 0xffff, SECCOMP_RET_TRACE | 0xffff],
    ['SCMP_ACT_LOG', 7, SECCOMP_RET_LOG], ['SCMP_ACT_ALLOW', undefined, SECCOMP_RET_ALLOW], ['SCMP_ACT_NOTIFY', 3, SECCOMP_RET_USER_NOTIF],
  ];
  for (const [action, errno, want] of cases) assert.equal(actionRet(action, errno), want >>> 0, `${action} ${String(errno)}`);
  assert.deepEqual(Object.keys(ACTION_RET).sort(), cases.map(([a]) => a).filter((a, i, all) => all.indexOf(a) === i).sort(), 'one entry per action');
});

test('actionRet() refuses an unknown action and an errno out of range, naming the field', () => {
  for (const [action, errno] of [['SCMP_ACT_ERRNO', 4096], ['SCMP_ACT_ERRNO', -1], ['SCMP_ACT_ERRNO', 1.5], ['SCMP_ACT_TRACE', 0x10000], ['SCMP_ACT_NOPE', undefined]] as const) {
    assert.throws(() => actionRet(action as SeccompAction, errno, 'syscalls[2].action'),
      (e: unknown) => e instanceof EngineError && e.code === 'ERR_SECCOMP_COMPILE' && /syscalls\[2\]\.action/.test(e.message), `${action} ${String(errno)}`);
  }
});

test('retRank() orders actions as the kernel does; ALLOW and LOG let the call run', () => {
  const order = [SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP, SECCOMP_RET_ERRNO | 1, SECCOMP_RET_USER_NOTIF, SECCOMP_RET_TRACE, SECCOMP_RET_LOG, SECCOMP_RET_ALLOW];
  for (let i = 1; i < order.length; i++) assert.ok(retRank(order[i - 1]!) < retRank(order[i]!), `${i}`);
  assert.equal(retRank(SECCOMP_RET_ERRNO | 1), retRank(SECCOMP_RET_ERRNO | 4000), 'data does not rank');
  assert.deepEqual(order.map(retLetsCallRun), [false, false, false, false, false, false, true, true]);
});

test('argMatches() and the compiler\'s acceptedValues() agree for every operator, 64 and 32 bits', () => {
  const ops: SeccompOperator[] = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'];
  const values = [0n, 1n, 2n, 5n, 0x7fffffffn, 0x80000000n, 0xfffffffen, 0xffffffffn, 0x100000000n, 0x100000005n, 0xffffffff00000000n, 0xfffffffffffffffen, 0xffffffffffffffffn];
  let checked = 0;
  for (const width of [64, 32] as const) {
    for (const op of ops) {
      for (const value of values) {
        for (const valueTwo of op === 'SCMP_CMP_MASKED_EQ' ? [0n, value, value & 0xffn, 3n] : [0n]) {
          const accepted = acceptedValues({ op, value, valueTwo }, width);
          for (const x of values) {
            const m = width === 64 ? (1n << 64n) - 1n : 0xffffffffn;
            const inSet = typeof accepted === 'boolean' ? accepted
              : accepted.kind === 'set' ? setHas(accepted.set, x & m) : ((x & m) & accepted.mask) === accepted.datum;
            assert.equal(inSet, argMatches({ op, value, valueTwo }, x, width), `${op} ${value} ${valueTwo} x=${x} w=${width}`);
            checked++;
          }
        }
      }
    }
  }
  assert.ok(checked > 3000);
});

test('ruleArgsMatch() ANDs comparisons and ORs a repeated index as runc splits the rule', () => {
  const args = (...v: bigint[]) => (i: number): bigint => v[i] ?? 0n;
  const and = [{ index: 0, op: 'SCMP_CMP_EQ' as const, value: 2 }, { index: 1, op: 'SCMP_CMP_EQ' as const, value: 1 }];
  assert.equal(ruleArgsMatch(and, args(2n, 1n), { width: 64 }), true);
  assert.equal(ruleArgsMatch(and, args(2n, 2n), { width: 64 }), false);
  const twice = [{ index: 0, op: 'SCMP_CMP_NE' as const, value: 38 }, { index: 0, op: 'SCMP_CMP_NE' as const, value: 40 }];
  assert.equal(ruleArgsMatch(twice, args(38n), { width: 64 }), true, 'OR: 38 != 40');
  assert.equal(ruleArgsMatch(twice, args(38n), { width: 64, duplicateArgs: 'and' }), false);
  assert.equal(ruleArgsMatch(undefined, args(), { width: 64 }), true, 'no comparisons');
  assert.equal(ruleArgsMatch([{ index: 0, op: 'SCMP_CMP_EQ', value: 0xffffffff }], args(0x1ffffffffn), { width: 32 }), true, '32-bit ABIs see the low word');
});

test('argWidth() and subArchOf() place a call in its ABI', () => {
  assert.equal(argWidth(AUDIT_ARCH_X86_64, 39), 64);
  assert.equal(argWidth(AUDIT_ARCH_X86_64, 0x40000027), 32);
  assert.equal(argWidth(AUDIT_ARCH_I386, 20), 32);
  assert.equal(argWidth(AUDIT_ARCH_AARCH64, 172), 64);
  assert.equal(argWidth(AUDIT_ARCH_MIPS, 4020), 32);
  assert.deepEqual(subArchOf({ arch: AUDIT_ARCH_X86_64, nr: 39 }, { native: 'SCMP_ARCH_X86_64', architectures: [] }), { sub: 'SCMP_ARCH_X86_64', width: 64 });
  assert.equal(subArchOf({ arch: AUDIT_ARCH_X86_64, nr: 0x40000027 }, { native: 'SCMP_ARCH_X86_64', architectures: [] }), 'bad-arch');
  assert.equal(subArchOf({ arch: AUDIT_ARCH_X86_64, nr: -1 }, { native: 'SCMP_ARCH_X86_64', architectures: [] }), 'x32-minus-one');
  assert.deepEqual(subArchOf({ arch: AUDIT_ARCH_X86_64, nr: 0x40000027 }, { native: 'SCMP_ARCH_X86_64', architectures: ['SCMP_ARCH_X32'] }), { sub: 'SCMP_ARCH_X32', width: 32 });
  assert.equal(subArchOf({ arch: AUDIT_ARCH_I386, nr: 20 }, { native: 'SCMP_ARCH_X86_64', architectures: [] }), 'bad-arch');
  assert.deepEqual(subArchOf({ arch: AUDIT_ARCH_ARM, nr: 20 }, { native: 'SCMP_ARCH_AARCH64', architectures: ['SCMP_ARCH_ARM'] }), { sub: 'SCMP_ARCH_ARM', width: 32 });
});

// A tiny table: read 0, getpid 39, mkdir 83 on x86_64; getpid 20 on i386.
const NRS: Record<string, Record<string, number>> = { SCMP_ARCH_X86_64: { read: 0, getpid: 39, mkdir: 83 }, SCMP_ARCH_X86: { getpid: 20, mkdir: 39 } };
const opts: CompileOptions = { arch: 'SCMP_ARCH_X86_64', resolveNr: (a, n) => NRS[a]?.[n], enosysStub: true };
const blocked = (p: CompileInput, nr: number, arch = AUDIT_ARCH_X86_64): { bpf: number; rules: number } =>
  ({ bpf: runFilter(compileSeccomp(p, opts), { nr, arch }) >>> 0, rules: evaluateSeccomp(p, { nr, arch }, opts) >>> 0 });

test('runc\'s ENOSYS stub: only for listed arches, not for a permissive default, not when the largest number is 0', () => {
  const base: CompileInput = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['getpid', 'mkdir'], action: 'SCMP_ACT_ALLOW' }] };
  // Listed: numbers above mkdir (83) are ENOSYS, below it the default EPERM.
  const listed = { ...base, architectures: ['SCMP_ARCH_X86_64'] };
  assert.equal(enosysCutoff(listed, 'SCMP_ARCH_X86_64', opts.resolveNr), 83);
  assert.deepEqual(blocked(listed, 84), { bpf: ENOSYS_RET, rules: ENOSYS_RET });
  assert.deepEqual(blocked(listed, 50), { bpf: SECCOMP_RET_ERRNO | 1, rules: SECCOMP_RET_ERRNO | 1 });
  // No architectures: runc 1.1.5 adds no stub at all (findLastSyscalls loops over the listed arches).
  assert.equal(enosysCutoff(base, 'SCMP_ARCH_X86_64', opts.resolveNr), undefined);
  assert.deepEqual(blocked(base, 84), { bpf: SECCOMP_RET_ERRNO | 1, rules: SECCOMP_RET_ERRNO | 1 });
  // Only x86 listed: the native x86_64 section gets no stub, x86 does.
  const x86Only = { ...base, architectures: ['SCMP_ARCH_X86'] };
  assert.deepEqual(blocked(x86Only, 84), { bpf: SECCOMP_RET_ERRNO | 1, rules: SECCOMP_RET_ERRNO | 1 });
  assert.deepEqual(blocked(x86Only, 40, AUDIT_ARCH_I386), { bpf: ENOSYS_RET, rules: ENOSYS_RET });
  // ALLOW, LOG and TRACE defaults: no stub (runc isAllowAction).
  for (const defaultAction of ['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE'] as const) {
    const permissive: CompileInput = { ...listed, defaultAction, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_KILL' }] };
    assert.equal(enosysCutoff(permissive, 'SCMP_ARCH_X86_64', opts.resolveNr), undefined, defaultAction);
  }
  // Only `read` (0) named: runc drops a largest number of 0, so no stub.
  const readOnly: CompileInput = { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] };
  assert.deepEqual(blocked(readOnly, 5), { bpf: SECCOMP_RET_ERRNO | 1, rules: SECCOMP_RET_ERRNO | 1 });
  // The rule evaluator says what decided.
  assert.deepEqual(evaluateRules(listed, { nr: 84, arch: AUDIT_ARCH_X86_64 }, opts).by, { kind: 'enosys-stub', cutoff: 83 });
});
