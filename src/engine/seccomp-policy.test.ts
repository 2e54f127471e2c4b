import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultProfile } from '../seccomp/index.js';
import { SeccompPolicy } from './seccomp-policy.js';

const CAPS = ['CAP_CHOWN', 'CAP_SETUID', 'CAP_SETGID'];
const policy = (x32Abi: boolean | undefined): SeccompPolicy =>
  new SeccompPolicy({ daemonDefault: { kind: 'builtin' }, arch: 'SCMP_ARCH_X86_64', kernel: '6.18.0', ...(x32Abi === undefined ? {} : { x32Abi }) });
const opts = (...SecurityOpt: string[]): { HostConfig: { SecurityOpt: string[] } } => ({ HostConfig: { SecurityOpt } });

test('SeccompPolicy: the built-in profile filters x32 only when the kernel runs it', () => {
  assert.deepEqual(policy(undefined).forContainer(opts(), CAPS).spec?.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  assert.deepEqual(policy(true).forContainer(opts(), CAPS).spec?.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  const lean = policy(false);
  assert.deepEqual(lean.forContainer(opts(), CAPS).spec?.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
  // Amending the built-in profile keeps it built-in.
  assert.deepEqual(lean.forContainer(opts('seccomp-deny=mkdir'), CAPS).spec?.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
  assert.deepEqual(lean.forContainer(opts('seccomp=builtin'), CAPS).spec?.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
});

test('SeccompPolicy: a profile the user gave keeps SCMP_ARCH_X32, and is not judged weaker for it', () => {
  const lean = policy(false);
  const portable = `seccomp=${JSON.stringify(defaultProfile())}`;
  assert.deepEqual(lean.forContainer(opts(portable), CAPS).spec?.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  assert.deepEqual(lean.assess(opts(portable), CAPS).weakerThanDefault, []);
  // ...while a real opening is still seen.
  const allowAll32 = `seccomp=${JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], syscalls: [] })}`;
  assert.ok(lean.assess(opts(allowAll32), CAPS).weakerThanDefault?.includes('keyctl'));
});
