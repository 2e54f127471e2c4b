import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../base/index.js';
import { buildNetavarkOptions, checkAlias, netavarkErrorText, parseMac, parseNetavarkStatus, toNetavarkPorts } from './netavark-config.js';
import type { NetworkRecord } from './types.js';

const ID = 'ab'.repeat(32);
const CID = 'cd'.repeat(32);

function network(over: Partial<NetworkRecord> = {}): NetworkRecord {
  return {
    id: ID,
    name: 'front',
    driver: 'bridge',
    bridge: 'moatbr-abababab',
    created: '2026-01-01T00:00:00.000Z',
    subnets: [{ subnet: '10.231.40.0/24', gateway: '10.231.40.1', userConfigured: true }],
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

test('buildNetavarkOptions: the JSON netavark 1.4 accepted here, keyed by the network id', () => {
  const o = buildNetavarkOptions({
    containerId: CID,
    containerName: 'web',
    network: network(),
    interfaceName: 'eth0',
    ip: '10.231.40.2',
    aliases: ['webalias', 'cdcdcdcdcdcd'],
    ports: [{ containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 18080 }],
    dnsServers: ['127.0.0.1'],
  });
  assert.deepEqual(o, {
    container_id: CID,
    container_name: 'web',
    networks: { [ID]: { interface_name: 'eth0', static_ips: ['10.231.40.2'], aliases: ['webalias', 'cdcdcdcdcdcd'] } },
    network_info: {
      [ID]: {
        name: ID,
        id: ID,
        driver: 'bridge',
        network_interface: 'moatbr-abababab',
        subnets: [{ subnet: '10.231.40.0/24', gateway: '10.231.40.1' }],
        ipv6_enabled: false,
        internal: false,
        dns_enabled: true,
        options: { metric: '100' },
      },
    },
    port_mappings: [{ host_ip: '127.0.0.1', container_port: 80, host_port: 18080, range: 1, protocol: 'tcp' }],
    dns_servers: ['127.0.0.1'],
  });
  const second = buildNetavarkOptions({ containerId: CID, containerName: 'web', network: network({ dns: false, options: { 'com.docker.network.driver.mtu': '1400' } }), interfaceName: 'eth1', ip: '10.231.40.3', aliases: ['x'], mac: '02:42:0A:E7:28:03', ports: [], dnsServers: [] });
  assert.equal(second.network_info[ID]!.options!['metric'], '101', 'each interface its own default-route metric');
  assert.equal(second.network_info[ID]!.options!['mtu'], '1400');
  assert.equal(second.networks[ID]!.aliases, undefined, 'no aliases without DNS');
  assert.equal(second.networks[ID]!.static_mac, '02:42:0a:e7:28:03');
  assert.equal(second.port_mappings, undefined);
});

test('toNetavarkPorts: 0.0.0.0 becomes "" (netavark 1.4 would match it literally) and consecutive ports merge', () => {
  assert.deepEqual(
    toNetavarkPorts([
      { containerPort: 81, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8001 },
      { containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8000 },
      { containerPort: 90, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 9000 },
      { containerPort: 53, protocol: 'udp', hostIp: '127.0.0.1', hostPort: 5353 },
    ]),
    [
      { host_ip: '', container_port: 80, host_port: 8000, range: 2, protocol: 'tcp' },
      { host_ip: '', container_port: 90, host_port: 9000, range: 1, protocol: 'tcp' },
      { host_ip: '127.0.0.1', container_port: 53, host_port: 5353, range: 1, protocol: 'udp' },
    ],
  );
});

test('names that would break aardvark-dns\'s line format are refused', () => {
  for (const bad of ['a b', 'a,b', 'x\ny 10.0.0.1 evil', '', '-x', 'a/b']) {
    assert.throws(() => checkAlias(bad), (e: unknown) => e instanceof EngineError && e.kind === 'invalid', JSON.stringify(bad));
  }
  assert.equal(checkAlias('db.internal_1-a'), 'db.internal_1-a');
  assert.throws(() => buildNetavarkOptions({ containerId: CID, containerName: 'w', network: network(), interfaceName: 'eth0', ip: '10.231.40.2', aliases: ['ok', 'b,ad'], ports: [], dnsServers: [] }), /invalid network alias/);
  assert.throws(() => buildNetavarkOptions({ containerId: CID, containerName: 'web', network: network(), interfaceName: 'eth0/x', ip: '10.231.40.2', aliases: [], ports: [], dnsServers: [] }), /invalid interface name/);
});

test('parseMac: unicast MACs only', () => {
  assert.equal(parseMac('02-42-AC-11-00-02'), '02:42:ac:11:00:02');
  assert.throws(() => parseMac('01:00:5e:00:00:01'), /multicast/);
  assert.throws(() => parseMac('02:42:ac:11:00'), /invalid MAC address/);
});

test('parseNetavarkStatus reads what netavark 1.4 printed here; other shapes are internal errors', () => {
  const out = `{"${ID}":{"dns_search_domains":["dns.podman"],"dns_server_ips":["10.231.40.1"],"interfaces":{"eth0":{"mac_address":"96:b3:20:bc:84:e3","subnets":[{"gateway":"10.231.40.1","ipnet":"10.231.40.2/24"}]}}}}`;
  assert.deepEqual(parseNetavarkStatus(out, ID), {
    interfaces: { eth0: { mac: '96:b3:20:bc:84:e3', addresses: [{ ipnet: '10.231.40.2/24', gateway: '10.231.40.1' }] } },
    dnsServers: ['10.231.40.1'],
    dnsSearch: ['dns.podman'],
  });
  assert.throws(() => parseNetavarkStatus('not json', ID), (e: unknown) => e instanceof EngineError && e.kind === 'internal');
  assert.throws(() => parseNetavarkStatus('{}', ID), /no status for network/);
  assert.throws(() => parseNetavarkStatus(`{"${ID}":{"interfaces":{"eth0":{}}}}`, ID), /no MAC address/);
});

test('netavarkErrorText: the JSON error, else the output without the known noise', () => {
  assert.equal(netavarkErrorText('{"error":"open container netns: open /run/netns/x: IO error"}', ''), 'open container netns: open /run/netns/x: IO error');
  assert.equal(netavarkErrorText('', '# Warning: iptables-legacy tables present, use iptables-legacy-save to see them\nfailed to connect to syslog: Initialization\nboom'), 'boom');
});
