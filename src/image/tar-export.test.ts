import { test } from 'node:test';
import { EngineError } from '../base/index.js';
import assert from 'node:assert/strict';
import { mkdtemp, rm, mkdir, readdir, readFile, lstat, readlink, writeFile, link, symlink, lchown, chmod, lutimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { dirname, basename } from 'node:path';
import { applyLayer, makedev, devMajor, devMinor } from './layer.js';
import { openRoot, getXattr, setXattr, makeNode } from '../sys/index.js';

// Path-based helpers for building test trees, through src/sys.
function mknodSync(path: string, mode: number, dev: bigint): void {
  const parent = openRoot(dirname(path));
  try {
    makeNode(parent, basename(path), mode, dev);
  } finally {
    parent.close();
  }
}
function lsetxattrSync(dir: string, name: string, value: string): void {
  const h = openRoot(dir);
  try {
    setXattr(h, name, value);
  } finally {
    h.close();
  }
}
function lgetxattrSync(dir: string, name: string): Buffer | undefined {
  const h = openRoot(dir);
  try {
    return getXattr(h, name);
  } finally {
    h.close();
  }
}
import { exportTree, diffTree, CHANGE_ADDED, CHANGE_DELETED, CHANGE_MODIFIED } from './tar-export.js';
import { requires } from '../../test/helpers/requires.js';

async function temp(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'moat-export-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function bytes(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A comparable description of a tree: type, mode, owner, mtime, content or target, inode groups. */
async function describe(dir: string): Promise<string[]> {
  const out: string[] = [];
  const inodes = new Map<number, string>();
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const name of (await readdir(d)).sort()) {
      const p = join(d, name);
      const r = `${rel}${name}`;
      const st = await lstat(p);
      let what: string;
      if (st.isDirectory()) what = 'dir';
      else if (st.isSymbolicLink()) what = `link->${await readlink(p)}`;
      else if (st.isFile()) what = `file:${(await readFile(p)).toString('hex')}`;
      else if (st.isCharacterDevice()) what = `chr:${devMajor(st.rdev)},${devMinor(st.rdev)}`;
      else if (st.isFIFO()) what = 'fifo';
      else what = 'other';
      let same = '';
      if (!st.isDirectory() && st.nlink > 1) {
        same = inodes.get(st.ino) ?? '';
        if (same === '') inodes.set(st.ino, r);
      }
      const mode = st.isSymbolicLink() ? '' : (st.mode & 0o7777).toString(8);
      out.push(`${r} ${what} ${mode} ${st.uid}:${st.gid} ${Math.floor(st.mtimeMs / 1000)} ${same}`);
      if (st.isDirectory()) await walk(p, `${r}/`);
    }
  };
  await walk(dir, '');
  return out;
}

async function buildTree(dir: string): Promise<void> {
  const t0 = new Date('2021-05-06T07:08:09Z');
  await mkdir(join(dir, 'bin'), { recursive: true });
  await mkdir(join(dir, 'etc/deep/er'), { recursive: true });
  await mkdir(join(dir, 'tmp'), { mode: 0o1777 });
  await chmod(join(dir, 'tmp'), 0o1777);
  await writeFile(join(dir, 'bin/busybox'), Buffer.alloc(100_000, 7));
  await chmod(join(dir, 'bin/busybox'), 0o4755);
  await link(join(dir, 'bin/busybox'), join(dir, 'bin/hard'));
  await symlink('busybox', join(dir, 'bin/sh'));
  await writeFile(join(dir, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  await writeFile(join(dir, 'etc/empty'), '');
  await writeFile(join(dir, 'etc/deep/er/' + 'n'.repeat(120)), 'long name'); // needs a pax header
  await lchown(join(dir, 'etc/passwd'), 1000, 1001);
  await lchown(join(dir, 'bin/sh'), 3, 4);
  mknodSync(join(dir, 'null'), 0o020666, makedev(1, 3));
  mknodSync(join(dir, 'fifo'), 0o010600, 0n);
  const all = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await all(join(d, e.name));
      await lutimes(join(d, e.name), t0, t0);
    }
  };
  await all(dir);
}

test('exportTree() then applyLayer() gives the same tree, and the same bytes every time', async (t) => {
  if (!requires(t, 'root')) return; // builds trees with other owners, device nodes and trusted.* xattrs
  const dir = await temp(t);
  const src = join(dir, 'src');
  const dst = join(dir, 'dst');
  await mkdir(src);
  await mkdir(dst);
  await buildTree(src);
  const a = await bytes(exportTree(src));
  const b = await bytes(exportTree(src));
  assert.equal(createHash('sha256').update(a).digest('hex'), createHash('sha256').update(b).digest('hex'));
  const res = await applyLayer(exportTree(src), dst);
  assert.deepEqual(res.warnings, []);
  assert.deepEqual(await describe(dst), await describe(src));
});

test('exportTree() errors the stream when the directory is missing', async (t) => {
  const dir = await temp(t);
  await assert.rejects(bytes(exportTree(join(dir, 'nope'))), /Cannot export/);
});

