import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../base/index.js';
import { bindToOciMount, tmpfsToOciMount } from './mounts.js';
import { cleanPath, mergeTmpfsOptions, parseBind, parseMount, parseMountRequests, parseTmpfs } from '../docker/index.js';

const is400 = (msg: string) => (e: unknown): boolean => e instanceof EngineError && e.status === 400 && e.message === msg;

test('cleanPath() behaves like Go path.Clean', () => {
  for (const [i, o] of [['//etc', '/etc'], ['/tmp/../etc', '/etc'], ['/../..', '/'], ['/a/./b/', '/a/b'], ['a/../..', '..'], ['', '.'], ['/', '/']]) {
    assert.equal(cleanPath(i as string), o, i);
  }
});

test('parseBind() parses binds and named volumes', () => {
  assert.deepEqual(parseBind('/host/dir:/data:ro'), {
    kind: 'bind', source: '/host/dir', target: '/data', readOnly: true, propagation: 'rprivate', options: [], origin: 'Binds',
  });
  const v = parseBind('namedvol:/vol');
  assert.equal(v.kind, 'volume');
  assert.equal(v.source, 'namedvol');
  assert.equal(v.readOnly, false);
  const b = parseBind('//host//x/../y:/tmp/../etc:rw,Z,rshared');
  assert.deepEqual([b.source, b.target, b.readOnly, b.label, b.propagation], ['/host/y', '/etc', false, 'Z', 'rshared']);
  assert.equal(parseBind('vol:/v:nocopy').noCopy, true);
  const anon = parseBind('/anon');
  assert.deepEqual([anon.kind, anon.source, anon.target], ['volume', '', '/anon']);
});

test('parseBind() rejects bad specs with dockerd wording', () => {
  assert.throws(() => parseBind(':/x'), is400("invalid volume specification: ':/x'"));
  assert.throws(() => parseBind('/foo:rw'), is400("invalid volume specification: '/foo:rw'"));
  assert.throws(() => parseBind('/a:/b:c:d'), is400("invalid volume specification: '/a:/b:c:d'"));
  assert.throws(() => parseBind('/a:/b:ro,rw'), is400('invalid mode: ro,rw'));
  assert.throws(() => parseBind('/a:/b:bogus'), is400('invalid mode: bogus'));
  assert.throws(() => parseBind('/a:/'), is400("invalid volume specification: '/a:/': invalid mount config for type \"bind\": invalid specification: destination can't be '/'"));
  assert.throws(() => parseBind('/a:rel'), is400("invalid volume specification: '/a:rel': invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute"));
  assert.throws(() => parseBind('/a:/b:nocopy'), is400("invalid volume specification: '/a:/b:nocopy': invalid mount config for type \"bind\": field VolumeOptions must not be specified"));
  assert.throws(() => parseBind('vol:/b:shared'), /field BindOptions must not be specified/);
  assert.throws(() => parseBind('./x:/data'), /"\.\/x" includes invalid characters for a local volume name/);
});

test('parseMount() handles bind, volume and tmpfs', () => {
  assert.deepEqual(parseMount({ Type: 'bind', Source: '/host/dir', Target: '/m2', ReadOnly: true }), {
    kind: 'bind', source: '/host/dir', target: '/m2', readOnly: true, propagation: 'rprivate', options: [], origin: 'Mounts',
  });
  assert.equal(parseMount({ Type: 'bind', Source: '/h', Target: '/m', BindOptions: { Propagation: 'rslave' } }).propagation, 'rslave');
  const t = parseMount({ Type: 'tmpfs', Target: '/t2', TmpfsOptions: { SizeBytes: 1000000 } });
  assert.deepEqual(t.options, ['size=1000000']);
  assert.deepEqual(parseMount({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 64 * 2 ** 20, Mode: 0o1777 } }).options, ['mode=1777', 'size=64m']);
  const v = parseMount({ Type: 'volume', Source: 'data', Target: '/d', VolumeOptions: { NoCopy: true } });
  assert.deepEqual([v.kind, v.noCopy], ['volume', true]);
});

