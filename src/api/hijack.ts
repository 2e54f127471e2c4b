// Hijacked and raw streams for attach and exec start. With `Upgrade: tcp` the client gets
// 101 and the socket becomes a raw two-way stream; without it (dockerode's default), a 200
// response streams output and the request body, if any, is stdin.
import type { Duplex } from 'node:stream';
import type { RequestContext } from './router.js';
import { commonHeaders, compareVersions } from './reply.js';

export interface ClientStream {
  /** False when the client is not keeping up: wait for `drain()` before writing more. */
  write(data: Buffer): boolean;
  /** Resolves when the client took what was written, or went away. */
  drain(): Promise<void>;
  end(): void;
  onInput(fn: (data: Buffer) => void): void;
  onInputEnd(fn: () => void): void;
  onClose(fn: () => void): void;
}

/** Resolves on 'drain', or when the stream closes or fails (nothing more will drain). */
export function drainOf(s: NodeJS.WritableStream & { destroyed?: boolean; writableNeedDrain?: boolean; once(ev: string, fn: () => void): unknown; off(ev: string, fn: () => void): unknown }): Promise<void> {
  if (s.destroyed === true || s.writableNeedDrain === false) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      s.off('drain', done);
      s.off('close', done);
      s.off('error', done);
      resolve();
    };
    s.once('drain', done);
    s.once('close', done);
    s.once('error', done);
  });
}

export function openClientStream(ctx: RequestContext, opts: { multiplexed: boolean; bodyLength: number }): ClientStream {
  const contentType = opts.multiplexed && compareVersions(ctx.version, '1.42') >= 0 ? 'application/vnd.docker.multiplexed-stream' : 'application/vnd.docker.raw-stream';
  if (ctx.upgrade) {
    const socket: Duplex = ctx.upgrade.socket;
    socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` + Object.entries(commonHeaders()).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n');
    // Bytes after the request body in `head` are the first stdin bytes; the body never is.
    const early = ctx.upgrade.head.subarray(Math.min(opts.bodyLength, ctx.upgrade.head.length));
    let closed = false;
    const closeFns: Array<() => void> = [];
    const markClosed = (): void => {
      if (closed) return;
      closed = true;
      for (const fn of closeFns) fn();
    };
    socket.on('close', markClosed);
    socket.on('error', markClosed);
    return {
      write: (d) => (!closed && socket.writable ? socket.write(d) : true),
      drain: () => drainOf(socket),
      end: () => {
        if (!closed) socket.end();
      },
      onInput: (fn) => {
        if (early.length > 0) queueMicrotask(() => fn(early));
        socket.on('data', fn);
      },
      onInputEnd: (fn) => {
        socket.on('end', fn);
      },
      onClose: (fn) => {
        if (closed) fn();
        else closeFns.push(fn);
      },
    };
  }
  const res = ctx.res!;
  res.writeHead(200, { ...commonHeaders(), 'Content-Type': contentType });
  res.flushHeaders();
  res.socket?.setNoDelay(true);
  return {
    write: (d) => (!res.writableEnded && !res.destroyed ? res.write(d) : true),
    drain: () => drainOf(res),
    end: () => {
      if (!res.writableEnded) res.end();
    },
    onInput: (fn) => ctx.req.on('data', fn),
    onInputEnd: (fn) => ctx.req.on('end', fn),
    onClose: (fn) => res.on('close', fn),
  };
}
