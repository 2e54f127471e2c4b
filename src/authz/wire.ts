/**
 * The Docker AuthZ plugin wire format, exactly as dockerd speaks it (moby/moby
 * `pkg/authorization/api.go`; captured in shared/fixtures/authz). Note the key spellings:
 * `RequestUri`, `RequestHeaders`, `ResponseHeaders` (Docker's docs say otherwise).
 *
 * Pure: no I/O.
 */
import { foldKey, parseJsonTree, toValue, JsonSyntaxError, type CanonicalRequest, type HeaderMap } from '../docker/index.js';

/**
 * daemon → plugin, for both /AuthZPlugin.AuthZReq and /AuthZPlugin.AuthZRes. Every field is omitempty.
 *
 * @example
 * const wire: AuthZWireRequest = { RequestMethod: 'HEAD', RequestUri: '/_ping', RequestHeaders: { 'User-Agent': 'Docker-Client/28.2.2 (linux)' } };
 */
export interface AuthZWireRequest {
  User?: string;
  UserAuthNMethod?: string;
  RequestMethod?: string;
  RequestUri?: string;
  /** base64 (Go []byte) */
  RequestBody?: string;
  RequestHeaders?: Record<string, string>;
  /** base64 of each PEM CERTIFICATE block */
  RequestPeerCertificates?: string[];
  /** base64 (Go []byte) */
  ResponseBody?: string;
  ResponseHeaders?: Record<string, string>;
  ResponseStatusCode?: number;
}

/**
 * plugin → daemon. A missing Allow counts as false.
 *
 * @example
 * const deny: AuthZWireResponse = { Allow: false, Msg: 'privileged containers are not allowed' };
 */
export interface AuthZWireResponse {
  Allow: boolean;
  Msg?: string;
  Err?: string;
}

/**
 * Who is calling: TLS client certificate CN, or the unix socket peer (SO_PEERCRED).
 *
 * @example
 * const tlsUser: Identity = { user: cert.subject.CN, authMethod: 'TLS' };
 * const unixUser: Identity = await identifyUnixPeer(socketFd(req.socket)!);
 */
export interface Identity {
  /** User name: the certificate CN, or the peer's name from /etc/passwd (decimal uid when it has none). */
  user?: string | undefined;
  /** `TLS` or `SO_PEERCRED`; undefined when there is no identity. */
  authMethod?: string | undefined;
  uid?: number | undefined;
  gid?: number | undefined;
  pid?: number | undefined;
  /** Group names (for the built-in policy; not on the wire). */
  groups?: readonly string[] | undefined;
}

/** Headers never shown to plugins: they carry credentials (moby `authz.go`). */
const SENSITIVE = new Set(['authorization', 'x-registry-auth', 'x-registry-config']);

/** Go's `textproto.CanonicalMIMEHeaderKey`: `content-type` → `Content-Type`. */
export function canonicalHeaderKey(k: string): string {
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(k)) return k;
  return k.toLowerCase().replace(/(^|-)([a-z])/g, (_m, sep: string, c: string) => sep + c.toUpperCase());
}

/**
 * Flatten headers as Docker does: last value wins, Host dropped, credential headers removed,
 * names in Go's canonical form. `extraDrop` names more headers to drop (lower case).
 */
export function flattenHeaders(headers: HeaderMap | undefined, stripSensitive: boolean, extraDrop: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [k, v] of Object.entries(headers)) {
    const lower = k.toLowerCase();
    if (v === undefined || lower === 'host' || extraDrop.includes(lower)) continue;
    if (stripSensitive && SENSITIVE.has(lower)) continue;
    const last = typeof v === 'string' ? v : v[v.length - 1];
    if (last === undefined) continue;
    out[canonicalHeaderKey(k)] = last;
  }
  return sortKeys(out);
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  const sorted: Record<string, string> = {};
  for (const k of Object.keys(o).sort()) sorted[k] = o[k]!;
  return sorted;
}

