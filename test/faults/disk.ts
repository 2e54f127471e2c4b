// A disk that fills: write a file until the file system refuses (ENOSPC), free it again.
import { openSync, writeSync, closeSync, rmSync, readdirSync, lstatSync } from 'node:fs';
import { join } from 'node:path';

/** Fill the file system holding `dir` with `dir/<name>`; returns the bytes written. */
export function fillDisk(dir: string, name = 'fill'): number {
  const fd = openSync(join(dir, name), 'a');
  let total = 0;
  try {
    for (const size of [1 << 20, 4096, 512, 1]) {
      const buf = Buffer.alloc(size);
      for (;;) {
        try {
          total += writeSync(fd, buf);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return total;
}

export function freeDisk(dir: string, name = 'fill'): void {
  rmSync(join(dir, name), { force: true });
}

/** Files under `dir` (recursively, not following links) whose name says they are a temporary write. */
export function tempFilesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      const st = lstatSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      // Container rootfs trees belong to the containers, not to moatd.
      if (st.isDirectory() && !['rootfs', 'upper', 'work', '_data'].includes(n)) walk(p);
      // ctr.log.tmp is the log keeper's seed for conmon's next rotation (src/engine/log-files.ts), not a leftover.
      else if (n !== 'ctr.log.tmp' && /\.tmp$|\.tmp-|^\.tmp/.test(n)) out.push(p);
    }
  };
  walk(dir);
  return out;
}
