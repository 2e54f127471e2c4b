import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBodyRoot, createBodySchema, execConfigSchema, fieldName, issuesText, readRequest } from './types.js';

const read = (body: unknown): ReturnType<typeof readRequest<typeof createBodySchema>> => readRequest(createBodySchema, body, { root: createBodyRoot });

test('readRequest(createBodySchema) refuses the inputs of issue 12 with the field named', async (t) => {
  const cases: Array<{ name: string; body: Record<string, unknown>; field: string; message: RegExp }> = [
    { name: 'Devices [{}]', body: { HostConfig: { Devices: [{}] } }, field: 'HostConfig.Devices[0].PathOnHost', message: /required/ },
    { name: 'Devices with PathOnHost only is fine; a number is not', body: { HostConfig: { Devices: [{ PathOnHost: 5 }] } }, field: 'HostConfig.Devices[0].PathOnHost', message: /expected a string, got number/ },
    { name: 'Ulimits [null]', body: { HostConfig: { Ulimits: [null] } }, field: 'HostConfig.Ulimits[0]', message: /expected an object, got null/ },
    { name: 'Mounts [null]', body: { HostConfig: { Mounts: [null] } }, field: 'HostConfig.Mounts[0]', message: /expected an object, got null/ },
    { name: 'Config.Volumes {"/a": 5}', body: { Volumes: { '/a': 5 } }, field: 'Config.Volumes["/a"]', message: /expected an object/ },
    { name: 'ConsoleSize [-1, 2^40]', body: { HostConfig: { ConsoleSize: [-1, 2 ** 40] } }, field: 'HostConfig.ConsoleSize[0]', message: /0 to 65535/ },
    { name: 'Memory 1.5', body: { HostConfig: { Memory: 1.5 } }, field: 'HostConfig.Memory', message: /integer/ },
    { name: 'BlkioWeight 70000', body: { HostConfig: { BlkioWeight: 70000 } }, field: 'HostConfig.BlkioWeight', message: /uint16/ },
    { name: 'Env as a string', body: { Env: 'A=b' }, field: 'Config.Env', message: /list of strings/ },
    { name: 'Labels with a number', body: { Labels: { a: 1 } }, field: 'Config.Labels.a', message: /expected a string/ },
    { name: 'HostConfig a list', body: { HostConfig: [] }, field: 'HostConfig', message: /expected an object, got a list/ },
    { name: 'Image a number', body: { Image: 7 }, field: 'Config.Image', message: /expected a string/ },
    { name: 'PidsLimit a string', body: { HostConfig: { PidsLimit: '5' } }, field: 'HostConfig.PidsLimit', message: /Go \*int64/ },
    { name: 'RestartPolicy a string', body: { HostConfig: { RestartPolicy: 'always' } }, field: 'HostConfig.RestartPolicy', message: /expected an object/ },
    { name: 'Tmpfs value a number', body: { HostConfig: { Tmpfs: { '/t': 1 } } }, field: 'HostConfig.Tmpfs["/t"]', message: /expected a string/ },
    { name: 'NetworkingConfig endpoints a list', body: { NetworkingConfig: { EndpointsConfig: [] } }, field: 'NetworkingConfig.EndpointsConfig', message: /expected an object/ },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const r = read({ Image: 'busybox', ...c.body });
      assert.equal(r.ok, false);
      if (r.ok) return;
      const hit = r.issues.find((i) => i.field === c.field);
      assert.ok(hit, `issues: ${JSON.stringify(r.issues)}`);
      assert.match(hit.message, c.message);
      assert.match(issuesText(r.issues), new RegExp(`invalid ${c.field.replace(/[[\]./"^$*+?()|\\]/g, '\\$&')}: `));
    });
  }
});

