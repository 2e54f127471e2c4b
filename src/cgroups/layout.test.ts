import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../base/index.js';
import { cgroupDirs, cgroupMounts, detectCgroupMode, ownCgroupPaths } from './layout.js';

// from this development VM (hybrid: v1 controllers, near-empty v2)
const HYBRID = `24 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
const V1 = `32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,nosuid shared:10 - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,release_agent=/x,name=systemd
`;
const V2 = `30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

test('detectCgroupMode()', () => {
  assert.equal(detectCgroupMode(HYBRID), 'hybrid');
  assert.equal(detectCgroupMode(V1), 'v1');
  assert.equal(detectCgroupMode(V2), 'v2');
  // a lone named v1 hierarchy does not make a v2 host hybrid
  assert.equal(detectCgroupMode(V2 + '40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n'), 'v2');
  assert.throws(() => detectCgroupMode('24 1 8:1 / / rw - ext4 /dev/sda1 rw\n'), (e: unknown) => e instanceof EngineError && e.kind === 'internal');
});

test('cgroupMounts() reads controllers and unescapes paths', () => {
  const m = cgroupMounts(V1 + '50 31 0:40 /sub /mnt/with\\040space rw - cgroup cgroup rw,pids\n');
  assert.deepEqual(m[0], { version: 1, mountPoint: '/sys/fs/cgroup/cpu,cpuacct', root: '/', controllers: ['cpu', 'cpuacct'] });
  assert.deepEqual(m[2]?.controllers, ['name=systemd']);
  assert.deepEqual(m[3], { version: 1, mountPoint: '/mnt/with space', root: '/sub', controllers: ['pids'] });
});

test('ownCgroupPaths() and cgroupDirs()', () => {
  const own = ownCgroupPaths('9:name=systemd:/\n8:pids:/moatd\n4:memory:/process_api/a5\n2:cpu,cpuacct:/x\n0::/\n');
  assert.deepEqual(own, { 'name=systemd': '/', pids: '/moatd', memory: '/process_api/a5', cpu: '/x', cpuacct: '/x', unified: '/' });
  const dirs = cgroupDirs(cgroupMounts(HYBRID), own);
  assert.equal(dirs['memory'], '/sys/fs/cgroup/memory/process_api/a5');
  assert.equal(dirs['pids'], '/sys/fs/cgroup/pids/moatd');
  assert.equal(dirs['unified'], '/sys/fs/cgroup/unified');
  assert.equal(dirs['name=systemd'], '/sys/fs/cgroup/systemd');
  assert.deepEqual(cgroupDirs(cgroupMounts(V2), ownCgroupPaths('0::/system.slice/moatd.service\n')), { unified: '/sys/fs/cgroup/system.slice/moatd.service' });
  // a mount whose root is a sub-cgroup (bind-mounted subtree)
  const sub = cgroupMounts('1 1 0:1 /a/b /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n');
  assert.deepEqual(cgroupDirs(sub, { unified: '/a/b/c' }), { unified: '/sys/fs/cgroup/c' });
  assert.deepEqual(ownCgroupPaths(''), {});
});
