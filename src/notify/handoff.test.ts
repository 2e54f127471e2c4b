import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeHandoff, tryParseHandoff, type HandoffMessage } from './handoff.js';

test('handoff messages round-trip', () => {
  const all: HandoffMessage[] = [{ t: 'hello', v: 1 }, { t: 'fd', key: 7, slot: 3, id: 'abc123' }, { t: 'drop', key: 7 }, { t: 'stop' }];
  for (const m of all) assert.deepEqual(tryParseHandoff(encodeHandoff(m)), m);
});

test('tryParseHandoff() refuses what is not a message', () => {
  for (const bad of ['', 'null', '[]', '{"t":"hello","v":2}', '{"t":"fd","key":1,"slot":0,"id":"../x"}', '{"t":"fd","key":1.5,"slot":0,"id":"a"}', '{"t":"drop"}', '{"t":"exec"}']) {
    assert.equal(tryParseHandoff(Buffer.from(bad)), undefined, bad);
  }
});
