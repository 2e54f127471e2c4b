// A bearer token server for docker-registry's `auth: token` (the Docker Hub flow): it checks
// basic credentials and issues ES256 JWTs whose `x5c` header carries its certificate, which
// the registry trusts through `rootcertbundle`. Only for tests on 127.0.0.1.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  /** PEM file the registry trusts. */
  certFile: string;
  /** `GET /token` requests seen: scope and account, and whether credentials were good. */
  requests: Array<{ scope: string[]; account: string | null; authorized: boolean }>;
  close(): Promise<void>;
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

export async function startTokenServer(dir: string, users: Record<string, string>): Promise<TokenServer> {
  const keyFile = join(dir, 'token.key');
  const certFile = join(dir, 'token.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=moat test token issuer'], { stdio: 'ignore' });
  const key = createPrivateKey(readFileSync(keyFile));
  const der = new X509Certificate(readFileSync(certFile)).raw;
  const service = 'moat-test-registry';
  const issuer = 'moat-test-issuer';
  const requests: TokenServer['requests'] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/token') {
      res.writeHead(404);
      res.end();
      return;
    }
    const scope = url.searchParams.getAll('scope');
    const hdr = req.headers.authorization ?? '';
    let user: string | undefined;
    if (hdr.startsWith('Basic ')) {
      const plain = Buffer.from(hdr.slice(6), 'base64').toString();
      const i = plain.indexOf(':');
      const [u, p] = [plain.slice(0, i), plain.slice(i + 1)];
      if (users[u] === p) user = u;
      else {
        requests.push({ scope, account: url.searchParams.get('account'), authorized: false });
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'incorrect username or password' }] }));
        return;
      }
    }
    requests.push({ scope, account: url.searchParams.get('account'), authorized: user !== undefined });
    // Authenticated users get what they ask for; anonymous callers get nothing.
    const access = user === undefined ? [] : scope.map((s) => {
      const [type, name, actions] = s.split(':');
      return { type, name, actions: (actions ?? '').split(',') };
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'ES256', typ: 'JWT', x5c: [der.toString('base64')] };
    const claims = { iss: issuer, sub: user ?? '', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const signing = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = sign('sha256', Buffer.from(signing), { key, dsaEncoding: 'ieee-p1363' });
    const token = `${signing}.${b64url(sig)}`;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  writeFileSync(join(dir, 'token-server.port'), String(port));
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certFile,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
