// Issue 11, finding 3's family: moatd reads /etc/passwd and /etc/group of a running
// container's rootfs for every exec, and makes the working directory at start. A container
// swapping its /etc/passwd for a symlink to a host file must never get a user from the host
// file; a working directory through a symlink to a host directory is made inside the rootfs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { deferStack } from '../../helpers/authz-plugin/index.js';
import { create, demuxText, logs, waitExited, waitLog } from '../../helpers/containers.js';
import { placeRace } from '../../helpers/race/index.js';

const ITERATIONS = 200;
const BUDGET_MS = 15_000;

test('exec user lookup and the working directory stay inside the rootfs', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'gcc')) return;
  const defer = deferStack(t);
  const tmp = mkdtempSync('/tmp/mt-sec-rootfs-');
  defer(() => rmSync(tmp, { recursive: true, force: true }));
  const race = placeRace(tmp);
  const user = `hostonly${randomBytes(4).toString('hex')}`;
  const hostPasswd = join(tmp, 'passwd');
  writeFileSync(hostPasswd, `root:x:0:0:root:/root:/bin/sh\n${user}:x:4242:4242::/:/bin/sh\n`);
  const hostDir = join(tmp, 'hostdir');
  mkdirSync(hostDir);
  const d = await startDaemon();
  defer(() => d.cleanup());

  await t.test('a working directory through a symlink to a host directory', async () => {
    // The first run plants /w -> <host dir> in the container's upper dir; the second start makes /w/sub.
    const id = await create(d, { Cmd: ['sh', '-c', `pwd; [ -L /w ] || { cd / && rm -rf /w && ln -s ${hostDir} /w; }`], WorkingDir: '/w/sub' });
    for (let i = 0; i < 2; i++) {
      assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
      await waitExited(d, id);
    }
    assert.deepEqual(readdirSync(hostDir), [], 'nothing was made in the host directory');
    assert.ok(existsSync(join(d.dataRoot, 'containers', id, 'upper', hostDir, 'sub')), 'the directory was made inside the rootfs');
    // Inside, /w/sub resolves through the container's own link to the directory made in its rootfs.
    assert.equal((await logs(d, id)).stdout, `/w/sub\n${hostDir}/sub\n`);
  });

  await t.test(`up to ${ITERATIONS} execs while /etc/passwd is swapped with a link to a host file`, async () => {
    const id = await create(d, {
      Cmd: ['sh', '-c', `ln -s ${hostPasswd} /etc/pl && exec /race exchange 60 /etc/passwd /etc/pl`],
      HostConfig: { Binds: [`${race}:/race:ro`] },
    });
    assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
    await waitLog(d, id, 'ready');
    const end = Date.now() + BUDGET_MS;
    let runs = 0;
    let refused = 0;
    for (; runs < ITERATIONS && Date.now() < end; runs++) {
      const ex = await d.api('POST', `/containers/${id}/exec`, { Cmd: ['id', '-u'], User: user, AttachStdout: true, AttachStderr: true });
      assert.equal(ex.status, 201, ex.body.toString());
      const r = await d.api('POST', `/exec/${ex.json<{ Id: string }>().Id}/start`, { Detach: false, Tty: false });
      const out = r.body.length > 8 && r.body[0]! <= 2 ? demuxText(r.body).stdout + demuxText(r.body).stderr : r.body.toString();
      assert.ok(!out.includes('4242'), `exec ${runs + 1} ran as the user of the host file: ${out}`);
      if (/unable to find user/.test(out)) refused++;
    }
    t.diagnostic(`${runs} execs, ${refused} refused with "unable to find user", none ran as the host file's user`);
    assert.ok(refused > 0, 'the user lookup ran');
  });
});
