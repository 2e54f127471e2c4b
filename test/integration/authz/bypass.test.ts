// Issue 7: every known way around a Docker AuthZ plugin, end to end through a real moatd,
// with raw bytes on the unix socket. The plugin in front is deliberately naive: it compares
// plain strings (HostConfig.Privileged === true, bind sources starting with "/etc"), so a
// request only gets refused if moatd hands it the canonical request - and the handler must
// then run exactly that request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { chunked, deferStack, rawPost, rawRequest, startTestPlugin, uniquePluginName, type RawResponse, type TestPlugin } from '../../helpers/authz-plugin/index.js';

const JSON_CT = { 'Content-Type': 'application/json' };

function post(d: TestDaemon, path: string, body: string | Buffer, headers: Record<string, string | number> = {}): Promise<RawResponse> {
  return rawPost(d.socket, path, body, { ...JSON_CT, 'Content-Length': Buffer.byteLength(body), ...headers });
}

function message(r: RawResponse): string {
  return (JSON.parse(r.body) as { message: string }).message;
}

/** Every container the daemon has, with what it would run. */
async function containers(d: TestDaemon): Promise<Array<{ Id: string; HostConfig: { Privileged?: boolean; Binds?: string[] | null } }>> {
  const list = (await d.api('GET', '/containers/json?all=1')).json<Array<{ Id: string }>>();
  return Promise.all(list.map(async (c) => (await d.api('GET', `/containers/${c.Id}/json`)).json<{ Id: string; HostConfig: { Privileged?: boolean; Binds?: string[] | null } }>()));
}

function lastReq(p: TestPlugin): TestPlugin['calls'][number] | undefined {
  return p.requests().at(-1);
}

