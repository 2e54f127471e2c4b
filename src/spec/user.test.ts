// `--user` and `--group-add` against an image's passwd and group text, as moby's getUser:
// the primary gid first among the supplementary groups, then the user's groups, then
// --group-add. Pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../base/index.js';
import { resolveUser } from './user.js';

const passwd = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n';
const group = 'root:x:0:\nwheel:x:10:app\napp:x:1000:\naudio:x:29:app,root2\n';
const files = { passwd, group };

test('the primary gid is a supplementary group too (moby getUser), before the user\'s groups and --group-add', () => {
  assert.deepEqual(resolveUser('', files), { uid: 0, gid: 0, additionalGids: [0], home: '/root' });
  assert.deepEqual(resolveUser('1234:5678', files), { uid: 1234, gid: 5678, additionalGids: [5678], home: '/' });
  assert.deepEqual(resolveUser('app', files).additionalGids, [1000, 10, 29]);
  // An explicit group: the passwd user's memberships are not added (runc's GetExecUser).
  assert.deepEqual(resolveUser('app:audio', files).additionalGids, [29]);
  assert.deepEqual(resolveUser('app', { ...files, groupAdd: ['wheel', '4242', '1000'] }).additionalGids, [1000, 10, 29, 4242]);
});

test('unknown names are a 400 naming them', () => {
  const is400 = (re: RegExp) => (e: unknown) => e instanceof EngineError && e.status === 400 && re.test(e.message);
  assert.throws(() => resolveUser('nobody', files), is400(/unable to find user nobody/));
  assert.throws(() => resolveUser('app:nogroup', files), is400(/unable to find group nogroup/));
  assert.throws(() => resolveUser('app', { ...files, groupAdd: ['nogroup'] }), is400(/Unable to find group nogroup/));
});
