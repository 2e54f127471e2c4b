// NotifyExplainer without containers or root: the listener is kept running and tables written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../base/index.js';
import { NotifyExplainer } from './explainer.js';
import { stopListenerProcess } from './process.js';
import { loadRuleTableSync, rulesPath } from './files.js';

const REPO = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();

test('NotifyExplainer starts the listener on first use, writes tables, and restarts a dead listener', async (t) => {
  const execRoot = mkdtempSync('/tmp/moat-ex-');
  const pids: number[] = [];
  let x: NotifyExplainer | undefined;
  t.after(async () => {
    await x?.close(); // first: its timer would start a new listener
    await stopListenerProcess({ stateDir: join(execRoot, 'seccomp') });
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(execRoot, { recursive: true, force: true });
  });
  x = await NotifyExplainer.start({ execRoot, listenerBin: join(REPO, 'bin/moat-seccomp-listener'), arch: 'SCMP_ARCH_X86_64', log: silentLogger(), checkIntervalMs: 50 });
  assert.equal(x.available(), true);
  assert.equal(x.listenerPath, join(execRoot, 'seccomp.sock'));
  assert.equal(x.pid, undefined, 'an idle daemon runs no listener');
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(x.pid, undefined, 'nor does the timer start one before a container needs it');

  await x.prepare('c1', [{ index: 3, names: ['keyctl'], errno: 1 }]);
  assert.equal(loadRuleTableSync(x.stateDir, 'c1')?.mode, 'enforce');
  const first = x.pid!;
  assert.ok(first > 0, 'the first container started the listener');
  pids.push(first);

  process.kill(first, 'SIGKILL');
  const end = Date.now() + 10_000;
  while ((x.pid === first || !x.available()) && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
  // x.pid changes under the timer: TS cannot see that.
  assert.notEqual(x.pid, first, 'a new listener');
  pids.push(x.pid!);
  assert.equal(x.available(), true);

  await x.remove('c1');
  assert.ok(!existsSync(rulesPath(x.stateDir, 'c1')));
});

test('NotifyExplainer with an impossible socket path stays unavailable instead of throwing', async (t) => {
  const execRoot = mkdtempSync('/tmp/moat-ex-') + '/' + 'x'.repeat(120);
  const x = await NotifyExplainer.start({ execRoot, listenerBin: join(REPO, 'bin/moat-seccomp-listener'), arch: 'SCMP_ARCH_X86_64', log: silentLogger(), checkIntervalMs: 60_000 });
  t.after(async () => {
    await x.close();
    rmSync(dirname(execRoot), { recursive: true, force: true });
  });
  assert.equal(x.available(), false);
  await assert.rejects(x.prepare('c1', []), /seccomp denial listener is not running/);
});
