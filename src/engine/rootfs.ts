// Files inside a container's rootfs, from the host, through src/sys: paths resolve inside
// the rootfs as the container would see them (RESOLVE_IN_ROOT), so a symlink planted in the
// image or by an earlier run of the container (`/etc/passwd -> /etc/shadow` of the host,
// `/work -> /`) never reaches the host's files.
import { openRoot, readFileAt, mkdirAll } from '../sys/index.js';

/** Read a text file inside the rootfs; '' when it does not exist or is not a regular file. */
export async function readRootfsText(rootfs: string, inside: string, maxBytes = 1 << 20): Promise<string> {
  try {
    const root = openRoot(rootfs);
    try {
      return readFileAt(root, inside, { resolve: 'in-root', maxBytes })?.toString('utf8') ?? '';
    } finally {
      root.close();
    }
  } catch {
    return '';
  }
}

/**
 * `mkdir -p` of the working directory inside the rootfs (as Docker does at start). Failures
 * are left for runc to report with its own words.
 */
export function makeWorkdir(rootfs: string, cwd: string): void {
  try {
    const root = openRoot(rootfs);
    try {
      mkdirAll(root, cwd, { resolve: 'in-root', mode: 0o755 }).close();
    } finally {
      root.close();
    }
  } catch {
    // runc refuses a working directory it cannot enter, naming it
  }
}
