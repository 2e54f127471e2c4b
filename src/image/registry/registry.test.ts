import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { EngineError } from '../../base/index.js';
import { parseManifest, selectPlatform, parsePlatform, platformMatches, layerCompression, hostPlatform, MEDIA, type Descriptor } from './manifest.js';
import { parseChallenges, decodeRegistryAuth, credentialsFromAuthConfig, tokenUrl, tokenFromResponse, basicAuthorization } from './auth.js';
import { remoteName, endpointsFor, isInsecure, isLoopback, checkEndpointConfig } from './endpoints.js';
import { DigestCounter, sha256Digest } from './client.js';
import { manifestError } from './errors.js';

const D = (c: string): string => `sha256:${c.repeat(64)}`;

function throwsKind(fn: () => unknown, kind: string, re: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof EngineError && err.kind === kind && re.test(err.message));
}

test('parseManifest reads Docker schema 2 and OCI image manifests', () => {
  const docker = { schemaVersion: 2, mediaType: MEDIA.dockerManifest, config: { mediaType: MEDIA.dockerConfig, size: 10, digest: D('a') }, layers: [{ mediaType: MEDIA.dockerLayerGzip, size: 5, digest: D('b') }] };
  const m = parseManifest(Buffer.from(JSON.stringify(docker)));
  assert.equal(m.kind, 'image');
  assert.equal(m.kind === 'image' && m.layers[0]!.digest, D('b'));
  // OCI manifests may leave mediaType out of the body: the Content-Type decides.
  const oci = { schemaVersion: 2, config: { mediaType: MEDIA.ociConfig, size: 1, digest: D('c') }, layers: [] };
  const o = parseManifest(Buffer.from(JSON.stringify(oci)), `${MEDIA.ociManifest}; charset=utf-8`);
  assert.equal(o.kind === 'image' && o.mediaType, MEDIA.ociManifest);
});

test('parseManifest reads manifest lists and OCI indexes with platforms', () => {
  const idx = { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [{ mediaType: MEDIA.ociManifest, size: 3, digest: D('d'), platform: { os: 'linux', architecture: 'arm', variant: 'v7' } }] };
  const m = parseManifest(Buffer.from(JSON.stringify(idx)));
  assert.equal(m.kind, 'index');
  assert.deepEqual(m.kind === 'index' && m.manifests[0]!.platform, { os: 'linux', architecture: 'arm', variant: 'v7' });
  const list = { ...idx, mediaType: MEDIA.dockerList };
  assert.equal(parseManifest(Buffer.from(JSON.stringify(list))).kind, 'index');
});

test('parseManifest refuses schema 1, bad digests and unknown media types', () => {
  throwsKind(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x', fsLayers: [] }))), 'invalid', /schema 1 is not supported/);
  throwsKind(() => parseManifest(Buffer.from('{}'), MEDIA.schema1Signed), 'invalid', /schema 1/);
  const badDigest = { schemaVersion: 2, mediaType: MEDIA.dockerManifest, config: { size: 1, digest: 'sha256:xyz' }, layers: [] };
  throwsKind(() => parseManifest(Buffer.from(JSON.stringify(badDigest))), 'invalid', /config\.digest/);
  throwsKind(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/x-nope' }))), 'invalid', /unsupported media type/);
  throwsKind(() => parseManifest(Buffer.from('not json')), 'invalid', /invalid manifest/);
});

test('selectPlatform picks the host platform, a named one, and refuses a missing one with Docker\'s words', () => {
  const entry = (arch: string, variant?: string, os = 'linux'): Descriptor => ({ mediaType: MEDIA.ociManifest, size: 1, digest: D(arch.length % 2 ? 'e' : 'f'), platform: { os, architecture: arch, ...(variant ? { variant } : {}) } });
  const list = [entry('unknown', undefined, 'unknown'), { ...entry('arm', 'v6'), digest: D('1') }, { ...entry('arm', 'v7'), digest: D('2') }, { ...entry('amd64'), digest: D('3') }, { ...entry('arm64', 'v8'), digest: D('4') }];
  assert.equal(selectPlatform(list, { os: 'linux', architecture: 'amd64' }).digest, D('3'));
  assert.equal(selectPlatform(list, parsePlatform('linux/arm/v7')).digest, D('2'));
  assert.equal(selectPlatform(list, parsePlatform('linux/arm64/v8')).digest, D('4'));
  // arm64 without a variant in the index still matches the host's v8
  assert.equal(selectPlatform([{ ...entry('arm64'), digest: D('5') }], hostPlatform('arm64')).digest, D('5'));
  throwsKind(() => selectPlatform(list, parsePlatform('linux/s390x')), 'not-found', /^no matching manifest for linux\/s390x in the manifest list entries$/);
  throwsKind(() => parsePlatform('linux'), 'invalid', /invalid platform/);
  assert.deepEqual(parsePlatform('Linux/x86_64'), { os: 'linux', architecture: 'amd64' });
});

test('layerCompression knows gzip, plain tar and zstd; other types are refused', () => {
  assert.equal(layerCompression(MEDIA.dockerLayerGzip), 'gzip');
  assert.equal(layerCompression(MEDIA.ociLayer), 'none');
  assert.equal(layerCompression(MEDIA.ociLayerZstd), 'zstd');
  throwsKind(() => layerCompression('application/octet-stream'), 'invalid', /unsupported layer media type/);
});

test('parseChallenges reads bearer and basic challenges with quoted commas', () => {
  assert.deepEqual(parseChallenges('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' } },
  ]);
  assert.deepEqual(parseChallenges('Basic realm="moat test"'), [{ scheme: 'basic', params: { realm: 'moat test' } }]);
  assert.deepEqual(parseChallenges(undefined), []);
  const two = parseChallenges('Basic realm="a", Bearer realm="b"');
  assert.deepEqual(two.map((c) => c.scheme), ['basic', 'bearer']);
});

