// The response phase of authorization: a buffered response is held until the plugins'
// AuthZRes allows it; a streamed one passes and is reported when it ends (as dockerd).
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { EngineError } from '../base/index.js';
import type { ResponseInput } from '../authz/index.js';
import type { HeaderMap } from '../docker/index.js';

/**
 * JSON responses are held back for AuthZRes up to this size; a larger one fails closed (500)
 * rather than pass unseen (dockerd flushes at 64 KiB and shows plugins only the rest).
 */
const RESPONSE_BUFFER_LIMIT = 4 * 1024 * 1024;

export interface ResponseGate {
  /** The handler failed: drop what was held and let the error path answer. */
  abandon(): void;
}

function headerMapOf(res: ServerResponse, extra: OutgoingHttpHeaders | undefined): HeaderMap {
  const out: Record<string, string | string[]> = {};
  const add = (k: string, v: unknown): void => {
    if (v === undefined) return;
    out[k.toLowerCase()] = Array.isArray(v) ? v.map(String) : String(v);
  };
  for (const [k, v] of Object.entries(res.getHeaders())) add(k, v);
  if (extra && !Array.isArray(extra)) for (const [k, v] of Object.entries(extra)) add(k, v);
  return out;
}

function isJsonType(headers: HeaderMap): boolean {
  const ct = headers['content-type'];
  const v = typeof ct === 'string' ? ct : ct?.[ct.length - 1];
  return (v ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';
}

type Patched = Record<'writeHead' | 'write' | 'end' | 'flushHeaders', unknown>;

/**
 * Wrap `res` so that what the handler writes is held back: at `end()` the response plugins
 * decide, and only then is it sent (or replaced by the error). A response that streams
 * (`flushHeaders()` or a body that is not JSON) is passed through and reported to the
 * plugins when it closes, as dockerd does for flushed responses. A JSON body written in
 * pieces beyond RESPONSE_BUFFER_LIMIT is refused (500).
 */
export function gateResponse(
  res: ServerResponse,
  g: { check: (info: ResponseInput) => Promise<void>; streamed: (info: ResponseInput) => void; refuse: (err: unknown) => void },
): ResponseGate {
  let status: number | undefined;
  let statusMessage: string | undefined;
  let headers: OutgoingHttpHeaders | undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  let state: 'buffer' | 'stream' | 'deciding' | 'done' | 'refused' = 'buffer';
  const own = res as unknown as Patched;
  const restore = (): void => {
    delete own.writeHead;
    delete own.write;
    delete own.end;
    delete own.flushHeaders;
  };
  const sendHead = (): void => {
    if (status === undefined) return;
    if (statusMessage !== undefined) res.writeHead(status, statusMessage, headers);
    else res.writeHead(status, headers);
  };
  const toBuffer = (chunk: unknown, encoding: unknown): Buffer | undefined => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return undefined;
    if (typeof chunk === 'string') return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    return Buffer.from(String(chunk));
  };
  const goStream = (): void => {
    if (state !== 'buffer') return;
    state = 'stream';
    restore();
    const info: ResponseInput = { headers: headerMapOf(res, headers), streamed: true };
    sendHead();
    for (const c of chunks) res.write(c);
    chunks.length = 0;
    res.once('close', () => g.streamed(info));
  };
  /** Answer with `err` now and swallow whatever the handler still writes. */
  const refuseNow = (err: unknown): void => {
    state = 'refused';
    chunks.length = 0;
    restore();
    g.refuse(err);
    own.writeHead = (): ServerResponse => res;
    own.write = (): boolean => true;
    own.end = (): ServerResponse => res;
    own.flushHeaders = (): void => undefined;
  };
  own.writeHead = (code: number, a?: unknown, b?: unknown): ServerResponse => {
    status = code;
    if (typeof a === 'string') {
      statusMessage = a;
      headers = b as OutgoingHttpHeaders | undefined;
    } else headers = a as OutgoingHttpHeaders | undefined;
    return res;
  };
  own.flushHeaders = (): void => {
    goStream();
    res.flushHeaders();
  };
  own.write = (chunk: unknown, encoding?: unknown, cb?: unknown): boolean => {
    const b = toBuffer(chunk, encoding);
    if (b) {
      chunks.push(b);
      size += b.length;
    }
    const done = typeof encoding === 'function' ? encoding : cb;
    if (!isJsonType(headerMapOf(res, headers))) goStream();
    else if (size > RESPONSE_BUFFER_LIMIT) {
      refuseNow(new EngineError('internal', 'ERR_AUTHZ_PLUGIN_FAILED', `response body too large for authorization plugin: size exceeds ${RESPONSE_BUFFER_LIMIT} bytes`));
    }
    if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
    return true;
  };
  own.end = (chunk?: unknown, encoding?: unknown, cb?: unknown): ServerResponse => {
    const b = toBuffer(chunk, encoding);
    if (b) chunks.push(b);
    const done = [chunk, encoding, cb].find((x) => typeof x === 'function') as (() => void) | undefined;
    state = 'deciding';
    const body = Buffer.concat(chunks);
    const info: ResponseInput = { statusCode: status ?? res.statusCode, headers: headerMapOf(res, headers), body };
    g.check(info).then(
      () => {
        if (state !== 'deciding') return;
        state = 'done';
        restore();
        sendHead();
        res.end(body, done);
      },
      (err: unknown) => {
        if (state !== 'deciding') return;
        refuseNow(err);
      },
    );
    return res;
  };
  return {
    abandon() {
      if (state === 'buffer' || state === 'deciding') {
        state = 'done';
        restore();
      }
    },
  };
}
