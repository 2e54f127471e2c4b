/**
 * "The plugin sees what will run": one canonical form of a request, made before any
 * authorization and handed unchanged to the router and the handler.
 *
 * Every bypass of Docker's AuthZ design comes from two readers disagreeing about a request:
 * the plugin reads the raw URI and body, the daemon routes a cleaned path and decodes the
 * body case-insensitively. Here the path is decoded once and cleaned, the body is parsed
 * strictly (duplicate or case-variant keys are refused), checked against Docker's field
 * names and types, host paths are cleaned, and the result is re-serialized. Plugins, the
 * policy, the router and the handler all read this result.
 *
 * Pure: no I/O (symlinks are resolved through an injected `realpath`).
 */
import { EngineError } from '../base/index.js';
import { bodyKindFor, foldKey, type BodyKind, type FieldType, type Schema } from './fields.js';
import { JsonSyntaxError, parseJsonTree, serializeTree, toValue, getMember, type JsonNode, type JsonValue } from './json-strict.js';
import { bindHostPath, mountHostPath, withBindSource, type ApiMount } from './mounts.js';
import { cleanAbsolutePath, parentPath } from './paths.js';

/**
 * Docker 20.10 forwarded no body of 1 MiB or more to plugins; moat refuses it instead (413).
 *
 * @example
 * new AuthzChain(plugins, { maxBody: DEFAULT_MAX_BODY });
 */
export const DEFAULT_MAX_BODY = 1024 * 1024;

/**
 * Request or response headers; a repeated header's last value counts.
 *
 * @example
 * const headers: HeaderMap = req.headersDistinct;
 */
export type HeaderMap = Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * Routes whose body is a raw stream (tar archives, upgraded connections), never buffered:
 * pass `body: undefined` for them. Plugins see no body there, as with dockerd.
 */
const STREAM_ROUTES: ReadonlyArray<readonly [string, RegExp]> = [
  ['POST', /^\/build$/],
  ['POST', /^\/images\/load$/],
  ['POST', /^\/images\/create$/],
  ['PUT', /^\/containers\/[^/]+\/archive$/],
  ['POST', /^\/plugins\/create$/],
  ['POST', /^\/session$/],
  ['POST', /^\/grpc$/],
];

/**
 * True when a route's body is a stream the daemon must not buffer (tar uploads, session and
 * gRPC upgrades). Every other route's body is read whole (up to the limit) and canonicalized.
 *
 * @example
 * isStreamBodyRoute('POST', '/images/load') // true
 * isStreamBodyRoute('POST', '/containers/create') // false
 */
export function isStreamBodyRoute(method: string, path: string): boolean {
  return STREAM_ROUTES.some(([m, re]) => m === method && re.test(path));
}

/**
 * The canonical path, version and query of a request-target alone, so a server can pick a
 * route (stream or buffered body) before reading the body. Same rules and errors as
 * `canonicalizeRequest`.
 *
 * @example
 * canonicalizeTarget('//v1.41/images/load?quiet=1') // { path: '/images/load', version: '1.41', query: 'quiet=1' }
 */
export function canonicalizeTarget(rawUrl: string): { path: string; version: string | undefined; query: string } {
  const q = rawUrl.indexOf('?');
  const { path, version } = canonicalPath(q < 0 ? rawUrl : rawUrl.slice(0, q));
  return { path, version, query: canonicalQuery(q < 0 ? '' : rawUrl.slice(q + 1)).query };
}

/**
 * A request as received.
 *
 * @example
 * const raw: RawRequest = { method: req.method!, rawUrl: req.url!, headers: req.headersDistinct, body, maxBody: DEFAULT_MAX_BODY };
 */
export interface RawRequest {
  method: string;
  /** The request-target as received (`req.url`). */
  rawUrl: string;
  /** `req.headersDistinct` (or `req.headers`); names in any case. */
  headers: HeaderMap;
  /** The complete body as read, or undefined for routes whose body is a stream (tar uploads). */
  body: Buffer | undefined;
  /** Largest accepted body, bytes. */
  maxBody: number;
}

