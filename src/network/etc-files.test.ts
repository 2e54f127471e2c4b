import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../base/index.js';
import { buildHostsFile, buildResolvConf, checkDnsServers, parseExtraHosts, parseResolvConf } from './etc-files.js';

const DEFAULTS = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';

test('hosts: Docker\'s default records, --add-host records, then the container\'s own line', () => {
  assert.equal(buildHostsFile({ hostname: 'a1b2c3d4e5f6', ip: '172.17.0.2', extraHosts: [] }), `${DEFAULTS}172.17.0.2\ta1b2c3d4e5f6\n`);
  assert.equal(
    buildHostsFile({ hostname: 'web', domainname: 'example.org', ip: '10.231.1.2', extraHosts: parseExtraHosts(['db:10.0.0.5', 'gw:host-gateway'], '172.17.0.1') }),
    `${DEFAULTS}10.0.0.5\tdb\n172.17.0.1\tgw\n10.231.1.2\tweb.example.org web\n`,
  );
  assert.equal(buildHostsFile({ hostname: 'x', extraHosts: [] }), DEFAULTS, '--network none: no own line');
});

test('--add-host: bad names and addresses are refused naming the entry', () => {
  assert.deepEqual(parseExtraHosts(['v6:::1', 'eq=10.0.0.1'], undefined), [
    { names: 'v6', ip: '::1' },
    { names: 'eq', ip: '10.0.0.1' },
  ]);
  for (const bad of ['noip', 'bad name:10.0.0.1', 'x:999.1.1.1', 'x\n10.0.0.1 evil:10.0.0.1']) {
    assert.throws(() => parseExtraHosts([bad], undefined), (e: unknown) => e instanceof EngineError && e.kind === 'invalid' && /--add-host/.test(e.message), JSON.stringify(bad));
  }
  assert.throws(() => parseExtraHosts(['gw:host-gateway'], undefined), /host-gateway/);
});

test('resolv.conf on the default bridge: the host\'s file without loopback servers, Docker\'s fallback when none is left', () => {
  const host = parseResolvConf('# comment\nnameserver 127.0.0.53\nnameserver 10.255.255.53\nsearch corp.example\noptions edns0 trust-ad\n');
  assert.deepEqual(host, { nameservers: ['127.0.0.53', '10.255.255.53'], search: ['corp.example'], options: ['edns0', 'trust-ad'] });
  assert.equal(buildResolvConf({ host, dns: [], dnsSearch: [], dnsOptions: [] }), 'search corp.example\nnameserver 10.255.255.53\noptions edns0 trust-ad\n');
  assert.equal(buildResolvConf({ host: parseResolvConf('nameserver 127.0.0.53\n'), dns: [], dnsSearch: [], dnsOptions: [] }), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  assert.equal(buildResolvConf({ host, dns: ['1.1.1.1'], dnsSearch: ['a.example', 'b.example'], dnsOptions: ['ndots:2'] }), 'search a.example b.example\nnameserver 1.1.1.1\noptions ndots:2\n');
});

test('resolv.conf on a network with DNS: aardvark-dns on the gateway, ndots:0 as Docker\'s embedded DNS', () => {
  const host = parseResolvConf('nameserver 10.255.255.53\nsearch corp.example\n');
  assert.equal(buildResolvConf({ host, dns: ['1.1.1.1'], dnsSearch: [], dnsOptions: [], networkDns: '10.231.3.1' }), 'search corp.example\nnameserver 10.231.3.1\noptions ndots:0\n');
  assert.equal(buildResolvConf({ host, dns: [], dnsSearch: [], dnsOptions: ['ndots:3'], networkDns: '10.231.3.1' }), 'search corp.example\nnameserver 10.231.3.1\noptions ndots:3\n');
});

test('--dns values must be IPv4 addresses', () => {
  assert.deepEqual(checkDnsServers(['1.1.1.1']), ['1.1.1.1']);
  assert.throws(() => checkDnsServers(['dns.example']), /invalid DNS server address/);
});
