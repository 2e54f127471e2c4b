import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { GoScalar, createBodyRoot, createBodySchema, execConfigSchema, fieldName, issuesText, readRequest } from './types.js';

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

test('GoScalar answers as zod\'s chain it replaces (type, refinements, nullish, transform): same value, same issues', () => {
  // The chains types.ts used before GoScalar, kept here as the reference.
  const zodInt = (type: string, min: number, max: number) =>
    z
      .number({ invalid_type_error: `expected a number (Go ${type})` })
      .refine((n) => Number.isInteger(n), { message: `expected an integer (Go ${type})` })
      .refine((n) => n >= min && n <= max, { message: `out of range for Go ${type}` })
      .nullish()
      .transform((v) => v ?? undefined);
  const zodStr = z.string({ invalid_type_error: 'expected a string' }).nullish().transform((v) => v ?? undefined);
  const zodBool = z.boolean({ invalid_type_error: 'expected true or false' }).nullish().transform((v) => v ?? undefined);
  const goInt = (type: string, min: number, max: number) =>
    new GoScalar('number', `expected a number (Go ${type})`, [
      [(n) => Number.isInteger(n), `expected an integer (Go ${type})`],
      [(n) => n >= min && n <= max, `out of range for Go ${type}`],
    ]);
  const pairs: Array<[string, z.ZodTypeAny, z.ZodTypeAny]> = [
    ['uint16', zodInt('uint16', 0, 65535), goInt('uint16', 0, 65535)],
    ['int64', zodInt('int64', -9223372036854775808, 9223372036854775807), goInt('int64', -9223372036854775808, 9223372036854775807)],
    ['string', zodStr, new GoScalar('string', 'expected a string')],
    ['bool', zodBool, new GoScalar('boolean', 'expected true or false')],
  ];
  const inputs: unknown[] = [undefined, null, 0, 1, -1, 1.5, -0.5, 65535, 65536, 70000.5, -70000.5, 1e30, -1e30, Infinity, -Infinity, NaN, '', 'x', '12', true, false, {}, [], [1], { a: 1 }];
  for (const [name, reference, scalar] of pairs) {
    for (const v of inputs) {
      // Inside an object, as every such field is: the issue's path and the key's absence.
      const wrap = (s: z.ZodTypeAny) => z.object({ F: s }).safeParse(v === undefined ? {} : { F: v });
      const want = wrap(reference);
      const got = wrap(scalar);
      const label = `${name} ${String(v)}`;
      assert.equal(got.success, want.success, label);
      if (want.success && got.success) {
        assert.deepEqual(got.data, want.data, label);
        assert.equal('F' in got.data && got.data['F'] !== undefined, 'F' in want.data && want.data['F'] !== undefined, label);
      } else if (!want.success && !got.success) {
        const view = (e: z.ZodError) => e.issues.map((i) => ({ code: i.code, path: i.path, message: i.message, ...(i.code === 'invalid_type' ? { expected: i.expected, received: i.received } : {}) }));
        assert.deepEqual(view(got.error), view(want.error), label);
      }
    }
  }
  // And through readRequest: the same Docker-worded line.
  const r = readRequest(createBodySchema, { Image: 'busybox', HostConfig: { BlkioWeight: 70000.5, CpuShares: 'x', Privileged: 1 }, Hostname: 7 }, { root: createBodyRoot });
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(
      issuesText(r.issues),
      'invalid Config.Hostname: expected a string, got number; invalid HostConfig.Privileged: expected true or false, got number; invalid HostConfig.CpuShares: expected a number (Go int64), got a string; invalid HostConfig.BlkioWeight: expected an integer (Go uint16); invalid HostConfig.BlkioWeight: out of range for Go uint16',
    );
  }
});
