// The image store's parent links and tags: rmi takes the untagged parents only the removed
// image kept (not with noprune, never a tagged or used one), refuses an image with children
// by id, and re-tagging an image with its own tag writes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineError, silentLogger } from '../base/index.js';
import { ImageStore, type ImageConfig } from './store.js';

let n = 0;
function config(): ImageConfig {
  n++;
  return { architecture: 'amd64', os: 'linux', created: `2024-01-01T00:00:${String(n).padStart(2, '0')}Z`, config: { Labels: { n: String(n) } }, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
}

async function store(t: { after: (fn: () => void) => void }): Promise<ImageStore> {
  const root = mkdtempSync(join(tmpdir(), 'mt-store-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const s = new ImageStore(root, silentLogger());
  await s.init();
  return s;
}

/** base (tagged) <- a <- b <- top (tagged), and a <- other */
async function chain(s: ImageStore): Promise<Record<'base' | 'a' | 'b' | 'top' | 'other', string>> {
  const base = (await s.addImage(config(), 'base:1')).id;
  const a = (await s.addImage(config())).id;
  const b = (await s.addImage(config())).id;
  const top = (await s.addImage(config(), 'top:1')).id;
  const other = (await s.addImage(config())).id;
  await s.setParent(a, base);
  await s.setParent(b, a);
  await s.setParent(top, b);
  await s.setParent(other, a);
  return { base, a, b, top, other };
}

const unused = (): undefined => undefined;

test('rmi of the final image deletes the untagged parents only it kept, nearest first', async (t) => {
  const s = await store(t);
  const ids = await chain(s);
  const out = await s.remove('top:1', { force: false, usedBy: unused });
  assert.deepEqual(out, [{ Untagged: 'top:1' }, { Deleted: ids.top }, { Deleted: ids.b }], '`a` stays: `other` was built on it');
  assert.ok(s.find(ids.a) && s.find(ids.base));
  const rest = await s.remove(ids.other, { force: false, usedBy: unused });
  assert.deepEqual(rest, [{ Deleted: ids.other }, { Deleted: ids.a }], 'then `a` goes with its last child; base is tagged');
  assert.ok(s.find('base:1'));
});

test('noprune keeps the parents; a parent used by a container stays', async (t) => {
  const s = await store(t);
  const ids = await chain(s);
  assert.deepEqual(await s.remove('top:1', { force: false, prune: false, usedBy: unused }), [{ Untagged: 'top:1' }, { Deleted: ids.top }]);
  assert.ok(s.find(ids.b));
  assert.deepEqual(await s.remove(ids.b, { force: false, usedBy: (id) => (id === ids.a ? 'c1' : undefined) }), [{ Deleted: ids.b }], '`a` is used by c1');
});

test('an image with children: by id a 409, by name only untagged', async (t) => {
  const s = await store(t);
  const ids = await chain(s);
  await assert.rejects(s.remove(ids.a, { force: true, usedBy: unused }), (e: unknown) => e instanceof EngineError && e.status === 409 && /image has dependent child images/.test(e.message));
  await s.tag(ids.b, 'mid:1');
  assert.deepEqual(await s.remove('mid:1', { force: false, usedBy: unused }), [{ Untagged: 'mid:1' }]);
  assert.ok(s.find(ids.b), 'still there: top was built on it');
});

test('re-tagging an image with the tag it has writes nothing; a moved tag is written', async (t) => {
  const s = await store(t);
  const ids = await chain(s);
  const file = join(s.root, 'repositories.json');
  const before = statSync(file).ino;
  await s.tag(ids.top, 'top:1');
  assert.equal(statSync(file).ino, before, 'the same file: not replaced');
  await s.tag(ids.b, 'top:1');
  assert.notEqual(statSync(file).ino, before);
  assert.equal(s.find('top:1')?.id, ids.b);
});
