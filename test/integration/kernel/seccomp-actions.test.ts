// Custom profiles under real runc 1.1.5: each action's effect seen from inside the
// container (seccomp.md §1.5 and §7, re-checked with the static probe).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requires } from '../../helpers/requires.js';
import { createProbeBundle } from '../../helpers/probe/bundle.js';
import { parseProbeOutput, probeArgs, verdict } from '../../helpers/probe/index.js';
import type { LinuxSeccomp, LinuxSyscall } from '../../../src/seccomp/index.js';

const allowAllBut = (syscalls: LinuxSyscall[]): LinuxSeccomp => ({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], syscalls });

test('ERRNO with and without errnoRet, LOG, and an argument filter', async (t) => {
  if (!requires(t, 'root', 'runc', 'gcc')) return;
  const seccomp = allowAllBut([
    { names: ['getppid'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
    { names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }, // runc's default errno: 1
    { names: ['umask'], action: 'SCMP_ACT_LOG' },
    { names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: 22, args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
    { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 97, args: [{ index: 0, value: 1, op: 'SCMP_CMP_GT' }] },
  ]);
  const b = createProbeBundle({ seccomp, args: probeArgs([['getppid'], ['mkdir'], ['umask'], ['personality', '8'], ['personality'], ['socket', '1'], ['socket', '2'], ['status']]) });
  t.after(() => b.cleanup());
  const r = await b.run();
  assert.equal(r.code, 0, r.stderr);
  const { results, other } = parseProbeOutput(r.stdout);
  const got = Object.fromEntries([...results].map(([k, v]) => [k, verdict(v[0])]));
  assert.deepEqual(got, {
    getppid: 'EACCES',
    mkdir: 'EPERM',
    umask: 'ok',
    'personality:8': 'EINVAL', // errnoRet 22, not the kernel's answer: personality(8) is legal
    personality: 'ok', // 0xffffffff does not match the rule
    'socket:1': 'ok', // AF_UNIX: 1 > 1 is false
    'socket:2': 'EAFNOSUPPORT', // AF_INET: matched, errno 97 from the rule
  });
  assert.ok(other.includes('Seccomp:\t2'), other.join(' | '));
  assert.ok(other.includes('NoNewPrivs:\t1'), other.join(' | '));
});

for (const action of ['SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_TRAP'] as const) {
  test(`${action}: the process dies with SIGSYS (runc run exits 159 = 128 + 31)`, async (t) => {
    if (!requires(t, 'root', 'runc', 'gcc')) return;
    const b = createProbeBundle({ seccomp: allowAllBut([{ names: ['getppid'], action }]), args: probeArgs([['getpid'], ['getppid'], ['getpid']]) });
    t.after(() => b.cleanup());
    const r = await b.run();
    assert.equal(r.code, 159, r.stderr);
    assert.equal(r.stdout, 'getpid ok 1\n', 'nothing after the killing call');
  });
}

test('SCMP_ACT_TRAP: a SIGSYS handler sees the syscall and the program goes on', async (t) => {
  if (!requires(t, 'root', 'runc', 'gcc')) return;
  const b = createProbeBundle({ seccomp: allowAllBut([{ names: ['getppid'], action: 'SCMP_ACT_TRAP' }]), args: probeArgs([['catch-sigsys'], ['getppid'], ['getpid']]) });
  t.after(() => b.cleanup());
  const r = await b.run();
  assert.equal(r.code, 0, r.stderr);
  const { results, other } = parseProbeOutput(r.stdout);
  assert.deepEqual(other, ['sigsys nr=110 errno=0 code=1'], 'si_syscall getppid, si_code SYS_SECCOMP');
  // After the handler returns, rax still holds the syscall number (seccomp.md §1.5).
  assert.deepEqual(results.get('getppid'), [{ ok: true, ret: 110 }]);
  assert.equal(verdict(results.get('getpid')?.[0]), 'ok');
});

test('SCMP_ACT_NOTIFY without listenerPath: runc refuses to start', async (t) => {
  if (!requires(t, 'root', 'runc', 'gcc')) return;
  const b = createProbeBundle({ seccomp: allowAllBut([{ names: ['getppid'], action: 'SCMP_ACT_NOTIFY' }]), args: ['getpid'] });
  t.after(() => b.cleanup());
  const r = await b.run();
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /listenerPath is not set/);
  assert.equal(r.stdout, '');
});
