// Healthchecks through the docker CLI 28 and docker-py 5 (issue 16): --health-* and the
// image's HEALTHCHECK (and NONE), State.Health, health_status events, the health filter,
// docker ps's "(healthy)", probes with the container's own user and capabilities, timeouts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { docker, dockerOk, dockerPy, until } from './cli.js';

// The CLI's legacy builder is the classic POST /build (an image with a HEALTHCHECK).
process.env['DOCKER_BUILDKIT'] = '0';

interface Health {
  Status: string;
  FailingStreak: number;
  Log: Array<{ ExitCode: number; Output: string }>;
}

const health = async (d: TestDaemon, name: string): Promise<Health | null> => JSON.parse(await dockerOk(d, ['inspect', name, '--format', '{{json .State.Health}}'])) as Health | null;

test('healthchecks through the docker CLI', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());

  await t.test('starting -> unhealthy -> healthy, with health_status events, ps status and the health filter', async () => {
    const since = String(Math.floor(Date.now() / 1000) - 1);
    await dockerOk(d, ['run', '-d', '--name', 'hc', '--health-cmd', 'test -f /tmp/ok', '--health-interval', '200ms', '--health-retries', '2', '--health-timeout', '2s', 'busybox', 'sleep', '600']);
    assert.equal((await health(d, 'hc'))?.Status, 'starting');
    assert.match(await dockerOk(d, ['ps', '-f', 'name=hc', '--format', '{{.Status}}']), /\(health: starting\)/);
    const bad = await until(async () => {
      const h = await health(d, 'hc');
      return h?.Status === 'unhealthy' ? h : undefined;
    }, 10_000, 'unhealthy');
    assert.ok(bad.FailingStreak >= 2, JSON.stringify(bad));
    assert.ok(bad.Log.every((p) => p.ExitCode === 1), JSON.stringify(bad));
    assert.match(await dockerOk(d, ['ps', '-f', 'name=hc', '--format', '{{.Status}}']), /\(unhealthy\)/);
    assert.equal((await dockerOk(d, ['ps', '-f', 'health=unhealthy', '--format', '{{.Names}}'])).trim(), 'hc');
    await dockerOk(d, ['exec', 'hc', 'touch', '/tmp/ok']);
    const good = await until(async () => {
      const h = await health(d, 'hc');
      return h?.Status === 'healthy' ? h : undefined;
    }, 10_000, 'healthy');
    assert.equal(good.FailingStreak, 0);
    assert.match(await dockerOk(d, ['ps', '-f', 'name=hc', '--format', '{{.Status}}']), /\(healthy\)/);
    assert.equal((await dockerOk(d, ['ps', '-f', 'health=healthy', '--format', '{{.Names}}'])).trim(), 'hc');
    assert.equal((await dockerOk(d, ['ps', '-f', 'health=unhealthy', '--format', '{{.Names}}'])).trim(), '');
    // The log keeps the last 5 probes.
    await until(async () => ((await health(d, 'hc'))?.Log.length ?? 0) >= 5, 10_000, 'five probes');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await health(d, 'hc'))?.Log.length, 5);
    const until_ = String(Math.floor(Date.now() / 1000) + 1);
    const ev = (await dockerOk(d, ['events', '--since', since, '--until', until_, '-f', 'container=hc', '-f', 'event=health_status', '--format', '{{.Action}}'])).trim().split('\n');
    assert.deepEqual(ev, ['health_status: unhealthy', 'health_status: healthy']);
    // Probes are not kept among the container's execs (only `docker exec touch` is, plus at most one probe running now).
    const execIds = JSON.parse(await dockerOk(d, ['inspect', 'hc', '--format', '{{json .ExecIDs}}'])) as string[];
    assert.ok(execIds.length >= 1 && execIds.length <= 2, `ExecIDs ${JSON.stringify(execIds)} after ${good.Log.length}+ probes`);
    await dockerOk(d, ['rm', '-f', 'hc']);
  });

  await t.test('a probe runs as the container: its user, its (dropped) capabilities, never privileged', async () => {
    const cmd = 'test "$(id -u)" = 65534 && grep -q "^CapEff:.0000000000000000" /proc/self/status && grep -q "^NoNewPrivs:.1" /proc/self/status';
    await dockerOk(d, ['run', '-d', '--name', 'hcuser', '--user', 'nobody', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--health-cmd', cmd, '--health-interval', '200ms', 'busybox', 'sleep', '600']);
    const h = await until(async () => {
      const x = await health(d, 'hcuser');
      return x && x.Log.length > 0 ? x : undefined;
    }, 10_000, 'a probe');
    assert.equal(h.Log[0]!.ExitCode, 0, JSON.stringify(h));
    assert.equal(h.Status, 'healthy');
    await dockerOk(d, ['rm', '-f', 'hcuser']);
  });

  await t.test('a probe past its timeout is killed and counts as a failure', async () => {
    await dockerOk(d, ['run', '-d', '--name', 'hcslow', '--health-cmd', 'sleep 30', '--health-interval', '200ms', '--health-timeout', '300ms', '--health-retries', '1', 'busybox', 'sleep', '600']);
    const h = await until(async () => {
      const x = await health(d, 'hcslow');
      return x?.Status === 'unhealthy' ? x : undefined;
    }, 10_000, 'unhealthy by timeout');
    assert.equal(h.Log[0]!.ExitCode, -1);
    assert.match(h.Log[0]!.Output, /Health check exceeded timeout/);
    await dockerOk(d, ['rm', '-f', 'hcslow']);
  });

  await t.test('the image\'s HEALTHCHECK is used; --no-healthcheck (NONE) turns it off; bad values are a 400', async () => {
    const r = await docker(d, ['build', '-q', '-t', 'hcimg', '-'], { input: 'FROM busybox\nHEALTHCHECK --interval=200ms --retries=1 CMD false\n', timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    await dockerOk(d, ['run', '-d', '--name', 'fromimg', 'hcimg', 'sleep', '600']);
    await until(async () => (await health(d, 'fromimg'))?.Status === 'unhealthy', 10_000, 'the image healthcheck to fail');
    await dockerOk(d, ['run', '-d', '--name', 'nocheck', '--no-healthcheck', 'hcimg', 'sleep', '600']);
    await new Promise((res) => setTimeout(res, 600));
    assert.equal(await health(d, 'nocheck'), null);
    assert.match(await dockerOk(d, ['ps', '-f', 'name=nocheck', '--format', '{{.Status}}']), /^Up [^()]*$/m);
    assert.equal((await dockerOk(d, ['ps', '-f', 'health=none', '--format', '{{.Names}}'])).trim(), 'nocheck');
    const tooShort = await docker(d, ['create', '--health-cmd', 'true', '--health-interval', '100us', 'busybox']);
    assert.notEqual(tooShort.code, 0);
    assert.match(tooShort.stderr, /Interval in Healthcheck cannot be less than 1ms/);
    await dockerOk(d, ['rm', '-f', 'fromimg', 'nocheck']);
  });

  await t.test('docker-py: containers.run with restart_policy and healthcheck', async (tt) => {
    if (!requires(tt, 'docker-py')) return;
    const script = [
      'import docker, json, time',
      'c = docker.from_env()',
      "ctr = c.containers.run('busybox', ['sh', '-c', 'sleep 1; exit 3'], detach=True, name='pyrestart', restart_policy={'Name': 'on-failure', 'MaximumRetryCount': 1},",
      "    healthcheck={'test': ['CMD', 'true'], 'interval': 200 * 1000000, 'retries': 1})",
      'health = None',
      'for _ in range(50):',
      '    ctr.reload()',
      "    health = ctr.attrs['State'].get('Health', {}).get('Status')",
      "    if health == 'healthy': break",
      '    time.sleep(0.1)',
      'for _ in range(100):',
      '    ctr.reload()',
      "    if ctr.attrs['RestartCount'] == 1 and ctr.status == 'exited': break",
      '    time.sleep(0.1)',
      "print(json.dumps({'health': health, 'count': ctr.attrs['RestartCount'], 'status': ctr.status, 'policy': ctr.attrs['HostConfig']['RestartPolicy']}))",
      'ctr.remove(force=True)',
    ].join('\n');
    const r = await dockerPy(d, script);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { health: 'healthy', count: 1, status: 'exited', policy: { Name: 'on-failure', MaximumRetryCount: 1 } });
  });
});
