import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../base/index.js';
import { ALL_CAPS, CAPABILITIES, DOCKER_DEFAULT_CAPS, MOAT_DEFAULT_CAPS, capMask, capsFromMask, normalizeCapName } from './names.js';

test('the table has 41 capabilities numbered 0..40', () => {
  assert.equal(ALL_CAPS.length, 41);
  assert.deepEqual(ALL_CAPS.map((c) => CAPABILITIES[c]), [...Array(41).keys()]);
  assert.equal(CAPABILITIES.CAP_CHECKPOINT_RESTORE, 40);
  assert.equal(CAPABILITIES.CAP_AUDIT_READ, 37);
});

test('default sets have the documented masks', () => {
  assert.equal(DOCKER_DEFAULT_CAPS.length, 14);
  assert.equal(capMask(DOCKER_DEFAULT_CAPS), 0xa80425fbn);
  assert.equal(MOAT_DEFAULT_CAPS.length, 11);
  assert.equal(capMask(MOAT_DEFAULT_CAPS), 0x800405fbn);
});

test('capsFromMask() reads /proc/self/status hex', () => {
  assert.deepEqual(capsFromMask('00000000a80425fb'), [...DOCKER_DEFAULT_CAPS].sort((a, b) => CAPABILITIES[a] - CAPABILITIES[b]));
  assert.deepEqual(capsFromMask('0000000000000400'), ['CAP_NET_BIND_SERVICE']);
  assert.equal(capsFromMask(0x3ffeffffffn).length, 37);
  assert.ok(!capsFromMask('0x3ffeffffff').includes('CAP_SYS_RESOURCE'));
  assert.deepEqual(capsFromMask(0n), []);
  assert.throws(() => capsFromMask('zz'), EngineError);
});

test('normalizeCapName() accepts every spelling', () => {
  for (const s of ['sys_admin', 'SYS_ADMIN', 'CAP_SYS_ADMIN', 'cap_sys_admin', 'Sys_Admin']) {
    assert.equal(normalizeCapName(s), 'CAP_SYS_ADMIN', s);
  }
  assert.equal(normalizeCapName('all'), 'ALL');
  assert.equal(normalizeCapName('ALL'), 'ALL');
  assert.equal(normalizeCapName('bpf'), 'CAP_BPF');
});

test('normalizeCapName() rejects unknown names with dockerd wording', () => {
  assert.throws(() => normalizeCapName('foo', { field: 'CapAdd' }), (e: unknown) =>
    e instanceof EngineError && e.status === 400 && e.message === 'invalid CapAdd: unknown capability: "CAP_FOO"');
  assert.throws(() => normalizeCapName('CAP_FOO', { field: 'CapDrop' }), /^EngineError: invalid CapDrop: unknown capability: "CAP_FOO"$/);
  assert.throws(() => normalizeCapName('cap_'), /unknown capability: "CAP_"/);
});
