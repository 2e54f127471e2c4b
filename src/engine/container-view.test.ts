// docker cp through a container's mounts, on plain directories (no daemon; root to chown): a
// rootfs, a volume, a read-only bind and a stopped container's tmpfs. Paths resolve as in the
// container (a rootfs link into a volume, a volume link back into the rootfs, `..` out of a
// mount), writes land in the mount the container sees, and a planted link never reaches the
// host directory beside the trees (checked by its marker file).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { EngineError } from '../base/index.js';
import { requires } from '../../test/helpers/requires.js';
import { openRoot } from '../sys/index.js';
import { archiveContainerPath, extractIntoContainer, statContainerPath } from './archive.js';
import { openRunningTmpfs, resolveInView, type ContainerView } from './container-view.js';

interface Scratch {
  rootfs: string;
  vol: string;
  bind: string;
  outside: string;
  view: (o?: { readOnlyRootfs?: boolean }) => ContainerView;
}

function scratch(t: { after: (fn: () => void) => void }): Scratch {
  const dir = mkdtempSync(join(tmpdir(), 'moat-view-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [rootfs, vol, bind, outside] = ['rootfs', 'vol', 'bind', 'outside'].map((n) => join(dir, n)) as [string, string, string, string];
  for (const d of [rootfs, vol, bind, outside, join(rootfs, 'etc'), join(rootfs, 'data'), join(rootfs, 'ro'), join(rootfs, 'run'), join(vol, 'sub')]) mkdirSync(d, { recursive: true });
  writeFileSync(join(rootfs, 'etc/hostname'), 'rootfs\n');
  writeFileSync(join(rootfs, 'data/hidden'), 'under the volume\n');
  writeFileSync(join(vol, 'f'), 'volume\n');
  writeFileSync(join(vol, 'sub/g'), 'g\n');
  writeFileSync(join(bind, 'b'), 'bind\n');
  writeFileSync(join(outside, 'marker'), 'host\n');
  symlinkSync('/data/sub', join(rootfs, 'link')); // rootfs -> into the volume
  symlinkSync('/etc', join(vol, 'x')); // volume -> the container's /etc
  symlinkSync('../../../../../..', join(vol, 'up')); // climbs past every root
  symlinkSync(outside, join(vol, 'host')); // names the host directory
  symlinkSync('loop', join(vol, 'loop'));
  const view = (o: { readOnlyRootfs?: boolean } = {}): ContainerView => ({
    openRoot: () => openRoot(rootfs),
    readOnlyRootfs: o.readOnlyRootfs === true,
    mounts: [
      { target: '/data', kind: 'volume', readOnly: false, open: () => openRoot(vol) },
      { target: '/ro', kind: 'bind', readOnly: true, open: () => openRoot(bind) },
      { target: '/run', kind: 'tmpfs', readOnly: false, open: () => undefined },
    ],
  });
  return { rootfs, vol, bind, outside, view };
}

function resolved(v: ContainerView, path: string, follow = true): { clean: string; mount: string | undefined; kind: string } {
  const r = resolveInView(v, path, follow);
  try {
    const st = r.h.stat();
    return { clean: r.clean, mount: r.mount?.target, kind: st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file' };
  } finally {
    r.h.close();
  }
}

async function tarOf(entries: Array<{ name: string; body?: string; type?: 'directory' }>): Promise<Readable> {
  const pack = tar.pack();
  for (const e of entries) {
    if (e.type === 'directory') pack.entry({ name: e.name, type: 'directory', mode: 0o755 });
    else pack.entry({ name: e.name, mode: 0o644 }, e.body ?? '');
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  return Readable.from([Buffer.concat(chunks)]);
}

async function namesIn(stream: Readable): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const extract = tar.extract();
  stream.pipe(extract);
  for await (const e of extract) {
    const chunks: Buffer[] = [];
    for await (const c of e as AsyncIterable<Buffer>) chunks.push(c);
    out.set(e.header.name, e.header.type === 'symlink' ? `-> ${e.header.linkname ?? ''}` : Buffer.concat(chunks).toString());
  }
  return out;
}

const put = async (v: ContainerView, path: string, entries: Array<{ name: string; body?: string; type?: 'directory' }>): Promise<void> =>
  extractIntoContainer(v, path, await tarOf(entries), { container: 'c', copyUidGid: false, noOverwriteDirNonDir: false });

test('resolveInView: paths resolve through mounts as in the container', (t) => {
  const s = scratch(t);
  const v = s.view();
  assert.deepEqual(resolved(v, '/data/f'), { clean: '/data/f', mount: '/data', kind: 'file' });
  assert.deepEqual(resolved(v, '/link'), { clean: '/data/sub', mount: '/data', kind: 'dir' }, 'a rootfs link into the volume');
  assert.deepEqual(resolved(v, '/link', false), { clean: '/link', mount: undefined, kind: 'symlink' }, 'the last link kept when not followed');
  assert.deepEqual(resolved(v, '/data/x/hostname'), { clean: '/etc/hostname', mount: undefined, kind: 'file' }, "a volume link to /etc is the container's /etc");
  assert.deepEqual(resolved(v, '/data/up'), { clean: '/', mount: undefined, kind: 'dir' }, '.. stops at the container root');
  assert.deepEqual(resolved(v, '/data/../etc/hostname'), { clean: '/etc/hostname', mount: undefined, kind: 'file' });
  assert.deepEqual(resolved(v, '/ro/b'), { clean: '/ro/b', mount: '/ro', kind: 'file' });
  assert.deepEqual(resolved(v, '/data/sub/../f'), { clean: '/data/f', mount: '/data', kind: 'file' });
  // The link names the host's outside dir: in the container that path does not exist.
  assert.throws(() => resolveInView(v, '/data/host/marker', true), (err: unknown) => err instanceof EngineError && err.code === 'ERR_PATH_NOT_FOUND');
  assert.throws(() => resolveInView(v, '/data/loop', true), (err: unknown) => err instanceof EngineError && err.code === 'ERR_UNSAFE_PATH');
  for (const p of ['/data/f/x', '/data/f/..', '/etc/hostname/../hostname']) {
    assert.throws(() => resolveInView(v, p, true), (err: unknown) => err instanceof EngineError && err.code === 'ERR_PATH_NOT_FOUND', `${p}: a file is not a directory`);
  }
});

test('docker cp out: a file in a volume, a directory archive with the mounts below it', async (t) => {
  const s = scratch(t);
  const v = s.view();
  assert.equal(statContainerPath(v, '/data/f').size, 'volume\n'.length);
  assert.equal(statContainerPath(v, '/data/x').linkTarget, '/etc');
  const file = await namesIn(archiveContainerPath(v, '/link/g').stream);
  assert.deepEqual([...file], [['g', 'g\n']]);
  const all = await namesIn(archiveContainerPath(v, '/', 'c').stream);
  assert.equal(all.get('./data/f'), 'volume\n', 'the volume at /data, not the rootfs beneath');
  assert.equal(all.has('./data/hidden'), false);
  assert.equal(all.get('./ro/b'), 'bind\n');
  assert.equal(all.get('./data/x'), '-> /etc');
  assert.equal(all.get('./etc/hostname'), 'rootfs\n');
});

test('docker cp in: into the volume the container sees, through its links, never the host', async (t) => {
  if (!requires(t, 'root')) return; // entries are chowned to the container's root
  const s = scratch(t);
  const v = s.view();
  await put(v, '/data', [{ name: 'new', body: 'n\n' }]);
  assert.equal(readFileSync(join(s.vol, 'new'), 'utf8'), 'n\n');
  assert.equal(existsSync(join(s.rootfs, 'data/new')), false, 'not the rootfs under the mount');
  await put(v, '/link', [{ name: 'via-link', body: 'l\n' }]);
  assert.equal(readFileSync(join(s.vol, 'sub/via-link'), 'utf8'), 'l\n');
  await put(v, '/data/x/', [{ name: 'into-etc', body: 'e\n' }]);
  assert.equal(readFileSync(join(s.rootfs, 'etc/into-etc'), 'utf8'), 'e\n', "the volume's /etc link is the container's /etc");
  await put(v, '/data/up', [{ name: 'at-root', body: 'r\n' }]);
  assert.equal(readFileSync(join(s.rootfs, 'at-root'), 'utf8'), 'r\n');
  await assert.rejects(put(v, '/data/host', [{ name: 'marker', body: 'owned\n' }]), (err: unknown) => err instanceof EngineError && err.kind === 'not-found');
  assert.equal(readFileSync(join(s.outside, 'marker'), 'utf8'), 'host\n');
  assert.deepEqual(readdirSync(s.outside), ['marker']);
  // A directory copied to / whose name is a mount point goes into the mount.
  await put(v, '/', [{ name: 'data/', type: 'directory' }, { name: 'data/from-root', body: 'd\n' }]);
  assert.equal(readFileSync(join(s.vol, 'from-root'), 'utf8'), 'd\n');
  assert.equal(existsSync(join(s.rootfs, 'data/from-root')), false);
});

test("docker cp in: read-only mounts and rootfs refused with Docker's words; a stopped container's tmpfs refused", async (t) => {
  if (!requires(t, 'root')) return; // entries are chowned to the container's root
  const s = scratch(t);
  const refused = (code: string, message: RegExp) => (err: unknown) => err instanceof EngineError && err.code === code && message.test(err.message);
  await assert.rejects(put(s.view(), '/ro', [{ name: 'f', body: 'x' }]), refused('ERR_CP_READ_ONLY_VOLUME', /^mounted volume is marked read-only$/));
  await assert.rejects(put(s.view(), '/', [{ name: 'ro/f', body: 'x' }]), refused('ERR_CP_READ_ONLY_VOLUME', /^mounted volume is marked read-only$/));
  assert.deepEqual(readdirSync(s.bind), ['b']);
  await assert.rejects(put(s.view({ readOnlyRootfs: true }), '/etc', [{ name: 'f', body: 'x' }]), refused('ERR_CP_READ_ONLY_ROOTFS', /^container rootfs is marked read-only$/));
  await put(s.view({ readOnlyRootfs: true }), '/data', [{ name: 'ok', body: 'x' }]);
  assert.equal(readFileSync(join(s.vol, 'ok'), 'utf8'), 'x', 'a writable volume of a read-only container takes the copy');
  await assert.rejects(put(s.view(), '/run', [{ name: 'f', body: 'x' }]), refused('ERR_CP_TMPFS_NOT_RUNNING', /tmpfs mount/));
  await assert.rejects(put(s.view(), '/', [{ name: 'run/f', body: 'x' }]), refused('ERR_CP_TMPFS_NOT_RUNNING', /tmpfs mount/));
  assert.deepEqual(readdirSync(join(s.rootfs, 'run')), []);
});

test('docker cp in: names with .. that stay inside are cleaned (as Docker); escaping ones refused', async (t) => {
  if (!requires(t, 'root')) return; // entries are chowned to the container's root
  const s = scratch(t);
  await put(s.view(), '/data', [{ name: 'a/../b', body: 'b\n' }, { name: './c/./d/../e', body: 'e\n' }]);
  assert.equal(readFileSync(join(s.vol, 'b'), 'utf8'), 'b\n');
  assert.equal(readFileSync(join(s.vol, 'c/e'), 'utf8'), 'e\n');
  for (const name of ['../escape', 'a/../../escape', '/abs']) {
    await assert.rejects(put(s.view(), '/data', [{ name, body: 'x' }]), (err: unknown) => err instanceof EngineError && err.kind === 'invalid' && err.message.includes(JSON.stringify(name)), name);
  }
  assert.equal(existsSync(join(s.rootfs, 'escape')), false);
  assert.equal(existsSync(join(s.vol, 'escape')), false);
});

test("openRunningTmpfs: a process whose root is not the container's rootfs (a reused pid) is refused", (t) => {
  const s = scratch(t);
  // This test's own process: its root is the host's `/`, not the rootfs.
  assert.throws(() => openRunningTmpfs(process.pid, s.rootfs, '/tmp'), (err: unknown) => err instanceof EngineError && err.code === 'ERR_CP_TMPFS_NOT_RUNNING');
  assert.throws(() => openRunningTmpfs(2 ** 22 + 1, s.rootfs, '/tmp'), (err: unknown) => err instanceof EngineError && err.code === 'ERR_CP_TMPFS_NOT_RUNNING', 'no such process');
  // Its root is `/` itself: the check passes, and what is at the target must be another mount.
  const h = openRunningTmpfs(process.pid, '/', '/proc');
  h.close();
  assert.throws(() => openRunningTmpfs(process.pid, '/', '/'), (err: unknown) => err instanceof EngineError && err.code === 'ERR_CP_TMPFS_NOT_RUNNING', 'not a mount');
});
