import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, mkdir, readdir, readFile, lstat, readlink, writeFile, link, symlink, chown, chmod, utimes, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import tar from 'tar-stream';
import { EngineError } from '../base/index.js';
import { requires } from '../../test/helpers/requires.js';
import { applyLayer, extractArchiveAt, reownTree, cleanEntryPath, devMajor, devMinor } from './layer.js';
import { openRoot, getXattr } from '../sys/index.js';

/** An xattr of a directory, read through its fd. */
function lgetxattrSync(dir: string, name: string): Buffer | undefined {
  const h = openRoot(dir);
  try {
    return getXattr(h, name);
  } finally {
    h.close();
  }
}

type Entry = Partial<tar.Header> & Pick<tar.Header, 'name'> & { body?: string };

async function makeTar(entries: readonly Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(Buffer.from(c as Uint8Array));
  })();
  for (const { body, ...h } of entries) {
    await new Promise<void>((resolve, reject) => pack.entry(h, body ?? '', (err) => (err ? reject(err) : resolve())));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function sandbox(t: { after: (fn: () => Promise<void>) => void }): Promise<{ root: string; dest: string }> {
  const root = await mkdtemp(join(tmpdir(), 'moat-layer-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const dest = join(root, 'layer', 'diff');
  await mkdir(dest, { recursive: true });
  await mkdir(join(root, 'outside'));
  await writeFile(join(root, 'outside', 'sentinel'), 'keep');
  return { root, dest };
}

/** Every path under `dir`, for "nothing appeared" checks. */
async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      out.push(`${rel}${e.name}`);
      if (e.isDirectory()) await walk(join(d, e.name), `${rel}${e.name}/`);
    }
  };
  await walk(dir, '');
  return out.sort();
}

const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);

test('cleanEntryPath() treats / as the root and refuses climbing above it', () => {
  assert.deepEqual(cleanEntryPath('/bin/./sh'), ['bin', 'sh']);
  assert.deepEqual(cleanEntryPath('./a//b/../c/'), ['a', 'c']);
  assert.deepEqual(cleanEntryPath('./'), []);
  for (const bad of ['../evil', 'a/../../evil', '/../../evil', '..']) {
    assert.throws(() => cleanEntryPath(bad), (e: unknown) => e instanceof EngineError && e.kind === 'invalid' && e.message.includes(JSON.stringify(bad)));
  }
});

test('applyLayer() refuses malicious entries, names them, and writes nothing outside', async (t) => {
  if (!requires(t, 'root')) return; // applyLayer chowns every entry to its tar owner; whiteouts need trusted.* xattrs
  const tag = randomBytes(4).toString('hex');
  const cases: Array<{ name: string; entries: Entry[]; offending: string }> = [
    { name: 'dot-dot file', entries: [{ name: '../evil', body: 'x' }], offending: '../evil' },
    { name: 'nested dot-dot', entries: [{ name: 'a/', type: 'directory' }, { name: 'a/../../evil', body: 'x' }], offending: 'a/../../evil' },
    { name: 'absolute dot-dot', entries: [{ name: '/../../evil', body: 'x' }], offending: '/../../evil' },
    { name: 'hardlink escape', entries: [{ name: 'h', type: 'link', linkname: '../../etc/passwd' }], offending: 'h' },
    {
      name: 'symlink to / then a file below it',
      entries: [{ name: 'x', type: 'symlink', linkname: '/' }, { name: `x/tmp/moat-evil-${tag}`, body: 'x' }],
      offending: `x/tmp/moat-evil-${tag}`,
    },
    {
      name: 'relative symlink up then a file below it',
      entries: [{ name: 'up', type: 'symlink', linkname: '../../outside' }, { name: 'up/evil', body: 'x' }],
      offending: 'up/evil',
    },
    {
      name: 'hardlink through a symlink',
      entries: [{ name: 's', type: 'symlink', linkname: '/etc' }, { name: 'h', type: 'link', linkname: 's/passwd' }],
      offending: 'h',
    },
    // Issue 11: a whiteout of `.` or `..` would remove the directory itself or the one above the layer.
    { name: 'whiteout of the root', entries: [{ name: 'keep', body: 'x' }, { name: '.wh..' }], offending: '.wh..' },
    { name: 'whiteout of the parent', entries: [{ name: '.wh...' }], offending: '.wh...' },
    { name: 'whiteout of a directory\'s parent', entries: [{ name: 'a/', type: 'directory' }, { name: 'a/.wh...' }], offending: 'a/.wh...' },
    { name: 'whiteout of nothing', entries: [{ name: 'a/.wh.' }], offending: 'a/.wh.' },
    { name: 'symlink then directory below it', entries: [{ name: 'd', type: 'symlink', linkname: '/tmp' }, { name: `d/moat-evil-${tag}/`, type: 'directory' }], offending: `d/moat-evil-${tag}/` },
  ];
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const { root, dest } = await sandbox(t);
      const before = await listing(root);
      await assert.rejects(applyLayer(Readable.from([await makeTar(c.entries)]), dest), (err: unknown) => {
        assert.ok(err instanceof EngineError, String(err));
        assert.equal(err.kind, 'invalid');
        assert.equal(err.status, 400);
        assert.ok(err.message.startsWith('Cannot import layer: '), err.message);
        assert.ok(err.message.includes(JSON.stringify(c.offending)), err.message);
        return true;
      });
      assert.deepEqual(await listing(dest), [], 'destDir is emptied');
      const after = (await listing(root)).filter((p) => !p.startsWith('layer/diff/'));
      assert.deepEqual(after, before.filter((p) => !p.startsWith('layer/diff/')));
      assert.equal(await readFile(join(root, 'outside', 'sentinel'), 'utf8'), 'keep');
      assert.equal(await exists(`/tmp/moat-evil-${tag}`), false);
    });
  }
});

