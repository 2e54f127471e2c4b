import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultProfile } from './default-profile.js';
import { MOAT_DEFAULT_CAPS } from '../caps/index.js';
import { notifyErrno, notifyExclusion, toNotifyProfile } from './notify.js';
import type { LinuxSeccomp } from './oci.js';
import { resolveProfile } from './resolve.js';
import { compileSeccomp, runFilter, AUDIT_ARCH_X86_64, SECCOMP_RET_ERRNO, SECCOMP_RET_USER_NOTIF } from './bpf/index.js';
import { syscallNumber } from './tables/index.js';
import type { SeccompArch } from './oci.js';

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
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
      { names: ['keyctl'], action: 'SCMP_ACT_NOTIFY' },
      { names: ['getppid'], action: 'SCMP_ACT_KILL' },
    ],
  });
  assert.deepEqual(table, [
    { index: 1, names: ['mount', 'umount2'], errno: 1, comment: 'mount is privileged' },
    { index: 3, names: ['keyctl'], errno: 1 },
  ]);
  assert.equal(notifyErrno(table, 'clone3'), undefined, 'clone3 stays a plain errno rule');
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
  // Every EPERM rule converts; the ENOSYS ones (clone3, calls newer than the profile's
  // review, calls the kernel no longer has) stay plain errno rules.
  const plain = (seccomp.syscalls ?? []).filter((x) => x.action === 'SCMP_ACT_ERRNO');
  assert.deepEqual([...new Set(plain.map((x) => x.errnoRet))], [38], 'only ENOSYS rules stay errno rules');
  assert.ok(plain.some((x) => x.names.includes('clone3')));
  assert.equal(notifyErrno(table, 'keyctl'), 1);
  assert.match(table.find((x) => x.names.includes('keyctl'))?.comment ?? '', /keyring/i);
  for (const row of table) assert.equal(seccomp.syscalls?.[row.index]?.action, 'SCMP_ACT_NOTIFY');
});

test('issue 11.7: clone3 and every ENOSYS answer stay off the notify path (plain errno in the filter)', () => {
  const { seccomp, table } = toNotifyProfile({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
      { names: ['file_getattr', 'keyctl'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
      { names: ['bpf'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
    ],
  }, L);
  assert.deepEqual(seccomp.syscalls, [
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
    { names: ['file_getattr', 'keyctl'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
    { names: ['bpf'], action: 'SCMP_ACT_NOTIFY' },
  ]);
  assert.deepEqual(table.map((r) => r.names), [['bpf']]);
  assert.equal(notifyExclusion('clone3', new Set([1])), 'hot');
  assert.equal(notifyExclusion('file_getattr', new Set([38])), 'enosys');
  assert.equal(notifyExclusion('socket', new Set([1, 13])), 'mixed-errno');
  assert.equal(notifyExclusion('write', new Set([1])), 'runc');
  assert.equal(notifyExclusion('keyctl', new Set([1])), undefined);
});

test('issue 11.7: the default profile\'s filter has no notify rule for clone3, under any capability set that blocks it', () => {
  for (const caps of [MOAT_DEFAULT_CAPS, [], ['CAP_SYS_PTRACE']]) {
    const r = resolveProfile(defaultProfile(), { arch: 'SCMP_ARCH_X86_64', capabilities: caps, kernel: '6.18.44' });
    const { seccomp } = toNotifyProfile(r.seccomp, L);
    const clone3 = (seccomp.syscalls ?? []).filter((x) => x.names.includes('clone3'));
    assert.deepEqual(clone3.map((x) => [x.action, x.errnoRet]), [['SCMP_ACT_ERRNO', 38]], `caps ${caps.join(',')}`);
    assert.equal((seccomp.syscalls ?? []).some((x) => x.action === 'SCMP_ACT_NOTIFY' && x.names.includes('clone3')), false);
    // The BPF program itself: clone3 (435) returns ERRNO(ENOSYS), keyctl (250) USER_NOTIF.
    const program = compileSeccomp(seccomp, { arch: 'SCMP_ARCH_X86_64', resolveNr: (a, n) => syscallNumber(a as SeccompArch, n) });
    assert.equal(runFilter(program, { nr: 435, arch: AUDIT_ARCH_X86_64 }), (SECCOMP_RET_ERRNO | 38) >>> 0, 'clone3');
    assert.equal(runFilter(program, { nr: 250, arch: AUDIT_ARCH_X86_64 }), SECCOMP_RET_USER_NOTIF >>> 0, 'keyctl');
  }
});
