// The server's authorization path, in-process: handlers run on the canonical request, the
// upgrade body is read before authorization and the stream bytes after it reach the handler,
// buffered responses wait for AuthZRes, streamed ones pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../base/index.js';
import { AuthzChain, type AuthzPlugin, type AuthzReply } from '../authz/index.js';
import { Router, type RequestContext } from './router.js';
import { createApiServer } from './server.js';
import { sendJson } from './reply.js';

interface Seen {
  req: Array<{ uri: string | undefined; body: string | undefined }>;
  res: Array<{ status: number | undefined; body: string | undefined }>;
}

function plugin(seen: Seen, decide: { req?: () => AuthzReply; res?: () => AuthzReply } = {}): AuthzPlugin {
  return {
    name: 'fake',
    authZReq: async (w) => {
      seen.req.push({ uri: w.RequestUri, body: w.RequestBody === undefined ? undefined : Buffer.from(w.RequestBody, 'base64').toString() });
      return decide.req?.() ?? { Allow: true };
    },
    authZRes: async (w) => {
      seen.res.push({ status: w.ResponseStatusCode, body: w.ResponseBody === undefined ? undefined : Buffer.from(w.ResponseBody, 'base64').toString() });
      return decide.res?.() ?? { Allow: true };
    },
  };
}

async function serve(t: { after: (fn: () => void) => void }, router: Router, chain: AuthzChain, bodyLimit = 1 << 20): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'moat-srv-'));
  const socket = join(dir, 's.sock');
  const server = createApiServer({ router, log: silentLogger(), authorizer: chain, bodyLimit });
  await new Promise<void>((r) => server.listen(socket, r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return socket;
}

function raw(socket: string, bytes: string, untilMs = 2000, onData?: (text: string, conn: net.Socket) => void): Promise<string> {
  return new Promise((resolve) => {
    const conn = net.connect(socket);
    let text = '';
    const timer = setTimeout(() => {
      conn.destroy();
      resolve(text);
    }, untilMs);
    conn.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      onData?.(text, conn);
    });
    conn.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    conn.on('error', () => undefined);
    conn.write(bytes);
  });
}

test('handlers get the canonical body, path and query the plugins saw', async (t) => {
  const seen: Seen = { req: [], res: [] };
  const got: Array<{ body: string; query: string; len: string | undefined }> = [];
  const router = new Router();
  router.add('POST', '/containers/create', async (ctx: RequestContext) => {
    got.push({ body: (await ctx.body()).toString(), query: ctx.query.toString(), len: ctx.req.headers['content-length'] });
    sendJson(ctx.res!, 201, { Id: 'x' });
  });
  const socket = await serve(t, router, new AuthzChain([plugin(seen)], { realpath: async (p) => (p === '/tmp/link' ? '/etc' : p) }));
  const body = '{ "Image" : "busybox", "HostConfig": {"Binds": ["/tmp/link/:/x", "//srv/../srv/a:/a"]} }';
  const out = await raw(socket, `POST //v1.41/containers/%63reate?name=a%20b HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
  assert.match(out, /^HTTP\/1\.1 201/);
  const canonical = '{"Image":"busybox","HostConfig":{"Binds":["/etc:/x","/srv/a:/a"]}}';
  assert.deepEqual(seen.req, [{ uri: '/v1.41/containers/create?name=a%20b', body: canonical }]);
  assert.deepEqual(got, [{ body: canonical, query: 'name=a+b', len: String(canonical.length) }]);
  assert.deepEqual(seen.res, [{ status: 201, body: '{"Id":"x"}' }]);
});

test('a denied request never reaches the handler; a denied response is replaced', async (t) => {
  const seen: Seen = { req: [], res: [] };
  let ran = 0;
  let denyReq = true;
  const router = new Router();
  router.add('GET', '/containers/json', async (ctx) => {
    ran++;
    sendJson(ctx.res!, 200, [{ Id: 'secret' }]);
  });
  const socket = await serve(t, router, new AuthzChain([plugin(seen, { req: () => ({ Allow: !denyReq, Msg: 'no' }), res: () => ({ Allow: false, Msg: 'hidden' }) })]));
  const a = await raw(socket, 'GET /containers/json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(a, /^HTTP\/1\.1 403/);
  assert.match(a, /authorization denied by plugin fake: no/);
  assert.equal(ran, 0);
  denyReq = false;
  const b = await raw(socket, 'GET /containers/json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(ran, 1);
  assert.match(b, /^HTTP\/1\.1 403/);
  assert.match(b, /authorization denied by plugin fake: hidden/);
  assert.doesNotMatch(b, /secret/);
});

test('streamed responses pass through and are reported when they end', async (t) => {
  const seen: Seen = { req: [], res: [] };
  const router = new Router();
  router.add('GET', '/events', async (ctx) => {
    const res = ctx.res!;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    res.write('{"a":1}\n');
    setTimeout(() => res.end('{"a":2}\n'), 50);
  });
  const socket = await serve(t, router, new AuthzChain([plugin(seen, { res: () => ({ Allow: false }) })]));
  const out = await raw(socket, 'GET /events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(out, /^HTTP\/1\.1 200/);
  assert.match(out, /\{"a":1\}\n[\s\S]*\{"a":2\}\n/);
  for (let i = 0; i < 20 && seen.res.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(seen.res.length, 1, 'AuthZRes told at the end (not enforced)');
});

test('upgrade requests: the JSON body is authorized before the 101; later bytes reach the stream', async (t) => {
  const seen: Seen = { req: [], res: [] };
  const router = new Router();
  router.add('POST', '/exec/{id}/start', async (ctx) => {
    const body = (await ctx.body()).toString();
    const up = ctx.upgrade!;
    up.socket.write('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    // what hijack.ts does: stream bytes in head after the body, then the socket
    const early = up.head.subarray(Number(ctx.req.headers['content-length'] ?? 0));
    let input = early.toString();
    up.socket.on('data', (c: Buffer) => {
      input += c.toString();
      if (input.includes('\n')) up.socket.end(`body=${body} stdin=${input}`);
    });
  });
  const socket = await serve(t, router, new AuthzChain([plugin(seen)]));
  const body = '{"Detach":false, "Tty":false}';
  const out = await raw(socket, `POST /exec/e1/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}hello\n`);
  assert.deepEqual(seen.req.map((r) => r.body), ['{"Detach":false,"Tty":false}']);
  assert.match(out, /^HTTP\/1\.1 101/);
  assert.match(out, /body=\{"Detach":false,"Tty":false\} stdin=hello\n$/);
});

test('over the body limit: 413 (the rest is drained, the client reads the answer); no plugin is asked', async (t) => {
  const seen: Seen = { req: [], res: [] };
  const router = new Router();
  router.add('POST', '/containers/create', async (ctx) => sendJson(ctx.res!, 201, {}));
  const socket = await serve(t, router, new AuthzChain([plugin(seen)], { maxBody: 100 }), 100);
  const big = JSON.stringify({ Image: 'x'.repeat(200) });
  const byLength = await raw(socket, `POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${big.length}\r\nConnection: close\r\n\r\n${big}`);
  assert.match(byLength, /^HTTP\/1\.1 413/);
  // chunked, then a second request on the same connection: the dropped body did not become one
  const chunk = `${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`;
  const both = await raw(socket, `POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  assert.deepEqual([...both.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1]), ['413', '404']);
  assert.equal(seen.req.length, 0);
});
