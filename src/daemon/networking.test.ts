// What the networking seam's implementation asks the netavark driver for, from a container
// record: the networks in order with their endpoint settings, the published ports, and
// the modes that never reach the driver. Pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../base/index.js';
import type { ContainerRecord } from '../engine/index.js';
import { networkRequests, portRequests } from './networking.js';

const BRIDGE = { defaultBridge: true };
const NO_BRIDGE = { defaultBridge: false };

function rec(hc: Partial<ContainerRecord['HostConfig']>, extra: Partial<ContainerRecord> = {}, cfg: Partial<ContainerRecord['Config']> = {}): ContainerRecord {
  return { Config: { Image: 'busybox', ...cfg }, HostConfig: hc, ...extra } as ContainerRecord;
}

test('the default bridge unless NetworkMode names another network; none, host, container:X and NetworkDisabled never reach the driver', () => {
  assert.deepEqual(networkRequests(rec({}), BRIDGE), [{ network: 'bridge' }]);
  assert.deepEqual(networkRequests(rec({ NetworkMode: 'default' }), BRIDGE), [{ network: 'bridge' }]);
  assert.deepEqual(networkRequests(rec({ NetworkMode: 'front' }), BRIDGE), [{ network: 'front' }]);
  for (const mode of ['none', 'host', 'container:web']) assert.equal(networkRequests(rec({ NetworkMode: mode }), BRIDGE), undefined, mode);
  assert.equal(networkRequests(rec({}, {}, { NetworkDisabled: true }), BRIDGE), undefined);
});

test('without a default bridge (--bridge none): it is left out, the other networks stay, and with none left no driver', () => {
  for (const mode of [undefined, 'default', 'bridge']) assert.equal(networkRequests(rec(mode === undefined ? {} : { NetworkMode: mode }), NO_BRIDGE), undefined, String(mode));
  const withBack = rec({ NetworkMode: 'default' }, { NetworkingConfig: { EndpointsConfig: { default: { Aliases: ['d'] }, back: { Aliases: ['b'] } } } });
  assert.deepEqual(networkRequests(withBack, NO_BRIDGE), [{ network: 'back', aliases: ['b'] }]);
  assert.deepEqual(networkRequests(withBack, BRIDGE), [{ network: 'bridge', aliases: ['d'] }, { network: 'back', aliases: ['b'] }]);
  assert.deepEqual(networkRequests(rec({ NetworkMode: 'front' }), NO_BRIDGE), [{ network: 'front' }]);
});

test('endpoint settings: aliases, a static address and the MAC go with their network; NetworkMode comes first', () => {
  const r = rec(
    { NetworkMode: 'front' },
    { NetworkingConfig: { EndpointsConfig: { back: { Aliases: ['b'] }, front: { Aliases: ['web'], IPAMConfig: { IPv4Address: '10.1.0.9' } } } } },
    { MacAddress: '02:42:ac:11:00:09' },
  );
  assert.deepEqual(networkRequests(r, BRIDGE), [
    { network: 'front', aliases: ['web'], ipv4Address: '10.1.0.9', macAddress: '02:42:ac:11:00:09' },
    { network: 'back', aliases: ['b'] },
  ]);
});

test('published ports: bindings, -P, the daemon address when none is named, and a bad binding named', () => {
  const r = rec({ PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] }, PublishAllPorts: true }, {}, { ExposedPorts: { '80/tcp': {}, '53/udp': {} } });
  assert.deepEqual(
    portRequests(r, '127.0.0.1').map((p) => `${p.hostIp}:${p.hostPortFirst}->${p.containerPort}/${p.protocol}`),
    ['127.0.0.1:8080->80/tcp', '127.0.0.1:0->53/udp'],
  );
  assert.throws(
    () => portRequests(rec({ PortBindings: { '80/tcp': [{ HostIp: 'nope', HostPort: '1' }] } }), '127.0.0.1'),
    (e: unknown) => e instanceof EngineError && e.status === 400 && /HostConfig\.PortBindings\["80\/tcp"\]\[0\]/.test(e.message),
  );
});
