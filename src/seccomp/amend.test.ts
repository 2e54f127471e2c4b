import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AMEND_ALLOW_COMMENT, AMEND_DENY_COMMENT, amendProfile } from './amend.js';
import { defaultProfile } from './default-profile.js';
import { MOAT_DEFAULT_CAPS } from '../caps/index.js';
import type { LinuxSeccomp } from './oci.js';
import { formatIssues, type Profile } from './profile.js';
import { resolveProfile } from './resolve.js';

function amended(p: Profile, o: Parameters<typeof amendProfile>[1]): Profile {
  const r = amendProfile(p, o);
  if (!r.ok) assert.fail(formatIssues(r.issues));
  return r.value;
}
const rulesFor = (s: LinuxSeccomp, name: string) => (s.syscalls ?? []).filter((r) => r.names.includes(name));
const resolve = (p: Profile): LinuxSeccomp =>
  resolveProfile(p, { arch: 'SCMP_ARCH_X86_64', capabilities: MOAT_DEFAULT_CAPS, kernel: '6.18.44' }).seccomp;

test('seccomp-allow replaces every rule about the name with one unconditional ALLOW', () => {
  const before = defaultProfile();
  const p = amended(before, { allow: ['ptrace', 'clone'] });
  const s = resolve(p);
  assert.deepEqual(rulesFor(s, 'ptrace'), [{ names: ['ptrace', 'clone'], action: 'SCMP_ACT_ALLOW' }]);
  assert.equal(rulesFor(s, 'clone').length, 1, 'the clone argument rules are gone');
  assert.equal(p.syscalls.at(-1)?.comment, AMEND_ALLOW_COMMENT);
  // The other names of the edited rules stay.
  assert.equal(rulesFor(s, 'process_vm_readv')[0]?.action, 'SCMP_ACT_ERRNO');
  // The input is not changed.
  assert.deepEqual(before, defaultProfile());
});

test('seccomp-deny adds one EPERM rule first and removes the name elsewhere', () => {
  const p = amended(defaultProfile(), { deny: ['mkdir', 'socket'] });
  assert.deepEqual(p.syscalls[0], { names: ['mkdir', 'socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, comment: AMEND_DENY_COMMENT });
  const s = resolve(p);
  assert.deepEqual(rulesFor(s, 'mkdir'), [{ names: ['mkdir', 'socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }]);
  assert.equal(rulesFor(s, 'socket').length, 1, 'the socket family rules are gone');
  assert.equal(rulesFor(s, 'mkdirat')[0]?.action, 'SCMP_ACT_ALLOW');
});

test('deny wins over allow, with a warning', () => {
  const r = amendProfile(defaultProfile(), { allow: ['mount', 'ptrace'], deny: ['mount'] });
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.deepEqual(r.warnings.map((w) => [w.path, w.code]), [[['seccomp-allow', 0], 'deny_wins']]);
  const s = resolve(r.value);
  assert.deepEqual(rulesFor(s, 'mount').map((x) => x.action), ['SCMP_ACT_ERRNO']);
  assert.deepEqual(rulesFor(s, 'ptrace').map((x) => x.action), ['SCMP_ACT_ALLOW']);
});

test('unknown names are issues with their position', () => {
  const r = amendProfile(defaultProfile(), { allow: ['ptrace', 'ptracee'], deny: ['mkdirr'] });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(formatIssues(r.issues), 'seccomp-deny[0]: Unknown syscall "mkdirr": not in the table of any architecture\nseccomp-allow[1]: Unknown syscall "ptracee": not in the table of any architecture');
});

test('no amendments: the same profile', () => {
  const p = defaultProfile();
  assert.deepEqual(amended(p, {}), p);
});
