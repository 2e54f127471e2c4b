import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonObjectEnd, runtimeFailure, startFailureExitCode } from './conmon.js';

test('jsonObjectEnd() finds the end of the first object, braces inside strings included', () => {
  const msg = '{"data": -1, "message": "panic {0x99, 0xc0} \\"quoted}\\""}{"data": 7}';
  const end = jsonObjectEnd(msg);
  assert.deepEqual(JSON.parse(msg.slice(0, end)), { data: -1, message: 'panic {0x99, 0xc0} "quoted}"' });
  assert.deepEqual(JSON.parse(msg.slice(end)), { data: 7 });
  assert.equal(jsonObjectEnd('{"data": 1'), -1, 'incomplete');
});

test('runtime failures keep the words the docker CLI matches for 126/127', () => {
  const nf = runtimeFailure('runc create failed: unable to start container process: exec: "x": executable file not found in $PATH');
  assert.equal(startFailureExitCode(nf), 127);
  assert.match(nf.message, /executable file not found/);
  const dir = runtimeFailure('unable to start container process: exec: "/tmp": is a directory');
  assert.equal(startFailureExitCode(dir), 126);
  assert.match(dir.message, /permission denied/, 'moby appends permission denied so the CLI picks 126');
  assert.equal(startFailureExitCode(runtimeFailure('something else')), 128);
});
