// POST /containers/{id}/wait conditions as the Docker API defines them (engine-api.md §5.2),
// and --rm (AutoRemove) containers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { collect, create, inspect, listAll, run, streamRequest, waitFor, waitLog, within } from '../../helpers/containers.js';

interface Waiting {
  /** The parsed result, or undefined if the wait has not returned within `ms`. */
  result(ms: number): Promise<{ StatusCode: number; Error: unknown } | undefined>;
  abort(): void;
}

/** Start a wait; asserts that the 200 headers arrive before the condition is met. */
async function startWait(d: TestDaemon, id: string, condition?: string): Promise<Waiting> {
  const res = await streamRequest(d, 'POST', `/containers/${id}/wait${condition ? `?condition=${condition}` : ''}`, undefined, 5000);
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = collect(res);
  body.catch(() => undefined); // abort() ends it with ECONNRESET
  return {
    async result(ms) {
      const b = await within(body, ms);
      return b === undefined ? undefined : (JSON.parse(b.toString('utf8')) as { StatusCode: number; Error: unknown });
    },
    abort: () => res.abort(),
  };
}

// The pause before the exit lets the exec that created /tmp/go end first: the container's
// exit kills what is left in its pid namespace, and that exec would report 137.
const HOLD = 'echo ready; while [ ! -e /tmp/go ]; do sleep 0.05; done; sleep 0.2; exit ';

async function release(d: TestDaemon, id: string): Promise<void> {
  const r = await d.moat(['exec', id, 'touch', '/tmp/go']);
  assert.equal(r.code, 0, r.stderr);
}

