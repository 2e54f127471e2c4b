import { test } from 'node:test';
import assert from 'node:assert/strict';
import { amendProfile, defaultProfile, resolveProfile, type Profile } from '../seccomp/index.js';
import { weakerSyscalls } from './weaker.js';

const CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_SETFCAP'];
const resolve = (p: Profile): ReturnType<typeof resolveProfile>['seccomp'] => resolveProfile(p, { arch: 'SCMP_ARCH_X86_64', capabilities: CAPS, kernel: '6.18' }).seccomp;
const base = resolve(defaultProfile());
const amended = (o: { allow?: string[]; deny?: string[] }): Profile => {
  const r = amendProfile(defaultProfile(), o);
  assert.ok(r.ok);
  return r.value;
};

test('weakerSyscalls() names what the default blocks and the container\'s filter lets through', () => {
  assert.deepEqual(weakerSyscalls(base, base, { arch: 'SCMP_ARCH_X86_64' }), []);
  assert.deepEqual(weakerSyscalls(resolve(amended({ allow: ['keyctl'] })), base, { arch: 'SCMP_ARCH_X86_64' }), ['keyctl']);
  // deny only makes it stricter
  assert.deepEqual(weakerSyscalls(resolve(amended({ deny: ['mkdir'] })), base, { arch: 'SCMP_ARCH_X86_64' }), []);
  const unconfined = weakerSyscalls(undefined, base, { arch: 'SCMP_ARCH_X86_64' })!;
  for (const n of ['keyctl', 'add_key', 'unshare', 'mount', 'bpf', 'ptrace']) assert.ok(unconfined.includes(n), n);
  // unshare is allowed by the default for some flags only: allowing it always is weaker
  assert.deepEqual(weakerSyscalls(resolve({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['unshare', 'read'], action: 'SCMP_ACT_ALLOW' }] }), base, { arch: 'SCMP_ARCH_X86_64' }), ['unshare']);
  const allowDefault = weakerSyscalls(resolve({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['keyctl'], action: 'SCMP_ACT_ERRNO' }] }), base, { arch: 'SCMP_ARCH_X86_64' })!;
  assert.ok(allowDefault.includes('add_key') && !allowDefault.includes('keyctl'));
  // a stricter custom profile, and a NOTIFY rule someone else's listener answers
  assert.deepEqual(weakerSyscalls(resolve({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read', 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' }] }), base, { arch: 'SCMP_ARCH_X86_64' }), []);
  assert.deepEqual(weakerSyscalls(resolve({ defaultAction: 'SCMP_ACT_ERRNO', listenerPath: '/tmp/l.sock', syscalls: [{ names: ['keyctl'], action: 'SCMP_ACT_NOTIFY' }] }), base, { arch: 'SCMP_ARCH_X86_64' }), ['keyctl']);
  // no default filter (the daemon runs unconfined): nothing is weaker
  assert.deepEqual(weakerSyscalls(undefined, undefined, { arch: 'SCMP_ARCH_X86_64' }), []);
});

test('weakerSyscalls() sees a compat ABI the default closes', () => {
  const x86Only = resolve({ defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'], syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }, { names: ['keyctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['x86'] } }] });
  // keyctl allowed only when resolved for arch x86, which this container is not: nothing weaker
  assert.deepEqual(weakerSyscalls(x86Only, base, { arch: 'SCMP_ARCH_X86_64' }), []);
  const allowAll32 = resolve({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'], syscalls: [] });
  assert.ok(weakerSyscalls(allowAll32, base, { arch: 'SCMP_ARCH_X86_64' })!.includes('keyctl'));
});

test('weakerSyscalls() on a kernel without x32: a filter that lets x32 calls through is no weaker', () => {
  const withoutX32 = resolve(defaultProfile({ x32: false }));
  // The portable default (x32 listed, its calls allowed) against the built-in one without x32.
  const portable = resolve(defaultProfile());
  assert.deepEqual(weakerSyscalls(portable, withoutX32, { arch: 'SCMP_ARCH_X86_64', x32Abi: false }), []);
  // Where the kernel runs x32, the same pair differs: the baseline kills x32 calls the other allows.
  assert.ok(weakerSyscalls(portable, withoutX32, { arch: 'SCMP_ARCH_X86_64', x32Abi: true })!.includes('getpid'));
  // x32 left out of the comparison, x86_64 and x86 still count.
  assert.deepEqual(weakerSyscalls(resolve(amended({ allow: ['keyctl'] })), withoutX32, { arch: 'SCMP_ARCH_X86_64', x32Abi: false }), ['keyctl']);
});
