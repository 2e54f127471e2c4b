import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { mkdtemp, rm, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineError } from '../base/index.js';
import { discoverPlugin, parsePluginAddress } from './discovery.js';
import { PluginClient } from './plugin-client.js';

async function tempDirs(t: TestContext): Promise<{ root: string; run: string; etc: string; lib: string; listen(path: string): Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'moat-discovery-'));
  const servers: net.Server[] = [];
  t.after(async () => {
    for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
    await rm(root, { recursive: true, force: true });
  });
  const [run, etc, lib] = [join(root, 'run'), join(root, 'etc'), join(root, 'lib')];
  for (const d of [run, etc, lib]) await mkdir(d);
  return {
    root, run, etc, lib,
    async listen(path) {
      const s = net.createServer((c) => c.end());
      servers.push(s);
      await new Promise<void>((r) => s.listen(path, r));
    },
  };
}

async function expectErr(p: Promise<unknown>, kind: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof EngineError && e.kind === kind && re.test(e.message));
}

test('sockets: NAME.sock and NAME/NAME.sock; a regular file is not a socket', async (t) => {
  const d = await tempDirs(t);
  const opts = { socketDirs: [d.run], specDirs: [d.etc, d.lib] };
  await d.listen(join(d.run, 'a.sock'));
  await mkdir(join(d.run, 'b'));
  await d.listen(join(d.run, 'b', 'b.sock'));
  await writeFile(join(d.run, 'c.sock'), 'not a socket');
  assert.deepEqual((await discoverPlugin('a', opts)).address, { kind: 'unix', path: join(d.run, 'a.sock') });
  assert.deepEqual((await discoverPlugin('b', opts)).address, { kind: 'unix', path: join(d.run, 'b', 'b.sock') });
  await expectErr(discoverPlugin('c', opts), 'not-found', /^plugin "c" not found$/);
});

test('spec files: .spec then .json, /etc before /usr/lib, sockets first', async (t) => {
  const d = await tempDirs(t);
  const opts = { socketDirs: [d.run], specDirs: [d.etc, d.lib] };
  await writeFile(join(d.etc, 'u.spec'), '  unix:///run/x/u.sock\n');
  await writeFile(join(d.lib, 'u.spec'), 'unix:///lib/wins/never.sock');
  await writeFile(join(d.lib, 't.spec'), 'tcp://127.0.0.1:9999');
  await mkdir(join(d.etc, 'n'));
  await writeFile(join(d.etc, 'n', 'n.spec'), 'unix:///nested.sock');
  await writeFile(join(d.etc, 'j.json'), JSON.stringify({ Name: 'ignored', Addr: 'https://plugins.example:8443', TLSConfig: { InsecureSkipVerify: false, CAFile: '/ca.pem', CertFile: '/c.pem', KeyFile: '/k.pem' } }));
  await writeFile(join(d.etc, 'p.json'), JSON.stringify({ Addr: 'tcp://10.0.0.1:80' }));
  await writeFile(join(d.etc, 's.spec'), 'unix:///from-spec.sock');
  await d.listen(join(d.run, 's.sock'));
  const u = await discoverPlugin('u', opts);
  assert.deepEqual(u, { name: 'u', address: { kind: 'unix', path: '/run/x/u.sock' }, source: join(d.etc, 'u.spec') });
  assert.deepEqual((await discoverPlugin('t', opts)).address, { kind: 'tcp', host: '127.0.0.1', port: 9999, https: false, tls: undefined });
  assert.deepEqual((await discoverPlugin('n', opts)).address, { kind: 'unix', path: '/nested.sock' });
  assert.deepEqual((await discoverPlugin('j', opts)).address, { kind: 'tcp', host: 'plugins.example', port: 8443, https: true, tls: { insecureSkipVerify: false, caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem' } });
  assert.deepEqual((await discoverPlugin('p', opts)).address, { kind: 'tcp', host: '10.0.0.1', port: 80, https: false, tls: undefined });
  assert.equal((await discoverPlugin('s', opts)).address.kind, 'unix');
  assert.equal((await discoverPlugin('s', opts)).source, join(d.run, 's.sock'));
});

test('bad names, bad specs and missing plugins are clear errors', async (t) => {
  const d = await tempDirs(t);
  const opts = { socketDirs: [d.run], specDirs: [d.etc] };
  await writeFile(join(d.etc, 'noscheme.spec'), '/run/plugin.sock');
  await writeFile(join(d.etc, 'ftp.spec'), 'ftp://host/x');
  await writeFile(join(d.etc, 'badjson.json'), '{"Addr":');
  await writeFile(join(d.etc, 'noaddr.json'), '{"Name":"x"}');
  await expectErr(discoverPlugin('../etc/passwd', opts), 'invalid', /Invalid plugin name/);
  await expectErr(discoverPlugin('a/b', opts), 'invalid', /Invalid plugin name/);
  await expectErr(discoverPlugin('noscheme', opts), 'invalid', /noscheme.spec: Unknown protocol/);
  await expectErr(discoverPlugin('ftp', opts), 'invalid', /Unknown protocol "ftp"/);
  await expectErr(discoverPlugin('badjson', opts), 'invalid', /invalid JSON/);
  await expectErr(discoverPlugin('noaddr', opts), 'invalid', /Addr: Required/);
  await expectErr(discoverPlugin('nosuchplugin', opts), 'not-found', /^plugin "nosuchplugin" not found$/);
});

test('parsePluginAddress: TLSConfig turns on TLS even for tcp://', () => {
  assert.deepEqual(parsePluginAddress('tcp://[::1]:7000', { insecureSkipVerify: true }, 'x'), { kind: 'tcp', host: '::1', port: 7000, https: true, tls: { insecureSkipVerify: true } });
});

test('plugin client over TCP found through a .spec file', async (t) => {
  const d = await tempDirs(t);
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method ?? ''} ${req.url ?? ''} ${req.headers.accept ?? ''}`);
    req.resume();
    req.on('end', () => res.end(req.url === '/Plugin.Activate' ? '{"Implements":["authz"]}' : '{"Allow":true}'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  const port = (server.address() as net.AddressInfo).port;
  await writeFile(join(d.etc, 'tcpplug.spec'), `tcp://127.0.0.1:${port}`);
  const client = new PluginClient(await discoverPlugin('tcpplug', { socketDirs: [d.run], specDirs: [d.etc] }), { timeoutMs: 2000 });
  assert.deepEqual(await client.activate(), ['authz']);
  assert.deepEqual(await client.authZReq({ RequestMethod: 'GET', RequestUri: '/_ping' }), { Allow: true });
  assert.deepEqual(seen, ['POST /Plugin.Activate application/vnd.docker.plugins.v1.2+json', 'POST /AuthZPlugin.AuthZReq application/vnd.docker.plugins.v1.2+json']);
});
