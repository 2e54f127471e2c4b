// Issue 12, finding 3: one bad container.json never stops moatd. Records of every broken
// shape (empty, half a JSON object, null, {}, a wrong type) are logged with their path and
// shown as Dead with the reason; `rm -f` removes them (and stops a process runc still runs);
// every other container loads and works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dockerCli, requires } from '../helpers/requires.js';
import { docker } from '../integration/compat/cli.js';
import { safetyNetHits } from './consistency.js';
import { startDaemon, pidAlive } from '../helpers/daemon.js';
import { create, inspect, listAll, run, waitExited, waitFor, waitLog } from '../helpers/containers.js';

const SHAPES: Array<{ name: string; text: (good: string) => string; running?: boolean }> = [
  { name: 'empty', text: () => '' },
  { name: 'half', text: (good) => good.slice(0, Math.floor(good.length / 2)) },
  { name: 'null', text: () => 'null' },
  { name: 'empty-object', text: () => '{}' },
  { name: 'array', text: () => '[1,2]' },
  { name: 'wrong-state', text: (good) => JSON.stringify({ ...(JSON.parse(good) as object), State: 'running' }), running: true },
  { name: 'wrong-types', text: (good) => JSON.stringify({ ...(JSON.parse(good) as object), Name: 7, Args: 'x' }) },
  { name: 'binary', text: () => '\u0000\u0001\u0002garbage' },
];

test('corrupt container records (issue 12, finding 3)', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const good = await run(d, ['sh', '-c', 'echo ready; exec sleep 1000'], {}, 'good');
  const goodStopped = await create(d, { Cmd: ['sh', '-c', 'exit 4'] }, 'good-stopped');
  await waitLog(d, good, 'ready');
  const bad = new Map<string, { id: string; pid: number }>();
  for (const s of SHAPES) {
    const id = s.running ? await run(d, ['sh', '-c', 'echo ready; exec sleep 1000'], {}, `bad-${s.name}`) : await create(d, { Cmd: ['true'] }, `bad-${s.name}`);
    if (s.running) await waitLog(d, id, 'ready');
    bad.set(s.name, { id, pid: s.running ? (await inspect(d, id)).State.Pid : 0 });
  }
  await d.kill();
  for (const s of SHAPES) {
    const file = join(d.dataRoot, 'containers', bad.get(s.name)!.id, 'container.json');
    writeFileSync(file, s.text(readFileSync(file, 'utf8')));
  }

  await t.test('moatd starts; the good containers load and work', async () => {
    await d.start();
    assert.equal((await inspect(d, 'good')).State.Status, 'running');
    const s = await d.api('POST', `/containers/${goodStopped}/start`);
    assert.equal(s.status, 204, s.body.toString());
    assert.equal((await waitExited(d, goodStopped)).State.ExitCode, 4);
  });

  await t.test('each bad record is logged with its path and listed as Dead with the reason', async () => {
    const log = readFileSync(d.logFile, 'utf8');
    const list = await listAll(d);
    assert.equal(list.length, 2 + SHAPES.length, 'ps -a lists every container');
    for (const s of SHAPES) {
      const { id } = bad.get(s.name)!;
      assert.ok(log.includes(join(d.dataRoot, 'containers', id, 'container.json')), `${s.name}: the log names the file`);
      const item = list.find((c) => c.Id === id);
      assert.ok(item, `${s.name}: listed`);
      assert.equal(item.State, 'dead', s.name);
      assert.equal(item.Status, 'Dead');
      const ins = await inspect(d, id);
      assert.equal(ins.State.Status, 'dead');
      assert.match(ins.State.Error, /record/i, `${s.name}: the reason is shown: ${ins.State.Error}`);
      assert.ok(!ins.State.Error.includes(d.root), 'no host path in the reason');
    }
    // The stock CLI decodes them (docker ps -a and inspect).
    if (dockerCli() !== undefined) {
      const ins = await docker(d, ['inspect', ...[...bad.values()].map((b) => b.id)]);
      assert.equal(ins.code, 0, ins.stderr);
      const ps = await docker(d, ['ps', '-a', '--format', '{{.Names}} {{.Status}}']);
      assert.equal(ps.code, 0, ps.stderr);
      assert.equal(ps.stdout.split('\n').filter((l) => l.endsWith(' Dead')).length, SHAPES.length);
    }
    const filtered = await d.api('GET', '/containers/json?all=1&filters=' + encodeURIComponent(JSON.stringify({ status: ['dead'] })));
    assert.equal(filtered.status, 200);
    assert.equal(filtered.json<unknown[]>().length, SHAPES.length);
  });

  await t.test('a Dead container cannot be started or renamed; rm without -f refuses nothing it should not', async () => {
    const { id } = bad.get('null')!;
    assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 409);
    assert.equal((await d.api('POST', `/containers/${id}/rename?name=other`)).status, 409);
  });

  await t.test('rm -f removes each bad record and stops the process runc still runs', async () => {
    const running = bad.get('wrong-state')!;
    assert.ok(pidAlive(running.pid), 'the wrong-shape record\'s process kept running');
    for (const s of SHAPES) {
      const { id } = bad.get(s.name)!;
      const r = await d.api('DELETE', `/containers/${id}?force=1`);
      assert.equal(r.status, 204, `${s.name}: ${r.body.toString()}`);
      assert.ok(!existsSync(join(d.dataRoot, 'containers', id)), `${s.name}: its directory is gone`);
    }
    await waitFor('the orphaned process to be stopped', () => !pidAlive(running.pid), 5000);
    assert.equal((await listAll(d)).length, 2);
    // The names are free again.
    await create(d, { Cmd: ['true'] }, 'bad-null');
  });

  await t.test('nothing reached the safety net', () => {
    assert.deepEqual(safetyNetHits(d), []);
  });
});
