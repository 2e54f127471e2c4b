// Parser for the captured client/daemon traces in shared/fixtures/docker-cli-traces (format
// in its README): events per connection, then HTTP/1.1 requests and responses rebuilt from
// each direction's bytes. Pure; used by the fixture tests to feed real CLI traffic through
// the API's parsers.

export interface TraceEvent {
  t: number;
  conn: number;
  dir: 'C>S' | 'S>C';
  /** The bytes as sent (cut binary bodies are shorter than `declared`). */
  data: Buffer;
  declared: number;
}

export interface Trace {
  /** The `# ...` header lines, without `# `. */
  meta: string[];
  events: TraceEvent[];
  /** `[CLI exit code: N]`, when present. */
  exitCode: number | undefined;
}

const DATA = /^\[(\d+(?:\.\d+)?) conn(\d+) (C>S|S>C) (\d+) bytes\]$/;
const ANY_EVENT = /^\[\d+(?:\.\d+)? conn\d+ |^\[CLI exit code: -?\d+\]$/;

/** `\r` -> CR, `\xNN` -> byte; everything else (real newlines included) as is. */
export function decodeTraceText(text: string): Buffer {
  const out: number[] = [];
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x5c && bytes[i + 1] === 0x72) {
      out.push(0x0d);
      i += 1;
      continue;
    }
    if (b === 0x5c && bytes[i + 1] === 0x78 && i + 3 < bytes.length) {
      const hex = String.fromCharCode(bytes[i + 2]!, bytes[i + 3]!);
      if (/^[0-9a-fA-F]{2}$/.test(hex)) {
        out.push(parseInt(hex, 16));
        i += 3;
        continue;
      }
    }
    out.push(b);
  }
  return Buffer.from(out);
}

export function parseTrace(text: string): Trace {
  const lines = text.split('\n');
  const meta: string[] = [];
  const events: TraceEvent[] = [];
  let exitCode: number | undefined;
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.startsWith('# ')) {
      meta.push(line.slice(2));
      i++;
      continue;
    }
    const exit = /^\[CLI exit code: (-?\d+)\]$/.exec(line);
    if (exit) {
      exitCode = Number(exit[1]);
      i++;
      continue;
    }
    const m = DATA.exec(line);
    if (!m) {
      i++;
      continue;
    }
    const body: string[] = [];
    i++;
    while (i < lines.length && !ANY_EVENT.test(lines[i]!)) body.push(lines[i++]!);
    const declared = Number(m[4]);
    const data = decodeTraceText(body.join('\n'));
    events.push({ t: Number(m[1]), conn: Number(m[2]), dir: m[3] as 'C>S' | 'S>C', data: data.subarray(0, Math.min(declared, data.length)), declared });
  }
  return { meta, events, exitCode };
}

export interface HttpMessage {
  conn: number;
  /** Request: method and target; response: status. */
  method?: string;
  target?: string;
  path?: string;
  query?: URLSearchParams;
  status?: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Bytes after a 101 / an Upgrade request, or of a body ended by close: the raw stream. */
  raw?: Buffer;
}

/** De-chunk a `Transfer-Encoding: chunked` body; returns the body and the bytes consumed (or undefined if incomplete). */
export function dechunk(buf: Buffer): { body: Buffer; used: number } | undefined {
  const parts: Buffer[] = [];
  let off = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', off);
    if (eol < 0) return undefined;
    const size = parseInt(buf.subarray(off, eol).toString('latin1').split(';')[0]!, 16);
    if (!Number.isFinite(size)) return undefined;
    off = eol + 2;
    if (size === 0) {
      const end = buf.indexOf('\r\n', off);
      return { body: Buffer.concat(parts), used: end < 0 ? buf.length : end + 2 };
    }
    if (off + size > buf.length) return undefined;
    parts.push(buf.subarray(off, off + size));
    off += size + 2;
  }
}

/**
 * De-chunk a body whose chunk sizes no longer match because the capture replaced host
 * paths by placeholders: each chunk runs to the next `\r\n<hex>\r\n`.
 */
function lenientDechunk(region: Buffer): { body: Buffer; used: number } | undefined {
  const text = region.toString('latin1');
  if (!/^[0-9a-fA-F]+\r\n/.test(text) || !text.endsWith('0\r\n\r\n')) return undefined;
  const parts = text.slice(0, -'0\r\n\r\n'.length).replace(/\r\n$/, '').split(/(?:^|\r\n)[0-9a-fA-F]+\r\n/).filter((x, i) => i > 0 || x !== '');
  return { body: Buffer.from(parts.join(''), 'latin1'), used: region.length };
}

