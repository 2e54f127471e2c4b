import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultProfile } from './default-profile.js';
import { MOAT_DEFAULT_CAPS } from '../caps/index.js';
import { notifyErrno, toNotifyProfile } from './notify.js';
import type { LinuxSeccomp } from './oci.js';
import { resolveProfile } from './resolve.js';

const L = '/run/moat/seccomp.sock';

test('toNotifyProfile() turns errno rules into NOTIFY and lists the answers', () => {
  const input: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 38,
    flags: ['SECCOMP_FILTER_FLAG_LOG'],
    syscalls: [
      { names: ['read'], action: 'SCMP_ACT_ALLOW' },
      { names: ['mount', 'umount2'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
      { names: ['keyctl'], action: 'SCMP_ACT_ERRNO' },
      { names: ['getppid'], action: 'SCMP_ACT_KILL' },
    ],
  };
  const snapshot = structuredClone(input);
  const { seccomp, table } = toNotifyProfile(input, L, { comments: [undefined, 'mount is privileged'] });
  assert.deepEqual(seccomp, {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 38,
    listenerPath: L,
    syscalls: [
      { names: ['read'], action: 'SCMP_ACT_ALLOW' },
      { names: ['mount', 'umount2'], action: 'SCMP_ACT_NOTIFY' },
      { names: ['clone3'], action: 'SCMP_ACT_NOTIFY' },
      { names: ['keyctl'], action: 'SCMP_ACT_NOTIFY' },
      { names: ['getppid'], action: 'SCMP_ACT_KILL' },
    ],
  });
  assert.deepEqual(table, [
    { index: 1, names: ['mount', 'umount2'], errno: 1, comment: 'mount is privileged' },
    { index: 2, names: ['clone3'], errno: 38 },
    { index: 3, names: ['keyctl'], errno: 1 },
  ]);
  assert.equal(notifyErrno(table, 'clone3'), 38);
  assert.equal(notifyErrno(table, 'read'), undefined);
  assert.deepEqual(input, snapshot, 'input unchanged');
});

test('names with different errnos under different arguments stay ERRNO; write stays ERRNO', () => {
  const { seccomp, table } = toNotifyProfile({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [
      { names: ['socket', 'mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 0, value: 38, op: 'SCMP_CMP_EQ' }] },
      { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, args: [{ index: 0, value: 40, op: 'SCMP_CMP_EQ' }] },
      { names: ['write', 'rmdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
    ],
  }, L);
  assert.deepEqual(seccomp.syscalls, [
    { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 0, value: 38, op: 'SCMP_CMP_EQ' }] },
    { names: ['mkdir'], action: 'SCMP_ACT_NOTIFY', args: [{ index: 0, value: 38, op: 'SCMP_CMP_EQ' }] },
    { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, args: [{ index: 0, value: 40, op: 'SCMP_CMP_EQ' }] },
    { names: ['write'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
    { names: ['rmdir'], action: 'SCMP_ACT_NOTIFY' },
  ]);
  assert.deepEqual(table.map((r) => [r.index, r.names]), [[1, ['mkdir']], [4, ['rmdir']]]);
});

test('no errno rules: nothing converted, no listenerPath', () => {
  const { seccomp, table } = toNotifyProfile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] }, L);
  assert.deepEqual(table, []);
  assert.equal(seccomp.listenerPath, undefined);
  assert.equal(seccomp.defaultAction, 'SCMP_ACT_ERRNO');
});

test('the resolved default profile converts every blocked group, with its reason', () => {
  const r = resolveProfile(defaultProfile(), { arch: 'SCMP_ARCH_X86_64', capabilities: MOAT_DEFAULT_CAPS, kernel: '6.18.44' });
  const { seccomp, table } = toNotifyProfile(r.seccomp, L, { comments: r.origins.map((o) => o.comment) });
  assert.equal(seccomp.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(seccomp.flags, undefined);
  assert.equal((seccomp.syscalls ?? []).some((x) => x.action === 'SCMP_ACT_ERRNO'), false, 'every errno rule of the default converts');
  assert.equal(notifyErrno(table, 'keyctl'), 1);
  assert.equal(notifyErrno(table, 'clone3'), 38);
  assert.match(table.find((x) => x.names.includes('keyctl'))?.comment ?? '', /keyring/i);
  for (const row of table) assert.equal(seccomp.syscalls?.[row.index]?.action, 'SCMP_ACT_NOTIFY');
});
