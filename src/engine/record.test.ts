import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertRecord, checkRecordText } from './record.js';
import type { ContainerRecord } from './types.js';

const ID = 'a'.repeat(64);
const GOOD: ContainerRecord = {
  Id: ID,
  Name: '/web',
  Created: '2026-01-01T00:00:00.000Z',
  Image: 'sha256:' + 'b'.repeat(64),
  Path: 'sh',
  Args: ['-c', 'true'],
  Config: { Image: 'busybox', Env: ['PATH=/bin'], Cmd: ['sh', '-c', 'true'], Entrypoint: null, Labels: {} },
  HostConfig: { Binds: null, AutoRemove: false, Ulimits: [{ Name: 'nofile', Soft: 1, Hard: 2 }] },
  State: { Status: 'exited', Pid: 0, ExitCode: 3, Error: '', StartedAt: '2026-01-01T00:00:01Z', FinishedAt: '2026-01-01T00:00:02Z', OOMKilled: false },
  RestartCount: 0,
  ExitGeneration: 1,
  Volumes: [{ name: 'c'.repeat(64), target: '/data', anonymous: true }],
};

test('checkRecordText() accepts a record the engine writes', () => {
  const r = checkRecordText(ID, JSON.stringify(GOOD));
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.doesNotThrow(() => assertRecord(GOOD));
});

test('checkRecordText() gives the reason for each broken shape of issue 12', async (t) => {
  const text = JSON.stringify(GOOD);
  const cases: Array<[string, string, RegExp]> = [
    ['empty file', '', /the file is empty/],
    ['half a JSON object', text.slice(0, text.length / 2), /not JSON/],
    ['null', 'null', /record: Expected object, received null/],
    ['{}', '{}', /Id: Required/],
    ['State as a string', JSON.stringify({ ...GOOD, State: 'running' }), /^State: Expected object, received string/],
    ['an unknown status', JSON.stringify({ ...GOOD, State: { ...GOOD.State, Status: 'zombie' } }), /State\.Status/],
    ['Name without a slash', JSON.stringify({ ...GOOD, Name: 'web' }), /^Name: Invalid/],
    ['Env of numbers', JSON.stringify({ ...GOOD, Config: { ...GOOD.Config, Env: [1] } }), /Config\.Env\.0/],
    ['Mounts of null', JSON.stringify({ ...GOOD, HostConfig: { Mounts: [null] } }), /HostConfig\.Mounts\.0/],
    ['another container\'s record', JSON.stringify({ ...GOOD, Id: 'f'.repeat(64) }), /does not match its directory/],
  ];
  for (const [name, body, reason] of cases) {
    await t.test(name, () => {
      const r = checkRecordText(ID, body);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.reason, reason);
    });
  }
});

test('assertRecord() refuses to write a record that would not load', () => {
  assert.throws(() => assertRecord({ ...GOOD, ExitGeneration: -1 }), /refusing to write an invalid container record .*ExitGeneration/);
});
