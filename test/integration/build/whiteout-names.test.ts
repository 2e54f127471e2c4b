// Files named `.wh.*` in a build: in an image layer that name is an OCI whiteout, so a
// committed `.wh.passwd` would hide /etc/passwd of the base image (dockerd's classic builder
// commits it as exactly that). moat keeps such names as plain files in the build context
// (they remove nothing there), refuses to COPY one or to commit a container that made one,
// and leaves the base image, the host's files and no container behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { docker, dockerOk } from '../compat/cli.js';

process.env['DOCKER_BUILDKIT'] = '0';

function context(root: string, name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

test('.wh.* names in a build never become whiteouts', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const root = mkdtempSync('/tmp/mt-build-wh-');
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const imagesNow = async (): Promise<string> => (await dockerOk(d, ['images', '-a', '--format', '{{.Repository}}:{{.Tag}}'])).trim();

  await t.test('COPY of a context holding etc/.wh.passwd is refused; the base image and the host files are intact', async () => {
    const ctx = context(root, 'copy', { 'etc/.wh.passwd': '', 'etc/motd': 'hi\n', Dockerfile: 'FROM busybox\nCOPY etc/ /etc/\n' });
    const r = await docker(d, ['build', '-t', 'wh:copy', ctx], { timeoutMs: 120_000 });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /cannot copy "\.wh\.passwd": a name starting with \.wh\. marks a deleted file in an image layer/);
    assert.equal(await imagesNow(), 'busybox:latest', 'no image made');
    assert.equal((await dockerOk(d, ['ps', '-aq'])).trim(), '', 'no step container left');
    assert.match(await dockerOk(d, ['run', '--rm', 'busybox', 'cat', '/etc/passwd']), /^root:/m);
    assert.ok(existsSync(join(ctx, 'etc/.wh.passwd')) && readFileSync(join(ctx, 'etc/motd'), 'utf8') === 'hi\n', 'the host context is untouched');
  });

  await t.test('a .wh.* file in the context removes nothing there: COPY of its neighbour works', async () => {
    // The CLI sends "-x" before ".wh.-x": read as a layer, the second entry would delete the first.
    const ctx = context(root, 'neighbour', { '-x': 'dash\n', '.wh.-x': 'not a whiteout\n', Dockerfile: 'FROM busybox\nCOPY -x /x\n' });
    await dockerOk(d, ['build', '-t', 'wh:neighbour', ctx], { timeoutMs: 120_000 });
    assert.equal(await dockerOk(d, ['run', '--rm', 'wh:neighbour', 'cat', '/x']), 'dash\n');
  });

  await t.test('with .dockerignore leaving the .wh.* file out, the build works', async () => {
    const ctx = context(root, 'ignored', { 'etc/.wh.passwd': '', 'etc/motd': 'hi\n', '.dockerignore': '**/.wh.*\n', Dockerfile: 'FROM busybox\nCOPY etc/ /etc/\n' });
    await dockerOk(d, ['build', '-t', 'wh:ignored', ctx], { timeoutMs: 120_000 });
    assert.equal(await dockerOk(d, ['run', '--rm', 'wh:ignored', 'cat', '/etc/motd']), 'hi\n');
    assert.match(await dockerOk(d, ['run', '--rm', 'wh:ignored', 'cat', '/etc/passwd']), /^root:/m);
  });

  await t.test('a RUN step that makes /etc/.wh.group fails the build instead of hiding /etc/group', async () => {
    const ctx = context(root, 'run', { Dockerfile: 'FROM busybox\nRUN touch /etc/.wh.group\n' });
    const r = await docker(d, ['build', '-t', 'wh:run', ctx], { timeoutMs: 120_000 });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /cannot store "\/etc\/\.wh\.group" in an image layer/);
    assert.equal(await docker(d, ['image', 'inspect', 'wh:run']).then((x) => x.code), 1);
  });

  await t.test('docker commit of a container holding such a file is a 400 naming it', async () => {
    await dockerOk(d, ['run', '--name', 'whc', 'busybox', 'touch', '/tmp/.wh.x']);
    const r = await docker(d, ['commit', 'whc', 'wh:commit']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot store "\/tmp\/\.wh\.x" in an image layer/);
    await dockerOk(d, ['rm', 'whc']);
  });
});