test('readRequest(createBodySchema) reads what the docker CLI sends, with Go\'s zero values and nulls', () => {
  const r = read({
    Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: true, AttachStderr: true, Tty: false, OpenStdin: false, StdinOnce: false,
    Env: null, Cmd: ['echo', 'hi'], Image: 'bb:local', Volumes: {}, WorkingDir: '', Entrypoint: null, OnBuild: null, Labels: {},
    HostConfig: {
      Binds: null, ContainerIDFile: '', LogConfig: { Type: '', Config: {} }, NetworkMode: 'default', PortBindings: {}, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      AutoRemove: true, VolumeDriver: '', VolumesFrom: null, ConsoleSize: [0, 0], CapAdd: null, CapDrop: null, CgroupnsMode: '', Dns: [], DnsOptions: [], DnsSearch: [],
      ExtraHosts: null, GroupAdd: null, IpcMode: '', Cgroup: '', Links: null, OomScoreAdj: 0, PidMode: '', Privileged: false, PublishAllPorts: false, ReadonlyRootfs: false,
      SecurityOpt: null, UTSMode: '', UsernsMode: '', ShmSize: 0, Isolation: '', CpuShares: 0, Memory: 0, NanoCpus: 0, CgroupParent: '', BlkioWeight: 0,
      BlkioWeightDevice: [], BlkioDeviceReadBps: [], BlkioDeviceWriteBps: [], BlkioDeviceReadIOps: [], BlkioDeviceWriteIOps: [], CpuPeriod: 0, CpuQuota: 0,
      CpuRealtimePeriod: 0, CpuRealtimeRuntime: 0, CpusetCpus: '', CpusetMems: '', Devices: [], DeviceCgroupRules: null, DeviceRequests: null, MemoryReservation: 0,
      MemorySwap: 0, MemorySwappiness: null, OomKillDisable: false, PidsLimit: null, Ulimits: [], CpuCount: 0, CpuPercent: 0, IOMaximumIOps: 0, IOMaximumBandwidth: 0,
      MaskedPaths: null, ReadonlyPaths: null,
    },
    NetworkingConfig: { EndpointsConfig: { default: { IPAMConfig: null, Links: null, Aliases: null, MacAddress: '', DriverOpts: null, GwPriority: 0, NetworkID: '' } } },
    Unknown: { ignored: true },
    Hostname2: 5,
  });
  assert.equal(r.ok, true, JSON.stringify(r));
  if (!r.ok) return;
  assert.deepEqual(r.value.Cmd, ['echo', 'hi']);
  assert.equal(r.value.Env, null, 'a nil slice stays null');
  assert.equal('Unknown' in r.value, false, 'unknown keys are dropped');
  assert.deepEqual(r.value.HostConfig?.ConsoleSize, [0, 0]);
  assert.equal(r.value.HostConfig?.PidsLimit, null);
});

test('readRequest(createBodySchema) keeps Go\'s decoding quirks', () => {
  const r = read({ Image: 'x', Cmd: 'sh', Hostname: null, HostConfig: { CapAdd: 'CAP_NET_ADMIN', ConsoleSize: [24], Devices: [{ PathOnHost: '/dev/null' }], Ulimits: [{ Name: 'nofile' }] } });
  assert.equal(r.ok, true, JSON.stringify(r));
  if (!r.ok) return;
  assert.deepEqual(r.value.Cmd, ['sh'], 'StrSlice: a string is one element');
  assert.equal(r.value.Hostname, undefined, 'null leaves the zero value');
  assert.deepEqual(r.value.HostConfig?.CapAdd, ['CAP_NET_ADMIN']);
  assert.deepEqual(r.value.HostConfig?.ConsoleSize, [24, 0], 'a [2]uint is filled with 0');
  assert.deepEqual(r.value.HostConfig?.Devices, [{ PathOnHost: '/dev/null', PathInContainer: '', CgroupPermissions: '' }]);
  assert.deepEqual(r.value.HostConfig?.Ulimits, [{ Name: 'nofile', Hard: 0, Soft: 0 }]);
});

test('execConfigSchema reads exec bodies; fieldName names fields as Docker does', () => {
  const ok = readRequest(execConfigSchema, { Cmd: 'ls', AttachStdout: true });
  assert.equal(ok.ok && ok.value.Cmd?.[0], 'ls');
  const bad = readRequest(execConfigSchema, { Cmd: ['ls'], Env: [1] });
  assert.equal(bad.ok, false);
  if (!bad.ok) assert.equal(bad.issues[0]!.field, 'Env[0]');
  assert.equal(fieldName(['HostConfig', 'Mounts', 2, 'TmpfsOptions', 'Mode']), 'HostConfig.Mounts[2].TmpfsOptions.Mode');
  assert.equal(fieldName(['Volumes', '/a b'], 'Config'), 'Config.Volumes["/a b"]');
  assert.equal(fieldName([]), 'body');
});
