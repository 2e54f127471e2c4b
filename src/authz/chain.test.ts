import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, mkdir, symlink, realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EngineError } from '../base/index.js';
import { AuthzChain, ERR_AUTHZ_PLUGIN_FAILED, type AuthzPlugin } from './chain.js';
import { PluginClient, loadPlugins, type PluginClientOptions } from './plugin-client.js';
import { PolicyPlugin } from './policy-plugin.js';
import { parsePolicy } from './policy.js';
import type { AuditRecord } from './audit.js';
import type { AuthZWireRequest } from './wire.js';

interface PluginCall {
  call: string;
  headers: Record<string, string | undefined>;
  request: AuthZWireRequest | null;
  body: unknown;
}
interface TestPlugin {
  socket: string;
  calls: PluginCall[];
  setMode(patch: Record<string, unknown>): void;
  close(): Promise<void>;
}
type StartPlugin = (o: Record<string, unknown>) => Promise<TestPlugin>;

const PLUGIN_MJS = join(process.cwd(), 'test/helpers/authz-plugin/plugin.mjs');
const { startPlugin } = (await import(pathToFileURL(PLUGIN_MJS).href)) as { startPlugin: StartPlugin };

/** A temp dir and plugins that are removed after the test, pass or fail. */
async function setup(t: TestContext): Promise<{ dir: string; plugin(name: string, o?: Record<string, unknown>): Promise<TestPlugin>; client(p: TestPlugin, name: string, o?: PluginClientOptions): PluginClient }> {
  const dir = await mkdtemp(join(tmpdir(), 'moat-authz-'));
  const started: TestPlugin[] = [];
  t.after(async () => {
    for (const p of started) await p.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  return {
    dir,
    async plugin(name, o = {}) {
      const p = await startPlugin({ socket: join(dir, `${name}.sock`), ...o });
      started.push(p);
      return p;
    },
    client(p, name, o = {}) {
      return new PluginClient({ name, address: { kind: 'unix', path: p.socket }, source: p.socket }, { timeoutMs: 2000, ...o });
    },
  };
}

const JSON_CT = { 'content-type': 'application/json' };
const PRIVILEGED = '{"Image":"bb:local","HostConfig":{"Privileged":true}}';

function req(body: string | undefined, rawUrl = '/v1.41/containers/create', headers: Record<string, string> = JSON_CT) {
  return { identity: {}, method: 'POST', rawUrl, headers, body: body === undefined ? undefined : Buffer.from(body) };
}

async function expectError(p: Promise<unknown>, kind: string, message: string | RegExp): Promise<EngineError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof EngineError, `expected EngineError, got ${String(caught)}`);
  assert.equal(caught.kind, kind);
  if (typeof message === 'string') assert.equal(caught.message, message);
  else assert.match(caught.message, message);
  return caught;
}

