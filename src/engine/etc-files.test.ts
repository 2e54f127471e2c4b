import { test } from 'node:test';
import assert from 'node:assert/strict';
import { etcFiles } from './etc-files.js';
import type { ContainerRecord } from './types.js';

const rec = (config: Record<string, unknown>, hostConfig: Record<string, unknown> = {}): ContainerRecord =>
  ({ Id: 'a'.repeat(64), Name: '/web', Config: { Image: 'x', ...config }, HostConfig: hostConfig }) as unknown as ContainerRecord;

test('--domainname puts the FQDN before the short name on the container\'s /etc/hosts line, as libnetwork', () => {
  const f = etcFiles(rec({ Hostname: 'web', Domainname: 'example.test' }), 'nameserver 10.0.0.2\n', { ip: '10.1.0.2' });
  assert.match(f.hosts, /^10\.1\.0\.2\tweb\.example\.test web$/m);
  assert.equal(f.hostname, 'web\n');
  const plain = etcFiles(rec({ Hostname: 'web' }), 'nameserver 10.0.0.2\n', { ip: '10.1.0.2' });
  assert.match(plain.hosts, /^10\.1\.0\.2\tweb$/m);
});

test('--dns-search and --dns-option replace the host\'s search and options lines; "." drops search', () => {
  const host = 'search host.test\nnameserver 10.0.0.2\noptions rotate\n';
  const f = etcFiles(rec({ Hostname: 'web' }, { DnsSearch: ['a.test', 'b.test'], DnsOptions: ['ndots:3', 'timeout:2'] }), host, { ip: '10.1.0.2' });
  assert.equal(f.resolvConf, 'search a.test b.test\nnameserver 10.0.0.2\noptions ndots:3 timeout:2\n');
  assert.equal(etcFiles(rec({ Hostname: 'web' }), host).resolvConf, host);
  assert.equal(etcFiles(rec({ Hostname: 'web' }, { DnsSearch: ['.'] }), host).resolvConf, 'nameserver 10.0.0.2\noptions rotate\n');
});
