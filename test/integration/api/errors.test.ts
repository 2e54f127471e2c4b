// Errors in Docker's words and statuses, and nothing half-created by any failed request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { create, inspect, listAll, mountsContaining, run, waitLog } from '../../helpers/containers.js';

/** What a failed request must leave unchanged: the list, and the containers dir on disk. */
async function snapshot(d: TestDaemon): Promise<{ list: string[]; dirs: string[] }> {
  const list = (await listAll(d)).map((c) => `${c.Id} ${c.Names.join(',')} ${c.State}`).sort();
  const dirs = readdirSync(join(d.dataRoot, 'containers')).sort();
  return { list, dirs };
}

function message(r: { body: Buffer; headers: Record<string, unknown> }): string {
  assert.match(String(r.headers['content-type']), /^application\/json/);
  return (JSON.parse(r.body.toString('utf8')) as { message: string }).message;
}

test('errors are worded as Docker words them and leave nothing behind', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const running = await run(d, ['sh', '-c', 'echo ready; exec sleep 100'], {}, 'busy');
  await waitLog(d, running, 'ready');
  const stopped = await create(d, { Cmd: ['true'] }, 'idle');
  const before = await snapshot(d);

  await t.test('unknown container: 404 "No such container: X" on every endpoint', async () => {
    const calls: Array<[string, string]> = [
      ['GET', '/containers/nosuch/json'],
      ['POST', '/containers/nosuch/start'],
      ['POST', '/containers/nosuch/stop'],
      ['POST', '/containers/nosuch/restart'],
      ['POST', '/containers/nosuch/kill'],
      ['POST', '/containers/nosuch/wait'],
      ['DELETE', '/containers/nosuch'],
      ['DELETE', '/containers/nosuch?force=1'],
      ['GET', '/containers/nosuch/logs?stdout=1'],
      ['GET', '/containers/nosuch/top'],
      ['POST', '/containers/nosuch/rename?name=other'],
      ['POST', '/containers/nosuch/pause'],
    ];
    for (const [method, path] of calls) {
      const r = await d.api(method, path);
      assert.equal(r.status, 404, `${method} ${path}: ${r.status} ${r.body.toString()}`);
      assert.equal(message(r), 'No such container: nosuch', `${method} ${path}`);
    }
    const ex = await d.api('POST', '/containers/nosuch/exec', { Cmd: ['true'] });
    assert.equal(ex.status, 404);
    assert.equal(message(ex), 'No such container: nosuch');
    // Versioned paths answer the same.
    const v = await d.api('GET', '/v1.43/containers/nosuch/json');
    assert.equal(v.status, 404);
    assert.equal(message(v), 'No such container: nosuch');
    // The CLI prints the daemon's words.
    const cli = await d.moat(['rm', 'nosuch']);
    assert.equal(cli.code, 1);
    assert.equal(cli.stderr, 'Error response from daemon: No such container: nosuch\n');
    const st = await d.moat(['stop', 'nosuch']);
    assert.equal(st.code, 1);
    assert.match(st.stderr, /No such container: nosuch/);
    const exec = await d.moat(['exec', 'nosuch', 'true']);
    assert.notEqual(exec.code, 0);
    assert.match(exec.stderr, /No such container: nosuch/);
    assert.deepEqual(await snapshot(d), before);
  });

  await t.test('unknown image: 404 "No such image: X:latest"; run exits 125', async () => {
    const r = await d.api('POST', '/containers/create', { Image: 'nosuchimage', Cmd: ['true'] });
    assert.equal(r.status, 404);
    assert.equal(message(r), 'No such image: nosuchimage:latest');
    const tagged = await d.api('POST', '/containers/create?name=willnotexist', { Image: 'nosuchimage:1.0', Cmd: ['true'] });
    assert.equal(tagged.status, 404);
    assert.equal(message(tagged), 'No such image: nosuchimage:1.0');
    const img = await d.api('GET', '/images/nosuchimage/json');
    assert.equal(img.status, 404);
    assert.equal(message(img), 'No such image: nosuchimage:latest');
    const cli = await d.moat(['run', '--name', 'willnotexist', 'nosuchimage', 'true']);
    assert.equal(cli.code, 125);
    assert.match(cli.stderr, /Unable to find image 'nosuchimage' locally/);
    assert.match(cli.stderr, /No such image: nosuchimage:latest/);
    assert.equal((await d.api('GET', '/containers/willnotexist/json')).status, 404);
    assert.deepEqual(await snapshot(d), before);
  });

  await t.test('duplicate name: 409 naming the name and its holder', async () => {
    const r = await d.api('POST', '/containers/create?name=busy', { Image: 'busybox', Cmd: ['true'] });
    assert.equal(r.status, 409);
    assert.equal(
      message(r),
      `Conflict. The container name "/busy" is already in use by container "${running}". You have to remove (or rename) that container to be able to reuse that name.`,
    );
    const slash = await d.api('POST', '/containers/create?name=/idle', { Image: 'busybox', Cmd: ['true'] });
    assert.equal(slash.status, 409);
    assert.match(message(slash), /"\/idle" is already in use by container "[0-9a-f]{64}"/);
    const cli = await d.moat(['run', '--name', 'busy', 'busybox', 'true']);
    assert.equal(cli.code, 125);
    assert.match(cli.stderr, /Conflict\. The container name "\/busy" is already in use/);
    assert.deepEqual(await snapshot(d), before);
  });

  await t.test('removing a running container without force: 409, and it keeps running', async () => {
    const r = await d.api('DELETE', `/containers/busy`);
    assert.equal(r.status, 409);
    assert.equal(message(r), `You cannot remove a running container ${running}. Stop the container before attempting removal or force remove`);
    const cli = await d.moat(['rm', 'busy']);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /^Error response from daemon: You cannot remove a running container/);
    assert.equal((await inspect(d, running)).State.Status, 'running');
    assert.deepEqual(await snapshot(d), before);
  });

  await t.test('invalid names: 400 with Docker\'s wording; run exits 125', async () => {
    for (const name of ['x', 'a b', '-lead', '_lead', 'bad/slash', 'semi;colon', 'é']) {
      const r = await d.api('POST', `/containers/create?name=${encodeURIComponent(name)}`, { Image: 'busybox', Cmd: ['true'] });
      assert.equal(r.status, 400, `${name}: ${r.body.toString()}`);
      assert.equal(message(r), `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    const cli = await d.moat(['run', '-d', '--name', 'x', 'busybox', 'true']);
    assert.equal(cli.code, 125);
    assert.match(cli.stderr, /Invalid container name \(x\)/);
    // Two characters is the minimum, and valid.
    const ok = await d.api('POST', '/containers/create?name=ab', { Image: 'busybox', Cmd: ['true'] });
    assert.equal(ok.status, 201);
    assert.equal((await d.api('DELETE', '/containers/ab')).status, 204);
    assert.deepEqual(await snapshot(d), before);
  });

  await t.test('other refusals: 409 for state conflicts, 400 for bad input, 304 for no-ops', async () => {
    const kill = await d.api('POST', '/containers/idle/kill');
    assert.equal(kill.status, 409);
    assert.equal(message(kill), `Cannot kill container: idle: Container ${stopped} is not running`);
    const ex = await d.api('POST', '/containers/idle/exec', { Cmd: ['true'] });
    assert.equal(ex.status, 409);
    assert.equal(message(ex), `Container ${stopped} is not running`);
    assert.equal((await d.api('POST', '/containers/busy/start')).status, 304);
    assert.equal((await d.api('POST', '/containers/idle/stop')).status, 304);
    const badJson = await d.api('POST', '/containers/create', Buffer.from('{"Image":'), { 'Content-Type': 'application/json' });
    assert.equal(badJson.status, 400, badJson.body.toString());
    const noImage = await d.api('POST', '/containers/create', { Cmd: ['true'] });
    assert.equal(noImage.status, 400, noImage.body.toString());
    const logs = await d.api('GET', '/containers/idle/logs');
    assert.equal(logs.status, 400);
    assert.equal(message(logs), 'Bad parameters: you must choose at least one stream');
    const noExec = await d.api('GET', '/exec/0123456789abcdef/json');
    assert.equal(noExec.status, 404);
    assert.equal(message(noExec), 'No such exec instance: 0123456789abcdef');
    // Creates refused after the name is taken and the image found: still nothing on disk.
    for (const hostConfig of [{ SecurityOpt: ['seccomp=/no/such/profile.json'] }, { SecurityOpt: ['no-such-option'] }, { CapAdd: ['CAP_NOT_A_CAP'] }, { Ulimits: [{ Name: 'nosuch', Soft: 1, Hard: 1 }] }]) {
      const r = await d.api('POST', '/containers/create?name=refused', { Image: 'busybox', Cmd: ['true'], HostConfig: hostConfig });
      assert.ok(r.status >= 400 && r.status < 500, `${JSON.stringify(hostConfig)}: ${r.status} ${r.body.toString()}`);
      assert.equal((await d.api('GET', '/containers/refused/json')).status, 404);
    }
    const route = await d.api('GET', '/containers/idle/nonsense');
    assert.equal(route.status, 404);
    assert.equal(message(route), 'page not found');
    assert.deepEqual(await snapshot(d), before);
  });

  await t.test('a start that fails (missing command) records the failure and creates nothing else', async () => {
    const id = await create(d, { Cmd: ['/no/such/cmd'] }, 'broken');
    const r = await d.api('POST', `/containers/${id}/start`);
    assert.ok(r.status >= 400, `start of a missing command: ${r.status}`);
    assert.match(message(r), /no such file or directory|executable file not found/);
    const st = (await inspect(d, id)).State;
    assert.notEqual(st.Status, 'running');
    assert.equal(st.ExitCode, 127);
    assert.deepEqual(mountsContaining(id), [], 'the failed start unmounted the rootfs');
    assert.equal((await d.api('DELETE', `/containers/${id}`)).status, 204);
    assert.deepEqual(await snapshot(d), before);
  });
});
