import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LinuxSeccomp } from '../oci.js';
import { linux618Resolver, readFixture, readJsonFixture } from '../../../test/fixtures/bpf/load.js';
import { compileSeccomp, type CompileInput, type CompileOptions } from './compile.js';
import {
  AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_LOG, SECCOMP_RET_TRACE, SECCOMP_RET_TRAP,
  SECCOMP_RET_USER_NOTIF, formatAction, runFilter, runFilterTrace, type SeccompData,
} from './emulate.js';
import { loadProgram, type Program } from './program.js';
import { evaluateSeccomp } from './reference.js';

const DEFAULT = readJsonFixture<LinuxSeccomp>('default-main.oci-amd64-defaultcaps.json');
const X86_64_ONLY: LinuxSeccomp = { ...DEFAULT, architectures: ['SCMP_ARCH_X86_64'] };
const asLibseccomp: CompileOptions = { arch: 'SCMP_ARCH_X86_64', resolveNr: linux618Resolver(true) };
const X = AUDIT_ARCH_X86_64;

/** Argument values around the default profile's comparisons (socket, personality, clone). */
const ARG_VALUES: readonly bigint[] = [
  0n, 1n, 2n, 6n, 7n, 8n, 9n, 16n, 17n, 37n, 38n, 39n, 40n, 41n, 0x20000n, 0x20008n, 0x20011n, 0x400000n,
  0x10000011n, 0x7e020000n, 0x80000000n, 0xfffffffen, 0xffffffffn, 0x100000000n, 0x100000002n, 0x1ffffffffn,
  0xffffffff00000000n, 0xffffffffffffffffn, 0x8000000000000026n,
];

function dataSet(arch: number, nrs: Iterable<number>): SeccompData[] {
  const out: SeccompData[] = [];
  for (const nr of nrs) out.push({ nr, arch });
  return out;
}
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

function assertSameVerdicts(ours: Program, theirs: Program, cases: readonly SeccompData[], what: string): void {
  for (const d of cases) {
    const a = runFilter(ours, d);
    const b = runFilter(theirs, d);
    if (a !== b) assert.fail(`${what}: nr ${d.nr} arch 0x${(d.arch >>> 0).toString(16)} args ${String(d.args ?? [])}: ours ${formatAction(a)}, libseccomp ${formatAction(b)}`);
  }
}

function argCases(arch: number, nrs: readonly number[]): SeccompData[] {
  const out: SeccompData[] = [];
  for (const nr of nrs) for (const v of ARG_VALUES) out.push({ nr, arch, args: [v, v ^ 1n, 0n, 0n, 0n, v] });
  return out;
}

test('compileSeccomp() returns EPERM for mkdir and allows the rest', () => {
  const program = compileSeccomp({
    defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
  }, { arch: 'SCMP_ARCH_X86_64', resolveNr: linux618Resolver() });
  for (const c of [{ name: 'mkdir', nr: 83, want: SECCOMP_RET_ERRNO | 1 }, { name: 'read', nr: 0, want: SECCOMP_RET_ALLOW }]) {
    assert.equal(runFilter(program, { nr: c.nr, arch: X }), c.want, c.name);
  }
});

test('compileSeccomp() matches libseccomp on the Docker default profile, x86_64 only', (t) => {
  const ours = compileSeccomp(X86_64_ONLY, asLibseccomp);
  const tree = loadProgram(readFixture('libseccomp-2.5.4deb-default-bintree-x86_64.bpf'));
  const linear = loadProgram(readFixture('libseccomp-2.5.4deb-default-linear-x86_64.bpf'));
  const cases = [
    ...dataSet(X, range(0, 1024)),
    ...dataSet(X, range(0x40000000, 0x40000400)),
    ...dataSet(X, [0x3fffffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff]),
    ...dataSet(AUDIT_ARCH_I386, range(0, 512)),
    ...dataSet(AUDIT_ARCH_AARCH64, [0, 172]),
    ...dataSet(0, [0]), ...dataSet(0xffffffff, [110]),
    ...argCases(X, [41, 56, 135, 435, 110]),
  ];
  assertSameVerdicts(ours, tree, cases, 'bintree');
  assertSameVerdicts(ours, linear, cases, 'linear');
  for (const d of cases) assert.equal(runFilter(ours, d), evaluateSeccomp(X86_64_ONLY, d, asLibseccomp));
  const getppid = runFilterTrace(ours, { nr: 110, arch: X }).executed;
  const libGetppid = runFilterTrace(tree, { nr: 110, arch: X }).executed;
  t.diagnostic(`x86_64 only: ${ours.length} instructions (libseccomp bintree ${tree.length}), getppid path ${getppid} (libseccomp ${libGetppid})`);
  assert.ok(ours.length <= 415, `${ours.length} instructions`);
  assert.ok(getppid <= 14, `getppid path ${getppid}`);
});