/**
 * One request with one meaning; what plugins, the policy, the router and the handler read.
 *
 * @example
 * const { path, version, queryParams, canonicalBody } = authorized.canonical;
 */
export interface CanonicalRequest {
  method: string;
  /** Decoded once, cleaned, without the version prefix: `/containers/create`. */
  path: string;
  /** `1.41` when the request had a `/v1.41` prefix. */
  version: string | undefined;
  /** The query re-encoded canonically, without `?` ('' when none). */
  query: string;
  /** Query pairs in order, decoded. */
  queryParams: ReadonlyArray<readonly [string, string]>;
  /** What plugins get as `RequestUri`: `[/vX.Y]` + path (re-encoded) + `[?query]`. */
  uri: string;
  /** Which Docker structure the body was checked against, if any. */
  bodyKind: BodyKind | undefined;
  /** The parsed body (null-prototype objects), or undefined when there is none. */
  body: JsonValue | undefined;
  /** The body re-serialized; this, not the raw bytes, goes to plugins and to the handler. */
  canonicalBody: Buffer;
}

const ERR_PATH = 'ERR_AUTHZ_BAD_REQUEST_PATH';
const ERR_BODY = 'ERR_AUTHZ_BAD_REQUEST_BODY';
const ERR_AMBIGUOUS = 'ERR_AUTHZ_AMBIGUOUS_BODY';
const ERR_TOO_LARGE = 'ERR_AUTHZ_BODY_TOO_LARGE';

function bad(code: string, message: string, cause?: unknown): EngineError {
  return new EngineError('invalid', code, message, cause === undefined ? undefined : { cause });
}

/**
 * The last value of a header, by case-insensitive name.
 *
 * @example
 * headerValue({ 'content-type': ['a', 'application/json'] }, 'Content-Type') // 'application/json'
 */
export function headerValue(headers: HeaderMap, name: string): string | undefined {
  const want = name.toLowerCase();
  let found: string | undefined;
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() !== want || v === undefined) continue;
    found = typeof v === 'string' ? v : v[v.length - 1];
  }
  return found;
}

function isJsonMediaType(ct: string): boolean {
  const media = (ct.split(';')[0] ?? '').trim().toLowerCase();
  return media === 'application/json';
}

/** Path segments are re-encoded for `uri` so that a decoded `?` or `%` cannot change its parse. */
function encodeSegment(seg: string): string {
  return encodeURIComponent(seg).replace(/%(3A|40|24|26|2B|2C|3B|3D)/g, (m) => decodeURIComponent(m));
}

function decodeComponent(s: string, what: string): string {
  try {
    return decodeURIComponent(s);
  } catch (err) {
    throw bad(ERR_PATH, `Cannot decode request ${what}: malformed percent-encoding in ${JSON.stringify(s)}`, err);
  }
}

const VERSION_SEGMENT = /^v[0-9.]+$/;

function canonicalPath(rawPath: string): { path: string; version: string | undefined } {
  if (!rawPath.startsWith('/')) throw bad(ERR_PATH, `Cannot route request: path must start with "/": ${JSON.stringify(rawPath)}`);
  if (rawPath.includes('#')) throw bad(ERR_PATH, 'Cannot route request: fragment in request path');
  // Decode exactly once: "%2563" stays the literal "%63", which no route matches.
  const decoded = decodeComponent(rawPath, 'path');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(decoded)) throw bad(ERR_PATH, 'Cannot route request: control character in request path');
  const cleaned = cleanAbsolutePath(decoded);
  const first = cleaned.split('/')[1] ?? '';
  if (VERSION_SEGMENT.test(first)) {
    const rest = cleaned.slice(first.length + 1);
    return { path: rest === '' ? '/' : rest, version: first.slice(1) };
  }
  return { path: cleaned, version: undefined };
}

