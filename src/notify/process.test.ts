// The listener process itself (no root, no containers): start, find again, single instance
// per state dir, stop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, existsSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startListenerProcess, findListenerProcess, findStandbyProcess, stopListenerProcess, canConnect, requestIdleExit, waitForExit } from './process.js';
import { pidPath, standbyPidPath } from './files.js';
import { claimListenerSocket, closeFd, tryLockExclusive } from './kernel.js';

const REPO = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();
const BIN = join(REPO, 'bin/moat-seccomp-listener');

/** A temporary state dir and socket; the listener started there (and its standby) is ended after the test. */
function listenerDir(t: { after: (fn: () => Promise<void>) => void }, extra: { early?: boolean } = {}): { dir: string; o: { socket: string; stateDir: string; listenerBin: string; early?: boolean }; started: <T extends { pid: number }>(l: T) => T } {
  const dir = mkdtempSync('/tmp/moat-lp-');
  const o = { socket: join(dir, 's.sock'), stateDir: join(dir, 'state'), listenerBin: BIN, ...extra };
  let pid = 0;
  t.after(async () => {
    await stopListenerProcess({ stateDir: o.stateDir });
    try {
      if (pid > 0) process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, o, started: (l) => ((pid = l.pid), l) };
}

test('startListenerProcess() starts once per state dir and finds the running one again', async (t) => {
  const { dir, o, started } = listenerDir(t);
  const a = started(await startListenerProcess(o));
  assert.equal(a.started, true);
  assert.equal(readFileSync(pidPath(o.stateDir), 'utf8').trim(), String(a.pid));
  const b = await startListenerProcess(o);
  assert.deepEqual(b, { pid: a.pid, started: false });

  // A second process on the same state dir sees the lock and leaves with status 0.
  const second = spawnSync(process.execPath, [BIN, '--socket', join(dir, 'other.sock'), '--state-dir', o.stateDir], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(second.status, 0, second.stderr);
  assert.match(second.stderr, /another listener serves this state dir/);
  assert.ok(await canConnect(o.socket), 'the first one still serves');

  await stopListenerProcess({ stateDir: o.stateDir });
  assert.equal(await findListenerProcess(o), undefined);
  assert.ok(!existsSync(o.socket), 'socket removed on SIGTERM');
  assert.ok(!existsSync(pidPath(o.stateDir)), 'pid file removed on SIGTERM');

  // A stale socket file (a crashed listener) does not stop the next one.
  const c = started(await startListenerProcess(o));
  process.kill(c.pid, 'SIGKILL');
  for (let i = 0; i < 100 && existsSync(`/proc/${c.pid}/status`) && !readFileSync(`/proc/${c.pid}/status`, 'utf8').includes('State:\tZ'); i++) await new Promise((r) => setTimeout(r, 20));
  const d = started(await startListenerProcess(o));
  assert.equal(d.started, true);
  assert.notEqual(d.pid, c.pid);
});

/** A temp state dir for one pair; the test's end stops it and kills every pid noted. */
function pairRig(t: { after: (fn: () => Promise<void>) => void }): { o: { socket: string; stateDir: string; listenerBin: string }; pids: number[] } {
  const dir = mkdtempSync('/tmp/moat-lp-');
  const o = { socket: join(dir, 's.sock'), stateDir: join(dir, 'state'), listenerBin: BIN };
  const pids: number[] = [];
  t.after(async () => {
    await stopListenerProcess({ stateDir: o.stateDir });
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return { o, pids };
}

test('the listener keeps a standby; a deliberate stop ends both; killed with no container, its standby just exits', async (t) => {
  const { o, pids } = pairRig(t);
  const alive = (pid: number): boolean => existsSync(`/proc/${pid}/status`) && !readFileSync(`/proc/${pid}/status`, 'utf8').includes('State:\tZ');
  const until = async (what: string, ok: () => boolean): Promise<void> => {
    for (let i = 0; i < 250 && !ok(); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(ok(), what);
  };
  const a = await startListenerProcess(o);
  pids.push(a.pid);
  await until('a standby', () => findStandbyProcess(o) !== undefined);
  const sb = findStandbyProcess(o)!.pid;
  pids.push(sb);
  assert.notEqual(sb, a.pid);
  await stopListenerProcess({ stateDir: o.stateDir });
  assert.equal(alive(a.pid), false);
  assert.equal(alive(sb), false, 'the standby stops with it');

  const b = await startListenerProcess(o);
  pids.push(b.pid);
  await until('a standby', () => findStandbyProcess(o) !== undefined);
  const sb2 = findStandbyProcess(o)!.pid;
  pids.push(sb2);
  process.kill(b.pid, 'SIGKILL');
  await until('the standby to exit: nothing to keep', () => !alive(sb2));
  assert.equal(await findListenerProcess(o), undefined, 'no takeover without containers');
});

test('an idle-exit request: declined within the grace period, then the pair exits (pids, socket and pid files gone)', async (t) => {
  const { o, pids } = pairRig(t);
  const a = await startListenerProcess(o);
  pids.push(a.pid);
  for (let i = 0; i < 250 && findStandbyProcess(o) === undefined; i++) await new Promise((r) => setTimeout(r, 20));
  const sb = findStandbyProcess(o)!.pid;
  pids.push(sb);
  assert.equal(await requestIdleExit({ socket: o.socket, graceMs: 60_000 }), 'busy', 'started less than a minute ago');
  assert.ok(await canConnect(o.socket), 'still serving after declining');
  assert.equal((await findListenerProcess(o))?.pid, a.pid);
  assert.equal(await requestIdleExit({ socket: o.socket, graceMs: 0 }), 'exiting');
  assert.equal(existsSync(o.socket), false, 'the socket file goes before the answer');
  assert.equal(await waitForExit([a.pid, sb], 5000), true, 'listener and standby exit');
  assert.equal(existsSync(pidPath(o.stateDir)), false);
  assert.equal(existsSync(standbyPidPath(o.stateDir)), false);
  assert.equal(await requestIdleExit({ socket: o.socket, graceMs: 0, timeoutMs: 500 }), 'busy', 'nobody there: never "exiting"');
  const b = await startListenerProcess(o);
  pids.push(b.pid);
  assert.equal(b.started, true, 'a new one starts at once after');
});

test('the listener refuses bad arguments with status 2', () => {
  const r = spawnSync(process.execPath, [BIN, '--socket'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /needs a value/);
});

test('an early start answers at once with the socket listening, the lock taken, and no fd of either left in this process', async (t) => {
  const { dir, o, started } = listenerDir(t, { early: true });
  const a = started(await startListenerProcess(o));
  assert.equal(a.started, true);
  assert.ok(a.ready !== undefined, 'an early start says when the listener serves');
  // Connectable at once: the connection waits in the backlog while the listener starts.
  assert.equal(existsSync(pidPath(o.stateDir)), false, 'the listener has not written its pid file yet');
  assert.ok(await canConnect(o.socket, 200), 'the socket accepts before the listener runs');
  // A second listener started meanwhile finds the lock taken (held through the child's copy).
  const second = spawnSync(process.execPath, [BIN, '--socket', join(dir, 'other.sock'), '--state-dir', o.stateDir], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(second.status, 0, second.stderr);
  assert.match(second.stderr, /another listener serves this state dir/);
  assert.equal(await a.ready, true);
  assert.equal(readFileSync(pidPath(o.stateDir), 'utf8').trim(), String(a.pid));
  assert.deepEqual(await findListenerProcess(o), { pid: a.pid });
  assert.equal(await requestIdleExit({ socket: o.socket, graceMs: 60_000 }), 'busy', 'it answers on the socket moatd bound');
  // This process keeps neither the lock's fd nor the listening socket: a listener that dies
  // must take the socket with it (and its lock).
  const listening = readFileSync('/proc/net/unix', 'utf8').split('\n').filter((l) => l.trim().endsWith(` ${o.socket}`)).map((l) => l.trim().split(/\s+/)[6]);
  assert.ok(listening.length > 0, 'the socket is in /proc/net/unix');
  const mine = readdirSync('/proc/self/fd').map((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return '';
    }
  });
  for (const inode of listening) assert.ok(!mine.includes(`socket:[${inode}]`), `this process holds no fd of socket ${inode}`);
  assert.ok(!mine.includes(join(o.stateDir, 'listener.lock')), 'this process holds no fd of the lock file');
});

test('an early start of a listener that cannot run leaves the socket refusing connections', async (t) => {
  const dir = mkdtempSync('/tmp/moat-lp-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const o = { socket: join(dir, 's.sock'), stateDir: join(dir, 'state'), listenerBin: join(dir, 'no-such-listener'), early: true, timeoutMs: 3000 };
  const a = await startListenerProcess(o);
  assert.equal(await a.ready, false);
  assert.equal(await canConnect(o.socket, 500), false, 'nobody holds the socket: runc is refused, not left waiting');
});

test('an early start refuses a file that is not a socket in the socket\'s place, leaves it, and keeps no lock', async (t) => {
  const dir = mkdtempSync('/tmp/moat-lp-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const o = { socket: join(dir, 's.sock'), stateDir: join(dir, 'state'), listenerBin: BIN, early: true };
  writeFileSync(o.socket, 'not a socket');
  await assert.rejects(startListenerProcess(o), (err: Error & { code?: string }) => err.code === 'ERR_SECCOMP_LISTENER' && /a file that is not a socket is in the way/.test(err.message));
  assert.equal(readFileSync(o.socket, 'utf8'), 'not a socket', 'the file is left as it was');
  // The lock was let go: a claim now (the file gone) gets it, and a second one does not.
  rmSync(o.socket);
  const first = claimListenerSocket(o.socket, o.stateDir);
  assert.ok(first !== undefined, 'the lock is free');
  t.after(() => {
    closeFd(first.listenFd);
    closeFd(first.lockFd);
  });
  const lockFd = openSync(join(o.stateDir, 'listener.lock'), 'r+');
  try {
    assert.equal(tryLockExclusive(lockFd), false, 'held by the claim');
  } finally {
    closeSync(lockFd);
  }
});
