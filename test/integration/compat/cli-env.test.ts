// The docker CLI's environment for a test daemon: its config dir lives in the daemon's root,
// and a call after the daemon's cleanup must not make that removed root again (one empty
// /tmp/mt-*/docker-cli was left by every suite run before).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { dockerEnv } from './cli.js';
import type { TestDaemon } from '../../helpers/daemon.js';

test('dockerEnv makes the config dir in a live root, and never a removed root again', () => {
  const root = mkdtempSync('/tmp/mt-cli-env-');
  try {
    const d = { root, host: `unix://${join(root, 'moat.sock')}` } as unknown as TestDaemon;
    const env = dockerEnv(d);
    assert.equal(env['DOCKER_CONFIG'], join(root, 'docker-cli'));
    assert.equal(env['DOCKER_HOST'], d.host);
    assert.ok(existsSync(join(root, 'docker-cli')), 'made while the root exists');
    dockerEnv(d); // a second call finds it
    rmSync(root, { recursive: true, force: true });
    const late = dockerEnv(d);
    assert.equal(late['DOCKER_CONFIG'], join(root, 'docker-cli'));
    assert.equal(existsSync(root), false, 'the removed root stays removed');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
