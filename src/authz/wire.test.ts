import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalizeRequest, DEFAULT_MAX_BODY } from '../docker/index.js';
import { buildWireRequest, buildWireResponse, canonicalHeaderKey, decodePluginReply, encodeWire, flattenHeaders } from './wire.js';
import { fixtureDir } from '../../test/helpers/fixtures.js';

const FIXTURES: string | undefined = fixtureDir('authz');

test('canonicalHeaderKey follows Go', () => {
  assert.equal(canonicalHeaderKey('content-type'), 'Content-Type');
  assert.equal(canonicalHeaderKey('X-REGISTRY-AUTH'), 'X-Registry-Auth');
  assert.equal(canonicalHeaderKey('user-agent'), 'User-Agent');
});

test('headers: credentials stripped, Host dropped, last value wins, sorted', () => {
  const h = flattenHeaders(
    { host: 'x', authorization: 'Basic abc', 'X-Registry-Auth': 'e30=', 'x-registry-config': 'e30=', 'x-multi': ['a', 'b'], 'user-agent': 'curl/7.88.1', accept: '*/*', 'x-custom': 'hello' },
    true,
  );
  // fixture 07, header-stripping case
  assert.deepEqual(h, { Accept: '*/*', 'User-Agent': 'curl/7.88.1', 'X-Custom': 'hello', 'X-Multi': 'b' });
  assert.deepEqual(Object.keys(h), ['Accept', 'User-Agent', 'X-Custom', 'X-Multi']);
});

test('AuthZReq body for the captured docker run matches fixture 03', (t) => {
  if (FIXTURES === undefined) return t.skip('requires shared/fixtures/authz');
  const f = JSON.parse(readFileSync(join(FIXTURES, '03-authzreq-containers-create.json'), 'utf8')) as { plugin_request_json: Record<string, unknown> };
  const want = f.plugin_request_json as { RequestBody: string; RequestHeaders: Record<string, string>; RequestUri: string };
  const raw = Buffer.from(want.RequestBody, 'base64');
  const headers = { 'content-length': String(raw.length), 'content-type': 'application/json', 'user-agent': 'Docker-Client/28.2.2 (linux)', host: 'api.moby.localhost' };
  const canonical = canonicalizeRequest({ method: 'POST', rawUrl: want.RequestUri, headers, body: raw, maxBody: DEFAULT_MAX_BODY });
  const wire = buildWireRequest({ identity: {}, canonical, headers });
  assert.deepEqual(Object.keys(wire), ['RequestMethod', 'RequestUri', 'RequestBody', 'RequestHeaders']);
  assert.equal(wire.RequestMethod, 'POST');
  assert.equal(wire.RequestUri, '/v1.41/containers/create');
  assert.deepEqual(JSON.parse(Buffer.from(wire.RequestBody!, 'base64').toString()), JSON.parse(raw.toString()));
  // the canonical body is the raw one without Go's trailing newline; Content-Length says so
  assert.deepEqual(wire.RequestHeaders, { ...want.RequestHeaders, 'Content-Length': String(raw.length - 1) });
});

test('identity and peer certificates as fixture 06 shows them', () => {
  const canonical = canonicalizeRequest({ method: 'HEAD', rawUrl: '/_ping', headers: {}, body: undefined, maxBody: 10 });
  const der = Buffer.from('not really DER but bytes');
  const wire = buildWireRequest({ identity: { user: 'alice', authMethod: 'TLS' }, canonical, headers: { 'user-agent': 'Docker-Client/28.2.2 (linux)' }, peerCertificates: [der] });
  assert.deepEqual(Object.keys(wire), ['User', 'UserAuthNMethod', 'RequestMethod', 'RequestUri', 'RequestHeaders', 'RequestPeerCertificates']);
  const pem = Buffer.from(wire.RequestPeerCertificates![0]!, 'base64').toString();
  assert.match(pem, /^-----BEGIN CERTIFICATE-----\n/);
  assert.equal(Buffer.from(pem.split('\n')[1]!, 'base64').toString(), 'not really DER but bytes');
  // no identity: both fields absent
  assert.equal('User' in buildWireRequest({ identity: {}, canonical, headers: {} }), false);
});

