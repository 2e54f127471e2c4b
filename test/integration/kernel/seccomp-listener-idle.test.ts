// The listener pair while idle (issue 18): it exits once no container uses it, comes back
// for the next container that needs it (the denial still explained), stays while a container
// holds its fds (also across a moatd restart), and creates racing idle exits lose nothing.
// With moatd gone (SIGKILL) the pair exits on its own once idle, unless a moatd holds the
// state dir's daemon lock again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, basename, join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { buildProbe } from '../../helpers/probe/index.js';

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/status`, 'utf8').includes('State:\tZ');
  } catch {
    return false;
  }
}

/** The pair's pids from its pid files (those alive). */
function pair(d: TestDaemon): number[] {
  const dir = join(d.execRoot, 'seccomp');
  return [readPid(join(dir, 'listener.pid')), readPid(join(dir, 'standby.pid'))].filter((p): p is number => p !== undefined && alive(p));
}

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  assert.ok(ok(), what);
}

/** Runs the probe's keyctl in a named container; returns the explained denials moatd recorded for it. */
async function keyctlDenials(d: TestDaemon, probePath: string, name: string): Promise<string> {
  const r = await d.moat(['run', '--name', name, '-v', `${dirname(probePath)}:/p:ro`, 'busybox', `/p/${basename(probePath)}`, 'keyctl']);
  assert.match(r.stdout, /keyctl errno 1 EPERM/, `${name}: ${r.stderr}`);
  const den = await d.moat(['seccomp', 'denials', name]);
  assert.equal(den.code, 0, den.stderr);
  await d.api('DELETE', `/containers/${name}`);
  return den.stdout;
}

test('the seccomp listener pair while idle', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'gcc')) return;
  const probePath = buildProbe();
  const d = await startDaemon({ args: ['--seccomp-listener-idle', '300'] });
  t.after(() => d.cleanup());
  const socket = join(d.execRoot, 'seccomp.sock');

  await t.test('no pair before a container needs it; exits after the last one; the next denial is still explained', async () => {
    assert.deepEqual(pair(d), [], 'an idle daemon runs no listener');
    // A container that holds the pair while its pids are read: once k1 is gone the pair may
    // exit within the 300 ms grace, before a look after k1 would find it (seen under load).
    const hold = await d.moat(['run', '-d', '--name', 'k0', 'busybox', 'sleep', '600']);
    assert.equal(hold.code, 0, hold.stderr);
    await until('listener and standby pid files', () => pair(d).length === 2);
    const pids = pair(d);
    const first = await keyctlDenials(d, probePath, 'k1');
    assert.match(first, /keyctl\s+EPERM/);
    assert.deepEqual(pair(d), pids, 'the same pair explained k1 while k0 held it');
    await d.api('DELETE', '/containers/k0?force=true');
    await until('the pair exits once no container uses it', () => pids.every((p) => !alive(p)));
    assert.equal(existsSync(socket), false, 'its socket is gone');
    const again = await keyctlDenials(d, probePath, 'k2');
    assert.match(again, /keyctl\s+EPERM/, 'a new pair explains the next denial');
  });

  await t.test('a running container keeps the pair, across a moatd restart; it goes after the container', async () => {
    const r = await d.moat(['run', '-d', '--name', 'holder', 'busybox', 'sleep', '600']);
    assert.equal(r.code, 0, r.stderr);
    await until('the pair runs', () => pair(d).length === 2);
    const pids = pair(d);
    await new Promise((res) => setTimeout(res, 1500)); // several grace periods and checks
    assert.deepEqual(pair(d), pids, 'kept while the container holds its notify fd');
    await d.stop();
    await d.start();
    await new Promise((res) => setTimeout(res, 1500));
    assert.deepEqual(pair(d), pids, 'a restarted moatd finds it and leaves it');
    const den = await keyctlDenials(d, probePath, 'k3');
    assert.match(den, /keyctl\s+EPERM/);
    assert.deepEqual(pair(d), pids, 'the same pair served it');
    await d.api('DELETE', '/containers/holder?force=true');
    await until('the pair exits after the last container', () => pids.every((p) => !alive(p)));
  });

  await t.test('a start that fails does not keep the pair', async () => {
    await until('idle before', () => pair(d).length === 0);
    const count = (msg: string): number => readFileSync(d.logFile, 'utf8').split('\n').filter((l) => l.includes(msg)).length;
    const started = count('seccomp denial listener started');
    const stopped = count('seccomp denial listener stopped');
    // runc's create fails (no such command) after moatd started the pair for it.
    const r = await d.moat(['run', '--name', 'nocmd', 'busybox', '/no/such/command']);
    assert.equal(r.code, 127, r.stderr);
    assert.equal(count('seccomp denial listener started'), started + 1, 'the pair was started for the failed container');
    // A pin would hold it for 2 minutes; 300 ms grace and checks every 300 ms without one.
    await until('the pair stops soon after the failed start', () => count('seccomp denial listener stopped') > stopped, 10_000);
    await until('its processes are gone', () => pair(d).length === 0, 5_000);
    await d.api('DELETE', '/containers/nocmd');
  });

  await t.test('creates racing idle exits: every denial explained', async () => {
    // Grace 300 ms and a check every 300 ms: runs spaced around it meet the exit at every stage.
    // The pair's starts are counted in moatd's log: a pid file read after a run finds none when
    // the run's own removal outlasted the grace (seen on a slower machine, every time).
    const starts = (): number => readFileSync(d.logFile, 'utf8').split('\n').filter((l) => l.includes('seccomp denial listener started')).length;
    const before = starts();
    for (let i = 0; i < 6; i++) {
      const out = await keyctlDenials(d, probePath, `race${i}`);
      assert.match(out, /keyctl\s+EPERM/, `run ${i}`);
      await new Promise((res) => setTimeout(res, 150 + 100 * i));
    }
    if (process.env['DEBUG_IDLE']) console.log(readFileSync(d.logFile, 'utf8').split('\n').filter((l) => /listener|"msg":"started"|exited|removed/.test(l)).map((l) => l.slice(0, 300)).join('\n'));
    if (process.env['DEBUG_IDLE']) console.log(readFileSync(join(d.execRoot, 'seccomp', 'listener.log'), 'utf8').split('\n').filter((l) => /idle|ready|exiting|stopp/.test(l)).map((l) => l.slice(0, 300)).join('\n'));
    assert.ok(starts() - before >= 2, `the pair exited and came back between runs (${starts() - before} starts)`);
    const parallel = await Promise.all([0, 1, 2].map((i) => keyctlDenials(d, probePath, `par${i}`)));
    for (const out of parallel) assert.match(out, /keyctl\s+EPERM/);
  });
});

test('with moatd gone the pair exits on its own once idle; a restarted moatd keeps it', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const listenerLog = (): string => readFileSync(join(d.execRoot, 'seccomp', 'listener.log'), 'utf8');
  const GONE = 'moatd is gone and no container uses the listener: exiting';

  await t.test('moatd killed while a container runs: the pair stays with it, and goes once it is gone', async () => {
    const r = await d.moat(['run', '-d', '--name', 'holder', 'busybox', 'sleep', '600']);
    assert.equal(r.code, 0, r.stderr);
    await until('the pair runs', () => pair(d).length === 2);
    const pids = pair(d);
    const inspect = await d.api('GET', '/containers/holder/json');
    const containerPid = inspect.json<{ State: { Pid: number } }>().State.Pid;
    assert.ok(containerPid > 0);
    await d.kill();
    // Past the listener's 5 s grace and a 2 s check: the container's filter still holds it.
    await new Promise((res) => setTimeout(res, 7500));
    assert.deepEqual(pair(d), pids, 'kept while the container runs, moatd or not');
    process.kill(containerPid, 'SIGKILL');
    await until('the pair exits once the container is gone', () => pids.every((p) => !alive(p)));
    assert.equal(existsSync(join(d.execRoot, 'seccomp.sock')), false, 'its socket is gone');
    assert.ok(listenerLog().includes(GONE), 'it says why it went');
  });

  await t.test('a moatd started again in time holds the lock: its idle pair stays (idle -1), and goes after the next kill', async () => {
    await d.start({ args: ['--seccomp-listener-idle', '-1'] });
    const run = await d.moat(['run', '--rm', 'busybox', 'true']);
    assert.equal(run.code, 0, run.stderr);
    await until('the pair runs', () => pair(d).length === 2);
    const pids = pair(d);
    await d.kill();
    await d.start();
    await new Promise((res) => setTimeout(res, 8000));
    assert.deepEqual(pair(d), pids, 'moatd restarted within the grace: the pair stays');
    const gone = listenerLog().split('\n').filter((l) => l.includes(GONE)).length;
    await d.kill();
    await until('the pair exits once moatd is gone again', () => pids.every((p) => !alive(p)));
    assert.equal(listenerLog().split('\n').filter((l) => l.includes(GONE)).length, gone + 1);
  });
});
