import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execProcessSpec } from './generate.js';

const container = { capabilities: ['CAP_CHOWN', 'CAP_KILL'], rlimits: [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 20 }], noNewPrivileges: true, oomScoreAdj: 100, consoleSize: { height: 24, width: 80 } };
const root = { uid: 0, gid: 0, additionalGids: [] };

test("execProcessSpec: the container's capabilities (effective only for root), limits and no_new_privs; the exec's command", () => {
  const p = execProcessSpec(container, { user: root, args: ['id'], env: ['A=1'], cwd: '/w', terminal: false });
  assert.deepEqual(p.capabilities, { bounding: ['CAP_CHOWN', 'CAP_KILL'], effective: ['CAP_CHOWN', 'CAP_KILL'], permitted: ['CAP_CHOWN', 'CAP_KILL'] });
  assert.deepEqual([p.args, p.env, p.cwd, p.terminal, p.noNewPrivileges, p.oomScoreAdj], [['id'], ['A=1'], '/w', false, true, 100]);
  assert.deepEqual(p.rlimits, container.rlimits);
  const user = execProcessSpec(container, { user: { uid: 1000, gid: 1000, additionalGids: [5] }, args: ['id'], env: [], cwd: '/', terminal: false });
  assert.deepEqual(user.capabilities, { bounding: ['CAP_CHOWN', 'CAP_KILL'], effective: [], permitted: [] }, 'a non-root exec keeps only the bounding set');
  assert.deepEqual(user.user, { uid: 1000, gid: 1000, additionalGids: [5] });
});

test("execProcessSpec: the exec's terminal size, else the container's", () => {
  assert.deepEqual(execProcessSpec(container, { user: root, args: ['sh'], env: [], cwd: '/', terminal: true, consoleSize: { height: 50, width: 132 } }).consoleSize, { height: 50, width: 132 });
  assert.deepEqual(execProcessSpec(container, { user: root, args: ['sh'], env: [], cwd: '/', terminal: true }).consoleSize, { height: 24, width: 80 });
  const { consoleSize: _c, ...noConsole } = container;
  assert.equal(execProcessSpec(noConsole, { user: root, args: ['sh'], env: [], cwd: '/', terminal: true }).consoleSize, undefined);
});
