import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../base/index.js';
import type { ImageRecord } from './store.js';
import { filterImages, historyRows, pathMatch, referenceMatches, parseFilterTime } from './filters.js';
import { buildManifest } from './push.js';
import { humanSize, progressBar } from './progress.js';

function img(id: string, created: string, tags: string[], labels: Record<string, string> = {}, digests: string[] = []): ImageRecord {
  return {
    id: `sha256:${id.repeat(64).slice(0, 64)}`,
    repoTags: tags,
    repoDigests: digests,
    size: 10,
    config: { architecture: 'amd64', os: 'linux', created, config: { Labels: labels }, rootfs: { type: 'layers', diff_ids: [] }, history: [] },
  };
}

const A = img('a', '2024-01-01T00:00:00Z', ['app:1', 'app:2', 'other:1'], { team: 'x', tier: 'web' });
const B = img('b', '2024-02-01T00:00:00Z', [], { team: 'x' });
const C = img('c', '2024-03-01T00:00:00Z', ['reg.example:5000/team/app:v1'], {}, ['reg.example:5000/team/app@sha256:' + '1'.repeat(64)]);
const ALL = [A, B, C];
const resolve = (r: string): ImageRecord => {
  const hit = ALL.find((i) => i.repoTags.includes(r) || i.id.includes(r));
  if (!hit) throw new EngineError('not-found', 'ERR_NO_SUCH_IMAGE', `No such image: ${r}`);
  return hit;
};
const f = (o: Record<string, string[]>): Map<string, string[]> => new Map(Object.entries(o));

test('reference filters keep only the matching tags (docker images -q NAME:TAG prints one row)', () => {
  const r = filterImages(ALL, f({ reference: ['app:1'] }), resolve);
  assert.deepEqual(r.map((x) => x.repoTags), [['app:1']]);
  assert.deepEqual(filterImages(ALL, f({ reference: ['app'] }), resolve).map((x) => x.repoTags), [['app:1', 'app:2']]);
  assert.deepEqual(filterImages(ALL, f({ reference: ['app:*'] }), resolve).map((x) => x.repoTags), [['app:1', 'app:2']]);
  assert.deepEqual(filterImages(ALL, f({ reference: ['reg.example:5000/*/app'] }), resolve).map((x) => x.image.id), [C.id]);
  assert.equal(referenceMatches('app', 'app:1'), true);
  assert.equal(referenceMatches('ap', 'app:1'), false);
  assert.equal(pathMatch('a[0-9]', 'a5'), true);
});

test('label filters are ANDed; label! excludes; dangling, before, since, until', () => {
  assert.deepEqual(filterImages(ALL, f({ label: ['team=x'] }), resolve).map((x) => x.image.id), [A.id, B.id]);
  assert.deepEqual(filterImages(ALL, f({ label: ['team=x', 'tier=web'] }), resolve).map((x) => x.image.id), [A.id]);
  assert.deepEqual(filterImages(ALL, f({ label: ['team'] }), resolve).map((x) => x.image.id), [A.id, B.id]);
  assert.deepEqual(filterImages(ALL, f({ 'label!': ['tier'] }), resolve).map((x) => x.image.id), [B.id, C.id]);
  assert.deepEqual(filterImages(ALL, f({ dangling: ['true'] }), resolve).map((x) => x.image.id), [B.id]);
  assert.deepEqual(filterImages(ALL, f({ dangling: ['false'] }), resolve).map((x) => x.image.id), [A.id, C.id]);
  assert.deepEqual(filterImages(ALL, f({ before: ['reg.example:5000/team/app:v1'] }), resolve).map((x) => x.image.id), [A.id, B.id]);
  assert.deepEqual(filterImages(ALL, f({ since: ['app:1'] }), resolve).map((x) => x.image.id), [B.id, C.id]);
  assert.deepEqual(filterImages(ALL, f({ until: ['2024-01-15T00:00:00Z'] }), resolve).map((x) => x.image.id), [A.id]);
});

