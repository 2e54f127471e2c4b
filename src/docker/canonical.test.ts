import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError } from '../base/index.js';
import { canonicalizeRequest, canonicalizeTarget, isStreamBodyRoute, resolveBindSources, hostPathsOf, DEFAULT_MAX_BODY, type CanonicalRequest } from './canonical.js';
import { readBodyLimited } from '../authz/index.js';
import { fixtureDir } from '../../test/helpers/fixtures.js';

// The shared fixtures sit beside the checkout (tests run from the repository root).
const FIXTURES: string | undefined = fixtureDir('authz');
function fixture(name: string): Record<string, unknown> | undefined {
  return FIXTURES === undefined ? undefined : (JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as Record<string, unknown>);
}

const JSON_CT = { 'content-type': 'application/json' };

function create(body: string, extra: { rawUrl?: string; headers?: Record<string, string> } = {}): CanonicalRequest {
  return canonicalizeRequest({
    method: 'POST',
    rawUrl: extra.rawUrl ?? '/v1.41/containers/create',
    headers: extra.headers ?? JSON_CT,
    body: Buffer.from(body),
    maxBody: DEFAULT_MAX_BODY,
  });
}

function hostConfig(c: CanonicalRequest): Record<string, unknown> {
  return (c.body as Record<string, Record<string, unknown>>)['HostConfig']!;
}

function rejects(fn: () => unknown, kind: string, re: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof EngineError, `not an EngineError: ${String(err)}`);
    assert.equal(err.kind, kind);
    assert.match(err.message, re);
    return true;
  });
}

test('paths: decoded once, cleaned, version kept apart', async (t) => {
  const cases: Array<[string, string, string | undefined, string]> = [
    ['/containers/create', '/containers/create', undefined, '/containers/create'],
    ['/containers/%63reate', '/containers/create', undefined, '/containers/create'],
    ['//containers/create', '/containers/create', undefined, '/containers/create'],
    ['/v1.41/containers/create', '/containers/create', '1.41', '/v1.41/containers/create'],
    ['//v1.41//containers/./create/', '/containers/create', '1.41', '/v1.41/containers/create'],
    ['/v1.41/containers/x/../create', '/containers/create', '1.41', '/v1.41/containers/create'],
    ['/%761.41/containers%2Fcreate', '/containers/create', '1.41', '/v1.41/containers/create'],
    ['/containers/%2e%2e/containers/create', '/containers/create', undefined, '/containers/create'],
    // decoded once only: %2563 is the literal "%63", which no route matches
    ['/containers/%2563reate', '/containers/%63reate', undefined, '/containers/%2563reate'],
    ['/containers/a%3Fb/start', '/containers/a?b/start', undefined, '/containers/a%3Fb/start'],
    ['/_ping', '/_ping', undefined, '/_ping'],
    ['/images/busybox:latest/json', '/images/busybox:latest/json', undefined, '/images/busybox:latest/json'],
  ];
  for (const [raw, path, version, uri] of cases) {
    await t.test(raw, () => {
      const c = canonicalizeRequest({ method: 'POST', rawUrl: raw, headers: {}, body: undefined, maxBody: 10 });
      assert.equal(c.path, path);
      assert.equal(c.version, version);
      assert.equal(c.uri, uri);
    });
  }
});

test('query is re-encoded canonically and decoded pairs are kept', () => {
  const c = canonicalizeRequest({ method: 'POST', rawUrl: '/v1.41/containers/create?name=a%20b&x&t=1+2', headers: {}, body: undefined, maxBody: 10 });
  assert.deepEqual(c.queryParams, [['name', 'a b'], ['x', ''], ['t', '1 2']]);
  assert.equal(c.query, 'name=a%20b&x=&t=1%202');
  assert.equal(c.uri, '/v1.41/containers/create?name=a%20b&x=&t=1%202');
});

test('malformed paths are refused', () => {
  for (const raw of ['/containers/%zz', 'containers/create', 'http://host/containers/create', '/containers/%00create', '/a#b']) {
    rejects(() => canonicalizeRequest({ method: 'GET', rawUrl: raw, headers: {}, body: undefined, maxBody: 10 }), 'invalid', /request path|percent-encoding|path must start/);
  }
});

