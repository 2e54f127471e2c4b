// The process environment of a container and of an exec, as dockerd builds them: its defaults,
// the image's and the container's Env, and Docker's unset (an entry without `=`). Pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerRecord } from './types.js';
import { buildEnv, mergeConfigEnv, replaceOrAppendEnv } from './util.js';
import { execEnv } from './run-plan.js';

const rec = (Env: string[], Tty = false): ContainerRecord => ({ Id: 'a'.repeat(64), Config: { Image: 'img', Hostname: 'h1', Env, Tty } }) as unknown as ContainerRecord;

test('an Env entry without = unsets the variable (an image\'s too) instead of reaching runc', () => {
  const merged = mergeConfigEnv(['PATH=/bin', 'FROM_IMAGE=1', 'KEEP=2'], ['FROM_IMAGE', 'NEVER_SET']);
  assert.deepEqual(merged, ['FROM_IMAGE', 'NEVER_SET', 'PATH=/bin', 'KEEP=2'], 'the record keeps what was asked, as dockerd\'s inspect');
  const env = buildEnv(rec(merged), '/root');
  assert.deepEqual(env, ['PATH=/bin', 'HOSTNAME=h1', 'KEEP=2', 'HOME=/root']);
  assert.ok(env.every((e) => e.includes('=')));
});

test('Config.Env in moby\'s order: the container\'s entries as given, then the image\'s it does not name', () => {
  assert.deepEqual(mergeConfigEnv(['PATH=/bin', 'A=img', 'B=img'], ['C=1', 'A=own']), ['C=1', 'A=own', 'PATH=/bin', 'B=img']);
  assert.deepEqual(mergeConfigEnv(['PATH=/bin'], []), ['PATH=/bin'], 'nothing of its own: the image\'s');
  assert.deepEqual(mergeConfigEnv([], ['X=1', 'X=2']), ['X=1', 'X=2'], 'kept as given, duplicates too');
});

test('the process environment in dockerd\'s order: PATH, HOSTNAME, TERM, links, then Config.Env over them', () => {
  assert.deepEqual(buildEnv(rec(['B=1', 'PATH=/bin', 'HOSTNAME=other']), '/root'), ['PATH=/bin', 'HOSTNAME=other', 'B=1', 'HOME=/root']);
  assert.deepEqual(buildEnv(rec(['B=1'], true), '/root', ['DB_PORT=tcp://10.0.0.2:5432', 'B=link']), [
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'HOSTNAME=h1',
    'TERM=xterm',
    'DB_PORT=tcp://10.0.0.2:5432',
    'B=1',
    'HOME=/root',
  ]);
  // moby's: overrides are matched against the defaults only, so a repeated name is appended twice.
  assert.deepEqual(replaceOrAppendEnv(['PATH=/d'], ['A=1', 'A=2', 'A', 'PATH']), ['A=1', 'A=2']);
});

test('the defaults: PATH and (with a terminal) TERM unless Env sets or unsets them; HOME always', () => {
  assert.deepEqual(buildEnv(rec([], true), '/root').map((e) => e.split('=')[0]), ['PATH', 'HOSTNAME', 'TERM', 'HOME']);
  assert.deepEqual(buildEnv(rec(['TERM', 'PATH'], true), '/root'), ['HOSTNAME=h1', 'HOME=/root']);
  assert.deepEqual(buildEnv(rec(['HOME'], false), '/home/u').filter((e) => e.startsWith('HOME')), ['HOME=/home/u']);
});

test('an exec\'s Env unsets like the container\'s', () => {
  const env = execEnv(rec(['A=1', 'B=2']), { Env: ['A', 'C=3'], Tty: false });
  assert.deepEqual(env.filter((e) => !e.startsWith('PATH=') && !e.startsWith('HOSTNAME=')), ['B=2', 'C=3']);
});

test('an exec\'s environment: the links\' variables after the defaults, the container\'s Env, then the exec\'s', () => {
  const env = execEnv(rec(['A=1', 'DB_NAME=mine']), { Env: ['B=2', 'A=exec'], Tty: true }, ['DB_PORT=tcp://10.0.0.2:5432', 'DB_NAME=/c/db']);
  assert.deepEqual(env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=h1', 'TERM=xterm', 'DB_PORT=tcp://10.0.0.2:5432', 'DB_NAME=mine', 'A=exec', 'B=2']);
});
