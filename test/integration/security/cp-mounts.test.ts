// docker cp through a container's mounts (issue 16): into a named volume of a running, a
// stopped and a never-started container (visible inside with `cat`; the image's content is
// still copied up into the new volume), into a running container's tmpfs, out of a
// bind, a directory archive that holds the mounts below it, a read-only bind refused with
// Docker's "mounted volume is marked read-only". The escapes, with unique host markers that must
// stay untouched: a volume link `/data/x -> /etc`, a bind source with a planted `esc -> /etc`
// link and one naming a host directory, a rootfs link into the mount chain, and links swapped
// by the container while copies run; a bind source replaced on the host after create is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { docker, dockerOk } from '../compat/cli.js';

/** The entries of a tar (name -> content, or `-> target` for a symlink). */
async function entriesOf(buf: Buffer): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const extract = tar.extract();
  Readable.from([buf]).pipe(extract);
  for await (const e of extract) {
    const chunks: Buffer[] = [];
    for await (const c of e as AsyncIterable<Buffer>) chunks.push(c);
    out.set(e.header.name, e.header.type === 'symlink' ? `-> ${e.header.linkname ?? ''}` : Buffer.concat(chunks).toString());
  }
  return out;
}

test('docker cp through volumes, binds and tmpfs mounts', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  const tag = randomBytes(6).toString('hex');
  const marker = `moat-cpm-${tag}`; // a name that must never appear in the host's /etc
  const bindDir = `/tmp/moat-cpm-bind-${tag}`;
  const roDir = `/tmp/moat-cpm-ro-${tag}`;
  const victim = `/tmp/moat-cpm-victim-${tag}`; // a host dir the container names in its links
  mkdirSync(bindDir);
  mkdirSync(roDir);
  mkdirSync(victim);
  writeFileSync(join(bindDir, 'b'), 'from the bind\n');
  writeFileSync(join(roDir, 'r'), 'read-only\n');
  writeFileSync(join(victim, 'keep'), 'host\n');
  symlinkSync('/etc', join(bindDir, 'esc')); // planted in the bind source: /etc of the container
  symlinkSync(victim, join(bindDir, 'hostlink'));
  t.after(async () => {
    for (const p of [bindDir, `${bindDir}-old`, roDir, victim, `/etc/${marker}`, `/etc/${marker}-2`]) rmSync(p, { recursive: true, force: true });
    await d.cleanup();
  });
  const src = join(d.root, 'src');
  mkdirSync(src);
  writeFileSync(join(src, marker), 'copied\n');
  writeFileSync(join(src, 'f'), 'into the volume\n');
  const hostEtcUntouched = (): void => {
    assert.ok(!existsSync(`/etc/${marker}`), 'written into the host /etc');
    assert.deepEqual(readdirSync(victim), ['keep'], 'written into the host victim dir');
  };

  const setup = ['ln -s /etc /data/x', 'ln -s /data /lnk', `ln -s ${victim} /data/hostlink`, 'mkdir -p /data/sub', 'echo ok > /ready'].join(' && ');
  await dockerOk(d, ['run', '-d', '--name', 'cpm', '-v', `vol${tag}:/data`, '-v', `${bindDir}:/bind`, '-v', `${roDir}:/robind:ro`, '--tmpfs', '/scratch', 'busybox', 'sh', '-c', `test -f /ready || { ${setup}; }; sleep 600`]);
  for (let i = 0; i < 50 && (await docker(d, ['exec', 'cpm', 'test', '-f', '/ready'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
  const inside = async (script: string): Promise<string> => dockerOk(d, ['exec', 'cpm', 'sh', '-c', script]);

  await t.test('running: a file copied into a named volume is what the container reads there', async () => {
    await dockerOk(d, ['cp', join(src, 'f'), 'cpm:/data/']);
    assert.equal(await inside('cat /data/f'), 'into the volume\n');
    await dockerOk(d, ['cp', join(src, 'f'), 'cpm:/lnk/sub/']); // a rootfs link into the mount chain
    assert.equal(await inside('cat /data/sub/f'), 'into the volume\n');
    await dockerOk(d, ['cp', join(src, 'f'), 'cpm:/scratch/']);
    assert.equal(await inside('cat /scratch/f; grep " /scratch " /proc/mounts | cut -d" " -f3'), 'into the volume\ntmpfs\n', 'in the running tmpfs');
  });

  await t.test('out of a bind and a volume; a directory archive holds the mounts below it', async () => {
    const out = join(d.root, 'out');
    mkdirSync(out);
    await dockerOk(d, ['cp', 'cpm:/bind/b', join(out, 'b')]);
    assert.equal(readFileSync(join(out, 'b'), 'utf8'), 'from the bind\n');
    const all = await d.api('GET', '/containers/cpm/archive?path=/');
    assert.equal(all.status, 200);
    const names = await entriesOf(all.body);
    assert.equal(names.get('./data/f'), 'into the volume\n');
    assert.equal(names.get('./data/x'), '-> /etc');
    assert.equal(names.get('./bind/b'), 'from the bind\n');
    assert.equal(names.get('./robind/r'), 'read-only\n');
    assert.equal(names.get('./scratch/f'), 'into the volume\n');
    const head = await d.api('HEAD', '/containers/cpm/archive?path=/data/f');
    assert.equal(head.status, 200);
    assert.equal((JSON.parse(Buffer.from(String(head.headers['x-docker-container-path-stat']), 'base64').toString()) as { size: number }).size, 16);
  });

  await t.test('escapes: links in a volume and in a bind source resolve in the container, never on the host', async () => {
    await dockerOk(d, ['cp', join(src, marker), 'cpm:/data/x/']);
    assert.equal(await inside(`cat /etc/${marker}`), 'copied\n');
    await dockerOk(d, ['cp', join(src, marker), `cpm:/bind/esc/${marker}-2`]);
    assert.equal(await inside(`cat /etc/${marker}-2`), 'copied\n');
    hostEtcUntouched();
    // The host's /etc/hostname is not the container's: what comes out is the container's.
    const hostname = await d.api('GET', '/containers/cpm/archive?path=/bind/esc/hostname');
    assert.equal((await entriesOf(hostname.body)).get('hostname'), await inside('cat /etc/hostname'));
    for (const dest of ['cpm:/data/hostlink/', 'cpm:/bind/hostlink/']) {
      const r = await docker(d, ['cp', join(src, 'f'), dest]);
      assert.notEqual(r.code, 0, `${dest} must not exist in the container`);
      assert.match(r.stderr + r.stdout, /could not find the file|no such/i, JSON.stringify(r));
    }
    hostEtcUntouched();
  });

  await t.test('a read-only bind is refused with Docker\'s message; nothing written to its source', async () => {
    const r = await docker(d, ['cp', join(src, 'f'), 'cpm:/robind/']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /mounted volume is marked read-only/);
    const api = await d.api('PUT', '/containers/cpm/archive?path=/robind', Buffer.alloc(1024), { 'Content-Type': 'application/x-tar' });
    assert.equal(api.status, 400);
    assert.deepEqual(readdirSync(roDir), ['r']);
  });

  await t.test('tar names with a .. that stays inside are cleaned (as Docker); one that climbs out is refused', async () => {
    const pack = tar.pack();
    pack.entry({ name: 'a/../dotdot' }, 'cleaned\n');
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
    const ok = await d.api('PUT', '/containers/cpm/archive?path=/data', Buffer.concat(chunks), { 'Content-Type': 'application/x-tar' });
    assert.equal(ok.status, 200, ok.body.toString());
    assert.equal(await inside('cat /data/dotdot; ls /data/a 2>&1 >/dev/null | wc -l'), 'cleaned\n1\n');
    const bad = tar.pack();
    bad.entry({ name: `c/../../${marker}` }, 'x');
    bad.finalize();
    const badChunks: Buffer[] = [];
    for await (const c of bad as AsyncIterable<Buffer>) badChunks.push(c);
    const refused = await d.api('PUT', '/containers/cpm/archive?path=/data/x', Buffer.concat(badChunks), { 'Content-Type': 'application/x-tar' });
    assert.equal(refused.status, 400);
    assert.match(refused.body.toString(), /escapes/);
    assert.equal((await docker(d, ['exec', 'cpm', 'test', '-e', `/${marker}`])).code, 1);
    hostEtcUntouched();
  });

  await t.test('links swapped by the container while copies run never lead to the host', async () => {
    // The container flips /data/t between a directory and links to the host victim path and /etc.
    await inside(`mkdir -p /data/tdir; (i=0; while [ $i -lt 4000 ]; do ln -sfn ${victim} /data/t; ln -sfn /data/tdir /data/t; rm -f /data/t; mkdir /data/t 2>/dev/null; rmdir /data/t 2>/dev/null; ln -sfn /etc /data/t; i=$((i+1)); done) >/dev/null 2>&1 &`);
    for (let i = 0; i < 25; i++) await docker(d, ['cp', join(src, marker), 'cpm:/data/t/']);
    hostEtcUntouched();
  });

  await t.test('a container that never ran: its volume holds the image content and the copy', async () => {
    writeFileSync(join(src, 'added'), 'added before start\n');
    await dockerOk(d, ['create', '--name', 'cpnew', '-v', `etc${tag}:/etc`, 'busybox', 'sh', '-c', 'grep -c "^root:" /etc/passwd; cat /etc/added']);
    await dockerOk(d, ['cp', join(src, 'added'), 'cpnew:/etc/']);
    const r = await docker(d, ['start', '-a', 'cpnew']);
    assert.equal(r.stdout, '1\nadded before start\n', r.stderr);
  });

  await t.test('stopped: copied into the volume, seen after start; a tmpfs is refused while stopped', async () => {
    await dockerOk(d, ['stop', '-t', '1', 'cpm']);
    writeFileSync(join(src, 'g'), 'while stopped\n');
    await dockerOk(d, ['cp', join(src, 'g'), 'cpm:/data/']);
    const tmpfs = await docker(d, ['cp', join(src, 'g'), 'cpm:/scratch/']);
    assert.notEqual(tmpfs.code, 0);
    assert.match(tmpfs.stderr, /tmpfs mount, which exists only while the container runs/);
    await dockerOk(d, ['start', 'cpm']);
    assert.equal(await inside('cat /data/g'), 'while stopped\n');
    assert.equal(await inside('ls /scratch'), '', 'the tmpfs starts empty: nothing hidden beneath it');
  });

  await t.test('a bind source replaced on the host after create is refused, not read', async () => {
    renameSync(bindDir, `${bindDir}-old`);
    mkdirSync(bindDir);
    writeFileSync(join(bindDir, 'b'), 'impostor\n');
    const r = await docker(d, ['cp', 'cpm:/bind/b', '-']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /not what was authorized/);
    assert.doesNotMatch(r.stdout, /impostor/);
  });
});
