// overlayfs rootfs for containers: read-only layers below, a per-container upper dir.
import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { internal } from '../base/index.js';

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 30_000 }, (err, _out, stderr) => {
      if (err) reject(internal(`${cmd} failed: ${String(stderr).trim() || err.message}`, { cause: err }));
      else resolve();
    });
  });
}

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
  await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${dirs.upper},workdir=${dirs.work}`, dirs.merged]);
}

export async function unmountOverlay(merged: string): Promise<void> {
  if (!(await isMounted(merged))) return;
  await run('umount', [merged]).catch(async (err: unknown) => {
    if (await isMounted(merged)) await run('umount', ['-l', merged]).catch(() => { throw err; });
  });
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
