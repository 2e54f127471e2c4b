// The process environment of a container and of an exec, as dockerd builds them: its defaults,
// the image's and the container's Env, and Docker's unset (an entry without `=`). Pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerRecord } from './types.js';
import { buildEnv, mergeEnv } from './util.js';
import { execEnv } from './run-plan.js';

const rec = (Env: string[], Tty = false): ContainerRecord => ({ Id: 'a'.repeat(64), Config: { Image: 'img', Hostname: 'h1', Env, Tty } }) as unknown as ContainerRecord;

test('an Env entry without = unsets the variable (an image\'s too) instead of reaching runc', () => {
  const merged = mergeEnv(['FROM_IMAGE=1', 'KEEP=2'], ['FROM_IMAGE', 'NEVER_SET']);
  assert.deepEqual(merged, ['FROM_IMAGE', 'KEEP=2', 'NEVER_SET'], 'the record keeps what was asked, as dockerd\'s inspect');
  const env = buildEnv(rec(['PATH=/bin', ...merged]), '/root');
  assert.deepEqual(env, ['HOSTNAME=h1', 'PATH=/bin', 'KEEP=2', 'HOME=/root']);
  assert.ok(env.every((e) => e.includes('=')));
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
