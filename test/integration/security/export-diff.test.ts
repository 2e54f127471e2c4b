// Issue 11, finding 3: `docker export` and `docker diff` walk a running container's tree from
// the host. Inside, a loop swaps a directory and a symlink to a host directory with
// RENAME_EXCHANGE; no export may contain the host file, no diff may list the host directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { deferStack } from '../../helpers/authz-plugin/index.js';
import { create, waitLog } from '../../helpers/containers.js';
import { placeRace } from '../../helpers/race/index.js';

const ITERATIONS = 200;
const BUDGET_MS = 20_000;

/** GET a body, keeping what arrived even when the server aborts the stream. */
function getAll(socket: string, path: string): Promise<{ status: number; body: Buffer; aborted: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, path, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      let aborted = false;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('aborted', () => (aborted = true));
      res.on('error', () => (aborted = true));
      res.on('close', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), aborted: aborted || !res.complete }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('export and diff of a container swapping a directory for a host symlink', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'gcc')) return;
  const defer = deferStack(t);
  const tmp = mkdtempSync('/tmp/mt-sec-exp-');
  defer(() => rmSync(tmp, { recursive: true, force: true }));
  const race = placeRace(tmp);
  const hostDir = join(tmp, 'host');
  mkdirSync(hostDir);
  const secret = `host-secret-${randomBytes(8).toString('hex')}`;
  const hostOnly = `only-on-host-${randomBytes(6).toString('hex')}`;
  // Same name as the container's file (content leak) plus a name only the host has (listing leak).
  writeFileSync(join(hostDir, 'NAME'), `${secret}\n`);
  writeFileSync(join(hostDir, hostOnly), `${secret}\n`);
  const d = await startDaemon();
  defer(() => d.cleanup());
  const id = await create(d, {
    Cmd: ['sh', '-c', `mkdir -p /x/d && echo harmless > /x/d/NAME && ln -s ${hostDir} /x/l && exec /race exchange 60 /x/d /x/l`],
    HostConfig: { Binds: [`${race}:/race:ro`] },
  });
  assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
  await waitLog(d, id, 'ready');

  await t.test(`up to ${ITERATIONS} exports never contain the host file`, async () => {
    const end = Date.now() + BUDGET_MS;
    let runs = 0;
    let sawContainerFile = 0;
    let aborted = 0;
    for (; runs < ITERATIONS && Date.now() < end; runs++) {
      const r = await getAll(d.socket, `/containers/${id}/export`);
      assert.equal(r.status, 200, r.body.toString().slice(0, 200));
      if (r.aborted) aborted++;
      const text = r.body.toString('latin1');
      assert.ok(!text.includes(secret), `export ${runs + 1} contains the host file's content`);
      assert.ok(!text.includes(hostOnly), `export ${runs + 1} lists the host directory`);
      if (text.includes('harmless')) sawContainerFile++;
    }
    t.diagnostic(`${runs} exports (${aborted} cut short), ${sawContainerFile} with the container's own file, none with the host's`);
    assert.ok(runs >= 10, 'enough exports ran');
    assert.equal(aborted, 0, 'a tree changing under the walk does not cut the export short');
  });

  await t.test(`up to ${ITERATIONS} diffs never list the host directory`, async () => {
    const end = Date.now() + BUDGET_MS / 2;
    let runs = 0;
    for (; runs < ITERATIONS && Date.now() < end; runs++) {
      const r = await d.api('GET', `/containers/${id}/changes`);
      assert.equal(r.status, 200, r.body.toString().slice(0, 200));
      const paths = r.json<Array<{ Path: string }>>().map((c) => c.Path);
      assert.ok(!paths.some((p) => p.includes(hostOnly)), `diff ${runs + 1} lists the host directory: ${paths.filter((p) => p.startsWith('/x')).join(' ')}`);
      assert.ok(paths.includes('/x'), 'the container\'s own change is listed');
    }
    t.diagnostic(`${runs} diffs, none listing the host directory`);
  });
});
