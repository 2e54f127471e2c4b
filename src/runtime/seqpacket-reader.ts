// The attach-socket reader thread: one thread polls every attach session's SOCK_SEQPACKET fd
// and posts each packet as one message (see seqpacket.ts for why libuv does not read these
// sockets). One thread for all sessions: starting a worker costs ~80-100 ms of CPU, which a
// thread per `docker run` paid every time (docs/performance.md). Kept apart, importing only
// the libc binding (sys/libc.js directly, not sys/index.js), so that the thread starts quickly.
import { constants as osConstants } from 'node:os';
import { isMainThread, parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { sysError } from '../base/index.js';
import { libc, lastErrno } from '../sys/libc.js';

const POLLIN = 0x1;
const MSG_DONTWAIT = 0x40;
const { EAGAIN, EINTR, ECONNRESET } = osConstants.errno;
/** Packets taken from one socket before the others get a turn. */
const BURST = 64;

export const WORKER_TAG = 'moat-seqpacket-reader';
/** Sessions one reader thread serves (flags are a fixed shared array); more start another. */
export const READER_SLOTS = 1024;
/** flags[RETIRE_FLAG] = 1: the thread ends once it serves no session (main sends it none after). */
export const RETIRE_FLAG = 2 * READER_SLOTS;

export interface ReaderData {
  tag: typeof WORKER_TAG;
  /** Read end of a datagram socket pair: a byte there means "look at the control port and the flags". */
  wakeFd: number;
  /** Int32s: [2*slot] stop (1 = close it), [2*slot+1] paused (1 = do not read); then RETIRE_FLAG. */
  flags: SharedArrayBuffer;
  /** `{ slot, fd }`: a new session (the thread owns and closes the fd). */
  control: MessagePort;
}
/** Every session's last message is `end`, `error` or `released` (after a stop); then its slot is free. */
export type ReaderMessage =
  | { slot: number; packet: Uint8Array }
  | { slot: number; end: true }
  | { slot: number; error: string; code: string }
  | { slot: number; released: true };

/** Runs in the worker: poll every session's fd, recv every packet until EOF, an error, or stop. */
function runReader(data: ReaderData, port: NonNullable<typeof parentPort>): void {
  const c = libc();
  const flags = new Int32Array(data.flags);
  const fds = new Map<number, number>();
  const buf = Buffer.alloc(65536);
  const wakeBuf = Buffer.alloc(64);
  const close = (slot: number): void => {
    c.close(fds.get(slot)!);
    fds.delete(slot);
  };
  /** Read up to BURST packets of one session; false when the session is over. */
  const readSlot = (slot: number, fd: number): void => {
    for (let k = 0; k < BURST; k++) {
      if (Atomics.load(flags, 2 * slot) === 1 || Atomics.load(flags, 2 * slot + 1) === 1) return;
      const n = c.recv(fd, buf, buf.length, MSG_DONTWAIT);
      if (n > 0) {
        const packet = new Uint8Array(n);
        packet.set(buf.subarray(0, n));
        port.postMessage({ slot, packet } satisfies ReaderMessage, [packet.buffer]);
        continue;
      }
      if (n === 0) {
        close(slot);
        port.postMessage({ slot, end: true } satisfies ReaderMessage);
        return;
      }
      const e = lastErrno();
      if (e === EAGAIN) return;
      // ECONNRESET: the peer closed with our stdin unread; queued output still follows.
      if (e === EINTR || e === ECONNRESET) continue;
      close(slot);
      const err = sysError('recv', 'attach', e);
      port.postMessage({ slot, error: err.message, code: err.code ?? 'EIO' } satisfies ReaderMessage);
      return;
    }
  };
  try {
    for (;;) {
      for (let m = receiveMessageOnPort(data.control); m !== undefined; m = receiveMessageOnPort(data.control)) {
        const { slot, fd } = m.message as { slot: number; fd: number };
        fds.set(slot, fd);
      }
      for (const slot of [...fds.keys()]) {
        if (Atomics.load(flags, 2 * slot) !== 1) continue;
        close(slot);
        port.postMessage({ slot, released: true } satisfies ReaderMessage);
      }
      if (fds.size === 0 && Atomics.load(flags, RETIRE_FLAG) === 1) return;
      const active = [...fds].filter(([slot]) => Atomics.load(flags, 2 * slot + 1) === 0);
      const pfd = Buffer.alloc(8 * (active.length + 1));
      pfd.writeInt32LE(data.wakeFd, 0);
      pfd.writeInt16LE(POLLIN, 4);
      active.forEach(([, fd], i) => {
        pfd.writeInt32LE(fd, 8 * (i + 1));
        pfd.writeInt16LE(POLLIN, 8 * (i + 1) + 4);
      });
      const ready = c.poll(pfd, active.length + 1, 1000);
      if (ready < 0) {
        const e = lastErrno();
        if (e === EINTR) continue;
        throw sysError('poll', 'attach', e);
      }
      if (ready === 0) continue;
      if (pfd.readInt16LE(6) !== 0) while (c.recv(data.wakeFd, wakeBuf, wakeBuf.length, MSG_DONTWAIT) > 0);
      active.forEach(([slot, fd], i) => {
        if (pfd.readInt16LE(8 * (i + 1) + 6) !== 0 && fds.has(slot)) readSlot(slot, fd);
      });
    }
  } catch (err) {
    // The thread is ending: every session gets the error (main also sees the worker exit).
    const e = err as NodeJS.ErrnoException;
    for (const slot of [...fds.keys()]) {
      close(slot);
      port.postMessage({ slot, error: e.message, code: e.code ?? 'EIO' } satisfies ReaderMessage);
    }
  }
}

if (!isMainThread && parentPort && (workerData as Partial<ReaderData> | undefined)?.tag === WORKER_TAG) {
  runReader(workerData as ReaderData, parentPort);
}
