/**
 * HTTP client for one Docker AuthZ plugin over a unix socket or TCP (optionally TLS),
 * speaking the protocol as dockerd does (moby/moby `pkg/plugins/client.go`,
 * `pkg/authorization/plugin.go`): POST, `Accept: application/vnd.docker.plugins.v1.2+json`,
 * no Content-Type, empty Host on unix sockets, Go-encoded JSON body with a trailing newline.
 *
 * Unlike dockerd (no timeout at all), every call has a bounded deadline. Any failure -
 * unreachable, timeout, non-200, garbage JSON - is an Error; the chain turns it into a deny.
 *
 * Network code.
 */
import http from 'node:http';
import https from 'node:https';
import { readFile } from 'node:fs/promises';
import { EngineError, errorText } from '../base/index.js';
import { discoverPlugin, type DiscoveryOptions, type PluginAddress, type PluginEndpoint } from './discovery.js';
import type { AuthzPlugin } from './chain.js';
import { decodePluginReply, encodeWire, type AuthZWireRequest, type AuthZWireResponse } from './wire.js';

/**
 * The Accept header dockerd sends to plugins (the docs say v1; the code sends v1.2).
 *
 * @example
 * assert.equal(req.headers.accept, PLUGIN_ACCEPT);
 */
export const PLUGIN_ACCEPT = 'application/vnd.docker.plugins.v1.2+json';
/** `AuthZApiImplements` in moby. */
export const AUTHZ_IMPLEMENTS = 'authz';

/**
 * Limits of one plugin client.
 *
 * @example
 * new PluginClient(endpoint, { timeoutMs: 5000, retryMs: 2000 });
 */
export interface PluginClientOptions {
  /** Deadline for one HTTP exchange, ms (default 10 s). */
  timeoutMs?: number;
  /**
   * How long to keep retrying when the plugin cannot be reached (connection refused, socket
   * missing), ms (default 0: fail at once). Docker retries for about 15 s.
   */
  retryMs?: number;
  /** Largest accepted reply body, bytes (default 1 MiB). */
  maxReplyBytes?: number;
}

const RETRYABLE = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'EAGAIN']);

interface Reply {
  status: number;
  text: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function urlFor(address: PluginAddress, path: string): string {
  if (address.kind === 'unix') return `http://${encodeURIComponent(address.path)}${path}`;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${address.https ? 'https' : 'http'}://${host}:${address.port}${path}`;
}

/**
 * One plugin. `activate()` once (the chain's loader does it), then `authZReq`/`authZRes`.
 *
 * @example
 * const client = new PluginClient(await discoverPlugin('opa'), { timeoutMs: 5000 });
 * await client.activate();
 * const reply = await client.authZReq({ RequestMethod: 'GET', RequestUri: '/_ping' });
 */
export class PluginClient implements AuthzPlugin {
  readonly name: string;
  readonly endpoint: PluginEndpoint;
  readonly #timeoutMs: number;
  readonly #retryMs: number;
  readonly #maxReply: number;
  #tls: Promise<https.RequestOptions> | undefined;

  constructor(endpoint: PluginEndpoint, options: PluginClientOptions = {}) {
    this.name = endpoint.name;
    this.endpoint = endpoint;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#retryMs = options.retryMs ?? 0;
    this.#maxReply = options.maxReplyBytes ?? 1024 * 1024;
  }

  /** POST /Plugin.Activate; throws unless the plugin implements `authz`. Returns Implements. */
  async activate(): Promise<string[]> {
    const reply = await this.#call('/Plugin.Activate', undefined);
    if (reply.status !== 200) throw new Error(`Plugin.Activate: ${reply.text.trim()}`);
    let doc: unknown;
    try {
      doc = JSON.parse(reply.text);
    } catch (err) {
      throw new Error(`Plugin.Activate: invalid JSON in plugin reply: ${(err as Error).message}`, { cause: err });
    }
    const impl = (doc as { Implements?: unknown } | null)?.Implements;
    const list = Array.isArray(impl) ? impl.filter((x): x is string => typeof x === 'string') : [];
    if (!list.includes(AUTHZ_IMPLEMENTS)) throw new Error('Plugin does not implement the requested driver');
    return list;
  }

  async authZReq(req: AuthZWireRequest): Promise<AuthZWireResponse> {
    return this.#decide('AuthZPlugin.AuthZReq', req);
  }

  async authZRes(req: AuthZWireRequest): Promise<AuthZWireResponse> {
    return this.#decide('AuthZPlugin.AuthZRes', req);
  }

  async #decide(method: string, req: AuthZWireRequest): Promise<AuthZWireResponse> {
    const reply = await this.#call(`/${method}`, encodeWire(req));
    return decodePluginReply(method, reply.status, reply.text);
  }

