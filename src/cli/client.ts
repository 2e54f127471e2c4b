// HTTP client for the Engine API over a unix socket (or TCP). The CLI talks to moatd only
// through this; it never imports the engine.
import http, { type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Endpoint {
  socketPath?: string;
  host?: string;
  port?: number;
}

export function parseHost(host: string): Endpoint {
  if (host.startsWith('unix://')) return { socketPath: host.slice(7) };
  if (host.startsWith('tcp://')) {
    const u = new URL(`http://${host.slice(6)}`);
    return { host: u.hostname, port: Number(u.port || 2375) };
  }
  return { socketPath: host };
}

export class Client {
  constructor(readonly endpoint: Endpoint, readonly version = '1.47') {}

  #path(path: string): string {
    return path === '/_ping' ? path : `/v${this.version}${path}`;
  }

  request(method: string, path: string, opts: { body?: unknown; raw?: NodeJS.ReadableStream; headers?: Record<string, string> } = {}): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      let payload: Buffer | undefined;
      if (opts.body !== undefined) {
        payload = Buffer.from(JSON.stringify(opts.body));
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = String(payload.length);
      }
      const req = http.request({ ...this.endpoint, method, path: this.#path(path), headers });
      req.on('response', resolve);
      req.on('error', (err) => reject(new ApiError(0, `Cannot connect to the moat daemon at ${this.endpoint.socketPath ?? `${this.endpoint.host}:${this.endpoint.port}`}. Is moatd running? (${err.message})`)));
      if (opts.raw) opts.raw.pipe(req);
      else req.end(payload);
    });
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, body === undefined ? {} : { body });
    const text = await readAll(res);
    if ((res.statusCode ?? 500) >= 400) throw toApiError(res.statusCode ?? 500, text, res.headers['content-type']);
    return (text.length > 0 ? JSON.parse(text.toString('utf8')) : undefined) as T;
  }

  async call(method: string, path: string, body?: unknown): Promise<number> {
    const res = await this.request(method, path, body === undefined ? {} : { body });
    const text = await readAll(res);
    if ((res.statusCode ?? 500) >= 400) throw toApiError(res.statusCode ?? 500, text, res.headers['content-type']);
    return res.statusCode ?? 200;
  }

  /** POST with `Upgrade: tcp`; resolves with the raw socket after the 101. */
  hijack(path: string, body?: unknown): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
      const req = http.request({
        ...this.endpoint,
        method: 'POST',
        path: this.#path(path),
        headers: { Connection: 'Upgrade', Upgrade: 'tcp', 'Content-Type': body === undefined ? 'text/plain' : 'application/json', 'Content-Length': String(payload.length) },
      });
      req.on('upgrade', (_res, socket, head) => {
        if (head.length > 0) socket.unshift(head);
        resolve(socket);
      });
      req.on('response', (res) => {
        void readAll(res).then((text) => reject(toApiError(res.statusCode ?? 500, text, res.headers['content-type'])));
      });
      req.on('error', (err) => reject(new ApiError(0, err.message)));
      req.end(payload);
    });
  }
}

export async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  return Buffer.concat(chunks);
}

function toApiError(status: number, body: Buffer, type: string | undefined): ApiError {
  let message = body.toString('utf8').trim();
  if (type === 'application/json') {
    try {
      message = (JSON.parse(message) as { message?: string }).message ?? message;
    } catch {
      // keep the raw text
    }
  }
  return new ApiError(status, message || `request returned ${status}`);
}

/** Split Docker's multiplexed stream into stdout/stderr writes. */
export function demux(onData: (stream: number, data: Buffer) => void): (chunk: Buffer) => void {
  let buf: Buffer = Buffer.alloc(0);
  return (chunk) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    while (buf.length >= 8) {
      const len = buf.readUInt32BE(4);
      if (buf.length < 8 + len) break;
      onData(buf[0]!, buf.subarray(8, 8 + len));
      buf = buf.subarray(8 + len);
    }
  };
}
