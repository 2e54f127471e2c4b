import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../base/index.js';
import { blkioSupportFrom, blockDevicePaths, blockIOFor, effectivePidsLimit, parseCpusetList, planResources } from './resources.js';
import { DEFAULT_DEVICE_RULES } from './security.js';

const is400 = (msg: string) => (e: unknown): boolean => e instanceof EngineError && e.status === 400 && e.message === msg;
const opts = { defaultPidsLimit: 2048 };

test('effectivePidsLimit(): unset/0 → daemon default, negative → unlimited', () => {
  assert.equal(effectivePidsLimit(undefined, opts), 2048);
  assert.equal(effectivePidsLimit(null, opts), 2048);
  assert.equal(effectivePidsLimit(0, opts), 2048);
  assert.equal(effectivePidsLimit(-1, opts), null);
  assert.equal(effectivePidsLimit(64, opts), 64);
  assert.equal(effectivePidsLimit(0, { defaultPidsLimit: 0 }), null);
  assert.equal(effectivePidsLimit(0, { defaultPidsLimit: -1 }), null);
});

test('planResources() of the CLI defaults gives pids 2048 and the default devices', () => {
  const cliDefaults = { Memory: 0, MemorySwap: 0, MemoryReservation: 0, MemorySwappiness: -1, OomKillDisable: false, NanoCpus: 0,
    CpuShares: 0, CpuQuota: 0, CpuPeriod: 0, CpusetCpus: '', CpusetMems: '', BlkioWeight: 0, PidsLimit: 0, DeviceCgroupRules: null, Privileged: false };
  const { resources, warnings } = planResources(cliDefaults, opts);
  assert.deepEqual(resources.pids, { limit: 2048 });
  assert.equal(resources.memory, undefined);
  assert.equal(resources.cpu, undefined);
  assert.equal(resources.blockIO, undefined);
  assert.deepEqual(resources.devices, DEFAULT_DEVICE_RULES);
  assert.deepEqual(warnings, []);
  assert.deepEqual(planResources({ PidsLimit: -1 }, opts).resources.pids, { limit: -1 });
});

test('planResources() maps the create_flags.txt HostConfig', () => {
  const { resources, warnings } = planResources({ CpuShares: 512, Memory: 67108864, NanoCpus: 1500000000, MemoryReservation: 33554432,
    MemorySwap: 134217728, MemorySwappiness: -1, OomKillDisable: true, PidsLimit: 64, CpusetCpus: '0', BlkioWeight: 300 }, opts);
  assert.deepEqual(resources.memory, { limit: 67108864, reservation: 33554432, swap: 134217728, disableOOMKiller: true });
  assert.deepEqual(resources.cpu, { shares: 512, quota: 150000, period: 100000, cpus: '0' });
  assert.deepEqual(resources.blockIO, { weight: 300 });
  assert.deepEqual(resources.pids, { limit: 64 });
  assert.deepEqual(warnings, []);
});

test('planResources() applies Docker defaults and warnings', () => {
  assert.equal(planResources({ Memory: 67108864 }, opts).resources.memory?.swap, 134217728);
  assert.equal(planResources({ Memory: 67108864, MemorySwap: -1 }, opts).resources.memory?.swap, -1);
  const noSwap = planResources({ Memory: 67108864 }, { ...opts, swapLimitSupported: false });
  assert.equal(noSwap.resources.memory?.swap, undefined);
  assert.match(noSwap.warnings[0] ?? '', /does not support swap limit/);
  assert.match(planResources({ OomKillDisable: true }, opts).warnings[0] ?? '', /no memory limit is set/);
  assert.equal(planResources({ CpuShares: 1 }, opts).resources.cpu?.shares, 2);
  // moby's create check (dockerd 20.10 let runc fail the start on cgroup v1 instead).
  assert.throws(() => planResources({ CpuShares: -5 }, opts), /invalid CPU shares \(-5\): value must be a positive integer/);
  assert.equal(planResources({ CpuShares: 1e6 }, opts).resources.cpu?.shares, 262144);
  assert.equal(planResources({ MemorySwappiness: 10 }, opts).resources.memory?.swappiness, 10);
  assert.deepEqual(planResources({ CpuQuota: 50000, CpuPeriod: 100000 }, opts).resources.cpu, { quota: 50000, period: 100000 });
  const priv = planResources({ Privileged: true, DeviceCgroupRules: ['c 1:1 r'] }, opts);
  assert.deepEqual(priv.resources.devices, [{ allow: true, access: 'rwm' }]);
  assert.equal(priv.warnings.length, 1);
  const dev = planResources({ DeviceCgroupRules: ['c 42:* rmw'] }, { ...opts, devices: [{ type: 'b', major: 8, minor: 0, permissions: 'r' }] });
  assert.deepEqual(dev.resources.devices?.slice(-2), [{ allow: true, type: 'b', major: 8, minor: 0, access: 'r' }, { allow: true, type: 'c', major: 42, access: 'rmw' }]);
});

