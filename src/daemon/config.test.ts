import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS, applyConfigFile, checkSeccompListenerIdle } from './config.js';

test('daemon.json init and init-path (dockerd\'s keys) set the --init default', () => {
  const cfg = applyConfigFile(DEFAULTS, { init: true, 'init-path': '/opt/tini' }, 'daemon.json');
  assert.equal(cfg.init, true);
  assert.equal(cfg.initPath, '/opt/tini');
  assert.equal(DEFAULTS.init, false);
  assert.throws(() => applyConfigFile(DEFAULTS, { init: 'yes' }, 'daemon.json'), /init must be a boolean/);
});

test('seccomp-listener-idle: daemon.json key, whole ms or -1', () => {
  assert.equal(DEFAULTS.seccompListenerIdleMs, 5000);
  assert.equal(applyConfigFile(DEFAULTS, { 'seccomp-listener-idle': 250 }, 'daemon.json').seccompListenerIdleMs, 250);
  assert.throws(() => applyConfigFile(DEFAULTS, { 'seccomp-listener-idle': '5s' }, 'daemon.json'), /seccomp-listener-idle must be a number/);
  for (const ok of [-1, 0, 5000]) checkSeccompListenerIdle(ok);
  for (const bad of [Number.NaN, -2, 1.5]) assert.throws(() => checkSeccompListenerIdle(bad), /invalid seccomp-listener-idle/);
});
