// Issue 12, finding 1: no client hang-up ends moatd. Every streaming endpoint (export, logs,
// attach, stats, events, exec, wait) is cut by its client mid-stream, many times; the daemon
// must keep its pid, answer, and hold no leftover mount.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { requires } from '../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { safetyNetHits } from './consistency.js';
import { create, mountsContaining, run, sleep, waitExited, waitLog, waitFor } from '../helpers/containers.js';

const ROUNDS = Number(process.env['MOAT_FAULTS_HEAVY'] === '1' ? 60 : 12);

/** GET/POST `path`, then hang up once `bytes` bytes of the body arrived (or after `ms`). */
function hangUp(d: TestDaemon, method: string, path: string, o: { bytes?: number; ms?: number; body?: unknown } = {}): Promise<number> {
  return new Promise((resolve) => {
    const payload = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
    const req = http.request({ socketPath: d.socket, method, path, headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {} }, (res) => {
      let got = 0;
      const cut = (): void => {
        req.destroy();
        resolve(got);
      };
      if (o.ms !== undefined) setTimeout(cut, o.ms);
      res.on('data', (c: Buffer) => {
        got += c.length;
        if (o.bytes !== undefined && got >= o.bytes) cut();
      });
      res.on('end', () => resolve(got));
      res.on('error', () => resolve(got));
    });
    req.on('error', () => resolve(-1));
    req.end(payload);
  });
}

/** A hijacked (Upgrade: tcp) request whose socket is closed after `ms`. */
function hijackAndDrop(d: TestDaemon, path: string, body: unknown, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const payload = Buffer.from(JSON.stringify(body ?? {}));
    const s = net.connect(d.socket, () => {
      s.write(`POST ${path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${payload.length}\r\n\r\n`);
      s.write(payload);
      setTimeout(() => {
        s.destroy();
        resolve();
      }, ms);
    });
    s.on('error', () => resolve());
  });
}

async function assertAlive(d: TestDaemon, pid: number): Promise<void> {
  const r = await d.api('GET', '/_ping').catch((err: unknown) => ({ status: 0, err }));
  assert.equal(r.status, 200, `moatd answers after the hang-ups; its log ends:\n${readFileSync(d.logFile, 'utf8').slice(-2000)}`);
  assert.equal(d.pid(), pid);
}

test('client hang-ups on every stream leave moatd running (issue 12, finding 1)', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const pid = d.pid();
  // A stopped container with a few MB of content: export mounts its rootfs per request.
  const big = await run(d, ['sh', '-c', 'dd if=/dev/urandom of=/big bs=1M count=3 2>/dev/null; echo made']);
  await waitExited(d, big);
  const talker = await run(d, ['sh', '-c', 'echo ready; while :; do echo tick; sleep 0.02; done'], { OpenStdin: true });
  await waitLog(d, talker, 'ready');

  await t.test('export cut after 1000 bytes (docker export C | head -c 1000)', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const got = await hangUp(d, 'GET', `/containers/${big}/export`, { bytes: 1000 });
      assert.ok(got >= 1000, `round ${i}: the export had started (${got} bytes)`);
    }
    // A running container's export too (its rootfs is already mounted).
    for (let i = 0; i < 3; i++) await hangUp(d, 'GET', `/containers/${talker}/export`, { bytes: 1000 });
    await assertAlive(d, pid);
    // The per-request rootfs mount of the stopped container is gone once every export ended.
    await waitFor('export mounts to go', () => mountsContaining(`${big}/rootfs`).length === 0, 10_000);
    const full = await d.api('GET', `/containers/${big}/export`);
    assert.equal(full.status, 200);
    assert.ok(full.body.length > 3 * 1024 * 1024, 'a whole export still works afterwards');
  });

  await t.test('logs -f, stats, events, wait and changes cut mid-stream', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      await hangUp(d, 'GET', `/containers/${talker}/logs?stdout=1&stderr=1&follow=1`, { bytes: 200 });
      await hangUp(d, 'GET', `/containers/${talker}/stats`, { ms: 30 + (i % 5) * 40 });
      await hangUp(d, 'GET', '/events', { ms: 20 });
      await hangUp(d, 'POST', `/containers/${talker}/wait`, { ms: 20 });
      await hangUp(d, 'GET', `/containers/${big}/changes`, { ms: i % 3 });
    }
    await assertAlive(d, pid);
  });

  await t.test('attach and exec, plain and hijacked, dropped while output flows', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      await hangUp(d, 'POST', `/containers/${talker}/attach?stream=1&stdout=1&stderr=1&stdin=1`, { bytes: 100 });
      await hijackAndDrop(d, `/containers/${talker}/attach?stream=1&stdout=1&stdin=1`, undefined, 30);
      const e = await d.api('POST', `/containers/${talker}/exec`, { Cmd: ['seq', '1', '100000'], AttachStdout: true, AttachStderr: true });
      assert.equal(e.status, 201, e.body.toString());
      const execId = e.json<{ Id: string }>().Id;
      if (i % 2 === 0) await hangUp(d, 'POST', `/exec/${execId}/start`, { bytes: 500, body: { Detach: false, Tty: false } });
      else await hijackAndDrop(d, `/exec/${execId}/start`, { Detach: false, Tty: false }, 40);
    }
    await assertAlive(d, pid);
    // The container still serves a new attach afterwards.
    const r = await hangUp(d, 'GET', `/containers/${talker}/logs?stdout=1&follow=1`, { bytes: 50 });
    assert.ok(r >= 50);
  });

  await t.test('a hang-up is not logged as a failed request', () => {
    const failed = readFileSync(d.logFile, 'utf8').split('\n').filter((l) => l.includes('"request failed"'));
    assert.deepEqual(failed, []);
    assert.deepEqual(safetyNetHits(d), [], 'nothing reached the safety net');
  });

  await t.test('a created container: export and attach cut before start', async () => {
    const c = await create(d, { Cmd: ['true'] });
    for (let i = 0; i < 3; i++) {
      await hangUp(d, 'GET', `/containers/${c}/export`, { bytes: 1 });
      await hijackAndDrop(d, `/containers/${c}/attach?stream=1&stdout=1`, undefined, 10);
    }
    await sleep(100);
    await assertAlive(d, pid);
  });
});
