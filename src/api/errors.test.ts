import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError, silentLogger } from '../base/index.js';
import { describeHostPaths, toErrorReply } from './errors.js';

function sysErr(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${syscall} '${path}'`), { code, syscall, path });
}

const describe = describeHostPaths({ dataRoot: '/var/lib/moat', execRoot: '/run/moat' });

test('toErrorReply() answers a full disk, a quota, a read-only fs and too many files in Docker\'s words, without the path', async (t) => {
  const cases: Array<[NodeJS.ErrnoException | EngineError, number, string]> = [
    [sysErr('ENOSPC', 'write', '/var/lib/moat/containers/abc/.container.json.1234abcd.tmp'), 500, 'Cannot write container state: no space left on device'],
    [sysErr('EDQUOT', 'open', '/var/lib/moat/volumes/v/volume.json'), 500, 'Cannot write volume data: disk quota exceeded'],
    [sysErr('EROFS', 'mkdir', '/var/lib/moat/image/tmp/x'), 500, 'Cannot write the image store: read-only file system'],
    [sysErr('EMFILE', 'open', '/run/moat/exits/abc'), 500, 'Cannot open runtime state: too many open files'],
    [sysErr('ENOSPC', 'write', '/elsewhere/file'), 500, 'Cannot write host files: no space left on device'],
    // Wrapped by a lower layer: the cause chain is searched.
    [new EngineError('internal', 'ERR_INTERNAL', 'Cannot import layer: x', { cause: sysErr('ENOSPC', 'write', '/var/lib/moat/image/tmp/l') }), 500, 'Cannot write the image store: no space left on device'],
  ];
  for (const [err, status, message] of cases) {
    await t.test(message, () => {
      const r = toErrorReply(err, silentLogger(), 'req1', describe);
      assert.equal(r.status, status);
      assert.equal(r.body.message, message);
      assert.ok(!r.body.message.includes('/var/lib') && !r.body.message.includes('/run/moat'));
    });
  }
});

test('toErrorReply() keeps other errors as they were', () => {
  assert.deepEqual(toErrorReply(new EngineError('invalid', 'ERR_INVALID_ARGUMENT', 'bad'), silentLogger(), 'r'), { status: 400, body: { message: 'bad' } });
  assert.equal(toErrorReply(sysErr('EIO', 'read', '/var/lib/moat/x'), silentLogger(), 'r2', describe).body.message, 'Internal error, see daemon log for request r2');
  assert.equal(toErrorReply(new Error('boom'), silentLogger(), 'r3').status, 500);
  // A runtime error shown to the client keeps runc's words even if ENOSPC caused it.
  const shown = new EngineError('internal', 'ERR_RUNTIME_FAILED', 'OCI runtime create failed: x', { cause: sysErr('ENOSPC', 'write', '/x') });
  assert.equal(toErrorReply(shown, silentLogger(), 'r4').body.message, 'OCI runtime create failed: x');
});
