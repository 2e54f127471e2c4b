import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseThrottle } from './run-options.js';

test('parseThrottle(): the docker CLI\'s --device-{read,write}-{bps,iops} parsing and words', () => {
  assert.deepEqual(parseThrottle('/dev/vda:1mb', 'bytes'), { Path: '/dev/vda', Rate: 1048576 });
  assert.deepEqual(parseThrottle('/dev/vda:512', 'bytes'), { Path: '/dev/vda', Rate: 512 });
  assert.deepEqual(parseThrottle('/dev/disk/by-id/x:0', 'count'), { Path: '/dev/disk/by-id/x', Rate: 0 });
  assert.throws(() => parseThrottle('/dev/vda', 'bytes'), /^Error: bad format: \/dev\/vda$/);
  assert.throws(() => parseThrottle('/dev/vda:1:2', 'bytes'), /^Error: bad format: /);
  assert.throws(() => parseThrottle('/tmp:1', 'bytes'), /^Error: bad format for device path: \/tmp:1$/);
  assert.throws(() => parseThrottle('/dev/vda:-1', 'bytes'), /invalid rate for device: \/dev\/vda:-1\. The correct format is <device-path>:<number>\[<unit>\]/);
  assert.throws(() => parseThrottle('/dev/vda:1mb', 'count'), /invalid rate for device: \/dev\/vda:1mb\. The correct format is <device-path>:<number>\. Number must be a positive integer$/);
  assert.throws(() => parseThrottle('/dev/vda:', 'count'), /invalid rate for device/);
});
