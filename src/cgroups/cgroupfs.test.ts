import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCgroupStats, readOomKillCount, readOwnCgroups, readPidsEvents, systemCpuUsage } from './cgroupfs.js';

async function fakeDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'moat-cgroupfs-'));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return dir;
}

test('readCgroupStats() reads a fake v1 hierarchy and tolerates missing files', async (t) => {
  const root = await fakeDir({
    'memory/c/memory.usage_in_bytes': '315392\n',
    'memory/c/memory.limit_in_bytes': '67108864\n',
    'memory/c/memory.stat': 'rss 49152\ntotal_inactive_file 0\n',
    'memory/c/memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n',
    'cpuacct/c/cpuacct.usage': '101613824\n',
    'cpuacct/c/cpuacct.stat': 'user 4\nsystem 5\n',
    'pids/c/pids.current': '64\n',
    'pids/c/pids.max': '64\n',
    'pids/c/pids.events': 'max 45\n',
  });
  t.after(() => rm(root, { recursive: true, force: true }));
  const s = await readCgroupStats({ mode: 'hybrid', paths: {
    memory: join(root, 'memory/c'), cpuacct: join(root, 'cpuacct/c'), cpu: join(root, 'cpu/c'), pids: join(root, 'pids/c'), blkio: join(root, 'blkio/c'),
  } });
  assert.equal(s.version, 1);
  assert.equal(s.memory?.usage, 315392);
  assert.equal(s.memory?.limit, 67108864);
  assert.equal(s.memory?.maxUsage, undefined);
  assert.equal(s.memory?.oomKill, 3);
  assert.equal(s.cpu?.totalUsage, 101613824);
  assert.equal(s.cpu?.kernel, 50000000);
  assert.equal(s.cpu?.percpu, undefined);
  assert.deepEqual(s.pids, { current: 64, limit: 64, maxEvents: 45 });
  assert.deepEqual(s.blkio, { serviceBytes: [], serviced: [] });
  assert.equal(readPidsEvents(join(root, 'pids/c')), 45);
  assert.equal(readOomKillCount(join(root, 'memory/c'), { mode: 'v1' }), 3);
  assert.equal(readPidsEvents(join(root, 'nope')), undefined);
  assert.equal(readOomKillCount(join(root, 'nope'), { mode: 'v1' }), undefined);
});

test('readCgroupStats() reads a fake v2 cgroup', async (t) => {
  const root = await fakeDir({
    'c/memory.current': '4096\n', 'c/memory.max': 'max\n', 'c/memory.events': 'oom 0\noom_kill 2\n',
    'c/cpu.stat': 'usage_usec 10\nuser_usec 6\nsystem_usec 4\n', 'c/pids.current': '2\n', 'c/pids.max': 'max\n', 'c/pids.events': 'max 0\n',
  });
  t.after(() => rm(root, { recursive: true, force: true }));
  const s = await readCgroupStats({ mode: 'v2', paths: { unified: join(root, 'c') } });
  assert.equal(s.version, 2);
  assert.deepEqual([s.memory?.usage, s.memory?.limit, s.memory?.oomKill], [4096, null, 2]);
  assert.equal(s.cpu?.totalUsage, 10000);
  assert.deepEqual(s.pids, { current: 2, limit: null, maxEvents: 0 });
  assert.equal(s.blkio, undefined);
  assert.equal(readOomKillCount(join(root, 'c'), { mode: 'v2' }), 2);
  assert.deepEqual(await readCgroupStats({ mode: 'v2', paths: {} }), { version: 2 });
});

test('systemCpuUsage() and readOwnCgroups() read proc files', async (t) => {
  const root = await fakeDir({
    'stat': 'cpu  10 0 10 80 0 0 0 0 0 0\ncpu0 10 0 10 80 0 0 0 0 0 0\n',
    'self/mountinfo': '41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n',
    'self/cgroup': '0::/moat\n',
  });
  t.after(() => rm(root, { recursive: true, force: true }));
  assert.deepEqual(await systemCpuUsage({ procStat: join(root, 'stat') }), { systemCpuUsage: 1e9, onlineCpus: 1 });
  assert.deepEqual(await readOwnCgroups({ procSelf: join(root, 'self') }), { mode: 'v2', dirs: { unified: '/sys/fs/cgroup/moat' } });
  // the real host: a sanity check, no assertions on values
  const real = await systemCpuUsage();
  assert.ok(real.onlineCpus >= 1);
});
