// The registry HTTP client (Docker Registry HTTP API v2 / OCI distribution spec) on Node's
// own http/https. One RepoSession per repository and operation: it finds a reachable
// endpoint (pinging /v2/), answers auth challenges (basic, bearer token), and moves
// manifests and blobs. Every byte that comes back is checked against its digest; blobs are
// hashed while they stream to a temporary file and never held in memory.
//
// Credentials stay in this object's memory: they are not logged, written, or put in errors.
import http, { type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EngineError, errorText, type Logger } from '../../base/index.js';
import { basicAuthorization, hasCredentials, parseChallenges, tokenFromResponse, tokenUrl, type Challenge, type Credentials } from './auth.js';
import { endpointsFor, qualifiedName, type Endpoint, type EndpointConfig, type RemoteName } from './endpoints.js';
import { registryError, registryErrorText, parseRegistryErrors, manifestError } from './errors.js';
import { MANIFEST_ACCEPT } from './manifest.js';

/** Manifests and configs are small; anything larger is refused rather than buffered. */
const MANIFEST_LIMIT = 4 * 1024 * 1024;
const CONFIG_LIMIT = 16 * 1024 * 1024;
const MAX_REDIRECTS = 5;
const USER_AGENT = 'moat/0.1.0 (linux)';

export interface RegistryClientOptions {
  /** `<config-dir>/certs.d`: `<host:port>/ca.crt` (and `*.crt`), `client.cert` + `client.key`. */
  certsDir: string;
  /** Read at each session, so a SIGHUP reload applies to the next pull. */
  endpoints: () => EndpointConfig;
  log: Logger;
  /** No answer for this long (connect or data) fails the request; default 30 s. */
  idleTimeoutMs?: number;
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

export interface BlobProgress {
  (bytes: number): void;
}

/** sha256 of a buffer as `sha256:<hex>`. */
export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A transform that hashes and counts what flows through, and fails past `limit` bytes. */
export class DigestCounter extends Transform {
  readonly #hash = createHash('sha256');
  #bytes = 0;
  constructor(
    readonly limit: number,
    readonly onBytes?: BlobProgress,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.#bytes += chunk.length;
    if (this.#bytes > this.limit) {
      cb(new EngineError('invalid', 'ERR_REGISTRY_DIGEST_MISMATCH', `blob is larger than its ${this.limit} bytes`));
      return;
    }
    this.#hash.update(chunk);
    this.onBytes?.(this.#bytes);
    cb(null, chunk);
  }
  get bytes(): number {
    return this.#bytes;
  }
  digest(): string {
    return `sha256:${this.#hash.digest('hex')}`;
  }
}

/** Body of a response, up to `limit` bytes (then a 400: a registry answer that big is wrong). */
async function readLimited(res: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) {
      res.destroy();
      throw new EngineError('invalid', 'ERR_REGISTRY_TOO_LARGE', `registry answer larger than ${limit} bytes`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks, n);
}

function drain(res: IncomingMessage): void {
  res.resume();
}

interface TlsFiles {
  ca?: string[];
  cert?: Buffer;
  key?: Buffer;
}

/** Docker's certs.d convention: every `*.crt` is a CA, `*.cert` + `*.key` a client pair. */
async function tlsFilesFor(certsDir: string, host: string): Promise<TlsFiles> {
  const dir = join(certsDir, host);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return {};
  }
  const out: TlsFiles = {};
  const cas: string[] = [];
  for (const n of names.sort()) {
    if (n.endsWith('.crt')) cas.push(await readFile(join(dir, n), 'utf8'));
    if (n.endsWith('.cert')) {
      const key = n.slice(0, -5) + '.key';
      if (names.includes(key)) {
        out.cert = await readFile(join(dir, n));
        out.key = await readFile(join(dir, key));
      }
    }
  }
  if (cas.length > 0) out.ca = [...tls.rootCertificates, ...cas];
  return out;
}

interface RequestOptions {
  headers?: OutgoingHttpHeaders;
  /** A body made fresh for each attempt (the request may be retried after an auth challenge). */
  body?: () => Readable | Buffer;
  /** Follow redirects (GET and HEAD of blobs). */
  follow?: boolean;
}

/** A connection-level failure, worded as Go's client (`Get "url": ...`) so it reads like Docker's. */
function unreachable(method: string, url: string, err: unknown): EngineError {
  const verb = method.charAt(0) + method.slice(1).toLowerCase();
  return new EngineError('unavailable', 'ERR_REGISTRY_UNREACHABLE', `${verb} "${url}": ${errorText(err)}`, { cause: err });
}

/**
 * Finds endpoints and opens sessions. Built once by the daemon.
 *
 * @example
 * const s = await client.open(remoteName('127.0.0.1:5000/app'), creds, ['pull']);
 * const m = await s.getManifest('latest');
 */
export class RegistryClient {
  readonly #o: RegistryClientOptions;
  constructor(o: RegistryClientOptions) {
    this.#o = o;
  }