test('parseMount() rejects bad mounts with dockerd wording', () => {
  assert.throws(() => parseMount({ Type: 'bind', Source: 'x', Target: '/m' }), is400("invalid mount config for type \"bind\": invalid mount path: 'x' mount path must be absolute"));
  assert.throws(() => parseMount({ Type: 'bind', Target: '/m' }), is400('invalid mount config for type "bind": field Source must not be empty'));
  assert.throws(() => parseMount({ Type: 'bind', Source: '/x' }), is400('invalid mount config for type "bind": field Target must not be empty'));
  assert.throws(() => parseMount({ Type: 'bind', Source: '/x', Target: '//' }), /destination can't be '\/'/);
  assert.throws(() => parseMount({ Type: 'bind', Source: '/x', Target: '/m', BindOptions: { Propagation: 'weird' } }), /invalid propagation mode: weird/);
  assert.throws(() => parseMount({ Type: 'nfs', Target: '/m' }), is400('invalid mount config for type "nfs": mount type unknown'));
  assert.throws(() => parseMount({ Type: 'tmpfs', Source: 'x', Target: '/m' }), /field Source must not be specified/);
  assert.throws(() => parseMount({ Type: 'volume', Target: '/m', ReadOnly: true }), /must not set ReadOnly mode when using anonymous volumes/);
});

test('parseTmpfs() and parseMountRequests()', () => {
  const t = parseTmpfs('/run', 'rw,size=65536k');
  assert.deepEqual([t.kind, t.target, t.readOnly, t.options], ['tmpfs', '/run', false, ['rw', 'size=65536k']]);
  assert.equal(parseTmpfs('/ro', 'ro').readOnly, true);
  assert.throws(() => parseTmpfs('run', ''), is400("invalid mount path: 'run' mount path must be absolute"));
  assert.throws(() => parseTmpfs('/run', 'bogus'), is400('Invalid tmpfs option ["bogus"]'));
  const all = parseMountRequests({ Binds: ['/host/dir:/data:ro', 'namedvol:/vol'], Mounts: [{ Type: 'bind', Source: '/host/dir', Target: '/m2', ReadOnly: true }], Tmpfs: { '/run': 'rw,size=65536k' } });
  assert.deepEqual(all.map((m) => m.target), ['/data', '/vol', '/m2', '/run']);
  assert.deepEqual(parseMountRequests({ Binds: null }), []);
  assert.throws(() => parseMountRequests({ Binds: ['/a:/x'], Mounts: [{ Type: 'tmpfs', Target: '/x/' }] }), is400('Duplicate mount point: /x'));
  assert.throws(() => parseMountRequests({ Binds: ['/a:/x'], Tmpfs: { '//x': '' } }), is400('Duplicate mount point: /x'));
});

test('bindToOciMount() and tmpfsToOciMount() match Docker', () => {
  assert.deepEqual(bindToOciMount(parseBind('/h:/c')), { destination: '/c', type: 'bind', source: '/h', options: ['rbind', 'rprivate'] });
  assert.deepEqual(bindToOciMount(parseBind('/h:/c:ro,slave')), { destination: '/c', type: 'bind', source: '/h', options: ['rbind', 'ro', 'slave'] });
  assert.deepEqual(bindToOciMount(parseBind('vol:/c'), { source: '/var/lib/moat/volumes/vol/_data' }).source, '/var/lib/moat/volumes/vol/_data');
  assert.throws(() => bindToOciMount(parseBind('vol:/c')), EngineError);
  assert.deepEqual(tmpfsToOciMount(parseTmpfs('/run', 'rw,size=65536k')), {
    destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['noexec', 'nosuid', 'nodev', 'rprivate', 'rw', 'size=65536k'],
  });
  assert.deepEqual(tmpfsToOciMount(parseTmpfs('/x', 'exec,size=1m,size=2m')).options, ['nosuid', 'nodev', 'rprivate', 'exec', 'size=2m']);
  assert.deepEqual(tmpfsToOciMount(parseMount({ Type: 'tmpfs', Target: '/t', ReadOnly: true })).options, ['noexec', 'nosuid', 'nodev', 'rprivate', 'ro']);
  assert.deepEqual(mergeTmpfsOptions(['defaults', 'rw', 'ro']), ['ro']);
  assert.throws(() => mergeTmpfsOptions(['foo=bar']), is400('Invalid tmpfs option ["foo" "bar"]'));
  // Issue 11: mount flags that would make the "tmpfs" a bind or a remount.
  for (const o of ['bind', 'rbind', 'remount']) {
    assert.throws(() => parseTmpfs('/x', `size=1m,${o}`), is400(`Invalid tmpfs option ["${o}"]`));
    assert.throws(() => parseMount({ Type: 'tmpfs', Target: '/x', TmpfsOptions: { Options: [[o]] } }), is400(`Invalid tmpfs option ["${o}"]`));
  }
});