test('bypass attempts against a string-comparing plugin are all refused', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const defer = deferStack(t);
  const plugin = await startTestPlugin(uniquePluginName('naive'), { denyPrivileged: true, denyBindPrefixes: ['/etc'] });
  defer(() => plugin.close());
  const tmp = mkdtempSync('/tmp/mt-azbp-');
  defer(() => rmSync(tmp, { recursive: true, force: true }));
  const d = await startDaemon({ args: ['--authorization-plugin', plugin.name] });
  defer(() => d.cleanup());

  const privileged = JSON.stringify({ Image: 'busybox', Cmd: ['true'], HostConfig: { Privileged: true } });
  const denied = `authorization denied by plugin ${plugin.name}: privileged containers are not allowed`;

  await t.test('control: a plain privileged create is denied, a plain create allowed', async () => {
    const r = await post(d, '/containers/create', privileged);
    assert.equal(r.status, 403);
    assert.equal(message(r), denied);
    const ok = await post(d, '/containers/create', JSON.stringify({ Image: 'busybox', Cmd: ['true'] }));
    assert.equal(ok.status, 201, ok.body);
  });

  await t.test('Content-Length: 0 followed by the body: no create runs', async () => {
    const before = (await containers(d)).length;
    const r = await rawPost(d.socket, '/containers/create', privileged, { ...JSON_CT, 'Content-Length': 0, Connection: 'keep-alive' });
    assert.ok(r.statuses.length >= 1, r.raw);
    assert.ok(r.statuses.every((s) => s >= 400), `statuses ${r.statuses.join(',')}`);
    assert.equal(r.status, 400, 'an empty create body is refused by the handler');
    assert.equal((await containers(d)).length, before);
  });

  await t.test('a short Content-Length: no create runs', async () => {
    const before = (await containers(d)).length;
    const r = await rawPost(d.socket, '/containers/create', privileged, { ...JSON_CT, 'Content-Length': 20, Connection: 'keep-alive' });
    assert.ok(r.statuses.every((s) => s >= 400), `statuses ${r.statuses.join(',')}`);
    assert.equal((await containers(d)).length, before);
  });

  await t.test('chunked: the plugin gets the whole body and denies', async () => {
    const r = await rawPost(d.socket, '/containers/create', chunked(privileged, 7), { ...JSON_CT, 'Transfer-Encoding': 'chunked' });
    assert.equal(r.status, 403, r.raw);
    const seen = lastReq(plugin)!;
    assert.equal(seen.body.HostConfig.Privileged, true);
    assert.equal(seen.request.RequestHeaders['Content-Length'], String(Buffer.byteLength(privileged)));
    assert.equal(seen.request.RequestHeaders['Transfer-Encoding'], undefined);
  });

  for (const size of [1_100_000, 4_500_000]) {
    await t.test(`${(size / 1e6).toFixed(1)} MB of padding (Content-Length and chunked): denied`, async () => {
      const padded = JSON.stringify({ Image: 'busybox', Labels: { pad: 'x'.repeat(size) }, HostConfig: { Privileged: true } });
      const a = await post(d, '/containers/create', padded);
      assert.equal(a.status, 403, a.body.slice(0, 300));
      const b = await rawPost(d.socket, '/containers/create', chunked(padded, 65536), { ...JSON_CT, 'Transfer-Encoding': 'chunked' });
      assert.equal(b.status, 403, b.body.slice(0, 300));
    });
  }

  for (const path of ['//containers/create', '/v1.41/containers/create', '/containers/%63reate', '/v1.41//containers/./%63reate', '/x/../containers/create', '/v1.41/containers%2Fcreate']) {
    await t.test(`path ${path}: denied, the plugin saw the canonical URI`, async () => {
      const r = await post(d, path, privileged);
      assert.equal(r.status, 403, r.raw);
      assert.match(lastReq(plugin)!.request.RequestUri, /^(\/v1\.41)?\/containers\/create$/);
    });
  }

  const ambiguous: Array<[string, string]> = [
    ['case-variant key "privileged"', '{"Image":"busybox","HostConfig":{"privileged":true}}'],
    ['case-variant key "hostconfig"', '{"Image":"busybox","hostconfig":{"Privileged":true}}'],
    ['Go case folding: "Bind\u017F" (long s) for Binds', '{"Image":"busybox","HostConfig":{"Bind\u017F":["/etc:/x"]}}'],
    ['duplicate key', '{"Image":"busybox","HostConfig":{"Privileged":false,"Privileged":true}}'],
    ['duplicate key through an escape', '{"Image":"busybox","HostConfig":{"Privileged":false,"Privil\\u0065ged":true}}'],
    ['duplicate HostConfig', '{"Image":"busybox","HostConfig":{},"HostConfig":{"Privileged":true}}'],
    ['Privileged as a string', '{"Image":"busybox","HostConfig":{"Privileged":"true"}}'],
  ];
  for (const [name, body] of ambiguous) {
    await t.test(`${name}: 400, no container`, async () => {
      const before = (await containers(d)).length;
      const r = await post(d, '/containers/create', body);
      assert.equal(r.status, 400, r.raw);
      assert.match(message(r), /Cannot decode request body/);
      assert.equal((await containers(d)).length, before);
    });
  }

  await t.test('JSON sent as text/plain: 400', async () => {
    const r = await post(d, '/containers/create', privileged, { 'Content-Type': 'text/plain' });
    assert.equal(r.status, 400);
    assert.match(message(r), /must be 'application\/json'/);
  });

  mkdirSync(join(tmp, 'real'));
  symlinkSync('/etc', join(tmp, 'etc-link'));
  symlinkSync(join(tmp, 'real'), join(tmp, 'ok-link'));
  writeFileSync(join(tmp, 'real', 'f'), 'x');
  const bindCases: Array<[string, object]> = [
    ['-v //etc:/x', { Binds: ['//etc:/x'] }],
    ['-v /tmp/../etc:/x', { Binds: ['/tmp/../etc:/x:ro'] }],
    ['-v SYMLINK-TO-/etc:/x', { Binds: [`${join(tmp, 'etc-link')}:/x`] }],
    ['-v SYMLINK-TO-/etc/..:/x', { Binds: [`${join(tmp, 'etc-link')}/ssl/..:/x`] }],
    ['--mount source=//etc', { Mounts: [{ Type: 'bind', Source: '//etc/', Target: '/x' }] }],
    ['--mount source=SYMLINK-TO-/etc', { Mounts: [{ Type: 'bind', Source: join(tmp, 'etc-link'), Target: '/x' }] }],
  ];
  for (const [name, hc] of bindCases) {
    await t.test(`${name}: the plugin sees /etc and denies`, async () => {
      const r = await post(d, '/containers/create', JSON.stringify({ Image: 'busybox', Cmd: ['true'], HostConfig: hc }));
      assert.equal(r.status, 403, r.raw);
      assert.match(message(r), /bind mount of \/etc(\/)? is not allowed/);
    });
  }

  await t.test('an allowed bind through a symlink: the engine gets the resolved path the plugin saw', async () => {
    const r = await post(d, '/containers/create?name=az-bind', JSON.stringify({ Image: 'busybox', Cmd: ['true'], HostConfig: { Binds: [`${join(tmp, 'ok-link')}/./:/x:ro`] } }));
    assert.equal(r.status, 201, r.raw);
    assert.deepEqual(lastReq(plugin)!.body.HostConfig.Binds, [`${join(tmp, 'real')}:/x:ro`]);
    const inspect = (await d.api('GET', '/containers/az-bind/json')).json<{ HostConfig: { Binds: string[] } }>();
    assert.deepEqual(inspect.HostConfig.Binds, [`${join(tmp, 'real')}:/x:ro`]);
  });

  await t.test('afterwards: no container is privileged or binds /etc', async () => {
    const all = await containers(d);
    assert.ok(all.length >= 2, 'the allowed creates ran');
    for (const c of all) {
      assert.notEqual(c.HostConfig.Privileged, true, c.Id);
      for (const b of c.HostConfig.Binds ?? []) assert.doesNotMatch(b, /^\/etc/, c.Id);
    }
  });
});

