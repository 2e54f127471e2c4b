// The built-in default image `busybox:latest`, made at first start from Debian's
// busybox-static: applets as links, /etc/passwd with root and nobody, /etc/group, /tmp.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, rm, symlink, stat, writeFile, chmod, utimes, lutimes, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { internal } from '../base/index.js';
import { exportTree } from './tar-export.js';
import type { ImageStore, ImageRecord } from './store.js';

export const BUILTIN_IMAGE = 'busybox:latest';

function applets(busybox: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(busybox, ['--list-full'], { timeout: 10_000 }, (err, out) => {
      if (err) reject(internal(`Cannot list busybox applets: ${err.message}`, { cause: err }));
      else resolve(String(out).split('\n').filter((l) => l.trim() !== ''));
    });
  });
}

async function buildTree(busybox: string, dir: string): Promise<void> {
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'root', 'home', 'var/spool/mail', 'dev', 'proc', 'sys']) {
    await mkdir(join(dir, d), { recursive: true, mode: 0o755 });
  }
  await mkdir(join(dir, 'tmp'), { mode: 0o1777 });
  await chmod(join(dir, 'tmp'), 0o1777);
  await chmod(join(dir, 'root'), 0o700);
  await copyFile(busybox, join(dir, 'bin/busybox'));
  await chmod(join(dir, 'bin/busybox'), 0o755);
  for (const applet of await applets(busybox)) {
    if (applet === 'bin/busybox') continue;
    const depth = applet.split('/').length - 1;
    const target = depth === 1 && applet.startsWith('bin/') ? 'busybox' : `${'../'.repeat(depth)}bin/busybox`;
    await mkdir(join(dir, applet, '..'), { recursive: true, mode: 0o755 });
    await symlink(target, join(dir, applet)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
  await writeFile(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n', { mode: 0o644 });
  await writeFile(join(dir, 'etc/group'), 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n', { mode: 0o644 });
  await writeFile(join(dir, 'etc/shadow'), 'root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n', { mode: 0o600 });
  // A fixed mtime makes the layer, and so the image id, the same on every host with the same busybox.
  await fixTimes(dir);
}

async function fixTimes(dir: string): Promise<void> {
  const epoch = new Date(0);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) await fixTimes(p);
    if (entry.isSymbolicLink()) await lutimes(p, epoch, epoch);
    else await utimes(p, epoch, epoch);
  }
  await utimes(dir, epoch, epoch);
}

/** Make `busybox:latest` unless the tag already exists. */
export async function ensureBuiltinImage(store: ImageStore, opts: { busybox: string; arch: string; tmpDir: string }): Promise<ImageRecord> {
  const existing = store.find(BUILTIN_IMAGE);
  if (existing) return existing;
  const dir = join(opts.tmpDir, `builtin-${process.pid}-${Date.now()}`);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  try {
    await buildTree(opts.busybox, dir);
    const diffId = await store.addLayer(exportTree(dir));
    // The busybox binary's mtime is the package's build date (dpkg keeps it): a real date,
    // the same on every start and every host with that package, so the image id stays too.
    const created = (await stat(opts.busybox)).mtime.toISOString();
    return await store.addImage(
      {
        architecture: opts.arch,
        os: 'linux',
        created,
        config: { Cmd: ['sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
        rootfs: { type: 'layers', diff_ids: [diffId] },
        history: [{ created, created_by: `moat builtin: ${opts.busybox} (Debian busybox-static)` }],
      },
      BUILTIN_IMAGE,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