function pemOf(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** Registry credentials are never forwarded (CVE-2024-41110's fix matches `[/vX.Y]/auth`). */
function isAuthEndpoint(path: string): boolean {
  return path === '/auth';
}

export interface WireRequestInput {
  identity: Identity;
  canonical: CanonicalRequest;
  /** The request headers as received. */
  headers: HeaderMap;
  /** DER certificates the TLS client presented, leaf first. */
  peerCertificates?: readonly Uint8Array[] | undefined;
}

/**
 * The AuthZReq body for a canonical request. The URI and body are the canonical ones;
 * Content-Length is set to the canonical body's length and Transfer-Encoding dropped, since
 * that is what the handler receives.
 *
 * @example
 * const wire = buildWireRequest({ identity, canonical, headers: req.headersDistinct });
 */
export function buildWireRequest(input: WireRequestInput): AuthZWireRequest {
  const { identity, canonical } = input;
  const req: AuthZWireRequest = {};
  if (identity.user) req.User = identity.user;
  if (identity.user && identity.authMethod) req.UserAuthNMethod = identity.authMethod;
  req.RequestMethod = canonical.method;
  req.RequestUri = canonical.uri;
  const hasBody = canonical.canonicalBody.length > 0;
  if (hasBody && !isAuthEndpoint(canonical.path)) req.RequestBody = canonical.canonicalBody.toString('base64');
  const headers = flattenHeaders(input.headers, true, hasBody ? ['content-length', 'transfer-encoding'] : []);
  if (hasBody) headers['Content-Length'] = String(canonical.canonicalBody.length);
  if (Object.keys(headers).length > 0) req.RequestHeaders = sortKeys(headers);
  if (input.peerCertificates && input.peerCertificates.length > 0) {
    req.RequestPeerCertificates = input.peerCertificates.map((der) => Buffer.from(pemOf(der), 'utf8').toString('base64'));
  }
  return req;
}

/**
 * A handler's response, for AuthZRes.
 *
 * @example
 * const info: ResponseInfo = { statusCode: 201, headers: res.getHeaders() as HeaderMap, body };
 */
export interface ResponseInfo {
  /** The status the handler set; 0 or undefined is left out, as Docker does. */
  statusCode?: number | undefined;
  headers?: HeaderMap | undefined;
  /** The buffered response body; forwarded only when the response is JSON. */
  body?: Buffer | undefined;
}

/**
 * The AuthZRes body: the request's AuthZReq body plus the response fields.
 *
 * @example
 * buildWireResponse(wire, { statusCode: 204, headers: { 'api-version': '1.41' } })
 */
export function buildWireResponse(req: AuthZWireRequest, res: ResponseInfo): AuthZWireRequest {
  const out: AuthZWireRequest = { ...req };
  const headers = flattenHeaders(res.headers, false);
  const ct = Object.entries(headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1] ?? '';
  if (res.body && res.body.length > 0 && (ct.split(';')[0] ?? '').trim().toLowerCase() === 'application/json') {
    out.ResponseBody = res.body.toString('base64');
  }
  if (Object.keys(headers).length > 0) out.ResponseHeaders = headers;
  if (res.statusCode) out.ResponseStatusCode = res.statusCode;
  return out;
}

/** Encode as Go's encoder: `<`, `>`, `&`, U+2028, U+2029 escaped, trailing newline. */
export function encodeWire(value: unknown): string {
  return (
    JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) + '\n'
  );
}

/**
 * Interpret a plugin's HTTP reply to `method` (`AuthZPlugin.AuthZReq`…). Throws an Error
 * whose message is what follows "plugin NAME failed with error: ".
 */
export function decodePluginReply(method: string, status: number, text: string): AuthZWireResponse {
  let obj: Record<string, unknown> | undefined;
  let parseError: string | undefined;
  try {
    const tree = parseJsonTree(text.trim());
    if (tree.t === 'obj') {
      // Go's decoder matches Allow/Msg/Err case-insensitively and keeps the last duplicate;
      // a reply that spells a key twice is refused instead.
      obj = {};
      const seen = new Set<string>();
      for (const [k, v] of tree.entries) {
        const f = foldKey(k);
        if (seen.has(f)) throw new JsonSyntaxError(`key ${JSON.stringify(k)} appears twice`, 0);
        seen.add(f);
        const known = ['Allow', 'Msg', 'Err'].find((name) => foldKey(name) === f);
        obj[known ?? k] = toValue(v);
      }
    }
  } catch (err) {
    parseError = err instanceof Error ? err.message : String(err);
  }
  if (status !== 200) {
    const e = obj?.['Err'];
    throw new Error(`${method}: ${typeof e === 'string' && e !== '' ? e : text.trim()}`);
  }
  if (parseError !== undefined) throw new Error(`${method}: invalid JSON in plugin reply: ${parseError}`);
  if (!obj) throw new Error(`${method}: plugin reply is not a JSON object`);
  const allow = obj['Allow'];
  const msg = obj['Msg'];
  const e = obj['Err'];
  if (allow !== undefined && allow !== null && typeof allow !== 'boolean') throw new Error(`${method}: plugin reply has a non-boolean Allow`);
  if (msg !== undefined && msg !== null && typeof msg !== 'string') throw new Error(`${method}: plugin reply has a non-string Msg`);
  if (e !== undefined && e !== null && typeof e !== 'string') throw new Error(`${method}: plugin reply has a non-string Err`);
  // Docker ignores Err on a 200 reply; an answer that both decides and reports an error is
  // not trusted here.
  if (typeof e === 'string' && e !== '') throw new Error(`${method}: ${e}`);
  const reply: AuthZWireResponse = { Allow: allow === true };
  if (typeof msg === 'string') reply.Msg = msg;
  return reply;
}
