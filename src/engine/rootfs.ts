// Reading files inside a container's rootfs from the host without following symlinks
// out of it: every component is resolved relative to the rootfs, as a chroot would.
import { lstat, readlink, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const MAX_LINKS = 40;

/** The host path of `inside` within `root`, with symlinks resolved inside `root`. */
export async function secureJoin(root: string, inside: string): Promise<string> {
  let pending = inside.split('/').filter((c) => c !== '' && c !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const c = pending.shift()!;
    if (c === '..') {
      resolved.pop();
      continue;
    }
    const candidate = join(root, ...resolved, c);
    const st = await lstat(candidate).catch(() => undefined);
    if (st?.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw new Error(`too many levels of symbolic links in ${inside}`);
      const target = await readlink(candidate);
      if (target.startsWith('/')) resolved.length = 0;
      pending = [...target.split('/').filter((x) => x !== '' && x !== '.'), ...pending];
      continue;
    }
    resolved.push(c);
  }
  return join(root, ...resolved);
}

/** Read a text file inside the rootfs; '' when it does not exist or is not a regular file. */
export async function readRootfsText(root: string, inside: string, maxBytes = 1 << 20): Promise<string> {
  try {
    const p = await secureJoin(root, inside);
    const st = await lstat(p);
    if (!st.isFile() || st.size > maxBytes) return '';
    return await readFile(p, 'utf8');
  } catch {
    return '';
  }
}
