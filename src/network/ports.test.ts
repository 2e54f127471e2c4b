import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../base/index.js';
import { parsePortSpec, planPortRequests, portListView, portsView } from './ports.js';

function rejects(fn: () => unknown, kind: string, re: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof EngineError && err.kind === kind && re.test(err.message), String(re));
}

test('parsePortSpec: the -p forms the docker CLI accepts', async (t) => {
  const cases: Array<[string, Record<string, Array<{ HostIp: string; HostPort: string }>>]> = [
    ['80', { '80/tcp': [{ HostIp: '', HostPort: '' }] }],
    ['8080:80', { '80/tcp': [{ HostIp: '', HostPort: '8080' }] }],
    ['127.0.0.1:8080:80/udp', { '80/udp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] }],
    ['127.0.0.1::80', { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] }],
    ['8000-8001:80-81', { '80/tcp': [{ HostIp: '', HostPort: '8000' }], '81/tcp': [{ HostIp: '', HostPort: '8001' }] }],
    ['8000-8010:80', { '80/tcp': [{ HostIp: '', HostPort: '8000-8010' }] }],
    ['90-91', { '90/tcp': [{ HostIp: '', HostPort: '' }], '91/tcp': [{ HostIp: '', HostPort: '' }] }],
    ['0:80', { '80/tcp': [{ HostIp: '', HostPort: '0' }] }],
  ];
  for (const [spec, want] of cases) await t.test(spec, () => assert.deepEqual(parsePortSpec(spec), want));
});

test('parsePortSpec refuses bad specs with the CLI\'s messages', () => {
  rejects(() => parsePortSpec('abc'), 'invalid', /invalid containerPort: abc/);
  rejects(() => parsePortSpec('99999:80'), 'invalid', /invalid hostPort: 99999/);
  rejects(() => parsePortSpec('8000-8002:80-81'), 'invalid', /invalid ranges specified/);
  rejects(() => parsePortSpec('300.1.1.1:80:80'), 'invalid', /invalid IP address: 300.1.1.1/);
  rejects(() => parsePortSpec('80/icmp'), 'invalid', /invalid proto: icmp/);
  rejects(() => parsePortSpec('80/sctp'), 'not-implemented', /sctp/);
  rejects(() => parsePortSpec('[::1]:80:80'), 'not-implemented', /IPv6/);
  rejects(() => parsePortSpec('1:2:3:4'), 'invalid', /invalid port specification/);
});

test('planPortRequests: empty HostIp is the daemon default (127.0.0.1), empty HostPort random, -P every exposed port', () => {
  const reqs = planPortRequests({
    portBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }], '53/udp': [{ HostIp: '0.0.0.0', HostPort: '' }] },
    exposedPorts: { '80/tcp': {}, '9000/tcp': {}, '53/udp': {} },
    publishAllPorts: true,
    defaultHostIp: '127.0.0.1',
  });
  assert.deepEqual(reqs, [
    { containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPortFirst: 8080, hostPortLast: 8080 },
    { containerPort: 53, protocol: 'udp', hostIp: '0.0.0.0', hostPortFirst: 0, hostPortLast: 0 },
    { containerPort: 9000, protocol: 'tcp', hostIp: '127.0.0.1', hostPortFirst: 0, hostPortLast: 0 },
  ]);
  assert.deepEqual(planPortRequests({ exposedPorts: { '80/tcp': {} }, defaultHostIp: '127.0.0.1' }), [], 'exposed only: nothing published');
  assert.deepEqual(planPortRequests({ portBindings: { '80/tcp': null }, defaultHostIp: '127.0.0.1' }), [
    { containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPortFirst: 0, hostPortLast: 0 },
  ]);
  // '0' is a port the daemon picks, as '' (Testcontainers sends it; moby's allocator takes 0 as any).
  assert.deepEqual(planPortRequests({ portBindings: { '80/tcp': [{ HostPort: '0' }] }, defaultHostIp: '127.0.0.1' }), [
    { containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPortFirst: 0, hostPortLast: 0 },
  ]);
  assert.deepEqual(planPortRequests({ portBindings: { '80/tcp': [{ HostPort: '8000-8010' }] }, defaultHostIp: '0.0.0.0' }), [
    { containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPortFirst: 8000, hostPortLast: 8010 },
  ]);
});

test('planPortRequests: errors name the field; one host port twice is Docker\'s "already allocated"', () => {
  rejects(() => planPortRequests({ portBindings: { 'x/tcp': [] }, defaultHostIp: '127.0.0.1' }), 'invalid', /HostConfig.PortBindings\["x\/tcp"\]: invalid containerPort: x/);
  rejects(() => planPortRequests({ portBindings: { '80/tcp': [{ HostIp: 'nope' }] }, defaultHostIp: '127.0.0.1' }), 'invalid', /HostConfig.PortBindings\["80\/tcp"\]\[0\]: invalid IP address: nope/);
  rejects(() => planPortRequests({ portBindings: { '80/tcp': [{ HostPort: '00' }] }, defaultHostIp: '127.0.0.1' }), 'invalid', /invalid hostPort: 00/);
  rejects(() => planPortRequests({ portBindings: { '80/tcp': [{ HostPort: '0-5' }] }, defaultHostIp: '127.0.0.1' }), 'invalid', /invalid hostPort: 0$/);
  rejects(
    () => planPortRequests({ portBindings: { '80/tcp': [{ HostPort: '8080' }], '81/tcp': [{ HostPort: '8080' }] }, defaultHostIp: '127.0.0.1' }),
    'conflict',
    /Bind for 127.0.0.1:8080 failed: port is already allocated/,
  );
  rejects(() => planPortRequests({ exposedPorts: { 'bad': {} }, publishAllPorts: true, defaultHostIp: '127.0.0.1' }), 'invalid', /Config.ExposedPorts/);
});

test('portsView and portListView: the shapes inspect, docker port and docker ps read', () => {
  const mappings = [{ containerPort: 80, protocol: 'tcp' as const, hostIp: '127.0.0.1', hostPort: 32768 }];
  assert.deepEqual(portsView({ '80/tcp': {}, '9000/tcp': {} }, mappings), {
    '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '32768' }],
    '9000/tcp': null,
  });
  assert.deepEqual(portListView({ '9000/tcp': {} }, mappings), [
    { IP: '127.0.0.1', PrivatePort: 80, PublicPort: 32768, Type: 'tcp' },
    { PrivatePort: 9000, Type: 'tcp' },
  ]);
});