test('unknown filter keys and bad values are 400s; a missing before image is a 404', () => {
  assert.throws(() => filterImages(ALL, f({ colour: ['red'] }), resolve), (e: unknown) => e instanceof EngineError && e.status === 400 && e.message === "invalid filter 'colour'");
  assert.throws(() => filterImages(ALL, f({ dangling: ['maybe'] }), resolve), /invalid filter 'dangling=maybe'/);
  assert.throws(() => filterImages(ALL, f({ before: ['nosuch:1'] }), resolve), (e: unknown) => e instanceof EngineError && e.status === 404);
  assert.equal(parseFilterTime('1h', 10_000_000), 10_000_000 - 3_600_000);
  assert.throws(() => parseFilterTime('yesterday'), /invalid filter/);
});

test('docker images hides a nameless image other images were built on unless -a; it is never dangling', () => {
  const D = img('d', '2024-04-01T00:00:00Z', []);
  const list = [...ALL, D];
  const view = (all: boolean) => ({ all, hasChildren: (id: string) => id === B.id });
  assert.deepEqual(filterImages(list, f({}), resolve, view(false)).map((x) => x.image.id), [A.id, C.id, D.id], 'B (untagged, with a child) is hidden');
  assert.deepEqual(filterImages(list, f({}), resolve, view(true)).map((x) => x.image.id), [A.id, B.id, C.id, D.id], '-a lists it');
  assert.deepEqual(filterImages(list, f({ dangling: ['true'] }), resolve, view(true)).map((x) => x.image.id), [D.id], 'only childless untagged images are dangling');
  assert.deepEqual(filterImages(list, f({ dangling: ['false'] }), resolve, view(true)).map((x) => x.image.id), [A.id, B.id, C.id]);
});

test('history rows: one per entry, newest first, empty layers have size 0, only the top row names the image', () => {
  const i = img('d', '2024-01-01T00:00:00Z', ['app:1']);
  i.config.rootfs.diff_ids = ['sha256:l1', 'sha256:l2'];
  i.config.history = [
    { created: '2024-01-01T00:00:00Z', created_by: '/bin/sh -c #(nop) ADD file:x in /' },
    { created: '2024-01-01T00:00:01Z', created_by: '/bin/sh -c #(nop) CMD ["sh"]', empty_layer: true },
    { created: '2024-01-01T00:00:02Z', created_by: 'RUN make', comment: 'build' },
  ];
  const rows = historyRows(i, (d) => (d === 'sha256:l1' ? 100 : 200));
  assert.deepEqual(rows.map((r) => [r.Id === i.id ? 'id' : r.Id, r.CreatedBy, r.Size, r.Comment, r.Tags]), [
    ['id', 'RUN make', 200, 'build', ['app:1']],
    ['<missing>', '/bin/sh -c #(nop) CMD ["sh"]', 0, '', null],
    ['<missing>', '/bin/sh -c #(nop) ADD file:x in /', 100, '', null],
  ]);
});

test('push manifests: Docker schema 2 for Docker layer types, OCI otherwise', () => {
  const docker = JSON.parse(buildManifest('sha256:c', 3, [{ digest: 'sha256:l', size: 9, mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip' }]).bytes.toString());
  assert.equal(docker.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.equal(docker.config.mediaType, 'application/vnd.docker.container.image.v1+json');
  const oci = buildManifest('sha256:c', 3, [{ digest: 'sha256:l', size: 9, mediaType: 'application/vnd.oci.image.layer.v1.tar' }]);
  assert.equal(oci.mediaType, 'application/vnd.oci.image.manifest.v1+json');
});

test('progress text as the CLI draws it', () => {
  assert.equal(humanSize(1234567), '1.235MB');
  assert.equal(humanSize(999), '999B');
  assert.match(progressBar(50, 100), /^\[=+>\s+\]\s+50B\/100B$/);
});
