// The build cache index under concurrent writers and on a damaged file: no entry is lost,
// the file is always whole JSON, and a corrupt index is a miss with a warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildCache, type CacheImages } from './cache.js';

/** A store of `ids` (all of them exist unless removed from the set). */
function fakeImages(root: string, ids: Set<string>): CacheImages {
  return { root, find: (ref: string) => (ids.has(ref) ? ({ id: ref } as ReturnType<CacheImages['find']>) : undefined) };
}

function warnings(): { log: { warn: (o: object, msg: string) => void }; seen: string[] } {
  const seen: string[] = [];
  return { log: { warn: (_o: object, msg: string) => void seen.push(msg) }, seen };
}

const id = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

test('concurrent adds, from one cache and from two on the same store, lose no entry', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'mt-cache-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const ids = new Set(Array.from({ length: 60 }, (_, n) => id(n)));
  const w = warnings();
  const a = new BuildCache(fakeImages(root, ids), w.log);
  const b = new BuildCache(fakeImages(root, ids), w.log);
  await Promise.all(Array.from({ length: 60 }, (_, n) => (n % 3 === 0 ? b : a).add(`key${n}`, id(n))));
  const saved = JSON.parse(readFileSync(join(root, 'build-cache.json'), 'utf8')) as Record<string, string>;
  assert.equal(Object.keys(saved).length, 60, 'every entry is on disk');
  for (let n = 0; n < 60; n++) assert.equal(saved[`key${n}`], id(n));
  const fresh = new BuildCache(fakeImages(root, ids), w.log);
  for (let n = 0; n < 60; n++) assert.equal(await fresh.find(`key${n}`), id(n), `key${n} is found by a new cache`);
  assert.deepEqual(readdirSync(root), ['build-cache.json'], 'no temporary file left');
  assert.deepEqual(w.seen, []);
});

test('an entry whose image is gone is a miss and leaves the index at the next write', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'mt-cache-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const ids = new Set([id(1), id(2)]);
  const cache = new BuildCache(fakeImages(root, ids), warnings().log);
  await cache.add('k1', id(1));
  ids.delete(id(1)); // an image prune
  assert.equal(await cache.find('k1'), undefined);
  await cache.add('k2', id(2));
  assert.deepEqual(JSON.parse(readFileSync(join(root, 'build-cache.json'), 'utf8')), { k2: id(2) });
});

test('a corrupt or wrong-shaped index is a cache miss with a warning, and the next add replaces it', async (t) => {
  for (const [what, text] of [
    ['torn JSON', '{"k1": "sha256:00'],
    ['garbage', '\u0000\u0001not json'],
    ['an array', '["k1"]'],
    ['null', 'null'],
  ] as const) {
    const root = mkdtempSync(join(tmpdir(), 'mt-cache-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    writeFileSync(join(root, 'build-cache.json'), text);
    const ids = new Set([id(1)]);
    const w = warnings();
    const cache = new BuildCache(fakeImages(root, ids), w.log);
    assert.equal(await cache.find('k1'), undefined, `${what}: a miss`);
    assert.equal(w.seen.length, 1, `${what}: one warning`);
    assert.match(w.seen[0]!, /build cache index .*treated as empty/);
    await cache.add('k1', id(1));
    assert.equal(await cache.find('k1'), id(1), `${what}: the new entry is found`);
    assert.deepEqual(JSON.parse(readFileSync(join(root, 'build-cache.json'), 'utf8')), { k1: id(1) }, `${what}: the file is whole again`);
  }
});

test('a write that fails warns and loses only that entry', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'mt-cache-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const w = warnings();
  // The store's root is a file: the atomic write cannot create its temporary file there.
  writeFileSync(join(root, 'file'), '');
  const cache = new BuildCache(fakeImages(join(root, 'file'), new Set([id(1)])), w.log);
  await cache.add('k1', id(1));
  assert.equal(await cache.find('k1'), undefined);
  assert.match(w.seen.join('\n'), /cannot write the build cache index/);
});
