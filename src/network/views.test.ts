import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineError } from '../base/index.js';
import { findGuardRules, guardRules, splitSaveLine } from './guard-rules.js';
import { NetworkStore } from './store.js';
import type { BuiltinNetwork, EndpointRecord, NetworkRecord } from './types.js';
import { builtinNetworkView, checkNetworkCreate, filterNetworks, findNetwork, networkInUse, networkSettingsView, networkView } from './views.js';

function net(id: string, name: string, over: Partial<NetworkRecord> = {}): NetworkRecord {
  return {
    id: id.repeat(64 / id.length),
    name,
    driver: 'bridge',
    bridge: `moatbr-${id.repeat(8).slice(0, 8)}`,
    created: '2026-01-01T00:00:00.000Z',
    subnets: [{ subnet: '10.231.50.0/24', gateway: '10.231.50.1', userConfigured: true }],
    internal: false,
    attachable: false,
    dns: true,
    icc: true,
    predefined: false,
    labels: {},
    options: {},
    ...over,
  };
}

function rejects(fn: () => unknown, kind: string, re: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof EngineError && err.kind === kind && re.test(err.message), String(re));
}

test('checkNetworkCreate: the docker CLI\'s body becomes a request', () => {
  const r = checkNetworkCreate({
    Name: 'front',
    CheckDuplicate: true,
    Driver: 'bridge',
    Internal: true,
    Attachable: false,
    IPAM: { Driver: 'default', Config: [{ Subnet: '10.231.60.0/24', IPRange: '10.231.60.128/25', Gateway: '10.231.60.1' }], Options: {} },
    Options: { 'com.docker.network.bridge.name': 'br-front', 'com.docker.network.bridge.enable_icc': 'false' },
    Labels: { team: 'a' },
  });
  assert.deepEqual(r, {
    name: 'front',
    internal: true,
    attachable: false,
    labels: { team: 'a' },
    options: { 'com.docker.network.bridge.name': 'br-front', 'com.docker.network.bridge.enable_icc': 'false' },
    ipam: { Subnet: '10.231.60.0/24', IPRange: '10.231.60.128/25', Gateway: '10.231.60.1' },
    bridgeName: 'br-front',
    icc: false,
  });
  assert.equal(checkNetworkCreate({ Name: 'n' }).ipam, undefined);
});

test('checkNetworkCreate refuses what moat cannot honour, naming it', () => {
  rejects(() => checkNetworkCreate({ Name: 'bridge' }), 'forbidden', /pre-defined network/);
  rejects(() => checkNetworkCreate({ Name: 'x', Driver: 'overlay' }), 'not-found', /plugin overlay/);
  rejects(() => checkNetworkCreate({ Name: 'x', EnableIPv6: true }), 'not-implemented', /IPv6/);
  rejects(() => checkNetworkCreate({ Name: '../etc' }), 'invalid', /invalid network name/);
  rejects(() => checkNetworkCreate({ Name: 'x', Options: { 'com.docker.network.bridge.name': 'way-too-long-bridge' } }), 'invalid', /invalid interface name/);
  rejects(() => checkNetworkCreate({ Name: 'x', Options: { 'com.docker.network.bridge.enable_ip_masquerade': 'false' } }), 'not-implemented', /masquerades/);
  rejects(() => checkNetworkCreate({ Name: 'x', IPAM: { Config: [{ Subnet: '10.1.0.0/24' }, { Subnet: '10.2.0.0/24' }] } }), 'not-implemented', /one IPv4 subnet/);
  rejects(() => checkNetworkCreate({ Name: 'x', Labels: { a: 1 } }), 'invalid', /Labels\["a"\]/);
});

test('networkView: Docker\'s inspect shape with the attached containers', () => {
  const n = net('a', 'front');
  const cid = 'c'.repeat(64);
  const v = networkView(n, [{ containerId: cid, containerName: 'web', attachment: { networkId: n.id, interfaceName: 'eth0', ip: '10.231.50.2', prefixLen: 24, gateway: '10.231.50.1', mac: '02:00:00:00:00:01', aliases: [], endpointId: 'e'.repeat(64), netavarkConfig: null, publishes: false } }]);
  assert.equal(v.Id, n.id);
  assert.deepEqual(v.IPAM.Config, [{ Subnet: '10.231.50.0/24', Gateway: '10.231.50.1' }]);
  assert.deepEqual(v.Containers[cid], { Name: 'web', EndpointID: 'e'.repeat(64), MacAddress: '02:00:00:00:00:01', IPv4Address: '10.231.50.2/24', IPv6Address: '' });
  assert.equal(networkInUse(n, [{ containerId: cid, containerName: 'web', attachment: null as never }]).status, 403);
});

