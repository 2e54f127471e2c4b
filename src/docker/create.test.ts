import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { EngineError } from '../base/index.js';
import { CREATE_FIELDS, createFieldNames, readContainerCreate } from './create.js';
import { CONTAINER_CREATE, EXEC_CREATE, EXEC_START, VOLUME_CREATE, type FieldType, type Schema } from './fields.js';
import { createBodySchema, execConfigSchema, execStartSchema, volumeCreateSchema } from './types.js';

const is400 = (re: RegExp) => (e: unknown): boolean => e instanceof EngineError && e.status === 400 && re.test(e.message);

test('CREATE_FIELDS has one row for every field of Docker create body, and no other', () => {
  const fields = createFieldNames();
  const rows = Object.keys(CREATE_FIELDS);
  assert.deepEqual(fields.filter((f) => !rows.includes(f)), [], 'fields without a row');
  assert.deepEqual(rows.filter((r) => !fields.includes(r)), [], 'rows without a field');
  for (const [field, rule] of Object.entries(CREATE_FIELDS)) {
    if (rule.support === 'ignored') assert.ok(rule.why !== undefined && rule.why !== '', `${field}: an ignored field says why`);
  }
});

test('readContainerCreate refuses every set field the table refuses, naming it, and accepts what clients send by default', async (t) => {
  const samples: Record<string, unknown> = {
    'HostConfig.VolumeDriver': 'nfs',
    'HostConfig.Cgroup': 'x',
    'HostConfig.StorageOpt': { size: '1G' },
    'HostConfig.Runtime': 'crun',
    'HostConfig.Isolation': 'hyperv',
    'HostConfig.BlkioWeightDevice': [{ Path: '/dev/sda', Weight: 10 }],
    'HostConfig.BlkioDeviceReadBps': [{ Path: '/dev/sda', Rate: 10 }],
    'HostConfig.BlkioDeviceWriteBps': [{ Path: '/dev/sda', Rate: 10 }],
    'HostConfig.BlkioDeviceReadIOps': [{ Path: '/dev/sda', Rate: 10 }],
    'HostConfig.BlkioDeviceWriteIOps': [{ Path: '/dev/sda', Rate: 10 }],
    'HostConfig.CpuRealtimePeriod': 1000,
    'HostConfig.CpuRealtimeRuntime': 1000,
    'HostConfig.DeviceRequests': [{ Driver: 'nvidia', Count: 1 }],
    'HostConfig.KernelMemory': 1 << 20,
    'HostConfig.KernelMemoryTCP': 1 << 20,
    'HostConfig.CpuCount': 1,
    'HostConfig.CpuPercent': 10,
    'HostConfig.IOMaximumIOps': 10,
    'HostConfig.IOMaximumBandwidth': 10,
    'HostConfig.Capabilities': ['CAP_CHOWN'],
  };
  for (const [field, rule] of Object.entries(CREATE_FIELDS)) {
    if (rule.support !== 'refused') continue;
    await t.test(field, () => {
      assert.ok(field in samples, `a sample value for ${field}`);
      const [where, key] = field.split('.') as [string, string];
      const body = where === 'Config' ? { Image: 'bb', [key]: samples[field] } : { Image: 'bb', HostConfig: { [key]: samples[field] } };
      assert.throws(() => readContainerCreate(body), is400(new RegExp(`^${field.replace('.', '\\.')} is not supported by moat yet$`)));
    });
  }
  // What the docker CLI sends for options the user did not give passes.
  const quiet = readContainerCreate({ Image: 'bb', HostConfig: { RestartPolicy: { Name: 'no' }, Runtime: 'runc', Isolation: 'default', VolumeDriver: 'local', Init: false, PortBindings: {}, Links: null, CpuCount: 0 } });
  assert.equal(quiet.config.Image, 'bb');
  assert.deepEqual(quiet.hostConfig.RestartPolicy, { Name: 'no' });
  // Ignored fields are accepted.
  const ignored = readContainerCreate({ Image: 'bb', ArgsEscaped: true, Shell: ['/bin/sh'], NetworkingConfig: { EndpointsConfig: { bridge: {} } }, HostConfig: { ContainerIDFile: '/tmp/id' } });
  assert.equal(ignored.config.Image, 'bb');
});

