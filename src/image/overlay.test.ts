// The overlay rootfs mount: the directories it makes when missing, the mount itself, the undo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMounted, mountOverlay, unmountOverlay } from './overlay.js';

const root = process.getuid?.() === 0 ? false : 'needs root to mount';

test('mountOverlay makes missing directories, mounts the layers, and unmountOverlay undoes it', { skip: root }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-overlay-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lower = join(dir, 'lower');
  mkdirSync(lower);
  writeFileSync(join(lower, 'f'), 'layer\n');
  const dirs = { upper: join(dir, 'c/upper'), work: join(dir, 'c/work'), merged: join(dir, 'c/rootfs') };
  await mountOverlay([lower], dirs);
  try {
    assert.equal(isMounted(dirs.merged), true);
    assert.equal(readFileSync(join(dirs.merged, 'f'), 'utf8'), 'layer\n');
    assert.equal(statSync(dirs.work).mode & 0o777, 0o700);
    // Mounted already: nothing stacks on it.
    await mountOverlay([lower], dirs);
  } finally {
    await unmountOverlay(dirs.merged);
  }
  assert.equal(isMounted(dirs.merged), false);
  // The directories exist now: the mount goes straight through.
  await mountOverlay([lower], dirs);
  await unmountOverlay(dirs.merged);
  await unmountOverlay(dirs.merged); // not mounted: nothing to do
});

test('mountOverlay of a missing layer fails with the rootfs named and mounts nothing', { skip: root }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-overlay-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dirs = { upper: join(dir, 'upper'), work: join(dir, 'work'), merged: join(dir, 'rootfs') };
  await assert.rejects(mountOverlay([join(dir, 'no-such-layer')], dirs), /Cannot mount the container rootfs at .*rootfs/);
  assert.equal(isMounted(dirs.merged), false);
});
