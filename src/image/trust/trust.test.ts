import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { EngineError } from '../../base/index.js';
import { parseTrustPolicy, patternRegExp, requirementFor, judge } from './policy.js';
import { checkPayload, keyFingerprint, signatureTag, verifyCosignSignature, verifyPayloadSignature, SIMPLE_SIGNING_MEDIA_TYPE, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_TYPE } from './cosign.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

test('patternRegExp: * stays in a segment, ** crosses segments', () => {
  assert.equal(patternRegExp('docker.io/library/*').test('docker.io/library/busybox'), true);
  assert.equal(patternRegExp('docker.io/library/*').test('docker.io/library/a/b'), false);
  assert.equal(patternRegExp('127.0.0.1:*/**').test('127.0.0.1:5000/team/app'), true);
  assert.equal(patternRegExp('127.0.0.1:*/**').test('127.0.0.2:5000/app'), false);
  assert.equal(patternRegExp('reg.example/app?').test('reg.example/app1'), true);
  assert.equal(patternRegExp('a.b/c').test('aXb/c'), false, 'dots are literal');
});

test('parseTrustPolicy names the bad path', () => {
  assert.throws(() => parseTrustPolicy('{"default":"maybe"}'), /default: must be "allow" or "deny"/);
  assert.throws(() => parseTrustPolicy('{"rules":[{"match":"x","colour":1}]}'), /rules\[0\]\.colour: unknown key/);
  assert.throws(() => parseTrustPolicy('{"rules":[{"match":"x","requireDigest":"yes"}]}'), /rules\[0\]\.requireDigest/);
  assert.throws(() => parseTrustPolicy('{"rules":[{"match":"x y"}]}'), /invalid pattern/);
  const p = parseTrustPolicy('{"default":"deny","rules":[{"name":"local","match":"127.0.0.1:*/**","signedBy":"/k.pub"}]}');
  assert.deepEqual(p.rules[0], { name: 'local', match: '127.0.0.1:*/**', action: 'allow', requireDigest: false, signedBy: ['/k.pub'] });
});

test('the first matching rule decides; unmatched names take the default; judge explains each requirement', () => {
  const p = parseTrustPolicy(JSON.stringify({ default: 'deny', rules: [{ name: 'no-hub', match: 'docker.io/**', action: 'deny' }, { name: 'pinned', match: 'reg.example/**', requireDigest: true }, { match: '127.0.0.1:*/**', signedBy: ['/k.pub'] }] }));
  assert.equal(requirementFor(p, 'docker.io/library/busybox').rule, 'no-hub');
  assert.equal(requirementFor(p, 'elsewhere.example/x').rule, 'default');
  assert.equal(requirementFor(p, '127.0.0.1:5000/a').rule, 'rules[2]');
  const fp = new Map([['/k.pub', 'SHA256:abc']]);
  const deny = judge(requirementFor(p, 'docker.io/library/busybox'), { digestPinned: true, verifiedKeys: [] }, fp);
  assert.equal(deny.allowed, false);
  assert.match(deny.reasons[0]!, /denied by trust policy rule "no-hub"/);
  assert.equal(judge(requirementFor(p, 'reg.example/app'), { digestPinned: false, verifiedKeys: [] }, fp).allowed, false);
  assert.equal(judge(requirementFor(p, 'reg.example/app'), { digestPinned: true, verifiedKeys: [] }, fp).allowed, true);
  const unsigned = judge(requirementFor(p, '127.0.0.1:5000/a'), { digestPinned: false, verifiedKeys: ['SHA256:other'] }, fp);
  assert.equal(unsigned.allowed, false);
  assert.match(unsigned.reasons.join(' '), /requires a signature by \/k\.pub/);
  assert.equal(judge(requirementFor(p, '127.0.0.1:5000/a'), { digestPinned: false, verifiedKeys: ['SHA256:abc'] }, fp).allowed, true);
  assert.equal(judge(requirementFor(p, 'elsewhere.example/x'), { digestPinned: true, verifiedKeys: [] }, fp).allowed, false);
});

function signedPayload(digest: string): { payload: Buffer; sig: string; key: ReturnType<typeof generateKeyPairSync>['publicKey'] } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const payload = Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': '127.0.0.1:5000/app' }, image: { 'docker-manifest-digest': digest }, type: SIMPLE_SIGNING_TYPE }, optional: null }));
  return { payload, sig: sign('sha256', payload, privateKey).toString('base64'), key: publicKey };
}

test('cosign payloads: the signature must verify with the key and name exactly the digest', async () => {
  const { payload, sig, key } = signedPayload(DIGEST);
  assert.equal(signatureTag(DIGEST), `sha256-${'ab'.repeat(32)}.sig`);
  assert.equal(verifyPayloadSignature(payload, sig, key), true);
  assert.equal(verifyPayloadSignature(Buffer.concat([payload, Buffer.from(' ')]), sig, key), false, 'a changed payload fails');
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  assert.equal(verifyPayloadSignature(payload, sig, other), false, 'another key fails');
  assert.equal(checkPayload(payload, DIGEST), '127.0.0.1:5000/app');
  assert.throws(() => checkPayload(payload, `sha256:${'cd'.repeat(32)}`), /the signature is for sha256:abab/);
  const layer = { mediaType: SIMPLE_SIGNING_MEDIA_TYPE, digest: `sha256:${'00'.repeat(32)}`, size: payload.length, annotations: { [SIGNATURE_ANNOTATION]: sig } };
  const src = (layers: unknown[] | undefined) => ({ signatureLayers: async () => layers as never, payload: async () => payload });
  const ok = await verifyCosignSignature(src([layer]), DIGEST, [other, key]);
  assert.equal(ok.keyFingerprint, keyFingerprint(key));
  await assert.rejects(verifyCosignSignature(src(undefined), DIGEST, [key]), /no signature: the registry has no tag sha256-abab/);
  await assert.rejects(verifyCosignSignature(src([layer]), DIGEST, [other]), /no signature matches the trusted keys/);
  await assert.rejects(verifyCosignSignature(src([layer]), `sha256:${'cd'.repeat(32)}`, [key]), /the signature is for/);
  assert.ok(!(ok instanceof EngineError));
});
