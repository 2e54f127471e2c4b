import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerCgroupPath, parentLevelsToRemove, usedLevels } from './cgroup-parents.js';

const rec = (CgroupParent?: string): { Id: string; HostConfig: { CgroupParent?: string } } => ({ Id: 'c'.repeat(64), HostConfig: CgroupParent === undefined ? {} : { CgroupParent } });

test('containerCgroupPath nests the CgroupParent under the daemon\'s parent, absolute or not', () => {
  assert.equal(containerCgroupPath('moat', rec()), `moat/${'c'.repeat(64)}`);
  assert.equal(containerCgroupPath('moat', rec('a/b')), `moat/a/b/${'c'.repeat(64)}`);
  assert.equal(containerCgroupPath('moat', rec('/a/b')), `moat/a/b/${'c'.repeat(64)}`);
  assert.throws(() => containerCgroupPath('moat', rec('../x')), /HostConfig\.CgroupParent/);
});

test('parentLevelsToRemove keeps every level another container names', () => {
  assert.deepEqual(parentLevelsToRemove('moat', rec('a/b'), []), ['moat/a/b', 'moat/a']);
  assert.deepEqual(parentLevelsToRemove('moat', rec('a/b'), [rec('a/b')]), []);
  assert.deepEqual(parentLevelsToRemove('moat', rec('a/b'), [rec('/a')]), ['moat/a/b']);
  assert.deepEqual(parentLevelsToRemove('moat', rec('a/b'), [rec('a/b/c')]), []);
  assert.deepEqual(parentLevelsToRemove('moat', rec('a'), [rec('ab')]), ['moat/a']);
  assert.deepEqual(parentLevelsToRemove('moat', rec(), [rec('a')]), []);
  // A record that never passed the check (edited on disk) names nothing to remove.
  assert.deepEqual(parentLevelsToRemove('moat', rec('../../etc'), []), []);
});

test('usedLevels lists every level of every container\'s CgroupParent', () => {
  assert.deepEqual([...usedLevels([rec('a/b'), rec('/a/c'), rec(), rec('..')])].sort(), ['a', 'a/b', 'a/c']);
});