function canonicalQuery(raw: string): { query: string; pairs: Array<[string, string]> } {
  const pairs: Array<[string, string]> = [];
  for (const piece of raw.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const k = eq < 0 ? piece : piece.slice(0, eq);
    const v = eq < 0 ? '' : piece.slice(eq + 1);
    pairs.push([decodeComponent(k.replace(/\+/g, ' '), 'query'), decodeComponent(v.replace(/\+/g, ' '), 'query')]);
  }
  const query = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return { query, pairs };
}

function pathText(path: ReadonlyArray<string | number>): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s === '' ? '(top level)' : s;
}

function typeName(t: FieldType): string {
  if (typeof t === 'string') {
    return { bool: 'a boolean', str: 'a string', int: 'an integer', num: 'a number', strs: 'an array of strings', strslice: 'a string or an array of strings', any: 'any value' }[t];
  }
  if ('struct' in t) return 'an object';
  if ('arrayOf' in t) return 'an array';
  return 'an object';
}

/** Refuse exact and case-variant duplicates in one object (`mapKeys`: only exact ones). */
function checkKeys(node: Extract<JsonNode, { t: 'obj' }>, path: ReadonlyArray<string | number>, mapKeys: boolean): void {
  const seen = new Map<string, string>();
  for (const [k] of node.entries) {
    const f = mapKeys ? k : foldKey(k);
    const prev = seen.get(f);
    if (prev !== undefined) {
      const where = pathText(path);
      throw prev === k
        ? bad(ERR_AMBIGUOUS, `Cannot decode request body: duplicate key ${JSON.stringify(k)} in ${where}`)
        : bad(ERR_AMBIGUOUS, `Cannot decode request body: keys ${JSON.stringify(prev)} and ${JSON.stringify(k)} in ${where} differ only in case`);
    }
    seen.set(f, k);
  }
}

function checkTree(node: JsonNode, type: FieldType, path: Array<string | number>): void {
  if (node.t === 'null') return; // Go decodes null into the zero value of any type.
  const mismatch = (): EngineError =>
    bad(ERR_BODY, `Cannot decode request body: ${pathText(path)} must be ${typeName(type)}`);
  if (typeof type === 'string') {
    switch (type) {
      case 'bool': if (node.t !== 'bool') throw mismatch(); return;
      case 'str': if (node.t !== 'str') throw mismatch(); return;
      case 'num': if (node.t !== 'num') throw mismatch(); return;
      case 'int': if (node.t !== 'num' || !/^-?[0-9]+$/.test(node.raw)) throw mismatch(); return;
      case 'strs':
        if (node.t !== 'arr') throw mismatch();
        node.items.forEach((it, i) => checkTree(it, 'str', [...path, i]));
        return;
      case 'strslice':
        if (node.t === 'str') return;
        if (node.t !== 'arr') throw mismatch();
        node.items.forEach((it, i) => checkTree(it, 'str', [...path, i]));
        return;
      case 'any':
        if (node.t === 'obj') {
          checkKeys(node, path, false);
          for (const [k, v] of node.entries) checkTree(v, 'any', [...path, k]);
        } else if (node.t === 'arr') {
          node.items.forEach((it, i) => checkTree(it, 'any', [...path, i]));
        }
        return;
    }
  }
  if ('arrayOf' in type) {
    if (node.t !== 'arr') throw mismatch();
    node.items.forEach((it, i) => checkTree(it, type.arrayOf, [...path, i]));
    return;
  }
  if ('mapOf' in type) {
    if (node.t !== 'obj') throw mismatch();
    checkKeys(node, path, true);
    for (const [k, v] of node.entries) checkTree(v, type.mapOf, [...path, k]);
    return;
  }
  checkStruct(node, type.struct, path, mismatch);
}

const FOLDED = new WeakMap<Schema, Map<string, string>>();

/** folded field name → Docker's spelling, built once per schema. */
function foldedNames(schema: Schema): Map<string, string> {
  let m = FOLDED.get(schema);
  if (!m) {
    m = new Map(Object.keys(schema).map((name) => [foldKey(name), name]));
    FOLDED.set(schema, m);
  }
  return m;
}

