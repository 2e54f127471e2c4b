import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { conmonCreateArgs } from './argv.js';
import { jsonObjectEnd, runtimeFailure, spawnConmonCreate, startFailureExitCode } from './conmon.js';
import { RuncRuntime } from './runner.js';
import { standaloneSpec } from '../spec/index.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A stand-in conmon: waits on its start pipe (fd 4), marks that it went on, reports a container pid on the sync pipe, then stays, as conmon does. */
function fakeConmon(dir: string): string {
  const fake = join(dir, 'fake-conmon');
  writeFileSync(fake, '#!/bin/sh\nread go <&4\ntouch went\necho \'{"data": 4242}\' >&3\nexec sleep 30\n');
  chmodSync(fake, 0o755);
  return fake;
}

test('a container\'s conmon runs with --sync and moatd writes its pid file: the spawned process is the monitor; it waits for the go', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-conmon-'));
  const fake = fakeConmon(dir);
  const paths = { runc: '/usr/sbin/runc', conmon: fake, runcRoot: join(dir, 'runc'), exitDir: join(dir, 'exits'), socketDir: join(dir, 's'), execDir: join(dir, 'exec') };
  const opts = { id: 'c1', name: 'c1', bundle: dir, logPath: join(dir, 'ctr.log'), pidFile: join(dir, 'pidfile'), runcLog: join(dir, 'runc.log'), stdin: false, terminal: false, leaveStdinOpen: false };
  const args = conmonCreateArgs(paths, opts);
  assert.ok(args.includes('--sync'), 'no daemonizing fork');
  assert.ok(!args.includes('-P'), 'conmon writes no pid file of its own in --sync mode');
  let monitorPid = 0;
  try {
    const waiting = spawnConmonCreate(paths, { ...opts, monitorPidFile: join(dir, 'conmon.pid') });
    await sleep(100);
    assert.equal(existsSync(join(dir, 'went')), false, 'it waits on its start pipe');
    const r = await waiting.go();
    monitorPid = r.monitorPid;
    assert.equal(existsSync(join(dir, 'went')), true);
    assert.equal(r.pid, 4242);
    assert.ok(monitorPid > 0);
    assert.equal(readFileSync(join(dir, 'conmon.pid'), 'utf8'), String(monitorPid));
    // The pid names the stand-in itself (now `sleep`, exec'd in place), in a session of its own.
    const stat = readFileSync(`/proc/${monitorPid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    assert.equal(fields[3], String(monitorPid), 'its own session (setsid)');
    // The stand-in reports on the sync pipe before its `exec sleep`: on a busy machine the exec
    // comes a little later, under the same pid.
    let cmdline = '';
    for (let i = 0; i < 100 && !/^sleep\x00/.test(cmdline); i++) {
      if (i > 0) await sleep(50);
      cmdline = readFileSync(`/proc/${monitorPid}/cmdline`, 'utf8');
    }
    assert.match(cmdline, /^sleep\x0030/);
  } finally {
    // The stand-in by the pid file too: a failed go leaves monitorPid unset.
    const pid = monitorPid > 0 ? monitorPid : existsSync(join(dir, 'conmon.pid')) ? Number(readFileSync(join(dir, 'conmon.pid'), 'utf8')) : 0;
    try {
      if (pid > 0) process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a waiting conmon that is cancelled ends without going on, and a go after it fails', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-conmon-'));
  const paths = { runc: '/usr/sbin/runc', conmon: fakeConmon(dir), runcRoot: join(dir, 'runc'), exitDir: join(dir, 'exits'), socketDir: join(dir, 's'), execDir: join(dir, 'exec') };
  const opts = { id: 'c1', name: 'c1', bundle: dir, logPath: join(dir, 'ctr.log'), pidFile: join(dir, 'pidfile'), runcLog: join(dir, 'runc.log'), stdin: false, terminal: false, leaveStdinOpen: false };
  const pidFile = join(dir, 'conmon.pid');
  try {
    const waiting = spawnConmonCreate(paths, { ...opts, monitorPidFile: pidFile });
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await sleep(50);
    waiting.cancel();
    waiting.cancel();
    for (let i = 0; i < 200 && existsSync(`/proc/${pid}`); i++) await sleep(10);
    assert.equal(existsSync(`/proc/${pid}`), false, 'killed and reaped');
    assert.equal(existsSync(join(dir, 'went')), false, 'it never read the start pipe\'s end as a go');
    await assert.rejects(waiting.go(), /cancelled/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

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

test('a conmon that cannot start fails the create it was begun for; cancel is harmless', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-conmon-'));
  try {
    const runtime = new RuncRuntime({ runc: '/usr/sbin/runc', conmon: join(dir, 'no-such-conmon'), runcRoot: join(dir, 'runc'), exitDir: join(dir, 'exits'), socketDir: join(dir, 's'), execDir: join(dir, 'exec') });
    const pending = runtime.beginCreate({ id: 'c1', name: 'c1', bundle: dir, log: { driver: 'none', path: '' }, stdin: false, terminal: false, leaveStdinOpen: false });
    pending.cancel();
    await assert.rejects(pending.create(standaloneSpec({ rootfs: 'rootfs', args: ['true'], capabilities: [], cgroupsPath: 'moat-test/c1' })), /Cannot run .*no-such-conmon: ENOENT/);
    assert.equal(existsSync(join(dir, 'conmon.pid')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
