import { test } from 'node:test';
import assert from 'node:assert/strict';
import { denialEvent } from './events.js';
import type { DenialRecord } from './policy.js';

test('denialEvent() is a container event with the denial in its attributes', () => {
  const r: DenialRecord = { kind: 'denial', seq: 1, time: '2026-11-29T01:31:47.646Z', containerId: 'abc', pid: 7896, nspid: 1, comm: 'probe', syscall: 'keyctl', nr: 250, arch: 'SCMP_ARCH_X86_64', args: [], ip: '0x0', errno: 1, errnoName: 'EPERM', rule: { index: 41, comment: 'Kernel keyrings are not namespaced' }, reason: 'rule' };
  const e = denialEvent(r, { name: 'web', image: 'busybox' });
  assert.equal(e.Type, 'container');
  assert.equal(e.Action, 'seccomp-denied');
  assert.equal(e.Actor.ID, 'abc');
  assert.deepEqual(e.Actor.Attributes, { name: 'web', image: 'busybox', syscall: 'keyctl', errno: 'EPERM', pid: '1', hostPid: '7896', comm: 'probe', rule: '41', reason: 'Kernel keyrings are not namespaced' });
  assert.equal(e.time, 1795915907);
  assert.equal(e.timeNano, 1795915907646 * 1_000_000);
  const d = denialEvent({ kind: 'dropped', seq: 2, time: r.time, containerId: 'abc', count: 300 });
  assert.equal(d.Actor.Attributes['dropped'], '300');
});
