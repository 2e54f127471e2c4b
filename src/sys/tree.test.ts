// The symlink-safe tree module: every test plants symlinks (absolute, relative `../..`,
// chains, loops, directories swapped during a walk) and checks that nothing outside the
// tree's root is read, written, listed or removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync, linkSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineError } from '../base/index.js';
import { copyTree, mkdirAll, openAt, openRoot, readFileAt, removeTree, walk, listDir, reopen, errnoOf, mountBind, remountReadOnly, unmount, isMounted, mountPoints, O_RDONLY, O_PATH, O_DIRECTORY, DT_DIR, type Handle } from './index.js';

const DT_REG = 8; // dirent.h

function scratch(t: { after: (fn: () => void) => void }): { dir: string; root: string; outside: string } {
  const dir = mkdtempSync(join(tmpdir(), 'moat-tree-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  const outside = join(dir, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'OUTSIDE\n');
  return { dir, root, outside };
}

function withRoot<T>(path: string, fn: (h: Handle) => T): T {
  const h = openRoot(path);
  try {
    return fn(h);
  } finally {
    h.close();
  }
}

async function withRootAsync<T>(path: string, fn: (h: Handle) => Promise<T>): Promise<T> {
  const h = openRoot(path);
  try {
    return await fn(h);
  } finally {
    h.close();
  }
}

/** Every path under `dir` (relative), for before/after comparisons. */
function tree(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const rel = join(prefix, e.name);
    out.push(rel);
    if (e.isDirectory()) out.push(...tree(join(dir, e.name), rel));
  }
  return out.sort();
}

test('readFileAt in-root resolves symlinks as the container would, never on the host', (t) => {
  const { root, outside } = scratch(t);
  // The same path inside the root holds the "container's" copy.
  mkdirSync(join(root, outside), { recursive: true });
  writeFileSync(join(root, outside, 'secret'), 'INSIDE\n');
  symlinkSync(join(outside, 'secret'), join(root, 'abs'));
  symlinkSync(`../../../../../../../..${outside}/secret`, join(root, 'rel'));
  symlinkSync('c2', join(root, 'c1'));
  symlinkSync('/c3', join(root, 'c2'));
  symlinkSync(join(outside, 'secret'), join(root, 'c3'));
  symlinkSync('l2', join(root, 'l1'));
  symlinkSync('l1', join(root, 'l2'));
  withRoot(root, (h) => {
    for (const p of ['abs', '/abs', 'rel', 'c1']) assert.equal(readFileAt(h, p, { resolve: 'in-root' })?.toString(), 'INSIDE\n', p);
    assert.equal(readFileAt(h, 'l1', { resolve: 'in-root' }), undefined, 'a loop reads nothing');
    // No symlink at all under 'beneath'.
    for (const p of ['abs', 'rel', 'c1', 'l1']) assert.equal(readFileAt(h, p, { resolve: 'beneath' }), undefined, p);
    assert.equal(readFileAt(h, `${outside.slice(1)}/secret`, { resolve: 'beneath' })?.toString(), 'INSIDE\n', 'a plain path reads');
    assert.equal(readFileAt(h, '../outside/secret', { resolve: 'beneath' }), undefined, '.. out of the root reads nothing');
  });
});

test('readFileAt refuses FIFOs and devices without blocking, and large files', (t) => {
  const { root } = scratch(t);
  execFileSync('mkfifo', [join(root, 'fifo')]);
  writeFileSync(join(root, 'big'), Buffer.alloc(4096));
  withRoot(root, (h) => {
    assert.equal(readFileAt(h, 'fifo'), undefined);
    assert.equal(readFileAt(h, 'big', { maxBytes: 100 }), undefined);
    assert.equal(readFileAt(h, 'big')?.length, 4096);
    const fifo = openAt(h, 'fifo');
    try {
      assert.throws(() => reopen(fifo, O_RDONLY), /not a regular file or directory/);
    } finally {
      fifo.close();
    }
  });
});

test('mkdirAll beneath refuses every symlink; in-root creates inside the root', (t) => {
  const { root, outside } = scratch(t);
  symlinkSync(outside, join(root, 'abs'));
  symlinkSync('../outside', join(root, 'rel'));
  mkdirSync(join(root, 'real'));
  const before = tree(outside);
  withRoot(root, (h) => {
    for (const p of ['abs/new', 'rel/new', 'real/../abs/new', 'abs']) {
      assert.throws(() => mkdirAll(h, p), (err: unknown) => err instanceof EngineError && err.code === 'ERR_UNSAFE_PATH' && err.status === 403, p);
    }
    assert.throws(() => mkdirAll(h, '../outside/new'), (err: unknown) => err instanceof EngineError && err.code === 'ERR_UNSAFE_PATH');
    mkdirAll(h, 'real/a/b', { mode: 0o750 }).close();
    assert.equal(statSync(join(root, 'real/a/b')).mode & 0o777, 0o750);
    // The container's view: /abs/x/y is <root>/<outside>/x/y.
    mkdirAll(h, 'abs/x/y', { resolve: 'in-root' }).close();
    assert.ok(statSync(join(root, outside, 'x/y')).isDirectory());
  });
  assert.deepEqual(tree(outside), before, 'nothing was created outside the root');
});

test('copyTree copies like cp -a and never writes through a planted symlink', async (t) => {
  const { dir, outside } = scratch(t);
  const src = join(dir, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'file'), 'content\n');
  chmodSync(join(src, 'file'), 0o4750);
  linkSync(join(src, 'file'), join(src, 'sub', 'hard'));
  symlinkSync(join(outside, 'secret'), join(src, 'link'));
  execFileSync('mkfifo', [join(src, 'fifo')]);
  chmodSync(join(src, 'sub'), 0o711);

  await t.test('into an empty directory', async () => {
    const dst = join(dir, 'dst1');
    mkdirSync(dst);
    const s = openRoot(src);
    const d = openRoot(dst);
    try {
      const r = await copyTree(s, d);
      assert.equal(r.stopped, undefined);
      assert.equal(r.entries, 5);
    } finally {
      s.close();
      d.close();
    }
    assert.equal(readFileSync(join(dst, 'file'), 'utf8'), 'content\n');
    assert.equal(statSync(join(dst, 'file')).mode & 0o7777, 0o4750);
    assert.equal(statSync(join(dst, 'sub')).mode & 0o7777, 0o711);
    assert.equal(statSync(join(dst, 'file')).ino, statSync(join(dst, 'sub/hard')).ino, 'hard links stay linked');
    assert.equal(readlinkSync(join(dst, 'link')), join(outside, 'secret'));
    assert.ok(lstatSync(join(dst, 'fifo')).isFIFO());
    assert.equal(statSync(join(dst, 'file'), { bigint: true }).mtimeNs, statSync(join(src, 'file'), { bigint: true }).mtimeNs);
  });

  await t.test('into a directory where another writer planted symlinks', async () => {
    for (const [name, target] of [['file', join(outside, 'secret')], ['sub', outside]] as const) {
      const dst = join(dir, `dst-${name}`);
      mkdirSync(dst);
      symlinkSync(target, join(dst, name));
      const s = openRoot(src);
      const d = openRoot(dst);
      try {
        const r = await copyTree(s, d);
        assert.match(r.stopped ?? '', /exists/, `${name}: the copy stops`);
      } finally {
        s.close();
        d.close();
      }
      assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'OUTSIDE\n');
      assert.deepEqual(readdirSync(outside), ['secret']);
      assert.equal(readlinkSync(join(dst, name)), target, 'the planted link is left as it was');
    }
  });
});

