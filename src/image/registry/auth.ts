// Registry credentials and challenges. Pure. Credentials live only in memory for one
// request: they are never logged, written, or put into an error message.
import { EngineError } from '../../base/index.js';

/** What the client sent (the CLI's X-Registry-Auth, or the body of POST /auth). */
export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token from an earlier login (`identitytoken`). */
  identityToken?: string;
  /** A bearer token for the registry itself (`registrytoken`). */
  registryToken?: string;
  serverAddress?: string;
}

/** A `WWW-Authenticate` challenge: scheme and parameters (lower-case keys). */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parse `WWW-Authenticate` (RFC 7235): `Bearer realm="https://auth",service="reg",scope="..."`
 * or `Basic realm="x"`. Several challenges in one header are split at a scheme that follows a
 * comma. Unparseable input gives an empty list.
 *
 * @example
 * parseChallenges('Bearer realm="https://a/token",service="r"')
 * // [{ scheme: 'bearer', params: { realm: 'https://a/token', service: 'r' } }]
 */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const texts = Array.isArray(header) ? header : [header];
  const out: Challenge[] = [];
  for (const text of texts) {
    let i = 0;
    const n = text.length;
    let current: Challenge | undefined;
    const skipWs = (): void => {
      while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === ',')) i++;
    };
    while (i < n) {
      skipWs();
      const start = i;
      while (i < n && /[A-Za-z0-9!#$%&'*+.^_`|~-]/.test(text[i]!)) i++;
      const token = text.slice(start, i);
      if (token === '') {
        i++;
        continue;
      }
      while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
      if (text[i] === '=') {
        // a parameter of the current challenge
        i++;
        while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
        let value = '';
        if (text[i] === '"') {
          i++;
          while (i < n && text[i] !== '"') {
            if (text[i] === '\\' && i + 1 < n) i++;
            value += text[i];
            i++;
          }
          i++;
        } else {
          const vs = i;
          while (i < n && text[i] !== ',' && text[i] !== ' ') i++;
          value = text.slice(vs, i);
        }
        if (current) current.params[token.toLowerCase()] = value;
      } else {
        current = { scheme: token.toLowerCase(), params: {} };
        out.push(current);
      }
    }
  }
  return out;
}

function b64decode(text: string): string {
  // The CLI sends base64url (RFC 4648 §5), older clients standard base64; accept both.
  return Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
}

/** Credentials from the fields of Docker's AuthConfig (CLI header or POST /auth body). */
export function credentialsFromAuthConfig(v: unknown): Credentials {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
  const o = v as Record<string, unknown>;
  const str = (k: string): string | undefined => (typeof o[k] === 'string' && o[k] !== '' ? (o[k] as string) : undefined);
  const c: Credentials = {};
  let username = str('username');
  let password = str('password');
  const auth = str('auth');
  if (auth !== undefined && username === undefined) {
    const plain = Buffer.from(auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon > 0) {
      username = plain.slice(0, colon);
      password = plain.slice(colon + 1);
    }
  }
  if (username !== undefined) c.username = username;
  if (password !== undefined) c.password = password;
  const it = str('identitytoken');
  if (it !== undefined) c.identityToken = it;
  const rt = str('registrytoken');
  if (rt !== undefined) c.registryToken = rt;
  const sa = str('serveraddress');
  if (sa !== undefined) c.serverAddress = sa;
  return c;
}

/**
 * Decode the `X-Registry-Auth` header: base64url of a JSON AuthConfig. Absent or `{}` means
 * anonymous. A header that does not decode is a 400 that does not echo the header.
 *
 * @example
 * decodeRegistryAuth('e30=') // {}
 */
export function decodeRegistryAuth(header: string | undefined): Credentials {
  if (header === undefined || header.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(b64decode(header.trim()));
  } catch {
    throw new EngineError('invalid', 'ERR_REGISTRY_BAD_AUTH_HEADER', 'invalid X-Registry-Auth header: not base64-encoded JSON');
  }
  return credentialsFromAuthConfig(parsed);
}

/** True when there is something to authenticate with. */
export function hasCredentials(c: Credentials): boolean {
  return (c.username !== undefined && c.password !== undefined) || c.identityToken !== undefined || c.registryToken !== undefined;
}

/** `Basic base64(user:pass)`, or undefined without a username and password. */
export function basicAuthorization(c: Credentials): string | undefined {
  if (c.username === undefined || c.password === undefined) return undefined;
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/** The token endpoint URL for a bearer challenge and the scopes wanted. */
export function tokenUrl(ch: Challenge, scopes: readonly string[], c: Credentials): URL {
  const realm = ch.params['realm'];
  if (realm === undefined || realm === '') throw new EngineError('forbidden', 'ERR_REGISTRY_AUTH', 'unauthorized: the registry sent a bearer challenge without a realm');
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new EngineError('forbidden', 'ERR_REGISTRY_AUTH', 'unauthorized: the registry sent a bearer challenge with an invalid realm');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new EngineError('forbidden', 'ERR_REGISTRY_AUTH', 'unauthorized: the token realm is not an http(s) URL');
  if (ch.params['service'] !== undefined) url.searchParams.set('service', ch.params['service']);
  for (const s of scopes) url.searchParams.append('scope', s);
  if (c.username !== undefined) url.searchParams.set('account', c.username);
  return url;
}

/** The token from a token endpoint's JSON answer (`token` or `access_token`). */
export function tokenFromResponse(body: Buffer): string {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    throw new EngineError('forbidden', 'ERR_REGISTRY_AUTH', 'unauthorized: the token server did not answer with JSON');
  }
  const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  const t = typeof o['token'] === 'string' && o['token'] !== '' ? o['token'] : o['access_token'];
  if (typeof t !== 'string' || t === '') throw new EngineError('forbidden', 'ERR_REGISTRY_AUTH', 'unauthorized: the token server answered without a token');
  return t;
}
