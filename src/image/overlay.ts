// overlayfs rootfs for containers: read-only layers below, a per-container upper dir.
// mount(2)/umount2(2) through src/sys: no mount(8) process per container start and stop.
import { rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { internal, errorText } from '../base/index.js';
import { errnoOf, mountFs, unmount, isMounted, MNT_DETACH } from '../sys/index.js';

export interface OverlayDirs {
  upper: string;
  work: string;
  merged: string;
  /**
   * overlayfs' `volatile` (Linux 5.10): no sync of the upper dir, at the container's fsyncs
   * nor at unmount (which otherwise syncs the whole filesystem the upper dir is on). Only
   * for a rootfs thrown away when its container ends (`--rm`, as Podman does): after a
   * crash the upper dir cannot be mounted again, and such a container is removed, not
   * restarted. A kernel without it mounts without it.
   */
  volatile?: boolean;
}

/** Mount `merged` as overlayfs; `lowerDirs` lowest first, as the image lists its layers. */
export async function mountOverlay(lowerDirs: readonly string[], dirs: OverlayDirs): Promise<void> {
  if (isMounted(dirs.merged)) return;
  // A volatile mount leaves `work/incompat/volatile` behind, and overlayfs refuses any later
  // mount of the dirs while it exists. The only later mount of a `--rm` rootfs is a `docker
  // restart` on the same boot, after moat's own clean unmount (after a host crash such a
  // container is removed, never mounted again), so the marker is stale and goes. The work dir
  // is moat's: no container sees it.
  // Synchronous: nearly always missing, one lstat (two thread-pool round trips at every start before).
  rmSync(join(dirs.work, 'work', 'incompat', 'volatile'), { recursive: true, force: true });
  // overlayfs lists the topmost lower dir first.
  const lower = [...lowerDirs].reverse().join(':');
  const data = `lowerdir=${lower},upperdir=${dirs.upper},workdir=${dirs.work}`;
  const mount = (): void => {
    if (dirs.volatile === true) {
      try {
        mountFs('overlay', dirs.merged, 'overlay', 0, `${data},volatile`);
        return;
      } catch (err) {
        if (errnoOf(err) !== 'EINVAL') throw err;
      }
    }
    mountFs('overlay', dirs.merged, 'overlay', 0, data);
  };
  try {
    try {
      mount();
    } catch (err) {
      // The create made the three directories; they are made here only when the mount says
      // one is missing (three thread-pool round trips fewer per start, issue 18).
      if (errnoOf(err) !== 'ENOENT') throw err;
      await Promise.all([mkdir(dirs.upper, { recursive: true, mode: 0o755 }), mkdir(dirs.work, { recursive: true, mode: 0o700 }), mkdir(dirs.merged, { recursive: true, mode: 0o755 })]);
      mount();
    }
  } catch (err) {
    throw internal(`Cannot mount the container rootfs at ${dirs.merged}: ${errorText(err)}`, { cause: err });
  }
}

export async function unmountOverlay(merged: string): Promise<void> {
  if (!isMounted(merged)) return;
  try {
    unmount(merged);
    return;
  } catch (first) {
    // Busy (a process still holds it): detach lazily rather than leave it behind.
    try {
      unmount(merged, MNT_DETACH);
    } catch {
      if (isMounted(merged)) throw internal(`Cannot unmount ${merged}: ${errorText(first)}`, { cause: first });
    }
  }
}

export { isMounted };
