// The smallest end-to-end check: a real moatd runs a container through conmon and runc.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';

test('moat run prints the container output and propagates its exit code', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const r = await d.moat(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stdout, 'out\n');
  assert.equal(r.stderr, 'err\n');
  const list = await d.api('GET', '/containers/json?all=1');
  assert.deepEqual(list.json(), [], '--rm removed the container');
});
