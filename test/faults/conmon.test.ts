// Issue 12, finding 5: a container whose conmon dies is not left "running". moatd watches
// each conmon (a pidfd) and reconciles with runc at once: the orphaned process is stopped and
// the container shows Exited (137) within a second, as Docker does when its shim dies; also
// for a conmon that died while moatd was down. A runc init killed during start leaves a
// container that can be started again and nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../helpers/requires.js';
import { safetyNetHits } from './consistency.js';
import { startDaemon, pidAlive, pidsMentioning, type TestDaemon } from '../helpers/daemon.js';
import { create, inspect, run, waitExited, waitFor, waitLog, sleep } from '../helpers/containers.js';

function conmonOf(d: TestDaemon, id: string): number {
  const pid = Number(readFileSync(join(d.dataRoot, 'containers', id, 'conmon.pid'), 'utf8').trim());
  assert.ok(pid > 0 && pidAlive(pid), 'conmon runs');
  return pid;
}

test('a killed conmon (issue 12, finding 5)', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());

  await t.test('while moatd runs: Exited (137) within a second, the process stopped, start works again', async (t) => {
    const id = await run(d, ['sh', '-c', 'echo ready; exec sleep 1000'], {}, 'orphan');
    await waitLog(d, id, 'ready');
    const pid = (await inspect(d, id)).State.Pid;
    const killedAt = Date.now();
    process.kill(conmonOf(d, id), 'SIGKILL');
    const st = await waitFor('the container to be reported exited', async () => {
      const s = (await inspect(d, id)).State;
      return s.Status === 'exited' ? s : undefined;
    }, 5000, 20);
    const took = Date.now() - killedAt;
    assert.equal(st.ExitCode, 137);
    t.diagnostic(`Exited (137) reported ${took} ms after conmon was killed`);
    assert.ok(took < 1500, `reported after ${took} ms`);
    await waitFor('the orphaned process to be gone', () => !pidAlive(pid), 3000);
    assert.equal(readdirSync(join(d.execRoot, 'runc')).includes(id), false, 'runc forgot it');
    // The usual verbs work on it again.
    assert.equal((await d.api('POST', `/containers/${id}/stop`)).status, 304);
    const s = await d.api('POST', `/containers/${id}/start`);
    assert.equal(s.status, 204, s.body.toString());
    await waitLog(d, id, 'ready');
    const rm = await d.api('DELETE', `/containers/${id}?force=1`);
    assert.equal(rm.status, 204, rm.body.toString());
  });

  await t.test('while moatd is down: reported Exited (137) after the restart', async () => {
    const id = await run(d, ['sh', '-c', 'echo ready; exec sleep 1000'], {}, 'orphan-down');
    const watched = await run(d, ['sh', '-c', 'echo ready; exec sleep 1000'], {}, 'watched-after-restart');
    await waitLog(d, id, 'ready');
    await waitLog(d, watched, 'ready');
    const pid = (await inspect(d, id)).State.Pid;
    await d.kill();
    process.kill(conmonOf(d, id), 'SIGKILL');
    await sleep(100);
    await d.start();
    const st = (await inspect(d, id)).State;
    assert.equal(st.Status, 'exited');
    assert.equal(st.ExitCode, 137);
    await waitFor('the orphaned process to be gone', () => !pidAlive(pid), 3000);
    // A conmon that lived through the restart is watched again.
    assert.equal((await inspect(d, watched)).State.Status, 'running');
    process.kill(conmonOf(d, watched), 'SIGKILL');
    const st2 = await waitFor('the re-watched container to be reported exited', async () => {
      const s = (await inspect(d, watched)).State;
      return s.Status === 'exited' ? s : undefined;
    }, 3000, 20);
    assert.equal(st2.ExitCode, 137);
  });

  await t.test('a normal exit is still reported with its own code', async () => {
    const id = await run(d, ['sh', '-c', 'exit 42']);
    assert.equal((await waitExited(d, id)).State.ExitCode, 42);
  });

  await t.test('runc init killed during start: the container can start again, nothing is left', async () => {
    // runc init shows as "runc:[2:INIT]" before it execs the container's process; kill every
    // one that belongs to this daemon while starts run.
    const ids = await Promise.all(Array.from({ length: 6 }, () => create(d, { Cmd: ['sh', '-c', 'echo ready; exec sleep 1000'] })));
    let killed = 0;
    let stop = false;
    const hunter = (async () => {
      while (!stop) {
        for (const pid of pidsMentioning('')) {
          try {
            if (!readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('runc:[2:INIT]')) continue;
            const ppidOf = (p: number): number => Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
            // Ours: an ancestor is a conmon started with this daemon's exec root.
            let p = ppidOf(pid);
            let ours = false;
            for (let i = 0; i < 5 && p > 1; i++, p = ppidOf(p)) if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(d.execRoot)) ours = true;
            if (ours) {
              process.kill(pid, 'SIGKILL');
              killed++;
            }
          } catch {
            // gone meanwhile
          }
        }
        await sleep(1);
      }
    })();
    const results = await Promise.all(ids.map((id) => d.api('POST', `/containers/${id}/start`)));
    stop = true;
    await hunter;
    t.diagnostic(`killed ${killed} runc init processes; start statuses ${results.map((r) => r.status).join(',')}`);
    assert.equal((await d.api('GET', '/_ping')).status, 200);
    for (const [i, id] of ids.entries()) {
      const st = (await inspect(d, id)).State;
      if (results[i]!.status !== 204) {
        assert.notEqual(st.Status, 'running', 'a failed start does not say running');
        assert.equal(readdirSync(join(d.execRoot, 'runc')).includes(id), false, 'runc forgot a failed start');
      }
      // Whatever happened, the container can be started (again) and stopped.
      if (st.Status !== 'running') {
        const s = await d.api('POST', `/containers/${id}/start`);
        assert.equal(s.status, 204, s.body.toString());
      }
      await waitFor(`container ${i} to run`, async () => (await inspect(d, id)).State.Status === 'running');
      const k = await d.api('POST', `/containers/${id}/kill`);
      assert.equal(k.status, 204);
      assert.equal((await waitExited(d, id)).State.Status, 'exited');
    }
  });

  await t.test('nothing reached the safety net', () => {
    assert.deepEqual(safetyNetHits(d), []);
  });
});
