// Typed access to the test AuthZ plugin (plugin.mjs), a raw HTTP client for bypass tests
// (net.connect: the test controls every byte), and plugin socket names that cannot collide.
import net from 'node:net';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { REPO } from '../daemon.js';

export const PLUGIN_SCRIPT = join(REPO, 'test/helpers/authz-plugin/plugin.mjs');
/** Where dockerd and moatd look for plugin sockets. */
export const PLUGIN_DIR = '/run/docker/plugins';

export interface PluginCall {
  /** Order of the call among all test plugins in this process. */
  seq: number;
  time: string;
  call: string;
  headers: { accept?: string; 'content-type'?: string; host?: string };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  request: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  reply: { status: number; text: string } | 'hang' | undefined;
}

export interface PluginMode {
  denyPrivileged: boolean;
  denyBindPrefixes: string[];
  denyAll: string | undefined;
  denyResponses: string | undefined;
  hang: boolean;
  garbage: boolean;
  fail: string | undefined;
  noAuthz: boolean;
  log: string;
}

export interface TestPlugin {
  readonly name: string;
  readonly socket: string;
  readonly calls: PluginCall[];
  setMode(patch: Partial<PluginMode>): void;
  /** Stop serving (the socket file is removed); `restart()` serves again on the same path. */
  close(): Promise<void>;
  restart(): Promise<void>;
  /** AuthZReq calls whose RequestUri path (no query) is `path`. */
  requests(path?: string): PluginCall[];
}

interface RawPlugin {
  calls: PluginCall[];
  setMode(patch: Partial<PluginMode>): void;
  close(): Promise<void>;
}

/** A unique plugin name (`moat-t-…`), so parallel runs and a real dockerd never collide. */
export function uniquePluginName(tag = 't'): string {
  return `moat-${tag}-${randomBytes(4).toString('hex')}`;
}

/** Start the test plugin on /run/docker/plugins/NAME.sock. */
export async function startTestPlugin(name: string, mode: Partial<PluginMode> = {}): Promise<TestPlugin> {
  mkdirSync(PLUGIN_DIR, { recursive: true, mode: 0o755 });
  const socket = join(PLUGIN_DIR, `${name}.sock`);
  const mod = (await import(pathToFileURL(PLUGIN_SCRIPT).href)) as { startPlugin: (o: object) => Promise<RawPlugin> };
  const runs: PluginCall[][] = [];
  let current = { ...mode };
  let raw: RawPlugin | undefined = await mod.startPlugin({ ...current, socket });
  runs.push(raw.calls);
  const all = (): PluginCall[] => runs.flat();
  return {
    name,
    socket,
    get calls() {
      return all();
    },
    setMode(patch) {
      current = { ...current, ...patch };
      raw?.setMode(patch);
    },
    async close() {
      if (raw) await raw.close();
      raw = undefined;
      rmSync(socket, { force: true });
    },
    async restart() {
      if (raw) await raw.close();
      raw = await mod.startPlugin({ ...current, socket });
      runs.push(raw.calls);
    },
    requests(path) {
      return all().filter((c) => c.call === '/AuthZPlugin.AuthZReq' && (path === undefined || String(c.request?.RequestUri ?? '').split('?')[0] === path));
    },
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Every status line seen on the connection (pipelined requests answer more than once). */
  statuses: number[];
  raw: string;
}

/**
 * Send exact bytes over a unix socket and read until the server closes (or `timeoutMs`).
 * The first response is parsed; `statuses` lists every status line that came back.
 */
export function rawRequest(socket: string, bytes: Buffer | string, timeoutMs = 20_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const conn = net.connect(socket);
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.destroy();
      const raw = Buffer.concat(chunks).toString('latin1');
      const statuses = [...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
      const headEnd = raw.indexOf('\r\n\r\n');
      if (headEnd < 0) {
        reject(new Error(`no HTTP response (got ${JSON.stringify(raw.slice(0, 200))})`));
        return;
      }
      const lines = raw.slice(0, headEnd).split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      let body = raw.slice(headEnd + 4);
      const cl = headers['content-length'];
      if (cl !== undefined) body = body.slice(0, Number(cl));
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0), headers, body, statuses, raw });
    };
    const timer = setTimeout(finish, timeoutMs);
    conn.on('data', (c: Buffer) => chunks.push(c));
    conn.on('end', finish);
    conn.on('close', finish);
    // The server may close before the whole body is written (413): keep what came back.
    conn.on('error', () => finish());
    conn.write(bytes);
  });
}

/** `POST path` with exact headers and body bytes; `Connection: close` unless given. */
export function rawPost(socket: string, path: string, body: Buffer | string, headers: Record<string, string | number>, timeoutMs?: number): Promise<RawResponse> {
  const h = { Host: 'moat', Connection: 'close', ...headers };
  const head = `POST ${path} HTTP/1.1\r\n` + Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n';
  return rawRequest(socket, Buffer.concat([Buffer.from(head, 'latin1'), Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')]), timeoutMs);
}

/** Chunked transfer encoding of `body` in pieces of `size` bytes. */
export function chunked(body: Buffer | string, size = 64): Buffer {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) {
    const piece = b.subarray(i, i + size);
    parts.push(Buffer.from(piece.length.toString(16) + '\r\n'), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

/**
 * Cleanup steps run in reverse order when the test ends (the daemon goes before the plugins
 * it asks, so its own cleanup requests are still answered). Every step runs even if one fails.
 */
export function deferStack(t: { after: (fn: () => Promise<void>) => void }): (fn: () => unknown) => void {
  const steps: Array<() => unknown> = [];
  t.after(async () => {
    const errors: unknown[] = [];
    for (const step of steps.reverse()) {
      try {
        await step();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw errors[0];
  });
  return (fn) => {
    steps.push(fn);
  };
}
