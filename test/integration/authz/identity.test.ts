// Issue 7: who is asking. On the unix socket moatd reads the caller's credentials from the
// kernel (SO_PEERCRED): a request made as uid 65534 reaches plugins and the policy as
// "nobody". On TCP it requires mutual TLS and the client certificate's CN becomes the User
// (UserAuthNMethod TLS); plain TCP is refused at startup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { deferStack, startTestPlugin, uniquePluginName } from '../../helpers/authz-plugin/index.js';

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
}

/** A CA, a server certificate for 127.0.0.1, client certificates for alice (and from a rogue CA). */
function makeCerts(dir: string): void {
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const ca of ['ca', 'rogue']) {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${ca}-key.pem`, '-out', `${ca}.pem`, '-days', '2', '-subj', `/CN=moat test ${ca}`], dir);
  }
  const leaf = (name: string, cn: string, ca: string, ext: string): void => {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}-key.pem`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', ext], dir);
  };
  leaf('server', 'localhost', 'ca', 'server.ext');
  leaf('alice', 'alice', 'ca', 'client.ext');
  leaf('mallory', 'root', 'rogue', 'client.ext');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function tlsRequest(port: number, dir: string, client: string | undefined, method: string, path: string, body?: object): Promise<{ status: number; json: { message?: string } & Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        ca: readFileSync(join(dir, 'ca.pem')),
        ...(client ? { cert: readFileSync(join(dir, `${client}.pem`)), key: readFileSync(join(dir, `${client}-key.pem`)) } : {}),
        headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {},
        timeout: 10_000,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json = {};
          try {
            json = JSON.parse(text) as object;
          } catch {
            json = { text };
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(payload);
  });
}

const POLICY = {
  version: 1,
  default: 'deny',
  rules: [
    { id: 'nobody-ping', action: 'allow', users: ['nobody'], endpoints: ['/_ping'] },
    { id: 'nobody-rest', action: 'deny', users: ['nobody'], message: 'nobody may only ping' },
    { id: 'alice-no-create', action: 'deny', users: ['alice'], methods: ['POST'], endpoints: ['/containers/create'], message: 'alice may not create containers' },
    { id: 'identified', action: 'allow', users: ['*'] },
  ],
};

test('moatd refuses plain TCP without --tlsverify', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const port = await freePort();
  await assert.rejects(startDaemon({ args: ['-H', `tcp://127.0.0.1:${port}`] }), /refusing to listen on tcp:\/\/127\.0\.0\.1:\d+ without --tlsverify/);
});