test('compileSeccomp() matches libseccomp on the Docker default profile, x86_64 + x86 + x32', (t) => {
  const ours = compileSeccomp(DEFAULT, asLibseccomp);
  const tree = loadProgram(readFixture('libseccomp-2.5.4deb-default-bintree-3arch.bpf'));
  const cases = [
    ...dataSet(X, range(0, 1024)),
    ...dataSet(X, range(0x40000000, 0x40000400)),
    ...dataSet(X, [0x7fffffff, 0x80000000, 0xffffffff]),
    ...dataSet(AUDIT_ARCH_I386, range(0, 1024)),
    ...dataSet(AUDIT_ARCH_I386, [0x40000000, 0xffffffff]),
    ...dataSet(AUDIT_ARCH_AARCH64, [0, 172]),
    ...argCases(X, [41, 56, 135, 0x40000000 + 41, 0x40000000 + 56, 0x40000000 + 135]),
    ...argCases(AUDIT_ARCH_I386, [120, 136, 359, 102]),
  ];
  assertSameVerdicts(ours, tree, cases, '3arch');
  for (const d of cases) assert.equal(runFilter(ours, d), evaluateSeccomp(DEFAULT, d, asLibseccomp));
  t.diagnostic(`3 arches: ${ours.length} instructions (libseccomp bintree ${tree.length}), getppid path ${runFilterTrace(ours, { nr: 110, arch: X }).executed}`);
});

test('compileSeccomp() with the full 6.18 table allows what runc dropped', () => {
  const ours = compileSeccomp(X86_64_ONLY, { arch: 'SCMP_ARCH_X86_64', resolveNr: linux618Resolver() });
  for (const nr of [457, 458, 462, 335]) assert.equal(runFilter(ours, { nr, arch: X }), SECCOMP_RET_ALLOW, String(nr));
  assert.equal(runFilter(ours, { nr: 468, arch: X }), SECCOMP_RET_ERRNO | 1);
  assert.equal(runFilter(ours, { nr: 435, arch: X }), SECCOMP_RET_ERRNO | 38);
});

test('compileSeccomp() gives x32 numbers the bad-arch action unless SCMP_ARCH_X32 is listed', () => {
  const opts: CompileOptions = { arch: 'SCMP_ARCH_X86_64', resolveNr: linux618Resolver() };
  const base: CompileInput = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['getpid', 'read'], action: 'SCMP_ACT_ALLOW' }] };
  const x64 = compileSeccomp({ ...base, architectures: ['SCMP_ARCH_X86_64'] }, opts);
  assert.equal(runFilter(x64, { nr: 0x40000027, arch: X }), SECCOMP_RET_KILL_THREAD);
  assert.equal(runFilter(x64, { nr: -1, arch: X }), SECCOMP_RET_ERRNO | 1);
  assert.equal(runFilter(x64, { nr: 39, arch: X }), SECCOMP_RET_ALLOW);
  const withX32 = compileSeccomp({ ...base, architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X32'] }, { ...opts, badArchRet: SECCOMP_RET_KILL_PROCESS });
  assert.equal(runFilter(withX32, { nr: 0x40000027, arch: X }), SECCOMP_RET_ALLOW);
  assert.equal(runFilter(withX32, { nr: 0x40000053, arch: X }), SECCOMP_RET_ERRNO | 1);
  assert.equal(runFilter(withX32, { nr: 20, arch: AUDIT_ARCH_I386 }), SECCOMP_RET_KILL_PROCESS);
});