test('decodeRegistryAuth takes the CLI\'s base64url JSON, {} as anonymous, and refuses garbage without echoing it', () => {
  assert.deepEqual(decodeRegistryAuth('e30='), {});
  assert.deepEqual(decodeRegistryAuth(undefined), {});
  const hdr = Buffer.from(JSON.stringify({ username: 'u', password: 'p>?', serveraddress: '127.0.0.1:5000' })).toString('base64url');
  assert.deepEqual(decodeRegistryAuth(hdr), { username: 'u', password: 'p>?', serverAddress: '127.0.0.1:5000' });
  assert.throws(() => decodeRegistryAuth('!!!secret-looking!!!'), (err: unknown) => err instanceof EngineError && err.status === 400 && !err.message.includes('secret'));
  assert.deepEqual(credentialsFromAuthConfig({ auth: Buffer.from('me:pw:x').toString('base64') }), { username: 'me', password: 'pw:x' });
  assert.equal(basicAuthorization({ username: 'a', password: 'b' }), `Basic ${Buffer.from('a:b').toString('base64')}`);
});

test('tokenUrl builds the token request; tokenFromResponse takes token or access_token', () => {
  const u = tokenUrl({ scheme: 'bearer', params: { realm: 'https://auth/token', service: 'reg' } }, ['repository:x:pull'], { username: 'me' });
  assert.equal(u.toString(), 'https://auth/token?service=reg&scope=repository%3Ax%3Apull&account=me');
  assert.equal(tokenFromResponse(Buffer.from('{"access_token":"t1"}')), 't1');
  assert.equal(tokenFromResponse(Buffer.from('{"token":"t2","access_token":"t3"}')), 't2');
  assert.throws(() => tokenFromResponse(Buffer.from('{}')), (err: unknown) => err instanceof EngineError && err.status === 403);
  assert.throws(() => tokenUrl({ scheme: 'bearer', params: { realm: 'file:///etc/passwd' } }, [], {}), (err: unknown) => err instanceof EngineError && err.status === 403);
});