test('callers are identified: SO_PEERCRED on the unix socket, client certificate CN over mutual TLS', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const defer = deferStack(t);
  const dir = mkdtempSync('/tmp/mt-aztls-');
  defer(() => rmSync(dir, { recursive: true, force: true }));
  makeCerts(dir);
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(POLICY));
  const plugin = await startTestPlugin(uniquePluginName('id'));
  defer(() => plugin.close());
  const port = await freePort();
  // The unix socket's path is only known once the helper made its temp dirs: start, stop,
  // then start again with both listeners (the helper re-reads this array on start()).
  const args: string[] = ['--authorization-policy', join(dir, 'policy.json'), '--authorization-plugin', plugin.name];
  const d = await startDaemon({ args });
  defer(() => d.cleanup());
  await d.stop();
  args.push('-H', d.host, '-H', `tcp://127.0.0.1:${port}`, '--tlsverify', '--tlscacert', join(dir, 'ca.pem'), '--tlscert', join(dir, 'server.pem'), '--tlskey', join(dir, 'server-key.pem'));
  await d.start();

  await t.test('docker info lists the built-in policy first, then the plugin', async () => {
    const info = (await d.api('GET', '/info')).json<{ Plugins: { Authorization: string[] } }>();
    assert.deepEqual(info.Plugins.Authorization, ['moat-policy', plugin.name]);
  });

  await t.test('mutual TLS: alice is the User, with TLS as the method and her certificate', async () => {
    const n = plugin.calls.length;
    const ok = await tlsRequest(port, dir, 'alice', 'GET', '/v1.41/containers/json');
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    const seen = plugin.calls.slice(n).find((c) => c.call === '/AuthZPlugin.AuthZReq');
    assert.ok(seen, 'the plugin was asked');
    assert.equal(seen.request.User, 'alice');
    assert.equal(seen.request.UserAuthNMethod, 'TLS');
    const pem = Buffer.from(seen.request.RequestPeerCertificates[0], 'base64').toString();
    const der = (s: string): string => s.replace(/-----[^-]+-----|\s/g, '');
    assert.equal(der(pem), der(readFileSync(join(dir, 'alice.pem'), 'utf8')));
    const denied = await tlsRequest(port, dir, 'alice', 'POST', '/containers/create', { Image: 'busybox' });
    assert.equal(denied.status, 403);
    assert.equal(denied.json.message, 'authorization denied by plugin moat-policy: alice may not create containers (rule alice-no-create)');
  });

  await t.test('TLS without a client certificate, or with one from another CA, is refused', async () => {
    await assert.rejects(tlsRequest(port, dir, undefined, 'GET', '/_ping'));
    await assert.rejects(tlsRequest(port, dir, 'mallory', 'GET', '/_ping'));
  });

  await t.test('unix socket as uid 65534: the policy and the plugin see "nobody"', async () => {
    // Let uid 65534 reach the socket (the helper's dirs are root-only).
    chmodSync(d.root, 0o711);
    chmodSync(d.execRoot, 0o711);
    chmodSync(d.socket, 0o666);
    const script = `
      const http = require('node:http');
      const get = (path) => new Promise((resolve) => {
        const req = http.request({ socketPath: process.argv[1], path, method: 'GET', timeout: 10000 }, (res) => {
          let body = ''; res.on('data', (c) => (body += c)); res.on('end', () => resolve({ status: res.statusCode, body }));
        });
        req.on('error', (e) => resolve({ status: 0, body: String(e) }));
        req.end();
      });
      (async () => { const out = [await get('/_ping'), await get('/containers/json')]; process.stdout.write(JSON.stringify({ uid: process.getuid(), out })); })();
    `;
    const n = plugin.calls.length;
    const result = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', script, d.socket], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(out);
        else reject(new Error(`child exited ${code}: ${err}`));
      });
    });
    const parsed = JSON.parse(result) as { uid: number; out: Array<{ status: number; body: string }> };
    assert.equal(parsed.uid, 65534);
    assert.equal(parsed.out[0]!.status, 200, parsed.out[0]!.body);
    assert.equal(parsed.out[1]!.status, 403);
    assert.equal((JSON.parse(parsed.out[1]!.body) as { message: string }).message, 'authorization denied by plugin moat-policy: nobody may only ping (rule nobody-rest)');
    const ping = plugin.calls.slice(n).find((c) => c.call === '/AuthZPlugin.AuthZReq' && c.request.RequestUri === '/_ping');
    assert.equal(ping?.request.User, 'nobody');
    assert.equal(ping?.request.UserAuthNMethod, 'SO_PEERCRED');
    // root on the same socket is root
    const n2 = plugin.calls.length;
    assert.equal((await d.api('GET', '/containers/json')).status, 200);
    assert.equal(plugin.calls.slice(n2).find((c) => c.call === '/AuthZPlugin.AuthZReq')?.request.User, 'root');
  });

  await t.test('the audit log names the caller and the policy rule', () => {
    const lines = readFileSync(join(d.dataRoot, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const nobody = lines.find((l) => l['uid'] === 65534 && l['decision'] === 'deny');
    assert.equal(nobody?.['user'], 'nobody');
    assert.equal(nobody?.['rule'], 'nobody-rest');
    assert.equal(nobody?.['plugin'], 'moat-policy');
    assert.equal(nobody?.['path'], '/containers/json');
    const alice = lines.find((l) => l['user'] === 'alice' && l['decision'] === 'deny');
    assert.equal(alice?.['authMethod'], 'TLS');
    assert.equal(alice?.['rule'], 'alice-no-create');
  });
});
