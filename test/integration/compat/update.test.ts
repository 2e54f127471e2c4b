// docker update through the docker CLI 28 (issue 16): memory, cpus and pids limits change
// live (the container sees its own cgroup change) and are recorded (inspect, the next start);
// the restart policy can be changed; what moat does not update is a 400 naming the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { docker, dockerOk } from './cli.js';

// cgroup v1 paths first (this machine is hybrid), then v2's.
const LIMITS = 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d" " -f1 /sys/fs/cgroup/cpu.max';

async function limits(d: TestDaemon, name: string): Promise<string[]> {
  return (await dockerOk(d, ['exec', name, 'sh', '-c', LIMITS])).trim().split('\n');
}

test('docker update', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());

  await t.test('memory, cpus and pids change live, are recorded and kept for the next start', async () => {
    await dockerOk(d, ['run', '-d', '--name', 'up', '-m', '64m', '--pids-limit', '100', 'busybox', 'sleep', '600']);
    assert.deepEqual((await limits(d, 'up')).slice(0, 2), ['67108864', '100']);
    await dockerOk(d, ['update', '-m', '128m', '--memory-swap', '256m', '--cpus', '0.5', '--pids-limit', '50', '--restart', 'on-failure:3', 'up']);
    assert.deepEqual(await limits(d, 'up'), ['134217728', '50', '50000']);
    const insp = (await dockerOk(d, ['inspect', 'up', '--format', '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}'])).trim();
    assert.equal(insp, '134217728 268435456 500000000 50 on-failure:3');
    await dockerOk(d, ['restart', '-t', '0', 'up']);
    assert.deepEqual(await limits(d, 'up'), ['134217728', '50', '50000'], 'the next start uses the updated limits');
    await dockerOk(d, ['rm', '-f', 'up']);
  });

  await t.test('a stopped container is updated in its record; unsupported fields and --rm with a policy are refused', async () => {
    await dockerOk(d, ['create', '--name', 'stopped', 'busybox', 'sleep', '600']);
    await dockerOk(d, ['update', '-m', '32m', 'stopped']);
    await dockerOk(d, ['start', 'stopped']);
    assert.equal((await limits(d, 'stopped'))[0], '33554432');
    const blkio = await docker(d, ['update', '--blkio-weight', '300', 'stopped']);
    assert.notEqual(blkio.code, 0);
    assert.match(blkio.stderr, /BlkioWeight is not supported/);
    const bad = await docker(d, ['update', '--restart', 'sometimes', 'stopped']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /restart policy|unknown policy/i);
    await dockerOk(d, ['run', '-d', '--rm', '--name', 'autorm', 'busybox', 'sleep', '600']);
    const rm = await docker(d, ['update', '--restart', 'always', 'autorm']);
    assert.match(rm.stderr, /AutoRemove is enabled/);
    await dockerOk(d, ['rm', '-f', 'stopped', 'autorm']);
  });
});
