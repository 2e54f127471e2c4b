// A build's intermediate images as dockerd shows and removes them, through the docker CLI:
// `docker images` hides nameless images other images were built on, `-a` shows them; `rmi`
// of the final image and `docker image prune` take the untagged parents only it kept;
// `--no-prune` keeps them; an intermediate image with children cannot be removed by id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { docker, dockerOk } from '../compat/cli.js';

process.env['DOCKER_BUILDKIT'] = '0';

/** Image ids (short) listed by `docker images [-a]`, with their names. */
async function listed(d: TestDaemon, all: boolean): Promise<Array<{ id: string; name: string }>> {
  const out = await dockerOk(d, ['images', ...(all ? ['-a'] : []), '--format', '{{.ID}} {{.Repository}}:{{.Tag}}']);
  return out.split('\n').filter((l) => l !== '').map((l) => {
    const [id = '', name = ''] = l.split(' ');
    return { id, name };
  });
}

const nameless = (rows: Array<{ name: string }>): number => rows.filter((r) => r.name === '<none>:<none>').length;

async function buildTagged(d: TestDaemon, dir: string, tag: string, dockerfile: string): Promise<string> {
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  return (await dockerOk(d, ['build', '-q', '-t', tag, dir], { timeoutMs: 120_000 })).trim();
}

test('intermediate images of a build: hidden, listed with -a, removed with their child', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const dir = mkdtempSync('/tmp/mt-build-img-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  await t.test('docker images hides the steps, -a lists them, rmi of the final image removes them', async () => {
    const id = await buildTagged(d, dir, 'inter:1', 'FROM busybox\nRUN echo a > /a\nENV X=1\nRUN echo b > /b\n');
    const all = await listed(d, true);
    assert.equal(nameless(all), 2, `the RUN and ENV steps below the final image: ${JSON.stringify(all)}`);
    const shown = await listed(d, false);
    assert.equal(nameless(shown), 0, `docker images shows no intermediate image: ${JSON.stringify(shown)}`);
    assert.deepEqual(shown.map((r) => r.name).sort(), ['busybox:latest', 'inter:1']);
    assert.equal((await dockerOk(d, ['images', '-q', '--filter', 'dangling=true'])).trim(), '', 'an image with a child is not dangling');

    const step = all.find((r) => r.name === '<none>:<none>')!;
    const refused = await docker(d, ['rmi', step.id]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /unable to delete [0-9a-f]{12} \(cannot be forced\) - image has dependent child images/);

    const rmi = await dockerOk(d, ['rmi', 'inter:1']);
    const deleted = rmi.split('\n').filter((l) => l.startsWith('Deleted: '));
    assert.ok(rmi.includes('Untagged: inter:1'), rmi);
    assert.ok(deleted.some((l) => l.includes(id.replace('sha256:', ''))), `the final image: ${rmi}`);
    for (const r of all.filter((x) => x.name === '<none>:<none>')) assert.ok(deleted.some((l) => l.includes(r.id)), `intermediate ${r.id} deleted: ${rmi}`);
    assert.deepEqual((await listed(d, true)).map((r) => r.name), ['busybox:latest'], 'busybox (tagged) stays');
  });

  await t.test('docker image prune takes a replaced build and its steps, not the current one', async () => {
    const old = await buildTagged(d, dir, 'inter:2', 'FROM busybox\nRUN echo one > /f\nRUN echo x >> /f\n');
    const oldStep = (await dockerOk(d, ['image', 'inspect', '--format', '{{.Parent}}', old])).trim();
    assert.match(oldStep, /^sha256:[0-9a-f]{64}$/);
    await buildTagged(d, dir, 'inter:2', 'FROM busybox\nRUN echo two > /f\nRUN echo x >> /f\n');
    const shown = await listed(d, false);
    assert.equal(nameless(shown), 1, `the replaced final image is dangling: ${JSON.stringify(shown)}`);
    assert.equal(nameless(await listed(d, true)), 3, 'its step and the new build step');
    const prune = await dockerOk(d, ['image', 'prune', '-f']);
    for (const gone of [old, oldStep]) assert.ok(prune.includes(`deleted: ${gone}`), `${gone} pruned: ${prune}`);
    const after = await listed(d, true);
    assert.equal(nameless(after), 1, `the current build's step stays: ${JSON.stringify(after)}`);
    assert.equal((await dockerOk(d, ['run', '--rm', 'inter:2', 'cat', '/f'])).trim(), 'two\nx');
  });

  await t.test('rmi --no-prune keeps the untagged parents', async () => {
    await dockerOk(d, ['rmi', '--no-prune', 'inter:2']);
    const after = await listed(d, true);
    assert.equal(nameless(after), 1, `the step is left, now childless: ${JSON.stringify(after)}`);
    assert.equal(nameless(await listed(d, false)), 1, 'and therefore listed (dangling)');
    await dockerOk(d, ['image', 'prune', '-f']);
    assert.deepEqual((await listed(d, true)).map((r) => r.name), ['busybox:latest']);
  });
});
