/**
 * Client side of conmon's attach socket (AF_UNIX, SOCK_SEQPACKET).
 *
 * Node's `net` refuses a SEQPACKET fd (`new net.Socket({ fd })` throws ERR_INVALID_FD_TYPE),
 * so the socket is created and connected with koffi, then wrapped in a libuv pipe handle
 * (`process.binding('pipe_wrap')`), which writes (and could read) any stream-like fd.
 *
 * What the tests showed (Node 20.20, libuv 1.46, conmon 2.1.6, kernel 6.x):
 * - Each read(2) of a SEQPACKET socket returns exactly one packet, and libuv reads into a
 *   64 KiB buffer (conmon's packets are at most 8193 bytes), so a `'data'` event in flowing
 *   mode is one packet. Paused-mode `read()` and `for await` concatenate buffered chunks.
 * - BUT reading through libuv loses packets: when the peer has closed (POLLHUP) and a read
 *   returns less than the buffer size, libuv assumes the stream is drained and reports EOF
 *   (`uv__stream_io`, the POLLHUP short-cut), dropping every packet still queued. With a
 *   SEQPACKET socket a short read is normal, so when conmon exits while packets are queued
 *   (a slow consumer, a busy event loop) all but one are lost. Reproduced: 20 queued packets
 *   then close -> 1 `'data'` event. A peer that closes with our stdin unread also makes the
 *   next read fail with ECONNRESET before the queued output is returned.
 * - So the socket {@link connectSeqpacket} returns never reads through libuv: a worker
 *   thread reads a dup of the fd with poll(2) + recv(2) (every packet, in order, until recv
 *   returns 0; ECONNRESET is skipped) and pushes each packet as one chunk into the
 *   `net.Socket`, which writes through libuv as usual. Backpressure holds: when the socket's
 *   buffer is full the worker stops taking packets off the socket (conmon then blocks).
 * - Writes: each write(2) is one packet; conmon reads a packet with a 32767-byte buffer and
 *   drops the rest of a bigger one, and Node may merge queued writes into one writev(2).
 *   {@link attachStdin} therefore writes chunks of at most 8192 bytes, one at a time.
 * - `end()` on stdin is shutdown(SHUT_WR): conmon then closes the container's stdin (unless
 *   it runs with `--leave-stdin-open`). The socket reaches EOF when the container exits.
 *
 * Path length: `sun_path` holds 107 bytes and a NUL. A longer path is reached through
 * `/proc/self/fd/<dirfd>/<name>` with an O_PATH fd on its directory (as conmon binds it), so
 * only the last component must fit (about 90 bytes). conmon itself, without `--full-attach`,
 * binds at `<socket-dir-path>/<cuuid>/attach` where `<socket-dir-path>/<cuuid>` is a
 * symlink to the bundle (it shortens that symlink name by one byte if it is exactly 107).
 */
import net from 'node:net';
import { openSync, closeSync, writeSync, constants as fsConstants } from 'node:fs';
import { dirname, basename } from 'node:path';
import { constants as osConstants } from 'node:os';
import { Writable } from 'node:stream';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { READER_SLOTS, RETIRE_FLAG, WORKER_TAG, type ReaderData, type ReaderMessage } from './seqpacket-reader.js';
import { EngineError, sysError } from '../base/index.js';
import { libc, lastErrno, sockaddrUn, SUN_PATH_MAX } from '../sys/index.js';

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_SEQPACKET = 5;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;
const F_DUPFD_CLOEXEC = 1030;
const { EAGAIN, EINTR } = osConstants.errno;

/** The largest stdin packet {@link attachStdin} sends. */
export const ATTACH_WRITE_CHUNK = 8192;

/** conmon's stream bytes (conmon `src/ctr_stdio.c`, `stdpipe_t`). */
export const ATTACH_STDIN = 1;
export const ATTACH_STDOUT = 2;
export const ATTACH_STDERR = 3;

interface PipeWrapBinding {
  Pipe: new (type: number) => { open(fd: number): number | undefined };
  constants: { SOCKET: number };
}

