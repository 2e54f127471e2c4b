// docker run / start / attach / wait / logs with the real docker CLI 28 against moatd.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { docker, dockerOk, until } from './cli.js';

const NEEDS = ['root', 'runc', 'conmon', 'busybox', 'docker-cli'] as const;

async function daemon(t: { after: (fn: () => Promise<void>) => void }): Promise<TestDaemon> {
  const d = await startDaemon();
  t.after(() => d.cleanup());
  return d;
}

test('docker run: output, exit codes and the CLI 125/126/127 distinctions', async (t) => {
  if (!requires(t, ...NEEDS)) return;
  const d = await daemon(t);

  await t.test('run --rm prints stdout and stderr apart and exits with the container code', async () => {
    const r = await docker(d, ['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    const left = await dockerOk(d, ['ps', '-aq']);
    assert.equal(left, '', '--rm removed the container');
  });

  await t.test('stdin reaches the process before start and is closed after (run -i)', async () => {
    const r = await docker(d, ['run', '--rm', '-i', 'busybox', 'sh', '-c', 'cat; echo EOF-seen'], { input: 'hello-stdin\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello-stdin\nEOF-seen\n');
  });

  await t.test('missing image: the usual message and 125', async () => {
    const r = await docker(d, ['run', '--rm', 'nosuchimage:1.0', 'true']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /Unable to find image 'nosuchimage:1\.0' locally/);
    assert.match(r.stderr, /Error response from daemon: registry docker\.io is blocked by the daemon's configuration/, 'the pull it tried is refused without touching the network (test daemons block Docker Hub)');
    const create = await docker(d, ['create', 'nosuchimage:1.0']);
    assert.equal(create.code, 1, 'docker create exits 1 on a daemon error');
  });

  await t.test('docker pull from a blocked Docker Hub answers a clear error at once', async () => {
    const r = await docker(d, ['pull', 'alpine:3.19']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Error response from daemon: registry docker\.io is blocked by the daemon's configuration \(--block-registry\): nothing was sent to it/);
  });

  await t.test('command not found is 127, a directory or non-executable is 126', async () => {
    const nf = await docker(d, ['run', '--rm', 'busybox', 'nosuchcmd']);
    assert.equal(nf.code, 127, nf.stderr);
    assert.match(nf.stderr, /executable file not found/);
    const dir = await docker(d, ['run', '--rm', 'busybox', '/etc']);
    assert.equal(dir.code, 126, dir.stderr);
    const noexec = await docker(d, ['run', '--rm', 'busybox', '/etc/passwd']);
    assert.equal(noexec.code, 126, noexec.stderr);
    assert.equal(await dockerOk(d, ['ps', '-aq']), '', 'failed starts with --rm leave nothing');
  });

  await t.test('flag errors and invalid names are 125 and create nothing', async () => {
    const bad = await docker(d, ['run', '--rm', '--name', 'x', 'busybox', 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /Invalid container name \(x\)/);
    const refused = await docker(d, ['run', '--rm', '--storage-opt', 'size=1G', 'busybox', 'true']);
    assert.equal(refused.code, 125);
    assert.match(refused.stderr, /HostConfig\.StorageOpt is not supported by moat yet/);
    const noSource = await docker(d, ['run', '--rm', '--volumes-from', 'other', 'busybox', 'true']);
    assert.equal(noSource.code, 125);
    assert.match(noSource.stderr, /No such container: other/);
    const missing = await docker(d, ['run', '--rm', '--link', 'other:alias', 'busybox', 'true']);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, /No such container: other/);
    assert.equal(await dockerOk(d, ['ps', '-aq']), '');
  });

  await t.test('as dockerd: the primary gid among the groups, --entrypoint \'\' resets, a bad stop signal or negative CPU shares refused', async () => {
    assert.equal((await dockerOk(d, ['run', '--rm', '-u', '1234:5678', 'busybox', 'id'])).trim(), 'uid=1234 gid=5678 groups=5678');
    assert.equal((await dockerOk(d, ['run', '--rm', '--entrypoint', '', 'busybox', 'echo', 'hi'])).trim(), 'hi');
    // `-e NAME` with NAME unset where the CLI runs: the CLI sends `NAME`, dockerd unsets it (runc refuses it).
    assert.equal(process.env['MOAT_T_UNSET_9'], undefined);
    assert.equal((await dockerOk(d, ['run', '--rm', '-e', 'MOAT_T_UNSET_9', '-e', 'SET=1', 'busybox', 'sh', '-c', 'echo "x${MOAT_T_UNSET_9-unset}$SET"'])).trim(), 'xunset1');
    const sig = await docker(d, ['run', '--rm', '--stop-signal', 'BOGUS', 'busybox', 'true']);
    assert.equal(sig.code, 125);
    assert.match(sig.stderr, /Invalid signal: BOGUS/);
    const shares = await docker(d, ['run', '--rm', '--cpu-shares', '-5', 'busybox', 'true']);
    assert.equal(shares.code, 125);
    assert.match(shares.stderr, /invalid CPU shares \(-5\): value must be a positive integer/);
    assert.equal(await dockerOk(d, ['ps', '-aq']), '');
    await dockerOk(d, ['run', '-d', '--name', 'ex1', 'busybox', 'sleep', '60']);
    assert.equal((await dockerOk(d, ['exec', '-e', 'MOAT_T_UNSET_9', 'ex1', 'sh', '-c', 'echo "x${MOAT_T_UNSET_9-unset}"'])).trim(), 'xunset');
    const ex = await docker(d, ['exec', 'ex1', '/nonexistent']);
    assert.equal(ex.code, 126);
    assert.match(ex.stdout + ex.stderr, /^OCI runtime exec failed: exec failed: unable to start container process: exec: "\/nonexistent"/m);
    await dockerOk(d, ['rm', '-f', 'ex1']);
  });
});

test('docker run -d, start -a, attach, wait, logs', async (t) => {
  if (!requires(t, ...NEEDS)) return;
  const d = await daemon(t);

  await t.test('run -d prints the id; the name is taken; wait returns the code and exits 0', async () => {
    const id = (await dockerOk(d, ['run', '-d', '--name', 'w1', 'busybox', 'sh', '-c', 'sleep 1; exit 4'])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const dup = await docker(d, ['run', '-d', '--name', 'w1', 'busybox', 'true']);
    assert.equal(dup.code, 125);
    assert.match(dup.stderr, /The container name "\/w1" is already in use/);
    const w = await docker(d, ['wait', 'w1']);
    assert.equal(w.code, 0);
    assert.equal(w.stdout, '4\n');
    const w2 = await docker(d, ['wait', id.slice(0, 12)]);
    assert.equal(w2.stdout, '4\n', 'wait on an exited container answers at once');
  });

  await t.test('start -a replays the run and returns its exit code', async () => {
    await dockerOk(d, ['create', '--name', 'sa1', 'busybox', 'sh', '-c', 'echo started; exit 5']);
    const r = await docker(d, ['start', '-a', 'sa1']);
    assert.equal(r.code, 5, r.stderr);
    assert.equal(r.stdout, 'started\n');
  });

  await t.test('attach to a running container sees new output and its exit code', async () => {
    await dockerOk(d, ['run', '-d', '--name', 'at1', 'busybox', 'sh', '-c', 'sleep 1; echo late; exit 2']);
    const r = await docker(d, ['attach', 'at1']);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, 'late\n');
  });

  await t.test('logs: framed streams, --tail, -t timestamps, -f until exit', async () => {
    await docker(d, ['run', '--name', 'lg1', 'busybox', 'sh', '-c', 'echo out1; sleep 0.1; echo err1 >&2; sleep 0.1; echo out2']);
    const all = await docker(d, ['logs', 'lg1']);
    assert.equal(all.stdout, 'out1\nout2\n');
    assert.equal(all.stderr, 'err1\n');
    const tail = await docker(d, ['logs', '--tail', '1', 'lg1']);
    assert.equal(tail.stdout + tail.stderr, 'out2\n');
    const ts = await docker(d, ['logs', '-t', 'lg1']);
    for (const line of ts.stdout.trim().split('\n')) assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z out\d$/);
    // --details: the entry's attributes (none) and a space before the line, after the timestamp (dockerd's order).
    assert.equal((await docker(d, ['logs', '--details', 'lg1'])).stdout, ' out1\n out2\n');
    for (const line of (await docker(d, ['logs', '-t', '--details', 'lg1'])).stdout.trim().split('\n')) assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z  out\d$/);
    await dockerOk(d, ['run', '-d', '--name', 'lf1', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo tick$i; sleep 0.3; done']);
    const f = await docker(d, ['logs', '-f', 'lf1'], { timeoutMs: 15_000 });
    assert.equal(f.code, 0);
    assert.equal(f.stdout, 'tick1\ntick2\ntick3\n', 'follow ends when the container stops');
  });

  await t.test('run --rm -d is removed after exit', async () => {
    const id = (await dockerOk(d, ['run', '--rm', '-d', 'busybox', 'true'])).trim();
    await until(async () => !(await dockerOk(d, ['ps', '-aq', '--no-trunc'])).includes(id), 10_000, 'auto-remove');
  });
});
