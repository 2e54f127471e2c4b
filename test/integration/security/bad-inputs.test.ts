// Issue 11, finding 8 (first two bullets): inputs that once reached the host as something
// else. A whiteout of `.` or `..` in an imported layer removed the directory above the
// layer; a tmpfs option `bind`/`rbind`/`remount` turned a tmpfs into a bind of a bundle path.
// Each is a 400 naming the input, with nothing created and nothing removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { deferStack } from '../../helpers/authz-plugin/index.js';
import { tarball } from '../../helpers/race/index.js';

/** Every path under `dir` (relative), for "nothing appeared or vanished" checks. */
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

test('hostile whiteouts and tmpfs options are refused with a 400 naming them', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const defer = deferStack(t);
  const d = await startDaemon();
  defer(() => d.cleanup());
  const message = (r: { json: <T>() => T }): string => r.json<{ message: string }>().message;

  await t.test('imported whiteouts of ".", ".." or nothing', async () => {
    for (const name of ['.wh..', '.wh...', 'etc/.wh...', 'etc/.wh..', 'etc/.wh.']) {
      const imageDir = join(d.dataRoot, 'image');
      const before = tree(imageDir);
      const images = (await d.api('GET', '/images/json')).body.toString();
      const tar = await tarball([{ name: 'etc/', type: 'directory' }, { name: 'etc/motd', body: 'hi\n' }, { name }]);
      const r = await d.api('POST', '/images/create?fromSrc=-&repo=whiteout', tar, { 'Content-Type': 'application/x-tar' });
      assert.equal(r.status, 400, `${name}: ${r.status} ${r.body.toString()}`);
      assert.ok(message(r).includes(JSON.stringify(name)), `${name}: the message names the entry: ${message(r)}`);
      assert.ok(existsSync(imageDir), 'the image store is still there');
      assert.deepEqual(tree(imageDir), before, `${name}: nothing created or removed in the image store`);
      assert.equal((await d.api('GET', '/images/json')).body.toString(), images);
      assert.equal((await d.api('GET', '/images/whiteout/json')).status, 404);
    }
  });

  await t.test('tmpfs options that are mount flags, not tmpfs options', async () => {
    const before = (await d.api('GET', '/containers/json?all=1')).body.toString();
    const cases: Array<{ hostConfig: Record<string, unknown>; option: string }> = [
      ...['rbind', 'bind', 'remount', 'size=1m,rbind', 'rw,remount'].map((o) => ({ hostConfig: { Tmpfs: { '/x': o } }, option: o.split(',').pop()! })),
      { hostConfig: { Mounts: [{ Type: 'tmpfs', Target: '/x', TmpfsOptions: { Options: [['rbind']] } }] }, option: 'rbind' },
      { hostConfig: { Mounts: [{ Type: 'tmpfs', Target: '/x', TmpfsOptions: { Options: [['bind']] } }] }, option: 'bind' },
    ];
    for (const c of cases) {
      const r = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: c.hostConfig });
      assert.equal(r.status, 400, `${JSON.stringify(c.hostConfig)}: ${r.status} ${r.body.toString()}`);
      assert.match(message(r), new RegExp(`Invalid tmpfs option \\["${c.option}"\\]`), message(r));
    }
    assert.equal((await d.api('GET', '/containers/json?all=1')).body.toString(), before, 'no container was created');
    // A real tmpfs option still works.
    const ok = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { Tmpfs: { '/x': 'size=1m,noexec' } } });
    assert.equal(ok.status, 201, ok.body.toString());
  });
});
