import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../base/index.js';
import { bindHostPath, bindSourcesOf, checkVolumeName, mountHostPath, parseBind, parseMount, parseMountFlag, parseVolumesFrom, withBindSource } from './mounts.js';

const is400 = (re: RegExp) => (e: unknown): boolean => e instanceof EngineError && e.status === 400 && re.test(e.message);

test('bindHostPath and parseBind read a Binds entry the same way', () => {
  for (const spec of ['/tmp/../etc:/x', '//srv//a/:/a:ro', '/x:/y:rw,rshared', 'vol:/v', 'vol:/v:nocopy', '/anon']) {
    const m = parseBind(spec);
    assert.equal(bindHostPath(spec), m.kind === 'bind' ? m.source : undefined, spec);
  }
  assert.equal(bindHostPath('/tmp/../etc:/x:ro'), '/etc');
  // What cannot be split is refused by both, with dockerd's words.
  for (const spec of [':/x', '/a:/b:ro:extra', '/foo:rw']) {
    assert.throws(() => bindHostPath(spec), is400(/^invalid volume specification: /), spec);
    assert.throws(() => parseBind(spec), is400(/^invalid volume specification: /), spec);
  }
});

test('withBindSource replaces the source and keeps the rest of the spec byte for byte', () => {
  assert.equal(withBindSource('/tmp/../etc:/x:ro', '/etc'), '/etc:/x:ro');
  assert.equal(withBindSource('/a/./:/x//y', '/a'), '/a:/x//y');
  assert.equal(parseBind(withBindSource('/link:/x:ro', '/real')).source, '/real');
});

test('mountHostPath and parseMount agree on a bind Source', () => {
  const m = { Type: 'bind', Source: '//srv/./a/', Target: '/a' };
  assert.equal(mountHostPath(m), parseMount(m).source);
  assert.equal(mountHostPath({ Type: 'volume', Source: 'data' }), undefined);
  // An absolute Source of another type is still the host path it names (refused at create).
  assert.equal(mountHostPath({ Type: 'volume', Source: '/etc' }), '/etc');
});

test('bindSourcesOf: the host paths a policy judges, and what it cannot place', () => {
  assert.deepEqual(bindSourcesOf({ Binds: ['/tmp/../etc:/x', 'vol:/v', '/anon'], Mounts: [{ Type: 'bind', Source: '/srv/', Target: '/s' }, { Type: 'volume', Source: 'v', Target: '/v' }] }), ['/etc', '/srv']);
  // A spec the parser cannot split, and a relative bind Source, come back as written.
  assert.deepEqual(bindSourcesOf({ Binds: ['/a:/b:c:d'], Mounts: [{ Type: 'bind', Source: 'rel', Target: '/r' }] }), ['/a:/b:c:d', 'rel']);
});

test('parseMountFlag reads the CLI --mount syntax; an unknown key is a 400', () => {
  assert.deepEqual(parseMountFlag('type=bind,src=/srv,dst=/s,readonly'), { Type: 'bind', Source: '/srv', Target: '/s', ReadOnly: true });
  assert.deepEqual(parseMountFlag('type=tmpfs,destination=/t,tmpfs-size=64m,tmpfs-mode=1777'), { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 64 * 1024 * 1024, Mode: 0o1777 } });
  assert.throws(() => parseMountFlag('type=bind,bogus=1'), is400(/unexpected key 'bogus'/));
});

test('checkVolumeName: moby local driver rules, one checker for volume create and -v', () => {
  checkVolumeName('data');
  assert.throws(() => checkVolumeName('a'), is400(/too short/));
  assert.throws(() => checkVolumeName('bad/name'), is400(/includes invalid characters for a local volume name/));
  assert.throws(() => checkVolumeName('x'.repeat(256)), is400(/too long/));
});

test('a volume mount names the local driver or none, and no driver options (they were dropped before)', () => {
  assert.equal(parseMount({ Type: 'volume', Source: 'v1', Target: '/x', VolumeOptions: { DriverConfig: { Name: 'local' } } }).source, 'v1');
  assert.equal(parseMount({ Type: 'volume', Source: 'v1', Target: '/x', VolumeOptions: { DriverConfig: { Name: '', Options: {} } } }).source, 'v1');
  assert.throws(() => parseMount({ Type: 'volume', Source: 'v1', Target: '/x', VolumeOptions: { DriverConfig: { Name: 'nfs' } } }), is400(/volume driver "nfs" is not supported by moat: only "local"/));
  assert.throws(() => parseMount({ Type: 'volume', Source: 'v1', Target: '/x', VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'tmpfs' } } } }), is400(/DriverConfig\.Options \(volume-opt\) are not supported/));
});

test('parseVolumesFrom reads container[:mode] as moby does: rw keeps each mount as it is, ro makes all read-only', () => {
  assert.deepEqual(parseVolumesFrom('data'), { container: 'data', readOnly: false });
  assert.deepEqual(parseVolumesFrom('data:'), { container: 'data', readOnly: false });
  assert.deepEqual(parseVolumesFrom('data:rw'), { container: 'data', readOnly: false });
  assert.deepEqual(parseVolumesFrom('data:ro'), { container: 'data', readOnly: true });
  assert.deepEqual(parseVolumesFrom('data:ro,z'), { container: 'data', readOnly: true });
  const refused: Array<[string, RegExp]> = [
    ['', /^volumes-from specification cannot be an empty string$/],
    [':ro', /no container/],
    ['data:rx', /^invalid mode: rx$/],
    ['data:ro,rw', /^invalid mode: ro,rw$/],
    ['data:rshared', /^invalid mode: rshared$/],
    ['data:nocopy', /^invalid mode: nocopy$/],
  ];
  for (const [spec, re] of refused) {
    assert.throws(() => parseVolumesFrom(spec), is400(re), spec);
  }
});
