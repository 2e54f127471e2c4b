import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBlkioSupport } from './limits.js';

test('readBlkioSupport(): v1 by the blkio directory\'s files, v2 by the io controller, nothing where unreadable', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'moat-blkio-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const files: Record<string, string> = {
    'blkio/m/blkio.throttle.read_bps_device': '',
    'blkio/m/blkio.throttle.write_bps_device': '',
    'blkio/m/blkio.throttle.read_iops_device': '',
    'blkio/m/blkio.throttle.write_iops_device': '',
    'unified/m/cgroup.controllers': 'cpuset cpu io memory pids\n',
    'unified/n/cgroup.controllers': 'cpu memory\n',
  };
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(root, name, '..'), { recursive: true });
    await writeFile(join(root, name), text);
  }
  const none = { weight: false, weightDevice: false, readBps: false, writeBps: false, readIOps: false, writeIOps: false };
  // This machine's v1 blkio: throttles, no weight files (no BFQ scheduler).
  assert.deepEqual(await readBlkioSupport({ mode: 'hybrid', dirs: { blkio: join(root, 'blkio/m') } }), { ...none, readBps: true, writeBps: true, readIOps: true, writeIOps: true });
  await writeFile(join(root, 'blkio/m/blkio.bfq.weight'), '');
  assert.equal((await readBlkioSupport({ mode: 'v1', dirs: { blkio: join(root, 'blkio/m') } })).weight, true);
  assert.deepEqual(await readBlkioSupport({ mode: 'v1', dirs: {} }), none);
  assert.deepEqual(await readBlkioSupport({ mode: 'v1', dirs: { blkio: join(root, 'nosuch') } }), none);
  assert.deepEqual(await readBlkioSupport({ mode: 'v2', dirs: { unified: join(root, 'unified/m') } }), { weight: true, weightDevice: true, readBps: true, writeBps: true, readIOps: true, writeIOps: true });
  assert.deepEqual(await readBlkioSupport({ mode: 'v2', dirs: { unified: join(root, 'unified/n') } }), none);
});