function checkStruct(node: JsonNode, schema: Schema, path: Array<string | number>, mismatch: () => EngineError): void {
  if (node.t !== 'obj') throw mismatch();
  checkKeys(node, path, false);
  for (const [k, v] of node.entries) {
    const exact = Object.hasOwn(schema, k) ? schema[k] : undefined;
    if (exact !== undefined) {
      checkTree(v, exact, [...path, k]);
      continue;
    }
    const near = foldedNames(schema).get(foldKey(k));
    if (near !== undefined) {
      // Go's decoder would take this as `near`; we refuse rather than guess.
      throw bad(ERR_AMBIGUOUS, `Cannot decode request body: unknown field ${JSON.stringify(k)} in ${pathText(path)} (the Docker field is ${JSON.stringify(near)}; names are case-sensitive)`);
    }
    checkTree(v, 'any', [...path, k]); // unknown to Docker too: kept as data, checked generically
  }
}

/** A host path inside a body, with a way to replace it. */
interface HostPathRef {
  readonly value: string;
  set(v: string): void;
}

function strNode(n: JsonNode | undefined): Extract<JsonNode, { t: 'str' }> | undefined {
  return n?.t === 'str' ? n : undefined;
}

function deviceOptionRef(options: JsonNode | undefined): HostPathRef | undefined {
  const dev = strNode(getMember(options, 'device'));
  if (dev === undefined || !dev.v.startsWith('/')) return undefined;
  return { value: dev.v, set: (v) => { dev.v = v; } };
}

/** Every host path a body names: bind sources, bind-like volume devices, device nodes. */
function hostPathRefs(root: JsonNode, kind: BodyKind | undefined): HostPathRef[] {
  const refs: HostPathRef[] = [];
  if (kind === 'volume-create') {
    const r = deviceOptionRef(getMember(root, 'DriverOpts'));
    if (r) refs.push(r);
    return refs;
  }
  if (kind !== 'container-create') return refs;
  const hc = getMember(root, 'HostConfig');
  // Binds and Mounts are read by the one mount parser (mounts.ts), the engine's too: a Binds
  // spec it cannot split is refused here, with its words, before anyone judges the request.
  const binds = getMember(hc, 'Binds');
  if (binds?.t === 'arr') {
    for (const item of binds.items) {
      const s = strNode(item);
      const path = s === undefined ? undefined : bindHostPath(s.v);
      if (s !== undefined && path !== undefined) refs.push({ value: path, set: (v) => { s.v = withBindSource(s.v, v); } });
    }
  }
  const mounts = getMember(hc, 'Mounts');
  if (mounts?.t === 'arr') {
    for (const item of mounts.items) {
      const src = strNode(getMember(item, 'Source'));
      const path = src === undefined ? undefined : mountHostPath({ Source: src.v } satisfies ApiMount);
      if (src !== undefined && path !== undefined) refs.push({ value: path, set: (v) => { src.v = v; } });
      const r = deviceOptionRef(getMember(getMember(getMember(item, 'VolumeOptions'), 'DriverConfig'), 'Options'));
      if (r) refs.push(r);
    }
  }
  const devices = getMember(hc, 'Devices');
  if (devices?.t === 'arr') {
    for (const d of devices.items) {
      const p = strNode(getMember(d, 'PathOnHost'));
      if (p && p.v.startsWith('/')) refs.push({ value: p.v, set: (v) => { p.v = v; } });
    }
  }
  return refs;
}

function parseBody(body: Buffer): JsonNode {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body);
  } catch (err) {
    throw bad(ERR_BODY, 'Cannot decode request body: not valid UTF-8', err);
  }
  try {
    return parseJsonTree(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError) throw bad(ERR_BODY, `Cannot decode request body: ${err.message}`, err);
    throw err;
  }
}

/**
 * Make the one canonical form of a request. Throws EngineError 'invalid' (400) for an
 * ambiguous or malformed path or body and 'too-large' (413) for a body over `maxBody`.
 *
 * @example
 * const c = canonicalizeRequest({ method: 'POST', rawUrl: '//v1.41/containers/%63reate',
 *   headers: { 'content-type': 'application/json' }, body: Buffer.from('{"Image":"x"}'), maxBody: DEFAULT_MAX_BODY });
 * // c.path === '/containers/create', c.version === '1.41', c.uri === '/v1.41/containers/create'
 */