function wrapFd(fd: number): net.Socket {
  const { Pipe, constants } = (process as unknown as { binding(name: string): PipeWrapBinding }).binding('pipe_wrap');
  const handle = new Pipe(constants.SOCKET);
  const rc = handle.open(fd);
  if (typeof rc === 'number' && rc < 0) throw sysError('uv_pipe_open', String(fd), -rc);
  // manualStart: libuv must never start reading this fd (see the module comment).
  return new net.Socket({ handle, readable: true, writable: true, manualStart: true } as net.SocketConstructorOpts);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function connectFd(path: string): Promise<number> {
  const c = libc();
  let dirFd = -1;
  let sunPath = path;
  try {
    if (Buffer.byteLength(path) >= SUN_PATH_MAX) {
      dirFd = openSync(dirname(path), O_PATH | fsConstants.O_DIRECTORY | O_CLOEXEC);
      sunPath = `/proc/self/fd/${dirFd}/${basename(path)}`;
      if (Buffer.byteLength(sunPath) >= SUN_PATH_MAX) {
        throw new Error(`socket name ${JSON.stringify(basename(path))} is too long for sun_path even through /proc/self/fd`);
      }
    }
    const fd = c.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw sysError('socket', path, lastErrno());
    const addr = sockaddrUn(sunPath);
    // A non-blocking AF_UNIX connect completes at once, or fails with EAGAIN when the
    // listener's backlog is full: retry that briefly instead of blocking the event loop.
    for (let attempt = 0; ; attempt++) {
      if (c.connect(fd, addr, addr.length) === 0) return fd;
      const e = lastErrno();
      if ((e === EAGAIN || e === EINTR) && attempt < 50) {
        await sleep(Math.min(2 + attempt * 2, 50));
        continue;
      }
      c.close(fd);
      throw sysError('connect', path, e);
    }
  } finally {
    if (dirFd >= 0) closeSync(dirFd);
  }
}

function connectError(path: string, cause: unknown): EngineError {
  return new EngineError('internal', 'ERR_ATTACH_CONNECT', `Cannot connect to attach socket ${JSON.stringify(path)}: ${(cause as Error).message}`, { cause });
}

/** One packet from conmon's attach socket. */
export interface AttachPacket {
  /** 2 stdout, 3 stderr (the first byte of the packet). */
  stream: number;
  data: Buffer;
}

/**
 * Split one attach packet into its stream byte and data. Pure. Undefined for an empty packet.
 *
 * @example
 * decodeAttachPacket(Buffer.from('\x02hi\n')) // { stream: 2, data: <Buffer 68 69 0a> }
 */
export function decodeAttachPacket(packet: Uint8Array): AttachPacket | undefined {
  if (packet.length === 0) return undefined;
  const buf = Buffer.isBuffer(packet) ? packet : Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength);
  return { stream: buf[0]!, data: buf.subarray(1) };
}

/**
 * A Writable for the container's stdin over the attach socket: splits data into packets of
 * at most {@link ATTACH_WRITE_CHUNK} bytes and sends one at a time; `end()` half-closes the
 * socket (stdin EOF in the container).
 */
export function attachStdin(socket: net.Socket): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      let off = 0;
      const next = (err?: Error | null): void => {
        if (err) return cb(err);
        if (off >= chunk.length) return cb();
        const part = chunk.subarray(off, off + ATTACH_WRITE_CHUNK);
        off += part.length;
        socket.write(part, next);
      };
      next();
    },
    final(cb) {
      socket.end(() => cb());
    },
  });
}

// ---- the reader thread (seqpacket-reader.ts: a small module, so the worker starts fast) --

const READER_URL = new URL('./seqpacket-reader.js', import.meta.url);
/** A reader thread with no session for this long ends (an idle daemon keeps no thread). */
const READER_IDLE_MS = 5000;

type SessionHandler = (m: ReaderMessage) => void;

/** One reader thread and the sessions it serves, by slot. */
class ReaderThread {
  readonly #worker: Worker;
  readonly #flags = new Int32Array(new SharedArrayBuffer(4 * (RETIRE_FLAG + 1)));
  readonly #control: MessagePort;
  readonly #wakeRead: number;
  readonly #wakeWrite: number;
  readonly #sessions = new Map<number, SessionHandler>();
  readonly #free: number[] = [];
  #next = 0;
  #idle: NodeJS.Timeout | undefined;
  #gone = false;