test('bypass: body over the limit is 413, by header or by bytes', async () => {
  const big = Buffer.alloc(DEFAULT_MAX_BODY + 1, 0x20);
  // by header, before reading a byte
  let read = false;
  async function* never(): AsyncGenerator<Buffer> { read = true; yield big; }
  await assert.rejects(readBodyLimited(never(), { 'Content-Length': String(big.length) }, DEFAULT_MAX_BODY), (e: unknown) => e instanceof EngineError && e.status === 413);
  assert.equal(read, false);
  // chunked: by the bytes as they arrive
  async function* chunks(): AsyncGenerator<Buffer> { for (let i = 0; i < 20; i++) yield Buffer.alloc(64 * 1024, 0x20); }
  await assert.rejects(readBodyLimited(chunks(), { 'transfer-encoding': 'chunked' }, DEFAULT_MAX_BODY), (e: unknown) => e instanceof EngineError && e.kind === 'too-large');
  assert.equal((await readBodyLimited(chunks(), {}, 2 * DEFAULT_MAX_BODY)).length, 20 * 64 * 1024);
  // and canonicalization refuses an over-limit buffer too
  rejects(() => canonicalizeRequest({ method: 'POST', rawUrl: '/containers/create', headers: { ...JSON_CT, 'transfer-encoding': 'chunked' }, body: big, maxBody: DEFAULT_MAX_BODY }), 'too-large', /exceeds 1048576/);
  const err = (() => { try { create(big.toString()); } catch (e) { return e; } return undefined; })();
  assert.ok(err instanceof EngineError && err.status === 413);
});

test('a JSON route whose body was not read cannot be authorized', () => {
  rejects(() => canonicalizeRequest({ method: 'POST', rawUrl: '/containers/create', headers: { 'content-length': '30' }, body: undefined, maxBody: 100 }), 'internal', /body was not read before authorization/);
  rejects(() => canonicalizeRequest({ method: 'POST', rawUrl: '/containers/abc/exec', headers: { 'transfer-encoding': 'chunked' }, body: undefined, maxBody: 100 }), 'internal', /not read/);
  rejects(() => canonicalizeRequest({ method: 'POST', rawUrl: '/networks/create', headers: { 'content-length': '2' }, body: undefined, maxBody: 100 }), 'internal', /not read/);
});

test('stream routes and targets', () => {
  const target = canonicalizeTarget('//v1.41/images/%6Coad?quiet=1');
  assert.deepEqual(target, { path: '/images/load', version: '1.41', query: 'quiet=1' });
  assert.equal(isStreamBodyRoute('POST', target.path), true);
  assert.equal(isStreamBodyRoute('PUT', '/containers/abc/archive'), true);
  assert.equal(isStreamBodyRoute('POST', '/containers/create'), false);
  assert.equal(isStreamBodyRoute('POST', '/exec/abc/start'), false);
  // a streamed route may carry a large body the plugin never sees, as with dockerd
  const c = canonicalizeRequest({ method: 'POST', rawUrl: '/images/load', headers: { 'content-length': '500000000', 'content-type': 'application/x-tar' }, body: undefined, maxBody: 10 });
  assert.equal(c.canonicalBody.length, 0);
});

test('bypass: Content-Length: 0 with a body is refused', () => {
  rejects(() => create('{"HostConfig":{"Privileged":true}}', { headers: { ...JSON_CT, 'content-length': '0' } }), 'invalid', /Content-Length 0 does not match/);
});

test('bypass: chunked body (no Content-Length) is read and seen', () => {
  const c = create('{"Image":"x","HostConfig":{"Privileged":true}}', { headers: { ...JSON_CT, 'transfer-encoding': 'chunked' } });
  assert.equal(hostConfig(c)['Privileged'], true);
  assert.equal(JSON.parse(c.canonicalBody.toString()).HostConfig.Privileged, true);
});

test('Content-Length and Transfer-Encoding together are refused', () => {
  rejects(() => create('{}', { headers: { ...JSON_CT, 'transfer-encoding': 'chunked', 'content-length': '2' } }), 'invalid', /both Content-Length and Transfer-Encoding/);
});

test('a non-JSON Content-Type with a body is refused; missing Content-Type is JSON', () => {
  rejects(() => create('{"HostConfig":{"Privileged":true}}', { headers: { 'content-type': 'text/plain' } }), 'invalid', /must be 'application\/json'/);
  assert.equal(hostConfig(create('{"HostConfig":{"Privileged":true}}', { headers: {} }))['Privileged'], true);
  assert.equal(hostConfig(create('{"HostConfig":{"Privileged":true}}', { headers: { 'Content-Type': 'Application/JSON; charset=utf-8' } }))['Privileged'], true);
});

