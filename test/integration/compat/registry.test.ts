// Images from registries with the real docker CLI: push, pull (tag, digest, auto-pull on run),
// verification failures, Docker's error words, save/load (ours and dockerd 20.10's), history,
// filters and prune. Registries are Debian's docker-registry on random 127.0.0.1 ports, or a
// tiny server in this file; each is stopped (by pid) and its storage removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import Docker from 'dockerode';
import { startDaemon, REPO, type TestDaemon } from '../../helpers/daemon.js';
import { requires } from '../../helpers/requires.js';
import { startRegistry, freePort, type TestRegistry } from '../../helpers/registry.js';
import { buildImage, ociLayoutTar, pushBuilt, putManifest, serveRegistry, sha } from '../../helpers/oci.js';
import { docker, dockerOk } from './cli.js';

interface Inspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
}

const inspect = async (d: TestDaemon, ref: string): Promise<Inspect> => (JSON.parse(await dockerOk(d, ['image', 'inspect', ref])) as Inspect[])[0]!;

function layerDirs(d: TestDaemon): string[] {
  const dir = join(d.dataRoot, 'image', 'layers');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

test('registry: push, pull, run, errors', { timeout: 300_000 }, async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'docker-cli', 'docker-registry')) return;
  const reg: TestRegistry = await startRegistry();
  t.after(() => reg.stop());
  const d: TestDaemon = await startDaemon();
  t.after(() => d.cleanup());

  await t.test('push -> rmi -> pull gives the same image id, with progress, RepoDigests and Docker\'s final lines', async () => {
    const name = `${reg.host}/bb:v1`;
    const id = (await inspect(d, 'busybox')).Id;
    await dockerOk(d, ['tag', 'busybox', name]);
    const push = await dockerOk(d, ['push', name], { timeoutMs: 60_000 });
    assert.match(push, new RegExp(`The push refers to repository \\[${reg.host.replace(/\./g, '\\.')}/bb\\]`));
    assert.match(push, /: Pushed/);
    const m = /v1: digest: (sha256:[a-f0-9]{64}) size: (\d+)/.exec(push);
    assert.ok(m, push);
    const again = await dockerOk(d, ['push', name]);
    assert.match(again, /Layer already exists/);
    await dockerOk(d, ['rmi', name]);
    await dockerOk(d, ['rmi', 'busybox']);
    assert.equal((await docker(d, ['image', 'inspect', 'busybox'])).code, 1, 'the image is gone');
    const pull = await dockerOk(d, ['pull', name], { timeoutMs: 60_000 });
    assert.match(pull, /v1: Pulling from bb/);
    assert.match(pull, /Pull complete/);
    assert.match(pull, new RegExp(`Digest: ${m[1]}`));
    assert.match(pull, new RegExp(`Status: Downloaded newer image for ${reg.host.replace(/\./g, '\\.')}/bb:v1`));
    const after = await inspect(d, name);
    assert.equal(after.Id, id, 'same image id after push, rmi and pull');
    assert.deepEqual(after.RepoDigests, [`${reg.host}/bb@${m[1]}`]);
    const upToDate = await dockerOk(d, ['pull', name]);
    assert.match(upToDate, /Status: Image is up to date for/);
    await dockerOk(d, ['tag', name, 'busybox']);
  });

  await t.test('pull by digest, and run by digest', async () => {
    const name = `${reg.host}/bb:v1`;
    const digest = (await inspect(d, name)).RepoDigests[0]!.split('@')[1]!;
    await dockerOk(d, ['rmi', '-f', name]);
    const byDigest = `${reg.host}/bb@${digest}`;
    const out = await dockerOk(d, ['pull', byDigest], { timeoutMs: 60_000 });
    assert.match(out, /Status: (Downloaded newer image|Image is up to date) for .*bb@sha256:/);
    assert.equal((await dockerOk(d, ['run', '--rm', byDigest, 'echo', 'pinned'])).trim(), 'pinned');
    const wrong = await docker(d, ['pull', `${reg.host}/bb@sha256:${'0'.repeat(64)}`]);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /not found: manifest unknown/);
  });

  await t.test('docker run of a missing image pulls it (create 404 -> pull -> create)', async () => {
    const img = await buildImage({ layers: [{ 'hello.txt': 'hi from a registry\n' }] });
    await pushBuilt(reg.host, 'autopull', 'v1', img);
    const r = await docker(d, ['create', `${reg.host}/autopull:v1`], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Unable to find image '127\.0\.0\.1:\d+\/autopull:v1' locally/);
    assert.match(r.stderr, /Pull complete/);
    assert.equal((await inspect(d, `${reg.host}/autopull:v1`)).Id, img.configDigest);
    await dockerOk(d, ['rm', r.stdout.trim()]);
  });

  await t.test('a missing tag, a missing repository and an unreachable registry fail with Docker\'s words, quickly', async () => {
    const tag = await docker(d, ['pull', `${reg.host}/bb:nosuch`]);
    assert.equal(tag.code, 1);
    assert.match(tag.stderr, new RegExp(`Error response from daemon: manifest for ${reg.host.replace(/\./g, '\\.')}/bb:nosuch not found: manifest unknown: manifest unknown`));
    const repo = await docker(d, ['pull', `${reg.host}/nosuchrepo:v1`]);
    assert.equal(repo.code, 1);
    assert.match(repo.stderr, /not found: (manifest unknown|name unknown)/);
    const port = await freePort();
    const down = await docker(d, ['pull', `127.0.0.1:${port}/x:1`]);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /Error response from daemon: Get "https:\/\/127\.0\.0\.1:\d+\/v2\/": connect ECONNREFUSED/);
    // Test daemons block Docker Hub (no traffic leaves the machine): a clean error, not a hang.
    const hub = await docker(d, ['pull', 'alpine:3.19'], { timeoutMs: 40_000 });
    assert.equal(hub.code, 1);
    assert.match(hub.stderr, /Error response from daemon: registry docker\.io is blocked/);
    assert.ok(hub.ms < 30_000, `took ${hub.ms} ms`);
    const run = await docker(d, ['run', '--rm', `${reg.host}/bb:nosuch`]);
    assert.equal(run.code, 125);
    assert.match(run.stderr, /Unable to find image/);
  });

  await t.test('a blob that does not match its digest fails the pull and stores nothing', async () => {
    const img = await buildImage({ layers: [{ 'a.txt': 'good layer\n' }, { 'b.txt': 'layer that will be corrupted\n' }] });
    const corrupt = Buffer.from(img.layers[1]!.gz);
    corrupt[corrupt.length - 5] = corrupt[corrupt.length - 5]! ^ 0xff;
    const files = new Map<string, { body: Buffer; type?: string; headers?: Record<string, string> }>([
      ['/v2/bad/manifests/v1', { body: img.manifest, type: 'application/vnd.docker.distribution.manifest.v2+json', headers: { 'Docker-Content-Digest': img.manifestDigest } }],
      [`/v2/bad/blobs/${img.configDigest}`, { body: img.config }],
      [`/v2/bad/blobs/${img.layers[0]!.digest}`, { body: img.layers[0]!.gz }],
      [`/v2/bad/blobs/${img.layers[1]!.digest}`, { body: corrupt }],
    ]);
    const srv = await serveRegistry(files);
    try {
      const before = layerDirs(d);
      // Repeated: gunzip, tar and the digest check race each other; every run must end in the
      // digest error and leave the daemon up (a late error on the abandoned stream once killed it).
      for (let i = 0; i < 8; i++) {
        const r = await docker(d, ['pull', `${srv.host}/bad:v1`], { timeoutMs: 60_000 });
        assert.equal(r.code, 1, r.stdout);
        assert.match(r.stderr, new RegExp(`filesystem layer verification failed for digest ${img.layers[1]!.digest}`), `run ${i}`);
      }
      assert.equal((await d.api('GET', '/_ping')).status, 200);
      assert.deepEqual(layerDirs(d), before, 'no layer stays');
      // A manifest that names the corrupted blob's own digest: the blob verifies, gunzip refuses
      // it, the pull fails cleanly (no hang), and nothing stays.
      const m2 = Buffer.from(img.manifest.toString().replace(img.layers[1]!.digest, sha(corrupt)));
      files.set('/v2/bad/manifests/gz', { body: m2, type: 'application/vnd.docker.distribution.manifest.v2+json' });
      files.set(`/v2/bad/blobs/${sha(corrupt)}`, { body: corrupt });
      for (let i = 0; i < 4; i++) {
        const g = await docker(d, ['pull', `${srv.host}/bad:gz`], { timeoutMs: 60_000 });
        assert.equal(g.code, 1);
        assert.match(g.stderr, /Cannot import image: incorrect data check/);
      }
      assert.deepEqual(layerDirs(d), before, 'no layer stays');
      assert.equal((await docker(d, ['image', 'inspect', `${srv.host}/bad:v1`])).code, 1);
      assert.equal((await docker(d, ['image', 'inspect', img.configDigest])).code, 1);
      assert.deepEqual(readdirSync(join(d.dataRoot, 'image', 'tmp')), [], 'no temporary file stays');
      // A manifest whose bytes do not match the digest the registry claims is refused too.
      files.set('/v2/bad/manifests/v2', { body: img.manifest, type: 'application/vnd.docker.distribution.manifest.v2+json', headers: { 'Docker-Content-Digest': sha(Buffer.from('other')) } });
      const m = await docker(d, ['pull', `${srv.host}/bad:v2`]);
      assert.equal(m.code, 1);
      assert.match(m.stderr, /manifest verification failed/);
      // A blob that matches its digest but not the config's diff id: refused, nothing stored.
      const liar = await buildImage({ layers: [{ 'c.txt': 'x\n' }] });
      const cfg = JSON.parse(liar.config.toString()) as { rootfs: { diff_ids: string[] } };
      cfg.rootfs.diff_ids = [`sha256:${'1'.repeat(64)}`];
      const cfgBytes = Buffer.from(JSON.stringify(cfg));
      const manifest = Buffer.from(liar.manifest.toString().replace(liar.configDigest, sha(cfgBytes)).replace(`"size":${liar.config.length}`, `"size":${cfgBytes.length}`));
      files.set('/v2/liar/manifests/v1', { body: manifest, type: 'application/vnd.docker.distribution.manifest.v2+json' });
      files.set(`/v2/liar/blobs/${sha(cfgBytes)}`, { body: cfgBytes });
      files.set(`/v2/liar/blobs/${liar.layers[0]!.digest}`, { body: liar.layers[0]!.gz });
      const l = await docker(d, ['pull', `${srv.host}/liar:v1`]);
      assert.equal(l.code, 1);
      assert.match(l.stderr, /layer verification failed: the layer's content hashes to/);
      assert.deepEqual(layerDirs(d), before, 'no layer stays');
    } finally {
      await srv.close();
    }
  });
  await t.test('concurrent pulls of one image share the download; a client that goes away does not stop or break the pull', async () => {
    const img = await buildImage({ layers: [{ 'x.txt': 'x'.repeat(200_000) }, { 'y.txt': 'y'.repeat(300_000) }] });
    await pushBuilt(reg.host, 'shared', 'v1', img);
    const before = layerDirs(d).length;
    const [a, b] = await Promise.all([docker(d, ['pull', `${reg.host}/shared:v1`], { timeoutMs: 60_000 }), docker(d, ['pull', `${reg.host}/shared:v1`], { timeoutMs: 60_000 })]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(layerDirs(d).length, before + 2, 'each layer stored once');
    assert.equal((await inspect(d, `${reg.host}/shared:v1`)).Id, img.configDigest);
    // A raw pull request whose client hangs up at once: the daemon finishes the pull and stays healthy.
    const other = await buildImage({ layers: [{ 'z.txt': 'z'.repeat(400_000) }] });
    await pushBuilt(reg.host, 'hangup', 'v1', other);
    await new Promise<void>((resolve) => {
      const req = http.request({ socketPath: d.socket, method: 'POST', path: `/images/create?fromImage=${encodeURIComponent(`${reg.host}/hangup`)}&tag=v1` });
      req.on('response', (res) => {
        res.destroy();
        resolve();
      });
      req.on('error', () => resolve());
      req.end();
    });
    let found = false;
    for (let i = 0; i < 100 && !found; i++) {
      found = (await docker(d, ['image', 'inspect', `${reg.host}/hangup:v1`])).code === 0;
      if (!found) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(found, 'the pull completed after the client left');
    assert.equal((await d.api('GET', '/_ping')).status, 200);
  });

  await t.test('dockerode: pull with followProgress, then the image is there', async () => {
    const client = new Docker({ socketPath: d.socket });
    // Four layers: the fourth waits for one of the three download slots.
    const img = await buildImage({ layers: [{ 'dko.txt': 'dockerode\n' }, { 'b.txt': 'b\n' }, { 'c.txt': 'c\n' }, { 'd.txt': 'd\n' }] });
    await pushBuilt(reg.host, 'dko', 'v1', img);
    const stream = await client.pull(`${reg.host}/dko:v1`);
    const events = await new Promise<Array<{ status?: string; error?: string }>>((resolve, reject) => client.modem.followProgress(stream, (err: Error | null, out: Array<{ status?: string }>) => (err ? reject(err) : resolve(out))));
    assert.equal(events.filter((e) => e.status === 'Pull complete').length, 4, JSON.stringify(events));
    assert.equal(events.filter((e) => e.status === 'Waiting').length, 1, 'one layer waited for a download slot');
    assert.ok(events.some((e) => e.status?.startsWith('Status: Downloaded newer image for')));
    assert.equal((await client.getImage(`${reg.host}/dko:v1`).inspect()).Id, img.configDigest);
  });
});

test('registry: save, load, history, filters, prune', { timeout: 300_000 }, async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'docker-cli')) return;
  const d: TestDaemon = await startDaemon();
  t.after(() => d.cleanup());

  await t.test('save -> rmi -> load round trip keeps the image id and runs', async () => {
    const id = (await inspect(d, 'busybox')).Id;
    const file = join(d.root, 'bb.tar');
    await dockerOk(d, ['save', '-o', file, 'busybox']);
    await dockerOk(d, ['rmi', 'busybox']);
    const quiet = await dockerOk(d, ['load', '-i', file]);
    assert.equal(quiet.trim(), 'Loaded image: busybox:latest');
    assert.equal((await inspect(d, 'busybox')).Id, id);
    assert.equal((await dockerOk(d, ['run', '--rm', 'busybox', 'echo', 'loaded'])).trim(), 'loaded');
    // Garbage is a clear error and stores nothing.
    const bad = await docker(d, ['load'], { input: Buffer.alloc(4096, 7) });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid archive|no manifest\.json/);
  });

  await t.test('load of a tarball made by dockerd 20.10\'s docker save', async () => {
    const fixture = join(REPO, 'test/fixtures/images/dockerd-20.10-save.tar');
    const out = await dockerOk(d, ['load', '-i', fixture]);
    assert.match(out, /Loaded image: dockerd-busybox:20\.10/);
    const i = await inspect(d, 'dockerd-busybox:20.10');
    assert.equal(i.Id, 'sha256:7e20aa2f4dc8b4bae87895479caaf5da4a8bf2697a5e3140acd4d4f5605951f7');
    assert.equal((await dockerOk(d, ['run', '--rm', 'dockerd-busybox:20.10', 'echo', 'from 20.10'])).trim(), 'from 20.10');
    const hist = await dockerOk(d, ['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Comment}}', 'dockerd-busybox:20.10']);
    assert.match(hist, /busybox rootfs from moat, imported into dockerd 20\.10/);
  });

  await t.test('load of an OCI layout with progress; history has real rows', async () => {
    const img = await buildImage({
      layers: [{ 'one.txt': '1\n'.repeat(1000) }, { 'two.txt': '2\n'.repeat(3000) }],
      history: [
        { created: '2024-05-01T00:00:00Z', created_by: '/bin/sh -c #(nop) ADD file:one in /' },
        { created: '2024-05-01T00:00:01Z', created_by: '/bin/sh -c #(nop)  CMD ["sh"]', empty_layer: true },
        { created: '2024-05-01T00:00:02Z', created_by: '/bin/sh -c echo two', comment: 'second layer' },
      ],
      labels: { team: 'moat', tier: 'db' },
    });
    const file = join(d.root, 'oci.tar');
    writeFileSync(file, await ociLayoutTar(img, 'docker.io/library/ocitest:v1'));
    const r = await docker(d, ['load', '-i', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Loaded image: ocitest:v1/);
    assert.equal((await inspect(d, 'ocitest:v1')).Id, img.configDigest);
    const rows = (await dockerOk(d, ['history', '--format', '{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}', '--no-trunc', 'ocitest:v1'])).trim().split('\n');
    assert.equal(rows.length, 3);
    assert.match(rows[0]!, new RegExp(`^${img.configDigest}\\|/bin/sh -c echo two\\|7\\.68kB\\|second layer$`));
    assert.match(rows[1]!, /^<missing>\|\/bin\/sh -c #\(nop\)  CMD \["sh"\]\|0B\|$/);
    assert.match(rows[2]!, /^<missing>\|\/bin\/sh -c #\(nop\) ADD file:one in \/\|3\.58kB\|$/);
  });

  await t.test('images filters (reference, label AND, dangling, before, since), -q NAME:TAG, unknown filter 400', async () => {
    await dockerOk(d, ['tag', 'ocitest:v1', 'ocitest:v2']);
    const q = (await dockerOk(d, ['images', '-q', 'ocitest:v1'])).trim().split('\n');
    assert.equal(q.length, 1, 'one row: only the matching tag');
    const rows = (await dockerOk(d, ['images', '--format', '{{.Repository}}:{{.Tag}}', 'ocitest'])).trim().split('\n').sort();
    assert.deepEqual(rows, ['ocitest:v1', 'ocitest:v2']);
    const labelled = (await dockerOk(d, ['images', '--format', '{{.Repository}}:{{.Tag}}', '-f', 'label=team=moat', '-f', 'label=tier=db'])).trim().split('\n').sort();
    assert.deepEqual(labelled, ['ocitest:v1', 'ocitest:v2']);
    assert.equal((await dockerOk(d, ['images', '-q', '-f', 'label=team=moat', '-f', 'label=tier=web'])).trim(), '', 'labels are ANDed');
    // The built-in busybox carries its package's build date (issue 16): which of the two is older depends on the host's package.
    const createdOf = async (ref: string): Promise<number> => Date.parse((await dockerOk(d, ['image', 'inspect', ref, '--format', '{{.Created}}'])).trim());
    const [older, newer] = (await createdOf('busybox')) > (await createdOf('ocitest:v1')) ? [['ocitest:v1', 'ocitest'], ['busybox', 'busybox']] : [['busybox', 'busybox'], ['ocitest:v1', 'ocitest']];
    const since = (await dockerOk(d, ['images', '--format', '{{.Repository}}', '-f', `since=${older[0]}`])).trim().split('\n');
    assert.ok(since.includes(newer[1]!), since.join(','));
    assert.ok(!since.includes(older[1]!));
    const beforeRows = (await dockerOk(d, ['images', '--format', '{{.Repository}}', '-f', `before=${newer[0]}`])).trim().split('\n');
    assert.ok(beforeRows.includes(older[1]!) && !beforeRows.includes(newer[1]!), beforeRows.join(','));
    const bad = await docker(d, ['images', '-f', 'colour=red']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /invalid filter 'colour'/);
  });

  await t.test('image prune: dangling by default, label and until narrow, -a removes unused tagged images', async () => {
    const dangling = await buildImage({ layers: [{ 'd.txt': 'dangling\n' }], labels: { keep: 'no' } });
    const file = join(d.root, 'dangling.tar');
    writeFileSync(file, await ociLayoutTar(dangling));
    assert.match(await dockerOk(d, ['load', '-i', file]), new RegExp(`Loaded image ID: ${dangling.configDigest}`));
    assert.ok((await dockerOk(d, ['images', '-q', '-f', 'dangling=true'])).includes(dangling.configDigest.slice(7, 19)));
    const none = await dockerOk(d, ['image', 'prune', '-f', '--filter', 'label=keep=yes']);
    assert.match(none, /Total reclaimed space: 0B/);
    const bad = await docker(d, ['image', 'prune', '-f', '--filter', 'colour=red']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /invalid filter 'colour'/);
    const pruned = await dockerOk(d, ['image', 'prune', '-f']);
    assert.match(pruned, new RegExp(`deleted: ${dangling.configDigest}`));
    assert.match(pruned, /Total reclaimed space: [1-9]/);
    assert.equal((await docker(d, ['image', 'inspect', dangling.configDigest])).code, 1);
    const untilOld = await dockerOk(d, ['image', 'prune', '-a', '-f', '--filter', 'until=2000-01-01T00:00:00Z']);
    assert.doesNotMatch(untilOld, /ocitest/);
    assert.equal((await docker(d, ['image', 'inspect', 'ocitest:v1'])).code, 0, 'until keeps newer images');
    const all = await dockerOk(d, ['image', 'prune', '-a', '-f', '--filter', 'label=team=moat']);
    assert.match(all, /untagged: ocitest:v1/);
    assert.equal((await docker(d, ['image', 'inspect', 'ocitest:v1'])).code, 1);
    assert.equal((await docker(d, ['image', 'inspect', 'dockerd-busybox:20.10'])).code, 0, 'the label filter kept an unlabelled image');
    assert.equal((await docker(d, ['image', 'inspect', 'busybox'])).code, 0, 'until=2000 keeps the built-in busybox: it has its package\'s date, not 1970 (issue 16)');
  });
});

test('registry: Docker Hub names through a --registry-mirror, platform selection from an index', { timeout: 300_000 }, async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'docker-cli', 'docker-registry')) return;
  const mirror: TestRegistry = await startRegistry();
  t.after(() => mirror.stop());
  const d: TestDaemon = await startDaemon({ args: ['--registry-mirror', `http://${mirror.host}`] });
  t.after(() => d.cleanup());
  const amd = await buildImage({ layers: [{ 'arch.txt': 'amd64\n' }], architecture: 'amd64' });
  const arm = await buildImage({ layers: [{ 'arch.txt': 'arm64\n' }], architecture: 'arm64' });
  // Both images under one OCI index on the mirror, as library/multi:v1 (= docker.io/library/multi).
  await pushBuilt(mirror.host, 'library/multi', 'amd64-only', amd);
  await pushBuilt(mirror.host, 'library/multi', 'arm64-only', arm);
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', size: arm.manifest.length, digest: arm.manifestDigest, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', size: amd.manifest.length, digest: amd.manifestDigest, platform: { os: 'linux', architecture: 'amd64' } },
        { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', size: arm.manifest.length, digest: arm.manifestDigest, platform: { os: 'unknown', architecture: 'unknown' } },
      ],
    }),
  );
  await putManifest(mirror.host, 'library/multi', 'v1', index, 'application/vnd.oci.image.index.v1+json');
  const host = process.arch === 'x64' ? amd : arm;
  const other = process.arch === 'x64' ? arm : amd;

  await t.test('docker info shows the mirror and the insecure loopback range', async () => {
    const cfg = JSON.parse(await dockerOk(d, ['info', '--format', '{{json .RegistryConfig}}'])) as { Mirrors: string[]; InsecureRegistryCIDRs: string[] };
    assert.deepEqual(cfg.Mirrors, [`http://${mirror.host}`]);
    assert.deepEqual(cfg.InsecureRegistryCIDRs, ['127.0.0.0/8']);
    assert.match(await dockerOk(d, ['info']), new RegExp(`Registry Mirrors:\\s+http://${mirror.host.replace(/\./g, '\\.')}`));
  });

  await t.test('a Docker Hub name is pulled from the mirror, the host platform picked', async () => {
    const r = await docker(d, ['pull', 'multi:v1'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /v1: Pulling from library\/multi/);
    assert.match(r.stdout, new RegExp(`Digest: ${sha(index)}`), 'the digest of the index the tag names');
    const i = await inspect(d, 'multi:v1');
    assert.equal(i.Id, host.configDigest);
    assert.deepEqual(i.RepoDigests, [`multi@${sha(index)}`]);
  });

  await t.test('--platform picks another entry; a platform the index lacks is refused', async () => {
    const plat = process.arch === 'x64' ? 'linux/arm64' : 'linux/amd64';
    const r = await docker(d, ['pull', '--platform', plat, 'docker.io/library/multi:v1'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await inspect(d, 'multi:v1')).Id, other.configDigest);
    const none = await docker(d, ['pull', '--platform', 'linux/s390x', 'multi:v1']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no matching manifest for linux\/s390x in the manifest list entries/);
  });

  await t.test('create --platform: an image of another platform is a 404, on which the CLI pulls the asked one', async () => {
    // multi:v1 is the other platform's image now (the test before pulled it).
    const hostPlat = process.arch === 'x64' ? 'linux/amd64' : 'linux/arm64';
    const otherPlat = process.arch === 'x64' ? 'linux/arm64' : 'linux/amd64';
    const never = await docker(d, ['create', '--pull', 'never', '--platform', hostPlat, 'multi:v1', 'true']);
    assert.equal(never.code, 1, never.stderr);
    assert.match(never.stderr, new RegExp(`image with reference multi:v1 was found but does not match the specified platform: wanted ${hostPlat}, actual: ${otherPlat}`));
    assert.equal((await inspect(d, 'multi:v1')).Id, other.configDigest, 'nothing pulled with --pull never');
    const created = await docker(d, ['create', '--platform', hostPlat, 'multi:v1', 'true'], { timeoutMs: 60_000 });
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stderr, /Unable to find image 'multi:v1' locally/);
    assert.equal((await inspect(d, 'multi:v1')).Id, host.configDigest, 'the CLI pulled the asked platform, then created');
    await dockerOk(d, ['rm', created.stdout.trim()]);
  });
});