  constructor(readonly onGone: (r: ReaderThread) => void) {
    const sv = Buffer.alloc(8);
    if (libc().socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) throw sysError('socketpair', 'attach reader', lastErrno());
    this.#wakeRead = sv.readInt32LE(0);
    this.#wakeWrite = sv.readInt32LE(4);
    const { port1, port2 } = new MessageChannel();
    this.#control = port1;
    this.#control.unref();
    try {
      this.#worker = new Worker(READER_URL, {
        workerData: { tag: WORKER_TAG, wakeFd: this.#wakeRead, flags: this.#flags.buffer as SharedArrayBuffer, control: port2 } satisfies ReaderData,
        transferList: [port2],
      });
    } catch (err) {
      this.#closeWake();
      throw err;
    }
    this.#worker.unref();
    this.#worker.on('message', (m: ReaderMessage) => {
      const handler = this.#sessions.get(m.slot);
      if (!('packet' in m)) this.#release(m.slot);
      handler?.(m);
    });
    const fail = (err: Error): void => {
      if (this.#gone) return;
      this.#gone = true;
      this.onGone(this);
      this.#closeWake();
      for (const [slot, handler] of [...this.#sessions]) {
        this.#sessions.delete(slot);
        handler({ slot, error: err.message, code: 'EIO' });
      }
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', () => fail(new Error('the attach reader thread ended')));
  }

  get full(): boolean {
    return this.#gone || (this.#free.length === 0 && this.#next >= READER_SLOTS);
  }

  /** Hand `fd` to the thread (it closes it); returns the session's pause and stop switches. */
  add(fd: number, handler: SessionHandler): { setPaused(on: boolean): void; stop(): void } {
    const slot = this.#free.pop() ?? this.#next++;
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = undefined;
    Atomics.store(this.#flags, 2 * slot, 0);
    Atomics.store(this.#flags, 2 * slot + 1, 0);
    this.#sessions.set(slot, handler);
    this.#control.postMessage({ slot, fd });
    this.#wake();
    // A slot is reused once its session is over: switches of an old session do nothing.
    const live = (): boolean => this.#sessions.get(slot) === handler;
    return {
      setPaused: (on) => {
        if (live() && Atomics.exchange(this.#flags, 2 * slot + 1, on ? 1 : 0) === 1 && !on) this.#wake();
      },
      stop: () => {
        if (!live()) return;
        Atomics.store(this.#flags, 2 * slot, 1);
        this.#wake();
      },
    };
  }

  #release(slot: number): void {
    if (!this.#sessions.delete(slot)) return;
    this.#free.push(slot);
    if (this.#sessions.size > 0 || this.#gone) return;
    this.#idle = setTimeout(() => {
      if (this.#sessions.size > 0 || this.#gone) return;
      // No session: the thread ends, and the next attach starts another.
      this.#gone = true;
      this.onGone(this);
      Atomics.store(this.#flags, RETIRE_FLAG, 1);
      this.#wake();
      this.#worker.once('exit', () => this.#closeWake());
    }, READER_IDLE_MS).unref();
  }

  #wake(): void {
    try {
      writeSync(this.#wakeWrite, WAKE);
    } catch {
      // EAGAIN: wake-ups are already queued.
    }
  }

  #closeWake(): void {
    for (const fd of [this.#wakeRead, this.#wakeWrite]) libc().close(fd);
  }
}

const WAKE = Buffer.of(1);
const readers: ReaderThread[] = [];

function readerThread(): ReaderThread {
  const open = readers.find((r) => !r.full);
  if (open) return open;
  const r = new ReaderThread((gone) => {
    const i = readers.indexOf(gone);
    if (i >= 0) readers.splice(i, 1);
  });
  readers.push(r);
  return r;
}

/**
 * Connect to a SOCK_SEQPACKET unix socket (conmon's `attach`) and return it as a
 * `net.Socket`: each chunk it emits is one packet (read by a worker thread, see the module
 * comment), `'end'` comes after the last packet, `write` sends one packet per call (use
 * {@link attachStdin} for stdin), `end()` half-closes, `destroy()` stops the reader. Read it
 * with `'data'` events or {@link onAttachPackets}, not with `read()` or `for await` (they
 * join chunks). Throws EngineError `internal` (ERR_ATTACH_CONNECT) with the errno in `cause`.
 *
 * @example
 * const sock = await connectSeqpacket(join(socketDir, cuuid, 'attach'));
 * onAttachPackets(sock, (p) => (p.stream === ATTACH_STDERR ? err : out).write(p.data));
 * attachStdin(sock).end('hello\n');
 * sock.on('end', () => console.log('container exited'));
 */
export async function connectSeqpacket(path: string): Promise<net.Socket> {
  let fd = -1;
  let readFd = -1;
  let socket: net.Socket;
  try {
    fd = await connectFd(path);
    readFd = libc().fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (readFd < 0) throw sysError('fcntl', path, lastErrno());
    socket = wrapFd(fd);
  } catch (err) {
    if (fd >= 0) libc().close(fd);
    if (readFd >= 0) libc().close(readFd);
    throw connectError(path, err);
  }
  let ended = false;
  let session: { setPaused(on: boolean): void; stop(): void };
  try {
    session = readerThread().add(readFd, (m) => {
      if (ended || socket.destroyed) return;
      if ('packet' in m) {
        if (!socket.push(Buffer.from(m.packet.buffer, m.packet.byteOffset, m.packet.byteLength))) session.setPaused(true);
      } else if ('error' in m) {
        ended = true;
        socket.destroy(new EngineError('internal', 'ERR_ATTACH_READ', `Cannot read attach socket ${JSON.stringify(path)}: ${m.error}`));
      } else {
        // end, or released after a stop: no more packets.
        ended = true;
        socket.push(null);
      }
    });
  } catch (err) {
    libc().close(readFd);
    socket.destroy();
    throw connectError(path, err);
  }
  // The reader thread is the only reader: the stream asks for more by clearing the pause flag.
  (socket as unknown as { _read: () => void })._read = () => session.setPaused(false);
  const stop = (): void => session.stop();
  socket.once('close', stop);
  return socket;
}

/**
 * Call `onPacket` once per packet of a socket from {@link connectSeqpacket} (attaches a
 * `'data'` listener, so the socket flows). Returns a function that removes the listener.
 */
export function onAttachPackets(socket: net.Socket, onPacket: (p: AttachPacket) => void): () => void {
  const listener = (chunk: Buffer): void => {
    const p = decodeAttachPacket(chunk);
    if (p !== undefined) onPacket(p);
  };
  socket.on('data', listener);
  return () => socket.off('data', listener);
}
