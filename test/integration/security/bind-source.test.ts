// Issue 11, finding 2: what the policy approved is what gets mounted. A policy allows binds
// under one directory only; a container with that directory bound swaps a bind source for a
// symlink to a host directory outside it (between create and start, between two starts, or
// in a loop). The victim must never see the host marker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { deferStack } from '../../helpers/authz-plugin/index.js';
import { create, logs, mountsContaining, waitExited, waitLog } from '../../helpers/containers.js';
import { placeRace } from '../../helpers/race/index.js';

const ITERATIONS = 200;
const BUDGET_MS = 25_000;

test('a bind source swapped for a symlink is never mounted', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'gcc')) return;
  const defer = deferStack(t);
  const tmp = mkdtempSync('/tmp/mt-sec-bind-');
  defer(() => rmSync(tmp, { recursive: true, force: true }));
  const allowed = join(tmp, 'allowed');
  const secretDir = join(tmp, 'secret');
  mkdirSync(allowed);
  // The attacker's helper lives in the allowed dir: the policy lets it be bound from there.
  placeRace(allowed);
  mkdirSync(secretDir);
  const secret = `host-secret-${randomBytes(8).toString('hex')}`;
  writeFileSync(join(secretDir, 'NAME'), `${secret}\n`);
  const policy = join(tmp, 'policy.json');
  writeFileSync(policy, JSON.stringify({ version: 1, default: 'allow', rules: [{ id: 'binds', action: 'deny', message: 'binds only under the allowed dir', when: { bindOutside: [allowed] } }] }));
  const d = await startDaemon({ args: ['--authorization-policy', policy] });
  defer(() => d.cleanup());

  /** What a container with the allowed dir bound can do to it. */
  const attack = async (script: string): Promise<void> => {
    const id = await create(d, { Cmd: ['sh', '-c', script], HostConfig: { Binds: [`${allowed}:/allowed`] } });
    assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
    const st = await waitExited(d, id);
    assert.equal(st.State.ExitCode, 0, `attack script failed: ${(await logs(d, id)).stderr}`);
    await d.api('DELETE', `/containers/${id}`);
  };
  const victim = async (source: string): Promise<{ status: number; id: string; body: string }> => {
    const r = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['cat', '/v/NAME'], HostConfig: { Binds: [`${source}:/v`] } });
    return { status: r.status, id: r.status === 201 ? r.json<{ Id: string }>().Id : '', body: r.body.toString() };
  };
  /** Start; returns the HTTP status, the message, and what the container printed. */
  const start = async (id: string): Promise<{ status: number; message: string; stdout: string }> => {
    const s = await d.api('POST', `/containers/${id}/start`);
    if (s.status !== 204) return { status: s.status, message: s.json<{ message: string }>().message, stdout: '' };
    await waitExited(d, id);
    return { status: 204, message: '', stdout: (await logs(d, id)).stdout };
  };
  const noStaging = (id: string): void => assert.deepEqual(mountsContaining(id), [], 'no mount of the container is left behind');

  await t.test('control: an approved bind mounts and a bind outside is denied', async () => {
    mkdirSync(join(allowed, 'ok'));
    writeFileSync(join(allowed, 'ok', 'NAME'), 'harmless\n');
    const v = await victim(join(allowed, 'ok'));
    assert.equal(v.status, 201, v.body);
    const r = await start(v.id);
    assert.equal(r.status, 204, r.message);
    assert.equal(r.stdout, 'harmless\n');
    assert.equal((await victim(secretDir)).status, 403);
    noStaging(v.id);
  });

  await t.test('swapped for a symlink between create and start', async () => {
    mkdirSync(join(allowed, 's1'));
    writeFileSync(join(allowed, 's1', 'NAME'), 'harmless\n');
    const v = await victim(join(allowed, 's1'));
    assert.equal(v.status, 201, v.body);
    await attack(`mv /allowed/s1 /allowed/s1.old && ln -s ${secretDir} /allowed/s1`);
    const r = await start(v.id);
    assert.ok(!r.stdout.includes(secret), 'the victim read the host marker');
    assert.equal(r.status, 403, `start must be refused: ${r.status} ${r.message}`);
    assert.match(r.message, /bind source .*s1.* (symbolic link|changed)/);
    noStaging(v.id);
  });

  await t.test('missing at create, a symlink at start', async () => {
    const v = await victim(join(allowed, 's2'));
    assert.equal(v.status, 201, v.body);
    await attack(`rm -rf /allowed/s2 && ln -s ${secretDir} /allowed/s2`);
    const r = await start(v.id);
    assert.ok(!r.stdout.includes(secret), 'the victim read the host marker');
    assert.equal(r.status, 403, `start must be refused: ${r.status} ${r.message}`);
    noStaging(v.id);
  });

  await t.test('swapped between two starts (symlink, then another directory)', async () => {
    mkdirSync(join(allowed, 's3'));
    writeFileSync(join(allowed, 's3', 'NAME'), 'harmless\n');
    const v = await victim(join(allowed, 's3'));
    assert.equal(v.status, 201, v.body);
    const first = await start(v.id);
    assert.equal(first.status, 204, first.message);
    await attack(`mv /allowed/s3 /allowed/s3.old && ln -s ${secretDir} /allowed/s3`);
    const second = await start(v.id);
    assert.ok(!second.stdout.includes(secret), 'the victim read the host marker');
    assert.equal(second.status, 403, `restart must be refused: ${second.status} ${second.message}`);
    // A real directory in its place is not the approved one either.
    await attack('rm /allowed/s3 && mkdir /allowed/s3 && echo other > /allowed/s3/NAME');
    const third = await start(v.id);
    assert.equal(third.status, 403, `start with another directory must be refused: ${third.status} ${third.message}`);
    assert.match(third.message, /bind source .*s3.* changed/);
    // Put the approved directory back: the container starts again.
    await attack('rm -rf /allowed/s3 && mv /allowed/s3.old /allowed/s3');
    const fourth = await start(v.id);
    assert.equal(fourth.status, 204, fourth.message);
    assert.equal((await logs(d, v.id)).stdout, 'harmless\nharmless\n');
    noStaging(v.id);
  });

  await t.test('staging mounts live only until runc has made the container\'s own, and leftovers go at daemon start', async () => {
    const v = await victim(join(allowed, 'ok'));
    assert.equal(v.status, 201, v.body);
    const run = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'cat /v/NAME; sleep 30'], HostConfig: { Binds: [`${join(allowed, 'ok')}:/v:ro`] } });
    const id = run.json<{ Id: string }>().Id;
    assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
    await waitLog(d, id, 'harmless');
    assert.deepEqual(mountsContaining(`${id}/binds`), [], 'no staging mount while the container runs');
    await d.api('DELETE', `/containers/${id}?force=1`);
    // A crash between staging and runc create leaves a staging mount: the next daemon start undoes it.
    const point = join(d.dataRoot, 'containers', v.id, 'binds', '0');
    mkdirSync(point, { recursive: true });
    execFileSync('mount', ['--bind', join(allowed, 'ok'), point]);
    assert.equal(mountsContaining(`${v.id}/binds`).length, 1);
    await d.kill();
    await d.start();
    assert.deepEqual(mountsContaining(v.id), [], 'the leftover staging mount is gone');
    assert.equal(readFileSync(join(allowed, 'ok', 'NAME'), 'utf8'), 'harmless\n', 'the source is intact');
    assert.equal((await d.api('DELETE', `/containers/${v.id}`)).status, 204);
    assert.equal(readFileSync(join(allowed, 'ok', 'NAME'), 'utf8'), 'harmless\n', 'removing the container left the source intact');
  });

  await t.test(`${ITERATIONS} create+start runs against a RENAME_EXCHANGE loop`, async () => {
    mkdirSync(join(allowed, 'r'));
    writeFileSync(join(allowed, 'r', 'NAME'), 'harmless\n');
    const attacker = await create(d, { Cmd: ['/allowed/race', 'exchange', '60', '/allowed/r', '/allowed/rl'], HostConfig: { Binds: [`${allowed}:/allowed`] } });
    await attack(`ln -s ${secretDir} /allowed/rl`);
    assert.equal((await d.api('POST', `/containers/${attacker}/start`)).status, 204);
    await waitLog(d, attacker, 'ready');
    const end = Date.now() + BUDGET_MS;
    const seen: Record<string, number> = {};
    let runs = 0;
    for (; runs < ITERATIONS && Date.now() < end; runs++) {
      const v = await victim(join(allowed, 'r'));
      let outcome = `create ${v.status}`;
      if (v.status === 201) {
        const r = await start(v.id);
        assert.ok(!r.stdout.includes(secret), `the victim read the host marker on run ${runs + 1}`);
        outcome = `start ${r.status}`;
        await d.api('DELETE', `/containers/${v.id}?force=1`);
        noStaging(v.id);
      }
      seen[outcome] = (seen[outcome] ?? 0) + 1;
    }
    t.diagnostic(`${runs} runs: ${JSON.stringify(seen)}`);
    assert.ok((seen['start 204'] ?? 0) + (seen['start 403'] ?? 0) > 0, 'some runs got past create');
    await d.api('DELETE', `/containers/${attacker}?force=1`);
  });
});

/** Keep the type import used for editors that check it. */
export type { TestDaemon };
