// Request bodies, read whole before authorization (plugins see all of a body or the request
// is refused): a size limit (413), a memory budget over all callers and per caller (503),
// a deadline (408); upgrade requests (attach, exec start) carry a Content-Length body
// before the stream.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { EngineError } from '../base/index.js';
import type { BodyBudget } from './body-budget.js';

/** How long a client may take to send the body of an upgrade request (attach, exec start). */
const UPGRADE_BODY_TIMEOUT_MS = 30_000;

/** How long a 413 waits for the rest of the refused body to arrive and be dropped. */
export const DRAIN_WAIT_MS = 10_000;

export function drained(req: IncomingMessage, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (req.complete || req.readableEnded) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      req.off('end', done);
      req.off('close', done);
      resolve();
    }
    req.once('end', done);
    req.once('close', done);
  });
}

function bodyTooLarge(limit: number): EngineError {
  return new EngineError('too-large', 'ERR_AUTHZ_BODY_TOO_LARGE', `Request body too large for authorization: size exceeds ${limit} bytes`);
}

/** Bytes a request holds in the body budget; released when the request is done. */
export interface BodyGrant {
  take(n: number): void;
  release(): void;
}

export function budgetGrant(budget: BodyBudget, caller: string): BodyGrant {
  let held = 0;
  return {
    take(n) {
      const r = budget.reserve(caller, n);
      if (r === 'total') {
        throw new EngineError('unavailable', 'ERR_BODY_BUDGET', `Cannot read request body: the daemon holds ${budget.total} bytes of request bodies already; try again`);
      }
      if (r === 'caller') {
        throw new EngineError('unavailable', 'ERR_BODY_BUDGET', `Cannot read request body: this caller has ${budget.perCaller} bytes of request bodies in flight already; try again`);
      }
      held += n;
    },
    release() {
      budget.release(caller, held);
      held = 0;
    },
  };
}

/**
 * The whole body of a request (any framing: Content-Length, chunked, none), or 413 as soon
 * as it is known to be over `limit` (from Content-Length, or from the bytes), 503 when the
 * bytes do not fit the body budget (taken up front for a declared length, else chunk by
 * chunk), 408 when it is not complete within `timeoutMs`. After a refusal the rest is read
 * and dropped, so the client can finish sending and read the answer; Node's parser keeps
 * the framing, so the dropped bytes cannot become another request.
 */
export function readRequestBody(req: IncomingMessage, limit: number, grant: BodyGrant, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const cl = req.headers['content-length'];
    const declared = cl !== undefined && /^[0-9]+$/.test(cl.trim()) ? Number(cl.trim()) : undefined;
    if (declared !== undefined && declared > limit) {
      req.resume();
      reject(bodyTooLarge(limit));
      return;
    }
    if (declared !== undefined) {
      try {
        grant.take(declared);
      } catch (err) {
        req.resume();
        reject(err);
        return;
      }
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    const refuse = (err: unknown): void => {
      over = true;
      chunks.length = 0;
      clearTimeout(timer);
      reject(err);
    };
    const timer = setTimeout(() => {
      if (!over) refuse(new EngineError('timeout', 'ERR_BODY_TIMEOUT', `Cannot read request body: not complete after ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > limit) {
        refuse(bodyTooLarge(limit));
        return;
      }
      if (declared === undefined) {
        try {
          grant.take(c.length);
        } catch (err) {
          refuse(err);
          return;
        }
      }
      chunks.push(c);
    });
    req.on('end', () => {
      clearTimeout(timer);
      if (!over) resolve(Buffer.concat(chunks, size));
    });
    req.on('aborted', () => {
      clearTimeout(timer);
      reject(badBody('Cannot read request body: the client went away'));
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

// Bodies of upgrade requests: Node hands over the socket with the bytes after the headers.

function badBody(message: string): EngineError {
  return new EngineError('invalid', 'ERR_AUTHZ_BAD_REQUEST_BODY', message);
}

function readMore(socket: Duplex, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('readable', tryRead);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
    };
    const tryRead = (): void => {
      const c = socket.read() as Buffer | string | null;
      if (c === null) return;
      cleanup();
      resolve(typeof c === 'string' ? Buffer.from(c) : c);
    };
    const onEnd = (): void => {
      cleanup();
      reject(badBody('Cannot read request body: the connection ended before the body was complete'));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(badBody(`Cannot read request body: not complete after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('readable', tryRead);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    tryRead();
  });
}

/**
 * The Content-Length body of an upgrade request (exec start carries JSON). Bytes after it are
 * the client's first stream bytes: they go back onto the socket for the handler.
 */
export async function readUpgradeBody(req: IncomingMessage, socket: Duplex, head: Buffer, limit: number, grant: BodyGrant): Promise<Buffer> {
  if (req.headers['transfer-encoding'] !== undefined) {
    throw badBody('Cannot read request body: Transfer-Encoding is not accepted on an upgrade request');
  }
  const cl = req.headers['content-length'];
  if (cl !== undefined && !/^[0-9]+$/.test(cl.trim())) throw badBody(`Cannot read request body: invalid Content-Length ${JSON.stringify(cl)}`);
  const want = cl === undefined ? 0 : Number(cl.trim());
  if (want > limit) throw bodyTooLarge(limit);
  grant.take(want);
  let buf = head;
  while (buf.length < want) buf = Buffer.concat([buf, await readMore(socket, UPGRADE_BODY_TIMEOUT_MS)]);
  const rest = buf.subarray(want);
  if (rest.length > 0) socket.unshift(rest);
  return Buffer.from(buf.subarray(0, want));
}
