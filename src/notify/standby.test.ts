// The standby's watch without containers or root: what it does when its listener goes away.
// (Copies of real notify fds and the takeover itself are kernel tests:
// test/integration/kernel/seccomp-notify.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, openSync, closeSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../base/index.js';
import { StandbyKeeper } from './standby.js';
import { encodeHandoff } from './handoff.js';
import { closeFd, seqpacketPair, sendWithFds } from './kernel.js';
import { lockPath } from './files.js';

function setup(t: { after: (fn: () => void) => void }): { keeper: StandbyKeeper; active: number; stateDir: string } {
  const dir = mkdtempSync('/tmp/moat-sb-');
  const stateDir = join(dir, 'state');
  mkdirSync(stateDir);
  const lockFd = openSync(lockPath(stateDir), 'w+');
  const [active, mine] = seqpacketPair();
  const keeper = new StandbyKeeper({ pairFd: mine, lockFd, socketPath: join(dir, 's.sock'), stateDir, log: silentLogger() });
  t.after(() => {
    keeper.close();
    closeFd(active);
    closeSync(lockFd);
    rmSync(dir, { recursive: true, force: true });
  });
  return { keeper, active, stateDir };
}

test('StandbyKeeper keeps watching while its listener lives', (t) => {
  const { keeper, active } = setup(t);
  assert.equal(sendWithFds(active, encodeHandoff({ t: 'hello', v: 1 }), []), 'sent');
  assert.deepEqual(keeper.tick(0), { kind: 'keep' });
});

test('StandbyKeeper exits after a deliberate stop, without taking over', (t) => {
  const { keeper, active } = setup(t);
  sendWithFds(active, encodeHandoff({ t: 'stop' }), []);
  closeFd(active);
  const v = keeper.tick(100);
  assert.equal(v.kind, 'exit');
  assert.match(v.kind === 'exit' ? v.why : '', /on purpose/);
});

test('StandbyKeeper exits when its listener dies with no container filter to keep', (t) => {
  const { keeper, active } = setup(t);
  closeFd(active);
  const v = keeper.tick(100);
  assert.equal(v.kind, 'exit');
  assert.match(v.kind === 'exit' ? v.why : '', /no container filter/);
});

test('StandbyKeeper refuses an fd that is not a seccomp notify fd', (t) => {
  const { keeper, active, stateDir } = setup(t);
  const fd = openSync(join(stateDir, 'not-a-notify-fd'), 'w');
  t.after(() => closeSync(fd));
  sendWithFds(active, encodeHandoff({ t: 'fd', key: 1, slot: 0, id: 'c1' }), [fd]);
  assert.deepEqual(keeper.tick(100), { kind: 'keep' });
  assert.equal(keeper.held, 0, 'not kept');
});