export function canonicalizeRequest(input: RawRequest): CanonicalRequest {
  const method = input.method;
  if (!/^[A-Z]+$/.test(method)) throw bad(ERR_PATH, `Cannot route request: invalid method ${JSON.stringify(method)}`);
  const q = input.rawUrl.indexOf('?');
  const rawPath = q < 0 ? input.rawUrl : input.rawUrl.slice(0, q);
  const { path, version } = canonicalPath(rawPath);
  const { query, pairs } = canonicalQuery(q < 0 ? '' : input.rawUrl.slice(q + 1));
  const encodedPath = path.split('/').map(encodeSegment).join('/');
  const uri = (version !== undefined ? `/v${version}` : '') + (version !== undefined && path === '/' ? '' : encodedPath) + (query ? `?${query}` : '');

  // Body framing: the decision never rests on Content-Length, only on the bytes read.
  const cl = headerValue(input.headers, 'content-length');
  const te = headerValue(input.headers, 'transfer-encoding');
  if (cl !== undefined && te !== undefined) throw bad(ERR_BODY, 'Cannot read request body: both Content-Length and Transfer-Encoding are set');
  if (cl !== undefined && !/^[0-9]+$/.test(cl.trim())) throw bad(ERR_BODY, `Cannot read request body: invalid Content-Length ${JSON.stringify(cl)}`);
  const body = input.body;
  if (body !== undefined && body.length > input.maxBody) throw tooLarge(input.maxBody);
  if (body !== undefined && cl !== undefined && Number(cl.trim()) !== body.length) {
    throw bad(ERR_BODY, `Cannot read request body: Content-Length ${cl.trim()} does not match the ${body.length} bytes received`);
  }

  const route = bodyKindFor(method, path);
  if (body === undefined && !isStreamBodyRoute(method, path) && ((cl !== undefined && Number(cl.trim()) > 0) || te !== undefined)) {
    // A buffered route whose body was not read: the handler would read what no plugin saw.
    throw new EngineError('internal', 'ERR_AUTHZ_BODY_NOT_READ', `Cannot authorize ${method} ${path}: its body was not read before authorization`);
  }
  const base = { method, path, version, query, queryParams: pairs, uri, bodyKind: route?.kind };
  if (body === undefined || body.length === 0) return { ...base, body: undefined, canonicalBody: Buffer.alloc(0) };

  const ct = headerValue(input.headers, 'content-type');
  if (ct !== undefined && ct.trim() !== '' && !isJsonMediaType(ct)) {
    throw bad(ERR_BODY, `Content-Type specified (${ct}) must be 'application/json'`);
  }
  const root = parseBody(body);
  if (route?.kind === 'container-start' && !(root.t === 'null' || (root.t === 'obj' && root.entries.length === 0))) {
    throw bad(ERR_BODY, 'starting container with non-empty request body was deprecated since API v1.22 and removed in v1.24');
  }
  if (route) checkStruct(root, route.schema, [], () => bad(ERR_BODY, 'Cannot decode request body: expected a JSON object'));
  else checkTree(root, 'any', []);
  for (const ref of hostPathRefs(root, route?.kind)) ref.set(cleanAbsolutePath(ref.value));
  if (route?.kind === 'container-create') canonicalSecurityOpts(root);
  return { ...base, body: toValue(root), canonicalBody: Buffer.from(serializeTree(root), 'utf8') };
}

/**
 * One spelling per security option, the one plugins compare: dockerd (and moat's engine)
 * read a bare `disable` as `label=disable` and `key:value` (no `=` anywhere) as `key=value`.
 * Other options are left as written; what the engine refuses stays refused.
 *
 * @example
 * canonicalSecurityOpt('disable') // 'label=disable'
 * canonicalSecurityOpt('seccomp:unconfined') // 'seccomp=unconfined'
 */
