// Block I/O limits through the docker CLI 28: --device-read-bps/--device-write-bps,
// --device-read-iops/--device-write-iops are applied to the container's cgroup and slow its
// direct I/O; a bad device is a 400 at create with nothing made; a weight the host cannot
// apply (this machine: mq-deadline, no BFQ, so no blkio.weight) is dropped with dockerd's warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { devMajor, devMinor } from '../../../src/image/index.js';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { docker, dockerOk } from './cli.js';

/** The whole disk under `path` (its /dev node and numbers), if it is a real block device. */
function diskOf(path: string): { dev: string; numbers: string } | undefined {
  const st = statSync(path);
  let sys = `/sys/dev/block/${devMajor(st.dev)}:${devMinor(st.dev)}`;
  if (!existsSync(sys)) return undefined; // overlay, tmpfs, btrfs subvolumes: no block device
  if (existsSync(join(sys, 'partition'))) sys = join('/sys/dev/block', readlinkSync(sys), '..');
  const dev = `/dev/${basename(readlinkSync(sys))}`;
  if (!existsSync(dev) || !statSync(dev).isBlockDevice()) return undefined;
  return { dev, numbers: readFileSync(join(sys, 'dev'), 'utf8').trim() };
}

// Milliseconds a direct write of 4 MiB takes inside the container (/proc/uptime: 10 ms steps;
// busybox's date has no %N). O_DIRECT: cgroup v1 throttles only I/O the process itself issues.
const TIMED_WRITE = 's=$(cut -d" " -f1 /proc/uptime); dd if=/dev/zero of=/f bs=64k count=64 oflag=direct 2>/dev/null || exit 9; e=$(cut -d" " -f1 /proc/uptime); awk -v s=$s -v e=$e \'BEGIN { print int((e - s) * 1000) }\'';

test('block I/O limits', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const disk = diskOf(d.dataRoot);
  const v1 = existsSync('/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device');

  await t.test('the four throttles reach the container\'s cgroup and inspect; a 1 MiB/s write limit slows a direct write', async (tt) => {
    if (disk === undefined || !v1) {
      if (process.env['MOAT_TEST_STRICT'] === '1') assert.fail(`the data root ${d.dataRoot} is on no block device, or no cgroup v1 blkio throttles`);
      tt.skip('the data root is on no block device, or no cgroup v1 blkio throttles');
      return;
    }
    const out = await dockerOk(d, ['run', '--rm', '--device-read-bps', `${disk.dev}:2mb`, '--device-write-bps', `${disk.dev}:1mb`, '--device-read-iops', `${disk.dev}:1000`, '--device-write-iops', `${disk.dev}:500`,
      'busybox', 'sh', '-c', 'cd /sys/fs/cgroup/blkio && cat blkio.throttle.read_bps_device blkio.throttle.write_bps_device blkio.throttle.read_iops_device blkio.throttle.write_iops_device']);
    assert.deepEqual(out.trim().split('\n'), [`${disk.numbers} 2097152`, `${disk.numbers} 1048576`, `${disk.numbers} 1000`, `${disk.numbers} 500`]);

    await dockerOk(d, ['create', '--name', 'limited', '--device-write-bps', `${disk.dev}:1mb`, 'busybox', 'sh', '-c', TIMED_WRITE]);
    assert.equal((await dockerOk(d, ['inspect', 'limited', '--format', '{{json .HostConfig.BlkioDeviceWriteBps}}'])).trim(), `[{"Path":"${disk.dev}","Rate":1048576}]`);
    const free = Number((await dockerOk(d, ['run', '--rm', 'busybox', 'sh', '-c', TIMED_WRITE])).trim());
    await dockerOk(d, ['start', 'limited']);
    assert.equal((await dockerOk(d, ['wait', 'limited'])).trim(), '0');
    const limited = Number((await dockerOk(d, ['logs', 'limited'])).trim());
    // 4 MiB at 1 MiB/s: about 4 s (4.2 s measured here, 0.2 s without the limit).
    assert.ok(limited >= 2000 && limited > 2 * free, `4 MiB took ${limited} ms with the limit, ${free} ms without`);
    await dockerOk(d, ['rm', 'limited']);
  });

  await t.test('a device that is missing, not a block device or not under /dev is refused at create; nothing is made', async () => {
    for (const [arg, msg] of [['/dev/moat-no-such-disk:1mb', /error gathering block device information for "\/dev\/moat-no-such-disk": not found/], ['/dev/null:1mb', /"\/dev\/null": not a block device/]] as const) {
      const created = await docker(d, ['create', '--device-read-bps', arg, 'busybox', 'true']);
      assert.equal(created.code, 1, created.stderr);
      assert.match(created.stderr, msg);
      const run = await docker(d, ['run', '--rm', '--device-write-iops', arg.replace('1mb', '10'), 'busybox', 'true']);
      assert.equal(run.code, 125, run.stderr);
      assert.match(run.stderr, msg);
    }
    const r = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { BlkioDeviceReadBps: [{ Path: '/dev/../etc/passwd', Rate: 1 }] } });
    assert.equal(r.status, 400);
    assert.match(r.json<{ message: string }>().message, /^invalid BlkioDeviceReadBps: bad format for device path: "\/dev\/..\/etc\/passwd"/);
    const neg = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { BlkioDeviceWriteBps: [{ Path: '/dev/null', Rate: -1 }] } });
    assert.equal(neg.status, 400);
    assert.match(neg.json<{ message: string }>().message, /BlkioDeviceWriteBps\[0\]\.Rate/);
    assert.equal((await dockerOk(d, ['ps', '-aq'])).trim(), '', 'no container was made');
  });

  await t.test('a blkio weight the host cannot apply is dropped with dockerd\'s warning (and stored as 0), else applied', async () => {
    const weights = ['/sys/fs/cgroup/blkio/blkio.weight', '/sys/fs/cgroup/blkio/blkio.bfq.weight'].some((f) => existsSync(f));
    const r = await docker(d, ['run', '--name', 'weighted', '--blkio-weight', '300', 'busybox', 'sh', '-c', 'cat /sys/fs/cgroup/blkio/blkio.bfq.weight 2>/dev/null || cat /sys/fs/cgroup/blkio/blkio.weight 2>/dev/null || echo none']);
    assert.equal(r.code, 0, r.stderr);
    const stored = (await dockerOk(d, ['inspect', 'weighted', '--format', '{{.HostConfig.BlkioWeight}}'])).trim();
    if (weights) {
      assert.match(r.stdout, /300/);
      assert.equal(stored, '300');
    } else {
      assert.equal(r.stdout.trim(), 'none');
      assert.match(r.stderr, /WARNING: Your kernel does not support Block I\/O weight or the cgroup is not mounted. Weight discarded./);
      assert.equal(stored, '0', 'stored as dockerd stores it');
    }
    await dockerOk(d, ['rm', 'weighted']);
  });
});