  /**
   * A session on the first endpoint that answers `/v2/` like a registry. Connection failures
   * move to the next endpoint (a mirror, then the registry; HTTPS, then plain HTTP for
   * loopback and insecure registries); the first failure is the one reported.
   */
  async open(name: RemoteName, creds: Credentials, actions: ReadonlyArray<'pull' | 'push'>): Promise<RepoSession> {
    const eps = endpointsFor(name.domain, this.#o.endpoints(), actions.includes('push') ? 'push' : 'pull');
    let first: unknown;
    for (const ep of eps) {
      const s = new RepoSession(ep, name, creds, actions, await tlsFilesFor(this.#o.certsDir, ep.host), this.#o);
      try {
        await s.ping();
        return s;
      } catch (err) {
        s.close();
        first ??= err;
        this.#o.log.debug({ endpoint: ep.url, err: errorText(err) }, 'registry endpoint not usable');
      }
    }
    throw first instanceof Error ? first : new EngineError('unavailable', 'ERR_REGISTRY_UNREACHABLE', `no endpoint for ${name.domain}`);
  }

  /**
   * `docker login`: the credentials must be accepted by the registry (basic, or a bearer
   * token issued for them). Returns normally on success; throws 401 otherwise.
   */
  async login(domain: string, creds: Credentials): Promise<void> {
    const s = await this.open({ domain, path: '' }, creds, ['pull']);
    try {
      await s.checkLogin();
    } finally {
      s.close();
    }
  }
}

/** One repository on one endpoint, with the credentials of one request. */
export class RepoSession {
  readonly endpoint: Endpoint;
  readonly name: RemoteName;
  readonly #creds: Credentials;
  readonly #scopes: string[];
  readonly #tls: TlsFiles;
  readonly #agent: http.Agent;
  readonly #idleMs: number;
  readonly #log: Logger;
  #authorization: string | undefined;
  #challenge: Challenge | undefined;

  constructor(ep: Endpoint, name: RemoteName, creds: Credentials, actions: ReadonlyArray<'pull' | 'push'>, tlsFiles: TlsFiles, o: RegistryClientOptions) {
    this.endpoint = ep;
    this.name = name;
    this.#creds = creds;
    this.#scopes = name.path === '' ? [] : [`repository:${name.path}:${[...actions].sort().reverse().join(',')}`];
    this.#tls = tlsFiles;
    this.#idleMs = o.idleTimeoutMs ?? 30_000;
    this.#log = o.log;
    const secure = ep.url.startsWith('https:');
    this.#agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 6 }) : new http.Agent({ keepAlive: true, maxSockets: 6 });
    if (creds.registryToken !== undefined) this.#authorization = `Bearer ${creds.registryToken}`;
  }

  close(): void {
    this.#agent.destroy();
  }

  /** `docker.io/library/busybox` */
  get qualified(): string {
    return qualifiedName(this.name);
  }

  #url(path: string): string {
    return /^https?:\/\//.test(path) ? path : `${this.endpoint.url}${path}`;
  }

  /** One HTTP exchange, no auth logic. */
  #send(method: string, url: string, headers: OutgoingHttpHeaders, body: Readable | Buffer | undefined): Promise<IncomingMessage> {
    const u = new URL(url);
    const sameHost = u.host === new URL(this.endpoint.url).host;
    const secure = u.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const opts: https.RequestOptions = {
        method,
        protocol: u.protocol,
        hostname: u.hostname.replace(/^\[|\]$/g, ''),
        port: u.port || (secure ? 443 : 80),
        path: u.pathname + u.search,
        headers: { 'User-Agent': USER_AGENT, ...headers },
        timeout: this.#idleMs,
      };
      if (sameHost) {
        opts.agent = this.#agent;
        if (secure) {
          if (this.#tls.ca) opts.ca = this.#tls.ca;
          if (this.#tls.cert && this.#tls.key) {
            opts.cert = this.#tls.cert;
            opts.key = this.#tls.key;
          }
          if (this.endpoint.skipVerify) opts.rejectUnauthorized = false;
        }
      }
      const req = (secure ? https : http).request(opts);
      req.on('response', resolve);
      req.on('error', (err) => reject(unreachable(method, url, err)));
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.#idleMs} ms`)));
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        body.on('error', (err) => req.destroy(err));
        body.pipe(req);
      }
    });
  }