test('walk opens every entry from its parent fd: a directory swapped for a symlink mid-walk is not followed', async (t) => {
  const { root, outside } = scratch(t);
  mkdirSync(join(root, 'a/d'), { recursive: true });
  writeFileSync(join(root, 'a/d/inner'), 'x');
  writeFileSync(join(outside, 'only-outside'), 'y');
  symlinkSync(outside, join(root, 'a/l'));
  const seen: string[] = [];
  const h = openRoot(root);
  try {
    await walk(h, (e) => {
      seen.push(`${e.path}:${e.stat.isSymbolicLink() ? 'l' : e.stat.isDirectory() ? 'd' : 'f'}`);
      if (e.path === 'a/d') {
        // Swap the directory just opened with the symlink (what RENAME_EXCHANGE does).
        renameSync(join(root, 'a/d'), join(root, 'a/tmp'));
        renameSync(join(root, 'a/l'), join(root, 'a/d'));
        renameSync(join(root, 'a/tmp'), join(root, 'a/l'));
      }
    });
  } finally {
    h.close();
  }
  assert.ok(!seen.some((s) => s.includes('only-outside') || s.includes('secret')), seen.join(' '));
  assert.ok(seen.includes('a/d/inner:f'), 'the opened directory is listed: ' + seen.join(' '));
});

