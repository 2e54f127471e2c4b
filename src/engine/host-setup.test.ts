import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineError } from '../base/index.js';
import { devMajor, devMinor } from '../image/index.js';
import { blockDeviceNumbers } from './host-setup.js';

/** A block device node of this machine (/dev/vda, /dev/loop0...), if it has one. */
function someBlockDevice(): string | undefined {
  return readdirSync('/dev').map((n) => join('/dev', n)).find((p) => {
    try {
      return statSync(p).isBlockDevice();
    } catch {
      return false;
    }
  });
}

test('blockDeviceNumbers(): a block device\'s numbers; a 400 for a missing path, a non-block node or a partition', async (t) => {
  const is400 = (re: RegExp) => (e: unknown): boolean => e instanceof EngineError && e.status === 400 && re.test(e.message);
  await assert.rejects(blockDeviceNumbers(['/dev/moat-no-such-disk']), is400(/^error gathering block device information for "\/dev\/moat-no-such-disk": not found$/));
  await assert.rejects(blockDeviceNumbers(['/dev/null']), is400(/"\/dev\/null": not a block device$/));
  const dev = someBlockDevice();
  if (dev === undefined) {
    t.skip('no block device node under /dev');
    return;
  }
  const st = statSync(dev);
  const sys = await mkdtemp(join(tmpdir(), 'moat-sys-'));
  t.after(() => rm(sys, { recursive: true, force: true }));
  const numbers = { major: devMajor(st.rdev), minor: devMinor(st.rdev) };
  assert.deepEqual(await blockDeviceNumbers([dev], sys), new Map([[dev, numbers]]));
  // sysfs marks a partition with a `partition` file; the kernel refuses blkio settings on one.
  await mkdir(join(sys, 'dev', 'block', `${numbers.major}:${numbers.minor}`), { recursive: true });
  await writeFile(join(sys, 'dev', 'block', `${numbers.major}:${numbers.minor}`, 'partition'), '1\n');
  await assert.rejects(blockDeviceNumbers([dev], sys), is400(/is a partition: block I\/O weights and limits apply to a whole disk$/));
});
