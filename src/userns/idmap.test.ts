import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../base/index.js';
import {
  parseSubIdFile,
  formatSubIdEntry,
  appendSubIdEntry,
  allocateRange,
  rangesOverlap,
  parseRemapSpec,
  idMapsFromRanges,
  toHost,
  toContainer,
  ociIdMappings,
  rangesFor,
  parsePasswd,
  parseGroup,
  findUser,
  findGroup,
} from './idmap.js';

const isInvalid = (re: RegExp) => (e: unknown): boolean => e instanceof EngineError && e.kind === 'invalid' && re.test(e.message);

test('parseSubIdFile() reads entries and skips blank and comment lines', () => {
  assert.deepEqual(parseSubIdFile('# c\n\nalice:100000:65536\n1000:165536:10\n'), [
    { name: 'alice', start: 100000, count: 65536 },
    { name: '1000', start: 165536, count: 10 },
  ]);
  assert.deepEqual(parseSubIdFile(''), []);
});

test('parseSubIdFile() refuses malformed lines, naming file and line', () => {
  for (const bad of ['a:1', 'a:1:2:3', ':1:2', 'a:x:2', 'a:1:-2', 'a:01:2', 'a:4294967295:2']) {
    assert.throws(() => parseSubIdFile(`ok:1:1\n${bad}\n`, '/etc/subuid'), isInvalid(/^Cannot parse \/etc\/subuid: line 2: /), bad);
  }
});

test('formatSubIdEntry() and appendSubIdEntry() keep the file intact', () => {
  const e = { name: 'dockremap', start: 100000, count: 65536 };
  assert.equal(formatSubIdEntry(e), 'dockremap:100000:65536');
  assert.equal(appendSubIdEntry('', e), 'dockremap:100000:65536\n');
  assert.equal(appendSubIdEntry('# x\na:1:2', e), '# x\na:1:2\ndockremap:100000:65536\n');
  assert.equal(appendSubIdEntry('a:1:2\n', e), 'a:1:2\ndockremap:100000:65536\n');
});

test('allocateRange() picks the first gap >= 100000 that overlaps nothing', () => {
  const r = (start: number, count: number) => ({ name: 'x', start, count });
  assert.equal(allocateRange([]), 100000);
  assert.equal(allocateRange([r(100000, 65536)]), 165536);
  assert.equal(allocateRange([r(165536, 65536), r(100000, 65536)]), 231072); // unsorted input
  assert.equal(allocateRange([r(100000, 10), r(200000, 65536)]), 100010); // the gap fits exactly
  assert.equal(allocateRange([r(100000, 10), r(165000, 10)]), 165010); // the gap is too small
  assert.equal(allocateRange([r(0, 1000), r(99999, 2)]), 100001); // ranges below min overlap-checked
  assert.equal(allocateRange([r(50000, 100000)], 1000), 150000);
  assert.equal(allocateRange([], 10, { min: 5 }), 5);
  assert.throws(() => allocateRange([r(100000, 4294867295)]), isInvalid(/no free range/));
  // property: the result never overlaps any input
  let seed = 7;
  const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
  for (let i = 0; i < 300; i++) {
    const entries = Array.from({ length: rnd(8) }, () => r(90000 + rnd(400000), 1 + rnd(100000)));
    const size = 1 + rnd(70000);
    const start = allocateRange(entries, size);
    assert.ok(start >= 100000);
    for (const e of entries) assert.ok(!rangesOverlap(e, { start, count: size }), JSON.stringify({ entries, size, start }));
  }
});

test('parseRemapSpec() accepts Docker forms and refuses others with Docker\'s message', () => {
  assert.deepEqual(parseRemapSpec('default'), { mode: 'default', user: 'dockremap', group: 'dockremap' });
  assert.deepEqual(parseRemapSpec('alice'), { mode: 'user', user: 'alice', group: undefined });
  assert.deepEqual(parseRemapSpec('alice:staff'), { mode: 'user', user: 'alice', group: 'staff' });
  assert.deepEqual(parseRemapSpec('1000:1000'), { mode: 'user', user: '1000', group: '1000' });
  assert.deepEqual(parseRemapSpec('default:users'), { mode: 'user', user: 'default', group: 'users' });
  for (const off of ['root', '0', 'root:root', '0:0']) assert.equal(parseRemapSpec(off).mode, 'off');
  for (const bad of ['a:b:c', '', ':g', 'u:', 'a b']) {
    assert.throws(() => parseRemapSpec(bad), isInvalid(new RegExp(`^Invalid user/group specification in --userns-remap: ${JSON.stringify(JSON.stringify(bad)).slice(1, -1)}$`)), bad);
  }
});

test('id maps: consecutive container ids across ranges; toHost/toContainer', () => {
  const maps = idMapsFromRanges([{ start: 100000, count: 10 }, { start: 300000, count: 5 }]);
  assert.deepEqual(maps, [
    { containerID: 0, hostID: 100000, size: 10 },
    { containerID: 10, hostID: 300000, size: 5 },
  ]);
  assert.equal(toHost(maps, 0), 100000);
  assert.equal(toHost(maps, 9), 100009);
  assert.equal(toHost(maps, 10), 300000);
  assert.equal(toHost(maps, 15), undefined);
  assert.equal(toContainer(maps, 300004), 14);
  assert.equal(toContainer(maps, 0), undefined);
  assert.deepEqual(ociIdMappings([{ start: 1, count: 2 }], [{ start: 3, count: 4 }]), {
    uidMappings: [{ containerID: 0, hostID: 1, size: 2 }],
    gidMappings: [{ containerID: 0, hostID: 3, size: 4 }],
  });
});

test('rangesFor() matches by name or numeric uid, in file order', () => {
  const entries = parseSubIdFile('bob:1:1\n1001:5:5\nalice:2:2\nalice:9:9\n');
  assert.deepEqual(rangesFor(entries, { name: 'alice', uid: 1001 }).map((e) => e.start), [5, 2, 9]);
});

test('passwd and group parsing and lookup by name or id', () => {
  const users = parsePasswd('root:x:0:0:root:/root:/bin/bash\nbad line\ndockremap:x:102:106::/nonexistent:/bin/false\n');
  assert.deepEqual(findUser(users, 'dockremap'), { name: 'dockremap', uid: 102, gid: 106, home: '/nonexistent' });
  assert.deepEqual(findUser(users, '0'), { name: 'root', uid: 0, gid: 0, home: '/root' });
  assert.equal(findUser(users, 'nobody'), undefined);
  const groups = parseGroup('root:x:0:\ndockremap:x:106:alice,bob\n');
  assert.deepEqual(findGroup(groups, '106'), { name: 'dockremap', gid: 106, members: ['alice', 'bob'] });
  assert.equal(findGroup(groups, 'staff'), undefined);
});