test('bypass: duplicate keys are refused, naming the key', async (t) => {
  await t.test('in HostConfig', () => rejects(() => create('{"HostConfig":{"Privileged":false,"Privileged":true}}'), 'invalid', /duplicate key "Privileged" in HostConfig/));
  await t.test('at the top level', () => rejects(() => create('{"HostConfig":{"Privileged":true},"HostConfig":{}}'), 'invalid', /duplicate key "HostConfig"/));
  await t.test('through an escape', () => rejects(() => create('{"HostConfig":{"Privileged":false,"Privil\\u0065ged":true}}'), 'invalid', /duplicate key "Privileged"/));
  await t.test('in a map', () => rejects(() => create('{"Labels":{"a":"1","a":"2"}}'), 'invalid', /duplicate key "a" in Labels/));
  await t.test('in an unknown route body', () => rejects(() => canonicalizeRequest({ method: 'POST', rawUrl: '/networks/create', headers: JSON_CT, body: Buffer.from('{"Name":"a","Name":"b"}'), maxBody: 100 }), 'invalid', /duplicate key "Name"/));
});

test('bypass: case-variant keys are refused', async (t) => {
  await t.test('two spellings in one object', () => rejects(() => create('{"HostConfig":{"Privileged":false,"privileged":true}}'), 'invalid', /keys "Privileged" and "privileged" in HostConfig differ only in case/));
  await t.test('lower-case HostConfig', () => rejects(() => create('{"hostconfig":{"Privileged":true}}'), 'invalid', /unknown field "hostconfig"/));
  await t.test('lower-case Privileged alone', () => rejects(() => create('{"HostConfig":{"privileged":true}}'), 'invalid', /"privileged"/));
  await t.test('Go folds long s (U+017F) to s', () => rejects(() => create('{"HostConfig":{"Bind\u017f":["/etc:/x"]}}'), 'invalid', /the Docker field is "Binds"/));
  await t.test('Go folds Kelvin sign (U+212A) to k', () => rejects(() => create('{"HostConfig":{"Lin\u212As":[]}}'), 'invalid', /"Links"/));
  await t.test('in exec create', () => rejects(() => canonicalizeRequest({ method: 'POST', rawUrl: '/v1.41/containers/abc/exec', headers: JSON_CT, body: Buffer.from('{"privileged":true,"Cmd":["sh"]}'), maxBody: 1000 }), 'invalid', /"privileged"/));
  await t.test('case variants in unknown objects', () => rejects(() => canonicalizeRequest({ method: 'POST', rawUrl: '/networks/create', headers: JSON_CT, body: Buffer.from('{"Options":{"x":1,"X":2}}'), maxBody: 100 }), 'invalid', /differ only in case/));
  await t.test('map keys may differ in case', () => {
    const c = create('{"Labels":{"a":"1","A":"2"},"Volumes":{"/Data":{},"/data":{}}}');
    assert.deepEqual(Object.keys((c.body as Record<string, object>)['Labels']!), ['a', 'A']);
  });
});

test('wrong types for Docker fields are refused (Go would refuse them too)', () => {
  rejects(() => create('{"HostConfig":{"Privileged":"true"}}'), 'invalid', /HostConfig.Privileged must be a boolean/);
  rejects(() => create('{"HostConfig":{"Privileged":1}}'), 'invalid', /must be a boolean/);
  rejects(() => create('{"HostConfig":{"Binds":"/etc:/x"}}'), 'invalid', /HostConfig.Binds must be an array of strings/);
  rejects(() => create('{"HostConfig":{"Memory":1.5}}'), 'invalid', /must be an integer/);
  rejects(() => create('{"HostConfig":{"Mounts":[{"Source":1}]}}'), 'invalid', /HostConfig.Mounts\[0\].Source must be a string/);
  rejects(() => create('[]'), 'invalid', /expected a JSON object/);
  // null is Go's zero value and strslice takes a plain string
  assert.equal(hostConfig(create('{"Cmd":"true","HostConfig":{"Privileged":null,"CapAdd":"SYS_ADMIN"}}'))['CapAdd'], 'SYS_ADMIN');
});