  /** A request with auth: on 401 answer the challenge once and retry; follow redirects if asked. */
  async #request(method: string, path: string, o: RequestOptions = {}): Promise<IncomingMessage> {
    let url = this.#url(path);
    let authTried = false;
    for (let hop = 0; ; ) {
      const headers: OutgoingHttpHeaders = { ...(o.headers ?? {}) };
      const sameHost = new URL(url).host === new URL(this.endpoint.url).host;
      // Credentials go only to the registry itself, never to a redirect target (blob storage).
      if (this.#authorization !== undefined && sameHost) headers['Authorization'] = this.#authorization;
      const res = await this.#send(method, url, headers, o.body?.());
      if (res.statusCode === 401 && sameHost && !authTried) {
        drain(res);
        authTried = true;
        await this.#authenticate(parseChallenges(res.headers['www-authenticate']));
        continue;
      }
      const loc = res.headers.location;
      if (o.follow && loc !== undefined && [301, 302, 303, 307, 308].includes(res.statusCode ?? 0)) {
        drain(res);
        if (++hop > MAX_REDIRECTS) throw new EngineError('unavailable', 'ERR_REGISTRY_FAILED', `too many redirects from ${this.endpoint.host}`);
        url = new URL(loc, url).toString();
        continue;
      }
      return res;
    }
  }

