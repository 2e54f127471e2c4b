import { test } from 'node:test';
import assert from 'node:assert/strict';
import { namespaceFacts } from './join-facts.js';
import type { ContainerRecord, HostConfig } from './types.js';

const rec = (Id: string, HostConfig: HostConfig): ContainerRecord => ({ Id, Name: `/${Id}`, HostConfig } as unknown as ContainerRecord);

test('namespaceFacts() follows joins both ways: host namespaces and privileged members', () => {
  const all = [
    rec('host', { PidMode: 'host' }),
    rec('via', { PidMode: 'container:host' }),
    rec('plain', {}),
    rec('priv', { Privileged: true, IpcMode: 'container:plain' }),
    rec('net', { NetworkMode: 'container:plain' }),
  ];
  const find = (r: string): ContainerRecord | undefined => all.find((c) => c.Id === r);
  assert.deepEqual(namespaceFacts(all, { find, target: 'via', kind: 'pid' }), { host: true, privileged: false }, 'joined a host-pid container');
  assert.deepEqual(namespaceFacts(all, { find, target: 'plain', kind: 'pid' }), { host: false, privileged: false });
  assert.deepEqual(namespaceFacts(all, { find, target: 'plain', kind: 'ipc' }), { host: false, privileged: true }, 'a privileged container joined it');
  assert.deepEqual(namespaceFacts(all, { find, target: 'net', kind: 'network' }), { host: false, privileged: false });
});
