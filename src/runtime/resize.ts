// Terminal resize through conmon's `ctl` FIFO (host).
import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';

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