test('compileSeccomp() encodes every action and its data', () => {
  const opts: CompileOptions = { arch: 'SCMP_ARCH_X86_64', resolveNr: linux618Resolver() };
  const cases: [LinuxSeccomp['defaultAction'], number | undefined, number][] = [
    ['SCMP_ACT_KILL', undefined, SECCOMP_RET_KILL_THREAD], ['SCMP_ACT_KILL_THREAD', 9, SECCOMP_RET_KILL_THREAD],
    ['SCMP_ACT_KILL_PROCESS', undefined, SECCOMP_RET_KILL_PROCESS], ['SCMP_ACT_TRAP', 5, SECCOMP_RET_TRAP],
    ['SCMP_ACT_ERRNO', undefined, SECCOMP_RET_ERRNO | 1], ['SCMP_ACT_ERRNO', 0, SECCOMP_RET_ERRNO], ['SCMP_ACT_ERRNO', 4095, SECCOMP_RET_ERRNO | 4095],
    ['SCMP_ACT_TRACE', undefined, SECCOMP_RET_TRACE | 1], ['SCMP_ACT_TRACE', 5, SECCOMP_RET_TRACE | 5],
    ['SCMP_ACT_LOG', undefined, SECCOMP_RET_LOG], ['SCMP_ACT_NOTIFY', undefined, SECCOMP_RET_USER_NOTIF],
  ];
  for (const [action, errnoRet, want] of cases) {
    const rule = errnoRet === undefined ? { names: ['mkdir'], action } : { names: ['mkdir'], action, errnoRet };
    const p = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [rule] }, opts);
    assert.equal(runFilter(p, { nr: 83, arch: X }), want >>> 0, `${action} ${String(errnoRet)}`);
    const d = errnoRet === undefined ? { defaultAction: action } : { defaultAction: action, defaultErrnoRet: errnoRet };
    const q = compileSeccomp({ ...d, syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] }, opts);
    assert.equal(runFilter(q, { nr: 83, arch: X }), want >>> 0, `default ${action} ${String(errnoRet)}`);
  }
});

test('compileSeccomp() compares 64-bit arguments with unsigned semantics for every operator', () => {
  const opts: CompileOptions = { arch: 'SCMP_ARCH_X86_64', resolveNr: linux618Resolver() };
  const v = 0x100000005n;
  const ops = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT'] as const;
  const want = (op: (typeof ops)[number], a: bigint): boolean =>
    ({ SCMP_CMP_NE: a !== v, SCMP_CMP_LT: a < v, SCMP_CMP_LE: a <= v, SCMP_CMP_EQ: a === v, SCMP_CMP_GE: a >= v, SCMP_CMP_GT: a > v })[op];
  for (const op of ops) {
    const p = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 2, value: v, op }] }] }, opts);
    for (const a of [0n, 4n, 5n, 6n, 0xffffffffn, 0x100000000n, 0x100000004n, v, 0x100000006n, 0x200000005n, 0xffffffff00000005n, (1n << 64n) - 1n]) {
      const got = runFilter(p, { nr: 83, arch: X, args: [0n, 0n, a] }) === (SECCOMP_RET_ERRNO | 1);
      assert.equal(got, want(op, a), `${op} ${a}`);
    }
  }
  const masked = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['umask'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 2, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] }] }, opts);
  assert.deepEqual([0o22, 0, 0o20, 0o77].map((m) => runFilter(masked, { nr: 95, arch: X, args: [BigInt(m)] }) === SECCOMP_RET_ALLOW), [true, false, false, true]);
});

