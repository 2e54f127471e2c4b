// A registry with TLS (a CA this test makes, given to moatd in <config-dir>/certs.d) and
// htpasswd basic auth: docker login good and bad, pulls without and with credentials, push,
// a certificate moatd cannot verify; the password never reaches moatd's log or disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { requires } from '../../helpers/requires.js';
import { startRegistry } from '../../helpers/registry.js';
import { startTokenServer } from '../../helpers/token-server.js';
import { docker, dockerOk } from './cli.js';

const PASSWORD = 'pw-Zq8-never-logged';

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) {
      if (n === 'diff' || n === 'rootfs' || n === 'docker-cli') continue; // layer contents, mounts, the CLI's own config
      out.push(...filesUnder(p));
    } else if (st.isFile() && st.size < 4 * 1024 * 1024) out.push(p);
  }
  return out;
}

test('registry with TLS and basic auth: login, pull, push, certificates', { timeout: 300_000 }, async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'docker-cli', 'docker-registry', 'htpasswd')) return;
  const reg = await startRegistry({ tls: true, users: { alice: PASSWORD } });
  t.after(() => reg.stop());
  const cfgDir = mkdtempSync('/tmp/mt-cfg-');
  t.after(() => rmSync(cfgDir, { recursive: true, force: true }));
  writeFileSync(join(cfgDir, 'daemon.json'), '{}\n');
  mkdirSync(join(cfgDir, 'certs.d', reg.host), { recursive: true });
  writeFileSync(join(cfgDir, 'certs.d', reg.host, 'ca.crt'), reg.caCert!);
  const d: TestDaemon = await startDaemon({ args: ['--config-file', join(cfgDir, 'daemon.json')] });
  t.after(() => d.cleanup());
  const name = `${reg.host}/private/bb:v1`;

  await t.test('docker login with a wrong password fails with 401 wording; the right one succeeds', async () => {
    const bad = await docker(d, ['login', reg.host, '-u', 'alice', '--password-stdin'], { input: 'wrong\n' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, new RegExp(`Error response from daemon: login attempt to https://${reg.host.replace(/\./g, '\\.')}/v2/ failed with status: 401 Unauthorized`));
    const nouser = await docker(d, ['login', reg.host, '-u', 'bob', '--password-stdin'], { input: `${PASSWORD}\n` });
    assert.equal(nouser.code, 1);
    const good = await docker(d, ['login', reg.host, '-u', 'alice', '--password-stdin'], { input: `${PASSWORD}\n` });
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /Login Succeeded/);
  });

  await t.test('push and pull with the credentials the CLI sends (X-Registry-Auth); same id back', async () => {
    await dockerOk(d, ['tag', 'busybox', name]);
    const id = JSON.parse(await dockerOk(d, ['image', 'inspect', name]))[0].Id as string;
    const push = await dockerOk(d, ['push', name], { timeoutMs: 60_000 });
    assert.match(push, /v1: digest: sha256:[a-f0-9]{64} size: \d+/);
    await dockerOk(d, ['rmi', name]);
    await dockerOk(d, ['pull', name], { timeoutMs: 60_000 });
    assert.equal(JSON.parse(await dockerOk(d, ['image', 'inspect', name]))[0].Id, id);
  });

  await t.test('without credentials the pull is refused with an auth error', async () => {
    await dockerOk(d, ['logout', reg.host]);
    await dockerOk(d, ['rmi', name]);
    const r = await docker(d, ['pull', name]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unauthorized: authentication required by 127\.0\.0\.1:\d+ \(no basic auth credentials/);
  });

  await t.test('a certificate moatd cannot verify is an error, not a silent downgrade', async () => {
    // certs.d has the CA for 127.0.0.1:PORT only; localhost:PORT is the same server without it.
    const other = `localhost:${reg.port}/private/bb:v1`;
    const r = await docker(d, ['pull', other]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Get "https:\/\/localhost:\d+\/v2\/": .*(self[- ]signed|unable to verify|certificate)/i);
  });

  await t.test('the password is in no moatd log line and no file moatd wrote', async () => {
    assert.ok(!readFileSync(d.logFile, 'utf8').includes(PASSWORD), 'not in the daemon log');
    const b64 = Buffer.from(PASSWORD).toString('base64');
    for (const f of filesUnder(d.root)) {
      const text = readFileSync(f, 'latin1');
      assert.ok(!text.includes(PASSWORD) && !text.includes(b64), `not in ${f}`);
    }
  });
});

test('registry with bearer token auth (WWW-Authenticate challenge, token server): login, push, pull', { timeout: 300_000 }, async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'docker-cli', 'docker-registry')) return;
  const dir = mkdtempSync('/tmp/mt-token-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tokens = await startTokenServer(dir, { bob: PASSWORD });
  t.after(() => tokens.close());
  const reg = await startRegistry({ token: tokens });
  t.after(() => reg.stop());
  const d: TestDaemon = await startDaemon();
  t.after(() => d.cleanup());
  const name = `${reg.host}/team/bb:v1`;

  await t.test('login: the token server decides', async () => {
    const bad = await docker(d, ['login', reg.host, '-u', 'bob', '--password-stdin'], { input: 'nope\n' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /login attempt to http:\/\/127\.0\.0\.1:\d+\/v2\/ failed with status: 401 Unauthorized/);
    const good = await docker(d, ['login', reg.host, '-u', 'bob', '--password-stdin'], { input: `${PASSWORD}\n` });
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /Login Succeeded/);
  });

  await t.test('push and pull get tokens scoped to the repository', async () => {
    await dockerOk(d, ['tag', 'busybox', name]);
    await dockerOk(d, ['push', name], { timeoutMs: 60_000 });
    await dockerOk(d, ['rmi', name]);
    await dockerOk(d, ['pull', name], { timeoutMs: 60_000 });
    assert.ok(tokens.requests.some((r) => r.authorized && r.scope.includes('repository:team/bb:push,pull')), JSON.stringify(tokens.requests));
    assert.ok(tokens.requests.some((r) => r.authorized && r.scope.includes('repository:team/bb:pull')));
  });

  await t.test('without credentials the token has no access and the pull is refused', async () => {
    await dockerOk(d, ['logout', reg.host]);
    await dockerOk(d, ['rmi', name]);
    const r = await docker(d, ['pull', name]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /pull access denied for 127\.0\.0\.1:\d+\/team\/bb, repository does not exist or may require 'docker login'/);
  });
});