test('malformed JSON is refused', () => {
  for (const body of ['{', '{"a":1}x', '{"a":01}', "{'a':1}", '{"a":"\u0001"}', '\ufeff{}', '{"a":tru}']) {
    rejects(() => create(body), 'invalid', /Cannot decode request body/);
  }
  rejects(() => canonicalizeRequest({ method: 'POST', rawUrl: '/containers/create', headers: JSON_CT, body: Buffer.from([0x7b, 0xff, 0x7d]), maxBody: 100 }), 'invalid', /UTF-8/);
});

test('escapes in keys and values are normalized in the canonical body', () => {
  const c = create('{"Image":"x","HostConfig":{"Privil\\u0065ged":true,"Binds":["\\/etc:/x"]}}');
  assert.equal(c.canonicalBody.toString(), '{"Image":"x","HostConfig":{"Privileged":true,"Binds":["/etc:/x"]}}');
});

test('numbers keep their literal text', () => {
  const c = create('{"HostConfig":{"Memory":9007199254740993,"CpuShares":-0}}');
  assert.match(c.canonicalBody.toString(), /"Memory":9007199254740993/);
});

test('bypass: bind sources are cleaned (//etc, /tmp/../etc)', async (t) => {
  const cases: Array<[string, string]> = [
    ['//etc:/x', '/etc:/x'],
    ['/tmp/../etc:/x:ro', '/etc:/x:ro'],
    ['/etc/./:/x', '/etc:/x'],
    ['/../../etc:/x', '/etc:/x'],
    ['named-volume:/x', 'named-volume:/x'],
    ['/anonymous', '/anonymous'],
  ];
  for (const [bind, want] of cases) {
    await t.test(bind, () => {
      const c = create(JSON.stringify({ HostConfig: { Binds: [bind] } }));
      assert.deepEqual(hostConfig(c)['Binds'], [want]);
      assert.ok(c.canonicalBody.toString().includes(JSON.stringify(want)));
    });
  }
  await t.test('Mounts[].Source, volume device and device nodes', () => {
    const c = create(JSON.stringify({ HostConfig: {
      Mounts: [
        { Type: 'bind', Source: '//etc/', Target: '/x' },
        { Type: 'volume', Source: 'v', Target: '/y', VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'none', o: 'bind', device: '/tmp/../etc' } } } },
      ],
      Devices: [{ PathOnHost: '/dev/../dev/sda', PathInContainer: '/dev/sda', CgroupPermissions: 'rwm' }],
    } }));
    assert.deepEqual(hostPathsOf(c), ['/etc', '/etc', '/dev/sda']);
  });
  await t.test('invalid bind specs are refused', () => {
    rejects(() => create('{"HostConfig":{"Binds":[":/x"]}}'), 'invalid', /invalid volume specification/);
    rejects(() => create('{"HostConfig":{"Binds":["/a:/b:ro:extra"]}}'), 'invalid', /invalid volume specification/);
  });
});

test('bypass: a symlink to /etc resolves to /etc before authorization', async () => {
  const links: Record<string, string> = { '/tmp/link': '/etc', '/tmp/dir': '/srv/real' };
  const realpath = async (p: string): Promise<string> => {
    for (const [from, to] of Object.entries(links)) {
      if (p === from || p.startsWith(from + '/')) {
        const out = to + p.slice(from.length);
        if (out.includes('missing')) throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
        return out;
      }
    }
    if (p.includes('missing')) throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
    return p;
  };
  const c = create(JSON.stringify({ Image: 'x', HostConfig: { Binds: ['/tmp/link:/x:ro', '/tmp/dir/missing/sub:/y', 'vol:/z'], Mounts: [{ Type: 'bind', Source: '/tmp/link/ssh', Target: '/s' }] } }));
  const r = await resolveBindSources(c, realpath);
  assert.deepEqual(hostConfig(r)['Binds'], ['/etc:/x:ro', '/srv/real/missing/sub:/y', 'vol:/z']);
  assert.deepEqual(hostPathsOf(r), ['/etc', '/srv/real/missing/sub', '/etc/ssh']);
  assert.match(r.canonicalBody.toString(), /"\/etc:\/x:ro"/);
  // other errors fail closed
  await assert.rejects(resolveBindSources(c, async () => { throw Object.assign(new Error('EACCES'), { code: 'EACCES' }); }), (e: unknown) => e instanceof EngineError && e.kind === 'invalid');
});

