// The attach-socket reader thread: poll + recv every packet of one SOCK_SEQPACKET fd and
// post each as one message (see seqpacket.ts for why libuv does not read these sockets).
// Kept apart, importing only the libc binding (sys/libc.js directly, not sys/index.js), so
// that a new attach session's thread starts quickly.
import { constants as osConstants } from 'node:os';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { sysError } from '../base/index.js';
import { libc, lastErrno } from '../sys/libc.js';

const POLLIN = 0x1;
const MSG_DONTWAIT = 0x40;
const { EAGAIN, EINTR, ECONNRESET } = osConstants.errno;

export const WORKER_TAG = 'moat-seqpacket-reader';
export interface ReaderData {
  tag: typeof WORKER_TAG;
  fd: number;
  /** [0] stop (1 = stop), [1] paused (1 = do not read) */
  flags: SharedArrayBuffer;
}
export type ReaderMessage = { packet: Uint8Array } | { end: true } | { error: string; code: string };

/** Runs in the worker: poll + recv every packet until EOF, an error, or stop. */
function runReader(data: ReaderData, port: NonNullable<typeof parentPort>): void {
  const c = libc();
  const flags = new Int32Array(data.flags);
  const pfd = Buffer.alloc(8);
  pfd.writeInt32LE(data.fd, 0);
  pfd.writeInt16LE(POLLIN, 4);
  const buf = Buffer.alloc(65536);
  try {
    for (;;) {
      if (Atomics.load(flags, 0) === 1) return;
      if (Atomics.load(flags, 1) === 1) {
        Atomics.wait(flags, 1, 1, 250); // paused by the consumer: leave packets in the socket
        continue;
      }
      pfd.writeInt16LE(0, 6);
      const ready = c.poll(pfd, 1, 250);
      if (ready < 0) {
        const e = lastErrno();
        if (e === EINTR) continue;
        throw sysError('poll', 'attach', e);
      }
      if (ready === 0) continue;
      for (;;) {
        const n = c.recv(data.fd, buf, buf.length, MSG_DONTWAIT);
        if (n > 0) {
          const packet = new Uint8Array(n);
          packet.set(buf.subarray(0, n));
          port.postMessage({ packet } satisfies ReaderMessage, [packet.buffer]);
          if (Atomics.load(flags, 1) === 1 || Atomics.load(flags, 0) === 1) break;
          continue;
        }
        if (n === 0) {
          port.postMessage({ end: true } satisfies ReaderMessage);
          return;
        }
        const e = lastErrno();
        if (e === EAGAIN) break;
        // ECONNRESET: the peer closed with our stdin unread; queued output still follows.
        if (e === EINTR || e === ECONNRESET) continue;
        throw sysError('recv', 'attach', e);
      }
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    port.postMessage({ error: e.message, code: e.code ?? 'EIO' } satisfies ReaderMessage);
  } finally {
    c.close(data.fd);
  }
}

if (!isMainThread && parentPort && (workerData as Partial<ReaderData> | undefined)?.tag === WORKER_TAG) {
  runReader(workerData as ReaderData, parentPort);
}
