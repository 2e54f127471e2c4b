// Debian's docker-registry (distribution 2.8) for tests: a random 127.0.0.1 port, a temporary
// config and storage, optional TLS (a CA the test makes) and htpasswd or token auth. Every
// registry is stopped by pid and its directory removed by `stop()`.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, readFileSync, openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface TestRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  port: number;
  dir: string;
  pid: number;
  /** The CA certificate (PEM) when TLS is on. */
  caCert?: string;
  stop(): Promise<void>;
  log(): string;
}

/** A free TCP port on 127.0.0.1 (bound once, then released). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** A CA and a server certificate for 127.0.0.1 signed by it, made with openssl. */
export function makeCertificates(dir: string): { caCert: string; caKey: string; cert: string; key: string } {
  const p = (n: string): string => join(dir, n);
  const run = (args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'ignore' });
  };
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '2', '-subj', '/CN=moat test CA']);
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=127.0.0.1']);
  writeFileSync(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n');
  run(['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('server.crt'), '-days', '2', '-extfile', p('ext.cnf')]);
  return { caCert: p('ca.crt'), caKey: p('ca.key'), cert: p('server.crt'), key: p('server.key') };
}

export interface RegistryOptions {
  tls?: boolean;
  /** user -> password, stored as bcrypt by htpasswd(1). */
  users?: Record<string, string>;
  /** Bearer token auth through a token server (see token-server.ts). */
  token?: { realm: string; service: string; issuer: string; certFile: string };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startRegistry(o: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = mkdtempSync('/tmp/mt-reg-');
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: moat-test-secret',
  ];
  let caCert: string | undefined;
  if (o.tls) {
    const c = makeCertificates(dir);
    caCert = readFileSync(c.caCert, 'utf8');
    lines.push('  tls:', `    certificate: ${c.cert}`, `    key: ${c.key}`);
  }
  if (o.users) {
    const file = join(dir, 'htpasswd');
    writeFileSync(file, '');
    for (const [u, pw] of Object.entries(o.users)) execFileSync('htpasswd', ['-bB', file, u, pw], { stdio: 'ignore' });
    lines.push('auth:', '  htpasswd:', '    realm: moat-test', `    path: ${file}`);
  }
  if (o.token) {
    lines.push('auth:', '  token:', `    realm: ${o.token.realm}`, `    service: ${o.token.service}`, `    issuer: ${o.token.issuer}`, `    rootcertbundle: ${o.token.certFile}`);
  }
  writeFileSync(join(dir, 'config.yml'), lines.join('\n') + '\n');
  const logFile = join(dir, 'registry.log');
  const fd = openSync(logFile, 'a');
  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const pid = child.pid ?? 0;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const ping = (): Promise<number> =>
    new Promise((resolve) => {
      const req = (o.tls ? https : http).request({ host: '127.0.0.1', port, path: '/v2/', method: 'GET', ...(o.tls ? { ca: caCert } : {}), timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => resolve(0));
      req.on('timeout', () => req.destroy());
      req.end();
    });
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) break;
    const st = await ping();
    if (st === 200 || st === 401) {
      return { host: `127.0.0.1:${port}`, port, dir, pid, ...(caCert ? { caCert } : {}), stop, log: () => readFileSync(logFile, 'utf8') };
    }
    await sleep(100);
  }
  const text = (() => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  })();
  await stop();
  throw new Error(`docker-registry did not start:\n${text.slice(-2000)}`);
}