test('exportTree({ overlayWhiteouts }) turns an upper dir into an OCI layer that applies back', async (t) => {
  if (!requires(t, 'root')) return; // builds trees with other owners, device nodes and trusted.* xattrs
  const dir = await temp(t);
  const upper = join(dir, 'upper');
  const dst = join(dir, 'dst');
  await mkdir(join(upper, 'etc'), { recursive: true });
  await mkdir(join(upper, 'opt'));
  await mkdir(dst);
  mknodSync(join(upper, 'etc/hosts'), 0o020000, 0n);
  lsetxattrSync(join(upper, 'opt'), 'trusted.overlay.opaque', 'y');
  await writeFile(join(upper, 'opt/new'), 'n');
  const names: string[] = [];
  await applyLayer(exportTree(upper, { overlayWhiteouts: true }), dst, { onEntry: (e) => names.push(e.path) });
  assert.deepEqual(names, ['etc', 'etc/.wh.hosts', 'opt', 'opt/.wh..wh..opq', 'opt/new']);
  const hosts = await lstat(join(dst, 'etc/hosts'));
  assert.ok(hosts.isCharacterDevice() && hosts.rdev === 0);
  assert.equal(lgetxattrSync(join(dst, 'opt'), 'trusted.overlay.opaque')?.toString(), 'y');
});

test('exportTree({ overlayWhiteouts }) refuses a file named .wh.*: in a layer it would hide a file below', async (t) => {
  const dir = await temp(t);
  const upper = join(dir, 'upper');
  await mkdir(join(upper, 'etc'), { recursive: true });
  await writeFile(join(upper, 'etc/.wh.passwd'), '');
  await assert.rejects(bytes(exportTree(upper, { overlayWhiteouts: true })), (err: unknown) => err instanceof EngineError && err.kind === 'invalid' && /cannot store "\/etc\/\.wh\.passwd" in an image layer/.test(err.message));
  // A plain export (docker export) is a file tree, not a layer: the name is kept.
  assert.ok((await bytes(exportTree(upper))).includes(Buffer.from('etc/.wh.passwd')));
});

test('diffTree() reports added, modified and deleted paths as docker diff does', async (t) => {
  if (!requires(t, 'root')) return; // builds trees with other owners, device nodes and trusted.* xattrs
  const dir = await temp(t);
  const lower = join(dir, 'lower');
  const upper = join(dir, 'upper');
  const t0 = new Date('2020-01-01T00:00:00Z');
  await mkdir(join(lower, 'etc'), { recursive: true });
  await mkdir(join(lower, 'var/cache'), { recursive: true });
  await mkdir(join(lower, 'usr/lib'), { recursive: true });
  await writeFile(join(lower, 'etc/passwd'), 'old');
  await writeFile(join(lower, 'etc/hosts'), 'h');
  await writeFile(join(lower, 'var/cache/a'), 'a');
  await writeFile(join(lower, 'usr/lib/x'), 'x');
  // upper: usr/ copied up unchanged (same mode/mtime), usr/lib/x modified
  await mkdir(join(upper, 'etc'), { recursive: true });
  await mkdir(join(upper, 'var/cache'), { recursive: true });
  await mkdir(join(upper, 'usr/lib'), { recursive: true });
  await writeFile(join(upper, 'etc/passwd'), 'new');
  mknodSync(join(upper, 'etc/hosts'), 0o020000, 0n);
  await writeFile(join(upper, 'etc/added'), '+');
  lsetxattrSync(join(upper, 'var/cache'), 'trusted.overlay.opaque', 'y');
  await writeFile(join(upper, 'usr/lib/x'), 'x2');
  await mkdir(join(upper, 'newdir/sub'), { recursive: true });
  for (const p of ['usr', 'usr/lib']) {
    await lutimes(join(lower, p), t0, t0);
  }
  await lutimes(join(upper, 'usr/lib/x'), t0, t0); // content change only
  for (const p of ['usr/lib', 'usr']) {
    await lutimes(join(upper, p), t0, t0);
  }
  const changes = await diffTree(upper, [lower]);
  assert.deepEqual(changes, [
    { Path: '/etc', Kind: CHANGE_MODIFIED },
    { Path: '/etc/added', Kind: CHANGE_ADDED },
    { Path: '/etc/hosts', Kind: CHANGE_DELETED },
    { Path: '/etc/passwd', Kind: CHANGE_MODIFIED },
    { Path: '/newdir', Kind: CHANGE_ADDED },
    { Path: '/newdir/sub', Kind: CHANGE_ADDED },
    { Path: '/usr/lib/x', Kind: CHANGE_MODIFIED },
    { Path: '/var', Kind: CHANGE_MODIFIED },
    { Path: '/var/cache', Kind: CHANGE_DELETED },
  ]);
});

test('exportTree({ unshift }) writes container ids for a remapped tree', async (t) => {
  if (!requires(t, 'root')) return; // builds trees with other owners, device nodes and trusted.* xattrs
  const dir = await temp(t);
  const src = join(dir, 'src');
  const dst = join(dir, 'dst');
  await mkdir(src);
  await mkdir(dst);
  await writeFile(join(src, 'f'), 'x');
  await lchown(join(src, 'f'), 101000, 101001);
  await applyLayer(exportTree(src, { unshift: { uid: 100000, gid: 100000 } }), dst);
  const st = await lstat(join(dst, 'f'));
  assert.deepEqual([st.uid, st.gid], [1000, 1001]);
});
