import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restartAtDaemonStart, restartDecision, type RestartInput } from './restart.js';
import type { ContainerRecord } from './types.js';

const base: RestartInput = { policy: { Name: 'always' }, exitCode: 0, manuallyStopped: false, restartCount: 0, ranMs: 50, previousDelayMs: 0 };

test('restartDecision: Docker\'s policies', () => {
  assert.equal(restartDecision({ ...base, policy: undefined }).restart, false);
  assert.equal(restartDecision({ ...base, policy: { Name: 'no' } }).restart, false);
  assert.equal(restartDecision(base).restart, true);
  assert.equal(restartDecision({ ...base, policy: { Name: 'unless-stopped' }, exitCode: 1 }).restart, true);
  assert.equal(restartDecision({ ...base, manuallyStopped: true }).restart, false, 'docker stop ends every policy');
  const onFailure = { ...base, policy: { Name: 'on-failure', MaximumRetryCount: 2 } };
  assert.equal(restartDecision({ ...onFailure, exitCode: 0 }).restart, false, 'success is not a failure');
  assert.equal(restartDecision({ ...onFailure, exitCode: 1, restartCount: 1 }).restart, true);
  assert.equal(restartDecision({ ...onFailure, exitCode: 1, restartCount: 2 }).restart, false, 'retries used up');
  assert.equal(restartDecision({ ...base, policy: { Name: 'on-failure' }, exitCode: 1, restartCount: 1000 }).restart, true, '0 retries is no limit');
});

test('restartDecision: 100 ms doubling up to a minute, reset by a 10 s run', () => {
  assert.equal(restartDecision(base).delayMs, 100);
  assert.equal(restartDecision({ ...base, previousDelayMs: 100 }).delayMs, 200);
  assert.equal(restartDecision({ ...base, previousDelayMs: 40_000 }).delayMs, 60_000);
  assert.equal(restartDecision({ ...base, previousDelayMs: 60_000 }).delayMs, 60_000);
  assert.equal(restartDecision({ ...base, previousDelayMs: 6400, ranMs: 10_000 }).delayMs, 100);
});

test('restartAtDaemonStart: always even after docker stop, unless-stopped only if not stopped by hand, never a created one', () => {
  const rec = (name: string, o: { status?: ContainerRecord['State']['Status']; manual?: boolean; exit?: number; count?: number; max?: number } = {}) =>
    ({
      HostConfig: { RestartPolicy: { Name: name, MaximumRetryCount: o.max ?? 0 } },
      State: { Status: o.status ?? 'exited', ExitCode: o.exit ?? 0 },
      RestartCount: o.count ?? 0,
      HasBeenManuallyStopped: o.manual ?? false,
    }) as unknown as ContainerRecord;
  assert.equal(restartAtDaemonStart(rec('always', { manual: true })), true);
  assert.equal(restartAtDaemonStart(rec('unless-stopped')), true);
  assert.equal(restartAtDaemonStart(rec('unless-stopped', { manual: true })), false);
  assert.equal(restartAtDaemonStart(rec('always', { status: 'created' })), false);
  assert.equal(restartAtDaemonStart(rec('always', { status: 'running' })), false);
  assert.equal(restartAtDaemonStart(rec('no')), false);
  assert.equal(restartAtDaemonStart(rec('on-failure', { exit: 1, count: 1, max: 2 })), true);
  assert.equal(restartAtDaemonStart(rec('on-failure', { exit: 1, count: 2, max: 2 })), false);
  assert.equal(restartAtDaemonStart(rec('unless-stopped', { status: 'restarting' })), true, 'a restart the daemon stop interrupted');
});
