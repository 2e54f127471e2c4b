// overlayfs rootfs for containers: read-only layers below, a per-container upper dir.
// mount(2)/umount2(2) through koffi: no mount(8) process per container start and stop.
import { mkdir, readFile } from 'node:fs/promises';
import koffi from 'koffi';
import { internal, errnoName } from '../base/index.js';

interface Libc {
  mount: (source: string, target: string, fstype: string, flags: number, data: string) => number;
  umount2: (target: string, flags: number) => number;
}

let libc: Libc | undefined;
function getLibc(): Libc {
  if (libc === undefined) {
    const lib = koffi.load('libc.so.6');
    libc = {
      mount: lib.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)') as Libc['mount'],
      umount2: lib.func('int umount2(const char *target, int flags)') as Libc['umount2'],
    };
  }
  return libc;
}

const MNT_DETACH = 2;


export interface OverlayDirs {
  upper: string;
  work: string;
  merged: string;
}

/** Mount `merged` as overlayfs; `lowerDirs` lowest first, as the image lists its layers. */
export async function mountOverlay(lowerDirs: readonly string[], dirs: OverlayDirs): Promise<void> {
  await mkdir(dirs.upper, { recursive: true, mode: 0o755 });
  await mkdir(dirs.work, { recursive: true, mode: 0o700 });
  await mkdir(dirs.merged, { recursive: true, mode: 0o755 });
  if (await isMounted(dirs.merged)) return;
  // overlayfs lists the topmost lower dir first.
  const lower = [...lowerDirs].reverse().join(':');
  const data = `lowerdir=${lower},upperdir=${dirs.upper},workdir=${dirs.work}`;
  if (getLibc().mount('overlay', dirs.merged, 'overlay', 0, data) !== 0) {
    throw internal(`Cannot mount the container rootfs at ${dirs.merged}: ${errnoName(koffi.errno())}`);
  }
}

export async function unmountOverlay(merged: string): Promise<void> {
  if (!(await isMounted(merged))) return;
  if (getLibc().umount2(merged, 0) === 0) return;
  const first = koffi.errno();
  // Busy (a process still holds it): detach lazily rather than leave it behind.
  if (getLibc().umount2(merged, MNT_DETACH) !== 0 && (await isMounted(merged))) {
    throw internal(`Cannot unmount ${merged}: ${errnoName(first)}`);
  }
}

/** True when `path` is a mount point in this mount namespace. */
export async function isMounted(path: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const target = path.replace(/\/+$/, '');
  return info.split('\n').some((line) => unescapeMount(line.split(' ')[4] ?? '') === target);
}

function unescapeMount(s: string): string {
  return s.replace(/\\(\d{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
