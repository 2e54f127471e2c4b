// The image trust policy with a real registry: patterns, digest pins and cosign-format
// signatures (a key this test makes), enforced at pull and at container create (loaded
// images too), explained by `moat images verify`, reloaded on SIGHUP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { requires } from '../../helpers/requires.js';
import { startRegistry } from '../../helpers/registry.js';
import { buildImage, cosignSign, ociLayoutTar, pushBuilt } from '../../helpers/oci.js';
import { docker, dockerOk, sleep } from './cli.js';

test('image trust policy: patterns, digest pins, signatures, create-time checks, SIGHUP', { timeout: 300_000 }, async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'docker-cli', 'docker-registry')) return;
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const trusted = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signed = await buildImage({ layers: [{ 'signed.txt': 'signed\n' }] });
  const evil = await buildImage({ layers: [{ 'evil.txt': 'evil\n' }] });
  const pinned = await buildImage({ layers: [{ 'pinned.txt': 'pinned\n' }] });
  const other = await buildImage({ layers: [{ 'other.txt': 'other\n' }] });
  await pushBuilt(reg.host, 'signed/app', 'v1', signed);
  await cosignSign(reg.host, 'signed/app', signed.manifestDigest, trusted.privateKey);
  await pushBuilt(reg.host, 'signed/evil', 'v1', evil);
  await pushBuilt(reg.host, 'signed/stranger', 'v1', evil);
  await cosignSign(reg.host, 'signed/stranger', evil.manifestDigest, stranger.privateKey);
  await pushBuilt(reg.host, 'signed/wrongdigest', 'v1', evil);
  await cosignSign(reg.host, 'signed/wrongdigest', evil.manifestDigest, trusted.privateKey, { forDigest: signed.manifestDigest });
  await pushBuilt(reg.host, 'pinned/app', 'v1', pinned);
  await pushBuilt(reg.host, 'other/app', 'v1', other);

  const keyDir = mkdtempSync('/tmp/mt-trust-');
  t.after(() => rmSync(keyDir, { recursive: true, force: true }));
  const keyFile = join(keyDir, 'trusted.pub');
  writeFileSync(keyFile, trusted.publicKey.export({ type: 'spki', format: 'pem' }));
  const policyFile = join(keyDir, 'policy.json');
  const policy = (extra: object[] = []): string =>
    JSON.stringify({
      default: 'deny',
      rules: [
        { name: 'signed-only', match: '127.0.0.1:*/signed/**', signedBy: [keyFile] },
        { name: 'pin-it', match: '127.0.0.1:*/pinned/**', requireDigest: true },
        { name: 'builtin', match: 'docker.io/library/busybox' },
        ...extra,
      ],
    });
  writeFileSync(policyFile, policy());
  const d: TestDaemon = await startDaemon({ args: ['--image-policy', policyFile] });
  t.after(() => d.cleanup());

  await t.test('a signed image is pulled and runs; moat images verify explains why', async () => {
    const name = `${reg.host}/signed/app:v1`;
    const r = await docker(d, ['pull', name], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const c = await docker(d, ['create', name]);
    assert.equal(c.code, 0, c.stderr);
    await dockerOk(d, ['rm', c.stdout.trim()]);
    const v = await d.moat(['images', 'verify', name]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /ALLOWED by the image trust policy/);
    assert.match(v.stdout, /rule signed-only: allowed/);
    assert.match(v.stdout, /a signature by key SHA256:[a-f0-9]{12}/);
    assert.match(v.stdout, new RegExp(`verified signature: 127\\.0\\.0\\.1:\\d+/signed/app@${signed.manifestDigest}`));
  });

  await t.test('unsigned, signed by another key, or a signature for another digest: refused at pull with a 403 naming the rule', async () => {
    for (const [repo, why] of [
      ['signed/evil', /no signature: the registry has no tag sha256-/],
      ['signed/stranger', /no signature matches the trusted keys/],
      ['signed/wrongdigest', /the signature is for sha256:/],
    ] as const) {
      const r = await docker(d, ['pull', `${reg.host}/${repo}:v1`]);
      assert.equal(r.code, 1, repo);
      assert.match(r.stderr, /refused by the image trust policy: rule "signed-only" requires a signature by/, repo);
      assert.match(r.stderr, why, repo);
      assert.equal((await docker(d, ['image', 'inspect', evil.configDigest])).code, 1, `${repo}: nothing stored`);
    }
  });

  await t.test('a digest pin is required where the rule says so', async () => {
    const byTag = await docker(d, ['pull', `${reg.host}/pinned/app:v1`]);
    assert.equal(byTag.code, 1);
    assert.match(byTag.stderr, /pull of 127\.0\.0\.1:\d+\/pinned\/app:v1 refused by the image trust policy: trust policy rule "pin-it" requires a digest reference/);
    const ref = `${reg.host}/pinned/app@${pinned.manifestDigest}`;
    assert.equal((await docker(d, ['pull', ref])).code, 0);
    const c = await docker(d, ['create', ref]);
    assert.equal(c.code, 0, c.stderr);
    await dockerOk(d, ['rm', c.stdout.trim()]);
    // a tag under the rule's pattern is not a pin: refused at create
    await dockerOk(d, ['tag', ref, `${reg.host}/pinned/app:local`]);
    const byTag2 = await docker(d, ['create', `${reg.host}/pinned/app:local`]);
    assert.equal(byTag2.code, 1);
    assert.match(byTag2.stderr, /container create from .* requires a digest reference/);
  });

  await t.test('the default denies unmatched repositories; the built-in busybox is allowed by its rule', async () => {
    const r = await docker(d, ['pull', `${reg.host}/other/app:v1`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is denied by the default of the trust policy/);
    const c = await docker(d, ['create', 'busybox']);
    assert.equal(c.code, 0, c.stderr);
    await dockerOk(d, ['rm', c.stdout.trim()]);
  });

  await t.test('an image that entered by load is checked at create: no verified signature, refused; verify says why', async () => {
    const file = join(d.root, 'evil.tar');
    writeFileSync(file, await ociLayoutTar(evil, `${reg.host}/signed/app:loaded`));
    await dockerOk(d, ['load', '-i', file]);
    const c = await docker(d, ['create', `${reg.host}/signed/app:loaded`]);
    assert.equal(c.code, 1);
    assert.match(c.stderr, /Error response from daemon: container create from 127\.0\.0\.1:\d+\/signed\/app:loaded refused by the image trust policy: .*requires a signature by .* none was verified/);
    const v = await d.moat(['images', 'verify', `${reg.host}/signed/app:loaded`]);
    assert.equal(v.code, 1);
    assert.match(v.stdout, /REFUSED by the image trust policy/);
    assert.match(v.stdout, /none was verified for this image/);
  });

  await t.test('SIGHUP reloads the policy; a broken policy keeps the running one', async () => {
    writeFileSync(policyFile, policy([{ name: 'other-ok', match: '127.0.0.1:*/other/**' }]));
    process.kill(d.pid(), 'SIGHUP');
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      await sleep(100);
      ok = (await docker(d, ['pull', `${reg.host}/other/app:v1`])).code === 0;
    }
    assert.ok(ok, 'pull allowed after reload');
    writeFileSync(policyFile, '{"default": "maybe"}');
    process.kill(d.pid(), 'SIGHUP');
    await sleep(500);
    await dockerOk(d, ['rmi', `${reg.host}/other/app:v1`]);
    assert.equal((await docker(d, ['pull', `${reg.host}/other/app:v1`])).code, 0, 'the previous policy still applies');
    assert.equal((await docker(d, ['pull', `${reg.host}/signed/evil:v1`])).code, 1, 'and still refuses');
  });
});
