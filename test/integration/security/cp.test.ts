// docker cp out of a container (issue 16): HEAD and GET /containers/{id}/archive through the
// docker CLI 28, running and stopped containers, modes kept, symlinks copied as links; and
// (copying into one: cp-into.test.ts) the escapes: a container's `/out -> /` symlink, absolute links and `..` chains never make
// moatd read a host file (a unique marker on the host is never what comes back).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { docker, dockerOk } from '../compat/cli.js';

test('docker cp from a container', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  const marker = `/tmp/moat-cp-marker-${randomBytes(6).toString('hex')}`;
  const secret = `host-secret-${randomBytes(8).toString('hex')}`;
  writeFileSync(marker, secret);
  t.after(async () => {
    rmSync(marker, { force: true });
    await d.cleanup();
  });
  const out = join(d.root, 'out');
  mkdirSync(out);
  const setup = [
    'mkdir -p /d/sub',
    'echo hi > /d/sub/f && chmod 640 /d/sub/f',
    'ln -s /etc /d/etclink',
    'ln -s / /out',
    `ln -s ${marker} /abs`,
    'echo top > /top',
  ].join(' && ');
  await dockerOk(d, ['run', '-d', '--name', 'cpc', 'busybox', 'sh', '-c', `${setup} && sleep 600`]);
  for (let i = 0; i < 50 && (await docker(d, ['exec', 'cpc', 'test', '-f', '/top'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));

  await t.test('a directory with its modes, a symlink as a link, a file', async () => {
    await dockerOk(d, ['cp', 'cpc:/d', join(out, 'd')]);
    assert.equal(readFileSync(join(out, 'd/sub/f'), 'utf8'), 'hi\n');
    assert.equal(statSync(join(out, 'd/sub/f')).mode & 0o777, 0o640);
    assert.ok(lstatSync(join(out, 'd/etclink')).isSymbolicLink());
    assert.equal(readlinkSync(join(out, 'd/etclink')), '/etc');
    await dockerOk(d, ['cp', 'cpc:/top', join(out, 'top')]);
    assert.equal(readFileSync(join(out, 'top'), 'utf8'), 'top\n');
  });

  await t.test('HEAD gives Docker\'s path stat (Go file modes, link targets); a missing path is a 404', async () => {
    const stat = async (p: string): Promise<{ name: string; mode: number; linkTarget: string; size: number }> => {
      const r = await d.api('HEAD', `/containers/cpc/archive?path=${encodeURIComponent(p)}`);
      assert.equal(r.status, 200, p);
      return JSON.parse(Buffer.from(String(r.headers['x-docker-container-path-stat']), 'base64').toString()) as { name: string; mode: number; linkTarget: string; size: number };
    };
    const dir = await stat('/d');
    assert.equal(dir.name, 'd');
    assert.equal(dir.mode, 2 ** 31 + 0o755, 'ModeDir | 0755');
    const link = await stat('/out');
    assert.ok(link.mode >= 2 ** 27 && link.mode < 2 ** 28, `ModeSymlink: ${link.mode}`);
    assert.equal(link.linkTarget, '/');
    assert.equal((await stat('/top')).size, 4);
    assert.equal((await d.api('HEAD', '/containers/cpc/archive?path=/nope')).status, 404);
  });

  await t.test('escapes: /out -> /, absolute links and .. chains stay in the container', async () => {
    for (const p of [`/out${marker}`, `/out/../../..${marker}`, '/abs/', `/d/etclink/../..${marker}`]) {
      const dest = join(out, `esc-${randomBytes(3).toString('hex')}`);
      const r = await docker(d, ['cp', `cpc:${p}`, dest]);
      assert.notEqual(r.code, 0, `${p}: copied something`);
      assert.match(r.stderr, /Could not find the file/, p);
      assert.ok(!existsSync(dest) || !readFileSync(dest, 'utf8').includes(secret), `${p}: the host's marker came back`);
    }
    // Followed through /out, /etc/shadow is the container's own (busybox's), not the host's.
    await dockerOk(d, ['cp', 'cpc:/out/../../etc/shadow', join(out, 'shadow')]);
    assert.match(readFileSync(join(out, 'shadow'), 'utf8'), /^root:\*:19000:/);
  });

  await t.test('a stopped container\'s rootfs is mounted for the copy', async () => {
    await dockerOk(d, ['stop', '-t', '0', 'cpc']);
    await dockerOk(d, ['cp', 'cpc:/top', join(out, 'top2')]);
    assert.equal(readFileSync(join(out, 'top2'), 'utf8'), 'top\n');
  });
});
