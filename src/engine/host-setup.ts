// Host work for the engine: device nodes, ownership under userns remap, volume copy-up
// (through src/sys: the volume and the rootfs are container-writable).
import { access, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid } from '../base/index.js';
import { devMajor, devMinor } from '../image/index.js';
import { openRoot, openAt, listDir, copyTree, setOwner, setMode, errnoOf, O_PATH, O_DIRECTORY, type Handle } from '../sys/index.js';
import type { LinuxDevice, ResolvedDevice } from '../spec/index.js';
import type { HostDevice } from './host.js';

/** `--device /dev/x[:/dev/y][:rwm]`: stat the host node (must be a char or block device). */
export async function hostDevices(list: readonly { PathOnHost: string; PathInContainer: string; CgroupPermissions: string }[]): Promise<HostDevice[]> {
  const out: HostDevice[] = [];
  for (const d of list) {
    let st;
    try {
      st = await stat(d.PathOnHost);
    } catch {
      throw invalid(`error gathering device information while adding custom device "${d.PathOnHost}": no such file or directory`);
    }
    const type: 'c' | 'b' | undefined = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
    if (type === undefined) throw invalid(`error gathering device information while adding custom device "${d.PathOnHost}": not a device node`);
    const major = devMajor(st.rdev);
    const minor = devMinor(st.rdev);
    const node: LinuxDevice = { path: d.PathInContainer || d.PathOnHost, type, major, minor, fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
    const cgroup: ResolvedDevice = { type, major, minor, permissions: d.CgroupPermissions || 'rwm' };
    out.push({ node, cgroup });
  }
  return out;
}

/**
 * The device numbers of the block devices a container's block I/O settings name (paths
 * under /dev, checked at create), looked up now: a 400 for a path that is not a block device
 * or is a partition (the kernel applies blkio settings to whole disks only: ENODEV from runc).
 */
export async function blockDeviceNumbers(paths: readonly string[], sysRoot = '/sys'): Promise<Map<string, { major: number; minor: number }>> {
  const out = new Map<string, { major: number; minor: number }>();
  for (const p of paths) {
    let st;
    try {
      st = await stat(p);
    } catch (err) {
      throw invalid(`error gathering block device information for "${p}": ${errnoOf(err) === 'ENOENT' ? 'not found' : (err as Error).message}`, { cause: err });
    }
    if (!st.isBlockDevice()) throw invalid(`error gathering block device information for "${p}": not a block device`);
    const n = { major: devMajor(st.rdev), minor: devMinor(st.rdev) };
    const partition = await access(join(sysRoot, 'dev', 'block', `${n.major}:${n.minor}`, 'partition')).then(() => true, () => false);
    if (partition) throw invalid(`"${p}" is a partition: block I/O weights and limits apply to a whole disk`);
    out.set(p, n);
  }
  return out;
}

/** Every device node under the host's /dev, for privileged containers (as Docker's HostDevices). */
export async function allHostDevices(dir = '/dev'): Promise<HostDevice[]> {
  const out: HostDevice[] = [];
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

/** chown a daemon-owned directory (opened without following a symlink) when root owns it. */
export function chownIfRoot(path: string, uid: number, gid: number): void {
  let h: Handle;
  try {
    h = openRoot(path);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return;
    throw err;
  }
  try {
    const st = h.stat();
    if (st.uid === 0 && st.gid === 0) setOwner(h, uid, gid);
  } finally {
    h.close();
  }
}

/**
 * Copy the image's content at the mount point `target` of the container's rootfs into an
 * empty volume directory (`cp -a` semantics, Docker's copy-up), through src/sys: the mount
 * point resolves inside the rootfs as the container sees it, and every entry of the volume
 * (which another running container may be writing) is created exclusively in its parent's
 * fd, so a symlink planted there is never followed. Nothing happens when the volume already
 * has content or the image has no directory there. Returns why the copy stopped early when
 * another writer changed the volume meanwhile (the caller logs it; the start goes on).
 */
export async function populateVolume(rootfs: string, target: string, volumeDir: string): Promise<string | undefined> {
  const root = openRoot(rootfs);
  try {
    let src: Handle;
    try {
      src = openAt(root, target, { flags: O_PATH | O_DIRECTORY, resolve: 'in-root' });
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return undefined;
      throw err;
    }
    try {
      const dst = openRoot(volumeDir);
      try {
        if (listDir(dst).length > 0) return undefined;
        const st = src.stat();
        const copied = await copyTree(src, dst);
        // The volume's root takes the mount point's owner and mode, as Docker's copy does.
        setOwner(dst, st.uid, st.gid);
        setMode(dst, st.mode);
        return copied.stopped;
      } finally {
        dst.close();
      }
    } finally {
      src.close();
    }
  } finally {
    root.close();
  }
}
