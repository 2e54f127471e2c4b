import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareText } from './order.js';

test('compareText: code-unit order, as Go sorts strings', () => {
  assert.deepEqual(['b', 'a', 'B', 'a1', 'a'].sort(compareText), ['B', 'a', 'a', 'a1', 'b']);
  assert.equal(compareText('udp', 'tcp'), 1);
  assert.equal(compareText('tcp', 'tcp'), 0);
  assert.equal(compareText('10.0.0.2', '10.0.0.10'), 1);
});
