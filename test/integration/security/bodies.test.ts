// Issue 11 finding 6: request bodies are read whole before authorization, so their bytes
// are bounded across connections and per caller (503 over the budget), slow bodies time
// out (408), and labels are limited at create so one user's containers cannot make every
// `docker ps` too big for the authorization response buffer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { docker, dockerOk, sleep } from '../compat/cli.js';

function rssMiB(pid: number): { rss: number; peak: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

interface Upload {
  conn: net.Socket;
  reply: Promise<string>;
}

/** POST /containers/create declaring `length` bytes, send `sent` of them (default all but one), never finish. */
function unfinishedUpload(d: TestDaemon, length: number, body: Buffer, sent = length - 1): Upload {
  const conn = net.connect(d.socket);
  let text = '';
  const reply = new Promise<string>((resolve) => {
    conn.on('data', (c: Buffer) => (text += c.toString('latin1')));
    conn.on('close', () => resolve(text));
    conn.on('error', () => resolve(text));
  });
  conn.write(`POST /v1.47/containers/create HTTP/1.1\r\nHost: moat\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`);
  conn.write(body.subarray(0, sent));
  return { conn, reply };
}

async function ping(d: TestDaemon): Promise<number> {
  const t0 = Date.now();
  const r = await d.api('GET', '/_ping');
  assert.equal(r.status, 200);
  return Date.now() - t0;
}

test('issue 11.6: 100 unfinished 15 MiB uploads leave moatd under +200 MB and _ping answering', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const d = await startDaemon();
  const uploads: Upload[] = [];
  t.after(async () => {
    for (const u of uploads) u.conn.destroy();
    await d.cleanup();
  });
  const base = rssMiB(d.pid());
  const size = 15 * 1024 * 1024;
  const body = Buffer.alloc(size, 0x20);
  for (let i = 0; i < 100; i++) uploads.push(unfinishedUpload(d, size, body));
  const pings: number[] = [];
  let peak = base.rss;
  // The refused uploads are answered once their bytes stopped coming (bounded wait, 10 s).
  const deadline = Date.now() + 25_000;
  let answered = 0;
  for (const u of uploads) void u.reply.then(() => answered++);
  while (Date.now() < deadline && answered < 98) {
    pings.push(await ping(d));
    peak = Math.max(peak, rssMiB(d.pid()).rss);
    await sleep(250);
  }
  const after = rssMiB(d.pid());
  peak = Math.max(peak, after.peak);
  t.diagnostic(`moatd RSS ${base.rss.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB; _ping max ${Math.max(...pings)} ms over ${pings.length} pings; ${answered} uploads answered`);
  assert.ok(peak - base.rss < 200, `moatd grew by ${(peak - base.rss).toFixed(0)} MiB`);
  assert.ok(Math.max(...pings) < 1000, `_ping took up to ${Math.max(...pings)} ms`);
  const replies = await Promise.all(uploads.map((u) => Promise.race([u.reply, sleep(1000).then(() => '(no answer yet)')])));
  const refused = replies.filter((r) => /^HTTP\/1\.1 503 /.test(r) && /request bodies in flight already; try again/.test(r));
  // Two fit the caller's budget (32 MiB): they wait for their bytes until the body timeout.
  assert.equal(refused.length, 98, `uploads refused with 503: ${refused.length}; others: ${JSON.stringify(replies.filter((r) => !refused.includes(r)).map((r) => r.slice(0, 60)))}`);
  for (const u of uploads) u.conn.destroy();
  // The budget is given back: a normal create works again.
  await sleep(200);
  const ok = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'] });
  assert.equal(ok.status, 201, ok.body.toString());
});

test('issue 11.6: a body that does not arrive in time is 408 and holds nothing', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const cfgDir = await import('node:fs').then((fs) => fs.mkdtempSync('/tmp/mt-body-'));
  t.after(() => import('node:fs').then((fs) => fs.rmSync(cfgDir, { recursive: true, force: true })));
  writeFileSync(join(cfgDir, 'daemon.json'), JSON.stringify({ 'request-body-timeout': 1500 }));
  const d = await startDaemon({ args: ['--config-file', join(cfgDir, 'daemon.json')] });
  t.after(() => d.cleanup());
  const t0 = Date.now();
  const slow = unfinishedUpload(d, 1000, Buffer.alloc(1000, 0x20), 10);
  // A slowloris: one more byte now and then, never the whole body.
  const drip = setInterval(() => slow.conn.write(' '), 300);
  const reply = await slow.reply;
  clearInterval(drip);
  const ms = Date.now() - t0;
  assert.match(reply, /^HTTP\/1\.1 408 /);
  assert.match(reply, /Cannot read request body: not complete after 1500 ms/);
  assert.ok(ms >= 1400 && ms < 5000, `answered after ${ms} ms`);
  assert.equal((await d.api('GET', '/_ping')).status, 200);
  // The passing case: a body that arrives in time.
  const ok = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'] });
  assert.equal(ok.status, 201, ok.body.toString());
});

test('issue 11.6: labels over the limits are a 400 naming the field, at container and volume create', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const big = await docker(d, ['run', '--label', `huge=${'x'.repeat(5000)}`, 'busybox', 'true']);
  assert.equal(big.code, 125);
  assert.match(big.stderr, /Config\.Labels: label "huge": key and value length \(5004 bytes\) greater than maximum size \(4096 bytes\)/);
  const many = Array.from({ length: 5 }, (_v, i) => ['--label', `k${i}=${'y'.repeat(4000)}`]).flat();
  const total = await docker(d, ['create', ...many, 'busybox', 'true']);
  assert.notEqual(total.code, 0);
  assert.match(total.stderr, /Config\.Labels: labels total 20010 bytes, more than the maximum of 16384 bytes per object/);
  const vol = await d.api('POST', '/volumes/create', { Name: 'v1', Labels: { huge: 'z'.repeat(5000) } });
  assert.equal(vol.status, 400);
  assert.match(vol.json<{ message: string }>().message, /^Labels: label "huge"/);
  const ann = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { Annotations: { a: 'q'.repeat(5000) } } });
  assert.equal(ann.status, 400);
  assert.match(ann.json<{ message: string }>().message, /^HostConfig\.Annotations: label "a"/);
  assert.equal((await dockerOk(d, ['ps', '-aq'])).trim(), '', 'nothing was created');
  // Labels within the limits work, and docker ps shows them.
  await dockerOk(d, ['create', '--name', 'labelled', '--label', `ok=${'x'.repeat(4000)}`, 'busybox', 'true']);
  assert.equal((await dockerOk(d, ['ps', '-a', '--format', '{{.Names}}'])).trim(), 'labelled');
});
