import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prepayTarget } from './prepay.js';
import { UNIFIED } from './layout.js';

test('the no-op move writes the pids cgroup under v1 or hybrid, the v2 cgroup otherwise', () => {
  assert.equal(prepayTarget({ pids: '/sys/fs/cgroup/pids/a', [UNIFIED]: '/sys/fs/cgroup/unified/a', memory: '/sys/fs/cgroup/memory/b' }), '/sys/fs/cgroup/pids/a/cgroup.procs');
  assert.equal(prepayTarget({ [UNIFIED]: '/sys/fs/cgroup/x.slice/moatd.service' }), '/sys/fs/cgroup/x.slice/moatd.service/cgroup.procs');
  assert.equal(prepayTarget({ memory: '/sys/fs/cgroup/memory' }), undefined);
  assert.equal(prepayTarget({}), undefined);
});