test('allow: AuthZReq before, AuthZRes after, exact wire fields', async (t) => {
  const s = await setup(t);
  const p = await s.plugin('p1', { denyPrivileged: true });
  const client = s.client(p, 'p1');
  await client.activate();
  const chain = new AuthzChain([client]);
  const a = await chain.authorizeRequest({
    identity: { user: 'alice', authMethod: 'SO_PEERCRED', uid: 1000 },
    method: 'POST',
    rawUrl: '/v1.41/containers/create?name=web',
    headers: { ...JSON_CT, authorization: 'Bearer secret', 'x-registry-auth': 'e30=', host: 'docker', 'user-agent': 'Docker-Client/28.2.2 (linux)' },
    body: Buffer.from('{"Image":"bb:local"}'),
  });
  assert.equal(a.canonical.path, '/containers/create');
  await chain.authorizeResponse(a, { statusCode: 201, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"Id":"abc","Warnings":[]}') });

  assert.deepEqual(p.calls.map((c) => c.call), ['/Plugin.Activate', '/AuthZPlugin.AuthZReq', '/AuthZPlugin.AuthZRes']);
  const [activate, zreq, zres] = p.calls;
  assert.equal(activate!.headers['accept'], 'application/vnd.docker.plugins.v1.2+json');
  assert.equal(zreq!.headers['content-type'], undefined);
  assert.equal(zreq!.headers['host'], ''); // empty, as Go sends on unix sockets
  assert.deepEqual(zreq!.request, {
    User: 'alice',
    UserAuthNMethod: 'SO_PEERCRED',
    RequestMethod: 'POST',
    RequestUri: '/v1.41/containers/create?name=web',
    RequestBody: Buffer.from('{"Image":"bb:local"}').toString('base64'),
    RequestHeaders: { 'Content-Length': '20', 'Content-Type': 'application/json', 'User-Agent': 'Docker-Client/28.2.2 (linux)' },
  });
  assert.equal(zres!.request!.ResponseStatusCode, 201);
  assert.deepEqual(JSON.parse(Buffer.from(zres!.request!.ResponseBody!, 'base64').toString()), { Id: 'abc', Warnings: [] });
});

test('deny: 403 with Docker text; the response phase is not reached', async (t) => {
  const s = await setup(t);
  const p = await s.plugin('rschauthz', { denyPrivileged: true });
  const chain = new AuthzChain([s.client(p, 'rschauthz')]);
  const e = await expectError(chain.authorizeRequest(req(PRIVILEGED)), 'forbidden', 'authorization denied by plugin rschauthz: privileged containers are not allowed');
  assert.equal(e.status, 403);
  p.setMode({ denyAll: '' });
  await expectError(chain.authorizeRequest(req(undefined, '/_ping')), 'forbidden', 'authorization denied by plugin rschauthz: ');
  assert.deepEqual(p.calls.map((c) => c.call), ['/AuthZPlugin.AuthZReq', '/AuthZPlugin.AuthZReq']);
});

test('bypasses reach the naive plugin canonicalized (or not at all)', async (t) => {
  const s = await setup(t);
  const p = await s.plugin('naive', { denyPrivileged: true, denyBindPrefixes: ['/etc'] });
  const chain = new AuthzChain([s.client(p, 'naive')], { realpath: (x) => realpath(x) });
  const denied = /^authorization denied by plugin naive: /;
  await t.test('percent-encoded path /containers/%63reate', async () => void (await expectError(chain.authorizeRequest(req(PRIVILEGED, '/containers/%63reate')), 'forbidden', denied)));
  await t.test('//containers/create', async () => void (await expectError(chain.authorizeRequest(req(PRIVILEGED, '//containers/create')), 'forbidden', denied)));
  await t.test('/v1.41//containers/./create', async () => void (await expectError(chain.authorizeRequest(req(PRIVILEGED, '/v1.41//containers/./create')), 'forbidden', denied)));
  await t.test('-v //etc:/x', async () => void (await expectError(chain.authorizeRequest(req('{"HostConfig":{"Binds":["//etc:/x"]}}')), 'forbidden', /bind mount of \/etc is not allowed/)));
  await t.test('-v /tmp/../etc:/x', async () => void (await expectError(chain.authorizeRequest(req('{"HostConfig":{"Binds":["/tmp/../etc:/x"]}}')), 'forbidden', /bind mount of \/etc is not allowed/)));
  await t.test('symlink to /etc', async () => {
    const link = join(s.dir, 'innocent');
    await symlink('/etc', link);
    await expectError(chain.authorizeRequest(req(JSON.stringify({ HostConfig: { Binds: [`${link}:/x`] } }))), 'forbidden', /bind mount of \/etc is not allowed/);
    const nested = join(s.dir, 'sub');
    await mkdir(nested);
    await symlink('/etc', join(nested, 'l'));
    await expectError(chain.authorizeRequest(req(JSON.stringify({ HostConfig: { Mounts: [{ Type: 'bind', Source: join(nested, 'l', 'ssh'), Target: '/x' }] } }))), 'forbidden', /bind mount of \/etc\/ssh/);
  });
  await t.test('chunked body', async () => void (await expectError(chain.authorizeRequest(req(PRIVILEGED, '/v1.41/containers/create', { ...JSON_CT, 'transfer-encoding': 'chunked' })), 'forbidden', denied)));
  const before = p.calls.length;
  await t.test('case-variant key: 400 before any plugin', async () => void (await expectError(chain.authorizeRequest(req('{"HostConfig":{"privileged":true}}')), 'invalid', /"privileged"/)));
  await t.test('duplicate key: 400 before any plugin', async () => void (await expectError(chain.authorizeRequest(req('{"HostConfig":{"Privileged":false,"Privileged":true}}')), 'invalid', /duplicate key "Privileged"/)));
  await t.test('Content-Length: 0 with a body', async () => void (await expectError(chain.authorizeRequest(req(PRIVILEGED, '/containers/create', { ...JSON_CT, 'content-length': '0' })), 'invalid', /Content-Length 0/)));
  await t.test('body over 1 MiB: 413', async () => void (await expectError(chain.authorizeRequest(req(PRIVILEGED.replace('{', `{"Pad":"${'x'.repeat(1024 * 1024)}",`))), 'too-large', /exceeds 1048576 bytes/)));
  assert.equal(p.calls.length, before, 'refused requests never reach the plugin');
  await t.test('plain create allowed', async () => {
    const a = await chain.authorizeRequest(req('{"Image":"x","HostConfig":{"Binds":["/srv:/srv"]}}'));
    assert.equal(a.canonical.canonicalBody.toString(), '{"Image":"x","HostConfig":{"Binds":["/srv:/srv"]}}');
  });
});

test('order: every plugin in order; the first deny stops the chain', async (t) => {
  const s = await setup(t);
  const p1 = await s.plugin('p1');
  const p2 = await s.plugin('p2', { denyAll: 'everything is denied' });
  const chain = new AuthzChain([s.client(p1, 'p1'), s.client(p2, 'p2'), s.client(p1, 'p1')]);
  assert.deepEqual(chain.pluginNames, ['p1', 'p2']); // duplicates dropped
  await expectError(chain.authorizeRequest(req(undefined, '/_ping')), 'forbidden', 'authorization denied by plugin p2: everything is denied');
  assert.equal(p1.calls.length, 1);
  assert.equal(p2.calls.length, 1);
  // p1 denies: p2 is not asked
  p1.setMode({ denyAll: 'no' });
  await expectError(chain.authorizeRequest(req(undefined, '/_ping')), 'forbidden', 'authorization denied by plugin p1: no');
  assert.equal(p2.calls.length, 1);
  // both allow: AuthZReq p1, p2, then AuthZRes p1, p2
  p1.setMode({ denyAll: undefined });
  p2.setMode({ denyAll: undefined });
  const a = await chain.authorizeRequest(req(undefined, '/v1.41/version'));
  await chain.authorizeResponse(a, { statusCode: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from('{}') });
  assert.deepEqual([...p1.calls.slice(2), ...p2.calls.slice(1)].map((c) => c.call), ['/AuthZPlugin.AuthZReq', '/AuthZPlugin.AuthZRes', '/AuthZPlugin.AuthZReq', '/AuthZPlugin.AuthZRes']);
});

test('failures deny (500) with a distinct code', async (t) => {
  const s = await setup(t);
  const p = await s.plugin('rschauthz');
  const chain = new AuthzChain([s.client(p, 'rschauthz', { timeoutMs: 300 })]);
  await t.test('Err reply', async () => {
    p.setMode({ fail: 'research plugin internal failure' });
    const e = await expectError(chain.authorizeRequest(req(undefined, '/_ping')), 'internal', 'plugin rschauthz failed with error: AuthZPlugin.AuthZReq: research plugin internal failure');
    assert.equal(e.code, ERR_AUTHZ_PLUGIN_FAILED);
    assert.equal(e.status, 500);
  });
  await t.test('garbage reply', async () => {
    p.setMode({ fail: undefined, garbage: true });
    await expectError(chain.authorizeRequest(req(undefined, '/_ping')), 'internal', /^plugin rschauthz failed with error: AuthZPlugin.AuthZReq: invalid JSON in plugin reply/);
  });
  await t.test('hang: bounded by the timeout', async () => {
    p.setMode({ garbage: false, hang: true });
    const t0 = Date.now();
    await expectError(chain.authorizeRequest(req(undefined, '/_ping')), 'internal', /no reply within 300 ms/);
    assert.ok(Date.now() - t0 < 2000);
  });
  await t.test('plugin gone, then back: recovery without re-activation', async () => {
    await p.close();
    await expectError(chain.authorizeRequest(req(undefined, '/_ping')), 'internal', /^plugin rschauthz failed with error: Post "http:\/\/.*rschauthz\.sock\/AuthZPlugin\.AuthZReq": connect (ECONNREFUSED|ENOENT)/);
    const back = await s.plugin('rschauthz');
    await chain.authorizeRequest(req(undefined, '/_ping'));
    assert.deepEqual(back.calls.map((c) => c.call), ['/AuthZPlugin.AuthZReq']);
  });
});

test('retry: a plugin that comes back within retryMs is waited for', async (t) => {
  const s = await setup(t);
  const socket = join(s.dir, 'late.sock');
  const client = new PluginClient({ name: 'late', address: { kind: 'unix', path: socket }, source: socket }, { timeoutMs: 1000, retryMs: 3000 });
  const chain = new AuthzChain([client]);
  const started = new Promise<void>((resolve) => setTimeout(() => void s.plugin('late').then(() => resolve()), 300));
  await chain.authorizeRequest(req(undefined, '/_ping'));
  await started;
});

test('response phase: deny hides the response; streamed responses are only logged', async (t) => {
  const s = await setup(t);
  const p = await s.plugin('p1');
  const audit: AuditRecord[] = [];
  const chain = new AuthzChain([s.client(p, 'p1')], { audit: (r) => audit.push(r) });
  const a = await chain.authorizeRequest(req(undefined, '/v1.41/version'));
  p.setMode({ denyAll: 'version response withheld' });
  await expectError(chain.authorizeResponse(a, { statusCode: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from('{}') }), 'forbidden', 'authorization denied by plugin p1: version response withheld');
  await chain.authorizeResponse(a, { streamed: true, headers: {} });
  assert.deepEqual(audit.map((r) => [r.phase, r.decision, r.enforced]), [['request', 'allow', true], ['response', 'deny', true], ['response', 'deny', false]]);
  // a JSON response too large to show the plugin fails closed
  p.setMode({ denyAll: undefined });
  const small = new AuthzChain([s.client(p, 'p1')], { maxResponseBody: 10 });
  const b = await small.authorizeRequest(req(undefined, '/v1.41/containers/json'));
  await expectError(small.authorizeResponse(b, { statusCode: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from('[{"Id":"0123456789"}]') }), 'internal', /response body too large/);
});

test('reload swaps the list; requests in flight keep theirs', async (t) => {
  const s = await setup(t);
  const p1 = await s.plugin('p1');
  const p2 = await s.plugin('p2', { denyAll: 'p2 says no' });
  const c1 = s.client(p1, 'p1');
  const c2 = s.client(p2, 'p2');
  const chain = new AuthzChain([c1]);
  const inFlight = await chain.authorizeRequest(req(undefined, '/_ping'));
  chain.setPlugins([c1, c2]);
  assert.deepEqual(chain.pluginNames, ['p1', 'p2']);
  await chain.authorizeResponse(inFlight, { statusCode: 200 }); // p2 never saw the request: not asked
  assert.equal(p2.calls.length, 0);
  await expectError(chain.authorizeRequest(req(undefined, '/_ping')), 'forbidden', /p2 says no/);
  chain.setPlugins([]);
  await chain.authorizeRequest(req(undefined, '/_ping'));
});

test('audit: caller, endpoint, decision, plugin and rule', async () => {
  const audit: AuditRecord[] = [];
  const policy = new PolicyPlugin(parsePolicy('{"default":"allow","rules":[{"id":"no-priv","action":"deny","message":"no","when":{"privileged":true}}]}'));
  const chain = new AuthzChain([policy], { audit: (r) => audit.push(r) });
  const identity = { user: 'alice', uid: 1000, gid: 1000, pid: 42, authMethod: 'SO_PEERCRED' };
  await expectError(chain.authorizeRequest({ ...req(PRIVILEGED), identity, requestId: 'r1' }), 'forbidden', 'authorization denied by plugin moat-policy: no (rule no-priv)');
  const rec = audit[0]!;
  assert.deepEqual({ ...rec, time: 'T' }, {
    time: 'T', requestId: 'r1', phase: 'request', decision: 'deny', plugin: 'moat-policy', rule: 'no-priv', msg: 'no (rule no-priv)',
    user: 'alice', uid: 1000, gid: 1000, pid: 42, authMethod: 'SO_PEERCRED', method: 'POST', uri: '/v1.41/containers/create', path: '/containers/create', enforced: true,
  });
  await expectError(chain.authorizeRequest(req('{"hostconfig":{}}')), 'invalid', /hostconfig/);
  assert.equal(audit[1]!.plugin, '(canonical form)');
  assert.equal(audit[1]!.decision, 'deny');
});

test('a plugin that throws or answers nonsense in-process also denies', async () => {
  const thrower: AuthzPlugin = { name: 'x', authZReq: async () => { throw new Error('kaboom'); }, authZRes: async () => ({ Allow: true }) };
  await expectError(new AuthzChain([thrower]).authorizeRequest(req(undefined, '/_ping')), 'internal', 'plugin x failed with error: kaboom');
  const liar = { name: 'y', authZReq: async () => ({ Allow: 'yes' }), authZRes: async () => ({ Allow: true }) } as unknown as AuthzPlugin;
  await expectError(new AuthzChain([liar]).authorizeRequest(req(undefined, '/_ping')), 'internal', /no boolean Allow/);
});

test('loadPlugins: discovery, activation, cache, builtins', async (t) => {
  const s = await setup(t);
  const p = await s.plugin('good');
  await s.plugin('notauthz', { noAuthz: true });
  const cache = new Map<string, AuthzPlugin>();
  const policy = new PolicyPlugin(parsePolicy('{"default":"allow","rules":[]}'));
  const builtins = new Map<string, AuthzPlugin>([['moat-policy', policy]]);
  const list = await loadPlugins(['good', 'moat-policy', 'good'], { discovery: { socketDirs: [s.dir], specDirs: [] }, cache, builtins });
  assert.deepEqual(list.map((x) => x.name), ['good', 'moat-policy']);
  assert.equal(p.calls.filter((c) => c.call === '/Plugin.Activate').length, 1);
  const again = await loadPlugins(['good'], { discovery: { socketDirs: [s.dir], specDirs: [] }, cache });
  assert.equal(again[0], list[0]);
  assert.equal(p.calls.filter((c) => c.call === '/Plugin.Activate').length, 1, 'activated once');
  await expectError(loadPlugins(['notauthz'], { discovery: { socketDirs: [s.dir], specDirs: [] } }), 'unavailable', 'failed to validate authorization plugin: plugin "notauthz": Plugin does not implement the requested driver');
  await expectError(loadPlugins(['nosuchplugin'], { discovery: { socketDirs: [s.dir], specDirs: [] } }), 'not-found', 'plugin "nosuchplugin" not found');
});
