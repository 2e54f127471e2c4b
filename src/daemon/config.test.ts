import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS, applyConfigFile } from './config.js';

test('daemon.json init and init-path (dockerd\'s keys) set the --init default', () => {
  const cfg = applyConfigFile(DEFAULTS, { init: true, 'init-path': '/opt/tini' }, 'daemon.json');
  assert.equal(cfg.init, true);
  assert.equal(cfg.initPath, '/opt/tini');
  assert.equal(DEFAULTS.init, false);
  assert.throws(() => applyConfigFile(DEFAULTS, { init: 'yes' }, 'daemon.json'), /init must be a boolean/);
});