test('filterNetworks: Docker\'s filters; unknown filters are a 400', () => {
  const list = [net('a', 'front', { labels: { team: 'a' } }), net('b', 'back'), net('c', 'bridge', { predefined: true, dns: false })];
  const inUse = (id: string) => id.startsWith('a');
  const names = (f: Record<string, string[]>) => filterNetworks(list, { filters: f, inUse }).map((n) => n.name);
  assert.deepEqual(names({}), ['front', 'back', 'bridge']);
  assert.deepEqual(names({ name: ['ack'] }), ['back']);
  assert.deepEqual(names({ label: ['team=a'] }), ['front']);
  assert.deepEqual(names({ label: ['team'] }), ['front']);
  assert.deepEqual(names({ type: ['builtin'] }), ['bridge']);
  assert.deepEqual(names({ dangling: ['true'] }), ['back']);
  assert.deepEqual(names({ id: ['bbbb'], driver: ['bridge'] }), ['back']);
  rejects(() => names({ colour: ['red'] }), 'invalid', /invalid filter 'colour'/);
  rejects(() => names({ type: ['x'] }), 'invalid', /invalid filter 'type=x'/);
});

test('filterNetworks: host and none are built-in, never dangling, matched by their drivers', () => {
  const host: BuiltinNetwork = { id: 'e'.repeat(64), name: 'host', driver: 'host', created: '2026-01-01T00:00:00.000Z' };
  const none: BuiltinNetwork = { id: 'f'.repeat(64), name: 'none', driver: 'null', created: '2026-01-01T00:00:00.000Z' };
  const list = [host, none, net('c', 'bridge', { predefined: true, dns: false }), net('a', 'front', { labels: { team: 'a' } })];
  const names = (f: Record<string, string[]>) => filterNetworks(list, { filters: f, inUse: () => false }).map((n) => n.name);
  assert.deepEqual(names({}), ['host', 'none', 'bridge', 'front']);
  assert.deepEqual(names({ type: ['builtin'] }), ['host', 'none', 'bridge']);
  assert.deepEqual(names({ type: ['custom'] }), ['front']);
  assert.deepEqual(names({ driver: ['null'] }), ['none']);
  assert.deepEqual(names({ driver: ['host', 'bridge'] }), ['host', 'bridge', 'front']);
  assert.deepEqual(names({ id: ['eee'] }), ['host']);
  assert.deepEqual(names({ dangling: ['true'] }), ['front']);
  assert.deepEqual(names({ label: ['team'] }), ['front']);
  assert.equal(findNetwork(list, 'ffff')?.name, 'none');
});

test('builtinNetworkView: Docker\'s shape; members have a stable endpoint id and no address', () => {
  const host: BuiltinNetwork = { id: 'e'.repeat(64), name: 'host', driver: 'host', created: '2026-01-01T00:00:00.000Z' };
  const v = builtinNetworkView(host, [{ id: 'c'.repeat(64), name: 'web' }]);
  assert.equal(v['Driver'], 'host');
  assert.equal(v['Scope'], 'local');
  assert.deepEqual(v['IPAM'], { Driver: 'default', Options: null, Config: [] });
  const members = v['Containers'] as Record<string, Record<string, string>>;
  assert.deepEqual(Object.keys(members), ['c'.repeat(64)]);
  assert.equal(members['c'.repeat(64)]!['Name'], 'web');
  assert.equal(members['c'.repeat(64)]!['IPv4Address'], '');
  assert.match(members['c'.repeat(64)]!['EndpointID']!, /^[a-f0-9]{64}$/);
  assert.equal((builtinNetworkView(host, [{ id: 'c'.repeat(64), name: 'web' }])['Containers'] as typeof members)['c'.repeat(64)]!['EndpointID'], members['c'.repeat(64)]!['EndpointID']);
  assert.deepEqual(builtinNetworkView(host)['Containers'], {});
});

test('findNetwork: id, then name, then a unique id prefix', () => {
  const list = [net('ab', 'one'), net('ac', 'two')];
  assert.equal(findNetwork(list, 'two')?.name, 'two');
  assert.equal(findNetwork(list, 'abab')?.name, 'one');
  assert.equal(findNetwork(list, 'zz'), undefined);
  rejects(() => findNetwork(list, 'a'), 'invalid', /ambiguous/);
});