function streamOf(events: readonly TraceEvent[], conn: number, dir: TraceEvent['dir']): { buf: Buffer; starts: number[] } {
  const parts = events.filter((e) => e.conn === conn && e.dir === dir).map((e) => e.data);
  const starts: number[] = [];
  let off = 0;
  for (const p of parts) {
    starts.push(off);
    off += p.length;
  }
  return { buf: Buffer.concat(parts), starts };
}

const MESSAGE_START = /^(?:[A-Z]+ \/|HTTP\/1\.[01] )/;

/**
 * Where a body of `len` bytes from `off` really ends: placeholders (`<DATA_ROOT>`,
 * `/host/dir`) change sizes, so a body never runs into a later read that starts a message.
 */
function bodyEnd(buf: Buffer, starts: readonly number[], off: number, len: number): number {
  for (const s of starts) {
    if (s > off && s < off + len && MESSAGE_START.test(buf.subarray(s, s + 16).toString('latin1'))) return s;
  }
  return Math.min(off + len, buf.length);
}

function parseMessages(stream: { buf: Buffer; starts: number[] }, conn: number, side: 'request' | 'response', requests: HttpMessage[] = []): HttpMessage[] {
  const { buf, starts } = stream;
  const out: HttpMessage[] = [];
  let off = 0;
  while (off < buf.length) {
    const end = buf.indexOf('\r\n\r\n', off);
    if (end < 0) break;
    const head = buf.subarray(off, end).toString('latin1').split('\r\n');
    const first = head[0]!;
    const headers: Record<string, string> = {};
    for (const h of head.slice(1)) {
      const c = h.indexOf(':');
      if (c > 0) headers[h.slice(0, c).trim().toLowerCase()] = h.slice(c + 1).trim();
    }
    const msg: HttpMessage = { conn, headers, body: Buffer.alloc(0) };
    if (side === 'request') {
      const [method, target] = first.split(' ');
      msg.method = method!;
      msg.target = target!;
      const q = target!.indexOf('?');
      msg.path = q < 0 ? target! : target!.slice(0, q);
      msg.query = new URLSearchParams(q < 0 ? '' : target!.slice(q + 1));
    } else {
      msg.status = Number(first.split(' ')[1]);
    }
    off = end + 4;
    const len = headers['content-length'];
    if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      const region = buf.subarray(off, bodyEnd(buf, starts, off, Infinity));
      const d = dechunk(region) ?? lenientDechunk(region);
      if (!d) {
        msg.raw = buf.subarray(off);
        out.push(msg);
        break;
      }
      msg.body = d.body;
      off += d.used;
    } else if (len !== undefined) {
      const stop = bodyEnd(buf, starts, off, Number(len));
      msg.body = buf.subarray(off, stop);
      off = stop;
    } else if (side === 'response') {
      const req = requests[out.length];
      const noBody = msg.status === 204 || msg.status === 304 || req?.method === 'HEAD';
      if (!noBody) {
        msg.raw = buf.subarray(off);
        out.push(msg);
        break;
      }
    }
    out.push(msg);
    const upgraded = side === 'request' ? headers['upgrade'] !== undefined : msg.status === 101;
    if (upgraded) {
      msg.raw = buf.subarray(off);
      break;
    }
  }
  return out;
}

/** Every request and its response, per connection, in order. */
export function exchanges(trace: Trace): Array<{ request: HttpMessage; response: HttpMessage | undefined }> {
  const conns = [...new Set(trace.events.map((e) => e.conn))].sort((a, b) => a - b);
  const out: Array<{ request: HttpMessage; response: HttpMessage | undefined; t: number }> = [];
  for (const conn of conns) {
    const reqs = parseMessages(streamOf(trace.events, conn, 'C>S'), conn, 'request');
    const resps = parseMessages(streamOf(trace.events, conn, 'S>C'), conn, 'response', reqs);
    const t = trace.events.find((e) => e.conn === conn)?.t ?? 0;
    reqs.forEach((request, i) => out.push({ request, response: resps[i], t: t + i / 1000 }));
  }
  return out.sort((a, b) => a.t - b.t).map(({ request, response }) => ({ request, response }));
}

/** The API path without its `/vX.Y` prefix. */
export function routePath(path: string): string {
  return path.replace(/^\/v\d+\.\d+(?=\/)/, '');
}
