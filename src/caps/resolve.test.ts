import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../base/index.js';
import { ALL_CAPS, CAPABILITIES, DOCKER_DEFAULT_CAPS, MOAT_DEFAULT_CAPS, capMask, type CapName } from './names.js';
import { ociCapabilities, resolveCapabilities } from './resolve.js';

const NO_SYS_RESOURCE = ALL_CAPS.filter((c) => c !== 'CAP_SYS_RESOURCE');
const mask = (caps: readonly CapName[]): string => capMask(caps).toString(16);

test('resolveCapabilities() reproduces the verified Docker CapEff values', async (t) => {
  // Docker 20.10 knows caps up to CAP_AUDIT_READ; this VM's root bounding set lacks CAP_SYS_RESOURCE
  const docker = { defaults: DOCKER_DEFAULT_CAPS, bounding: ALL_CAPS.filter((c) => c !== 'CAP_SYS_RESOURCE' && CAPABILITIES[c] <= 37) };
  const cases: { name: string; add?: string[]; drop?: string[]; privileged?: boolean; want: string }[] = [
    { name: 'default', want: 'a80425fb' },
    { name: '--cap-drop ALL', drop: ['ALL'], want: '0' },
    { name: '--cap-drop ALL --cap-add NET_BIND_SERVICE', drop: ['ALL'], add: ['CAP_NET_BIND_SERVICE'], want: '400' },
    { name: '--cap-add SYS_ADMIN', add: ['SYS_ADMIN'], want: 'a82425fb' },
    { name: '--privileged (bounding lacks SYS_RESOURCE)', privileged: true, want: '3ffeffffff' },
    { name: '--cap-add ALL --cap-drop SYS_RESOURCE', add: ['ALL'], drop: ['SYS_RESOURCE'], want: '3ffeffffff' },
    { name: '--cap-add ALL --cap-drop ALL means all', add: ['ALL'], drop: ['ALL'], want: '3ffeffffff' },
    { name: 'add wins over drop', add: ['SYS_ADMIN'], drop: ['SYS_ADMIN'], want: 'a82425fb' },
    { name: 'drop some defaults', drop: ['net_raw', 'mknod'], want: 'a00405fb' },
    { name: 'privileged ignores drop', privileged: true, drop: ['ALL'], want: '3ffeffffff' },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const caps = resolveCapabilities({ ...docker, capAdd: c.add, capDrop: c.drop, privileged: c.privileged });
      assert.equal(mask(caps), c.want);
    });
  }
});

test('resolveCapabilities() uses moat defaults and sorts without duplicates', () => {
  assert.equal(mask(resolveCapabilities({ defaults: MOAT_DEFAULT_CAPS })), '800405fb');
  const caps = resolveCapabilities({ defaults: MOAT_DEFAULT_CAPS, capAdd: ['CAP_CHOWN', 'chown', 'NET_RAW'], capDrop: null });
  assert.equal(caps.filter((c) => c === 'CAP_CHOWN').length, 1);
  assert.deepEqual(caps.slice(0, 2), ['CAP_CHOWN', 'CAP_DAC_OVERRIDE']);
  assert.ok(caps.includes('CAP_NET_RAW'));
});

test('resolveCapabilities() restricts to the bounding set', () => {
  const caps = resolveCapabilities({ defaults: DOCKER_DEFAULT_CAPS, bounding: ['CAP_CHOWN', 'CAP_KILL'] });
  assert.deepEqual(caps, ['CAP_CHOWN', 'CAP_KILL']);
  assert.deepEqual(resolveCapabilities({ defaults: [], capDrop: ['SYS_RESOURCE'], bounding: NO_SYS_RESOURCE }), []);
});

test('resolveCapabilities() rejects unknown and unavailable capabilities', () => {
  assert.throws(() => resolveCapabilities({ defaults: MOAT_DEFAULT_CAPS, capAdd: ['FOO'] }),
    (e: unknown) => e instanceof EngineError && e.status === 400 && e.message === 'invalid CapAdd: unknown capability: "CAP_FOO"');
  assert.throws(() => resolveCapabilities({ defaults: MOAT_DEFAULT_CAPS, capDrop: ['nope'] }), /invalid CapDrop: unknown capability: "CAP_NOPE"/);
  assert.throws(() => resolveCapabilities({ defaults: MOAT_DEFAULT_CAPS, capAdd: ['SYS_RESOURCE'], bounding: NO_SYS_RESOURCE }),
    /invalid CapAdd: capability not supported by your kernel or not available in the current environment: "CAP_SYS_RESOURCE"/);
  // even privileged containers validate names, as dockerd does at create
  assert.throws(() => resolveCapabilities({ defaults: [], privileged: true, capAdd: ['FOO'] }), EngineError);
});

test('ociCapabilities() gives root all three sets and a non-root user bounding only', () => {
  const caps = resolveCapabilities({ defaults: DOCKER_DEFAULT_CAPS });
  const root = ociCapabilities(caps, { user: 'root' });
  assert.equal(mask(root.effective), 'a80425fb');
  assert.deepEqual(root.bounding, root.permitted);
  assert.equal(root.inheritable, undefined);
  assert.equal(root.ambient, undefined);
  const user = ociCapabilities(caps, { user: 'nonroot' });
  assert.equal(mask(user.bounding), 'a80425fb');
  assert.deepEqual(user.effective, []);
  assert.deepEqual(user.permitted, []);
  assert.equal(user.ambient, undefined);
});