test('compileSeccomp() combines rules for one syscall as documented', () => {
  const opts: CompileOptions = { arch: 'SCMP_ARCH_X86_64', resolveNr: linux618Resolver() };
  const socket = (arg0: bigint, arg1 = 0n): SeccompData => ({ nr: 41, arch: X, args: [arg0, arg1] });
  // AND within a rule
  const and = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, args: [{ index: 0, value: 2, op: 'SCMP_CMP_EQ' }, { index: 1, value: 2, op: 'SCMP_CMP_EQ' }] }] }, opts);
  assert.deepEqual([socket(2n, 1n), socket(2n, 2n), socket(1n, 2n)].map((d) => runFilter(and, d)), [SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | 13, SECCOMP_RET_ALLOW]);
  // same arg twice: runc's OR (default) or AND
  const twice: CompileInput = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, args: [{ index: 0, value: 38, op: 'SCMP_CMP_NE' }, { index: 0, value: 40, op: 'SCMP_CMP_NE' }] }] };
  assert.deepEqual([2n, 38n, 40n].map((a) => runFilter(compileSeccomp(twice, opts), socket(a))), [SECCOMP_RET_ERRNO | 13, SECCOMP_RET_ERRNO | 13, SECCOMP_RET_ERRNO | 13]);
  assert.deepEqual([2n, 38n, 40n].map((a) => runFilter(compileSeccomp(twice, { ...opts, duplicateArgs: 'and' }), socket(a))), [SECCOMP_RET_ERRNO | 13, SECCOMP_RET_ALLOW, SECCOMP_RET_ALLOW]);
  // unconditional rule absorbs conditional ones; the first unconditional rule wins
  const absorb = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [
    { names: ['mkdir'], action: 'SCMP_ACT_TRAP', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }] },
    { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 2 },
    { names: ['mkdir'], action: 'SCMP_ACT_KILL' },
  ] }, opts);
  assert.equal(runFilter(absorb, { nr: 83, arch: X, args: [1n] }), SECCOMP_RET_ERRNO | 2);
  // overlapping conditional rules: the strictest matching action wins
  const overlap = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [
    { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 2, op: 'SCMP_CMP_EQ' }] },
    { names: ['mkdir'], action: 'SCMP_ACT_TRAP', args: [{ index: 0, value: 1, op: 'SCMP_CMP_GE' }] },
  ] }, opts);
  assert.deepEqual([0n, 1n, 2n].map((a) => runFilter(overlap, { nr: 83, arch: X, args: [a] })), [SECCOMP_RET_ALLOW, SECCOMP_RET_TRAP, SECCOMP_RET_TRAP]);
  // a rule with the default action is dropped (runc), unknown names are skipped
  const dropped = compileSeccomp({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [
    { names: ['no_such_syscall', 'mkdir'], action: 'SCMP_ACT_ERRNO' },
    { names: ['mkdir'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 5, op: 'SCMP_CMP_EQ' }] },
  ] }, opts);
  assert.equal(runFilter(dropped, { nr: 83, arch: X, args: [5n] }), SECCOMP_RET_ALLOW);
});

test('compileSeccomp() compares only the low word on 32-bit sections', () => {
  const opts: CompileOptions = { arch: 'SCMP_ARCH_X86_64', resolveNr: linux618Resolver() };
  const p = compileSeccomp({ defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
    syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0xffffffff, op: 'SCMP_CMP_EQ' }] }] }, opts);
  assert.equal(runFilter(p, { nr: 136, arch: AUDIT_ARCH_I386, args: [0x1ffffffffn] }), SECCOMP_RET_ALLOW);
  assert.equal(runFilter(p, { nr: 135, arch: X, args: [0x1ffffffffn] }), SECCOMP_RET_ERRNO | 1);
  assert.equal(runFilter(p, { nr: 135, arch: X, args: [0xffffffffn] }), SECCOMP_RET_ALLOW);
});

test('compileSeccomp() builds aarch64 + arm programs', () => {
  const table: Record<string, Record<string, number>> = { SCMP_ARCH_AARCH64: { getpid: 172, mkdirat: 34 }, SCMP_ARCH_ARM: { getpid: 20, mkdir: 39 } };
  const opts: CompileOptions = { arch: 'SCMP_ARCH_AARCH64', resolveNr: (a, n) => table[a]?.[n] };
  const p = compileSeccomp({ defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM', 'SCMP_ARCH_MIPS'],
    syscalls: [{ names: ['getpid', 'mkdir'], action: 'SCMP_ACT_ALLOW' }] }, opts);
  assert.equal(runFilter(p, { nr: 172, arch: AUDIT_ARCH_AARCH64 }), SECCOMP_RET_ALLOW);
  assert.equal(runFilter(p, { nr: 34, arch: AUDIT_ARCH_AARCH64 }), SECCOMP_RET_ERRNO | 1);
  assert.equal(runFilter(p, { nr: 39, arch: AUDIT_ARCH_ARM }), SECCOMP_RET_ALLOW);
  assert.equal(runFilter(p, { nr: 172, arch: X }), SECCOMP_RET_KILL_THREAD);
});