test('registry credentials in /auth bodies are never forwarded', () => {
  const canonical = canonicalizeRequest({ method: 'POST', rawUrl: '/v1.41/auth', headers: {}, body: Buffer.from('{"username":"u","password":"p"}'), maxBody: 1000 });
  assert.equal(buildWireRequest({ identity: {}, canonical, headers: {} }).RequestBody, undefined);
});

test('AuthZRes: status, headers, JSON body only', () => {
  const base = { RequestMethod: 'POST', RequestUri: '/v1.41/containers/create' };
  const res = buildWireResponse(base, { statusCode: 201, headers: { 'content-type': 'application/json', 'api-version': '1.41' }, body: Buffer.from('{"Id":"x","Warnings":[]}') });
  assert.deepEqual(Object.keys(res), ['RequestMethod', 'RequestUri', 'ResponseBody', 'ResponseHeaders', 'ResponseStatusCode']);
  assert.equal(res.ResponseStatusCode, 201);
  assert.deepEqual(res.ResponseHeaders, { 'Api-Version': '1.41', 'Content-Type': 'application/json' });
  const plain = buildWireResponse(base, { statusCode: 0, headers: { 'content-type': 'text/plain' }, body: Buffer.from('OK') });
  assert.equal(plain.ResponseBody, undefined);
  assert.equal(plain.ResponseStatusCode, undefined);
});

test('encodeWire escapes as Go does and ends with a newline', () => {
  assert.equal(encodeWire({ RequestUri: '/x?a=1&b=<2>' }), '{"RequestUri":"/x?a=1\\u0026b=\\u003c2\\u003e"}\n');
});

test('plugin replies', async (t) => {
  const M = 'AuthZPlugin.AuthZReq';
  await t.test('allow / deny / missing Allow', () => {
    assert.deepEqual(decodePluginReply(M, 200, '{"Allow":true}'), { Allow: true });
    assert.deepEqual(decodePluginReply(M, 200, '{"Allow":false,"Msg":"no"}\n'), { Allow: false, Msg: 'no' });
    assert.deepEqual(decodePluginReply(M, 200, '{"Msg":"forgot"}'), { Allow: false, Msg: 'forgot' });
  });
  await t.test('keys match case-insensitively, as in Go', () => {
    assert.deepEqual(decodePluginReply(M, 200, '{"allow":true,"msg":"ok"}'), { Allow: true, Msg: 'ok' });
  });
  await t.test('ambiguous replies are errors', () => {
    assert.throws(() => decodePluginReply(M, 200, '{"Allow":false,"allow":true}'), /invalid JSON in plugin reply: key "allow" appears twice/);
    assert.throws(() => decodePluginReply(M, 200, '{"Allow":"true"}'), /non-boolean Allow/);
    assert.throws(() => decodePluginReply(M, 200, '{"Allow":true,"Err":"half broken"}'), /^Error: AuthZPlugin.AuthZReq: half broken$/);
  });
  await t.test('garbage and errors', () => {
    assert.throws(() => decodePluginReply(M, 200, 'hello'), /AuthZPlugin.AuthZReq: invalid JSON in plugin reply/);
    assert.throws(() => decodePluginReply(M, 200, '[true]'), /not a JSON object/);
    assert.throws(() => decodePluginReply(M, 500, '{"Err":"research plugin internal failure"}'), { message: 'AuthZPlugin.AuthZReq: research plugin internal failure' });
    assert.throws(() => decodePluginReply(M, 502, 'bad gateway\n'), { message: 'AuthZPlugin.AuthZReq: bad gateway' });
  });
});
