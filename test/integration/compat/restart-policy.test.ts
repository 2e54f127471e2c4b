// Restart policies through the docker CLI 28 (issue 16): on-failure:N, always, unless-stopped,
// RestartCount and `restart` events, `docker stop` ending a policy, and what happens across a
// moatd restart (containers keep running through it; one that died meanwhile is restarted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { docker, dockerOk, sleep, until } from './cli.js';

const state = async (d: TestDaemon, name: string): Promise<{ status: string; count: number; pid: number; exit: number }> => {
  const [status, count, pid, exit] = (await dockerOk(d, ['inspect', name, '--format', '{{.State.Status}} {{.RestartCount}} {{.State.Pid}} {{.State.ExitCode}}'])).trim().split(' ');
  return { status: status!, count: Number(count), pid: Number(pid), exit: Number(exit) };
};

const actions = async (d: TestDaemon, name: string, since: string): Promise<string[]> => {
  const until = String(Math.floor(Date.now() / 1000) + 1);
  return (await dockerOk(d, ['events', '--since', since, '--until', until, '-f', `container=${name}`, '--format', '{{.Action}}'])).trim().split('\n');
};

test('restart policies through the docker CLI', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());

  await t.test('on-failure:2 restarts a failing container twice and ends with RestartCount 2', async () => {
    const since = String(Math.floor(Date.now() / 1000) - 1);
    await dockerOk(d, ['run', '-d', '--name', 'onfail', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'exit 3']);
    // Three runs: the first, then restarts after 100 ms and 200 ms.
    await until(async () => (await actions(d, 'onfail', since)).filter((a) => a === 'die').length === 3, 10_000, 'three exits');
    await sleep(1000);
    const s = await state(d, 'onfail');
    assert.deepEqual({ status: s.status, count: s.count, exit: s.exit }, { status: 'exited', count: 2, exit: 3 });
    const ev = await actions(d, 'onfail', since);
    assert.equal(ev.filter((a) => a === 'restart').length, 2, ev.join(' '));
    assert.equal(ev.filter((a) => a === 'start').length, 3, ev.join(' '));
    assert.equal((await dockerOk(d, ['inspect', 'onfail', '--format', '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}'])).trim(), 'on-failure:2');
  });

  await t.test('on-failure does not restart a container that exits 0', async () => {
    await dockerOk(d, ['run', '-d', '--name', 'onok', '--restart', 'on-failure', 'busybox', 'true']);
    await sleep(800);
    const s = await state(d, 'onok');
    assert.deepEqual({ status: s.status, count: s.count }, { status: 'exited', count: 0 });
  });

  await t.test('always restarts on exit 0 with backoff; docker stop ends it for good; docker start starts afresh', async () => {
    await dockerOk(d, ['run', '-d', '--name', 'alw', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.3']);
    await until(async () => (await state(d, 'alw')).count >= 2, 10_000, 'two restarts');
    await dockerOk(d, ['stop', '-t', '1', 'alw']);
    const stopped = await state(d, 'alw');
    assert.equal(stopped.status, 'exited');
    await sleep(1500);
    const later = await state(d, 'alw');
    assert.deepEqual([later.status, later.count], ['exited', stopped.count], 'no restart after docker stop');
    await dockerOk(d, ['start', 'alw']);
    assert.equal((await state(d, 'alw')).count, 0, 'a manual start resets RestartCount');
    await dockerOk(d, ['rm', '-f', 'alw']);
  });

  await t.test('bad policies are a 400 naming the problem; --rm with a policy is refused', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--restart', 'sometimes'], /invalid restart policy|unknown policy/],
      [['--restart', 'always:3'], /maximum retry count can only be used with 'on-failure'|invalid restart policy/],
      [['--rm', '--restart', 'always'], /AutoRemove|conflicting options/],
    ];
    for (const [args, re] of cases) {
      const r = await docker(d, ['create', ...args, 'busybox']);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, re, args.join(' '));
    }
    const neg = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: -1 } } });
    assert.equal(neg.status, 400);
    assert.match(neg.body.toString(), /cannot be negative/);
  });

  await t.test('across a moatd restart: unless-stopped comes back if it died meanwhile, not if stopped by hand; always comes back even then', async () => {
    await dockerOk(d, ['run', '-d', '--name', 'keep', '--restart', 'unless-stopped', 'busybox', 'sleep', '600']);
    await dockerOk(d, ['run', '-d', '--name', 'byhand', '--restart', 'unless-stopped', 'busybox', 'sleep', '600']);
    await dockerOk(d, ['run', '-d', '--name', 'alwstop', '--restart', 'always', 'busybox', 'sleep', '600']);
    await dockerOk(d, ['run', '-d', '--name', 'steady', '--restart', 'unless-stopped', 'busybox', 'sleep', '600']);
    await dockerOk(d, ['stop', '-t', '0', 'byhand', 'alwstop']);
    const keepPid = (await state(d, 'keep')).pid;
    const steadyPid = (await state(d, 'steady')).pid;
    await d.stop();
    process.kill(keepPid, 'SIGKILL');
    await sleep(300);
    await d.start();
    const keep = await until(async () => {
      const s = await state(d, 'keep');
      return s.status === 'running' ? s : undefined;
    }, 10_000, 'keep restarted');
    assert.notEqual(keep.pid, keepPid);
    assert.equal(keep.count, 1);
    assert.equal((await state(d, 'byhand')).status, 'exited', 'unless-stopped stopped by hand stays stopped');
    assert.equal((await state(d, 'alwstop')).status, 'running', 'always is started at daemon start, as Docker documents');
    const steady = await state(d, 'steady');
    assert.deepEqual([steady.status, steady.pid, steady.count], ['running', steadyPid, 0], 'a container that kept running is left alone (live restore)');
    await dockerOk(d, ['rm', '-f', 'keep', 'byhand', 'alwstop', 'steady']);
  });
});