test('remoteName follows Docker Hub naming; endpoints allow plain HTTP only for loopback and insecure registries', () => {
  assert.deepEqual(remoteName('busybox'), { domain: 'docker.io', path: 'library/busybox' });
  assert.deepEqual(remoteName('me/app'), { domain: 'docker.io', path: 'me/app' });
  assert.deepEqual(remoteName('127.0.0.1:5000/team/app'), { domain: '127.0.0.1:5000', path: 'team/app' });
  assert.deepEqual(remoteName('localhost/app'), { domain: 'localhost', path: 'app' });
  const none = { insecureRegistries: [], registryMirrors: [] };
  assert.deepEqual(endpointsFor('127.0.0.1:5000', none, 'pull').map((e) => e.url), ['https://127.0.0.1:5000', 'http://127.0.0.1:5000']);
  assert.deepEqual(endpointsFor('registry.example:5000', none, 'pull').map((e) => e.url), ['https://registry.example:5000']);
  const insecure = endpointsFor('10.1.2.3:5000', { insecureRegistries: ['10.0.0.0/8'], registryMirrors: [] }, 'pull');
  assert.deepEqual(insecure.map((e) => [e.url, e.skipVerify]), [['https://10.1.2.3:5000', true], ['http://10.1.2.3:5000', false]]);
  const hub = endpointsFor('docker.io', { insecureRegistries: [], registryMirrors: ['http://127.0.0.1:9/'] }, 'pull');
  assert.deepEqual(hub.map((e) => [e.url, e.mirror]), [['http://127.0.0.1:9', true], ['https://registry-1.docker.io', false]]);
  assert.deepEqual(endpointsFor('docker.io', { insecureRegistries: [], registryMirrors: ['http://127.0.0.1:9/'] }, 'push').map((e) => e.url), ['https://registry-1.docker.io']);
  // --block-registry: nothing is tried for a blocked registry; Docker Hub mirrors still are.
  const blockHub = { insecureRegistries: [], registryMirrors: [], blockedRegistries: ['docker.io'] };
  assert.throws(() => endpointsFor('docker.io', blockHub, 'pull'), (e: EngineError) => e.code === 'ERR_REGISTRY_BLOCKED' && e.status === 403);
  assert.throws(() => endpointsFor('docker.io', blockHub, 'push'), /blocked/);
  assert.deepEqual(endpointsFor('docker.io', { ...blockHub, registryMirrors: ['http://127.0.0.1:9/'] }, 'pull').map((e) => e.url), ['http://127.0.0.1:9']);
  assert.deepEqual(endpointsFor('127.0.0.1:5000', blockHub, 'pull').map((e) => e.url), ['https://127.0.0.1:5000', 'http://127.0.0.1:5000']);
  assert.throws(() => endpointsFor('reg.example:5000', { ...blockHub, blockedRegistries: ['reg.example:5000'] }, 'pull'), /registry reg\.example:5000 is blocked/);
  assert.throws(() => checkEndpointConfig({ ...blockHub, blockedRegistries: ['https://x/'] }), /invalid blocked registry/);
  assert.equal(isLoopback('[::1]:5000'), true);
  assert.equal(isLoopback('128.0.0.1:5000'), false);
  assert.equal(isInsecure('reg:5000', ['reg:5000']), true);
  assert.equal(isInsecure('reg:5001', ['reg:5000']), false);
  assert.throws(() => checkEndpointConfig({ insecureRegistries: [], registryMirrors: ['https://user:pw@mirror'] }), /credentials/);
});

test('DigestCounter verifies what streams through and stops past the size', async () => {
  const data = Buffer.from('layer bytes');
  const c = new DigestCounter(data.length);
  await pipeline(Readable.from([data]), c, new Writable({ write: (_c, _e, cb) => cb() }));
  assert.equal(c.digest(), sha256Digest(data));
  assert.equal(c.bytes, data.length);
  const small = new DigestCounter(3);
  await assert.rejects(pipeline(Readable.from([data]), small, new Writable({ write: (_c, _e, cb) => cb() })), /larger than its 3 bytes/);
});

test('manifestError words missing tags, repositories and denials as Docker does', () => {
  const shown = { familiarName: '127.0.0.1:5000/x', familiarRef: '127.0.0.1:5000/x:v1' };
  const body = (code: string, message: string): Buffer => Buffer.from(JSON.stringify({ errors: [{ code, message }] }));
  const e1 = manifestError(404, body('MANIFEST_UNKNOWN', 'manifest unknown'), shown);
  assert.equal(e1.message, 'manifest for 127.0.0.1:5000/x:v1 not found: manifest unknown: manifest unknown');
  assert.equal(e1.status, 404);
  assert.equal(manifestError(404, body('NAME_UNKNOWN', 'repository name not known to registry'), shown).message, 'repository 127.0.0.1:5000/x not found: name unknown: repository name not known to registry');
  const e3 = manifestError(401, body('UNAUTHORIZED', 'authentication required'), shown);
  assert.equal(e3.status, 403, 'not 401: the CLI would prompt for a login');
  assert.match(e3.message, /^pull access denied for 127\.0\.0\.1:5000\/x, repository does not exist or may require 'docker login': unauthorized: authentication required$/);
});

test('platformMatches: os and architecture; a variant only where both name one (an older arm variant runs on a newer)', () => {
  const amd = { os: 'linux', architecture: 'amd64' };
  assert.equal(platformMatches(amd, parsePlatform('linux/amd64')), true);
  assert.equal(platformMatches({ os: 'linux', architecture: 'x86_64' }, parsePlatform('linux/amd64')), true);
  assert.equal(platformMatches(amd, parsePlatform('linux/arm64')), false);
  assert.equal(platformMatches(amd, parsePlatform('windows/amd64')), false);
  assert.equal(platformMatches({ os: 'linux', architecture: 'arm64' }, parsePlatform('linux/arm64/v8')), true);
  assert.equal(platformMatches({ os: 'linux', architecture: 'arm', variant: 'v6' }, parsePlatform('linux/arm/v7')), true);
  assert.equal(platformMatches({ os: 'linux', architecture: 'arm', variant: 'v7' }, parsePlatform('linux/arm/v6')), false);
});
