// The body budget, and the server answering 503 / 408 / 413 instead of buffering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../base/index.js';
import { BodyBudget } from './body-budget.js';
import { checkLabelSizes } from '../docker/index.js';
import { Router } from './router.js';
import { createApiServer } from './server.js';
import { sendJson } from './reply.js';

test('BodyBudget bounds bytes in all and per caller, and gives them back', () => {
  const b = new BodyBudget({ total: 100, perCaller: 60 });
  assert.equal(b.reserve('a', 50), 'ok');
  assert.equal(b.reserve('a', 20), 'caller');
  assert.equal(b.reserve('b', 60), 'total');
  assert.equal(b.reserve('b', 50), 'ok');
  assert.equal(b.used, 100);
  b.release('a', 50);
  assert.equal(b.usedBy('a'), 0);
  assert.equal(b.reserve('c', 50), 'ok');
  b.release('c', 500); // never below zero, never another caller's bytes
  assert.equal(b.used, 50);
});

test('checkLabelSizes() refuses a label over 4096 bytes and a total over 16 KiB, naming the field', () => {
  checkLabelSizes({ a: 'x'.repeat(4000) }, 'Config.Labels');
  assert.throws(() => checkLabelSizes({ big: 'x'.repeat(5000) }, 'Config.Labels'), /^Error: Config\.Labels: label "big": key and value length \(5003 bytes\) greater than maximum size \(4096 bytes\)$|Config\.Labels: label "big"/);
  const many = Object.fromEntries(Array.from({ length: 5 }, (_v, i) => [`k${i}`, 'x'.repeat(4000)]));
  assert.throws(() => checkLabelSizes(many, 'HostConfig.Annotations'), /HostConfig\.Annotations: labels total 20010 bytes, more than the maximum of 16384 bytes/);
});

async function serve(t: { after: (fn: () => void) => void }, o: { budget?: BodyBudget; timeoutMs?: number; limit?: number }): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'moat-budget-'));
  const socket = join(dir, 's.sock');
  const router = new Router();
  router.add('POST', '/containers/create', async (ctx) => {
    const body = await ctx.body();
    sendJson(ctx.res!, 201, { size: body.length });
  });
  const server = createApiServer({ router, log: silentLogger(), bodyLimit: o.limit ?? 1 << 20, ...(o.budget ? { bodyBudget: o.budget } : {}), ...(o.timeoutMs ? { bodyTimeoutMs: o.timeoutMs } : {}) });
  await new Promise<void>((r) => server.listen(socket, r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return socket;
}

/** Send a request head and `send` bytes of its body, then wait; resolves with what came back. */
function partial(socket: string, length: number, send: number | string, waitMs: number): Promise<string> {
  return new Promise((resolve) => {
    const conn = net.connect(socket);
    let text = '';
    conn.on('data', (c: Buffer) => (text += c.toString('latin1')));
    conn.on('error', () => undefined);
    const done = (): void => {
      clearTimeout(timer);
      conn.destroy();
      resolve(text);
    };
    const timer = setTimeout(done, waitMs);
    conn.on('close', done);
    conn.write(`POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`);
    conn.write(typeof send === 'string' ? Buffer.from(send) : Buffer.alloc(send, 0x20));
  });
}

test('bodies over the budget are 503, a slow body is 408, a body over the limit 413, and the budget frees itself', async (t) => {
  const budget = new BodyBudget({ total: 3000, perCaller: 2000 });
  const socket = await serve(t, { budget, timeoutMs: 500, limit: 1500 });
  // Holds 1200 bytes until its timeout.
  const slow = partial(socket, 1200, 10, 3000);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(budget.used, 1200);
  const over = await partial(socket, 1000, 1000, 3000);
  assert.match(over, /^HTTP\/1\.1 503 /);
  assert.match(over, /this caller has 2000 bytes of request bodies in flight already; try again/);
  assert.match(over, /Connection: keep-alive/i, 'the refused body was read to its end: the connection goes on');
  const big = await partial(socket, 1600, 1600, 3000);
  assert.match(big, /^HTTP\/1\.1 413 /);
  const timedOut = await slow;
  assert.match(timedOut, /^HTTP\/1\.1 408 /);
  assert.match(timedOut, /Cannot read request body: not complete after 500 ms/);
  assert.match(timedOut, /Connection: close/i, 'the rest of a timed-out body is not awaited');
  assert.equal(budget.used, 0, 'every byte given back');
  const ok = await partial(socket, 2, '{}', 1000);
  assert.match(ok, /^HTTP\/1\.1 201 /, 'the next body is read again');
  assert.match(ok, /\{"size":2\}/);
});
