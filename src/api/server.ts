// The Docker Engine API over HTTP/1.1: identity, authorization, version prefixes, routing,
// hijacked streams, and one error path.
//
// Every request goes through one path (docs/authz.md, "Request lifecycle"):
//   identity (SO_PEERCRED on unix sockets, the verified client certificate on TLS)
//   → canonical target (decoded once, cleaned, version split off) → route match (404)
//   → body read whole unless the route's body is a raw stream (tar uploads)
//   → authorizer.authorizeRequest (canonical body, host paths resolved, plugins asked)
//   → API version check → handler, which sees only the canonical request
//   → authorizer.authorizeResponse (buffered responses before they are sent; streams when
//     they end, logged but not enforced, as dockerd)
// There is no route around the authorizer: without plugins it still canonicalizes, so the
// handler runs on exactly what a plugin would have seen.
import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import https from 'node:https';
import { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { realpath } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { EngineError, errorText, type Logger } from '../base/index.js';
import { AuthzChain, identifyUnixPeer, socketFd, type AuthorizedRequest, type AuthzRequestInput, type Identity, type ResponseInput } from '../authz/index.js';
import { canonicalizeTarget, isStreamBodyRoute, type HeaderMap } from '../docker/index.js';
import { BodyBudget } from './body-budget.js';
import { toErrorReply, type DescribePath } from './errors.js';
import { Router, type RequestContext } from './router.js';

export const API_VERSION = '1.47';
export const MIN_API_VERSION = '1.24';
export const SERVER_HEADER = 'Moat/0.1.0 (linux)';
export const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024;
/** How long a client may take to send the body of an upgrade request (attach, exec start). */
const UPGRADE_BODY_TIMEOUT_MS = 30_000;
/** How long a client may take to send a whole buffered body (slow bodies hold memory). */
export const DEFAULT_BODY_TIMEOUT_MS = 30_000;
/**
 * JSON responses are held back for AuthZRes up to this size; a larger one fails closed (500)
 * rather than pass unseen (dockerd flushes at 64 KiB and shows plugins only the rest).
 */
const RESPONSE_BUFFER_LIMIT = 4 * 1024 * 1024;

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

/**
 * What the server asks before and after every handler. `AuthzChain` (src/authz) is the
 * implementation; its request phase also makes the canonical request the handler runs on.
 */
export interface Authorizer {
  /** Throws to refuse (400/403/413/500); returns the canonical request to route and run. */
  authorizeRequest(req: AuthzRequest): Promise<AuthorizedRequest>;
  /** Throws to refuse a buffered response; never throws for `streamed: true`. */
  authorizeResponse(call: AuthorizedRequest, res: ResponseInput): Promise<void>;
}

/** The request as handed to the authorizer. */
export type AuthzRequest = AuthzRequestInput;

/** How a listener identifies its callers. */
export type PeerIdentityMode = 'peercred' | 'tls' | 'none';

export interface ServerOptions {
  router: Router;
  log: Logger;
  /** Largest JSON body, bytes; larger is 413 before any plugin is asked. */
  bodyLimit?: number;
  /**
   * Every request passes through it. Default: a chain without plugins, which still
   * canonicalizes the request and resolves host paths.
   */
  authorizer?: Authorizer;
  /** `peercred` for unix sockets, `tls` for TCP with client certificates; default `none`. */
  identity?: PeerIdentityMode;
  /** Serve HTTPS and require a client certificate signed by `ca` (mutual TLS). */
  tls?: { cert: Buffer | string; key: Buffer | string; ca: Buffer | string };
  /** Names the kind of data under a host path in errors (a full disk), so the path stays in the log. */
  describePath?: DescribePath;
  /**
   * Bytes of bodies in memory, over all connections and per caller; share one among the
   * daemon's listeners. Default: a budget of this server's own.
   */
  bodyBudget?: BodyBudget;
  /** A buffered body must be complete within this time (default 30 s); else 408. */
  bodyTimeoutMs?: number;
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

function sendErrorRes(res: ServerResponse, status: number, message: string, close = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(JSON.stringify({ message }));
  // After a refused body the rest of it may still be on the way: close rather than parse it.
  res.writeHead(status, { ...commonHeaders(), 'Content-Type': 'application/json', 'Content-Length': body.length, ...(close ? { Connection: 'close' } : {}) });
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

// ---------------------------------------------------------------------------------------
// Identity: once per connection.

interface Caller {
  identity: Identity;
  peerCertificates?: Uint8Array[];
}

const callers = new WeakMap<object, Promise<Caller>>();

async function identify(socket: IncomingMessage['socket'], mode: PeerIdentityMode): Promise<Caller> {
  if (mode === 'peercred') {
    const fd = socketFd(socket);
    if (fd === undefined) throw new EngineError('internal', 'ERR_AUTHZ_PEERCRED', 'Cannot read peer credentials: no file descriptor');
    return { identity: await identifyUnixPeer(fd) };
  }
  if (mode === 'tls') {
    // The listener requires a verified certificate; check again rather than trust it.
    if (!(socket instanceof TLSSocket) || !socket.authorized) {
      throw new EngineError('forbidden', 'ERR_AUTHZ_TLS', 'a verified TLS client certificate is required');
    }
    const cert = socket.getPeerCertificate();
    const cn: unknown = cert.subject?.CN;
    // Go's pkix.Name keeps the last CN attribute.
    const user = Array.isArray(cn) ? (cn[cn.length - 1] as unknown) : cn;
    const identity: Identity = typeof user === 'string' && user !== '' ? { user, authMethod: 'TLS' } : {};
    return { identity, peerCertificates: cert.raw ? [new Uint8Array(cert.raw)] : [] };
  }
  return { identity: {} };
}

function callerOf(socket: IncomingMessage['socket'], mode: PeerIdentityMode): Promise<Caller> {
  let p = callers.get(socket);
  if (!p) {
    p = identify(socket, mode);
    callers.set(socket, p);
  }
  return p;
}

// ---------------------------------------------------------------------------------------
// Request bodies: read whole before authorization.

/** How long a 413 waits for the rest of the refused body to arrive and be dropped. */
const DRAIN_WAIT_MS = 10_000;

function drained(req: IncomingMessage, ms: number): Promise<void> {
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
interface BodyGrant {
  take(n: number): void;
  release(): void;
}

function budgetGrant(budget: BodyBudget, caller: string): BodyGrant {
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

/** The budget's key for a caller: the unix peer's uid, the TLS CN, or anonymous. */
function callerKey(c: Caller): string {
  if (c.identity.uid !== undefined) return `uid:${c.identity.uid}`;
  if (c.identity.user !== undefined && c.identity.user !== '') return `cn:${c.identity.user}`;
  return 'anonymous';
}

/**
 * The whole body of a request (any framing: Content-Length, chunked, none), or 413 as soon
 * as it is known to be over `limit` (from Content-Length, or from the bytes), 503 when the
 * bytes do not fit the body budget (taken up front for a declared length, else chunk by
 * chunk), 408 when it is not complete within `timeoutMs`. After a refusal the rest is read
 * and dropped, so the client can finish sending and read the answer; Node's parser keeps
 * the framing, so the dropped bytes cannot become another request.
 */
function readRequestBody(req: IncomingMessage, limit: number, grant: BodyGrant, timeoutMs: number): Promise<Buffer> {
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

// ---------------------------------------------------------------------------------------
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
async function readUpgradeBody(req: IncomingMessage, socket: Duplex, head: Buffer, limit: number, grant: BodyGrant): Promise<Buffer> {
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

// ---------------------------------------------------------------------------------------
// The response phase: hold a buffered response until AuthZRes allows it.

interface ResponseGate {
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
function gateResponse(
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

// ---------------------------------------------------------------------------------------

export function createApiServer(o: ServerOptions): http.Server | https.Server {
  const bodyLimit = o.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const log = o.log.child({ component: 'api' });
  const identityMode = o.identity ?? (o.tls ? 'tls' : 'none');
  const authz: Authorizer = o.authorizer ?? new AuthzChain([], { log: o.log, realpath: (p) => realpath(p), maxBody: bodyLimit });
  const budget = o.bodyBudget ?? new BodyBudget();
  const bodyTimeoutMs = o.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;

  async function dispatch(req: IncomingMessage, res: ServerResponse | undefined, upgrade: RequestContext['upgrade']): Promise<void> {
    const requestId = randomBytes(6).toString('hex');
    let gate: ResponseGate | undefined;
    let grant: BodyGrant | undefined;
    const fail = (err: unknown): void => {
      gate?.abandon();
      const reply = toErrorReply(err, log, requestId, o.describePath);
      if (res) {
        const refusedBody = !req.complete && (reply.status === 413 || reply.status === 503 || reply.status === 408);
        // Still incomplete when answered: the connection cannot carry another request.
        const send = (): void => sendErrorRes(res, reply.status, reply.body.message, refusedBody && !req.complete);
        // A refused body's answer goes out once the client has finished sending (bounded; the
        // bytes are dropped as they come): answering mid-upload and closing would reset the
        // connection before the client reads the answer. A timed-out body is not coming.
        if (refusedBody && reply.status !== 408) void drained(req, DRAIN_WAIT_MS).then(send);
        else send();
      } else if (upgrade) sendErrorRaw(upgrade.socket, reply.status, reply.body.message);
    };
    try {
      const method = req.method ?? 'GET';
      const rawUrl = req.url ?? '/';
      // Route on the path exactly as plugins will see it: decoded once, cleaned, unversioned.
      const target = canonicalizeTarget(rawUrl);
      // Paths without a route are 404 before authorization, as in dockerd.
      const m = o.router.match(method, target.path);
      if (m === undefined || m === 'method-not-allowed') throw new EngineError('not-found', 'ERR_NO_ROUTE', 'page not found');
      const caller = await callerOf(req.socket, identityMode);
      // Every body is read whole before any plugin is asked, except raw streams (tar uploads),
      // which plugins never see (as with dockerd); those routes are governed by endpoint.
      const stream = isStreamBodyRoute(method, target.path);
      let body: Buffer | undefined;
      if (!stream) {
        grant = budgetGrant(budget, callerKey(caller));
        body = upgrade ? await readUpgradeBody(req, upgrade.socket, upgrade.head, bodyLimit, grant) : await readRequestBody(req, bodyLimit, grant, bodyTimeoutMs);
      }
      const authorized = await authz.authorizeRequest({
        identity: caller.identity,
        method,
        rawUrl,
        headers: req.headersDistinct,
        body,
        peerCertificates: caller.peerCertificates,
        requestId,
      });
      const c = authorized.canonical;
      if (c.path !== target.path || c.method !== method) {
        throw new EngineError('internal', 'ERR_AUTHZ_ROUTE_MISMATCH', `authorized ${c.method} ${c.path} but routed ${method} ${target.path}`);
      }
      if (c.version !== undefined) {
        if (compareVersions(c.version, API_VERSION) > 0) {
          throw new EngineError('invalid', 'ERR_API_VERSION', `client version ${c.version} is too new. Maximum supported API version is ${API_VERSION}`);
        }
        if (compareVersions(c.version, MIN_API_VERSION) < 0) {
          throw new EngineError('invalid', 'ERR_API_VERSION', `client version ${c.version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
        }
      }
      // The handler sees the canonical request: its body (bind sources cleaned and resolved),
      // that body's length, and the query as plugins saw it.
      if (!stream) {
        req.headers['content-length'] = String(c.canonicalBody.length);
        delete req.headers['transfer-encoding'];
      }
      const query = new URLSearchParams();
      for (const [k, v] of c.queryParams) query.append(k, v);
      const canonicalBody = c.canonicalBody;
      const isStream = (): EngineError => new EngineError('internal', 'ERR_BODY_IS_STREAM', `${method} ${c.path} streams its body; read ctx.req`);
      const readCanonical = stream ? (): Promise<Buffer> => Promise.reject(isStream()) : (): Promise<Buffer> => Promise.resolve(canonicalBody);
      const canonicalJson = (): unknown => {
        if (stream) throw isStream();
        return c.body;
      };
      const handlerUpgrade = upgrade ? { socket: upgrade.socket, head: stream ? upgrade.head : canonicalBody } : undefined;
      const enforceResponse = authorized.plugins.length > 0;
      const streamedResponse = (info: ResponseInput): void => {
        authz.authorizeResponse(authorized, { ...info, streamed: true }).catch((err: unknown) => log.error({ requestId, err: errorText(err) }, 'response authorization failed'));
      };
      if (res && enforceResponse) {
        gate = gateResponse(res, {
          check: (info) => authz.authorizeResponse(authorized, info),
          streamed: streamedResponse,
          refuse: (err) => {
            const reply = toErrorReply(err, log, requestId, o.describePath);
            sendErrorRes(res, reply.status, reply.body.message);
          },
        });
      }
      try {
        await m.handler({ req, res, upgrade: handlerUpgrade, params: m.params, query, version: c.version ?? API_VERSION, requestId, body: readCanonical, json: canonicalJson });
      } catch (err) {
        // dockerd calls AuthZRes after a failed handler too and ignores the answer.
        if (enforceResponse) streamedResponse({});
        throw err;
      }
      if (upgrade && enforceResponse) upgrade.socket.once('close', () => streamedResponse({}));
    } catch (err) {
      fail(err);
    } finally {
      // The body (and what was made from it) is no longer held for this request.
      grant?.release();
    }
  }

  const serverOptions = { requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 120_000 };
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    void dispatch(req, res, undefined);
  };
  const server = o.tls
    ? https.createServer({ ...serverOptions, cert: o.tls.cert, key: o.tls.key, ca: o.tls.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, onRequest)
    : http.createServer(serverOptions, onRequest);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    void dispatch(req, undefined, { socket, head });
  });
  server.on('clientError', (_err: Error, socket: Duplex) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });
  return server;
}
