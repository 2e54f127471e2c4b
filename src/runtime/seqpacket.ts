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
 * - So the socket {@link connectSeqpacket} returns never reads through libuv: the reader
 *   below reads a dup of the fd with recv(2) (every packet, in order, until recv returns 0;
 *   ECONNRESET is skipped) when a poll(2) on libuv's thread pool says it is readable, and
 *   pushes each packet as one chunk into the `net.Socket`, which writes through libuv as
 *   usual. Backpressure holds: when the socket's buffer is full the reader stops taking
 *   packets off the socket (conmon then blocks).
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
const POLLIN = 0x1;
const MSG_DONTWAIT = 0x40;
const { EAGAIN, EINTR, ECONNRESET } = osConstants.errno;

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

// ---- the reader: one poll(2) for every session, run on libuv's thread pool --------------

/**
 * poll(2) returns after this long even when nothing woke it: a safety net only (every change
 * to the polled set writes to the wake socket, and so does the process's exit).
 */
export const POLL_TIMEOUT_MS = 10_000;
/** Packets taken from one socket before the others get a turn. */
const BURST = 64;
/** A failing poll(2) is retried this many times (its errno stays on the pool thread). */
const POLL_RETRIES = 20;

/** One attach connection as the reader sees it: the reader owns `fd` and closes it. */
interface ReaderSession {
  readonly fd: number;
  /** A packet: false when the stream's buffer is full (the session is then paused). */
  onPacket(packet: Buffer): boolean;
  /** recv returned 0: no more packets. */
  onEnd(): void;
  onError(message: string): void;
  paused: boolean;
  stopped: boolean;
}

/**
 * Reads every attach session on the main thread, woken by one poll(2) that waits on libuv's
 * thread pool (koffi's async call) while any session is open. A worker thread did this
 * before and cost ~80-100 ms of CPU to start, paid again by the first run after each idle
 * spell (docs/performance.md, phase M); a pool thread costs nothing to start and nothing idle.
 */
class AttachReader {
  readonly #sessions = new Set<ReaderSession>();
  readonly #buf = Buffer.alloc(65536);
  readonly #wakeBuf = Buffer.alloc(64);
  #wake: [read: number, write: number] | undefined;
  #polling = false;
  /** In the poll's callback: kicks wait for the poll it starts at its end. */
  #busy = false;
  #failures = 0;

  add(session: ReaderSession): void {
    this.#sessions.add(session);
    this.kick();
  }

