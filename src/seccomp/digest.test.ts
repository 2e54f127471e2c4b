import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalJson, profileDigest } from './digest.js';

test('profileDigest() ignores key order and undefined members', () => {
  const a = profileDigest({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1, syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] });
  // An object built with an explicit undefined (exactOptionalPropertyTypes forbids it in typed code).
  const withUndefined = JSON.parse('{"syscalls":[{"action":"SCMP_ACT_ALLOW","names":["read"]}],"defaultErrnoRet":1,"defaultAction":"SCMP_ACT_ERRNO"}') as Parameters<typeof profileDigest>[0];
  (withUndefined.syscalls?.[0] as unknown as Record<string, unknown>).errnoRet = undefined;
  const b = profileDigest(withUndefined);
  assert.equal(a, b);
  assert.match(a, /^sha256:[0-9a-f]{64}$/);
});

test('profileDigest() changes with content and array order', () => {
  const base = profileDigest({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' }] });
  assert.notEqual(profileDigest({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['write', 'read'], action: 'SCMP_ACT_ALLOW' }] }), base);
  assert.notEqual(profileDigest({ defaultAction: 'SCMP_ACT_KILL', syscalls: [{ names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' }] }), base);
});

test('canonicalJson() sorts keys at every level', () => {
  assert.equal(canonicalJson({ b: 1, a: [{ d: 2, c: null }] }), '{"a":[{"c":null,"d":2}],"b":1}');
  // Known vector: sha256 of "{}".
  assert.equal(profileDigest({} as never), 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
});
