// Issue 7: AuthZ plugins wired into moatd. A real moatd with the test plugin
// (test/helpers/authz-plugin/plugin.mjs) in front: allow and deny, what the plugin sees,
// AuthZRes, chain order, failing closed (plugin stopped, hanging, garbage) and recovering,
// hijacked endpoints authorized before the 101, SIGHUP reload, a missing plugin at startup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dockerCli, requires } from '../../helpers/requires.js';
import { docker } from '../compat/cli.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { deferStack, rawPost, rawRequest, startTestPlugin, uniquePluginName, type TestPlugin } from '../../helpers/authz-plugin/index.js';

const PLAIN = { Image: 'busybox', Cmd: ['true'] };
const PRIVILEGED = { Image: 'busybox', Cmd: ['true'], HostConfig: { Privileged: true } };

async function containerCount(d: TestDaemon): Promise<number> {
  const r = await d.api('GET', '/containers/json?all=1');
  assert.equal(r.status, 200, r.body.toString());
  return r.json<unknown[]>().length;
}

function since(p: TestPlugin, n: number): TestPlugin['calls'] {
  return p.calls.slice(n);
}

test('moatd asks its AuthZ plugins, in order, and fails closed', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const defer = deferStack(t);
  const p1 = await startTestPlugin(uniquePluginName('a'), { denyPrivileged: true });
  defer(() => p1.close());
  const p2 = await startTestPlugin(uniquePluginName('b'));
  defer(() => p2.close());
  const cfgDir = mkdtempSync('/tmp/mt-azcfg-');
  defer(() => rmSync(cfgDir, { recursive: true, force: true }));
  const configFile = join(cfgDir, 'daemon.json');
  // Plugins from daemon.json (not flags), so that SIGHUP can change them below.
  writeFileSync(configFile, JSON.stringify({ 'authorization-plugins': [p1.name, p2.name], 'authorization-timeout': 1500 }));
  const d = await startDaemon({ args: ['--config-file', configFile] });
  defer(() => d.cleanup());

  await t.test('an allowed create: AuthZReq p1 then p2 with the body, handler runs, AuthZRes p1 then p2 with 201', async () => {
    const n1 = p1.calls.length;
    const n2 = p2.calls.length;
    const r = await d.api('POST', '/v1.41/containers/create?name=az-plain', PLAIN);
    assert.equal(r.status, 201, r.body.toString());
    const id = r.json<{ Id: string }>().Id;
    const calls = [...since(p1, n1).map((c) => ({ ...c, p: 'p1' })), ...since(p2, n2).map((c) => ({ ...c, p: 'p2' }))].sort((a, b) => a.seq - b.seq);
    assert.deepEqual(calls.map((c) => `${c.p} ${c.call}`), ['p1 /AuthZPlugin.AuthZReq', 'p2 /AuthZPlugin.AuthZReq', 'p1 /AuthZPlugin.AuthZRes', 'p2 /AuthZPlugin.AuthZRes']);
    const req = calls[0]!;
    assert.equal(req.request.RequestMethod, 'POST');
    assert.equal(req.request.RequestUri, '/v1.41/containers/create?name=az-plain');
    assert.deepEqual(req.body, PLAIN, 'the plugin sees the create body');
    assert.equal(req.request.User, 'root', 'SO_PEERCRED identity of the caller');
    assert.equal(req.request.UserAuthNMethod, 'SO_PEERCRED');
    assert.equal(req.headers.accept, 'application/vnd.docker.plugins.v1.2+json');
    const res = calls[2]!;
    assert.equal(res.request.ResponseStatusCode, 201);
    assert.equal(JSON.parse(Buffer.from(res.request.ResponseBody, 'base64').toString()).Id, id, 'AuthZRes carries the response body');
  });

  await t.test('a denied create: 403 with the plugin message, p2 not asked, no container', async () => {
    const before = await containerCount(d);
    const n2 = p2.calls.length;
    const r = await d.api('POST', '/containers/create', PRIVILEGED);
    assert.equal(r.status, 403);
    assert.equal(r.json<{ message: string }>().message, `authorization denied by plugin ${p1.name}: privileged containers are not allowed`);
    assert.equal(since(p2, n2).filter((c) => c.request?.RequestUri === '/containers/create').length, 0, 'the chain stops at the first deny');
    assert.equal(await containerCount(d), before, 'the handler did not run');
  });

  await t.test('privileged exec create is denied too', async () => {
    const r = await d.api('POST', '/containers/az-plain/exec', { Cmd: ['sh'], Privileged: true });
    assert.equal(r.status, 403);
    assert.match(r.json<{ message: string }>().message, /privileged exec is not allowed/);
  });

  await t.test('AuthZRes deny replaces the response with 403', async () => {
    p2.setMode({ denyResponses: 'not for your eyes' });
    const r = await d.api('GET', '/containers/json?all=1');
    p2.setMode({ denyResponses: undefined });
    assert.equal(r.status, 403);
    assert.equal(r.json<{ message: string }>().message, `authorization denied by plugin ${p2.name}: not for your eyes`);
    assert.doesNotMatch(r.body.toString(), /az-plain/, 'the handler\'s answer is not sent');
  });

  await t.test('plugin stopped: 500 naming the plugin, no container; it works again when the plugin returns', async () => {
    const before = await containerCount(d);
    await p2.close();
    const r = await d.api('POST', '/containers/create', PLAIN);
    assert.equal(r.status, 500);
    assert.match(r.json<{ message: string }>().message, new RegExp(`^plugin ${p2.name} failed with error: `));
    await p2.restart();
    assert.equal(await containerCount(d), before, 'the denied create did not run');
    const ok = await d.api('POST', '/containers/create', PLAIN);
    assert.equal(ok.status, 201, ok.body.toString());
  });

  await t.test('plugin hangs: 500 after the configured timeout (1.5 s), then recovers', async () => {
    p2.setMode({ hang: true });
    const started = Date.now();
    const r = await d.api('POST', '/containers/create', PLAIN);
    const took = Date.now() - started;
    p2.setMode({ hang: false });
    assert.equal(r.status, 500);
    assert.match(r.json<{ message: string }>().message, new RegExp(`^plugin ${p2.name} failed with error: .*no reply within 1500 ms`));
    assert.ok(took >= 1400 && took < 10_000, `denied after ${took} ms`);
    const ok = await d.api('GET', '/_ping');
    assert.equal(ok.status, 200);
  });

  await t.test('plugin answers garbage or an error: 500', async () => {
    p2.setMode({ garbage: true });
    const g = await d.api('GET', '/containers/json');
    p2.setMode({ garbage: false, fail: 'boom' });
    const f = await d.api('GET', '/containers/json');
    p2.setMode({ fail: undefined });
    assert.equal(g.status, 500);
    assert.match(g.json<{ message: string }>().message, new RegExp(`^plugin ${p2.name} failed with error: AuthZPlugin.AuthZReq: invalid JSON`));
    assert.equal(f.status, 500);
    assert.equal(f.json<{ message: string }>().message, `plugin ${p2.name} failed with error: AuthZPlugin.AuthZReq: boom`);
  });

  await t.test('hijacked endpoints are authorized before the 101, with their JSON body', async () => {
    p1.setMode({ denyAll: 'no streams today' });
    try {
      const attach = await rawRequest(d.socket, 'POST /v1.41/containers/az-plain/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: moat\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n', 10_000);
      assert.equal(attach.status, 403, attach.raw);
      assert.deepEqual(attach.statuses, [403], 'no 101 was sent');
      const n = p1.calls.length;
      const body = '{"Detach":false,"Tty":false}';
      const exec = await rawRequest(d.socket, `POST /v1.41/exec/0123abcd/start HTTP/1.1\r\nHost: moat\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`, 10_000);
      assert.equal(exec.status, 403, exec.raw);
      assert.match(exec.body, /no streams today/);
      const seen = since(p1, n).find((c) => c.request?.RequestUri === '/v1.41/exec/0123abcd/start');
      assert.deepEqual(seen?.body, { Detach: false, Tty: false }, 'the plugin saw the exec start body');
    } finally {
      p1.setMode({ denyAll: undefined });
    }
  });

  await t.test('a 1.1 MB padded privileged create is read whole and judged (dockerd 20.10 lets it through)', async () => {
    const n = p1.calls.length;
    const padded = JSON.stringify({ ...PRIVILEGED, Labels: { pad: 'x'.repeat(1_100_000) } });
    const r = await rawPost(d.socket, '/containers/create', padded, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(padded) });
    assert.equal(r.status, 403, r.body);
    assert.equal(since(p1, n).filter((c) => c.call === '/AuthZPlugin.AuthZReq').length, 1);
  });

  await t.test('the docker CLI works through the chain: run with stdin, exec, the calls dockerd makes', { skip: dockerCli() ? false : 'requires the docker CLI 25+' }, async () => {
    const n = p1.calls.length;
    const run = await docker(d, ['run', '--rm', '-i', 'busybox', 'sh', '-c', 'cat; echo done'], { input: 'hello\n' });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'hello\ndone\n');
    const paths = since(p1, n).filter((c) => c.call === '/AuthZPlugin.AuthZReq').map((c) => `${c.request.RequestMethod} ${String(c.request.RequestUri).split('?')[0]!.replace(/[0-9a-f]{64}/, 'ID')}`);
    for (const want of ['HEAD /_ping', 'POST /v1.47/containers/create', 'POST /v1.47/containers/ID/attach', 'POST /v1.47/containers/ID/wait', 'POST /v1.47/containers/ID/start']) {
      assert.ok(paths.includes(want), `${want} in ${paths.join(', ')}`);
    }
    const priv = await docker(d, ['run', '--rm', '--privileged', 'busybox', 'true']);
    assert.equal(priv.code, 125);
    assert.match(priv.stderr, new RegExp(`Error response from daemon: authorization denied by plugin ${p1.name}: privileged containers are not allowed`));
    const c = await docker(d, ['run', '-d', '--name', 'az-exec', 'busybox', 'sleep', '30']);
    assert.equal(c.code, 0, c.stderr);
    const ex = await docker(d, ['exec', '-i', 'az-exec', 'sh', '-c', 'read x; echo got $x'], { input: 'abc\n' });
    assert.equal(ex.code, 0, ex.stderr);
    assert.equal(ex.stdout, 'got abc\n');
    const exPriv = await docker(d, ['exec', '--privileged', 'az-exec', 'true']);
    assert.notEqual(exPriv.code, 0);
    assert.match(exPriv.stderr, /privileged exec is not allowed/);
    await docker(d, ['rm', '-f', 'az-exec']);
  });

  await t.test('SIGHUP reloads authorization-plugins from daemon.json', async () => {
    const info0 = (await d.api('GET', '/info')).json<{ Plugins: { Authorization: string[] } }>();
    assert.deepEqual(info0.Plugins.Authorization, [p1.name, p2.name]);
    writeFileSync(configFile, JSON.stringify({ 'authorization-plugins': [p2.name], 'authorization-timeout': 1500 }));
    process.kill(d.pid(), 'SIGHUP');
    let names: string[] = [];
    for (let i = 0; i < 50; i++) {
      names = (await d.api('GET', '/info')).json<{ Plugins: { Authorization: string[] } }>().Plugins.Authorization;
      if (names.length === 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(names, [p2.name]);
    const r = await d.api('POST', '/containers/create', PRIVILEGED);
    assert.equal(r.status, 201, 'p1 (deny privileged) is out of the chain');
    // A reload that names a missing plugin keeps the running chain.
    writeFileSync(configFile, JSON.stringify({ 'authorization-plugins': [p1.name, 'moat-no-such-plugin'], 'authorization-timeout': 1500 }));
    process.kill(d.pid(), 'SIGHUP');
    await new Promise((r) => setTimeout(r, 500));
    names = (await d.api('GET', '/info')).json<{ Plugins: { Authorization: string[] } }>().Plugins.Authorization;
    assert.deepEqual(names, [p2.name]);
    assert.match(readFileSync(d.logFile, 'utf8'), /reload failed; keeping the running configuration/);
  });

  await t.test('every decision is in <data-root>/audit.log with caller, endpoint and plugin', () => {
    const lines = readFileSync(join(d.dataRoot, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const deny = lines.find((l) => l['decision'] === 'deny' && l['path'] === '/containers/create');
    assert.ok(deny, 'a denied create is audited');
    assert.equal(deny['plugin'], p1.name);
    assert.equal(deny['user'], 'root');
    assert.equal(deny['uid'], 0);
    assert.equal(deny['authMethod'], 'SO_PEERCRED');
    assert.equal(deny['method'], 'POST');
    assert.ok(lines.some((l) => l['decision'] === 'error' && l['plugin'] === p2.name), 'plugin failures are audited');
    assert.ok(lines.some((l) => l['decision'] === 'allow' && l['phase'] === 'response'), 'response decisions are audited');
  });
});

test('moatd refuses to start when a configured plugin is missing', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const name = uniquePluginName('missing');
  await assert.rejects(startDaemon({ args: ['--authorization-plugin', name] }), (err: Error) => {
    assert.match(err.message, /moatd exited during start/);
    assert.match(err.message, new RegExp(`plugin \\\\?"${name}\\\\?" not found`));
    return true;
  });
});
