import assert from 'node:assert/strict';
import { test } from 'node:test';
import { orderForLibseccomp } from './order.js';
import type { LinuxSeccomp } from './oci.js';

test('orderForLibseccomp() sorts names by descending native number, sub-arch-only names first', () => {
  const s: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ERRNO',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
    syscalls: [
      { names: ['read', 'chown32', 'write', 'getppid', 'fstat64'], action: 'SCMP_ACT_ALLOW' },
      { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 0, value: 38, op: 'SCMP_CMP_EQ' }] },
    ],
  };
  const got = orderForLibseccomp(s, 'SCMP_ARCH_X86_64');
  // i386: fstat64 197, chown32 212; x86_64: getppid 110, write 1, read 0.
  assert.deepEqual(got.syscalls!.map((r) => r.names), [['chown32', 'fstat64', 'getppid', 'write', 'read'], ['socket']]);
  assert.deepEqual(got.syscalls![1], s.syscalls![1]);
  assert.deepEqual(s.syscalls![0]!.names, ['read', 'chown32', 'write', 'getppid', 'fstat64'], 'input unchanged');
});

test('orderForLibseccomp() uses the given arch when the section names none, and keeps a section without rules', () => {
  const got = orderForLibseccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read', 'mkdir'], action: 'SCMP_ACT_ERRNO' }] }, 'SCMP_ARCH_X86_64');
  assert.deepEqual(got.syscalls![0]!.names, ['mkdir', 'read']);
  assert.deepEqual(orderForLibseccomp({ defaultAction: 'SCMP_ACT_ALLOW' }, 'SCMP_ARCH_X86_64'), { defaultAction: 'SCMP_ACT_ALLOW' });
});