test('HostConfig.Capabilities (a whole capability set) is refused, not dropped: moat would have run the default set', () => {
  // Before: the create reader dropped the field as unknown, and the container got moat's
  // default capabilities whatever set the client asked for.
  assert.throws(() => readContainerCreate({ Image: 'bb', HostConfig: { Capabilities: ['CAP_CHOWN'] } }), is400(/^HostConfig\.Capabilities is not supported by moat yet$/));
  assert.equal(readContainerCreate({ Image: 'bb', HostConfig: { Capabilities: null } }).config.Image, 'bb', 'null (unset) is fine');
});

test('readContainerCreate: the first refused field in the table is the one named', () => {
  assert.throws(() => readContainerCreate({ Image: 'bb', HostConfig: { StorageOpt: { size: '1G' }, Cgroup: 'x' } }), is400(/^HostConfig\.Cgroup /));
});

/** The JSON shape a zod schema accepts, in fields.ts terms (names and kinds). */
function shapeOf(schema: z.ZodTypeAny): FieldType {
  let s: z.ZodTypeAny = schema;
  for (;;) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodTypeAny;
    else if (s instanceof z.ZodEffects) s = s.innerType() as z.ZodTypeAny;
    else break;
  }
  if (s instanceof z.ZodBoolean) return 'bool';
  if (s instanceof z.ZodString) return 'str';
  if (s instanceof z.ZodNumber) return 'int';
  if (s instanceof z.ZodUnion) return 'strslice';
  if (s instanceof z.ZodArray) {
    const item = shapeOf(s.element as z.ZodTypeAny);
    return item === 'str' ? 'strs' : { arrayOf: item };
  }
  if (s instanceof z.ZodRecord) return { mapOf: shapeOf(s.valueSchema as z.ZodTypeAny) };
  if (s instanceof z.ZodObject) {
    const shape = s.shape as Record<string, z.ZodTypeAny>;
    if (Object.keys(shape).length === 0) return 'any';
    return { struct: Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, shapeOf(v)])) };
  }
  return 'any';
}

/** Differences between the strict reader's table and a zod schema, as `path: table vs zod` lines. */
function compare(table: FieldType, zod: FieldType, path: string, out: string[]): void {
  if (table === 'any' || zod === 'any') return; // 'any' is checked generically by the strict reader
  if (table === 'num' && zod === 'int') return;
  if (typeof table === 'string' || typeof zod === 'string') {
    if (JSON.stringify(table) !== JSON.stringify(zod)) out.push(`${path}: ${JSON.stringify(table)} vs ${JSON.stringify(zod)}`);
    return;
  }
  if ('struct' in table && 'struct' in zod) {
    const names = new Set([...Object.keys(table.struct), ...Object.keys(zod.struct)]);
    for (const n of names) {
      const a = table.struct[n];
      const b = zod.struct[n];
      if (a === undefined || b === undefined) out.push(`${path}.${n}: ${a === undefined ? 'missing from the table' : 'missing from the zod schema'}`);
      else compare(a, b, `${path}.${n}`, out);
    }
    return;
  }
  if ('arrayOf' in table && 'arrayOf' in zod) return compare(table.arrayOf, zod.arrayOf, `${path}[]`, out);
  if ('mapOf' in table && 'mapOf' in zod) return compare(table.mapOf, zod.mapOf, `${path}{}`, out);
  out.push(`${path}: ${JSON.stringify(Object.keys(table))} vs ${JSON.stringify(Object.keys(zod))}`);
}

test("Docker's field types are described once: the strict reader's table and the zod schemas agree field by field", async (t) => {
  const pairs: Array<[string, Schema, z.ZodTypeAny]> = [
    ['container create', CONTAINER_CREATE, createBodySchema],
    ['exec create', EXEC_CREATE, execConfigSchema],
    ['exec start', EXEC_START, execStartSchema],
    ['volume create', VOLUME_CREATE, volumeCreateSchema],
  ];
  for (const [name, table, schema] of pairs) {
    await t.test(name, () => {
      const out: string[] = [];
      compare({ struct: table }, shapeOf(schema), '', out);
      assert.deepEqual(out, []);
    });
  }
});

test('readContainerCreate: HostConfig.CgroupParent is checked (cgroup-parent.ts) and kept as given', () => {
  assert.equal(readContainerCreate({ Image: 'bb', HostConfig: { CgroupParent: '/ci/jobs' } }).hostConfig.CgroupParent, '/ci/jobs');
  assert.throws(() => readContainerCreate({ Image: 'bb', HostConfig: { CgroupParent: '../x' } }), is400(/^HostConfig\.CgroupParent "\.\.\/x": "\.\." is not allowed/));
});
