import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ContainerTable, replaceRecord } from './containers.js';
import type { ContainerRecord } from './types.js';

const rec = (): ContainerRecord =>
  ({ Id: 'c'.repeat(64), Name: '/before', State: { Status: 'running', ExitCode: 0 }, Config: {}, HostConfig: {} }) as unknown as ContainerRecord;

// The crash fault test's 255: a rename's write, begun before an exit's and slower, landed last
// and put "running" back on disk after the exit file was gone.
test('record writes of one container land in call order, each on the record the one before left', async () => {
  const disk: ContainerRecord[] = [];
  let calls = 0;
  const save = async (r: ContainerRecord): Promise<void> => {
    // The first write is slow: unordered, the second would land before it.
    if (calls++ === 0) await new Promise((res) => setTimeout(res, 30));
    disk.push(structuredClone(r));
  };
  const table = new ContainerTable(save);
  const c = rec();
  table.add(c);
  const rename = table.commit(c, (next) => (next.Name = '/after'));
  // The exit handler's shape (exits.ts): its own write, inside recordWrite.
  const exit = table.recordWrite(c.Id, async () => {
    const next = structuredClone(c);
    next.State = { ...next.State, Status: 'exited', ExitCode: 7 };
    await save(next);
    replaceRecord(c, next);
  });
  await Promise.all([rename, exit]);
  assert.deepEqual(disk.map((r) => [r.Name, r.State.Status]), [['/after', 'running'], ['/after', 'exited']], 'the exit lands last, on the renamed record');
  assert.equal(c.State.Status, 'exited');
  assert.equal(c.Name, '/after');
});
