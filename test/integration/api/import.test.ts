// `POST /images/create?fromSrc=-` and `moat import`: hostile tarballs are refused with a 400
// naming the entry and leave nothing behind (inside or outside the data root); a good
// rootfs tarball imports and runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import tarStream from 'tar-stream';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';

interface Entry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  body?: string | Buffer;
  linkname?: string;
  mode?: number;
}

async function tarball(entries: Entry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = { name: e.name, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), ...(e.linkname !== undefined ? { linkname: e.linkname } : {}) };
    if (type === 'file') pack.entry(header, e.body ?? '');
    else pack.entry(header);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Every path (relative) under `dir`, recursively. */
function tree(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const rel = join(prefix, e.name);
    out.push(rel);
    if (e.isDirectory()) out.push(...tree(join(dir, e.name), rel));
  }
  return out.sort();
}

async function importTar(d: TestDaemon, body: Buffer, query: string): Promise<{ status: number; text: string }> {
  const r = await d.api('POST', `/images/create?fromSrc=-&${query}`, body, { 'Content-Type': 'application/x-tar' });
  return { status: r.status, text: r.body.toString('utf8') };
}

test('import refuses tarballs that escape the layer and runs a good one', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const imagesBefore = (await d.api('GET', '/images/json')).json<unknown[]>();

  await t.test('hostile entries: 400 naming the entry, nothing written anywhere', async () => {
    const marker = `moat-escape-${randomBytes(6).toString('hex')}`;
    const layerTreeBefore = tree(join(d.dataRoot, 'image'));
    const cases: Array<{ entries: Entry[]; bad: string }> = [
      { entries: [{ name: 'ok.txt', body: 'fine' }, { name: `../${marker}`, body: 'pwned' }], bad: `../${marker}` },
      { entries: [{ name: `a/../../${marker}`, body: 'pwned' }], bad: `a/../../${marker}` },
      { entries: [{ name: `./../../../../../../tmp/${marker}`, body: 'pwned' }], bad: `./../../../../../../tmp/${marker}` },
      // A symlink out of the layer, then a write through it.
      { entries: [{ name: 'out', type: 'symlink', linkname: '/tmp' }, { name: `out/${marker}`, body: 'pwned' }], bad: `out/${marker}` },
      { entries: [{ name: 'up', type: 'symlink', linkname: '../../../../../../../tmp' }, { name: `up/${marker}`, body: 'pwned' }], bad: `up/${marker}` },
      // A hard link to a host file.
      { entries: [{ name: marker, type: 'link', linkname: '/etc/passwd' }], bad: marker },
      { entries: [{ name: marker, type: 'link', linkname: '../../../../etc/passwd' }], bad: marker },
    ];
    for (const c of cases) {
      const r = await importTar(d, await tarball(c.entries), 'repo=evil');
      assert.equal(r.status, 400, `${c.bad}: ${r.status} ${r.text}`);
      const msg = (JSON.parse(r.text) as { message: string }).message;
      assert.ok(msg.includes(JSON.stringify(c.bad)) || msg.includes(c.bad), `message names the entry ${c.bad}: ${msg}`);
    }
    // Nothing outside the data root ...
    for (const dir of ['/tmp', '/', d.root, join(d.dataRoot, '..'), join(d.dataRoot, 'image', '..')]) {
      assert.equal(existsSync(join(dir, marker)), false, `${join(dir, marker)} was written`);
    }
    assert.ok(!tree(d.root).some((p) => p.includes(marker)), 'no entry under the test root');
    assert.ok(!readFileSync('/etc/passwd', 'utf8').includes('pwned'));
    // ... and nothing half-made inside it: no image, no tag, no layer, no temp dir.
    assert.deepEqual(tree(join(d.dataRoot, 'image')), layerTreeBefore);
    assert.deepEqual((await d.api('GET', '/images/json')).json(), imagesBefore);
    assert.equal((await d.api('GET', '/images/evil/json')).status, 404);
  });

  await t.test('moat import of a hostile tarball fails with the same message', async () => {
    const file = join(d.root, 'evil.tar');
    writeFileSync(file, await tarball([{ name: 'bin', type: 'directory' }, { name: '../../outside-cli', body: 'x' }]));
    const r = await d.moat(['import', file, 'evil-cli']);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /Error response from daemon: .*"\.\.\/\.\.\/outside-cli"/);
    assert.equal(existsSync(join(d.dataRoot, '..', 'outside-cli')), false);
    assert.equal(existsSync(join(d.root, '..', 'outside-cli')), false);
    assert.equal((await d.api('GET', '/images/evil-cli/json')).status, 404);
  });

  await t.test('a good rootfs tarball imports (API and CLI) and runs', async () => {
    const busybox = readFileSync('/bin/busybox');
    const good = await tarball([
      { name: 'bin', type: 'directory' },
      { name: 'bin/busybox', body: busybox, mode: 0o755 },
      { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
      { name: 'bin/echo', type: 'symlink', linkname: '/bin/busybox' },
      { name: 'bin/cat', type: 'link', linkname: 'bin/busybox' },
      { name: 'etc', type: 'directory' },
      { name: 'etc/motd', body: 'hello from the layer\n' },
      { name: 'tmp', type: 'directory', mode: 0o1777 },
    ]);
    const r = await importTar(d, good, `repo=imported&tag=v1&changes=${encodeURIComponent('CMD ["/bin/sh","-c","echo imported; cat /etc/motd"]')}`);
    assert.equal(r.status, 200, r.text);
    const id = (JSON.parse(r.text.trim().split('\n').pop()!) as { status: string }).status;
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    const img = (await d.api('GET', '/images/imported:v1/json')).json<{ Id: string; Config: { Cmd: string[] } }>();
    assert.equal(img.Id, id);
    assert.deepEqual(img.Config.Cmd, ['/bin/sh', '-c', 'echo imported; cat /etc/motd']);
    const run = await d.moat(['run', '--rm', 'imported:v1']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'imported\nhello from the layer\n');

    const file = join(d.root, 'good.tar');
    writeFileSync(file, good);
    const cli = await d.moat(['import', '--change', 'CMD ["/bin/sh","-c","echo imported"]', file, 'x']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^sha256:[0-9a-f]{64}\n$/);
    const ran = await d.moat(['run', '--rm', 'x']);
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout, 'imported\n');
    const tags = (await d.api('GET', '/images/json')).json<Array<{ RepoTags: string[] }>>().flatMap((i) => i.RepoTags).sort();
    assert.deepEqual(tags, ['busybox:latest', 'imported:v1', 'x:latest']);
  });
});
