import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as seccomp from './index.js';

test('index exports the public API and no internals', () => {
  for (const name of ['parseProfile', 'formatIssues', 'resolveProfile', 'defaultProfile', 'amendProfile', 'toNotifyProfile', 'notifyErrno', 'profileDigest', 'syscallNumber', 'syscallName', 'syscallNames', 'isKnownOnAnyArch', 'hostArch', 'tableInfo']) {
    assert.equal(typeof (seccomp as Record<string, unknown>)[name], 'function', name);
  }
  for (const name of ['readFixtureJson', 'seccompFixtureDir', 'canonicalJson', 'parseKernelRelease', 'tryParseKernelVersion', 'TABLES']) {
    assert.equal((seccomp as Record<string, unknown>)[name], undefined, name);
  }
});

test('the exported pieces work together: default -> amend -> resolve -> notify -> digest', () => {
  const amended = seccomp.amendProfile(seccomp.defaultProfile(), { deny: ['mkdir'] });
  assert.ok(amended.ok);
  if (!amended.ok) return;
  const r = seccomp.resolveProfile(amended.value, { arch: seccomp.hostArch('arm64'), capabilities: [], kernel: '6.1.0' });
  assert.deepEqual(r.seccomp.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  const n = seccomp.toNotifyProfile(r.seccomp, '/run/x.sock');
  assert.equal(seccomp.notifyErrno(n.table, 'mkdir'), 1);
  assert.notEqual(seccomp.profileDigest(n.seccomp), seccomp.profileDigest(r.seccomp));
});
