// Issue 11, finding 1: the first mount of a named volume copies the image's content at the
// mount point into the volume. Another container mounting the same volume keeps planting
// `_data/NAME -> <host marker>` and removing it; the copy must never write through it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { deferStack } from '../../helpers/authz-plugin/index.js';
import { create, logs, waitExited, waitLog } from '../../helpers/containers.js';
import { importBusyboxImage, placeRace } from '../../helpers/race/index.js';

const ITERATIONS = 200;
const BUDGET_MS = 30_000;

test('volume copy-up never writes through a symlink planted by another container', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'gcc')) return;
  const defer = deferStack(t);
  const tmp = mkdtempSync('/tmp/mt-sec-vol-');
  defer(() => rmSync(tmp, { recursive: true, force: true }));
  const race = placeRace(tmp);
  const original = `marker-original-${randomBytes(8).toString('hex')}\n`;
  const marker = join(tmp, 'marker');
  writeFileSync(marker, original, { mode: 0o644 });
  const before = statSync(marker);
  const imageContent = `image-content-${randomBytes(8).toString('hex')}\n`;
  const d = await startDaemon();
  defer(() => d.cleanup());
  const image = await importBusyboxImage(d, 'copyup', [
    { name: 'data/', type: 'directory' },
    { name: 'data/NAME', body: imageContent },
  ]);

  const runVictim = async (volume: string): Promise<{ started: boolean; stdout: string }> => {
    const id = await create(d, { Image: image, Cmd: ['/bin/sh', '-c', 'cat /data/NAME 2>/dev/null; true'], HostConfig: { Binds: [`${volume}:/data`] } });
    const s = await d.api('POST', `/containers/${id}/start`);
    let stdout = '';
    if (s.status === 204) {
      await waitExited(d, id);
      stdout = (await logs(d, id)).stdout;
    }
    await d.api('DELETE', `/containers/${id}?force=1`);
    return { started: s.status === 204, stdout };
  };

  await t.test('control: a new volume takes the image content (copy-up works)', async () => {
    const r = await runVictim('vfresh');
    assert.ok(r.started);
    assert.equal(r.stdout, imageContent);
  });

  await t.test(`${ITERATIONS} runs against a symlink/unlink loop on the shared volume`, async () => {
    const attacker = await create(d, {
      Cmd: ['/race', 'flip', '60', marker, '/data/NAME'],
      HostConfig: { Binds: ['vshare:/data', `${race}:/race:ro`] },
    });
    assert.equal((await d.api('POST', `/containers/${attacker}/start`)).status, 204);
    await waitLog(d, attacker, 'ready');
    const end = Date.now() + BUDGET_MS;
    let runs = 0;
    let started = 0;
    for (; runs < ITERATIONS && Date.now() < end; runs++) {
      const r = await runVictim('vshare');
      if (r.started) started++;
      assert.equal(readFileSync(marker, 'utf8'), original, `the host marker was overwritten on run ${runs + 1}`);
      const now = statSync(marker);
      assert.deepEqual([now.mode, now.uid, now.gid, now.mtimeMs], [before.mode, before.uid, before.gid, before.mtimeMs], `the host marker's metadata changed on run ${runs + 1}`);
    }
    const stopped = readFileSync(d.logFile, 'utf8').split('\n').filter((l) => l.includes('volume changed during copy-up')).length;
    t.diagnostic(`${runs} runs, ${started} started, ${stopped} copies met the planted link and stopped, marker untouched`);
    assert.ok(started > 0, 'the victim container started at least once');
    await d.api('DELETE', `/containers/${attacker}?force=1`);
  });
});
