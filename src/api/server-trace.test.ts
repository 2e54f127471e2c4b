// `--log-level trace`: one `request` line per API request with its wall time (docs/performance.md,
// phase D); nothing at debug level.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Logger } from '../base/index.js';
import { Router } from './router.js';
import { createApiServer } from './server.js';
import { sendJson } from './reply.js';

async function traced(t: { after: (fn: () => void) => void }, level: 'trace' | 'debug'): Promise<Array<Record<string, unknown>>> {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  const router = new Router();
  router.add('GET', '/_ping', async (ctx) => {
    await new Promise((r) => setTimeout(r, 20));
    sendJson(ctx.res!, 200, 'OK');
  });
  const dir = mkdtempSync(join(tmpdir(), 'moat-trace-'));
  const socket = join(dir, 's.sock');
  const server = createApiServer({ router, log: pino({ level }, sink) as unknown as Logger });
  await new Promise<void>((r) => server.listen(socket, r));
  t.after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const path of ['/v1.41/_ping', '/nowhere']) {
    await new Promise<void>((resolve, reject) => {
      http.get({ socketPath: socket, path, agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject);
    });
  }
  return lines;
}

test('at trace level every request is logged once with its method, url, status and wall time', async (t) => {
  const lines = (await traced(t, 'trace')).filter((l) => l['msg'] === 'request');
  assert.equal(lines.length, 2);
  assert.deepEqual([lines[0]!['method'], lines[0]!['url'], lines[0]!['status']], ['GET', '/v1.41/_ping', 200]);
  assert.ok(typeof lines[0]!['ms'] === 'number' && lines[0]!['ms'] >= 15, `the handler's 20 ms are in ms (${String(lines[0]!['ms'])})`);
  assert.deepEqual([lines[1]!['url'], lines[1]!['status']], ['/nowhere', 404], 'a refused request too');
});

test('at debug level no request line is written', async (t) => {
  const lines = await traced(t, 'debug');
  assert.equal(lines.filter((l) => l['msg'] === 'request').length, 0);
});
