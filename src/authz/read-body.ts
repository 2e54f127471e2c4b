/**
 * Read a request body whole, refusing more than the limit as soon as it is known (from
 * Content-Length before reading, or from the bytes as they arrive - chunked bodies have no
 * length). Works on any async iterable of bytes (`http.IncomingMessage` is one).
 */
import { EngineError } from '../base/index.js';
import { headerValue, type HeaderMap } from '../docker/index.js';

function tooLarge(max: number): EngineError {
  return new EngineError('too-large', 'ERR_AUTHZ_BODY_TOO_LARGE', `Request body too large for authorization: size exceeds ${max} bytes`);
}

/**
 * The whole body, or EngineError 'too-large' (413). After a 413 the server should close the
 * connection: the rest of the body is unread.
 *
 * @example
 * const body = isStreamBodyRoute(req.method, target.path) ? undefined : await readBodyLimited(req, req.headers, DEFAULT_MAX_BODY);
 */
export async function readBodyLimited(stream: AsyncIterable<Uint8Array | string>, headers: HeaderMap, maxBody: number): Promise<Buffer> {
  const cl = headerValue(headers, 'content-length');
  if (cl !== undefined && /^[0-9]+$/.test(cl.trim()) && Number(cl.trim()) > maxBody) throw tooLarge(maxBody);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    size += b.length;
    if (size > maxBody) throw tooLarge(maxBody);
    chunks.push(b);
  }
  return Buffer.concat(chunks, size);
}
