// The listener's command line (no process started).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseListenerArgs } from './main.js';

test('parseListenerArgs: the inherited lock and socket fds go together, are 3 or more, differ, and never for a standby', () => {
  const base = ['--socket', '/run/x/s.sock', '--state-dir', '/run/x/st'];
  assert.equal(parseListenerArgs(base).inherited, undefined);
  assert.deepEqual(parseListenerArgs([...base, '--lock-fd', '3', '--listen-fd', '4']).inherited, { lockFd: 3, listenFd: 4 });
  assert.throws(() => parseListenerArgs([...base, '--lock-fd', '3']), /go together/);
  assert.throws(() => parseListenerArgs([...base, '--listen-fd', '4']), /go together/);
  assert.throws(() => parseListenerArgs([...base, '--lock-fd', '2', '--listen-fd', '4']), /3 or more/);
  assert.throws(() => parseListenerArgs([...base, '--lock-fd', 'x', '--listen-fd', '4']), /--lock-fd: an inherited fd number/);
  assert.throws(() => parseListenerArgs([...base, '--lock-fd', '4', '--listen-fd', '4']), /two different fds/);
  assert.throws(() => parseListenerArgs([...base, '--standby', '--lock-fd', '3', '--listen-fd', '4']), /not for a standby/);
});
