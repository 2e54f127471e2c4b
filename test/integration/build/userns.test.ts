// A build under --userns-remap: the step containers' files are owned on the host by the
// remapped ids, but the layers a build commits hold container ids (root as 0, not as the
// host's remapped uid), as `docker save` and `docker export` show; the image runs with the
// same owners inside.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { dockerOk } from '../compat/cli.js';

process.env['DOCKER_BUILDKIT'] = '0';

/** The files of a tar: name -> body and owner. */
async function readTar(buf: Buffer): Promise<Map<string, { uid: number; gid: number; body: Buffer }>> {
  const data = buf[0] === 0x1f && buf[1] === 0x8b ? gunzipSync(buf) : buf;
  const out = new Map<string, { uid: number; gid: number; body: Buffer }>();
  const extract = tar.extract();
  Readable.from([data]).pipe(extract);
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    out.set(entry.header.name.replace(/^\.?\//, '').replace(/\/$/, ''), { uid: entry.header.uid ?? -1, gid: entry.header.gid ?? -1, body: Buffer.concat(chunks) });
  }
  return out;
}

function remapStart(file: string): number {
  const line = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith('dockremap:'));
  assert.ok(line, `dockremap has a range in ${file}`);
  return Number(line.split(':')[1]);
}

test('a build under --userns-remap commits container ids', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon({ args: ['--userns-remap', 'default'] });
  t.after(() => d.cleanup());
  const shift = remapStart('/etc/subuid');
  assert.ok(shift > 0);
  const dir = mkdtempSync('/tmp/mt-build-userns-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'a.txt'), 'a\n');
  writeFileSync(join(dir, 'b.txt'), 'b\n');
  writeFileSync(join(dir, 'Dockerfile'), ['FROM busybox', 'COPY a.txt /a.txt', 'COPY --chown=65534:65534 b.txt /b.txt', 'RUN mkdir /d && echo f > /d/f && chown 1000:1001 /d/f', 'WORKDIR /w'].join('\n'));
  await dockerOk(d, ['build', '-t', 'remapped:1', dir], { timeoutMs: 120_000 });
  const want: Record<string, [number, number]> = { 'a.txt': [0, 0], 'b.txt': [65534, 65534], d: [0, 0], 'd/f': [1000, 1001], w: [0, 0] };

  await t.test('docker save: every layer the build made holds container ids', async () => {
    const saved = join(dir, 'saved.tar');
    await dockerOk(d, ['save', '-o', saved, 'remapped:1']);
    const outer = await readTar(readFileSync(saved));
    const manifest = JSON.parse(outer.get('manifest.json')!.body.toString()) as Array<{ Layers: string[] }>;
    const seen = new Map<string, { uid: number; gid: number }>();
    for (const layer of manifest[0]!.Layers) for (const [name, e] of await readTar(outer.get(layer)!.body)) seen.set(name, e);
    for (const [name, [uid, gid]] of Object.entries(want)) {
      assert.deepEqual(seen.get(name) && [seen.get(name)!.uid, seen.get(name)!.gid], [uid, gid], `${name} in the saved layers`);
    }
    for (const [name, e] of seen) assert.ok(e.uid < shift && e.gid < shift, `${name} is not stored with a host id (${e.uid}:${e.gid})`);
  });

  await t.test('docker export and the running image show the same owners', async () => {
    await dockerOk(d, ['create', '--name', 'exp', 'remapped:1']);
    const exported = join(dir, 'export.tar');
    await dockerOk(d, ['export', '-o', exported, 'exp']);
    await dockerOk(d, ['rm', 'exp']);
    const files = await readTar(readFileSync(exported));
    for (const [name, [uid, gid]] of Object.entries(want)) assert.deepEqual([files.get(name)?.uid, files.get(name)?.gid], [uid, gid], `${name} in docker export`);
    const inside = await dockerOk(d, ['run', '--rm', 'remapped:1', 'stat', '-c', '%n %u %g', '/a.txt', '/b.txt', '/d', '/d/f', '/w']);
    assert.equal(inside, '/a.txt 0 0\n/b.txt 65534 65534\n/d 0 0\n/d/f 1000 1001\n/w 0 0\n');
  });
});