test('networkSettingsView: Ports and one entry per network, top-level fields from the default bridge', () => {
  const bridge = net('b', 'bridge', { predefined: true, dns: false });
  const cid = 'd'.repeat(64);
  const e: EndpointRecord = {
    containerId: cid,
    containerName: 'web',
    netnsName: 'moat-x-dddd',
    phase: 'up',
    attachments: [{ networkId: bridge.id, interfaceName: 'eth0', ip: '10.231.50.2', prefixLen: 24, gateway: '10.231.50.1', mac: '02:00:00:00:00:02', aliases: [], endpointId: 'f'.repeat(64), netavarkConfig: null, publishes: true }],
    ports: [{ containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 8080 }],
    dnsServers: [],
  };
  const v = networkSettingsView({ endpoint: e, networks: [bridge], exposedPorts: { '80/tcp': {} }, sandboxKey: '/run/netns/moat-x-dddd' });
  assert.equal(v['IPAddress'], '10.231.50.2');
  assert.deepEqual(v['Ports'], { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] });
  assert.equal((v['Networks'] as Record<string, { IPAddress: string }>)['bridge']!.IPAddress, '10.231.50.2');
});

test('guard rules name only their own bridge; iptables-save lines are found again by tag', () => {
  const n = net('a', 'front');
  const rules = guardRules(n, 'feedbeef');
  assert.equal(rules.length, 4, 'loopback guard, forward guard, DNS udp+tcp');
  for (const r of rules) assert.ok(r.spec.includes(n.bridge) && r.spec.includes('moat:feedbeef:aaaaaaaaaaaa'));
  assert.equal(guardRules(net('b', 'bridge', { dns: false }), 'x').length, 2, 'no DNS rule without DNS');
  const isolated = guardRules(net('c', 'bridge', { dns: false, icc: false }), 'x');
  assert.equal(isolated.length, 3, 'icc off adds the routed-hairpin guard');
  assert.deepEqual(isolated[2]!.spec.slice(0, 4), ['-i', isolated[2]!.spec[1], '-o', isolated[2]!.spec[1]], 'in and out the same bridge');
  const save = [
    '*mangle',
    `-A FORWARD ! -i ${n.bridge} -o ${n.bridge} -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment moat:feedbeef:aaaaaaaaaaaa -j DROP`,
    '-A FORWARD -o other -m comment --comment "moat:0ther000:aaaaaaaaaaaa" -j DROP',
    '-A FORWARD -m comment --comment "netavark firewall plugin rules" -j NETAVARK_FORWARD',
    'COMMIT',
  ].join('\n');
  const found = findGuardRules(save, { table: 'mangle', tag: 'feedbeef' });
  assert.equal(found.length, 1);
  assert.equal(found[0]!.chain, 'FORWARD');
  assert.deepEqual(splitSaveLine('-A X -m comment --comment "a b" -j Y'), ['-A', 'X', '-m', 'comment', '--comment', 'a b', '-j', 'Y']);
});

test('store: records round-trip; a corrupt file is reported, not fatal', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'moat-netstore-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const s = new NetworkStore(dir);
  await s.init();
  const n = net('a', 'front');
  await s.saveNetwork(n);
  const e: EndpointRecord = { containerId: 'e'.repeat(64), containerName: 'web', phase: 'setting-up', attachments: [], ports: [], dnsServers: [] };
  await s.saveEndpoint(e);
  await writeFile(join(dir, 'networks', `${'f'.repeat(64)}.json`), '{"id": "broken');
  await writeFile(join(dir, 'endpoints', `${'0'.repeat(64)}.json`), JSON.stringify({ ...e, containerId: '0'.repeat(64), phase: 'weird' }));
  const loaded = await s.load();
  assert.deepEqual(loaded.networks, [n]);
  assert.deepEqual(loaded.endpoints, [e]);
  assert.equal(loaded.problems.length, 2);
  assert.ok(loaded.problems.some((p) => /phase/.test(p.message)));
  await s.deleteEndpoint(e.containerId);
  assert.deepEqual((await readdir(join(dir, 'endpoints'))).sort(), [`${'0'.repeat(64)}.json`]);
  await assert.rejects(() => s.deleteNetwork('../x'));
});
