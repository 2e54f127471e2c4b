// Routes match the path after the version prefix; image names may contain '/'.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export interface RequestContext {
  req: IncomingMessage;
  /** Undefined for hijacked (Upgrade) requests. */
  res: ServerResponse | undefined;
  /** For Upgrade requests: the raw socket and the bytes after the headers. */
  upgrade: { socket: Duplex; head: Buffer } | undefined;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The negotiated API version, e.g. "1.47". */
  version: string;
  requestId: string;
  /** The canonical body (what the authorization plugins saw), re-serialized; JSON endpoints. */
  body: () => Promise<Buffer>;
  /**
   * The canonical body parsed (undefined when empty): the one reading of the request that the
   * plugins and the policy judged. Handlers read this, never the raw bytes.
   */
  json: () => unknown;
}

export type Handler = (ctx: RequestContext) => Promise<void>;

interface Route {
  method: string;
  pattern: string;
  re: RegExp;
  keys: string[];
  handler: Handler;
}

export class Router {
  #routes: Route[] = [];

  /** `pattern` uses `{name}` for one segment and `{name*}` for the rest (with slashes). */
  add(method: string, pattern: string, handler: Handler): void {
    const keys: string[] = [];
    const re = new RegExp(
      '^' +
        pattern.replace(/[.+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)(\*?)\}/g, (_m, key: string, star: string) => {
          keys.push(key);
          return star ? '(.+?)' : '([^/]+)';
        }) +
        '$',
    );
    this.#routes.push({ method, pattern, re, keys, handler });
  }

  /** Every route as registered: method and pattern (for tests that must cover them all). */
  list(): Array<{ method: string; pattern: string }> {
    return this.#routes.map((r) => ({ method: r.method, pattern: r.pattern }));
  }

  match(method: string, path: string): { handler: Handler; params: Record<string, string> } | 'method-not-allowed' | undefined {
    let pathMatched = false;
    for (const r of this.#routes) {
      const m = r.re.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (r.method !== method && !(r.method === 'GET' && method === 'HEAD')) continue;
      const params: Record<string, string> = {};
      r.keys.forEach((k, i) => (params[k] = m[i + 1]!));
      return { handler: r.handler, params };
    }
    return pathMatched ? 'method-not-allowed' : undefined;
  }
}
