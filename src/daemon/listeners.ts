// moatd's API listeners (-H): unix sockets, whose callers are identified by SO_PEERCRED,
// and TCP with mutual TLS, whose callers are the CN of a verified client certificate.
// Plain TCP is refused: without a verified identity there is nobody to authorize.
//
// Host code: sockets and certificate files.
import { readFile, chmod, chown, mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../base/index.js';
import { BodyBudget, createApiServer, type Authorizer, type DescribePath, type Router } from '../api/index.js';
import type { DaemonConfig } from './config.js';

/** What moatd closes at shutdown. */
export interface ApiListener {
  readonly host: string;
  close(): void;
  closeAllConnections(): void;
}

export interface ListenerDeps {
  router: Router;
  log: Logger;
  authorizer: Authorizer;
  /** Names the kind of data under a host path in error messages (never the path). */
  describePath?: DescribePath;
}

/** A parsed -H address; throws on what moat does not serve. */
export function parseHost(host: string, cfg: Pick<DaemonConfig, 'tlsverify' | 'tlscacert' | 'tlscert' | 'tlskey'>): { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number } {
  if (host.startsWith('unix://')) {
    const path = host.slice('unix://'.length);
    if (!path.startsWith('/')) throw new Error(`invalid --host ${host}: the socket path must be absolute`);
    return { kind: 'unix', path };
  }
  if (host.startsWith('tcp://')) {
    if (!cfg.tlsverify) {
      throw new Error(`refusing to listen on ${host} without --tlsverify: TCP callers must present a client certificate (--tlsverify --tlscacert --tlscert --tlskey)`);
    }
    for (const [flag, v] of [['--tlscacert', cfg.tlscacert], ['--tlscert', cfg.tlscert], ['--tlskey', cfg.tlskey]] as const) {
      if (v === '') throw new Error(`--tlsverify on ${host} needs ${flag}`);
    }
    let url: URL;
    try {
      url = new URL(host);
    } catch {
      throw new Error(`invalid --host ${host}`);
    }
    const port = Number(url.port);
    if (url.hostname === '' || !Number.isInteger(port) || port <= 0 || (url.pathname !== '' && url.pathname !== '/')) {
      throw new Error(`invalid --host ${host}: expected tcp://HOST:PORT`);
    }
    return { kind: 'tcp', host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port };
  }
  throw new Error(`unsupported --host ${host}: moat listens on unix:///path and tcp://HOST:PORT (with --tlsverify)`);
}

function listen(server: ReturnType<typeof createApiServer>, args: [string] | [number, string]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => {
      server.off('error', reject);
      resolve();
    };
    if (args.length === 1) server.listen(args[0], done);
    else server.listen(args[0], args[1], done);
  });
}

/**
 * Check every -H before anything is started, so a bad address or a missing TLS file is a
 * clear startup error.
 */
export function checkHosts(hosts: readonly string[], cfg: DaemonConfig): void {
  for (const h of hosts) parseHost(h, cfg);
}

/** Listen on every host; each server passes every request through `deps.authorizer`. */
export async function openListeners(hosts: readonly string[], cfg: DaemonConfig, deps: ListenerDeps): Promise<ApiListener[]> {
  const out: ApiListener[] = [];
  // One budget for every listener: the bound is on moatd's memory, whichever socket fills it.
  const bodyBudget = new BodyBudget({ total: cfg.bodyBudget, perCaller: cfg.bodyBudgetPerCaller });
  const common = { router: deps.router, log: deps.log, bodyLimit: cfg.bodyLimit, authorizer: deps.authorizer, bodyBudget, bodyTimeoutMs: cfg.bodyTimeoutMs, ...(deps.describePath ? { describePath: deps.describePath } : {}) };
  try {
    for (const host of hosts) {
      const addr = parseHost(host, cfg);
      if (addr.kind === 'unix') {
        const server = createApiServer({ ...common, identity: 'peercred' });
        await mkdir(dirname(addr.path), { recursive: true, mode: 0o711 });
        await rm(addr.path, { force: true });
        await listen(server, [addr.path]);
        await chown(addr.path, 0, 0);
        await chmod(addr.path, 0o660);
        out.push({ host, close: () => server.close(), closeAllConnections: () => server.closeAllConnections() });
      } else {
        const [ca, cert, key] = await Promise.all([readFile(cfg.tlscacert), readFile(cfg.tlscert), readFile(cfg.tlskey)]);
        const server = createApiServer({ ...common, identity: 'tls', tls: { ca, cert, key } });
        await listen(server, [addr.port, addr.host]);
        out.push({ host, close: () => server.close(), closeAllConnections: () => server.closeAllConnections() });
      }
      deps.log.info({ host }, 'API listening');
    }
  } catch (err) {
    for (const l of out) l.close();
    throw err;
  }
  return out;
}
