import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type net from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discoverPlugin } from './discovery.js';
import { PluginClient } from './plugin-client.js';

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore', timeout: 20_000 });
}

test('plugin over https with a .json TLSConfig: CA verified, client certificate sent', async (t) => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    t.skip('requires openssl');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'moat-authz-tls-'));
  let server: https.Server | undefined;
  t.after(async () => {
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((r) => server!.close(() => r()));
    }
    await rm(dir, { recursive: true, force: true });
  });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=moat test CA']);
  await writeFile(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const who of ['server', 'client']) {
    openssl(dir, ['req', ...ec, '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who === 'server' ? '127.0.0.1' : 'moatd'}`]);
    openssl(dir, ['x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.pem`, '-days', '1', ...(who === 'server' ? ['-extfile', 'san.ext'] : [])]);
  }
  const clientCNs: string[] = [];
  server = https.createServer(
    { key: await readFile(join(dir, 'server.key')), cert: await readFile(join(dir, 'server.pem')), ca: await readFile(join(dir, 'ca.pem')), requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
      clientCNs.push(String(peer.subject?.CN));
      req.resume();
      req.on('end', () => res.end(req.url === '/Plugin.Activate' ? '{"Implements":["authz"]}' : '{"Allow":false,"Msg":"over tls"}'));
    },
  );
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const spec = (tls: Record<string, unknown>) => JSON.stringify({ Name: 'x', Addr: `https://127.0.0.1:${port}`, TLSConfig: tls });
  await writeFile(join(dir, 'good.json'), spec({ CAFile: join(dir, 'ca.pem'), CertFile: join(dir, 'client.pem'), KeyFile: join(dir, 'client.key') }));
  await writeFile(join(dir, 'nocert.json'), spec({ CAFile: join(dir, 'ca.pem') }));
  await writeFile(join(dir, 'noca.json'), spec({ CertFile: join(dir, 'client.pem'), KeyFile: join(dir, 'client.key') }));
  const find = (name: string) => discoverPlugin(name, { socketDirs: [], specDirs: [dir] });

  const good = new PluginClient(await find('good'), { timeoutMs: 3000 });
  assert.deepEqual(await good.activate(), ['authz']);
  assert.deepEqual(await good.authZReq({ RequestMethod: 'GET', RequestUri: '/_ping' }), { Allow: false, Msg: 'over tls' });
  assert.deepEqual(clientCNs, ['moatd', 'moatd']);
  // the server requires a client certificate
  await assert.rejects(new PluginClient(await find('nocert'), { timeoutMs: 3000 }).activate(), /^Error: Post "https:\/\/127\.0\.0\.1:\d+\/Plugin\.Activate": /);
  // no CAFile: verified against the system roots (Docker would skip verification)
  await assert.rejects(new PluginClient(await find('noca'), { timeoutMs: 3000 }).activate(), /self.signed|unable to verify|certificate/i);
});
