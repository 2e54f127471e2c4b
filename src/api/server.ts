// The Docker Engine API over HTTP/1.1: one path for every request. The parts live beside it:
// identity.ts (who is calling), body.ts (reading bodies), response-gate.ts (holding replies
// for the plugins), reply.ts (headers and bodies), errors.ts (the one error path).
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
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { realpath } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { EngineError, errorText, type Logger } from '../base/index.js';
import { AuthzChain, type AuthorizedRequest, type AuthzRequestInput, type ResponseInput } from '../authz/index.js';
import { canonicalizeTarget, isStreamBodyRoute } from '../docker/index.js';
import { budgetGrant, drained, readRequestBody, readUpgradeBody, DRAIN_WAIT_MS, type BodyGrant } from './body.js';
import { BodyBudget } from './body-budget.js';
import { toErrorReply, type DescribePath } from './errors.js';
import { callerKey, callerOf, type PeerIdentityMode } from './identity.js';
import { compareVersions, sendErrorRaw, sendErrorRes, API_VERSION, MIN_API_VERSION } from './reply.js';
import { gateResponse, type ResponseGate } from './response-gate.js';
import type { Router, RequestContext } from './router.js';

export type { PeerIdentityMode };

export const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024;
/** How long a client may take to send a whole buffered body (slow bodies hold memory). */
export const DEFAULT_BODY_TIMEOUT_MS = 30_000;

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

export function createApiServer(o: ServerOptions): http.Server | https.Server {
  const bodyLimit = o.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const log = o.log.child({ component: 'api' });
  const identityMode = o.identity ?? (o.tls ? 'tls' : 'none');
  const authz: Authorizer = o.authorizer ?? new AuthzChain([], { log: o.log, realpath: (p) => realpath(p), maxBody: bodyLimit });
  const budget = o.bodyBudget ?? new BodyBudget();
  const bodyTimeoutMs = o.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  const traced = log.isLevelEnabled('trace');

  async function dispatch(req: IncomingMessage, res: ServerResponse | undefined, upgrade: RequestContext['upgrade']): Promise<void> {
    const requestId = randomBytes(6).toString('hex');
    // `--log-level trace`: one line per request with its wall time (docs/performance.md, phase D).
    const t0 = traced ? performance.now() : 0;
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
      if (traced) log.trace({ requestId, method: req.method, url: req.url, status: res?.statusCode, ms: Math.round((performance.now() - t0) * 10) / 10 }, 'request');
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
