import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeIdleExitRequest, parseIdleExitRequest, parseIdleExitAnswer, IDLE_EXIT_EXITING, IDLE_EXIT_BUSY } from './idle.js';

test('idle-exit request round-trips and is told apart from runc state', () => {
  assert.deepEqual(parseIdleExitRequest(encodeIdleExitRequest(3000).toString()), { graceMs: 3000 });
  assert.equal(parseIdleExitRequest('{"ociVersion":"1.0.2","fds":["seccompFd"],"pid":1}'), undefined);
  assert.equal(parseIdleExitRequest('not json'), undefined);
  assert.deepEqual(parseIdleExitRequest('{"moatListener":"exit-if-idle","graceMs":-5}'), { graceMs: 0 }, 'a bad grace means none, never a throw');
});

test('only an explicit exiting answer counts as exiting', () => {
  assert.equal(parseIdleExitAnswer(IDLE_EXIT_EXITING), 'exiting');
  assert.equal(parseIdleExitAnswer(IDLE_EXIT_BUSY), 'busy');
  assert.equal(parseIdleExitAnswer(''), 'busy', 'an older listener closes without answering');
});