test('planResources() rejects invalid values with dockerd wording', () => {
  const cases: [Parameters<typeof planResources>[0], string][] = [
    [{ Memory: 1024 }, 'Minimum memory limit allowed is 6MB'],
    [{ Memory: 67108864, MemorySwap: 1000 }, 'Minimum memoryswap limit should be larger than memory limit, see usage'],
    [{ MemorySwap: 67108864 }, 'You should always set the Memory limit when using Memoryswap limit, see usage'],
    [{ MemoryReservation: 1 }, 'Minimum memory reservation allowed is 6MB'],
    [{ Memory: 7000000, MemoryReservation: 8000000 }, 'Minimum memory limit can not be less than memory reservation limit, see usage'],
    [{ MemorySwappiness: 101 }, 'Invalid value: 101, valid memory swappiness range is 0-100'],
    [{ NanoCpus: 1e9, CpuPeriod: 100000 }, 'Conflicting options: Nano CPUs and CPU Period cannot both be set'],
    [{ NanoCpus: 1e9, CpuQuota: 50000 }, 'Conflicting options: Nano CPUs and CPU Quota cannot both be set'],
    [{ CpuPeriod: 10 }, 'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)'],
    [{ CpuQuota: 10 }, 'CPU cfs quota can not be less than 1ms (i.e. 1000)'],
    [{ CpusetCpus: '0-x' }, 'Invalid value 0-x for cpuset cpus: invalid format: 0-x'],
    [{ CpusetMems: '3-1' }, 'Invalid value 3-1 for cpuset mems: invalid format: 3-1'],
    [{ BlkioWeight: 5 }, 'Range of blkio weight is from 10 to 1000'],
    [{ BlkioWeight: 1001 }, 'Range of blkio weight is from 10 to 1000'],
    [{ DeviceCgroupRules: ['c 1:3'] }, "invalid device cgroup rule format: 'c 1:3'"],
  ];
  for (const [hc, msg] of cases) assert.throws(() => planResources(hc, opts), is400(msg), msg);
  assert.throws(() => planResources({ NanoCpus: 3e9 }, { ...opts, numCpus: 2 }), is400('Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available'));
  assert.throws(() => planResources({ CpusetCpus: '0-3' }, { ...opts, availableCpus: '0-1' }), is400('Requested CPUs are not available - requested 0-3, available: 0-1'));
  assert.doesNotThrow(() => planResources({ CpusetCpus: '0,1', CpusetMems: '0' }, { ...opts, availableCpus: '0-1', availableMems: '0' }));
});

test('parseCpusetList()', () => {
  assert.deepEqual([...parseCpusetList('0-2,5')], [0, 1, 2, 5]);
  assert.deepEqual([...parseCpusetList('')], []);
  assert.throws(() => parseCpusetList('1,'), /invalid format/);
});

const NO_BLKIO = { weight: false, weightDevice: false, readBps: false, writeBps: false, readIOps: false, writeIOps: false };
const THROTTLES_ONLY = { ...NO_BLKIO, readBps: true, writeBps: true, readIOps: true, writeIOps: true };

test('planResources(): per-device blkio limits by path, numbered at start by blockIOFor()', () => {
  const p = planResources({
    BlkioWeight: 300,
    BlkioWeightDevice: [{ Path: '/dev/sda', Weight: 200 }],
    BlkioDeviceReadBps: [{ Path: '/dev/vda', Rate: 1048576 }],
    BlkioDeviceWriteIOps: [{ Path: '/dev/disk/by-id/x', Rate: 50 }, { Path: '/dev/vda', Rate: 0 }],
  }, opts);
  assert.deepEqual(p.resources.blockIO, { weight: 300 });
  assert.deepEqual(p.blockDevices, { weightDevice: [{ path: '/dev/sda', weight: 200 }], readBps: [{ path: '/dev/vda', rate: 1048576 }], writeIOps: [{ path: '/dev/disk/by-id/x', rate: 50 }, { path: '/dev/vda', rate: 0 }] });
  assert.deepEqual(p.discarded, []);
  assert.deepEqual(blockDevicePaths(p.blockDevices), ['/dev/sda', '/dev/vda', '/dev/disk/by-id/x']);
  const numbers = new Map([['/dev/sda', { major: 8, minor: 0 }], ['/dev/vda', { major: 254, minor: 0 }], ['/dev/disk/by-id/x', { major: 8, minor: 16 }]]);
  assert.deepEqual(blockIOFor(p.resources.blockIO, p.blockDevices, numbers), {
    weight: 300,
    weightDevice: [{ major: 8, minor: 0, weight: 200 }],
    throttleReadBpsDevice: [{ major: 254, minor: 0, rate: 1048576 }],
    throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 50 }, { major: 254, minor: 0, rate: 0 }],
  });
  assert.equal(blockIOFor(undefined, {}, new Map()), undefined);
  assert.throws(() => blockIOFor(undefined, { readBps: [{ path: '/dev/sdz', rate: 1 }] }, numbers), /\/dev\/sdz: not looked up/);
});

