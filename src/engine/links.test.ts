import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../base/index.js';
import { linkEnv, linkHostNames, parseLink, storedLink, updateLinkAddress } from './links.js';
import type { ContainerRecord } from './types.js';

const target = { Id: 'abcdef0123456789', Name: '/web', Config: { Image: 'x', Hostname: 'abcdef012345', Env: ['PATH=/bin', 'HOME=/root', 'MODE=a=b'], ExposedPorts: { '8080/tcp': {}, '53/udp': {}, '80/tcp': {} } } } as unknown as ContainerRecord;

test('a link is name[:alias] or the stored /name:/source/alias; anything else is a 400 naming it', () => {
  assert.deepEqual(parseLink('web:db'), { target: 'web', alias: 'db' });
  assert.deepEqual(parseLink('web'), { target: 'web', alias: 'web' });
  assert.deepEqual(parseLink('/web:/client/db'), { target: 'web', alias: 'db' });
  assert.equal(storedLink({ target: 'web', alias: 'db' }, '/client'), '/web:/client/db');
  for (const bad of ['', ':db', 'web:', 'a:b:c', 'web:-x']) {
    assert.throws(() => parseLink(bad), (e: unknown) => e instanceof EngineError && e.status === 400 && e.message.includes(JSON.stringify(bad)), bad);
  }
});

test("the hosts names are the alias, the target's hostname and its name unless the alias is it", () => {
  assert.equal(linkHostNames({ target: 'web', alias: 'db' }, target), 'db abcdef012345 web');
  assert.equal(linkHostNames({ target: 'web', alias: 'web' }, target), 'web abcdef012345');
});

test("the link variables as moby writes them: lowest port first, each port's four, the name, the target's env but HOME and PATH", () => {
  assert.deepEqual(linkEnv({ target: 'web', alias: 'my-db' }, '/client', target, '10.0.0.2'), [
    'MY_DB_PORT=udp://10.0.0.2:53',
    'MY_DB_PORT_53_UDP=udp://10.0.0.2:53', 'MY_DB_PORT_53_UDP_ADDR=10.0.0.2', 'MY_DB_PORT_53_UDP_PORT=53', 'MY_DB_PORT_53_UDP_PROTO=udp',
    'MY_DB_PORT_80_TCP=tcp://10.0.0.2:80', 'MY_DB_PORT_80_TCP_ADDR=10.0.0.2', 'MY_DB_PORT_80_TCP_PORT=80', 'MY_DB_PORT_80_TCP_PROTO=tcp',
    'MY_DB_PORT_8080_TCP=tcp://10.0.0.2:8080', 'MY_DB_PORT_8080_TCP_ADDR=10.0.0.2', 'MY_DB_PORT_8080_TCP_PORT=8080', 'MY_DB_PORT_8080_TCP_PROTO=tcp',
    'MY_DB_NAME=/client/my-db',
    'MY_DB_ENV_MODE=a=b',
  ]);
});

test('a run of three or more consecutive exposed ports gets moby\'s _START/_END variables; two ports do not', () => {
  const ranged = { ...target, Config: { ...target.Config, Env: [], ExposedPorts: { '6379/tcp': {}, '6380/tcp': {}, '6381/tcp': {}, '7000/udp': {}, '7001/udp': {} } } } as unknown as ContainerRecord;
  const env = linkEnv({ target: 'web', alias: 'redis-db' }, '/client', ranged, '10.1.2.3');
  for (const v of [
    'REDIS_DB_PORT=tcp://10.1.2.3:6379',
    'REDIS_DB_PORT_6379_TCP_START=tcp://10.1.2.3:6379',
    'REDIS_DB_PORT_6379_TCP_PORT_START=6379',
    'REDIS_DB_PORT_6379_TCP_END=tcp://10.1.2.3:6381',
    'REDIS_DB_PORT_6379_TCP_PORT_END=6381',
    'REDIS_DB_PORT_6379_TCP_PROTO=tcp',
    'REDIS_DB_PORT_6381_TCP=tcp://10.1.2.3:6381',
    'REDIS_DB_PORT_7001_UDP_ADDR=10.1.2.3',
  ]) assert.ok(env.includes(v), `${v} in\n${env.join('\n')}`);
  assert.deepEqual(env.filter((v) => /_(START|END)=/.test(v)).length, 4, 'only the 6379-6381 run');
  assert.ok(!env.some((v) => v.startsWith('REDIS_DB_PORT_7000_UDP_START')), 'two ports are no range');
  // Without a run there is none of them.
  assert.ok(!linkEnv({ target: 'web', alias: 'db' }, '/client', target, '10.1.2.3').some((v) => /_(START|END)=/.test(v)));
});

test('a target\'s new address replaces the old one on the lines naming its alias only (moby etchosts.Update)', () => {
  const hosts = '127.0.0.1\tlocalhost\n10.1.0.5\tdb abcdef012345 web\n10.1.0.6\tdbx 0123 other\n10.1.0.7\tclient\n';
  assert.equal(updateLinkAddress(hosts, 'db', '10.1.0.9'), '127.0.0.1\tlocalhost\n10.1.0.9\tdb abcdef012345 web\n10.1.0.6\tdbx 0123 other\n10.1.0.7\tclient\n');
  assert.equal(updateLinkAddress(hosts, 'd.b', '10.1.0.9'), hosts, 'the alias is matched literally');
  assert.equal(updateLinkAddress(hosts, 'nosuch', '10.1.0.9'), hosts);
});
