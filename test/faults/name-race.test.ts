// Issue 12, finding 4: a container name is unique under concurrency. 20 parallel creates of
// one name give exactly one container; parallel renames to one name give one winner; a
// failed create gives its name back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requires } from '../helpers/requires.js';
import { safetyNetHits } from './consistency.js';
import { startDaemon } from '../helpers/daemon.js';
import { create, listAll } from '../helpers/containers.js';

const ROUNDS = process.env['MOAT_FAULTS_HEAVY'] === '1' ? 20 : 4;
const PARALLEL = 20;

test('the same name from parallel requests (issue 12, finding 4)', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());

  await t.test(`${PARALLEL} parallel creates of one name: one 201, the rest 409 (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const name = `same-${round}`;
      const rs = await Promise.all(Array.from({ length: PARALLEL }, () => d.api('POST', `/containers/create?name=${name}`, { Image: 'busybox', Cmd: ['true'] })));
      const statuses = rs.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 201).length, 1, `round ${round}: ${statuses.join(',')}`);
      assert.equal(statuses.filter((s) => s === 409).length, PARALLEL - 1);
      for (const r of rs.filter((x) => x.status === 409)) assert.match(r.json<{ message: string }>().message, new RegExp(`The container name "/${name}" is already in use`));
      const holders = (await listAll(d)).filter((c) => c.Names[0] === `/${name}`);
      assert.equal(holders.length, 1);
    }
  });

  await t.test('parallel renames to one name: one winner', async () => {
    const ids = await Promise.all(Array.from({ length: 10 }, () => create(d, { Cmd: ['true'] })));
    const rs = await Promise.all(ids.map((id) => d.api('POST', `/containers/${id}/rename?name=target`)));
    assert.equal(rs.filter((r) => r.status === 204).length, 1, rs.map((r) => r.status).join(','));
    assert.equal(rs.filter((r) => r.status === 409).length, 9);
    assert.equal((await listAll(d)).filter((c) => c.Names[0] === '/target').length, 1);
  });

  await t.test('a create that fails after the name was taken gives the name back', async () => {
    const r = await d.api('POST', '/containers/create?name=given-back', { Image: 'busybox', Cmd: ['true'], HostConfig: { Binds: ['relative:/x:zz'] } });
    assert.equal(r.status, 400, r.body.toString());
    await create(d, { Cmd: ['true'] }, 'given-back');
  });

  await t.test('nothing reached the safety net', () => {
    assert.deepEqual(safetyNetHits(d), []);
  });
});
