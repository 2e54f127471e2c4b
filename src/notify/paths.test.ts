import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPidFileSync, standbyPidPath, writePidFileSync } from './paths.js';

test('writePidFileSync() writes the pid and never makes a state dir that was removed (a late listener or standby must not leave it behind)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-pidfile-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const stateDir = join(dir, 'seccomp');
  assert.throws(() => writePidFileSync(standbyPidPath(stateDir), 4242), { code: 'ENOENT' });
  assert.equal(existsSync(stateDir), false, 'the removed state dir stays removed');
  rmSync(dir, { recursive: true });
  assert.throws(() => writePidFileSync(standbyPidPath(stateDir), 4242), { code: 'ENOENT' });
  assert.equal(existsSync(dir), false, 'nor its parent');
  // In a dir that exists: the pid, and no temporary file left.
  const live = mkdtempSync(join(tmpdir(), 'moat-pidfile-'));
  t.after(() => rmSync(live, { recursive: true, force: true }));
  writePidFileSync(standbyPidPath(live), 4242);
  assert.equal(readPidFileSync(standbyPidPath(live)), 4242);
  assert.deepEqual(readdirSync(live), ['standby.pid']);
});
