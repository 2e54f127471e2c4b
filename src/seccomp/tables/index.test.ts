import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EngineError } from '../../base/errors.js';
import { readFixtureJson, seccompFixtureDir } from '../../../test/helpers/seccomp-fixtures.js';
import { AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT } from '../bpf/constants.js';
import {
  AUDIT_ARCH,
  hostArch,
  isKnownOnAnyArch,
  SECCOMP_ARCHES,
  syscallName,
  syscallNames,
  syscallNumber,
  tableInfo,
} from './index.js';

test('syscallNumber() knows the x86_64, i386, x32 and aarch64 numbers', async (t) => {
  const cases: Array<[Parameters<typeof syscallNumber>[0], string, number | undefined]> = [
    ['SCMP_ARCH_X86_64', 'read', 0],
    ['SCMP_ARCH_X86_64', 'mkdir', 83],
    ['SCMP_ARCH_X86_64', 'socket', 41],
    ['SCMP_ARCH_X86_64', 'file_setattr', 469],
    ['SCMP_ARCH_X86_64', 'listns', undefined], // newer than 6.18
    ['SCMP_ARCH_X86_64', 'chown32', undefined], // i386 only
    ['SCMP_ARCH_X86', 'chown32', 212],
    ['SCMP_ARCH_X86', 'socketcall', 102],
    ['SCMP_ARCH_X32', 'read', X32_SYSCALL_BIT + 0],
    ['SCMP_ARCH_X32', 'cachestat', 1073742275],
    ['SCMP_ARCH_AARCH64', 'openat', 56],
    ['SCMP_ARCH_AARCH64', 'open', undefined],
    ['SCMP_ARCH_AARCH64', 'statmount', 457],
    ['SCMP_ARCH_AARCH64', 'file_setattr', 469],
    ['SCMP_ARCH_MIPS', 'statmount', 4457],
    ['SCMP_ARCH_RISCV64', 'riscv_hwprobe', 258],
    ['SCMP_ARCH_X86_64', 'no_such_syscall', undefined],
  ];
  for (const [arch, name, want] of cases) {
    await t.test(`${arch} ${name}`, () => assert.equal(syscallNumber(arch, name), want));
  }
});

test('syscallName() is the inverse of syscallNumber()', () => {
  for (const arch of SECCOMP_ARCHES) {
    for (const name of syscallNames(arch)) {
      const nr = syscallNumber(arch, name);
      assert.notEqual(nr, undefined, `${arch} ${name}`);
      // Aliases may share a number; the name found must map back to the same number.
      assert.equal(syscallNumber(arch, syscallName(arch, nr as number) as string), nr, `${arch} ${name}`);
    }
  }
  assert.equal(syscallName('SCMP_ARCH_X86_64', 83), 'mkdir');
  assert.equal(syscallName('SCMP_ARCH_X86_64', 470), undefined);
  assert.equal(syscallName('SCMP_ARCH_X86_64', -1), undefined);
});

test('x86 tables match the 6.18 fixture exactly', (t) => {
  if (seccompFixtureDir() === undefined) return t.skip('test/fixtures/seccomp not found');
  const fx = readFixtureJson('x86_64-6.18.json') as Record<string, Record<string, number>>;
  for (const [arch, key, count] of [['SCMP_ARCH_X86_64', 'x86_64', 383], ['SCMP_ARCH_X86', 'i386', 459], ['SCMP_ARCH_X32', 'x32', 372]] as const) {
    const want = fx[key] ?? {};
    assert.equal(syscallNames(arch).length, count, arch);
    assert.deepEqual(Object.fromEntries(syscallNames(arch).map((n) => [n, syscallNumber(arch, n)])), want, arch);
  }
});

test('syscallNames() is ordered by number and empty for nothing', () => {
  const names = syscallNames('SCMP_ARCH_AARCH64');
  assert.ok(names.length > 300);
  const nrs = names.map((n) => syscallNumber('SCMP_ARCH_AARCH64', n) as number);
  assert.deepEqual(nrs, [...nrs].sort((a, b) => a - b));
});

test('isKnownOnAnyArch() covers every arch and rejects typos', () => {
  assert.equal(isKnownOnAnyArch('mkdir'), true);
  assert.equal(isKnownOnAnyArch('chown32'), true); // i386
  assert.equal(isKnownOnAnyArch('s390_pci_mmio_read'), true);
  assert.equal(isKnownOnAnyArch('riscv_hwprobe'), true);
  assert.equal(isKnownOnAnyArch('mkdirr'), false);
  assert.equal(isKnownOnAnyArch('listns'), false); // after 6.18
});

test('AUDIT_ARCH values follow linux/audit.h', () => {
  assert.equal(AUDIT_ARCH_X86_64, 0xc000003e);
  assert.equal(AUDIT_ARCH_I386, 0x40000003);
  assert.equal(AUDIT_ARCH_AARCH64, 0xc00000b7);
  assert.equal(AUDIT_ARCH.SCMP_ARCH_X32, AUDIT_ARCH_X86_64);
  assert.equal(AUDIT_ARCH.SCMP_ARCH_ARM, 0x40000028);
  assert.equal(AUDIT_ARCH.SCMP_ARCH_RISCV64, 0xc00000f3);
  assert.equal(AUDIT_ARCH.SCMP_ARCH_S390X, 0x80000016);
  assert.equal(AUDIT_ARCH.SCMP_ARCH_PPC64LE, 0xc0000015);
  for (const v of Object.values(AUDIT_ARCH)) assert.ok(v >= 0 && v <= 0xffffffff);
});

test('tableInfo() names the kernel and the source', () => {
  assert.equal(tableInfo('SCMP_ARCH_X86_64').kernel, '6.18');
  assert.match(tableInfo('SCMP_ARCH_AARCH64').source, /libseccomp 2\.5\.4/);
});

test('hostArch() maps process.arch and rejects unknown arches', () => {
  assert.equal(hostArch('x64'), 'SCMP_ARCH_X86_64');
  assert.equal(hostArch('arm64'), 'SCMP_ARCH_AARCH64');
  assert.equal(hostArch('ia32'), 'SCMP_ARCH_X86');
  assert.throws(() => hostArch('wasm32'), (e: unknown) => e instanceof EngineError && e.kind === 'not-implemented' && /wasm32/.test(e.message));
});