  /** Make the pending poll(2) return (a session was added, resumed or stopped), or start one. */
  kick(): void {
    if (this.#busy) return;
    if (!this.#polling) return this.#poll();
    try {
      writeSync(this.#wakeFds()[1], WAKE);
    } catch {
      // EAGAIN: wake-ups are already queued.
    }
  }

  #wakeFds(): [number, number] {
    if (this.#wake) return this.#wake;
    const sv = Buffer.alloc(8);
    if (libc().socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) throw sysError('socketpair', 'attach reader', lastErrno());
    this.#wake = [sv.readInt32LE(0), sv.readInt32LE(4)];
    // At exit libuv joins its pool threads: a pending poll(2) would hold the exit up to its timeout.
    process.on('exit', () => {
      if (this.#polling) this.kick();
    });
    return this.#wake;
  }

  #poll(): void {
    // Stopped sessions close only here, when no poll(2) holds their fds.
    for (const s of this.#sessions) if (s.stopped) this.#drop(s);
    if (this.#sessions.size === 0) return;
    let wakeFd: number;
    try {
      wakeFd = this.#wakeFds()[0];
    } catch (err) {
      return this.#failAll((err as Error).message);
    }
    const active = [...this.#sessions].filter((s) => !s.paused);
    const pfd = Buffer.alloc(8 * (active.length + 1));
    pfd.writeInt32LE(wakeFd, 0);
    pfd.writeInt16LE(POLLIN, 4);
    active.forEach((s, i) => {
      pfd.writeInt32LE(s.fd, 8 * (i + 1));
      pfd.writeInt16LE(POLLIN, 8 * (i + 1) + 4);
    });
    try {
      libc().pollAsync(pfd, active.length + 1, POLL_TIMEOUT_MS, (err, ready) => this.#polled(pfd, active, wakeFd, err, ready));
    } catch (err) {
      return this.#failAll(`poll: ${(err as Error).message}`);
    }
    this.#polling = true;
  }

  #polled(pfd: Buffer, active: ReaderSession[], wakeFd: number, err: unknown, ready: number): void {
    this.#polling = false;
    if (err !== null || ready < 0) {
      // EINTR, or a bug: errno is on the pool thread. Retry a few times, then give up.
      if (++this.#failures > POLL_RETRIES) return this.#failAll(`poll: ${err instanceof Error ? err.message : 'failed'}`);
      setTimeout(() => this.#polling || this.#poll(), 10).unref();
      return;
    }
    this.#failures = 0;
    this.#busy = true;
    try {
      if (pfd.readInt16LE(6) !== 0) while (libc().recv(wakeFd, this.#wakeBuf, this.#wakeBuf.length, MSG_DONTWAIT) > 0);
      active.forEach((s, i) => {
        if (pfd.readInt16LE(8 * (i + 1) + 6) !== 0) this.#read(s);
      });
    } finally {
      // Also when a stream's handler threw: the other sessions keep their reader.
      this.#busy = false;
      this.#poll();
    }
  }

  /** Take up to BURST packets off one session's socket. */
  #read(s: ReaderSession): void {
    for (let k = 0; k < BURST && !s.paused && !s.stopped && this.#sessions.has(s); k++) {
      const n = libc().recv(s.fd, this.#buf, this.#buf.length, MSG_DONTWAIT);
      if (n > 0) {
        if (!s.onPacket(Buffer.from(this.#buf.subarray(0, n)))) s.paused = true;
        continue;
      }
      if (n === 0) {
        this.#drop(s);
        s.onEnd();
        return;
      }
      const e = lastErrno();
      if (e === EAGAIN) return;
      // ECONNRESET: the peer closed with our stdin unread; queued output still follows.
      if (e === EINTR || e === ECONNRESET) continue;
      this.#drop(s);
      s.onError(sysError('recv', 'attach', e).message);
      return;
    }
  }

  #drop(s: ReaderSession): void {
    if (!this.#sessions.delete(s)) return;
    libc().close(s.fd);
  }

  #failAll(message: string): void {
    for (const s of [...this.#sessions]) {
      this.#drop(s);
      if (!s.stopped) s.onError(message);
    }
  }
}

const WAKE = Buffer.of(1);
const reader = new AttachReader();

/**
 * Connect to a SOCK_SEQPACKET unix socket (conmon's `attach`) and return it as a
 * `net.Socket`: each chunk it emits is one packet (read by the reader, see the module
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
  const session: ReaderSession = {
    fd: readFd,
    paused: false,
    stopped: false,
    onPacket: (packet) => (ended || socket.destroyed ? true : socket.push(packet)),
    onEnd: () => {
      if (ended || socket.destroyed) return;
      ended = true;
      socket.push(null);
    },
    onError: (message) => {
      if (ended || socket.destroyed) return;
      ended = true;
      socket.destroy(new EngineError('internal', 'ERR_ATTACH_READ', `Cannot read attach socket ${JSON.stringify(path)}: ${message}`));
    },
  };
  try {
    reader.add(session);
  } catch (err) {
    libc().close(readFd);
    socket.destroy();
    throw connectError(path, err);
  }
  // The reader is the only reader: the stream asks for more by clearing the pause flag.
  (socket as unknown as { _read: () => void })._read = () => {
    if (!session.paused) return;
    session.paused = false;
    reader.kick();
  };
  socket.once('close', () => {
    session.stopped = true;
    reader.kick();
  });
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
