// Issue 12, findings 2, 8 and 9: a data root that fills up. A container that exits meanwhile
// keeps its real exit code (conmon's exit file stays until the record that replaces it is
// written); moatd survives, restarts and serves reads on the full disk; a write that fails
// changes nothing in memory and leaves no temporary file; the client reads Docker's words
// ("no space left on device") and the kind of data, never a host path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../helpers/requires.js';
import { safetyNetHits } from './consistency.js';
import { startDaemon, pidAlive, type ApiResponse, type TestDaemon } from '../helpers/daemon.js';
import { create, inspect, listAll, run, waitExited, waitFor, waitLog } from '../helpers/containers.js';
import { fillDisk, freeDisk, tempFilesUnder } from './disk.js';

function assertNoSpace(d: TestDaemon, r: ApiResponse, what: string): void {
  assert.equal(r.status, 500, `${what}: ${r.body.toString()}`);
  assert.equal(r.headers['content-type'], 'application/json');
  const m = r.json<{ message: string }>().message;
  assert.match(m, /no space left on device/, `${what}: Docker's words`);
  assert.ok(!m.includes(d.root), `${what}: no host path in ${JSON.stringify(m)}`);
}

test('a full data root (issue 12, findings 2, 8, 9)', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const d = await startDaemon({ tmpfsDataRoot: '40m' });
  t.after(async () => { if (process.env['KEEP_LOG']) copyFileSync(d.logFile, '/tmp/fd.log'); await d.cleanup(); });
  const containersDir = join(d.dataRoot, 'containers');
  const keeper = await run(d, ['sh', '-c', 'echo ready; exec sleep 1000'], {}, 'keeper');
  const victim = await run(d, ['sh', '-c', 'echo ready; exec sleep 1000'], {}, 'victim');
  const stopped = await create(d, { Cmd: ['true'] }, 'stopped');
  await waitLog(d, victim, 'ready');
  const victimPid = (await inspect(d, victim)).State.Pid;
  const before = readdirSync(containersDir).sort();
  const filled = fillDisk(d.dataRoot);
  assert.ok(filled > 0);

  await t.test('writes fail with a clear error, change nothing and leave no temporary file', async () => {
    assertNoSpace(d, await d.api('POST', '/containers/create?name=new-one', { Image: 'busybox', Cmd: ['true'] }), 'create');
    assert.deepEqual(readdirSync(containersDir).sort(), before, 'a failed create leaves no directory');
    assertNoSpace(d, await d.api('POST', `/containers/${stopped}/rename?name=renamed`), 'rename');
    const names = (await listAll(d)).map((c) => c.Names[0]).sort();
    assert.deepEqual(names, ['/keeper', '/stopped', '/victim'], 'ps shows the old name after a failed rename');
    assert.equal((await inspect(d, 'stopped')).Id, stopped);
    assert.equal((await d.api('GET', '/containers/renamed/json')).status, 404);
    assertNoSpace(d, await d.api('POST', '/volumes/create', { Name: 'vol-on-full' }), 'volume create');
    assert.equal((await d.api('GET', '/volumes/vol-on-full')).status, 404, 'no half-made volume');
    assert.deepEqual(tempFilesUnder(d.dataRoot), [], 'no temporary files');
  });

  await t.test('a container that exits while the disk is full does not end moatd; its code is kept', async () => {
    const pid = d.pid();
    process.kill(victimPid, 'SIGKILL');
    await waitFor('the victim to die', () => !pidAlive(victimPid));
    // The exit is seen and answered; its record cannot be written, so conmon's exit file,
    // the durable trace of the exit, stays.
    const st = await waitFor('the victim to be reported exited', async () => {
      const s = (await inspect(d, victim)).State;
      return s.Status === 'exited' ? s : undefined;
    }, 5000);
    assert.equal(st.ExitCode, 137);
    assert.equal((await d.api('GET', '/_ping')).status, 200, `moatd answers:\n${readFileSync(d.logFile, 'utf8').slice(-1500)}`);
    assert.equal(d.pid(), pid);
    assert.ok(existsSync(join(d.execRoot, 'exits', victim)), 'conmon\'s exit file is kept until the record replacing it is written');
    const onDisk = JSON.parse(readFileSync(join(containersDir, victim, 'container.json'), 'utf8')) as { State: { Status: string } };
    assert.equal(onDisk.State.Status, 'running', 'the record could not be written');
  });

  await t.test('moatd restarts on the full disk and serves read-only requests', async () => {
    await d.kill();
    await d.start();
    assert.equal((await d.api('GET', '/_ping')).status, 200);
    const list = await listAll(d);
    assert.equal(list.length, 3);
    assert.equal((await inspect(d, keeper)).State.Status, 'running');
    for (const path of ['/info', '/version', '/images/json', '/volumes', `/containers/${keeper}/logs?stdout=1`, `/containers/${keeper}/top`]) {
      const r = await d.api('GET', path);
      assert.equal(r.status, 200, `${path}: ${r.body.toString()}`);
    }
  });

  await t.test('once space is free, the exit is recorded with its real code', async () => {
    assert.equal((await inspect(d, victim)).State.ExitCode, 137, 'after a restart on the full disk: 137 from the exit file, not 255');
    freeDisk(d.dataRoot);
    await waitFor('the exit record to be written', () => {
      const rec = JSON.parse(readFileSync(join(containersDir, victim, 'container.json'), 'utf8')) as { State: { Status: string; ExitCode: number } };
      return rec.State.Status === 'exited' && rec.State.ExitCode === 137;
    }, 5000);
    await waitFor('the exit file to go once the record is written', () => !existsSync(join(d.execRoot, 'exits', victim)), 3000);
    assert.deepEqual(tempFilesUnder(d.dataRoot), []);
  });

  await t.test('rm -f frees space on a full disk', async () => {
    fillDisk(d.dataRoot);
    const r = await d.api('DELETE', `/containers/${keeper}?force=1`);
    assert.equal(r.status, 204, r.body.toString());
    assert.equal((await d.api('GET', `/containers/${keeper}/json`)).status, 404);
    assert.ok(!existsSync(join(containersDir, keeper)));
    const r2 = await d.api('DELETE', `/containers/${victim}`);
    assert.equal(r2.status, 204, r2.body.toString());
    freeDisk(d.dataRoot);
    // And the disk works normally again.
    const again = await run(d, ['sh', '-c', 'exit 3']);
    assert.equal((await waitExited(d, again)).State.ExitCode, 3);
    assert.deepEqual(tempFilesUnder(d.dataRoot), []);
  });

  await t.test('nothing reached the safety net', () => {
    assert.deepEqual(safetyNetHits(d), []);
  });
});
