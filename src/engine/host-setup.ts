// Host work for the engine: device nodes, ownership under userns remap, terminal resize.
import { constants } from 'node:fs';
import { execFile } from 'node:child_process';
import { chmod, chown, lstat, open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { internal, invalid } from '../base/index.js';
import type { LinuxDevice, ResolvedDevice } from '../spec/index.js';
import type { PlanInputs } from './plan.js';

/** conmon's `ctl` FIFO takes `1 <rows> <cols>` for a terminal resize (verified with conmon 2.1.6). */
export async function writeResize(fifo: string, height: number, width: number): Promise<void> {
  const st = await stat(fifo).catch(() => undefined);
  if (!st?.isFIFO()) return;
  const fh = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    await fh.write(`1 ${height} ${width}\n`);
  } finally {
    await fh.close();
  }
}

/** `--device /dev/x[:/dev/y][:rwm]`: stat the host node (must be a char or block device). */
export async function hostDevices(list: readonly { PathOnHost: string; PathInContainer: string; CgroupPermissions: string }[]): Promise<PlanInputs['devices']> {
  const out: PlanInputs['devices'] = [];
  for (const d of list) {
    let st;
    try {
      st = await stat(d.PathOnHost);
    } catch {
      throw invalid(`error gathering device information while adding custom device "${d.PathOnHost}": no such file or directory`);
    }
    const type: 'c' | 'b' | undefined = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
    if (type === undefined) throw invalid(`error gathering device information while adding custom device "${d.PathOnHost}": not a device node`);
    const major = Number((BigInt(st.rdev) >> 8n) & 0xfffn);
    const minor = Number((BigInt(st.rdev) & 0xffn) | ((BigInt(st.rdev) >> 12n) & 0xfff00n));
    const node: LinuxDevice = { path: d.PathInContainer || d.PathOnHost, type, major, minor, fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
    const cgroup: ResolvedDevice = { type, major, minor, permissions: d.CgroupPermissions || 'rwm' };
    out.push({ node, cgroup });
  }
  return out;
}

/** Every device node under the host's /dev, for privileged containers (as Docker's HostDevices). */
export async function allHostDevices(dir = '/dev'): Promise<PlanInputs['devices']> {
  const out: PlanInputs['devices'] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (['pts', 'shm', 'mqueue', 'fd', '.lxc', '.lxd-mounts'].includes(e.name) && dir === '/dev') continue;
      out.push(...(await allHostDevices(p)));
    } else if ((e.isCharacterDevice() || e.isBlockDevice()) && p !== '/dev/console' && p !== '/dev/ptmx') {
      out.push(...(await hostDevices([{ PathOnHost: p, PathInContainer: p, CgroupPermissions: 'rwm' }]).catch(() => [])));
    }
  }
  return out;
}

export async function chownIfRoot(path: string, uid: number, gid: number): Promise<void> {
  const st = await stat(path).catch(() => undefined);
  if (st && st.uid === 0 && st.gid === 0) await chown(path, uid, gid);
}

/**
 * Copy `src` (a directory in the container's rootfs) into an empty volume directory,
 * preserving modes, owners and links (`cp -a`). Nothing happens when the volume already
 * has content or the image has nothing there.
 */
export async function populateVolume(src: string, volumeDir: string): Promise<void> {
  const st = await lstat(src).catch(() => undefined);
  if (!st?.isDirectory()) return;
  if ((await readdir(volumeDir)).length > 0) return;
  const entries = await readdir(src);
  if (entries.length > 0) await copyInto(entries.map((e) => join(src, e)), volumeDir);
  // The volume's root takes the mount point's owner and mode, as Docker's copy does.
  await chown(volumeDir, st.uid, st.gid);
  await chmod(volumeDir, st.mode & 0o7777);
}

async function copyInto(paths: string[], dir: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    execFile('cp', ['-a', '--', ...paths, dir], { timeout: 120_000 }, (err, _out, stderr) => {
      if (err) reject(internal(`Cannot copy the image's content into the volume: ${String(stderr).trim() || err.message}`, { cause: err }));
      else resolve();
    });
  });
}
