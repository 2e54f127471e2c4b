// docker cp into a container (issue 16): PUT /containers/{id}/archive through the docker CLI 28
// and the API, running and stopped containers, modes and owners (root without -a, the
// source's with -a); the escapes: a container's `/in -> /etc` and `/in2 -> <host dir>`
// symlinks are resolved in the container's root (the host's files, checked with unique
// markers, are never touched); tar entries with `..`, absolute names or through a symlink the
// same tar made are refused; Docker's errors for a missing or non-directory destination, a
// directory/non-directory conflict and a read-only rootfs; a refused entry at the start of a
// large upload still answers 400, a cut upload leaves the daemon serving; docker-py put_archive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tar from 'tar-stream';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { docker, dockerOk, dockerPy } from '../compat/cli.js';

/** A tar of `entries` (files unless a linkname is given), built in memory. */
async function tarOf(entries: Array<{ name: string; body?: string; type?: 'file' | 'symlink' | 'directory'; linkname?: string }>): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    if (e.type === 'symlink') pack.entry({ name: e.name, type: 'symlink', linkname: e.linkname ?? '' });
    else if (e.type === 'directory') pack.entry({ name: e.name, type: 'directory', mode: 0o755 });
    else pack.entry({ name: e.name, mode: 0o644 }, e.body ?? '');
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

