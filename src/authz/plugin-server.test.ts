import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineError } from '../base/index.js';
import { runAuthzServe, runAuthzCheck } from './plugin-server.js';
import { PluginClient } from './plugin-client.js';
import { checkRequestFile } from './policy-plugin.js';
import { parsePolicy } from './policy.js';
import { AuthzChain } from './chain.js';
import type { AuthZWireRequest } from './wire.js';
import { fixtureDir } from '../../test/helpers/fixtures.js';

const FIXTURES: string | undefined = fixtureDir('authz');

const POLICY = {
  default: 'allow',
  rules: [
    { id: 'no-privileged', action: 'deny', message: 'privileged containers are not allowed', when: { privileged: true } },
    { id: 'binds', action: 'deny', message: 'bind mounts only under /home', when: { bindOutside: ['/home'] } },
    { id: 'alice-read-only', action: 'deny', users: ['alice'], methods: ['POST', 'DELETE'], message: 'alice may only look' },
  ],
};

async function tmp(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'moat-authz-srv-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

test('standalone plugin: a stock dockerd client sees policy decisions', async (t) => {
  const dir = await tmp(t);
  const policyPath = join(dir, 'policy.json');
  await writeFile(policyPath, JSON.stringify(POLICY));
  const socketPath = join(dir, 'moat-policy.sock');
  const srv = await runAuthzServe({ policyPath, socketPath, log: undefined });
  t.after(() => srv.close());
  const client = new PluginClient({ name: 'moat-policy', address: { kind: 'unix', path: socketPath }, source: socketPath }, { timeoutMs: 2000 });
  assert.deepEqual(await client.activate(), ['authz']);

  const create = (body: string, uri = '/v1.41/containers/create', headers: Record<string, string> = { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) }) =>
    client.authZReq({ RequestMethod: 'POST', RequestUri: uri, RequestBody: b64(body), RequestHeaders: headers });

  await t.test('captured requests (fixtures 03 and 05)', async (tt) => {
    if (FIXTURES === undefined) return tt.skip('requires shared/fixtures/authz');
    for (const [file, allow] of [['03-authzreq-containers-create.json', true], ['05-authzreq-create-privileged-denied.json', false]] as const) {
      const fx = JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')) as { plugin_request_json: AuthZWireRequest };
      const reply = await client.authZReq(fx.plugin_request_json);
      assert.equal(reply.Allow, allow, file);
    }
  });
  await t.test('raw dockerd bypasses are judged canonically', async () => {
    assert.deepEqual(await create('{"HostConfig":{"Privileged":true}}', '/v1.41/containers/%63reate'), { Allow: false, Msg: 'privileged containers are not allowed (rule no-privileged)' });
    assert.equal((await create('{"HostConfig":{"Binds":["//etc:/x"]}}', '//v1.41//containers/create')).Allow, false);
    assert.equal((await create('{"HostConfig":{"Binds":["/home/../etc:/x"]}}')).Allow, false);
    assert.match((await create('{"HostConfig":{"Privileged":false,"privileged":true}}')).Msg ?? '', /request refused: .*differ only in case/);
    assert.match((await create('{"HostConfig":{"Privileged":false,"Privileged":true}}')).Msg ?? '', /duplicate key/);
    assert.equal((await create('{"HostConfig":{"Binds":["/home/me:/x"]}}')).Allow, true);
  });
  await t.test('a body dockerd did not forward is denied on routes where it matters', async () => {
    const r = await client.authZReq({ RequestMethod: 'POST', RequestUri: '/v1.41/containers/create', RequestHeaders: { 'Content-Type': 'application/json', 'Content-Length': '1100000' } });
    assert.deepEqual(r, { Allow: false, Msg: 'request body not visible to the authorization plugin (too large or not application/json)' });
    assert.equal((await client.authZReq({ RequestMethod: 'POST', RequestUri: '/v1.41/containers/abc/start', RequestHeaders: { 'Content-Length': '0' } })).Allow, true);
  });
  await t.test('per-user rules use the TLS user', async () => {
    assert.equal((await client.authZReq({ User: 'alice', UserAuthNMethod: 'TLS', RequestMethod: 'POST', RequestUri: '/v1.41/containers/abc/kill' })).Allow, false);
    assert.equal((await client.authZReq({ User: 'alice', UserAuthNMethod: 'TLS', RequestMethod: 'GET', RequestUri: '/v1.41/containers/json' })).Allow, true);
  });
  await t.test('AuthZRes allows', async () => {
    assert.deepEqual(await client.authZRes({ RequestMethod: 'GET', RequestUri: '/_ping', ResponseStatusCode: 200 }), { Allow: true });
  });
  await t.test('reload picks up a new policy; a broken file keeps the old one', async () => {
    await writeFile(policyPath, JSON.stringify({ default: 'deny', rules: [] }));
    await srv.reload();
    assert.equal((await client.authZReq({ RequestMethod: 'GET', RequestUri: '/_ping' })).Allow, false);
    await writeFile(policyPath, '{"default":');
    await assert.rejects(srv.reload(), (e: unknown) => e instanceof EngineError && /Invalid authorization policy/.test(e.message));
    assert.equal((await client.authZReq({ RequestMethod: 'GET', RequestUri: '/_ping' })).Allow, false);
  });
  await t.test('garbage calls get a 500 with Err', async () => {
    await assert.rejects(client.authZReq('not an object' as never), /AuthZPlugin.AuthZReq: /);
  });
});