test('applyLayer() writes absolute tar paths below the root and consumes the whole input', async (t) => {
  if (!requires(t, 'root')) return; // applyLayer chowns every entry to its tar owner; whiteouts need trusted.* xattrs
  const { dest } = await sandbox(t);
  const buf = await makeTar([
    { name: '/bin/', type: 'directory', mode: 0o755 },
    { name: '/bin/sh', body: '#!', mode: 0o755 },
    { name: './etc/motd', body: 'hi', mode: 0o644 }, // parent made on the fly
  ]);
  const input = Readable.from([buf.subarray(0, 700), buf.subarray(700)]);
  let consumed = 0;
  input.on('data', (c: Buffer) => (consumed += c.length));
  const res = await applyLayer(input, dest);
  assert.equal(consumed, buf.length);
  assert.equal(res.entries, 3);
  assert.equal(res.bytes, 4);
  assert.equal(await readFile(join(dest, 'bin/sh'), 'utf8'), '#!');
  assert.equal(await readFile(join(dest, 'etc/motd'), 'utf8'), 'hi');
  assert.equal((await lstat(join(dest, 'bin/sh'))).mode & 0o7777, 0o755);
});

test('applyLayer() applies owners (shifted), modes, times, links, devices and fifos', async (t) => {
  if (!requires(t, 'root')) return; // applyLayer chowns every entry to its tar owner; whiteouts need trusted.* xattrs
  const { dest } = await sandbox(t);
  const mtime = new Date('2020-01-02T03:04:05Z');
  const res = await applyLayer(
    Readable.from([
      await makeTar([
        { name: 'usr/', type: 'directory', mode: 0o750, uid: 1, gid: 2, mtime },
        { name: 'usr/su', body: 'suid', mode: 0o4755, uid: 0, gid: 0, mtime },
        { name: 'usr/su2', type: 'link', linkname: 'usr/su' },
        { name: 'usr/sh', type: 'symlink', linkname: '../bin/busybox', uid: 5, gid: 6, mtime },
        { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
        { name: 'dev/fifo', type: 'fifo', mode: 0o600, uid: 7, gid: 8 },
      ]),
    ]),
    dest,
    { uidShift: { uid: 100000, gid: 200000 } },
  );
  assert.deepEqual(res.warnings, []);
  const usr = await lstat(join(dest, 'usr'));
  assert.deepEqual([usr.mode & 0o7777, usr.uid, usr.gid, usr.mtime.getTime()], [0o750, 100001, 200002, mtime.getTime()]);
  const su = await lstat(join(dest, 'usr/su'));
  assert.deepEqual([su.mode & 0o7777, su.uid, su.gid, su.nlink], [0o4755, 100000, 200000, 2]);
  assert.equal((await lstat(join(dest, 'usr/su2'))).ino, su.ino);
  const sh = await lstat(join(dest, 'usr/sh'));
  assert.deepEqual([sh.isSymbolicLink(), sh.uid, sh.gid], [true, 100005, 200006]);
  assert.equal(await readlink(join(dest, 'usr/sh')), '../bin/busybox');
  const nul = await lstat(join(dest, 'dev/null'));
  assert.deepEqual([nul.isCharacterDevice(), devMajor(nul.rdev), devMinor(nul.rdev), nul.mode & 0o7777], [true, 1, 3, 0o666]);
  const fifo = await lstat(join(dest, 'dev/fifo'));
  assert.deepEqual([fifo.isFIFO(), fifo.uid, fifo.gid], [true, 100007, 200008]);
});

test('applyLayer() turns OCI whiteouts into overlayfs whiteouts', async (t) => {
  if (!requires(t, 'root')) return; // applyLayer chowns every entry to its tar owner; whiteouts need trusted.* xattrs
  const { dest } = await sandbox(t);
  await applyLayer(
    Readable.from([
      await makeTar([
        { name: 'etc/', type: 'directory', mode: 0o755 },
        { name: 'etc/.wh.hosts' },
        { name: 'opt/', type: 'directory', mode: 0o755 },
        { name: 'opt/.wh..wh..opq' },
        { name: 'opt/new', body: 'n' },
        { name: '.wh..wh.plnk/' , type: 'directory' },
      ]),
    ]),
    dest,
  );
  const wh = await lstat(join(dest, 'etc/hosts'));
  assert.ok(wh.isCharacterDevice());
  assert.equal(wh.rdev, 0);
  assert.equal(lgetxattrSync(join(dest, 'opt'), 'trusted.overlay.opaque')?.toString(), 'y');
  assert.equal(lgetxattrSync(join(dest, 'etc'), 'trusted.overlay.opaque'), undefined);
  assert.deepEqual(await listing(dest), ['etc', 'etc/hosts', 'opt', 'opt/new']);
});

test('applyLayer({ plainArchive }) keeps .wh.* entries as files and removes nothing beside them', async (t) => {
  if (!requires(t, 'root')) return; // applyLayer chowns every entry to its tar owner
  const { dest } = await sandbox(t);
  await applyLayer(
    Readable.from([
      await makeTar([
        { name: '-x', body: 'kept' },
        { name: '.wh.-x', body: 'a file, not a whiteout' },
        { name: 'd/', type: 'directory', mode: 0o755 },
        { name: 'd/keep', body: 'k' },
        { name: 'd/.wh..wh..opq', body: '' },
      ]),
    ]),
    dest,
    { plainArchive: true },
  );
  assert.deepEqual(await listing(dest), ['-x', '.wh.-x', 'd', 'd/.wh..wh..opq', 'd/keep']);
  assert.equal(await readFile(join(dest, '-x'), 'utf8'), 'kept');
  assert.equal(await readFile(join(dest, '.wh.-x'), 'utf8'), 'a file, not a whiteout');
  assert.equal(lgetxattrSync(join(dest, 'd'), 'trusted.overlay.opaque'), undefined);
});

test('applyLayer() lets a later entry replace an earlier one', async (t) => {
  if (!requires(t, 'root')) return; // applyLayer chowns every entry to its tar owner; whiteouts need trusted.* xattrs
  const { dest } = await sandbox(t);
  await applyLayer(
    Readable.from([
      await makeTar([
        { name: 'a', type: 'symlink', linkname: '/etc/passwd' },
        { name: 'a', body: 'plain file now' }, // must replace the link, not write through it
        { name: 'd/', type: 'directory' },
        { name: 'd/x', body: 'x' },
        { name: 'd', body: 'file over dir' },
      ]),
    ]),
    dest,
  );
  assert.equal(await readFile(join(dest, 'a'), 'utf8'), 'plain file now');
  assert.equal(await readFile(join(dest, 'd'), 'utf8'), 'file over dir');
});

test('applyLayer() empties destDir when the tar is truncated', async (t) => {
  const { dest } = await sandbox(t);
  const buf = await makeTar([{ name: 'big', body: 'y'.repeat(5000) }]);
  await assert.rejects(applyLayer(Readable.from([buf.subarray(0, 2048)]), dest), EngineError);
  assert.deepEqual(await listing(dest), []);
});

/** extractArchiveAt into `dir` through a handle, as docker cp does. */
async function extractInto(dir: string, buf: Buffer, opts: Parameters<typeof extractArchiveAt>[2] = {}): Promise<void> {
  const h = openRoot(dir);
  try {
    await extractArchiveAt(Readable.from([buf]), h, opts);
  } finally {
    h.close();
  }
}

test('extractArchiveAt() refuses absolute names and a .. that climbs out, keeps what was there on error', async (t) => {
  if (!requires(t, 'root')) return; // entries are chowned
  const { root, dest } = await sandbox(t);
  await writeFile(join(dest, 'existing'), 'keep');
  for (const entries of [[{ name: '/abs', body: 'x' }], [{ name: 'a/../../b', body: 'x' }], [{ name: 'ok', body: 'x' }, { name: 'h', type: 'link' as const, linkname: '/ok' }], [{ name: 'ok', body: 'x' }, { name: 'h', type: 'link' as const, linkname: 'a/../../ok' }]]) {
    await assert.rejects(extractInto(dest, await makeTar(entries)), (err: unknown) => err instanceof EngineError && err.status === 400 && /escapes the layer/.test(err.message), JSON.stringify(entries));
  }
  // Unlike applyLayer, a failed extraction does not empty the directory.
  assert.equal(await readFile(join(dest, 'existing'), 'utf8'), 'keep');
  assert.deepEqual(await listing(join(root, 'outside')), ['sentinel']);
});

test('extractArchiveAt() owns entries by the fixed owner (shifted) or the tar\'s, and honours noOverwriteDirNonDir', async (t) => {
  if (!requires(t, 'root')) return; // entries are chowned
  const { dest } = await sandbox(t);
  const entries: Entry[] = [{ name: 'd/', type: 'directory', mode: 0o750, uid: 7, gid: 8 }, { name: 'd/f', body: 'f', mode: 0o640, uid: 7, gid: 8 }];
  await extractInto(dest, await makeTar(entries), { owner: { uid: 0, gid: 0 }, uidShift: { uid: 100000, gid: 100000 } });
  const f = await lstat(join(dest, 'd/f'));
  assert.deepEqual([f.uid, f.gid, f.mode & 0o777], [100000, 100000, 0o640]);
  assert.equal((await lstat(join(dest, 'd'))).mode & 0o777, 0o750);
  await extractInto(dest, await makeTar([{ name: 'g', body: 'g', uid: 7, gid: 8 }]));
  const g = await lstat(join(dest, 'g'));
  assert.deepEqual([g.uid, g.gid], [7, 8]);
  // A directory over a file and a file over a directory: refused with the flag, replaced without.
  const fileOverDir = await makeTar([{ name: 'd', body: 'now a file' }]);
  await assert.rejects(extractInto(dest, fileOverDir, { noOverwriteDirNonDir: true }), /cannot overwrite directory "d" with non-directory/);
  await assert.rejects(extractInto(dest, await makeTar([{ name: 'g/', type: 'directory' }]), { noOverwriteDirNonDir: true }), /cannot overwrite non-directory "g\/" with directory/);
  await extractInto(dest, await makeTar([{ name: 'g', body: 'again' }]), { noOverwriteDirNonDir: true });
  assert.equal(await readFile(join(dest, 'g'), 'utf8'), 'again');
  await extractInto(dest, fileOverDir);
  assert.equal(await readFile(join(dest, 'd'), 'utf8'), 'now a file');
});

test('reownTree() shifts every owner once, keeps setuid bits and does not follow symlinks', async (t) => {
  if (!requires(t, 'root')) return; // applyLayer chowns every entry to its tar owner; whiteouts need trusted.* xattrs
  const { root } = await sandbox(t);
  const tree = join(root, 'tree');
  await mkdir(join(tree, 'bin'), { recursive: true });
  await writeFile(join(tree, 'bin/su'), 'x');
  await chown(join(tree, 'bin/su'), 0, 0);
  await chmod(join(tree, 'bin/su'), 0o4755);
  await link(join(tree, 'bin/su'), join(tree, 'bin/su-again'));
  await symlink('/etc/passwd', join(tree, 'passwd'));
  await writeFile(join(tree, 'bin/user'), 'y');
  await chown(join(tree, 'bin/user'), 1000, 1001);
  await utimes(join(tree, 'bin/user'), new Date(0), new Date(0));
  const etcPasswd = await lstat('/etc/passwd');
  const res = await reownTree(tree, { uid: 100000, gid: 100000 });
  assert.equal(res.entries, 6);
  const su = await lstat(join(tree, 'bin/su'));
  assert.deepEqual([su.uid, su.gid, su.mode & 0o7777], [100000, 100000, 0o4755]);
  const user = await lstat(join(tree, 'bin/user'));
  assert.deepEqual([user.uid, user.gid], [101000, 101001]);
  assert.equal((await lstat(join(tree, 'passwd'))).uid, 100000);
  assert.equal((await lstat(tree)).uid, 100000);
  const after = await lstat('/etc/passwd');
  assert.deepEqual([after.uid, after.gid], [etcPasswd.uid, etcPasswd.gid]);
});