test('docker cp into a container', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  const tag = randomBytes(6).toString('hex');
  // A host directory with a file the container's symlinks name; it must stay as it is.
  const hostDir = `/tmp/moat-cpin-${tag}`;
  const etcMarker = `moat-cpin-${tag}`;
  mkdirSync(hostDir);
  writeFileSync(join(hostDir, 'victim'), 'host\n');
  t.after(async () => {
    rmSync(hostDir, { recursive: true, force: true });
    rmSync(`/etc/${etcMarker}`, { force: true });
    rmSync(`/tmp/moat-escape-${tag}`, { force: true });
    await d.cleanup();
  });
  const src = join(d.root, 'src');
  mkdirSync(join(src, 'dir/sub'), { recursive: true });
  writeFileSync(join(src, 'f.txt'), 'file\n');
  chmodSync(join(src, 'f.txt'), 0o640);
  chownSync(join(src, 'f.txt'), 1234, 2345);
  writeFileSync(join(src, 'dir/sub/g'), 'g\n');
  chmodSync(join(src, 'dir/sub/g'), 0o600);
  chmodSync(join(src, 'dir/sub'), 0o750);
  writeFileSync(join(src, etcMarker), 'in-container\n');
  writeFileSync(join(src, 'victim'), 'container\n');

  const setup = ['ln -s /etc /in', `mkdir -p ${hostDir}`, `ln -s ${hostDir} /in2`, 'mkdir /dst', 'echo x > /dst/file', 'echo ok > /ready'].join(' && ');
  await dockerOk(d, ['run', '-d', '--name', 'cpi', 'busybox', 'sh', '-c', `test -f /ready || { ${setup}; }; sleep 600`]);
  for (let i = 0; i < 50 && (await docker(d, ['exec', 'cpi', 'test', '-f', '/ready'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
  const inside = async (script: string): Promise<string> => dockerOk(d, ['exec', 'cpi', 'sh', '-c', script]);
  const messageOf = (body: Buffer): string => (JSON.parse(body.toString('utf8')) as { message: string }).message;

  await t.test('a file and a directory with their modes, owned by root; -a keeps the source owner', async () => {
    await dockerOk(d, ['cp', join(src, 'f.txt'), 'cpi:/tmp/']);
    assert.equal(await inside('cat /tmp/f.txt; stat -c "%a %u %g" /tmp/f.txt'), 'file\n640 0 0\n');
    await dockerOk(d, ['cp', join(src, 'dir'), 'cpi:/tmp/dir']);
    assert.equal(await inside('cat /tmp/dir/sub/g; stat -c "%a %u %g" /tmp/dir/sub /tmp/dir/sub/g'), 'g\n750 0 0\n600 0 0\n');
    await dockerOk(d, ['cp', '-a', join(src, 'f.txt'), 'cpi:/tmp/owned.txt']);
    assert.equal(await inside('stat -c "%a %u %g" /tmp/owned.txt'), '640 1234 2345\n');
  });

  await t.test('escapes: /in -> /etc and /in2 -> a host path are resolved in the container', async () => {
    await dockerOk(d, ['cp', join(src, etcMarker), 'cpi:/in']);
    assert.equal(await inside(`cat /etc/${etcMarker}`), 'in-container\n');
    assert.ok(!existsSync(`/etc/${etcMarker}`), 'written into the host /etc');
    for (const dest of ['/in2', '/in2/', '/dst/../in2', '/in/../in2/']) {
      await dockerOk(d, ['cp', join(src, 'victim'), `cpi:${dest}`]);
      assert.equal(await inside(`cat ${hostDir}/victim`), 'container\n', dest);
      assert.equal(readFileSync(join(hostDir, 'victim'), 'utf8'), 'host\n', `${dest}: the host file changed`);
    }
  });

  await t.test('tar entries with .., absolute names or through a symlink are refused (400); nothing lands on the host', async () => {
    const put = async (body: Buffer, q = 'path=/tmp'): Promise<{ status: number; message: string }> => {
      const r = await d.api('PUT', `/containers/cpi/archive?${q}`, body, { 'Content-Type': 'application/x-tar' });
      return { status: r.status, message: r.status === 200 ? '' : messageOf(r.body) };
    };
    for (const entries of [
      [{ name: `../../../../tmp/moat-escape-${tag}`, body: 'x' }],
      [{ name: `/tmp/moat-escape-${tag}`, body: 'x' }],
      [{ name: 'up', type: 'symlink' as const, linkname: '/' }, { name: `up/tmp/moat-escape-${tag}`, body: 'x' }],
    ]) {
      const r = await put(await tarOf(entries));
      assert.equal(r.status, 400, `${JSON.stringify(entries)}: ${r.message}`);
      assert.match(r.message, /Cannot copy into the container: entry/);
      assert.ok(!existsSync(`/tmp/moat-escape-${tag}`), 'written on the host');
    }
    // Refused at the first entry of a large upload: the client still reads the 400 (the rest is drained, not reset).
    const big = await put(await tarOf([{ name: '../evil', body: 'x' }, { name: 'big.bin', body: 'b'.repeat(4 * 1024 * 1024) }]));
    assert.equal(big.status, 400, big.message);
    assert.match(big.message, /entry "\.\.\/evil" escapes/);
    assert.equal(await inside(`test -e /tmp/moat-escape-${tag} || echo absent`), 'absent\n');
    // A well-formed tar through the same route works, so the refusals above are about the names.
    assert.equal((await put(await tarOf([{ name: 'api.txt', body: 'api\n' }]))).status, 200);
    assert.equal(await inside('cat /tmp/api.txt'), 'api\n');
  });

  await t.test("Docker's errors: missing or non-directory destination, dir/non-dir conflict", async () => {
    const missing = await docker(d, ['cp', join(src, 'f.txt'), 'cpi:/nope/x']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /Could not find the file \/nope in container cpi/);
    const body = await tarOf([{ name: 'dst', body: 'not a dir' }]);
    const notDir = await d.api('PUT', '/containers/cpi/archive?path=/dst/file', body, { 'Content-Type': 'application/x-tar' });
    assert.equal(notDir.status, 400);
    assert.match(messageOf(notDir.body), /extraction point is not a directory/);
    const conflict = await d.api('PUT', '/containers/cpi/archive?path=/&noOverwriteDirNonDir=1', body, { 'Content-Type': 'application/x-tar' });
    assert.equal(conflict.status, 400);
    assert.match(messageOf(conflict.body), /cannot overwrite directory "dst" with non-directory/);
    assert.equal(await inside('cat /dst/file'), 'x\n');
    const replaced = await d.api('PUT', '/containers/cpi/archive?path=/', body, { 'Content-Type': 'application/x-tar' });
    assert.equal(replaced.status, 200, replaced.body.toString());
    assert.equal(await inside('cat /dst'), 'not a dir');
  });

  await t.test('an upload cut off mid-file: the daemon keeps serving and the next copy works', async () => {
    const whole = await tarOf([{ name: 'cut.bin', body: 'z'.repeat(256 * 1024) }]);
    await new Promise<void>((resolve) => {
      const req = http.request({ socketPath: d.socket, method: 'PUT', path: '/containers/cpi/archive?path=/tmp', headers: { 'Content-Type': 'application/x-tar', 'Content-Length': String(whole.length) } });
      req.on('error', () => resolve());
      req.on('response', (res) => {
        res.resume();
        resolve();
      });
      req.write(whole.subarray(0, 64 * 1024), () => setTimeout(() => req.destroy(), 200));
    });
    assert.equal((await d.api('GET', '/_ping')).status, 200);
    await dockerOk(d, ['cp', join(src, 'f.txt'), 'cpi:/tmp/after-cut.txt']);
    assert.equal(await inside('cat /tmp/after-cut.txt'), 'file\n');
  });

  await t.test('docker-py put_archive (python3-docker): written, and a missing directory is its NotFound', async (st) => {
    if (!requires(st, 'docker-py')) return;
    const script = [
      'import docker, io, json, tarfile',
      "c = docker.from_env().containers.get('cpi')",
      'buf = io.BytesIO()',
      "with tarfile.open(fileobj=buf, mode='w') as t:",
      "    data = b'from-py\\n'; ti = tarfile.TarInfo('py.txt'); ti.size = len(data); ti.mode = 0o600; t.addfile(ti, io.BytesIO(data))",
      "ok = c.put_archive('/tmp', buf.getvalue())",
      'try:',
      "    c.put_archive('/nope', buf.getvalue()); missing = 'no error'",
      'except docker.errors.NotFound as e:',
      "    missing = 'NotFound'",
      "print(json.dumps({'ok': ok, 'missing': missing}))",
    ].join('\n');
    const r = await dockerPy(d, script);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { ok: true, missing: 'NotFound' });
    assert.equal(await inside('cat /tmp/py.txt; stat -c "%a %u" /tmp/py.txt'), 'from-py\n600 0\n');
  });

  await t.test('a stopped container: its rootfs is mounted for the copy', async () => {
    await dockerOk(d, ['stop', '-t', '0', 'cpi']);
    await dockerOk(d, ['cp', join(src, 'dir'), 'cpi:/stopped']);
    await dockerOk(d, ['start', 'cpi']);
    assert.equal(await inside('cat /stopped/sub/g; stat -c "%a" /stopped/sub'), 'g\n750\n');
  });

  await t.test('a container that never started has its working directory, made inside its root', async () => {
    // dockerd makes it at create (moat at the first start, and now for cp, export and diff before it).
    await dockerOk(d, ['create', '--name', 'cpw', '-w', '/work/sub', 'busybox', 'ls', '/work/sub']);
    await dockerOk(d, ['cp', join(src, 'f.txt'), 'cpw:/work/sub/']);
    assert.deepEqual((await dockerOk(d, ['diff', 'cpw'])).trim().split('\n'), ['A /work', 'A /work/sub', 'A /work/sub/f.txt']);
    assert.equal(await dockerOk(d, ['start', '-a', 'cpw']), 'f.txt\n');
    // Through the image's symlink /in2 -> <host dir>: made in the container's root, not on the host.
    await dockerOk(d, ['commit', 'cpi', `cpimg-${tag}`]);
    await dockerOk(d, ['create', '--name', 'cpw2', '-w', '/in2/wd', `cpimg-${tag}`, 'true']);
    assert.match(await dockerOk(d, ['diff', 'cpw2']), new RegExp(`^A ${hostDir}/wd$`, 'm'));
    assert.ok(!existsSync(join(hostDir, 'wd')), 'the working directory was made on the host');
    await dockerOk(d, ['rm', 'cpw', 'cpw2']);
    await dockerOk(d, ['rmi', `cpimg-${tag}`]);
  });

  await t.test('a read-only rootfs is refused', async () => {
    await dockerOk(d, ['create', '--name', 'cpro', '--read-only', 'busybox', 'true']);
    const r = await docker(d, ['cp', join(src, 'f.txt'), 'cpro:/tmp/']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /container rootfs is marked read-only/);
  });
});
