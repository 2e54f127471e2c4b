// Live restore: moatd can crash (SIGKILL) or stop while containers run; a restarted moatd
// finds them again, reports exits that happened meanwhile with their real code, and wipes a
// create that a crash interrupted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { REAL_RUNC, startDaemon, pidAlive, pidsMentioning, type TestDaemon } from '../../helpers/daemon.js';
import { collect, create, demuxText, inspect, listAll, logs, mountsContaining, run, streamRequest, waitExited, waitFor, waitLog, within } from '../../helpers/containers.js';

/** Write a file into a running container's rootfs from the host (through its overlay mount). */
function touchInside(d: TestDaemon, id: string, path: string): void {
  writeFileSync(join(d.dataRoot, 'containers', id, 'rootfs', path), '');
}

// Prints a line when /tmp/say appears, exits 5 on TERM: proves logs and stop after restart.
const TALKER = 'trap "echo got-term; exit 5" TERM; echo ready; while :; do if [ -e /tmp/say ]; then rm /tmp/say; echo said; fi; sleep 0.05; done';
// Exits 23 when /tmp/go appears.
const QUITTER = 'echo ready; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo leaving; exit 23';

test('live restore after a moatd crash', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());

  const talker = await run(d, ['sh', '-c', TALKER], {}, 'talker');
  const quitter = await run(d, ['sh', '-c', QUITTER], {}, 'quitter');
  const done = await run(d, ['sh', '-c', 'exit 12'], {}, 'done-before');
  const autoRm = await run(d, ['sh', '-c', QUITTER], { HostConfig: { AutoRemove: true } }, 'auto-rm');
  await create(d, { Cmd: ['sh', '-c', 'echo started-later; exit 2'] }, 'pending');
  const halfStarted = await run(d, ['sh', '-c', 'echo ready; exec sleep 100'], {}, 'half-started');
  const halfRemoved = await run(d, ['true'], {}, 'half-removed');
  await waitExited(d, halfRemoved);
  await waitLog(d, talker, 'ready');
  await waitLog(d, quitter, 'ready');
  await waitLog(d, autoRm, 'ready');
  await waitLog(d, halfStarted, 'ready');
  const halfStartedPid = (await inspect(d, halfStarted)).State.Pid;
  assert.equal((await waitExited(d, done)).State.ExitCode, 12);
  const talkerPid = (await inspect(d, talker)).State.Pid;
  const quitterPid = (await inspect(d, quitter)).State.Pid;
  assert.ok(talkerPid > 0 && quitterPid > 0);

  const halfMade = randomBytes(32).toString('hex');
  const halfDir = join(d.dataRoot, 'containers', halfMade);

  await t.test('containers keep running while moatd is dead; one exits meanwhile', async () => {
    await d.kill();
    assert.equal(pidAlive(d.pid()), false, 'moatd is gone');
    assert.ok(pidAlive(talkerPid), 'talker survived the daemon');
    assert.ok(pidAlive(quitterPid), 'quitter survived the daemon');
    touchInside(d, talker, 'tmp/say');
    await waitFor('talker to log while moatd is down', () => readFileSync(join(d.dataRoot, 'containers', talker, 'ctr.log'), 'utf8').includes('said'));
    touchInside(d, quitter, 'tmp/go');
    await waitFor('quitter and its conmon to exit', () => !pidAlive(quitterPid) && pidsMentioning(quitter).length === 0);
    touchInside(d, autoRm, 'tmp/go');
    await waitFor('auto-rm and its conmon to exit', () => pidsMentioning(autoRm).length === 0);
    // A create interrupted by a crash: the directory and layer dirs, a mounted rootfs, no record.
    for (const sub of ['upper', 'work', 'rootfs']) mkdirSync(join(halfDir, sub), { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', join(halfDir, 'rootfs')]);
    // A start interrupted by a crash after runc ran it, before the record said running.
    const hsFile = join(d.dataRoot, 'containers', halfStarted, 'container.json');
    const hs = JSON.parse(readFileSync(hsFile, 'utf8')) as { State: Record<string, unknown> };
    Object.assign(hs.State, { Status: 'created', Pid: 0, StartedAt: '0001-01-01T00:00:00Z' });
    writeFileSync(hsFile, JSON.stringify(hs));
    // An rm interrupted by a crash: the record says "removing".
    const recFile = join(d.dataRoot, 'containers', halfRemoved, 'container.json');
    const rec = JSON.parse(readFileSync(recFile, 'utf8')) as { State: { Status: string } };
    assert.equal(rec.State.Status, 'exited');
    rec.State.Status = 'removing';
    writeFileSync(recFile, JSON.stringify(rec));
  });

  await t.test('after restart: running one listed running, exited one with its real code, half-made one gone', async () => {
    await d.start();
    const list = await listAll(d);
    const byName = new Map(list.map((c) => [c.Names[0], c]));
    // auto-rm exited while moatd was down: removed at restart, as if seen live.
    assert.deepEqual([...byName.keys()].sort(), ['/done-before', '/half-started', '/pending', '/quitter', '/talker']);
    // The half-started one is what its record says, created: nothing of it runs or stays mounted.
    assert.equal(byName.get('/half-started')?.State, 'created');
    await waitFor('half-started process ended', () => !pidAlive(halfStartedPid));
    assert.deepEqual(mountsContaining(halfStarted), []);
    assert.equal(byName.get('/pending')?.State, 'created');
    assert.equal(existsSync(join(d.dataRoot, 'containers', autoRm)), false, 'auto-rm bundle removed');
    assert.deepEqual(mountsContaining(autoRm), []);
    assert.equal(byName.get('/talker')?.State, 'running');
    assert.equal(byName.get('/quitter')?.State, 'exited');
    assert.match(byName.get('/quitter')?.Status ?? '', /^Exited \(23\)/);
    assert.match(byName.get('/done-before')?.Status ?? '', /^Exited \(12\)/);

    const ti = await inspect(d, talker);
    assert.equal(ti.State.Status, 'running');
    assert.equal(ti.State.Running, true);
    assert.equal(ti.State.Pid, talkerPid);
    const qi = await inspect(d, quitter);
    assert.equal(qi.State.Status, 'exited');
    assert.equal(qi.State.ExitCode, 23);
    assert.equal(qi.State.Pid, 0);
    assert.equal((await logs(d, quitter)).stdout, 'ready\nleaving\n');
    // The exited container's mount and cgroup are gone, as after an exit seen live.
    assert.deepEqual(mountsContaining(quitter), []);

    assert.equal(existsSync(halfDir), false, 'half-made container dir removed');
    assert.equal(existsSync(join(d.dataRoot, 'containers', halfRemoved)), false, 'half-removed container finished removing');
    assert.equal((await d.api('GET', `/containers/${halfRemoved}/json`)).status, 404);
    assert.deepEqual(mountsContaining(halfMade), [], 'half-made rootfs unmounted');
    assert.equal((await d.api('GET', `/containers/${halfMade}/json`)).status, 404);
    // ps without -a lists only the running one.
    const running = (await d.api('GET', '/containers/json')).json<Array<{ Id: string }>>();
    assert.deepEqual(running.map((c) => c.Id), [talker]);
    // The container created before the crash starts normally now.
    const r = await d.moat(['start', '-a', 'pending']);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, 'started-later\n');
    assert.equal((await d.api('POST', `/containers/${halfStarted}/start`)).status, 204);
    await waitFor('half-started runs again', async () => (await logs(d, halfStarted)).stdout === 'ready\nready\n');
    assert.equal((await d.api('DELETE', `/containers/${halfStarted}?force=1`)).status, 204);
  });

  await t.test('the restored container can be logged, exec\'ed, waited on and stopped with its own code', async () => {
    assert.equal((await logs(d, talker)).stdout, 'ready\nsaid\n');
    const ex = await d.moat(['exec', 'talker', 'sh', '-c', 'echo $(hostname); exit 4']);
    assert.equal(ex.code, 4, ex.stderr);
    assert.equal(ex.stdout, `${talker.slice(0, 12)}\n`);
    const cat = await d.moat(['exec', '-i', 'talker', 'cat'], { input: 'through stdin\n' });
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'through stdin\n');
    const top = await d.api('GET', `/containers/${talker}/top`);
    assert.equal(top.status, 200, top.body.toString());

    const follow = await streamRequest(d, 'GET', `/containers/${talker}/logs?stdout=1&follow=1`);
    const followed = collect(follow);
    const waiting = await streamRequest(d, 'POST', `/containers/${talker}/wait?condition=next-exit`);
    assert.equal(waiting.statusCode, 200);
    const waited = collect(waiting);
    touchInside(d, talker, 'tmp/say');
    await waitLog(d, talker, 'said\nsaid');
    assert.equal(await within(waited, 200), undefined, 'wait returned while the container runs');

    const t0 = Date.now();
    const stop = await d.moat(['stop', 'talker']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.ok(Date.now() - t0 < 5000, 'stopped by TERM, not by the 10 s timeout');
    const w = JSON.parse((await within(waited, 5000))?.toString() ?? 'null') as { StatusCode: number } | null;
    assert.deepEqual(w, { StatusCode: 5, Error: null });
    const f = await within(followed, 5000);
    assert.ok(f, 'log follow ended with the container');
    assert.equal(demuxText(f).stdout, 'ready\nsaid\nsaid\ngot-term\n');
    const st = (await inspect(d, talker)).State;
    assert.equal(st.Status, 'exited');
    assert.equal(st.ExitCode, 5);
    assert.equal(pidAlive(talkerPid), false);
    await waitFor('talker unmounted', () => mountsContaining(talker).length === 0);
    // And it can start again under the restarted daemon.
    assert.equal((await d.api('POST', `/containers/${talker}/start`)).status, 204);
    await waitFor('talker running again', async () => (await logs(d, talker)).stdout.endsWith('ready\n'));
  });

  await t.test('a graceful moatd stop (SIGTERM) leaves containers running too', async () => {
    const pid = (await inspect(d, talker)).State.Pid;
    await d.stop();
    assert.ok(pidAlive(pid), 'container survived SIGTERM to moatd');
    await d.start();
    const st = (await inspect(d, talker)).State;
    assert.equal(st.Status, 'running');
    assert.equal(st.Pid, pid);
    // Killed from outside while moatd runs: the exit is noticed with 128+9.
    process.kill(pid, 'SIGKILL');
    const w = await d.api('POST', `/containers/${talker}/wait`);
    assert.deepEqual(w.json(), { StatusCode: 137, Error: null });
    assert.equal((await inspect(d, talker)).State.ExitCode, 137);
  });
});