test('planResources(): a blkio weight the host cannot apply is dropped with dockerd\'s warning, a throttle is refused', () => {
  const w = planResources({ BlkioWeight: 5, BlkioWeightDevice: [{ Path: '/dev/vda', Weight: 300 }], BlkioDeviceReadBps: [{ Path: '/dev/vda', Rate: 1 }] }, { ...opts, blkio: THROTTLES_ONLY });
  assert.equal(w.resources.blockIO, undefined, 'no range check of a weight that is dropped (dockerd: the same)');
  assert.deepEqual(w.discarded, ['BlkioWeight', 'BlkioWeightDevice']);
  assert.deepEqual(w.warnings, [
    'Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.',
    'Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.',
  ]);
  assert.deepEqual(w.blockDevices, { readBps: [{ path: '/dev/vda', rate: 1 }] });
  for (const [field, what] of [['BlkioDeviceReadBps', 'BPS Block I/O read limit'], ['BlkioDeviceWriteBps', 'BPS Block I/O write limit'], ['BlkioDeviceReadIOps', 'IOPS Block read limit'], ['BlkioDeviceWriteIOps', 'IOPS Block write limit']] as const) {
    assert.throws(() => planResources({ [field]: [{ Path: '/dev/vda', Rate: 1 }] }, { ...opts, blkio: NO_BLKIO }), is400(`${field} cannot be applied: this host's cgroups have no ${what} (moat refuses a limit it cannot enforce)`));
    assert.doesNotThrow(() => planResources({ [field]: [] }, { ...opts, blkio: NO_BLKIO }), 'an empty list asks for nothing');
  }
});

test('planResources(): blkio device paths are clean paths under /dev; per-device weights 10 to 1000 or 0', () => {
  for (const path of ['/tmp/x', '/dev/../etc/passwd', '/dev//vda', '/dev/vda/', 'dev/vda', '', '/dev/./vda']) {
    assert.throws(() => planResources({ BlkioDeviceWriteBps: [{ Path: path, Rate: 1 }] }, opts), is400(`invalid BlkioDeviceWriteBps: bad format for device path: ${JSON.stringify(path)} (a block device under /dev)`), path);
  }
  assert.throws(() => planResources({ BlkioWeightDevice: [{ Path: '/dev/vda', Weight: 5 }] }, opts), is400('invalid BlkioWeightDevice: invalid weight for device: /dev/vda:5 (10 to 1000, or 0)'));
  assert.throws(() => planResources({ BlkioWeightDevice: [{ Path: '/dev/vda', Weight: 1001 }] }, opts), /invalid weight for device/);
  assert.deepEqual(planResources({ BlkioWeightDevice: [{ Path: '/dev/vda', Weight: 0 }] }, opts).blockDevices, { weightDevice: [{ path: '/dev/vda', weight: 0 }] });
});

test('blkioSupportFrom(): v1 weight from blkio.weight or blkio.bfq.weight; v2 all or nothing by the io controller', () => {
  assert.deepEqual(blkioSupportFrom(1, ['blkio.bfq.weight', 'blkio.bfq.weight_device', 'blkio.throttle.write_iops_device']), { weight: true, weightDevice: true, readBps: false, writeBps: false, readIOps: false, writeIOps: true });
  assert.deepEqual(blkioSupportFrom(1, ['blkio.weight', 'blkio.weight_device']), { weight: true, weightDevice: true, readBps: false, writeBps: false, readIOps: false, writeIOps: false });
  assert.equal(blkioSupportFrom(2, [], 'cpu iox').readBps, false);
  assert.equal(blkioSupportFrom(2, [], 'io').writeIOps, true);
});
