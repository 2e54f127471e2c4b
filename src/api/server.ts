// The Docker Engine API over HTTP/1.1: version prefixes, routing, hijacked streams,
// and one error path. Every request is read, decoded and cleaned once; the router and
// any authorization see the same path and body.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { EngineError, type Logger } from '../base/index.js';
import { toErrorReply } from './errors.js';
import { Router, type RequestContext } from './router.js';

export const API_VERSION = '1.47';
export const MIN_API_VERSION = '1.24';
export const SERVER_HEADER = 'Moat/0.1.0 (linux)';
export const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024;

export function compareVersions(a: string, b: string): number {
  const [a1 = 0, a2 = 0] = a.split('.').map(Number);
  const [b1 = 0, b2 = 0] = b.split('.').map(Number);
  return a1 !== b1 ? a1 - b1 : a2 - b2;
}

/** Percent-decode once, collapse duplicate slashes, resolve dot segments. Pure. */
export function cleanPath(raw: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new EngineError('invalid', 'ERR_BAD_PATH', `invalid URL escape in ${JSON.stringify(raw)}`);
  }
  const out: string[] = [];
  for (const seg of decoded.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return '/' + out.join('/');
}

/** Split `/v1.41/containers/json` into version and route path. */
export function splitVersion(path: string): { version: string | undefined; path: string } {
  const m = /^\/v(\d+\.\d+)(\/.*)$/.exec(path);
  if (m) return { version: m[1]!, path: m[2]! };
  return { version: undefined, path };
}

export interface Authorizer {
  /** Throws to refuse. Called with the cleaned path and the complete body. */
  authorizeRequest(req: AuthzRequest): Promise<void>;
  authorizeResponse?(req: AuthzRequest, res: { status: number; headers: Record<string, string>; body: Buffer }): Promise<void>;
}

export interface AuthzRequest {
  method: string;
  /** The cleaned path plus query, as the router sees it. */
  uri: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
  peer: { uid?: number; gid?: number; pid?: number; user?: string; authMethod?: string; certificates?: string[] };
  raw: IncomingMessage;
}

export interface ServerOptions {
  router: Router;
  log: Logger;
  bodyLimit?: number;
  authorizer?: () => Authorizer | undefined;
  peerOf?: (req: IncomingMessage) => AuthzRequest['peer'];
}

export function commonHeaders(): Record<string, string> {
  return { 'Api-Version': API_VERSION, Server: SERVER_HEADER, Ostype: 'linux', 'Docker-Experimental': 'false' };
}

/** Read a request body completely, with a size limit. */
export function readBody(req: IncomingMessage, limit: number, prefix?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = prefix && prefix.length > 0 ? [prefix] : [];
    let size = prefix?.length ?? 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > limit) {
        req.off('data', onData);
        req.resume();
        reject(new EngineError('too-large', 'ERR_BODY_TOO_LARGE', `request body too large: more than ${limit} bytes`));
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { ...commonHeaders(), 'Content-Type': 'application/json', 'Content-Length': body.length });
  res.end(body);
}

export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, { ...commonHeaders(), 'Content-Length': 0 });
  res.end();
}

function sendErrorRes(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(JSON.stringify({ message }));
  res.writeHead(status, { ...commonHeaders(), 'Content-Type': 'application/json', 'Content-Length': body.length });
  res.end(body);
}

function sendErrorRaw(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ message });
  const head = [
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}`,
    ...Object.entries(commonHeaders()).map(([k, v]) => `${k}: ${v}`),
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    '',
  ].join('\r\n');
  socket.end(head + body);
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

export function createApiServer(o: ServerOptions): http.Server {
  const bodyLimit = o.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const log = o.log.child({ component: 'api' });

  async function dispatch(req: IncomingMessage, res: ServerResponse | undefined, upgrade: RequestContext['upgrade']): Promise<void> {
    const requestId = randomBytes(6).toString('hex');
    const fail = (err: unknown): void => {
      const reply = toErrorReply(err, log, requestId);
      if (res) sendErrorRes(res, reply.status, reply.body.message);
      else if (upgrade) sendErrorRaw(upgrade.socket, reply.status, reply.body.message);
    };
    try {
      const rawUrl = req.url ?? '/';
      const q = rawUrl.indexOf('?');
      const cleaned = cleanPath(q >= 0 ? rawUrl.slice(0, q) : rawUrl);
      const query = new URLSearchParams(q >= 0 ? rawUrl.slice(q + 1) : '');
      const { version: asked, path } = splitVersion(cleaned);
      if (asked !== undefined) {
        if (compareVersions(asked, API_VERSION) > 0) {
          throw new EngineError('invalid', 'ERR_API_VERSION', `client version ${asked} is too new. Maximum supported API version is ${API_VERSION}`);
        }
        if (compareVersions(asked, MIN_API_VERSION) < 0) {
          throw new EngineError('invalid', 'ERR_API_VERSION', `client version ${asked} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
        }
      }
      const method = req.method ?? 'GET';
      const m = o.router.match(method, path);
      if (m === undefined) throw new EngineError('not-found', 'ERR_NO_ROUTE', 'page not found');
      if (m === 'method-not-allowed') throw new EngineError('not-found', 'ERR_NO_ROUTE', 'page not found');
      // The body is read once and completely, before authorization and the handler.
      let bodyPromise: Promise<Buffer> | undefined;
      const contentLength = Number(req.headers['content-length'] ?? 0);
      const streamingBody = isStreamingUpload(path, req);
      const body = (): Promise<Buffer> => {
        if (!bodyPromise) {
          if (upgrade) {
            const n = Math.min(contentLength, upgrade.head.length);
            bodyPromise = Promise.resolve(upgrade.head.subarray(0, n));
          } else bodyPromise = readBody(req, bodyLimit);
        }
        return bodyPromise;
      };
      const authz = o.authorizer?.();
      if (authz) {
        const buf = streamingBody ? undefined : await body();
        await authz.authorizeRequest({
          method,
          uri: cleaned + (q >= 0 ? rawUrl.slice(q) : ''),
          path,
          headers: flatHeaders(req),
          body: buf,
          peer: o.peerOf?.(req) ?? {},
          raw: req,
        });
      }
      await m.handler({ req, res, upgrade, params: m.params, query, version: asked ?? API_VERSION, requestId, body });
    } catch (err) {
      fail(err);
    }
  }

  const server = http.createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 120_000 }, (req, res) => {
    void dispatch(req, res, undefined);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    void dispatch(req, undefined, { socket, head });
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });
  return server;
}

/** Uploads streamed straight to their consumer (tarballs), not buffered as JSON. */
function isStreamingUpload(path: string, req: IncomingMessage): boolean {
  if (path === '/images/create' || path === '/images/load' || path === '/build') return true;
  if (/^\/containers\/[^/]+\/(attach|archive)$/.test(path)) return true;
  const type = String(req.headers['content-type'] ?? '');
  return type.startsWith('application/x-tar') || type.startsWith('application/tar');
}
