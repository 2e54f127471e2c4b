// The volume store: a name asked for by several requests at once is made once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VolumeStore } from './volumes.js';

test('parallel creates of one new name: one makes it, all get it; createIfMissing says which', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'moat-volumes-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = new VolumeStore(root);
  await store.load();
  const recs = await Promise.all([1, 2, 3, 4].map(() => store.create('shared', { labels: { a: 'b' } })));
  for (const r of recs) assert.equal(r, recs[0]);
  assert.deepEqual(recs[0]!.Labels, { a: 'b' });
  const made = await Promise.all([1, 2, 3].map(() => store.createIfMissing('other')));
  assert.deepEqual(made.filter(Boolean).length, 1, `one made it: ${JSON.stringify(made)}`);
  assert.equal(await store.createIfMissing('shared'), false);
  assert.deepEqual((await readdir(join(root, 'volumes'))).sort(), ['other', 'shared']);
  // A bad request fails alone and does not stick to the name.
  await assert.rejects(store.create('third', { options: { device: '/dev/sda' } }), /volume options are not supported/);
  assert.equal(await store.createIfMissing('third'), true);
});