test('compileSeccomp() inserts trampolines for long jumps and stops at 4096 instructions', (t) => {
  const opts: CompileOptions = { arch: 'SCMP_ARCH_X86_64', resolveNr: (_a, n) => Number(n.slice(2)) };
  const rules = (count: number): CompileInput => ({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: Array.from({ length: count }, (_, i) => ({
    names: [`nr${i}`], action: 'SCMP_ACT_ERRNO' as const, errnoRet: i % 7, args: [{ index: i % 6, value: BigInt(i) * 0x100000001n, op: 'SCMP_CMP_EQ' as const }],
  })) });
  const big = rules(300);
  const p = compileSeccomp(big, opts);
  t.diagnostic(`300 argument rules: ${p.length} instructions`);
  assert.ok(p.length > 600);
  for (let nr = 0; nr < 310; nr += 7) {
    for (const a of [0n, BigInt(nr) * 0x100000001n, BigInt(nr)]) {
      const d: SeccompData = { nr, arch: X, args: Array.from({ length: 6 }, () => a) };
      assert.equal(runFilter(p, d), evaluateSeccomp(big, d, opts), `nr ${nr}`);
    }
  }
  assert.throws(() => compileSeccomp(rules(1200), opts), (e: unknown) => (e as { code?: string }).code === 'ERR_SECCOMP_PROGRAM_TOO_LARGE');
});

test('compileSeccomp() rejects bad input with ERR_SECCOMP_COMPILE', () => {
  const opts: CompileOptions = { arch: 'SCMP_ARCH_X86_64', resolveNr: linux618Resolver() };
  const bad: CompileInput[] = [
    { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 4096 },
    { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', errnoRet: -1 }] },
    { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 0, op: 'SCMP_CMP_EQ' }] }] },
    { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 2 ** 64, op: 'SCMP_CMP_EQ' }] }] },
    { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: -1n, op: 'SCMP_CMP_EQ' }] }] },
    { defaultAction: 'SCMP_ACT_NOPE' as 'SCMP_ACT_ALLOW' },
  ];
  for (const input of bad) {
    assert.throws(() => compileSeccomp(input, opts), (e: unknown) => (e as { code?: string }).code === 'ERR_SECCOMP_COMPILE', JSON.stringify(input, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
  }
});

test('compileSeccomp() with enosysStub matches runc 1.1.5 on the Docker default profile', (t) => {
  const ours = compileSeccomp(DEFAULT, { ...asLibseccomp, enosysStub: true });
  const runc = loadProgram(readFixture('runc-1.1.5-default-main.bpf'));
  const cases = [
    ...dataSet(X, range(0, 1024)),
    ...dataSet(X, range(0x40000000, 0x40000400)),
    ...dataSet(X, [0x3fffffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff]),
    ...dataSet(AUDIT_ARCH_I386, range(0, 1024)),
    ...dataSet(AUDIT_ARCH_I386, [0x40000000, 0xffffffff]),
    ...dataSet(AUDIT_ARCH_AARCH64, [0, 172]),
    ...argCases(X, [41, 56, 135, 0x40000000 + 41, 0x40000000 + 135]),
    ...argCases(AUDIT_ARCH_I386, [120, 136, 359]),
  ];
  assertSameVerdicts(ours, runc, cases, 'runc');
  for (const d of cases) assert.equal(runFilter(ours, d), evaluateSeccomp(DEFAULT, d, { ...asLibseccomp, enosysStub: true }));
  t.diagnostic(`with the ENOSYS stub: ${ours.length} instructions (runc ${runc.length}), getppid path ${runFilterTrace(ours, { nr: 110, arch: X }).executed} (runc ${runFilterTrace(runc, { nr: 110, arch: X }).executed})`);
  // With the full 6.18 table the highest named number is 466 (removexattrat): 457 is
  // allowed, 467 and up get ENOSYS, below that unnamed numbers get the default EPERM.
  const full = compileSeccomp(DEFAULT, { arch: 'SCMP_ARCH_X86_64', resolveNr: linux618Resolver(), enosysStub: true });
  assert.deepEqual([457, 466, 467, 468].map((nr) => runFilter(full, { nr, arch: X })), [SECCOMP_RET_ALLOW, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | 38, SECCOMP_RET_ERRNO | 38]);
  assert.equal(runFilter(full, { nr: 165, arch: X }), SECCOMP_RET_ERRNO | 1);
  const allow = compileSeccomp({ ...DEFAULT, defaultAction: 'SCMP_ACT_LOG' }, { ...asLibseccomp, enosysStub: true });
  assert.equal(runFilter(allow, { nr: 999, arch: X }), SECCOMP_RET_LOG);
});
