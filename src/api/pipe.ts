// Streams to a client that may go away at any moment: a hang-up ends the copy and frees
// the source, and is not an error of the daemon.
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Node's code for a stream closed before it ended (not one of moat's codes). */
const NODE_PREMATURE_CLOSE = `ERR_STREAM_PREMATURE_CLOSE`;

/** True once the client's side of `res` is gone before the response was complete. */
export function clientGone(res: ServerResponse): boolean {
  return (res.destroyed || res.socket?.destroyed === true) && !res.writableFinished;
}

/**
 * Copy `source` into `res` until it ends. When the client hangs up, the source is destroyed
 * (a walker stops, files close) and the promise resolves with `'client-gone'`; a failure of
 * the source itself rejects.
 *
 * @example
 * res.writeHead(200, { 'Content-Type': 'application/x-tar' });
 * await pipeToClient(exportTree(dir), res);
 */
export async function pipeToClient(source: Readable, res: ServerResponse): Promise<'done' | 'client-gone'> {
  try {
    await pipeline(source, res);
    return 'done';
  } catch (err) {
    if (clientGone(res) || (err as NodeJS.ErrnoException).code === NODE_PREMATURE_CLOSE) {
      source.destroy();
      return 'client-gone';
    }
    throw err;
  }
}
