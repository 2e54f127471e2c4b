/**
 * Serve the built-in policy as a standalone Docker AuthZ plugin on a unix socket, so a stock
 * dockerd can use it (`--authorization-plugin=NAME` with the socket at
 * /run/docker/plugins/NAME.sock), and the file-based entry points for the CLI.
 *
 * Network and file code.
 */
import http from 'node:http';
import { chmod, lstat, readFile, unlink } from 'node:fs/promises';
import { EngineError, errorText, type Logger } from '../base/index.js';
import { decideWireRequest, checkRequestFile } from './policy-plugin.js';
import { parsePolicy, type Policy, type PolicyDecision } from './policy.js';
import type { AuthZWireRequest } from './wire.js';
import { encodeWire } from './wire.js';

const MAX_CALL_BYTES = 24 * 1024 * 1024;

/**
 * A running standalone policy plugin.
 *
 * @example
 * process.on('SIGTERM', () => void srv.close());
 */
export interface PolicyServer {
  readonly socketPath: string;
  /** Re-read the policy file; on error the old policy stays and the error is thrown. */
  reload(): Promise<void>;
  close(): Promise<void>;
}

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  const text = encodeWire(body);
  res.writeHead(status, { 'Content-Type': 'application/vnd.docker.plugins.v1.2+json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function readAll(req: http.IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new Error(`request larger than ${max} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function removeStaleSocket(path: string): Promise<void> {
  try {
    const st = await lstat(path);
    if (!st.isSocket()) throw new EngineError('conflict', 'ERR_AUTHZ_SOCKET_IN_USE', `Cannot listen on ${path}: a file that is not a socket is in the way`);
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * Serve `getPolicy()` on a unix socket. Plugin.Activate → {"Implements":["authz"]};
 * AuthZReq → the policy's decision; AuthZRes → allow. Errors reply 500 {"Err": …}.
 */
export async function servePolicyPlugin(getPolicy: () => Policy, socketPath: string, log: Logger | undefined): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    void (async () => {
      try {
        if (req.method !== 'POST') return reply(res, 405, { Err: `method ${req.method ?? ''} not allowed` });
        const raw = await readAll(req, MAX_CALL_BYTES);
        switch (req.url) {
          case '/Plugin.Activate':
            return reply(res, 200, { Implements: ['authz'] });
          case '/AuthZPlugin.AuthZReq': {
            const wire = JSON.parse(raw.toString('utf8')) as AuthZWireRequest;
            if (typeof wire !== 'object' || wire === null) throw new Error('request is not a JSON object');
            const d = decideWireRequest(getPolicy(), wire);
            const level = d.allow ? 'debug' : 'info';
            log?.[level]({ audit: { phase: 'request', decision: d.allow ? 'allow' : 'deny', rule: d.rule, user: wire.User, authMethod: wire.UserAuthNMethod, method: wire.RequestMethod, uri: wire.RequestUri } }, 'authz decision');
            return reply(res, 200, d.allow ? { Allow: true, Msg: d.msg } : { Allow: false, Msg: d.msg });
          }
          case '/AuthZPlugin.AuthZRes':
            return reply(res, 200, { Allow: true });
          default:
            return reply(res, 404, { Err: `unknown endpoint ${req.url ?? ''}` });
        }
      } catch (err) {
        log?.error({ err }, 'authz plugin call failed');
        if (!res.headersSent) reply(res, 500, { Err: errorText(err) });
      }
    })();
  });
  await removeStaleSocket(socketPath);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // dockerd runs as root; nobody else needs to ask for decisions.
  await chmod(socketPath, 0o660);
  return server;
}

async function loadPolicyFile(path: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new EngineError('invalid', 'ERR_AUTHZ_BAD_POLICY', `Cannot read authorization policy ${path}: ${errorText(err)}`, { cause: err });
  }
  return parsePolicy(text);
}

/**
 * `moat authz serve --policy FILE --socket PATH`: serve the policy as a Docker AuthZ plugin.
 * Resolves once listening; call `reload()` on SIGHUP and `close()` on SIGTERM.
 *
 * @example
 * const srv = await runAuthzServe({ policyPath: '/etc/moat/authz.json', socketPath: '/run/docker/plugins/moat-policy.sock', log });
 * process.on('SIGHUP', () => void srv.reload().catch((err) => log.error({ err }, 'reload failed')));
 */
export async function runAuthzServe(options: { policyPath: string; socketPath: string; log?: Logger | undefined }): Promise<PolicyServer> {
  let policy = await loadPolicyFile(options.policyPath);
  const log = options.log?.child({ component: 'authz-plugin' });
  const server = await servePolicyPlugin(() => policy, options.socketPath, log);
  log?.info({ socket: options.socketPath, policy: options.policyPath }, 'authz policy plugin listening');
  return {
    socketPath: options.socketPath,
    async reload() {
      policy = await loadPolicyFile(options.policyPath);
      log?.info({ policy: options.policyPath }, 'authz policy reloaded');
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await unlink(options.socketPath).catch(() => undefined);
    },
  };
}

/**
 * `moat authz check --policy FILE REQUEST.json`: the decision and the rule that made it.
 *
 * @example
 * const d = await runAuthzCheck({ policyPath: 'authz.json', requestPath: 'req.json' });
 * console.log(`${d.allow ? 'allow' : 'deny'} (rule ${d.rule}): ${d.msg}`);
 */
export async function runAuthzCheck(options: { policyPath: string; requestPath: string }): Promise<PolicyDecision> {
  const policy = await loadPolicyFile(options.policyPath);
  let text: string;
  try {
    text = await readFile(options.requestPath, 'utf8');
  } catch (err) {
    throw new EngineError('invalid', 'ERR_AUTHZ_BAD_REQUEST_FILE', `Cannot read request file ${options.requestPath}: ${errorText(err)}`, { cause: err });
  }
  return checkRequestFile(policy, text);
}