  async #authenticate(challenges: Challenge[]): Promise<void> {
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer) {
      this.#challenge = bearer;
      this.#authorization = `Bearer ${await this.#fetchToken(bearer)}`;
      return;
    }
    if (basic) {
      this.#challenge = basic;
      const b = basicAuthorization(this.#creds);
      if (b === undefined) throw new EngineError('forbidden', 'ERR_REGISTRY_AUTH', `unauthorized: authentication required by ${this.endpoint.host} (no basic auth credentials; use docker login)`);
      this.#authorization = b;
      return;
    }
    throw new EngineError('forbidden', 'ERR_REGISTRY_AUTH', `unauthorized: ${this.endpoint.host} asks for an unsupported authentication scheme`);
  }

  async #fetchToken(ch: Challenge): Promise<string> {
    const url = tokenUrl(ch, this.#scopes, this.#creds);
    const headers: OutgoingHttpHeaders = {};
    const basic = basicAuthorization(this.#creds);
    if (basic !== undefined) headers['Authorization'] = basic;
    const res = await this.#send('GET', url.toString(), headers, undefined);
    const body = await readLimited(res, 1024 * 1024);
    if (res.statusCode === 401 || res.statusCode === 403) {
      const items = parseRegistryErrors(body);
      throw new EngineError('forbidden', 'ERR_REGISTRY_AUTH', items.length > 0 ? registryErrorText(items, res.statusCode) : `unauthorized: incorrect username or password`);
    }
    if (res.statusCode !== 200) throw registryError(res.statusCode ?? 0, body, `Cannot get a token from ${url.host}`);
    return tokenFromResponse(body);
  }

  /** GET /v2/: must answer like a registry (200, or 401 with a challenge). */
  async ping(): Promise<void> {
    const url = this.#url('/v2/');
    const res = await this.#send('GET', url, {}, undefined);
    drain(res);
    const status = res.statusCode ?? 0;
    if (status === 200) return;
    if (status === 401) {
      this.#challenge = parseChallenges(res.headers['www-authenticate'])[0];
      return;
    }
    throw new EngineError('unavailable', 'ERR_REGISTRY_UNREACHABLE', `Get "${url}": not a registry (status ${status})`);
  }

  /** Login check: with the credentials, /v2/ (or the token endpoint) must accept us. */
  async checkLogin(): Promise<void> {
    const url = this.#url('/v2/');
    const failed = (status: number): EngineError =>
      new EngineError('unauthorized', 'ERR_REGISTRY_LOGIN', `login attempt to ${url} failed with status: ${status} ${http.STATUS_CODES[status] ?? ''}`.trimEnd());
    if (this.#challenge === undefined) return; // the registry needs no login
    if (!hasCredentials(this.#creds)) throw failed(401);
    try {
      await this.#authenticate([this.#challenge]);
    } catch (err) {
      if (err instanceof EngineError && err.code === 'ERR_REGISTRY_AUTH') throw failed(401);
      throw err;
    }
    const res = await this.#send('GET', url, { Authorization: this.#authorization! }, undefined);
    drain(res);
    if (res.statusCode !== 200) throw failed(res.statusCode ?? 0);
  }

  /**
   * A manifest by tag or digest, checked: by digest, its bytes must hash to it; by tag, to the
   * registry's Docker-Content-Digest when sent. `shown` words the not-found errors.
   */
  async getManifest(reference: string, shown: { familiarName: string; familiarRef: string }): Promise<FetchedManifest> {
    const res = await this.#request('GET', `/v2/${this.name.path}/manifests/${reference}`, { headers: { Accept: MANIFEST_ACCEPT } });
    const body = await readLimited(res, MANIFEST_LIMIT);
    if (res.statusCode !== 200) throw manifestError(res.statusCode ?? 0, body, shown);
    const digest = sha256Digest(body);
    const claimed = res.headers['docker-content-digest'];
    const want = reference.startsWith('sha256:') ? reference : typeof claimed === 'string' && claimed.startsWith('sha256:') ? claimed : undefined;
    if (want !== undefined && want !== digest) {
      throw new EngineError('invalid', 'ERR_REGISTRY_DIGEST_MISMATCH', `manifest verification failed for digest ${want}`);
    }
    return { bytes: body, mediaType: String(res.headers['content-type'] ?? ''), digest };
  }

  /** A small blob (image config, signature payload) in memory, checked against its digest. */
  async getSmallBlob(digest: string, size: number): Promise<Buffer> {
    if (size > CONFIG_LIMIT) throw new EngineError('invalid', 'ERR_REGISTRY_TOO_LARGE', `blob ${digest} is ${size} bytes; configs are at most ${CONFIG_LIMIT}`);
    const res = await this.#request('GET', `/v2/${this.name.path}/blobs/${digest}`, { follow: true });
    const body = await readLimited(res, CONFIG_LIMIT);
    if (res.statusCode !== 200) throw registryError(res.statusCode ?? 0, body, `Cannot fetch blob ${digest}`);
    if (sha256Digest(body) !== digest) throw new EngineError('invalid', 'ERR_REGISTRY_DIGEST_MISMATCH', `blob verification failed for digest ${digest}`);
    return body;
  }

  /**
   * Stream a blob into `dest` (created, mode 0600), hashing as it goes; nothing is held in
   * memory. On a digest or size mismatch, or any error, `dest` is removed.
   */
  async fetchBlob(digest: string, size: number, dest: string, onBytes?: BlobProgress): Promise<void> {
    try {
      const res = await this.#request('GET', `/v2/${this.name.path}/blobs/${digest}`, { follow: true });
      if (res.statusCode !== 200) {
        const body = await readLimited(res, 64 * 1024).catch(() => Buffer.alloc(0));
        throw registryError(res.statusCode ?? 0, body, `Cannot fetch blob ${digest}`);
      }
      const counter = new DigestCounter(size, onBytes);
      await pipeline(res, counter, createWriteStream(dest, { flags: 'wx', mode: 0o600 }));
      if (counter.bytes !== size || counter.digest() !== digest) {
        throw new EngineError('invalid', 'ERR_REGISTRY_DIGEST_MISMATCH', `filesystem layer verification failed for digest ${digest}`);
      }
    } catch (err) {
      await rm(dest, { force: true });
      if (err instanceof EngineError) throw err;
      throw new EngineError('unavailable', 'ERR_REGISTRY_UNREACHABLE', `Cannot fetch blob ${digest}: ${errorText(err)}`, { cause: err });
    }
  }

  /** HEAD a blob: true when the registry has it. */
  async hasBlob(digest: string): Promise<boolean> {
    const res = await this.#request('HEAD', `/v2/${this.name.path}/blobs/${digest}`, { follow: true });
    drain(res);
    if (res.statusCode === 200) return true;
    if (res.statusCode === 404) return false;
    throw registryError(res.statusCode ?? 0, Buffer.alloc(0), `Cannot check blob ${digest}`);
  }

  /** Upload one blob monolithically: POST an upload, PUT the bytes with the digest. */
  async uploadBlob(digest: string, size: number, open: () => Readable | Buffer, onBytes?: BlobProgress): Promise<void> {
    const start = await this.#request('POST', `/v2/${this.name.path}/blobs/uploads/`, { headers: { 'Content-Length': 0 } });
    const startBody = await readLimited(start, 64 * 1024);
    const loc = start.headers.location;
    if (start.statusCode !== 202 || loc === undefined) throw registryError(start.statusCode ?? 0, startBody, `Cannot start the upload of ${digest}`);
    const target = new URL(loc, this.endpoint.url + '/');
    target.searchParams.set('digest', digest);
    const body = (): Readable | Buffer => {
      const b = open();
      if (Buffer.isBuffer(b) || onBytes === undefined) return b;
      return b.pipe(new DigestCounter(size, onBytes));
    };
    const res = await this.#request('PUT', target.toString(), { headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': size }, body });
    const resBody = await readLimited(res, 64 * 1024);
    if (res.statusCode !== 201) throw registryError(res.statusCode ?? 0, resBody, `Cannot upload blob ${digest}`);
    const got = res.headers['docker-content-digest'];
    if (typeof got === 'string' && got !== digest) throw new EngineError('invalid', 'ERR_REGISTRY_DIGEST_MISMATCH', `the registry stored ${digest} as ${got}`);
  }

  /** PUT a manifest under a tag or digest; returns the digest the registry reports (checked). */
  async putManifest(reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const digest = sha256Digest(bytes);
    const res = await this.#request('PUT', `/v2/${this.name.path}/manifests/${reference}`, { headers: { 'Content-Type': mediaType, 'Content-Length': bytes.length }, body: () => bytes });
    const body = await readLimited(res, 64 * 1024);
    if (res.statusCode !== 201 && res.statusCode !== 200) throw registryError(res.statusCode ?? 0, body, `Cannot put the manifest of ${this.qualified}:${reference}`);
    const got = res.headers['docker-content-digest'];
    if (typeof got === 'string' && got !== digest) throw new EngineError('invalid', 'ERR_REGISTRY_DIGEST_MISMATCH', `the registry stored the manifest as ${got}, not ${digest}`);
    this.#log.debug({ repository: this.qualified, reference, digest }, 'manifest pushed');
    return digest;
  }
}