  async #tlsOptions(): Promise<https.RequestOptions> {
    const a = this.endpoint.address;
    if (a.kind !== 'tcp' || !a.https) return {};
    this.#tls ??= (async () => {
      const t = a.tls;
      const opts: https.RequestOptions = { rejectUnauthorized: !(t?.insecureSkipVerify ?? false), servername: a.host };
      if (t?.caFile) opts.ca = await readFile(t.caFile);
      if (t?.certFile) opts.cert = await readFile(t.certFile);
      if (t?.keyFile) opts.key = await readFile(t.keyFile);
      return opts;
    })();
    return this.#tls;
  }

  async #call(path: string, body: string | undefined): Promise<Reply> {
    const deadline = Date.now() + this.#retryMs;
    let wait = 50;
    for (;;) {
      try {
        return await this.#once(path, body);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const left = deadline - Date.now();
        if (code === undefined || !RETRYABLE.has(code) || left <= 0) {
          throw new Error(`Post "${urlFor(this.endpoint.address, path)}": ${(err as Error).message}`, { cause: err });
        }
        await sleep(Math.min(wait, left));
        wait = Math.min(wait * 2, 1000);
      }
    }
  }

  async #once(path: string, body: string | undefined): Promise<Reply> {
    const a = this.endpoint.address;
    const payload = Buffer.from(body ?? '', 'utf8');
    const headers: http.OutgoingHttpHeaders = { Accept: PLUGIN_ACCEPT, 'Content-Length': payload.length, 'User-Agent': 'moat' };
    const base: http.RequestOptions = { method: 'POST', path, headers, agent: false };
    let opts: http.RequestOptions;
    let mod: typeof http | typeof https = http;
    if (a.kind === 'unix') {
      // Go sends an empty Host on unix sockets; Node servers require the header to exist.
      opts = { ...base, socketPath: a.path, setHost: false, headers: { ...headers, Host: '' } };
    } else {
      opts = { ...base, host: a.host, port: a.port };
      if (a.https) {
        mod = https;
        opts = { ...opts, ...(await this.#tlsOptions()) };
      }
    }
    return new Promise<Reply>((resolve, reject) => {
      let settled = false;
      const done = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const req = mod.request(opts, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > this.#maxReply) {
            res.destroy();
            done(() => reject(new Error(`plugin reply larger than ${this.#maxReply} bytes`)));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => done(() => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') })));
        res.on('error', (err) => done(() => reject(err)));
        res.on('close', () => done(() => reject(new Error('plugin closed the connection mid-reply'))));
      });
      const timer = setTimeout(() => {
        done(() => reject(new Error(`no reply within ${this.#timeoutMs} ms`)));
        req.destroy();
      }, this.#timeoutMs);
      req.on('error', (err) => done(() => reject(err)));
      req.end(payload);
    });
  }
}

/**
 * How `loadPlugins` finds and reuses plugins.
 *
 * @example
 * await loadPlugins(['opa'], { lookupRetryMs: 15000, client: { timeoutMs: 10000 } });
 */
export interface LoadPluginsOptions {
  discovery?: DiscoveryOptions;
  client?: PluginClientOptions;
  /**
   * Keep looking for a missing plugin this long, ms (default 0). dockerd retries 1, 2, 4 and
   * 8 s at startup before it gives up.
   */
  lookupRetryMs?: number;
  /** In-process plugins by name (the built-in policy), used instead of discovery. */
  builtins?: ReadonlyMap<string, AuthzPlugin>;
  /** Already activated plugins by name; reused, as dockerd activates a plugin once. */
  cache?: Map<string, AuthzPlugin>;
}

async function discoverWithRetry(name: string, options: LoadPluginsOptions): Promise<PluginEndpoint> {
  const deadline = Date.now() + (options.lookupRetryMs ?? 0);
  let wait = 1000;
  for (;;) {
    try {
      return await discoverPlugin(name, options.discovery);
    } catch (err) {
      const left = deadline - Date.now();
      if (!(err instanceof EngineError) || err.kind !== 'not-found' || left <= 0) throw err;
      await sleep(Math.min(wait, left));
      wait *= 2;
    }
  }
}

/**
 * Find and activate the named plugins, in order, duplicates dropped. Throws EngineError
 * ('not-found', or 'unavailable' when activation fails) naming the plugin; the daemon
 * refuses to start (or, on reload, keeps the old list) rather than run without it.
 *
 * @example
 * const cache = new Map();
 * chain.setPlugins(await loadPlugins(config.authorizationPlugins, { cache, builtins: new Map([['moat-policy', policyPlugin]]) }));
 */
export async function loadPlugins(names: readonly string[], options: LoadPluginsOptions = {}): Promise<AuthzPlugin[]> {
  const out: AuthzPlugin[] = [];
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) continue;
    seen.add(name);
    const builtin = options.builtins?.get(name);
    if (builtin) {
      out.push(builtin);
      continue;
    }
    const cached = options.cache?.get(name);
    if (cached) {
      out.push(cached);
      continue;
    }
    const endpoint = await discoverWithRetry(name, options);
    const client = new PluginClient(endpoint, options.client);
    try {
      await client.activate();
    } catch (err) {
      throw new EngineError('unavailable', 'ERR_AUTHZ_PLUGIN_ACTIVATE', `failed to validate authorization plugin: plugin ${JSON.stringify(name)}: ${errorText(err)}`, { cause: err });
    }
    options.cache?.set(name, client);
    out.push(client);
  }
  return out;
}