test('moatd can chain to the standalone plugin', async (t) => {
  const dir = await tmp(t);
  const policyPath = join(dir, 'policy.json');
  await writeFile(policyPath, JSON.stringify(POLICY));
  const socketPath = join(dir, 'p.sock');
  const srv = await runAuthzServe({ policyPath, socketPath });
  t.after(() => srv.close());
  const chain = new AuthzChain([new PluginClient({ name: 'moat-policy', address: { kind: 'unix', path: socketPath }, source: socketPath })]);
  await assert.rejects(
    chain.authorizeRequest({ identity: {}, method: 'POST', rawUrl: '/containers/create', headers: {}, body: Buffer.from('{"HostConfig":{"Binds":["/tmp/../etc:/x"]}}') }),
    { message: 'authorization denied by plugin moat-policy: bind mounts only under /home (rule binds)' },
  );
});

test('moat authz check: wire and friendly request files', async (t) => {
  const dir = await tmp(t);
  const policyPath = join(dir, 'policy.json');
  await writeFile(policyPath, JSON.stringify(POLICY));
  const wirePath = join(dir, 'wire.json');
  await writeFile(wirePath, JSON.stringify({ RequestMethod: 'POST', RequestUri: '/v1.41/containers/create', RequestBody: b64('{"HostConfig":{"Privileged":true}}') }));
  assert.deepEqual(await runAuthzCheck({ policyPath, requestPath: wirePath }), { allow: false, rule: 'no-privileged', msg: 'privileged containers are not allowed (rule no-privileged)' });
  const friendlyPath = join(dir, 'friendly.json');
  await writeFile(friendlyPath, '{"Method":"post","URI":"/containers/create","Body":{"HostConfig":{"Binds":["/home/a:/a"]}}}');
  assert.deepEqual(await runAuthzCheck({ policyPath, requestPath: friendlyPath }), { allow: true, rule: 'default', msg: 'no rule matched; the default is allow' });
  const policy = parsePolicy(await readFile(policyPath, 'utf8'));
  // the friendly Body keeps its exact keys, so an ambiguous body shows as refused
  const dup = checkRequestFile(policy, '{"Method":"POST","URI":"/containers/create","Body":{"HostConfig":{"Privileged":false,"Privileged":true}}}');
  assert.equal(dup.allow, false);
  assert.equal(dup.rule, 'invalid-request');
  assert.equal(checkRequestFile(policy, { Method: 'POST', URI: '/containers/create', User: 'alice', Body: {} }).rule, 'alice-read-only');
  assert.throws(() => checkRequestFile(policy, '{"Nope":1}'), /expected \{RequestMethod/);
  await assert.rejects(runAuthzCheck({ policyPath: join(dir, 'missing.json'), requestPath: wirePath }), /Cannot read authorization policy/);
});

test('test plugin CLI: flags, JSON-lines log, clean exit on SIGTERM', async (t) => {
  const dir = await tmp(t);
  const socket = join(dir, 'cli.sock');
  const log = join(dir, 'calls.log');
  const child = spawn(process.execPath, [join(process.cwd(), 'test/helpers/authz-plugin/plugin.mjs'), '--socket', socket, '--log', log, '--deny-privileged', '--deny-bind-prefix', '/etc'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', () => reject(new Error('plugin exited early')));
  });
  const client = new PluginClient({ name: 'cli', address: { kind: 'unix', path: socket }, source: socket }, { timeoutMs: 2000 });
  await client.activate();
  assert.equal((await client.authZReq({ RequestMethod: 'POST', RequestUri: '/v1.41/containers/create', RequestBody: b64('{"HostConfig":{"Binds":["/etc/shadow:/x"]}}') })).Allow, false);
  // plain string comparison: the naive plugin misses the raw bypass (moat canonicalizes first)
  assert.equal((await client.authZReq({ RequestMethod: 'POST', RequestUri: '/v1.41/containers/create', RequestBody: b64('{"HostConfig":{"Binds":["//etc/shadow:/x"]}}') })).Allow, true);
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  const lines = (await readFile(log, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { call: string; body?: unknown });
  assert.deepEqual(lines.map((l) => l.call), ['/Plugin.Activate', '/AuthZPlugin.AuthZReq', '/AuthZPlugin.AuthZReq']);
  assert.deepEqual(lines[1]!.body, { HostConfig: { Binds: ['/etc/shadow:/x'] } });
});
