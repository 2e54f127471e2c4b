import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EngineError } from '../base/errors.js';
import { readFixtureJson, seccompFixtureDir } from '../../test/helpers/seccomp-fixtures.js';
import type { LinuxSeccomp } from './oci.js';
import { DOCKER_DEFAULT_CAPS } from '../caps/index.js';
import { formatIssues, parseProfile, type Profile, type ProfileRule } from './profile.js';
import { parseKernelRelease, resolveProfile, type ResolveOptions } from './resolve.js';

const DOCKER_CAPS = DOCKER_DEFAULT_CAPS;
const AMD64: ResolveOptions = { arch: 'SCMP_ARCH_X86_64', capabilities: DOCKER_CAPS, kernel: '6.18.44' };

function parsed(input: unknown): Profile {
  const r = parseProfile(input);
  if (!r.ok) assert.fail(formatIssues(r.issues));
  return r.value;
}
const oneRule = (rule: Partial<ProfileRule>): Profile => ({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['mount'], action: 'SCMP_ACT_ALLOW', ...rule }] });
const kept = (p: Profile, o: Partial<ResolveOptions> = {}): boolean => (resolveProfile(p, { ...AMD64, ...o }).seccomp.syscalls?.length ?? 0) === 1;

test('resolveProfile() reproduces moby for its default profile, amd64, Docker caps, 6.18', (t) => {
  if (seccompFixtureDir() === undefined) return t.skip('test/fixtures/seccomp not found');
  const profile = parsed(readFixtureJson('moby-default-reconstructed.json'));
  const want = readFixtureJson('default-main.oci-amd64-defaultcaps.json') as LinuxSeccomp;
  // moat drops names that exist on none of x86_64, x86, x32 (runc would drop them silently).
  const foreign = ['recv', 'riscv_hwprobe', 'send'];
  const rule0 = want.syscalls?.[0];
  assert.ok(rule0 !== undefined && foreign.every((n) => rule0.names.includes(n)));
  rule0.names = rule0.names.filter((n) => !foreign.includes(n));

  const got = resolveProfile(profile, AMD64);
  assert.deepEqual(got.seccomp, want);
  assert.deepEqual(got.warnings.map((w) => w.message), ['Skipped syscalls not on SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32: recv, riscv_hwprobe, send']);
  // Adding CAP_SYS_ADMIN removes the clone mask and the clone3 ENOSYS rule and allows mount.
  const admin = resolveProfile(profile, { ...AMD64, capabilities: [...DOCKER_CAPS, 'CAP_SYS_ADMIN'] }).seccomp.syscalls ?? [];
  assert.equal(admin.some((r) => r.names.includes('clone3') && r.action === 'SCMP_ACT_ERRNO'), false);
  assert.equal(admin.some((r) => r.names.includes('clone') && r.args !== undefined), false);
  assert.equal(admin.some((r) => r.names.includes('mount') && r.action === 'SCMP_ACT_ALLOW'), true);
  // Dropping SYS_CHROOT removes chroot.
  const noChroot = resolveProfile(profile, { ...AMD64, capabilities: DOCKER_CAPS.filter((c) => c !== 'CAP_SYS_CHROOT') }).seccomp.syscalls ?? [];
  assert.equal(noChroot.some((r) => r.names.includes('chroot')), false);
  // On arm64 the archMap gives [AARCH64, ARM] and the arm rules apply.
  const arm = resolveProfile(profile, { ...AMD64, arch: 'SCMP_ARCH_AARCH64' }).seccomp;
  assert.deepEqual(arm.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  assert.equal(arm.syscalls?.some((r) => r.names.includes('set_tls')), true);
  assert.equal(arm.syscalls?.some((r) => r.names.includes('arch_prctl')), false);
});

test('includes.caps needs every listed cap; excludes.caps drops on any', () => {
  const inc = oneRule({ includes: { caps: ['CAP_SYS_ADMIN', 'CAP_SYS_BOOT'] } });
  assert.equal(kept(inc, { capabilities: ['CAP_SYS_ADMIN', 'CAP_SYS_BOOT'] }), true);
  assert.equal(kept(inc, { capabilities: ['CAP_SYS_ADMIN'] }), false);
  const exc = oneRule({ excludes: { caps: ['CAP_SYS_ADMIN', 'CAP_SYS_BOOT'] } });
  assert.equal(kept(exc, { capabilities: ['CAP_CHOWN'] }), true);
  assert.equal(kept(exc, { capabilities: ['CAP_SYS_BOOT'] }), false);
});

test('includes/excludes arches compare moby names of the daemon arch', () => {
  const inc = oneRule({ includes: { arches: ['amd64', 'x32'] } });
  assert.equal(kept(inc), true);
  assert.equal(kept(inc, { arch: 'SCMP_ARCH_AARCH64' }), false);
  const exc = oneRule({ excludes: { arches: ['arm64'] } });
  assert.equal(kept(exc), true);
  assert.equal(kept(exc, { arch: 'SCMP_ARCH_AARCH64' }), false);
  // x86 is a sub-arch of amd64 here, never the daemon arch.
  assert.equal(kept(oneRule({ includes: { arches: ['x86'] } })), false);
  assert.equal(kept(oneRule({ includes: { arches: ['x86'] } }), { arch: 'SCMP_ARCH_X86' }), true);
});

test('minKernel compares major.minor numerically', () => {
  const inc = oneRule({ includes: { minKernel: '4.8' } });
  assert.equal(kept(inc, { kernel: '4.8.0' }), true);
  assert.equal(kept(inc, { kernel: '4.10.1-generic' }), true, '4.10 >= 4.8 (not a string compare)');
  assert.equal(kept(inc, { kernel: '4.7.9' }), false);
  assert.equal(kept(inc, { kernel: '3.18' }), false);
  const exc = oneRule({ excludes: { minKernel: '6.18' } });
  assert.equal(kept(exc, { kernel: '6.17.1' }), true);
  assert.equal(kept(exc, { kernel: '6.18.44-fc-v782' }), false);
});

test('excludes are checked before includes, as moby does', () => {
  const p = oneRule({ includes: { caps: ['CAP_SYS_ADMIN'] }, excludes: { caps: ['CAP_SYS_ADMIN'] } });
  assert.equal(kept(p, { capabilities: ['CAP_SYS_ADMIN'] }), false);
  assert.equal(kept(p, { capabilities: [] }), false);
});

test('parseKernelRelease() reads %d.%d and rejects other strings', () => {
  assert.deepEqual(parseKernelRelease('6.18.44-fc-v782'), { major: 6, minor: 18 });
  assert.deepEqual(parseKernelRelease('5.4'), { major: 5, minor: 4 });
  assert.throws(() => parseKernelRelease('linux'), (e: unknown) => e instanceof EngineError && e.kind === 'invalid');
  assert.throws(() => resolveProfile(oneRule({}), { ...AMD64, kernel: '' }), EngineError);
});

test('resolveProfile() translates to OCI: archMap, architectures, errnoRet, args, top-level fields', () => {
  const profile = parsed({
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 38,
    archMap: [{ architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] }],
    listenerPath: '/run/l.sock',
    listenerMetadata: 'm',
    flags: ['SECCOMP_FILTER_FLAG_LOG'],
    syscalls: [
      { name: 'personality', action: 'SCMP_ACT_ALLOW', comment: 'dropped', args: [{ index: 0, value: 8, valueTwo: 0, op: 'SCMP_CMP_EQ' }] },
      { names: ['umask'], action: 'SCMP_ACT_ERRNO', errnoRet: 0, args: [{ index: 0, value: 2, valueTwo: 2, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['mount'], action: 'SCMP_ACT_NOTIFY' },
    ],
  });
  const got = resolveProfile(profile, AMD64);
  assert.deepEqual(got.seccomp, {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 38,
    flags: ['SECCOMP_FILTER_FLAG_LOG'],
    listenerPath: '/run/l.sock',
    listenerMetadata: 'm',
    syscalls: [
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
      { names: ['umask'], action: 'SCMP_ACT_ERRNO', errnoRet: 0, args: [{ index: 0, value: 2, valueTwo: 2, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['mount'], action: 'SCMP_ACT_NOTIFY' },
    ],
  }, 'no archMap entry for amd64: no architectures at all');
  assert.deepEqual(got.origins, [{ rule: 0, comment: 'dropped' }, { rule: 1 }, { rule: 2 }]);
  const arm = resolveProfile(profile, { ...AMD64, arch: 'SCMP_ARCH_AARCH64' }).seccomp;
  assert.deepEqual(arm.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  const old = resolveProfile(parsed({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'] }), AMD64).seccomp;
  assert.deepEqual(old, { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'] });
});

test('resolveProfile() drops names on none of the filter arches, with a warning', () => {
  const profile = parsed({
    defaultAction: 'SCMP_ACT_ERRNO',
    architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [
      { names: ['mkdir', 'chown32'], action: 'SCMP_ACT_ALLOW' },
      { names: ['set_tls', 'cacheflush'], action: 'SCMP_ACT_ALLOW' },
    ],
  });
  const got = resolveProfile(profile, AMD64);
  assert.deepEqual(got.seccomp.syscalls, [{ names: ['mkdir'], action: 'SCMP_ACT_ALLOW' }]);
  assert.deepEqual(got.warnings.map((w) => [w.path, w.code]), [[['syscalls', 0, 'names'], 'syscall_not_on_arch'], [['syscalls', 1, 'names'], 'syscall_not_on_arch']]);
  // With the x86 sub-arch in the filter, chown32 stays.
  const multi = resolveProfile({ ...profile, architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'] }, AMD64);
  assert.deepEqual(multi.seccomp.syscalls?.[0]?.names, ['mkdir', 'chown32']);
});