export function canonicalSecurityOpt(opt: string): string {
  if (opt === 'disable') return 'label=disable';
  if (opt.includes('=')) return opt;
  const colon = opt.indexOf(':');
  return colon < 0 ? opt : `${opt.slice(0, colon)}=${opt.slice(colon + 1)}`;
}

function canonicalSecurityOpts(root: JsonNode): void {
  const list = getMember(getMember(root, 'HostConfig'), 'SecurityOpt');
  if (list?.t !== 'arr') return;
  for (const item of list.items) if (item.t === 'str') item.v = canonicalSecurityOpt(item.v);
}

function tooLarge(max: number): EngineError {
  return new EngineError('too-large', ERR_TOO_LARGE, `Request body too large for authorization: size exceeds ${max} bytes`);
}

/**
 * The host paths (bind sources, volume devices, device nodes) a canonical request names.
 *
 * @example
 * hostPathsOf(canonical) // ['/home/alice/src', '/dev/kvm']
 */
export function hostPathsOf(req: CanonicalRequest): string[] {
  if (req.canonicalBody.length === 0) return [];
  return hostPathRefs(parseJsonTree(req.canonicalBody.toString('utf8')), req.bodyKind).map((r) => r.value);
}

/**
 * False when the body has none of the fields {@link hostPathRefs} reads (most creates: no
 * binds, mounts or devices), read from its plain value: the body is not parsed a second time.
 */
function mayNameHostPaths(req: CanonicalRequest): boolean {
  const field = (o: unknown, k: string): unknown => (typeof o === 'object' && o !== null && Object.hasOwn(o, k) ? (o as Record<string, unknown>)[k] : undefined);
  if (req.bodyKind === 'volume-create') return field(req.body, 'DriverOpts') !== undefined;
  if (req.bodyKind !== 'container-create') return false;
  const hc = field(req.body, 'HostConfig');
  return ['Binds', 'Mounts', 'Devices'].some((k) => {
    const v = field(hc, k);
    return Array.isArray(v) && v.length > 0;
  });
}

const MAX_LINK_DEPTH = 64;

async function resolveHostPath(p: string, realpath: (p: string) => Promise<string>, depth = 0): Promise<string> {
  try {
    return cleanAbsolutePath(await realpath(p));
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    // A bind source that does not exist yet is created by the engine: resolve the part that exists.
    if ((code === 'ENOENT' || code === 'ENOTDIR') && p !== '/' && depth < MAX_LINK_DEPTH) {
      const parent = await resolveHostPath(parentPath(p), realpath, depth + 1);
      const name = p.slice(p.lastIndexOf('/') + 1);
      return cleanAbsolutePath(`${parent}/${name}`);
    }
    throw new EngineError('invalid', 'ERR_AUTHZ_BAD_HOST_PATH', `Cannot resolve host path ${JSON.stringify(p)}: ${(err as Error).message ?? String(err)}`, { cause: err });
  }
}

/**
 * Resolve symlinks in every host path of a canonical request with the injected `realpath`
 * (normally `fs.promises.realpath`), and return the request with those paths replaced. Call
 * it before authorization and mount what it returns, so a symlink to /etc is judged as
 * /etc. A path that does not exist yet resolves through its deepest existing parent.
 *
 * @example
 * const resolved = await resolveBindSources(canonical, (p) => fs.promises.realpath(p));
 */
export async function resolveBindSources(
  req: CanonicalRequest,
  realpath: (p: string) => Promise<string>,
): Promise<CanonicalRequest> {
  if (req.canonicalBody.length === 0 || !mayNameHostPaths(req)) return req;
  const root = parseJsonTree(req.canonicalBody.toString('utf8'));
  const refs = hostPathRefs(root, req.bodyKind);
  if (refs.length === 0) return req;
  for (const ref of refs) ref.set(await resolveHostPath(ref.value, realpath));
  return { ...req, body: toValue(root), canonicalBody: Buffer.from(serializeTree(root), 'utf8') };
}
