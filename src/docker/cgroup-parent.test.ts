import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../base/index.js';
import { cgroupParentLevels, cgroupParentPath, MAX_CGROUP_PARENT_DEPTH, MAX_CGROUP_PARENT_LENGTH } from './cgroup-parent.js';

const is400 = (re: RegExp) => (e: unknown): boolean => e instanceof EngineError && e.status === 400 && /^HostConfig\.CgroupParent /.test(e.message) && re.test(e.message);

test('cgroupParentPath: relative and absolute names both land below moat\'s parent', () => {
  assert.equal(cgroupParentPath(''), '');
  assert.equal(cgroupParentPath('a'), 'a');
  assert.equal(cgroupParentPath('a/b'), 'a/b');
  assert.equal(cgroupParentPath('/a/b'), 'a/b');
  assert.equal(cgroupParentPath('/'), '');
  assert.equal(cgroupParentPath('ci_jobs/run-1.2'), 'ci_jobs/run-1.2');
  assert.equal(cgroupParentPath(Array(MAX_CGROUP_PARENT_DEPTH).fill('a').join('/')), Array(MAX_CGROUP_PARENT_DEPTH).fill('a').join('/'));
  assert.equal(cgroupParentPath('x'.repeat(MAX_CGROUP_PARENT_LENGTH)), 'x'.repeat(MAX_CGROUP_PARENT_LENGTH));
});

test('cgroupParentPath refuses names that escape or do not fit cgroupfs, with a 400 naming the field', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['..', /"\.\." is not allowed/],
    ['../x', /"\.\." is not allowed/],
    ['/../x', /"\.\." is not allowed/],
    ['a/../../x', /"\.\." is not allowed/],
    ['a/..', /"\.\." is not allowed/],
    ['./a', /"\." components/],
    ['a//b', /empty path component/],
    ['//a', /empty path component/],
    ['a/', /empty path component/],
    ['a\0b', /NUL, newlines/],
    ['a\nb', /NUL, newlines/],
    ['a\rb', /NUL, newlines/],
    ['x'.repeat(MAX_CGROUP_PARENT_LENGTH + 1), /longer than 255/],
    [Array(MAX_CGROUP_PARENT_DEPTH + 1).fill('a').join('/'), /more than 16 levels/],
    ['system.slice', /systemd slice/],
    ['user.slice/x', /systemd slice/],
    ['a b', /may hold only/],
    ['-a', /may hold only/],
    ['.hidden', /may hold only/],
    ['a:b', /may hold only/],
    ['a'.repeat(64).replace(/a/g, 'f'), /looks like a container ID/],
    ['ci/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', /looks like a container ID/],
    ['tasks', /cgroup control file/],
    ['a/cgroup.procs', /cgroup control file/],
    ['memory.limit_in_bytes', /cgroup control file/],
    ['release_agent', /cgroup control file/],
  ];
  for (const [value, re] of cases) {
    await t.test(JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value), () => assert.throws(() => cgroupParentPath(value), is400(re)));
  }
});

test('cgroupParentLevels lists the levels deepest first', () => {
  assert.deepEqual(cgroupParentLevels(''), []);
  assert.deepEqual(cgroupParentLevels('a'), ['a']);
  assert.deepEqual(cgroupParentLevels('a/b/c'), ['a/b/c', 'a/b', 'a']);
});