test('wait conditions and auto-remove', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());

  await t.test('not-running: at once for created (0) and exited (its code) containers; waits for a running one', async () => {
    const created = await create(d, { Cmd: ['true'] });
    for (const cond of [undefined, 'not-running']) {
      const w = await startWait(d, created, cond);
      assert.deepEqual(await w.result(2000), { StatusCode: 0, Error: null });
    }
    const id = await run(d, ['sh', '-c', `${HOLD}8`]);
    await waitLog(d, id, 'ready');
    const w = await startWait(d, id, 'not-running');
    const w2 = await startWait(d, id);
    assert.equal(await w.result(300), undefined, 'not-running returned while running');
    await release(d, id);
    assert.deepEqual(await w.result(10_000), { StatusCode: 8, Error: null });
    assert.deepEqual(await w2.result(10_000), { StatusCode: 8, Error: null });
    const again = await startWait(d, id, 'not-running');
    assert.deepEqual(await again.result(2000), { StatusCode: 8, Error: null }, 'already exited: at once with its code');
    const cli = await d.moat(['wait', id]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stdout, '8\n');
  });

  await t.test('next-exit: never satisfied already; waits for the next run to end', async () => {
    const id = await run(d, ['sh', '-c', 'if [ -e /tmp/second ]; then exit 22; fi; touch /tmp/second; exit 11']);
    assert.deepEqual(await (await startWait(d, id)).result(10_000), { StatusCode: 11, Error: null });
    const w = await startWait(d, id, 'next-exit');
    assert.equal(await w.result(400), undefined, 'next-exit returned for an exit that already happened');
    assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
    assert.deepEqual(await w.result(10_000), { StatusCode: 22, Error: null });
    // On a running container: its exit.
    const r = await run(d, ['sh', '-c', `${HOLD}3`]);
    await waitLog(d, r, 'ready');
    const w2 = await startWait(d, r, 'next-exit');
    assert.equal(await w2.result(300), undefined);
    await release(d, r);
    assert.deepEqual(await w2.result(10_000), { StatusCode: 3, Error: null });
    // Killed: 128 + 9.
    const k = await run(d, ['sleep', '100']);
    const w3 = await startWait(d, k, 'next-exit');
    assert.equal((await d.api('POST', `/containers/${k}/kill`)).status, 204);
    assert.deepEqual(await w3.result(10_000), { StatusCode: 137, Error: null });
  });

  await t.test('removed: waits past the exit until the container is removed, with the last exit code', async () => {
    const id = await run(d, ['sh', '-c', `${HOLD}5`]);
    await waitLog(d, id, 'ready');
    const w = await startWait(d, id, 'removed');
    await release(d, id);
    await waitFor('exit', async () => (await inspect(d, id)).State.Status === 'exited');
    assert.equal(await w.result(300), undefined, 'removed returned at exit');
    assert.equal((await d.api('DELETE', `/containers/${id}`)).status, 204);
    assert.deepEqual(await w.result(5000), { StatusCode: 5, Error: null });
    // A created container removed without running: 0.
    const c = await create(d, { Cmd: ['true'] });
    const wc = await startWait(d, c, 'removed');
    assert.equal(await wc.result(300), undefined);
    assert.equal((await d.api('DELETE', `/containers/${c}`)).status, 204);
    assert.deepEqual(await wc.result(5000), { StatusCode: 0, Error: null });
    // Already removed: the wait itself is 404.
    const gone = await d.api('POST', `/containers/${c}/wait?condition=removed`);
    assert.equal(gone.status, 404);
  });

  await t.test('concurrent starts and exits: every container gets its own code', async () => {
    const codes = [3, 4, 5, 6, 7, 8, 9, 10];
    const ids = await Promise.all(codes.map(async (c) => create(d, { Cmd: ['sh', '-c', `sleep 0.2; exit ${c}`] })));
    const waits = await Promise.all(ids.map(async (id) => startWait(d, id, 'next-exit')));
    const starts = await Promise.all(ids.map(async (id) => d.api('POST', `/containers/${id}/start`)));
    for (const s of starts) assert.equal(s.status, 204, s.body.toString());
    const results = await Promise.all(waits.map(async (w) => w.result(20_000)));
    assert.deepEqual(results.map((r) => r?.StatusCode), codes);
    for (const [i, id] of ids.entries()) assert.equal((await inspect(d, id)).State.ExitCode, codes[i]);
    const removed = await Promise.all(ids.map(async (id) => d.api('DELETE', `/containers/${id}`)));
    for (const r of removed) assert.equal(r.status, 204);
  });

  await t.test('invalid condition: 400; a client that leaves a wait does not hurt the daemon', async () => {
    const c = await create(d, { Cmd: ['true'] });
    const bad = await d.api('POST', `/containers/${c}/wait?condition=bogus`);
    assert.equal(bad.status, 400);
    assert.equal(bad.json<{ message: string }>().message, 'invalid condition: "bogus"');
    const w = await startWait(d, c, 'next-exit');
    w.abort();
    assert.equal((await d.api('POST', `/containers/${c}/start`)).status, 204);
    assert.deepEqual(await (await startWait(d, c)).result(10_000), { StatusCode: 0, Error: null });
    assert.equal((await d.api('GET', '/_ping')).status, 200);
  });

  await t.test('AutoRemove (--rm): removed after exit, stop or failed start; removed-wait gets the code', async () => {
    const before = (await listAll(d)).length;
    const id = await create(d, { Cmd: ['sh', '-c', 'exit 9'], HostConfig: { AutoRemove: true } });
    const w = await startWait(d, id, 'removed');
    assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
    assert.deepEqual(await w.result(10_000), { StatusCode: 9, Error: null });
    assert.equal((await d.api('GET', `/containers/${id}/json`)).status, 404);

    const s = await create(d, { Cmd: ['sleep', '100'], HostConfig: { AutoRemove: true } });
    const ws = await startWait(d, s, 'removed');
    assert.equal((await d.api('POST', `/containers/${s}/start`)).status, 204);
    assert.equal((await d.api('POST', `/containers/${s}/stop?t=0`)).status, 204);
    assert.deepEqual(await ws.result(10_000), { StatusCode: 137, Error: null });
    assert.equal((await d.api('GET', `/containers/${s}/json`)).status, 404);

    // A start that fails: 127 for the wait, and the container still goes.
    const f = await create(d, { Cmd: ['/no/such/cmd'], HostConfig: { AutoRemove: true } });
    const wf = await startWait(d, f, 'removed');
    const st = await d.api('POST', `/containers/${f}/start`);
    assert.ok(st.status >= 400);
    assert.deepEqual(await wf.result(10_000), { StatusCode: 127, Error: null });
    assert.equal((await d.api('GET', `/containers/${f}/json`)).status, 404);
    const cli = await d.moat(['run', '--rm', '--name', 'rm-missing', 'busybox', '/no/such/cmd']);
    assert.equal(cli.code, 127, cli.stderr);
    await waitFor('rm-missing removed', async () => (await d.api('GET', '/containers/rm-missing/json')).status === 404);

    // `moat run --rm` with output and a code.
    const out = await d.moat(['run', '--rm', '--name', 'rm-out', 'busybox', 'sh', '-c', 'echo bye; exit 2']);
    assert.equal(out.code, 2, out.stderr);
    assert.equal(out.stdout, 'bye\n');
    assert.equal((await d.api('GET', '/containers/rm-out/json')).status, 404);
    assert.equal((await listAll(d)).length, before);
  });
});