test('a start recorded as running before runc started the process is finished after a crash', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  // A runc that, while `block` exists, claims another version (so moatd runs `runc start`
  // instead of opening the exec FIFO itself) and holds the first `start` (its pid in
  // `held`); once `block` is gone it is runc.
  const dir = mkdtempSync(join(tmpdir(), 'moat-start-crash-'));
  let held = 0;
  t.after(() => {
    if (held > 0 && pidAlive(held)) process.kill(held, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const block = join(dir, 'block');
  const heldFile = join(dir, 'held');
  const bin = join(dir, 'runc');
  writeFileSync(bin, `#!/bin/sh
if [ -e '${block}' ]; then
  if [ "$1" = --version ]; then echo 'runc version 1.2.0-held'; exit 0; fi
  for a in "$@"; do if [ "$a" = start ]; then rm -f '${block}'; echo $$ > '${heldFile}'; exec sleep 600; fi; done
fi
exec '${REAL_RUNC}' "$@"
`);
  chmodSync(bin, 0o755);
  writeFileSync(block, '');
  const d = await startDaemon({ args: ['--runc', bin] });
  t.after(() => d.cleanup());
  const id = await create(d, { Cmd: ['sh', '-c', 'echo finished-after-restart; exit 7'] }, 'held-start');
  const starting = d.api('POST', `/containers/${id}/start`).catch(() => undefined);
  const recordFile = join(d.dataRoot, 'containers', id, 'container.json');
  await waitFor('runc start held, the record on disk running', () => existsSync(heldFile) && (JSON.parse(readFileSync(recordFile, 'utf8')) as { State: { Status: string } }).State.Status === 'running');
  held = Number(readFileSync(heldFile, 'utf8'));
  // In memory the container is not running before runc has started it.
  assert.equal((await inspect(d, id)).State.Status, 'created');
  await d.kill();
  process.kill(held, 'SIGKILL');
  await starting;
  // The restarted moatd finds runc's created container behind a running record: it starts it
  // (not exit 255, "vanished"), and the process runs with its output logged and its own code.
  await d.start();
  const st = (await waitExited(d, id)).State;
  assert.equal(st.ExitCode, 7);
  assert.equal((await logs(d, id)).stdout, 'finished-after-restart\n');
  assert.match(readFileSync(d.logFile, 'utf8'), /finishing a start that a crash interrupted/);
  assert.deepEqual(mountsContaining(id), []);
  assert.equal((await d.api('DELETE', `/containers/${id}`)).status, 204);
});

test('a start cut after the process exec\'d but before the exec FIFO went: restore does not wait for a writer that is gone', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const id = await run(d, ['sh', '-c', 'echo up; exec sleep 100'], {}, 'execed');
  await waitLog(d, id, 'up');
  const pid = (await inspect(d, id)).State.Pid;
  await d.kill();
  // What a crash leaves between the init's exec and the FIFO's removal: runc's state dir
  // still has exec.fifo, so runc calls the container created while its process runs.
  const fifo = join(d.execRoot, 'runc', id, 'exec.fifo');
  execFileSync('mkfifo', ['-m', '0622', fifo]);
  assert.equal(JSON.parse(execFileSync('runc', ['--root', join(d.execRoot, 'runc'), 'state', id], { encoding: 'utf8' })).status, 'created');
  await d.start();
  const st = (await inspect(d, id)).State;
  assert.equal(st.Status, 'running');
  assert.equal(st.Pid, pid, 'the same process, not a new one');
  assert.equal(existsSync(fifo), false, 'the FIFO is gone, as after a start');
  assert.equal((await d.api('POST', `/containers/${id}/kill`)).status, 204);
  assert.equal((await waitExited(d, id)).State.ExitCode, 137);
  assert.equal((await d.api('DELETE', `/containers/${id}`)).status, 204);
});