test('resolveBindSources() leaves a body without binds, mounts or devices as it is; any of them (or a volume\'s options) is resolved', async () => {
  const seen: string[] = [];
  const realpath = async (p: string): Promise<string> => {
    seen.push(p);
    return p === '/tmp/link' ? '/etc' : p;
  };
  for (const hc of [{}, { Binds: null, Mounts: null, Devices: null }, { Binds: [], Mounts: [], Devices: [] }, { PidMode: 'host' }]) {
    const c = create(JSON.stringify({ Image: 'x', HostConfig: hc }));
    assert.equal(await resolveBindSources(c, realpath), c, JSON.stringify(hc));
  }
  assert.deepEqual(seen, [], 'no path to resolve');
  for (const [hc, want] of [
    [{ Binds: ['/tmp/link:/x'] }, ['/etc']],
    [{ Mounts: [{ Type: 'bind', Source: '/tmp/link', Target: '/m' }] }, ['/etc']],
    [{ Devices: [{ PathOnHost: '/tmp/link', PathInContainer: '/dev/x', CgroupPermissions: 'r' }] }, ['/etc']],
  ] as const) {
    const r = await resolveBindSources(create(JSON.stringify({ Image: 'x', HostConfig: hc })), realpath);
    assert.deepEqual(hostPathsOf(r), want, JSON.stringify(hc));
  }
  const vol = canonicalizeRequest({ method: 'POST', rawUrl: '/v1.41/volumes/create', headers: JSON_CT, body: Buffer.from(JSON.stringify({ Name: 'v', DriverOpts: { type: 'none', o: 'bind', device: '/tmp/link' } })), maxBody: DEFAULT_MAX_BODY });
  assert.deepEqual(hostPathsOf(await resolveBindSources(vol, realpath)), ['/etc'], 'a volume\'s device');
});

test('captured fixtures canonicalize to the same document', async (t) => {
  if (FIXTURES === undefined) {
    t.skip('requires shared/fixtures/authz');
    return;
  }
  await t.test('03 container create', () => {
    const f = fixture('03-authzreq-containers-create.json')!;
    const wire = f['plugin_request_json'] as Record<string, string>;
    const raw = Buffer.from(wire['RequestBody']!, 'base64');
    const c = canonicalizeRequest({ method: 'POST', rawUrl: wire['RequestUri']!, headers: wire['RequestHeaders'] as unknown as Record<string, string>, body: raw, maxBody: DEFAULT_MAX_BODY });
    assert.equal(c.bodyKind, 'container-create');
    assert.deepEqual(JSON.parse(c.canonicalBody.toString()), JSON.parse(raw.toString()));
    assert.equal(c.canonicalBody.toString(), raw.toString().trimEnd());
  });
  await t.test('08 exec create', () => {
    const f = fixture('08-authzreq-exec-create-privileged.json')!;
    const wire = f['plugin_request_json'] as Record<string, string>;
    const raw = Buffer.from(wire['RequestBody']!, 'base64');
    const c = canonicalizeRequest({ method: 'POST', rawUrl: wire['RequestUri']!, headers: wire['RequestHeaders'] as unknown as Record<string, string>, body: raw, maxBody: DEFAULT_MAX_BODY });
    assert.equal(c.bodyKind, 'exec-create');
    assert.equal((c.body as Record<string, unknown>)['Privileged'], true);
  });
});

test('bypass: a HostConfig sent to start is refused (API < 1.24 applied it)', () => {
  rejects(() => canonicalizeRequest({ method: 'POST', rawUrl: '/v1.23/containers/abc/start', headers: JSON_CT, body: Buffer.from('{"Privileged":true}'), maxBody: 100 }), 'invalid', /non-empty request body/);
  assert.equal(canonicalizeRequest({ method: 'POST', rawUrl: '/containers/abc/start', headers: JSON_CT, body: Buffer.from('{}'), maxBody: 100 }).canonicalBody.toString(), '{}');
});

test('no body: empty canonical body', () => {
  const c = canonicalizeRequest({ method: 'POST', rawUrl: '/containers/x/start', headers: { 'content-length': '0' }, body: Buffer.alloc(0), maxBody: 10 });
  assert.equal(c.body, undefined);
  assert.equal(c.canonicalBody.length, 0);
});