test('removeTree removes symlinks, not their targets, and refuses to enter a mount', async (t) => {
  const { dir, root, outside } = scratch(t);
  mkdirSync(join(root, 'victim/sub'), { recursive: true });
  symlinkSync(outside, join(root, 'victim/sub/out'));
  symlinkSync('../../../outside/secret', join(root, 'victim/rel'));
  // Names listed as not directories are unlinked by name: a fifo and a file too.
  execFileSync('mkfifo', [join(root, 'victim/sub/fifo')]);
  writeFileSync(join(root, 'victim/sub/file'), 'x');
  await withRootAsync(root, (h) => removeTree(h, 'victim'));
  assert.equal(existsSync(join(root, 'victim')), false);
  assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'OUTSIDE\n');
  assert.deepEqual(readdirSync(outside), ['secret']);
  await withRootAsync(root, (h) => removeTree(h, 'not-there'));

  await t.test('a bind mount inside is refused, its content kept', { skip: process.getuid?.() !== 0 ? 'needs root to mount' : false }, async () => {
    const target = join(root, 'holder/mnt');
    mkdirSync(target, { recursive: true });
    const src = openRoot(outside);
    try {
      mountBind(src, target);
    } finally {
      src.close();
    }
    try {
      await assert.rejects(withRootAsync(root, (h) => removeTree(h, 'holder')), (err: unknown) => err instanceof EngineError && err.code === 'ERR_UNSAFE_PATH');
      assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'OUTSIDE\n');
    } finally {
      unmount(target);
    }
    assert.ok(existsSync(dir));
  });

  await t.test('a file bind mount inside is refused, its source kept', { skip: process.getuid?.() !== 0 ? 'needs root to mount' : false }, async () => {
    // unlinkat(2) of a mount point says EBUSY: the removal then opens it and refuses it (EXDEV).
    mkdirSync(join(root, 'holder2'));
    const target = join(root, 'holder2/point');
    writeFileSync(target, '');
    withRoot(outside, (o) => {
      const src = openAt(o, 'secret');
      try {
        mountBind(src, target);
      } finally {
        src.close();
      }
    });
    try {
      await assert.rejects(withRootAsync(root, (h) => removeTree(h, 'holder2')), (err: unknown) => err instanceof EngineError && err.code === 'ERR_UNSAFE_PATH');
      assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'OUTSIDE\n');
    } finally {
      unmount(target);
    }
    await withRootAsync(root, (h) => removeTree(h, 'holder2'));
    assert.equal(existsSync(join(root, 'holder2')), false);
    assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'OUTSIDE\n');
  });
});

test('mountBind mounts the opened inode, remountReadOnly makes it read-only', { skip: process.getuid?.() !== 0 ? 'needs root to mount' : false }, (t) => {
  const { dir, outside } = scratch(t);
  const target = join(dir, 'stage');
  mkdirSync(target);
  const h = openRoot(outside);
  // Swap the path after opening: the mount still takes what was opened.
  renameSync(outside, join(dir, 'moved'));
  mkdirSync(outside);
  try {
    mountBind(h, target, { recursive: true });
  } finally {
    h.close();
  }
  try {
    assert.deepEqual(readdirSync(target), ['secret']);
    remountReadOnly(target);
    assert.throws(() => writeFileSync(join(target, 'x'), 'y'), /EROFS/);
  } finally {
    unmount(target);
  }
});

test('isMounted: a mount point itself, not a symlink to it, a directory in it or a missing path', { skip: process.getuid?.() !== 0 ? 'needs root to mount' : false }, (t) => {
  const { dir, outside } = scratch(t);
  const target = join(dir, 'stage');
  mkdirSync(target);
  symlinkSync(target, join(dir, 'link'));
  assert.equal(isMounted(target), false);
  withRoot(outside, (h) => mountBind(h, target));
  try {
    assert.equal(isMounted(target), true);
    assert.equal(isMounted(`${target}/`), true);
    assert.equal(isMounted(join(dir, 'link')), false);
    mkdirSync(join(outside, 'sub'));
    assert.equal(isMounted(join(target, 'sub')), false);
    assert.equal(isMounted(join(target, 'missing')), false);
    assert.equal(isMounted(join(target, 'secret', 'x')), false);
    assert.ok(mountPoints().includes(target), 'mountinfo agrees');
  } finally {
    unmount(target);
  }
  assert.equal(isMounted(target), false);
});

test('listDir lists from the fd, sorted by bytes; errors carry the errno', (t) => {
  const { root } = scratch(t);
  for (const n of ['b', 'a', 'C', 'é']) writeFileSync(join(root, n), '');
  withRoot(root, (h) => {
    assert.deepEqual(listDir(h).map((e) => e.name), ['C', 'a', 'b', 'é']);
    mkdirSync(join(root, 'd'));
    assert.deepEqual(listDir(h).map((e) => [e.name, e.type]), [['C', DT_REG], ['a', DT_REG], ['b', DT_REG], ['d', DT_DIR], ['é', DT_REG]]);
    const d = openAt(h, '.', { flags: O_PATH | O_DIRECTORY });
    d.close();
    try {
      openAt(h, 'missing/x');
      assert.fail('opened a missing path');
    } catch (err) {
      assert.ok(err instanceof EngineError);
      assert.equal(err.status, 404);
      assert.equal(errnoOf(err), 'ENOENT');
    }
  });
});