test('a body over max-request-body is 413 before any plugin is asked', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const defer = deferStack(t);
  const plugin = await startTestPlugin(uniquePluginName('limit'), { denyPrivileged: true });
  defer(() => plugin.close());
  const cfgDir = mkdtempSync('/tmp/mt-azcfg-');
  defer(() => rmSync(cfgDir, { recursive: true, force: true }));
  writeFileSync(join(cfgDir, 'daemon.json'), JSON.stringify({ 'max-request-body': 1048576 }));
  const d = await startDaemon({ args: ['--config-file', join(cfgDir, 'daemon.json'), '--authorization-plugin', plugin.name] });
  defer(() => d.cleanup());
  const padded = JSON.stringify({ Image: 'busybox', Labels: { pad: 'x'.repeat(1_100_000) }, HostConfig: { Privileged: true } });
  const asked = plugin.requests('/containers/create').length;
  const a = await post(d, '/containers/create', padded);
  assert.equal(a.status, 413, a.raw.slice(0, 300));
  assert.equal(message(a), 'Request body too large for authorization: size exceeds 1048576 bytes');
  const b = await rawPost(d.socket, '/containers/create', chunked(padded, 65536), { ...JSON_CT, 'Transfer-Encoding': 'chunked' });
  assert.equal(b.status, 413, b.raw.slice(0, 300));
  assert.equal(plugin.requests('/containers/create').length, asked, 'no plugin was asked');
  // Hijacked endpoints too: a declared body over the limit on an upgrade request.
  const up = await rawRequest(d.socket, `POST /exec/abc/start HTTP/1.1\r\nHost: m\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n{}`, 10_000);
  assert.equal(up.status, 413, up.raw);
  assert.equal((await d.api('GET', '/containers/json?all=1')).json<unknown[]>().length, 0);
});
