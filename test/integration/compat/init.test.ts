// --init through the docker CLI 28 (issue 16): Debian's static tini is PID 1, mounted
// read-only at /sbin/docker-init; it reaps orphans and forwards signals; moatd --init makes
// it the default and a container's --init=false still opts out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { docker, dockerOk, sleep, until } from './cli.js';

// Each orphan outlives the loop: one that exited while sh (PID 1 before its exec) still looped
// would be reaped by sh, not left (a slower machine took ~200 ms for the 50 forks, and 0.1 s
// orphans left 25 zombies, not 50).
const ORPHANS = 'for i in $(seq 1 50); do (sleep 2 &); done; exec sleep 600';

async function zombies(d: TestDaemon, name: string): Promise<number> {
  const ps = await dockerOk(d, ['exec', name, 'ps', '-o', 'stat,pid,comm']);
  return ps.split('\n').filter((l) => l.startsWith('Z')).length;
}

test('--init: tini as PID 1', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  if (!existsSync('/usr/bin/tini-static')) {
    if (process.env['MOAT_TEST_STRICT'] === '1') assert.fail('requires tini (/usr/bin/tini-static)');
    t.skip('requires tini (/usr/bin/tini-static)');
    return;
  }
  const d = await startDaemon();
  t.after(() => d.cleanup());

  await t.test('50 orphans are reaped with --init and left as zombies without', async () => {
    await dockerOk(d, ['run', '-d', '--name', 'noinit', 'busybox', 'sh', '-c', ORPHANS]);
    await dockerOk(d, ['run', '-d', '--name', 'withinit', '--init', 'busybox', 'sh', '-c', ORPHANS]);
    // Without an init nobody reaps them: 50 zombies (this checks the check).
    await until(async () => (await zombies(d, 'noinit')) === 50, 10_000, '50 zombies without --init');
    await sleep(500);
    assert.equal(await zombies(d, 'withinit'), 0);
    await dockerOk(d, ['rm', '-f', 'noinit', 'withinit']);
  });

  await t.test('PID 1 is /sbin/docker-init, read-only; signals reach the child; docker stop is prompt', async () => {
    const out = await dockerOk(d, ['run', '--rm', '--init', 'busybox', 'sh', '-c', 'tr "\\0" " " </proc/1/cmdline; echo; echo x > /sbin/docker-init 2>&1 || echo refused']);
    assert.match(out, /^\/sbin\/docker-init -- sh -c /);
    assert.match(out, /refused/);
    await dockerOk(d, ['run', '-d', '--name', 'sig', '--init', 'busybox', 'sh', '-c', 'trap "echo got-usr1; exit 7" USR1; while true; do sleep 0.1; done']);
    await sleep(300);
    await dockerOk(d, ['kill', '-s', 'USR1', 'sig']);
    assert.equal((await dockerOk(d, ['wait', 'sig'])).trim(), '7');
    assert.match(await dockerOk(d, ['logs', 'sig']), /got-usr1/);
    // sleep as PID 1 ignores SIGTERM; under tini it gets it and ends at once (143).
    await dockerOk(d, ['run', '-d', '--name', 'stopme', '--init', 'busybox', 'sleep', '600']);
    const t0 = Date.now();
    await dockerOk(d, ['stop', '-t', '10', 'stopme']);
    assert.ok(Date.now() - t0 < 5000, `stop took ${Date.now() - t0} ms`);
    assert.equal((await dockerOk(d, ['inspect', 'stopme', '--format', '{{.State.ExitCode}}'])).trim(), '143');
    await dockerOk(d, ['rm', '-f', 'sig', 'stopme']);
  });

  await t.test('moatd --init makes it the default; --init=false opts out', async () => {
    const d2 = await startDaemon({ args: ['--init'] });
    try {
      assert.equal((await dockerOk(d2, ['run', '--rm', 'busybox', 'cat', '/proc/1/comm'])).trim(), 'docker-init');
      assert.equal((await dockerOk(d2, ['run', '--rm', '--init=false', 'busybox', 'cat', '/proc/1/comm'])).trim(), 'cat');
    } finally {
      await d2.cleanup();
    }
    const bad = await startDaemon({ args: ['--init-path', '/nonexistent/tini'] });
    try {
      const r = await docker(bad, ['create', '--init', 'busybox']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /init binary is not on this host/);
    } finally {
      await bad.cleanup();
    }
  });
});
